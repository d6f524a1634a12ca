//! Fixture: a library that aborts the process as soon as it is loaded (an ELF initialiser).
//! Only the probe's child process may die of it; the daemon must reject the file and live.

use smo_plugin_api::prelude::*;

extern "C" fn crash_on_load() {
    std::process::abort();
}

#[used]
#[link_section = ".init_array"]
static CRASH_ON_LOAD: extern "C" fn() = crash_on_load;

pub struct Never;

impl Placement for Never {
    fn place(&self, _request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        Err(PluginError::internal(
            "unreachable: the library aborts on load",
        ))
    }
}

smo_plugin_api::export_plugin! {
    name: "init-crash",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "never": "the library aborts before it can answer" => |_p: &str| Ok(Never),
    },
}
