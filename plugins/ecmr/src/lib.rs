//! ecmr: energy- and carbon-aware multi-datacenter placement (Miao et al. 2024).
//! This first version places each service on the cleanest cluster with room; the paper's
//! heuristic and MILP come with the ecmr issue.

use smo_plugin_api::prelude::*;

/// Greedy: for each service, the cluster with the lowest carbon intensity that fits.
pub struct Greenest;

impl Placement for Greenest {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut order: Vec<&Cluster> = request.clusters.iter().collect();
        order.sort_by(|a, b| {
            a.energy
                .carbon_intensity_g_per_kwh
                .total_cmp(&b.energy.carbon_intensity_g_per_kwh)
        });
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
                    "{} -> {}: lowest carbon intensity with room ({:.0} g/kWh)",
                    service.name, cluster.name, cluster.energy.carbon_intensity_g_per_kwh
                )
                .into(),
            );
        }
        Ok(decision)
    }
}

smo_plugin_api::export_plugin! {
    name: "ecmr",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "heuristic": "each service on the lowest-carbon cluster with room (first version)"
            => |_params: &str| Ok(Greenest),
    },
}
