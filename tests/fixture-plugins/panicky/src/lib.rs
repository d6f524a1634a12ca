//! Fixture: a plugin whose placement and migration strategies panic. The SDK must turn the panic
//! into an error value; the daemon must survive, count it, and quarantine the strategy.
//! Two well-behaved scaling strategies come with it for the offload loop's tests: `flap`
//! changes every service's replicas on every call (an autoscaler that never settles), `hold`
//! keeps them.

use smo_plugin_api::prelude::*;

pub struct Boom;

impl Placement for Boom {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        panic!(
            "fixture panic while placing {} services",
            request.graph.services.len()
        );
    }
}

pub struct MigrationBoom;

impl Migration for MigrationBoom {
    fn plan(&self, request: &MigrationRequest) -> Result<MigrationDecision, PluginError> {
        panic!(
            "fixture panic while planning moves of {} services",
            request.graph.services.len()
        );
    }
}

/// Alternates every placed service between 1 and 2 replicas (`flap`), or keeps its replicas.
pub struct Flap {
    flap: bool,
}

impl Scaling for Flap {
    fn scale(&self, request: &ScalingRequest) -> Result<ScalingDecision, PluginError> {
        let mut decision = ScalingDecision::default();
        for a in request.placement.assignments.iter() {
            let replicas = match (self.flap, a.replicas) {
                (false, r) => r,
                (true, 1) => 2,
                (true, _) => 1,
            };
            decision.replicas.push(ReplicaChoice {
                service: a.service.clone(),
                replicas,
                reason: "fixture".into(),
            });
        }
        Ok(decision)
    }
}

smo_plugin_api::export_plugin! {
    name: "panicky",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "boom": "panics on every call" => |_p: &str| Ok(Boom),
    },
    scaling: {
        "flap": "alternates every service between 1 and 2 replicas on every call"
            => |_p: &str| Ok(Flap { flap: true }),
        "hold": "keeps every service's replicas" => |_p: &str| Ok(Flap { flap: false }),
    },
    migration: {
        "boom-migration": "panics on every call" => |_p: &str| Ok(MigrationBoom),
    },
}
