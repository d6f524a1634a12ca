//! Fixture: a plugin whose placement strategies never return. The guard must time the call
//! out, keep the hung thread's permit, and keep the daemon serving.

use smo_plugin_api::prelude::*;

pub struct Forever;

impl Placement for Forever {
    fn place(&self, _request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        hang()
    }
}

/// As [`Forever`], but first creates the file named by its parameters' `entered` (so a test
/// knows the call is in progress without guessing a delay).
pub struct Signalling {
    entered: String,
}

impl Placement for Signalling {
    fn place(&self, _request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        if let Err(e) = std::fs::write(&self.entered, b"entered") {
            return Err(PluginError::internal(format!("{}: {e}", self.entered)));
        }
        hang()
    }
}

fn hang() -> ! {
    loop {
        std::thread::park();
    }
}

fn signalling(params: &str) -> Result<Signalling, PluginError> {
    let entered = params
        .split("\"entered\"")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .ok_or_else(|| PluginError::bad_parameters("`entered`: missing (a file path)"))?;
    Ok(Signalling {
        entered: entered.to_owned(),
    })
}

smo_plugin_api::export_plugin! {
    name: "hangs",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "forever": "never returns" => |_p: &str| Ok(Forever),
        "signalling": "creates the file `entered` names, then never returns" => signalling,
    },
}
