//! smo's simulated continuum: datacenters with servers, power models, hourly carbon and
//! renewables, a seeded workload, and the step loop behind `smo simulate`; and, in [`backend`],
//! the same continuum as the Continuum and Telemetry ports behind `smo serve`.
//!
//! Data flows one way: [`scenario`] (YAML, validated, with the CSVs of [`data`]) ->
//! [`workload`] (VM arrivals, request rates) -> [`step_loop`] (steps over a [`continuum`], asking
//! strategies through a [`driver::StrategyDriver`]) -> [`metrics`] -> [`report`] (table, CSV,
//! JSON, plot). [`command`] is `smo simulate`. Every formula is written out in
//! `scenarios/README.md`.

pub mod allocation;
pub mod backend;
pub mod bound;
pub mod command;
pub mod continuum;
pub mod data;
pub mod driver;
pub mod ecosystem;
pub mod environment;
pub mod metrics;
pub mod power;
pub mod report;
pub mod scenario;
pub mod seeds;
pub mod server_hint;
pub mod step_loop;
pub mod strategy_params;
pub mod trace_cache;
pub mod vm_mix;
pub mod workload;

#[cfg(test)]
pub(crate) mod testing;

pub use command::{run, SimulateArgs};
pub use driver::{DriverError, StrategyDriver};
pub use metrics::{HourMetrics, StrategyRun, Totals};
pub use scenario::{Scenario, ScenarioError};
pub use step_loop::{simulate, simulate_with, SimError, SimOptions, StrategySpec};
