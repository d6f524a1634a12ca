//! sbmp-gma: cloud-to-edge offload and unoffload (SBMP, Detti & Favale) as a migration strategy.
//! This first version proposes no move and says so; the SBMP model comes with the sbmp-gma issue.

use smo_plugin_api::prelude::*;

/// Answers "stay" with a reason; it validates that the current placement names known services.
pub struct Offload;

impl Migration for Offload {
    fn plan(&self, request: &MigrationRequest) -> Result<MigrationDecision, PluginError> {
        for a in request.current.assignments.iter() {
            if !request.graph.services.iter().any(|s| s.name == a.service) {
                return Err(PluginError::invalid_input(format!(
                    "current placement names unknown service `{}`",
                    a.service
                )));
            }
        }
        let mut decision = MigrationDecision::default();
        decision
            .reasons
            .push("no offload model yet in this version: every service stays where it is".into());
        Ok(decision)
    }
}

smo_plugin_api::export_plugin! {
    name: "sbmp-gma",
    version: env!("CARGO_PKG_VERSION"),
    migration: {
        "offload": "cloud-to-edge offload/unoffload (first version: proposes no moves)"
            => |_params: &str| Ok(Offload),
    },
}
