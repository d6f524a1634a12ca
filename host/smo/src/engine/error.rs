//! What the engine refuses or fails at, one variant per answer the API gives (404, 409, 422,
//! 500); a failed decision carries its record so the caller can show why.

use crate::store::StoreError;
use smo_core::decision::DecisionRecord;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("graph {0:?} not found")]
    GraphNotFound(String),
    #[error("graph {0:?} already exists (use PUT /v1/graphs/{0} to update it)")]
    GraphExists(String),
    #[error("cluster {0:?} not found")]
    ClusterNotFound(String),
    /// No running graph's service of that name has a dependency declaration.
    #[error("workload {0:?} is not in the ecosystem map (a declared service of a running graph)")]
    WorkloadNotFound(String),
    #[error("cluster {0:?} already exists (use PUT /v1/clusters/{0} to update it)")]
    ClusterExists(String),
    /// The request conflicts with the graph's state (e.g. start of a running graph).
    #[error("{0}")]
    Conflict(String),
    /// The clusters changed while a decision was made, so that it no longer fits (it is
    /// decided again; the API sees a `Conflict` once attempts run out).
    #[error("the clusters changed while deciding: {0}")]
    Stale(String),
    /// A value of the request is wrong; `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No placement could be made; nothing was changed. The record says why.
    #[error("placement of graph {graph:?} failed: {reason}")]
    PlacementFailed {
        graph: String,
        reason: String,
        decision: Box<DecisionRecord>,
    },
    /// The backend could not answer (its inventory, before a decision).
    #[error(transparent)]
    Backend(#[from] smo_core::ports::ContinuumError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
