//! default-lp: SMO's own placement and scaling, the strategies every graph gets by default,
//! reproduced from upstream where it is right and fixed where it is wrong (see the README).
//!
//! Strategies: `default-lp/placement` (first-fit initial placement, min-migration integer
//! program for re-placement), `default-lp/milp` (initial placement as a balanced, price-aware
//! integer program; same re-placement) and `default-lp/scaling` (the per-cluster replica
//! integer program). All integer programs are solved with HiGHS. Every strategy takes the same
//! JSON parameter object ([`params::Params`]).

pub mod assignment;
pub mod first_fit;
pub mod instance;
pub mod milp_placement;
pub mod params;
pub mod replacement;
pub mod report;
pub mod scaling;
pub mod scope;
pub mod servers;
pub mod solver;

pub use first_fit::FirstFit;
pub use milp_placement::MilpPlacement;
pub use params::Params;
pub use scaling::MilpScaling;

smo_plugin_api::export_plugin! {
    name: "default-lp",
    version: env!("CARGO_PKG_VERSION"),
    placement: {
        "placement": "upstream SMO first-fit (services in order, first cluster with room; pre-check fixed); re-placement moves the fewest services (HiGHS MILP)"
            => FirstFit::new,
        "milp": "initial placement as a HiGHS MILP: balanced share of free capacity, price, preferred co-location; re-placement moves the fewest services"
            => MilpPlacement::new,
    },
    scaling: {
        "scaling": "per-cluster replica MILP: alpha*r + beta >= load, min/max replicas, CPU/memory/GPU capacity, scale-down with hysteresis; infeasible -> re-place"
            => MilpScaling::new,
    },
}
