//! ecmr: energy- and carbon-aware multi-datacenter VM placement (Miao et al. 2024, CC BY 4.0).
//! Three modes: the seed's weighted score, Algorithm 1 done right, and the exact MILP.

pub mod check;
pub mod dispatcher;
pub mod heuristic;
pub mod milp;
pub mod objective;
pub mod params;
pub mod repair;
pub mod request;
pub mod seed;
pub mod site;
pub mod strategy;

pub use strategy::{Greenest, Heuristic, Milp, Nearest, Seed};

smo_plugin_api::export_plugin! {
    name: "ecmr",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "heuristic": "Algorithm 1 of Miao et al. 2024 (green tier, MESF, margin check, latency threshold, fallback), choosing by the MILP's objective, plus a local-improvement pass"
            => |p: &str| params::parse(p).map(|params| Heuristic { params }),
        "heuristic-grid": "ecmr/heuristic valuing every watt at its grid's intensity (renewable_credit 0): a VM outlives the slot whose on-site margin it was placed by"
            => |p: &str| params::parse::<params::HeuristicParams>(p).map(|params| Heuristic { params: params.grid() }),
        "heuristic-paper": "Algorithm 1 as printed: first acceptable datacenter, most-free fallback, no improvement pass"
            => |p: &str| params::parse::<params::HeuristicParams>(p).map(|params| Heuristic { params: params.paper() }),
        "milp": "the paper's model solved exactly per batch with HiGHS (weighted energy, carbon, latency)"
            => |p: &str| params::parse(p).map(|params| Milp { params }),
        "seed": "the seed implementation: grid RE% > 50 is green, weighted score, 0.1 ms/km, 100 ms"
            => |p: &str| params::parse(p).map(|params| Seed { params }),
        "nearest": "baseline: the nearest datacenter with a server with room (ECNR without renewables)"
            => |_p: &str| Ok(Nearest),
    },
}
