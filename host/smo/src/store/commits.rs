//! The one write of a graph's desired state: its placement and status with the decisions that
//! made them, in one transaction that also gives the graph a new generation.
//!
//! Generations come from the `commits` table's AUTOINCREMENT key, so they only grow, across all
//! graphs and across a graph deleted and created again (as Kubernetes' `resourceVersion`): the
//! applier compares them with the generation it last applied.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::decisions::{insert_decision, DecisionRecord};
use super::error::{SqlContext, StoreError};
use super::graphs::write_graph_in;
use super::placements::{write_placement, PlacementEntry};
use super::Cached;
use super::{now_ms, Store};
use smo_core::graphs::GraphSpec;

/// What one commit changes of a graph.
#[derive(Debug, Clone, Copy, Default)]
pub struct Commit<'a> {
    /// A new spec for the graph (its placement rows of services it no longer has go); `None`
    /// keeps it.
    pub spec: Option<&'a GraphSpec>,
    /// Create the graph (with `spec` and `status`, both required): it must not exist yet.
    pub create: bool,
    /// The new placement (the desired replicas per cluster); `None` keeps it.
    pub placement: Option<&'a [PlacementEntry]>,
    /// The new status (`running`, `stopped`, `deleting`); `None` keeps it.
    pub status: Option<&'a str>,
    /// The decisions that made this desired state, recorded with its generation.
    pub decisions: &'a [DecisionRecord],
}

/// What a commit made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The graph's new generation.
    pub generation: u64,
    /// The ids of the decisions, in order.
    pub decision_ids: Vec<i64>,
}

/// How many commit rows are kept per graph (the generation lives on in `graphs`).
const COMMITS_KEPT: i64 = 100;

impl Store {
    /// Commits `commit` to graph `graph` (see the module documentation); nothing changes on
    /// any failure. [`StoreError::GraphNotFound`] if the graph is not stored.
    pub fn commit(&self, graph: &str, commit: &Commit<'_>) -> Result<Committed, StoreError> {
        let operation = || format!("commit the desired state of graph {graph:?}");
        let now = now_ms();
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(operation)?;
        match commit.spec {
            Some(spec) if spec.name != graph => {
                return Err(StoreError::InvalidCommit {
                    graph: graph.to_owned(),
                    reason: format!("its spec is graph {:?}", spec.name),
                })
            }
            Some(spec) => {
                let status = match commit.status {
                    Some(status) => status.to_owned(),
                    None if commit.create => {
                        return Err(StoreError::InvalidCommit {
                            graph: graph.to_owned(),
                            reason: "a new graph needs a status".into(),
                        })
                    }
                    None => tx
                        .query_row_cached(
                            "SELECT status FROM graphs WHERE name = ?1",
                            [graph],
                            |r| r.get(0),
                        )
                        .optional()
                        .during(operation)?
                        .ok_or_else(|| StoreError::GraphNotFound(graph.to_owned()))?,
                };
                write_graph_in(&tx, spec, &status, !commit.create)?;
            }
            None => {
                if !super::graph_exists(&tx, graph, operation)? {
                    return Err(StoreError::GraphNotFound(graph.to_owned()));
                }
            }
        }
        if let Some(entries) = commit.placement {
            write_placement(&tx, graph, entries)?;
        }
        tx.execute_cached(
            "INSERT INTO commits (graph, committed_at_ms) VALUES (?1, ?2)",
            params![graph, now],
        )
        .during(operation)?;
        let generation = tx.last_insert_rowid();
        tx.execute_cached(
            "DELETE FROM commits WHERE graph = ?1 AND generation NOT IN
                 (SELECT generation FROM commits WHERE graph = ?1
                  ORDER BY generation DESC LIMIT ?2)",
            params![graph, COMMITS_KEPT],
        )
        .during(operation)?;
        tx.execute_cached(
            "UPDATE graphs SET generation = ?2, status = coalesce(?3, status),
                 updated_at_ms = ?4 WHERE name = ?1",
            params![graph, generation, commit.status, now],
        )
        .during(operation)?;
        let generation = u64::try_from(generation).unwrap_or(0);
        let decision_ids = commit
            .decisions
            .iter()
            .map(|record| insert_decision(&tx, record, Some(generation)))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().during(operation)?;
        for record in commit.decisions {
            self.metrics()
                .decision_recorded(record.kind, record.outcome);
        }
        Ok(Committed {
            generation,
            decision_ids,
        })
    }
}
