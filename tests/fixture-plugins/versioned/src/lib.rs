//! Fixture: one plugin source built twice (package versions 1.0.0 and 2.0.0) for hot-reload
//! tests. Its answers carry the version, and `gate` lets a test hold a call in flight.

use serde::Deserialize;
use smo_plugin_api::prelude::*;
use std::path::PathBuf;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Places every service on the first cluster and says which version answered.
pub struct Echo;

impl Placement for Echo {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let cluster = request
            .clusters
            .first()
            .ok_or_else(|| PluginError::invalid_input("no clusters"))?;
        let mut decision = PlacementDecision::default();
        for s in request.graph.services.iter() {
            decision.placement.assignments.push(Assignment {
                service: s.name.clone(),
                cluster: cluster.name.clone(),
                replicas: 1,
            });
        }
        decision
            .reasons
            .push(format!("answered by versioned {VERSION}").into());
        Ok(decision)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateParams {
    /// Created by the strategy when a call has started.
    started: PathBuf,
    /// The call returns once this file exists.
    release: PathBuf,
}

/// Like [`Echo`], but signals that it started and waits for the test to release it.
pub struct Gate {
    params: GateParams,
}

impl Placement for Gate {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        std::fs::write(&self.params.started, VERSION)
            .map_err(|e| PluginError::internal(e.to_string()))?;
        while !self.params.release.exists() {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Echo.place(request)
    }
}

smo_plugin_api::export_plugin! {
    name: "versioned",
    version: VERSION,
    placement: {
        "echo": "every service on the first cluster; reasons name the version" => |_p: &str| Ok(Echo),
        "gate": "echo, held until a release file exists" => |p: &str| {
            serde_json::from_str(p)
                .map(|params| Gate { params })
                .map_err(|e| PluginError::bad_parameters(e.to_string()))
        },
    },
}
