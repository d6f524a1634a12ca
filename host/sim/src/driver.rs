//! How the simulator reaches strategies: a [`StrategyDriver`] the caller provides. `smo simulate`
//! implements it over the plugin registry and call guard (real `.so` files); tests use plain Rust.

use smo_plugin_api::{
    MigrationDecision, MigrationRequest, PlacementDecision, PlacementRequest, ScalingDecision,
    ScalingRequest,
};
use std::sync::Arc;
use std::time::Duration;

/// Why a strategy call gave no decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// No strategy by this name (or not of this kind): the run stops with this message.
    #[error("unknown strategy `{0}`")]
    UnknownStrategy(String),
    /// The strategy refused its parameters (`plugin/name?key=value`): the run stops with the
    /// strategy's own message, which names the parameter.
    #[error("bad parameters: {0}")]
    BadParameters(String),
    /// The strategy answered that the request cannot be satisfied (its `infeasible` error).
    /// For a batch of arrivals the simulator asks again with halves of the batch.
    #[error("infeasible: {0}")]
    Infeasible(String),
    /// Any other failure of the call (an error, a panic, a timeout): the request's work fails,
    /// the failure is counted in `strategy_errors`, and the run goes on.
    #[error("{0}")]
    Failed(String),
}

/// Calls strategies by name (`plugin/strategy`), returning each decision with the wall time the
/// call took (that time is the strategy's "decision time" in the reports). Requests come
/// shared: a driver that hands one to another thread clones the `Arc`, never the request.
pub trait StrategyDriver {
    /// Places `request` with the placement strategy `strategy`. When `request.current` is
    /// `RSome`, this is a re-placement and the driver calls the strategy's `replace`.
    fn place(
        &self,
        strategy: &str,
        request: &Arc<PlacementRequest>,
    ) -> Result<(PlacementDecision, Duration), DriverError>;

    /// Scales the services of one cluster with the scaling strategy `strategy`.
    fn scale(
        &self,
        strategy: &str,
        request: &Arc<ScalingRequest>,
    ) -> Result<(ScalingDecision, Duration), DriverError>;

    /// Plans moves with the migration strategy `strategy`.
    fn migrate(
        &self,
        strategy: &str,
        request: &Arc<MigrationRequest>,
    ) -> Result<(MigrationDecision, Duration), DriverError>;

    /// The version of the plugin behind `strategy`, for the decision records; unknown by
    /// default.
    fn plugin_version(&self, strategy: &str) -> Option<String> {
        let _ = strategy;
        None
    }
}
