//! sbmp-gma: cost-effective cloud-to-edge offload and unoffload (SBMP, Detti & Favale), as the
//! migration strategy `offload`; a clean-room port from the research note, see the README.

pub mod bitset;
pub mod decide;
pub mod graph;
pub mod incremental;
pub mod model;
pub mod offload;
pub mod params;
pub mod problem;
pub mod rng;
#[doc(hidden)]
pub mod synth;
pub mod traces;
pub mod unoffload;

use smo_plugin_api::prelude::*;

/// The `offload` migration strategy: SBMP offload for a positive `requiredDecreaseMs` in
/// `request.extra`, SBMP unoffload for a negative one.
#[derive(Clone, Debug)]
pub struct Offload {
    params: params::Params,
}

impl Offload {
    /// Builds the strategy from its JSON parameters (`""` or `{}`: all defaults).
    pub fn new(params: &str) -> Result<Self, PluginError> {
        Ok(Self {
            params: params::Params::parse(params)?,
        })
    }

    pub fn params(&self) -> &params::Params {
        &self.params
    }

    /// The plan behind [`Migration::plan`], for tests and tools that want the numbers.
    pub fn decide(
        &self,
        request: &MigrationRequest,
    ) -> Result<(problem::Problem, decide::Plan), PluginError> {
        let extra = params::Extra::parse(&request.extra)?;
        let problem = problem::build(request, &self.params, &extra)?;
        let plan = decide::decide(
            &problem,
            &self.params,
            extra.required_decrease_ms.unwrap_or(0.0),
        );
        Ok((problem, plan))
    }
}

impl Migration for Offload {
    fn plan(&self, request: &MigrationRequest) -> Result<MigrationDecision, PluginError> {
        let (problem, plan) = self.decide(request)?;
        let decision = decide::to_decision(&problem, &plan);
        finite_moves(&problem, &decision)?;
        Ok(decision)
    }
}

/// Refuses a decision with a move whose expected gain or cost is not finite (the inputs passed
/// [`problem::build`]'s checks, so this only guards the arithmetic): never `ok` with `+inf`.
fn finite_moves(problem: &problem::Problem, d: &MigrationDecision) -> Result<(), PluginError> {
    match d
        .moves
        .iter()
        .find(|m| !(m.expected_gain.is_finite() && m.expected_cost.is_finite()))
    {
        Some(m) => Err(PluginError::invalid_input(format!(
            "the move of `{}` between `{}` and `{}` has an expected delay gain of {:e} ms and \
             cost of {:e} per hour: check the clusters' prices and the telemetry",
            m.service, problem.cloud, problem.edge, m.expected_gain, m.expected_cost
        ))),
        None => Ok(()),
    }
}

smo_plugin_api::export_plugin! {
    name: "sbmp-gma",
    version: env!("CARGO_PKG_VERSION"),
    migration: {
        "offload": "SBMP cloud-to-edge offload/unoffload: greedy sub-graph expansion for a required delay change at least cost"
            => Offload::new,
    },
}
