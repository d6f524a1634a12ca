//! Example third-party plugin: places each service on the cluster with the most free CPU,
//! optionally only on clusters of one role. Built as a cdylib and dropped into the plugin dir.
//!
//! `tests/compat` builds this same file against smo-plugin-api 1.0.0 as released, so it uses
//! only what 1.0.0 has (e.g. `FreeCapacity::why_not`, not the later `fits`).

use serde::Deserialize;
use smo_plugin_api::prelude::*;

/// Parameters, from the graph's JSON (`{}` when it gives none).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Params {
    /// "cloud", "edge" or "iot": only use clusters of this role.
    role: Option<ClusterRole>,
}

struct MostFree {
    params: Params,
}

impl Placement for MostFree {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut free = FreeCapacity::new(&request.clusters);
        let mut decision = PlacementDecision::default();
        for service in request.graph.services.iter() {
            let best = request
                .clusters
                .iter()
                .filter(|c| self.params.role.is_none_or(|r| c.role == r))
                .filter(|c| free.why_not(service, c).is_none())
                .max_by(|a, b| {
                    let fa = free.free(&a.name).map_or(0.0, |r| r.cpu);
                    let fb = free.free(&b.name).map_or(0.0, |r| r.cpu);
                    fa.total_cmp(&fb)
                })
                .ok_or_else(|| {
                    PluginError::infeasible(format!("no cluster fits {}", service.name))
                })?;
            free.reserve(service, &best.name);
            decision.placement.assignments.push(Assignment {
                service: service.name.clone(),
                cluster: best.name.clone(),
                replicas: service.replicas.max(1),
            });
            decision
                .reasons
                .push(format!("{} -> {}: most free CPU", service.name, best.name).into());
        }
        Ok(decision)
    }
}

smo_plugin_api::export_plugin! {
    name: "hello",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "most-free": "each service on the cluster with the most free CPU" => |params: &str| {
            serde_json::from_str(params)
                .map(|params| MostFree { params })
                .map_err(|e| PluginError::bad_parameters(e.to_string()))
        },
    },
}
