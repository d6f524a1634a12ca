//! h3ni-energy: energy- and carbon-aware placement (MILP on HiGHS, greedy fallback) and
//! predictive scaling (Holt-Winters / autoregression chosen by recent error, alpha/beta replicas),
//! and scheduled re-placement as migrations (consolidation).

pub mod consolidate;
pub mod energy;
pub mod figures;
pub mod forecast;
pub mod packing;
pub mod params;
pub mod placement;
pub mod predictive;
pub mod repack;
pub mod reserve;
pub mod slo;

pub use consolidate::Consolidate;
pub use placement::EnergyPlacement;
pub use predictive::Predictive;
pub use repack::Repack;

smo_plugin_api::export_plugin! {
    name: "h3ni-energy",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "placement": "minimises energy, carbon (on-site renewables first), latency and migrations: MILP on HiGHS, greedy for large instances"
            => |params: &str| params::parse::<params::PlacementParams>(params)
                .and_then(params::PlacementParams::check)
                .map(|p| EnergyPlacement::new(p).sharing(reserve::plugin_wide())),
    },
    scaling: {
        "predictive": "forecasts each service's rate (Holt-Winters or autoregression, by recent error) and provisions alpha/beta replicas ahead with a confidence margin"
            => |params: &str| params::parse::<params::ScalingParams>(params)
                .and_then(params::ScalingParams::check)
                .map(|p| Predictive::new(p).sharing(reserve::plugin_wide())),
    },
    migration: {
        "consolidate": "re-places the graph with the placement model on every call and moves the services whose cluster changes, when the saving pays the migration back within horizon_h (consolidation onto fewer clusters, hour-by-hour carbon)"
            => |params: &str| params::parse::<params::PlacementParams>(params)
                .and_then(params::PlacementParams::check)
                .map(|p| Consolidate::new(
                    EnergyPlacement::consolidating(p).sharing(reserve::plugin_wide()),
                )),
        "repack": "re-packs the running VMs inside each cluster (run as the host's vm_migration): empties the least used servers onto the others that are on, when the idle power saved over the VMs' remaining time (up to horizon_h) pays back payback x the copy energy"
            => |params: &str| params::parse::<repack::RepackParams>(params)
                .and_then(repack::RepackParams::check)
                .map(Repack::new),
    },
}
