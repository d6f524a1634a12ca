//! Fixture: a plugin whose placement and migration strategies panic. The SDK must turn the panic
//! into an error value; the daemon must survive, count it, and quarantine the strategy.

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

smo_plugin_api::export_plugin! {
    name: "panicky",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "boom": "panics on every call" => |_p: &str| Ok(Boom),
    },
    migration: {
        "boom-migration": "panics on every call" => |_p: &str| Ok(MigrationBoom),
    },
}
