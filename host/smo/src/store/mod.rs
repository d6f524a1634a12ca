//! The embedded store: SQLite in `STATE_DIR/smo.db` (WAL, foreign keys, forward migrations), so
//! graphs, clusters, placements, the decision history and API tokens survive a restart.
//!
//! [`Store`] is synchronous: one [`rusqlite::Connection`] behind a [`std::sync::Mutex`], shared
//! as `Arc<Store>`. Every method is one short transaction (well under a millisecond to a few
//! milliseconds on local disk), so calling it from async code is acceptable for the API's and
//! the control loops' small reads and writes; wrap bulk work in `tokio::task::spawn_blocking`.
//! Every write is a transaction: a write that fails, half-way or not, changes nothing.
//!
//! Data is keyed by names, as in the plugin API. Times are milliseconds since the Unix epoch.
//! The tables, one module each: [`graphs`] (descriptor text, validated spec JSON, status,
//! generation), [`clusters`] (the cluster as JSON, energy profile included), [`placements`]
//! (graph, service, cluster, replicas: the desired state), [`commits`] (the one write of a
//! desired state, with its decisions and a new generation), [`decisions`] (every strategy call,
//! newest first), [`apply_attempts`] (the applier's applies and withdrawals, bounded per graph),
//! [`offload_transitions`] (each graph's offload machine transitions, bounded per graph) and
//! [`tokens`] (hashed API tokens), [`dependencies`] (the workloads' dependency declarations), [`ecosystem_outcomes`] (what each ecosystem migration predicted and what was measured). [`graph_pages`] reads a page of the graph list.

pub mod apply_attempts;
pub mod clusters;
pub mod commits;
pub mod decisions;
pub mod dependencies;
pub mod ecosystem_outcomes;
mod error;
pub mod graph_pages;
pub mod graphs;
pub mod migrations;
pub mod offload_transitions;
pub mod placements;
pub mod reader;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::metrics::store::{StoreMetrics, Timed};
use error::SqlContext;
use rusqlite::{Connection, OptionalExtension};

pub use apply_attempts::{
    ApplyAction, ApplyAttempt, ApplyAttemptRecord, ApplySummary, APPLY_ATTEMPTS_KEPT,
};
pub use clusters::StoredCluster;
pub use commits::{Commit, Committed};
pub use decisions::{DecisionKind, DecisionRecord, Outcome};
pub use ecosystem_outcomes::{CompletedOutcome, Metrics, PendingOutcome};
pub use error::StoreError;
pub use graph_pages::GraphListing;
pub use graphs::StoredGraph;
pub use migrations::SCHEMA_VERSION;
pub use offload_transitions::{
    OffloadTransitionRecord, StoredOffloadTransition, OFFLOAD_TRANSITIONS_KEPT,
};
pub use placements::PlacementEntry;
pub use reader::Reader;
pub use tokens::{hash_token, ApiToken};

/// The database file name inside the state directory.
pub const DATABASE_FILE: &str = "smo.db";

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. See the module documentation for the concurrency model.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// The database file, or ":memory:".
    location: String,
    /// Store call latency and decisions recorded, for `/metrics`.
    metrics: StoreMetrics,
}

/// Creates `dir` (and its parents) readable by its owner only (0700); an existing one is left
/// as it is.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Makes `path` (and the SQLite files beside it) the owner's only (0600), creating it empty
/// when it does not exist.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(metadata) = std::fs::metadata(&file) {
            if metadata.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) `state_dir/smo.db`, creating `state_dir` too, and migrates
    /// the schema to [`SCHEMA_VERSION`].
    pub fn open(state_dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let state_dir = state_dir.as_ref();
        private_dir(state_dir).map_err(|source| StoreError::StateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        Self::open_file(state_dir.join(DATABASE_FILE))
    }

    /// Opens (creating if needed) the database file `path` and migrates it. The file (and so
    /// its WAL and shared-memory files, which SQLite creates with its mode) is the owner's only.
    pub fn open_file(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let location = path.display().to_string();
        private_file(&path).map_err(|source| StoreError::StateDir {
            path: path.clone(),
            source,
        })?;
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            location: location.clone(),
            source,
        })?;
        Self::init(conn, location, true)
    }

    /// A private database in memory, for tests and `smo simulate`.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let location = ":memory:".to_owned();
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            location: location.clone(),
            source,
        })?;
        Self::init(conn, location, false)
    }

    fn init(mut conn: Connection, location: String, wal: bool) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            source,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_error)?;
        if wal {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(open_error)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(database = %location, mode, "SQLite refused WAL mode");
            }
            // With WAL, NORMAL is durable across application crashes and much faster than FULL.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(open_error)?;
        }
        migrations::migrate(&mut conn, &location)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            conn: Mutex::new(conn),
            location,
            metrics: StoreMetrics::default(),
        })
    }

    /// The database file, or ":memory:".
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        migrations::current_version(&self.lock()).map_err(|source| StoreError::Sql {
            operation: "read the schema version".to_owned(),
            source,
        })
    }

    /// Store call latency and decisions recorded (see [`StoreMetrics`]).
    pub fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    /// The connection. A panic while it was held leaves no half-done write (the open
    /// transaction rolls back when dropped), so a poisoned lock is simply taken over. The time
    /// from asking for it to letting it go is observed as the call's latency.
    fn lock(&self) -> Timed<'_, Connection> {
        let started = std::time::Instant::now();
        let guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        self.metrics.timed(started, guard)
    }
}

/// Statements kept prepared per connection (the store runs a few dozen distinct ones).
const STATEMENT_CACHE: usize = 128;

/// One-row queries and statements through the connection's statement cache: each SQL text is
/// prepared once per connection, not on every call.
pub(crate) trait Cached {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, map: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;

    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, map: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, map)
    }

    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Runs `sql` with `params` and maps every row with `map`, naming `operation` on failure.
pub(crate) fn query_all<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    operation: impl Fn() -> String,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).during(&operation)?;
    let rows = statement
        .query_map(params, map)
        .during(&operation)?
        .collect::<Result<Vec<_>, _>>()
        .during(&operation)?;
    Ok(rows)
}

/// Inserts one row of graph `graph` into `table` with `insert` and deletes the graph's rows
/// beyond the newest `keep`, in one transaction; returns the new row's id.
pub(crate) fn append_keeping_latest<P: rusqlite::Params>(
    conn: &mut Connection,
    table: &str,
    insert: &str,
    params: P,
    graph: &str,
    keep: usize,
    operation: impl Fn() -> String,
) -> Result<i64, StoreError> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    let tx = conn.transaction().during(&operation)?;
    tx.execute_cached(insert, params).during(&operation)?;
    let id = tx.last_insert_rowid();
    tx.execute_cached(
        &format!(
            "DELETE FROM {table} WHERE graph = ?1 AND id NOT IN
                 (SELECT id FROM {table} WHERE graph = ?1 ORDER BY id DESC LIMIT ?2)"
        ),
        rusqlite::params![graph, keep],
    )
    .during(&operation)?;
    tx.commit().during(&operation)?;
    Ok(id)
}

/// Whether graph `name` is stored (inside a transaction or not), naming `operation` on failure.
pub(crate) fn graph_exists(
    conn: &Connection,
    name: &str,
    operation: impl FnOnce() -> String,
) -> Result<bool, StoreError> {
    Ok(conn
        .query_row_cached("SELECT 1 FROM graphs WHERE name = ?1", [name], |_| Ok(()))
        .optional()
        .during(operation)?
        .is_some())
}

pub use smo_core::clock::now_ms;

/// Serialises `value` as JSON text, naming `what` on failure.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(
    value: &T,
    what: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode {
        what: what(),
        source,
    })
}

/// Parses stored JSON text, reporting a corrupt row named `what` on failure.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        what: what(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests;
