//! The Continuum port: what smo asks of the clusters it orchestrates, and the one trait a
//! backend (the simulated continuum, Karmada) implements. The engine's applier is its caller.
//!
//! The contract, for a backend author:
//!
//! - [`Continuum::inventory`]: the clusters the backend can run workloads on, each with its
//!   readiness, capacity, what is allocatable and allocated, and labels. A cluster that is not
//!   ready is not offered to strategies; a cluster smo has registered but the backend does not
//!   report is treated as not ready. Cheap: the engine asks before every decision, so a
//!   networked backend answers from a cache kept current by a watch.
//! - [`Continuum::apply`]: make the graph's workloads match `desired` (replicas of each service
//!   per cluster; services and clusters absent from it run nothing). Idempotent: applying the
//!   same desired state twice is a no-op the second time. It returns once the backend has
//!   accepted the change, not when replicas are ready; readiness is what `observe` reports.
//! - [`Continuum::observe`]: per service and cluster, the replicas the backend was asked for,
//!   those ready, and the last error it reported.
//! - [`Continuum::withdraw`]: remove everything of a graph. Idempotent: withdrawing a graph that
//!   has nothing deployed succeeds.
//! - Every error says whether a retry may help ([`ContinuumError::retryable`]): the applier
//!   retries those with backoff and marks the others `failed` until the desired state changes.

use crate::graphs::GraphSpec;
use crate::placement::PlacementEntry;
use serde::Serialize;
use smo_plugin_api::{Cluster, Resources};
use std::collections::BTreeMap;

/// One cluster as the backend reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterInventory {
    pub name: String,
    /// Whether workloads may be placed there now (Karmada: the `Ready` condition).
    pub ready: bool,
    /// Why it is not ready, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Everything the cluster has.
    pub capacity: Resources,
    /// What workloads may use of it.
    pub allocatable: Resources,
    /// What workloads use of it now (every workload, not only smo's).
    pub allocated: Resources,
    pub labels: BTreeMap<String, String>,
}

/// What one graph should run: replicas of each service per cluster, at a generation that
/// grows with every change smo commits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredState {
    pub generation: u64,
    /// Only rows with replicas; a service or cluster absent here runs nothing.
    pub placement: Vec<PlacementEntry>,
    /// The server choice the graph's placement decision asked for (`extra.server_selection`,
    /// e.g. `least_power_shared_idle`), for a backend that can pass it on; `None`: the
    /// backend's own.
    pub server_selection: Option<String>,
}

/// Replicas of one service on one cluster, as the backend sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedReplicas {
    pub service: String,
    pub cluster: String,
    /// Replicas the backend was asked for.
    pub desired: u32,
    /// Replicas running and ready.
    pub ready: u32,
    /// The last error the backend reported for them, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What runs of one graph.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// The generation of the last desired state the backend accepted, if it knows one.
    pub generation: Option<u64>,
    pub replicas: Vec<ObservedReplicas>,
}

impl Observation {
    /// Whether the backend was asked for exactly `desired` (ready or not): rows with replicas
    /// on both sides, compared as sets.
    pub fn asked_for(&self, desired: &[PlacementEntry]) -> bool {
        let mut asked: Vec<(&str, &str, u32)> = self
            .replicas
            .iter()
            .filter(|r| r.desired > 0)
            .map(|r| (r.service.as_str(), r.cluster.as_str(), r.desired))
            .collect();
        let mut wanted: Vec<(&str, &str, u32)> = desired
            .iter()
            .filter(|e| e.replicas > 0)
            .map(|e| (e.service.as_str(), e.cluster.as_str(), e.replicas))
            .collect();
        asked.sort_unstable();
        wanted.sort_unstable();
        asked == wanted
    }

    /// Whether every replica asked for is ready.
    pub fn all_ready(&self) -> bool {
        self.replicas.iter().all(|r| r.ready >= r.desired)
    }

    /// Whether nothing of the graph runs or is asked for.
    pub fn is_empty(&self) -> bool {
        self.replicas.iter().all(|r| r.desired == 0 && r.ready == 0)
    }

    /// The last error the backend reports for `service` on `cluster`.
    pub fn error(&self, service: &str, cluster: &str) -> Option<String> {
        self.replicas
            .iter()
            .find(|r| r.service == service && r.cluster == cluster)
            .and_then(|r| r.last_error.clone())
    }

    /// Ready replicas of `service` on `cluster`.
    pub fn ready(&self, service: &str, cluster: &str) -> u32 {
        self.replicas
            .iter()
            .filter(|r| r.service == service && r.cluster == cluster)
            .map(|r| r.ready)
            .sum()
    }
}

/// A backend could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContinuumError {
    /// The backend could not be reached or answered with a transient error: a retry may help.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the request as it is (an unknown cluster, an invalid object): a
    /// retry will not help until the desired state changes.
    #[error("refused by the backend: {0}")]
    Rejected(String),
}

impl ContinuumError {
    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, ContinuumError::Unavailable(_))
    }
}

/// The clusters a backend runs workloads on (see the module documentation for the contract).
#[async_trait::async_trait]
pub trait Continuum: Send + Sync {
    /// The backend's name, as `[backend] kind` spells it.
    fn kind(&self) -> &'static str;

    /// The clusters, each with readiness and resources.
    async fn inventory(&self) -> Result<Vec<ClusterInventory>, ContinuumError>;

    /// Makes graph `graph`'s workloads match `desired`; idempotent.
    async fn apply(&self, graph: &GraphSpec, desired: &DesiredState) -> Result<(), ContinuumError>;

    /// What runs of graph `graph` (empty when nothing does).
    async fn observe(&self, graph: &str) -> Result<Observation, ContinuumError>;

    /// Removes everything of graph `graph`; idempotent.
    async fn withdraw(&self, graph: &str) -> Result<(), ContinuumError>;

    /// Whether the backend passes a placement decision's server choice on
    /// ([`DesiredState::server_selection`]); when not, the engine does not look it up.
    fn passes_server_choice(&self) -> bool {
        false
    }

    /// smo's registered clusters changed (or the daemon started): a backend that simulates its
    /// clusters follows them; a real one ignores this (its clusters are its own).
    fn registered(&self, clusters: &[Cluster]) {
        let _ = clusters;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(rows: &[(&str, &str, u32, u32)]) -> Observation {
        Observation {
            generation: None,
            replicas: rows
                .iter()
                .map(|(s, c, d, r)| ObservedReplicas {
                    service: (*s).into(),
                    cluster: (*c).into(),
                    desired: *d,
                    ready: *r,
                    last_error: None,
                })
                .collect(),
        }
    }

    #[test]
    fn asked_for_compares_rows_with_replicas_in_any_order() {
        let seen = observed(&[("a", "x", 2, 1), ("b", "y", 1, 1), ("c", "z", 0, 0)]);
        let desired = [
            PlacementEntry::new("b", "y", 1),
            PlacementEntry::new("a", "x", 2),
            PlacementEntry::new("p", "x", 0),
        ];
        assert!(seen.asked_for(&desired));
        assert!(!seen.asked_for(&desired[..1]));
        assert!(!seen.all_ready());
        assert_eq!(seen.ready("a", "x"), 1);
        assert_eq!(seen.error("a", "x"), None);
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        assert!(ContinuumError::Unavailable("timeout".into()).retryable());
        assert!(!ContinuumError::Rejected("no cluster".into()).retryable());
    }
}
