//! The three strategy traits as FFI-safe trait objects (`#[sabi_trait]`).
//! Plugin authors implement the plain traits in [`crate::sdk`]; these are what crosses the ABI.

use crate::error::PluginError;
use crate::types::{
    MigrationDecision, MigrationRequest, PlacementDecision, PlacementRequest, ScalingDecision,
    ScalingRequest,
};
use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RResult};

/// Decides on which cluster each service of a graph runs.
#[sabi_trait]
pub trait PlacementStrategy: Send + Sync {
    /// Initial placement of a graph (`request.current` is `RNone`).
    fn place(&self, request: &PlacementRequest) -> RResult<PlacementDecision, PluginError>;

    /// Re-placement given the current placement in `request.current`.
    #[sabi(last_prefix_field)]
    fn replace(&self, request: &PlacementRequest) -> RResult<PlacementDecision, PluginError>;
}

/// Decides how many replicas each service on a cluster runs.
#[sabi_trait]
pub trait ScalingStrategy: Send + Sync {
    /// Replicas per service, or `infeasible_replace` when the cluster cannot hold the load.
    #[sabi(last_prefix_field)]
    fn scale(&self, request: &ScalingRequest) -> RResult<ScalingDecision, PluginError>;
}

/// Proposes moves of services between clusters (including cloud-to-edge offload).
#[sabi_trait]
pub trait MigrationStrategy: Send + Sync {
    /// The moves to make now, each with its reason, expected gain and cost.
    #[sabi(last_prefix_field)]
    fn plan(&self, request: &MigrationRequest) -> RResult<MigrationDecision, PluginError>;
}

/// A placement strategy object owned by the host.
pub type PlacementStrategyBox = PlacementStrategy_TO<'static, RBox<()>>;
/// A scaling strategy object owned by the host.
pub type ScalingStrategyBox = ScalingStrategy_TO<'static, RBox<()>>;
/// A migration strategy object owned by the host.
pub type MigrationStrategyBox = MigrationStrategy_TO<'static, RBox<()>>;
