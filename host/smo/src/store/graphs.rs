//! Graphs in the store: the descriptor text as submitted, the validated spec as JSON, a status
//! string owned by the engine, and creation/update times. Deleting a graph drops its placement.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::Serialize;

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{now_ms, to_json, Store};
use smo_core::graphs::{parse_descriptor, GraphSpec};

/// A graph as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredGraph {
    pub spec: GraphSpec,
    /// Set by the engine, e.g. "running" or "stopped"; never empty. The control loops resume
    /// after a restart for the graphs whose status says they ran.
    pub status: String,
    /// The generation of its desired state: the number of its latest commit (0 before the
    /// first), see [`super::commits`].
    pub generation: u64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl StoredGraph {
    pub fn name(&self) -> &str {
        &self.spec.name
    }
}

const SELECT: &str = "SELECT name, descriptor, spec, status, created_at_ms, updated_at_ms, \
                      generation FROM graphs";

/// Rebuilds a row. The spec JSON is authoritative (a later smo may validate more strictly, and
/// a stored graph must still load); if it cannot be read, the descriptor is parsed again.
fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<StoredGraph, StoreError>> {
    let name: String = row.get(0)?;
    let descriptor: String = row.get(1)?;
    let spec_json: String = row.get(2)?;
    let status: String = row.get(3)?;
    let created_at_ms: i64 = row.get(4)?;
    let updated_at_ms: i64 = row.get(5)?;
    let generation: i64 = row.get(6)?;
    let spec = match GraphSpec::from_json(&spec_json, &descriptor) {
        Ok(spec) => Ok(spec),
        Err(decode_error) => parse_descriptor(&descriptor).map_err(|errors| StoreError::Corrupt {
            what: format!("graph {name:?}"),
            reason: format!("{decode_error}; its descriptor no longer validates:\n{errors}"),
        }),
    };
    Ok(spec.map(|spec| StoredGraph {
        spec,
        status,
        generation: u64::try_from(generation).unwrap_or(0),
        created_at_ms,
        updated_at_ms,
    }))
}

/// Stores `spec` with `status` inside the caller's transaction: a new graph, or with `replace`
/// one replacing the graph of that name (its creation time and generation kept, placement rows
/// of services the spec no longer has removed).
pub(super) fn write_graph_in(
    tx: &Transaction<'_>,
    spec: &GraphSpec,
    status: &str,
    replace: bool,
) -> Result<(), StoreError> {
    let name = spec.name.as_str();
    let operation = || format!("put graph {name:?}");
    let spec_json = to_json(spec, || format!("graph {name:?}"))?;
    let services = to_json(
        &spec
            .services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        || format!("the services of graph {name:?}"),
    )?;
    let now = now_ms();
    let exists = super::graph_exists(tx, name, operation)?;
    if exists && !replace {
        return Err(StoreError::GraphExists(name.to_owned()));
    }
    tx.execute_cached(
        "INSERT INTO graphs
             (name, descriptor, spec, status, created_at_ms, updated_at_ms, services)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
         ON CONFLICT (name) DO UPDATE SET descriptor = excluded.descriptor,
             spec = excluded.spec, status = excluded.status,
             updated_at_ms = excluded.updated_at_ms, services = excluded.services",
        params![name, spec.source, spec_json, status, now, services],
    )
    .during(operation)?;
    tx.execute_cached(
        "DELETE FROM placements WHERE graph = ?1
             AND service NOT IN (SELECT value FROM json_each(?2))",
        params![name, services],
    )
    .during(operation)?;
    Ok(())
}

/// [`Store::get_graph`] on `conn`.
pub(super) fn get_graph_in(
    conn: &Connection,
    name: &str,
) -> Result<Option<StoredGraph>, StoreError> {
    conn.query_row_cached(&format!("{SELECT} WHERE name = ?1"), [name], from_row)
        .optional()
        .during(|| format!("get graph {name:?}"))?
        .transpose()
}

impl Store {
    /// Stores a new graph; [`StoreError::GraphExists`] if one has the same name.
    pub fn create_graph(&self, spec: &GraphSpec, status: &str) -> Result<StoredGraph, StoreError> {
        self.write_graph(spec, status, false)
    }

    /// Stores a graph, replacing one of the same name (its creation time is kept). In the same
    /// transaction, placement rows of services the new spec no longer has are removed. On any
    /// failure the previous graph and placement are left exactly as they were.
    pub fn put_graph(&self, spec: &GraphSpec, status: &str) -> Result<StoredGraph, StoreError> {
        self.write_graph(spec, status, true)
    }

    fn write_graph(
        &self,
        spec: &GraphSpec,
        status: &str,
        replace: bool,
    ) -> Result<StoredGraph, StoreError> {
        let operation = || format!("put graph {:?}", spec.name);
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(operation)?;
        write_graph_in(&tx, spec, status, replace)?;
        let stored = get_graph_in(&tx, &spec.name)?
            .ok_or_else(|| StoreError::GraphNotFound(spec.name.clone()))?;
        tx.commit().during(operation)?;
        Ok(stored)
    }

    /// The graph named `name`, if stored.
    pub fn get_graph(&self, name: &str) -> Result<Option<StoredGraph>, StoreError> {
        get_graph_in(&self.lock(), name)
    }

    /// All graphs, by name.
    pub fn list_graphs(&self) -> Result<Vec<StoredGraph>, StoreError> {
        let sql = format!("{SELECT} ORDER BY name");
        super::query_all(&self.lock(), &sql, [], from_row, || {
            "list graphs".to_owned()
        })?
        .into_iter()
        .collect()
    }

    /// The names of all graphs, sorted (without reading their specs).
    pub fn graph_names(&self) -> Result<Vec<String>, StoreError> {
        super::query_all(
            &self.lock(),
            "SELECT name FROM graphs ORDER BY name",
            [],
            |row| row.get(0),
            || "list graph names".to_owned(),
        )
    }

    /// Sets the status of graph `name`; [`StoreError::GraphNotFound`] if there is none.
    pub fn set_graph_status(&self, name: &str, status: &str) -> Result<(), StoreError> {
        let changed = self
            .lock()
            .execute_cached(
                "UPDATE graphs SET status = ?2, updated_at_ms = ?3 WHERE name = ?1",
                params![name, status, now_ms()],
            )
            .during(|| format!("set the status of graph {name:?}"))?;
        if changed == 0 {
            return Err(StoreError::GraphNotFound(name.to_owned()));
        }
        Ok(())
    }

    /// Deletes graph `name` if it is still at `generation` with status `status` (so that a
    /// graph changed or created anew meanwhile stays). Returns whether it was deleted.
    pub fn delete_graph_at(
        &self,
        name: &str,
        generation: u64,
        status: &str,
    ) -> Result<bool, StoreError> {
        let generation = i64::try_from(generation).unwrap_or(i64::MAX);
        let changed = self
            .lock()
            .execute_cached(
                "DELETE FROM graphs WHERE name = ?1 AND generation = ?2 AND status = ?3",
                params![name, generation, status],
            )
            .during(|| format!("delete graph {name:?} at generation {generation}"))?;
        Ok(changed > 0)
    }

    /// Deletes graph `name` and its placement (its decision history is kept). Returns whether
    /// there was such a graph.
    pub fn delete_graph(&self, name: &str) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute_cached("DELETE FROM graphs WHERE name = ?1", [name])
            .during(|| format!("delete graph {name:?}"))?;
        Ok(changed > 0)
    }
}
