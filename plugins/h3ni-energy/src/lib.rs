//! h3ni-energy: energy- and carbon-aware placement with predictive scaling.
//! This first version scores clusters by energy per unit of work; the MILP and forecasters
//! come with the h3ni-energy issue.

use smo_plugin_api::prelude::*;

/// Energy score of a cluster: facility watts per core at full load, times carbon intensity.
fn energy_score(c: &Cluster) -> f64 {
    let watts_per_core = if c.capacity.cpu > 0.0 {
        c.energy.peak_power_w / c.capacity.cpu
    } else {
        f64::INFINITY
    };
    watts_per_core * c.energy.pue * c.energy.carbon_intensity_g_per_kwh.max(1.0)
}

/// Greedy: each service on the cluster with the lowest energy score that fits.
pub struct EnergyGreedy;

impl Placement for EnergyGreedy {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut order: Vec<&Cluster> = request.clusters.iter().collect();
        order.sort_by(|a, b| energy_score(a).total_cmp(&energy_score(b)));
        let mut free = FreeCapacity::new(&request.clusters);
        let mut decision = PlacementDecision::default();
        for service in request.graph.services.iter() {
            let cluster = order
                .iter()
                .find(|c| free.why_not(service, c).is_none())
                .ok_or_else(|| {
                    PluginError::infeasible(format!("no cluster can host `{}`", service.name))
                })?;
            free.reserve(service, cluster.name.as_str());
            decision.placement.assignments.push(Assignment {
                service: service.name.clone(),
                cluster: cluster.name.clone(),
                replicas: service.replicas.max(1),
            });
            decision.reasons.push(
                format!(
                    "{} -> {}: lowest energy score with room ({:.1})",
                    service.name,
                    cluster.name,
                    energy_score(cluster)
                )
                .into(),
            );
        }
        Ok(decision)
    }
}

/// Provisions for the predicted load: the least `r` with `alpha*r + beta >= predicted`.
pub struct Predictive;

impl Scaling for Predictive {
    fn scale(&self, request: &ScalingRequest) -> Result<ScalingDecision, PluginError> {
        let mut decision = ScalingDecision::default();
        for a in request.placement.assignments.iter() {
            let Some(s) = request.graph.services.iter().find(|s| s.name == a.service) else {
                continue;
            };
            let predicted = request
                .telemetry
                .loads
                .iter()
                .find(|l| l.service == s.name)
                .map_or(0.0, |l| l.predicted_rps);
            let p = s.scaling;
            let r = if p.alpha > 0.0 {
                ((predicted - p.beta) / p.alpha).ceil().max(0.0) as u32
            } else {
                p.min_replicas
            };
            decision.replicas.push(ReplicaChoice {
                service: s.name.clone(),
                replicas: r.clamp(p.min_replicas.max(1), p.max_replicas.max(1)),
                reason: format!("predicted {predicted:.1} rps").into(),
            });
        }
        Ok(decision)
    }
}

smo_plugin_api::export_plugin! {
    name: "h3ni-energy",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "placement": "each service on the cluster with the lowest energy score (first version)"
            => |_params: &str| Ok(EnergyGreedy),
    },
    scaling: {
        "predictive": "replicas for the predicted load (first version: no forecaster yet)"
            => |_params: &str| Ok(Predictive),
    },
}
