//! Placements in the store: for each graph, which service runs how many replicas on which
//! cluster. A placement is replaced as a whole, atomically; a service may be on several clusters.

use rusqlite::{params, Connection, Transaction, TransactionBehavior};
pub use smo_core::placement::PlacementEntry;

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{now_ms, Store};

/// Replaces graph `graph`'s placement rows with `entries` inside the caller's transaction.
pub(super) fn write_placement(
    tx: &Transaction<'_>,
    graph: &str,
    entries: &[PlacementEntry],
) -> Result<(), StoreError> {
    let operation = || format!("set the placement of graph {graph:?}");
    let now = now_ms();
    tx.execute_cached("DELETE FROM placements WHERE graph = ?1", [graph])
        .during(operation)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO placements
                 (graph, service, cluster, replicas, position, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .during(operation)?;
    for (position, entry) in entries.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        insert
            .execute(params![
                graph,
                entry.service,
                entry.cluster,
                entry.replicas,
                position,
                now
            ])
            .during(|| {
                format!(
                    "set the placement of graph {graph:?} (service {:?} on cluster {:?})",
                    entry.service, entry.cluster
                )
            })?;
    }
    Ok(())
}

/// [`Store::get_placement`] on `conn`.
pub(super) fn get_placement_in(
    conn: &Connection,
    graph: &str,
) -> Result<Vec<PlacementEntry>, StoreError> {
    let operation = || format!("get the placement of graph {graph:?}");
    if !super::graph_exists(conn, graph, operation)? {
        return Err(StoreError::GraphNotFound(graph.to_owned()));
    }
    super::query_all(
        conn,
        "SELECT service, cluster, replicas FROM placements WHERE graph = ?1 ORDER BY position",
        [graph],
        |row| {
            Ok(PlacementEntry {
                service: row.get(0)?,
                cluster: row.get(1)?,
                replicas: row.get(2)?,
            })
        },
        operation,
    )
}

impl Store {
    /// Replaces the placement of graph `graph` with `entries` (in one transaction: on any
    /// failure, e.g. the same service and cluster listed twice, the previous placement stays).
    /// [`StoreError::GraphNotFound`] if the graph is not stored.
    pub fn set_placement(&self, graph: &str, entries: &[PlacementEntry]) -> Result<(), StoreError> {
        let operation = || format!("set the placement of graph {graph:?}");
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(operation)?;
        if !super::graph_exists(&tx, graph, operation)? {
            return Err(StoreError::GraphNotFound(graph.to_owned()));
        }
        write_placement(&tx, graph, entries)?;
        tx.commit().during(operation)
    }

    /// The placement of graph `graph`, in the order it was set (empty when none was set yet).
    /// [`StoreError::GraphNotFound`] if the graph is not stored.
    pub fn get_placement(&self, graph: &str) -> Result<Vec<PlacementEntry>, StoreError> {
        get_placement_in(&self.lock(), graph)
    }
}
