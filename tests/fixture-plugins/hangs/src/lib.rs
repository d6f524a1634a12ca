//! Fixture: a plugin whose placement strategy never returns. The guard must time the call
//! out, keep the hung thread's permit, and keep the daemon serving.

use smo_plugin_api::prelude::*;

pub struct Forever;

impl Placement for Forever {
    fn place(&self, _request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        loop {
            std::thread::park();
        }
    }
}

smo_plugin_api::export_plugin! {
    name: "hangs",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "forever": "never returns" => |_p: &str| Ok(Forever),
    },
}
