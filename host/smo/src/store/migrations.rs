//! Forward-only schema migrations keyed by `PRAGMA user_version`: migration N takes the schema
//! from version N-1 to N, in one transaction together with the version bump.
//!
//! To change the schema, append a migration; never edit one that has shipped. Opening a database
//! whose version is newer than [`SCHEMA_VERSION`] is refused rather than guessed at.

use rusqlite::{Connection, TransactionBehavior};

use super::error::StoreError;

/// Version 1: graphs, clusters, placements, decisions and API tokens.
const V1: &str = r#"
CREATE TABLE graphs (
    name          TEXT PRIMARY KEY NOT NULL CHECK (length(name) > 0),
    descriptor    TEXT NOT NULL,
    spec          TEXT NOT NULL CHECK (json_valid(spec)),
    status        TEXT NOT NULL CHECK (length(status) > 0),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE clusters (
    name          TEXT PRIMARY KEY NOT NULL CHECK (length(name) > 0),
    cluster       TEXT NOT NULL CHECK (json_valid(cluster)),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE placements (
    graph         TEXT NOT NULL REFERENCES graphs(name) ON DELETE CASCADE,
    service       TEXT NOT NULL CHECK (length(service) > 0),
    cluster       TEXT NOT NULL CHECK (length(cluster) > 0),
    replicas      INTEGER NOT NULL CHECK (replicas >= 0),
    position      INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (graph, service, cluster)
) STRICT;

-- No foreign key to graphs: the history of a deleted graph is kept.
CREATE TABLE decisions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    graph          TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('placement', 'scaling', 'migration')),
    strategy       TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    duration_ms    REAL NOT NULL CHECK (duration_ms >= 0),
    outcome        TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'fallback')),
    reasons        TEXT NOT NULL CHECK (json_valid(reasons)),
    inputs         TEXT NOT NULL CHECK (json_valid(inputs)),
    output         TEXT NOT NULL CHECK (json_valid(output))
) STRICT;

CREATE INDEX decisions_by_graph ON decisions (graph, id DESC);

CREATE TABLE api_tokens (
    hash          TEXT PRIMARY KEY NOT NULL CHECK (length(hash) > 0),
    scope         TEXT NOT NULL CHECK (length(scope) > 0),
    created_at_ms INTEGER NOT NULL
) STRICT;
"#;

/// Version 2: the offload machines' transition log (see [`super::offload_transitions`]).
const V2: &str = r#"
-- No foreign key to graphs: like decisions, the history of a deleted graph is kept.
CREATE TABLE offload_transitions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    graph          TEXT NOT NULL CHECK (length(graph) > 0),
    at_s           REAL NOT NULL,
    from_state     TEXT NOT NULL CHECK (json_valid(from_state)),
    to_state       TEXT NOT NULL CHECK (json_valid(to_state)),
    reason         TEXT NOT NULL,
    recorded_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX offload_transitions_by_graph ON offload_transitions (graph, id DESC);
"#;

/// Version 3: the desired state's generations and the applier's attempts (see
/// [`super::commits`] and [`super::apply_attempts`]).
const V3: &str = r#"
-- The generation of each graph's desired state: the number of its latest commit.
ALTER TABLE graphs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

-- The generation a decision's commit made (NULL: the decision changed nothing).
ALTER TABLE decisions ADD COLUMN generation INTEGER;

-- One row a commit; AUTOINCREMENT never reuses a number, so generations only grow, across
-- graphs and across a graph deleted and created again.
CREATE TABLE commits (
    generation     INTEGER PRIMARY KEY AUTOINCREMENT,
    graph          TEXT NOT NULL CHECK (length(graph) > 0),
    committed_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX commits_by_graph ON commits (graph, generation DESC);

-- No foreign key to graphs: the attempts of a deleted graph are kept (its withdrawal, or its
-- forced deletion, among them).
CREATE TABLE apply_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    graph         TEXT NOT NULL CHECK (length(graph) > 0),
    generation    INTEGER NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('apply', 'withdraw', 'force_delete')),
    started_at_ms INTEGER NOT NULL,
    duration_ms   REAL NOT NULL CHECK (duration_ms >= 0),
    outcome       TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
    retryable     INTEGER NOT NULL CHECK (retryable IN (0, 1)),
    error         TEXT
) STRICT;

CREATE INDEX apply_attempts_by_graph ON apply_attempts (graph, id DESC);
"#;

/// Version 4: each graph's service names beside its spec, so that a page of the graph list is
/// read without decoding specs.
const V4: &str = r#"
ALTER TABLE graphs ADD COLUMN services TEXT NOT NULL DEFAULT '[]';
UPDATE graphs SET services = (
    SELECT json_group_array(json_extract(s.value, '$.name'))
      FROM json_each(graphs.spec, '$.services') AS s
);
"#;

/// Version 5: the workloads' dependency declarations (`POST /v1/dependencies`).
const V5: &str = r#"
CREATE TABLE dependencies (
    vm_name       TEXT PRIMARY KEY CHECK (length(vm_name) > 0),
    declaration   TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;
"#;

/// Version 6: the outcomes of ecosystem migrations, which the ecosystem learns from.
const V6: &str = r#"
CREATE TABLE ecosystem_outcomes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workload        TEXT NOT NULL,
    graph           TEXT NOT NULL,
    generation      INTEGER NOT NULL,
    due_at_ms       INTEGER NOT NULL,
    copy_s          REAL NOT NULL,
    types_met       TEXT NOT NULL,
    metrics_before  TEXT,
    metrics_after   TEXT,
    observed_s      REAL
) STRICT;

CREATE INDEX ecosystem_outcomes_pending ON ecosystem_outcomes (observed_s, due_at_ms);
"#;

/// The migrations, in order: `MIGRATIONS[i]` brings the schema to version `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The schema version recorded in the database (0 for a new file).
pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the database to [`SCHEMA_VERSION`], one migration per transaction; a no-op when it
/// is already there. Returns the version reached.
pub(crate) fn migrate(conn: &mut Connection, location: &str) -> Result<u32, StoreError> {
    let open_error = |source| StoreError::Open {
        location: location.to_owned(),
        source,
    };
    loop {
        // IMMEDIATE takes the write lock first, so two processes opening the same new file do
        // not both run a migration: the second one re-reads the version and finds it done.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_error)?;
        let found = current_version(&tx).map_err(open_error)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                location: location.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else {
            return Ok(found);
        };
        let version = found + 1;
        let migration_error = |source| StoreError::Migration {
            location: location.to_owned(),
            version,
            source,
        };
        tx.execute_batch(sql).map_err(migration_error)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(migration_error)?;
        tx.commit().map_err(migration_error)?;
        tracing::info!(database = location, version, "store schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("open");
        assert_eq!(current_version(&conn).expect("version"), 0);
        assert_eq!(
            migrate(&mut conn, "memory").expect("migrate"),
            SCHEMA_VERSION
        );
        assert_eq!(migrate(&mut conn, "memory").expect("again"), SCHEMA_VERSION);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
                 AND name IN ('graphs', 'clusters', 'placements', 'decisions', 'api_tokens', \
                 'offload_transitions', 'commits', 'apply_attempts')",
                [],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(tables, 8);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("set version");
        match migrate(&mut conn, "memory") {
            Err(StoreError::SchemaTooNew { found, .. }) => assert_eq!(found, SCHEMA_VERSION + 1),
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    #[test]
    fn a_failing_migration_changes_nothing() {
        let mut conn = Connection::open_in_memory().expect("open");
        // A table in the way makes V1 fail half-way through.
        conn.execute_batch("CREATE TABLE placements (x INTEGER)")
            .expect("squatter");
        match migrate(&mut conn, "memory") {
            Err(StoreError::Migration { version: 1, .. }) => {}
            other => panic!("expected a failed migration, got {other:?}"),
        }
        assert_eq!(current_version(&conn).expect("version"), 0);
        let graphs: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'graphs'",
                [],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(graphs, 0, "the first statements of V1 were rolled back");
    }
}
