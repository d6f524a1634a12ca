//! The applier's attempts: one row each time it applied a graph's desired state to the
//! backend, withdrew it, or an operator forced a deletion, with the outcome and the error.
//!
//! A graph's applied generation, the attempts at its current generation and its last error are
//! read from here. Each graph keeps its newest [`APPLY_ATTEMPTS_KEPT`] rows; as with decisions
//! there is no foreign key to `graphs`, so a deleted graph's attempts (its withdrawal among
//! them) stay readable.

use std::fmt;
use std::str::FromStr;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::Store;

/// How many attempts are kept per graph (the oldest are deleted first).
pub const APPLY_ATTEMPTS_KEPT: usize = 200;

/// What the applier did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyAction {
    /// Made the backend run the desired state.
    Apply,
    /// Removed everything of the graph from the backend (stop, delete).
    Withdraw,
    /// The operator deleted the graph without a withdrawal (`DELETE ...?force=true`).
    ForceDelete,
}

impl ApplyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyAction::Apply => "apply",
            ApplyAction::Withdraw => "withdraw",
            ApplyAction::ForceDelete => "force_delete",
        }
    }
}

impl fmt::Display for ApplyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApplyAction {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "apply" => Ok(ApplyAction::Apply),
            "withdraw" => Ok(ApplyAction::Withdraw),
            "force_delete" => Ok(ApplyAction::ForceDelete),
            other => Err(format!("unknown apply action {other:?}")),
        }
    }
}

/// One attempt to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyAttemptRecord {
    pub graph: String,
    /// The generation of the desired state it tried to reach.
    pub generation: u64,
    pub action: ApplyAction,
    pub started_at_ms: i64,
    pub duration_ms: f64,
    /// Whether the backend did it.
    pub ok: bool,
    /// Whether a retry may help, when it failed.
    pub retryable: bool,
    pub error: Option<String>,
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyAttempt {
    pub id: i64,
    #[serde(flatten)]
    pub record: ApplyAttemptRecord,
}

/// What the attempts say of a graph at its current generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ApplySummary {
    /// The newest generation the backend took (an apply or withdrawal that succeeded).
    pub applied_generation: Option<u64>,
    /// Attempts at the current generation.
    pub attempts: u32,
    /// The newest attempt.
    pub last: Option<ApplyAttempt>,
    /// The newest attempt that failed.
    pub last_error: Option<ApplyAttempt>,
}

pub(super) const SELECT: &str =
    "SELECT id, graph, generation, action, started_at_ms, duration_ms, outcome, \
                      retryable, error FROM apply_attempts";

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<ApplyAttempt, StoreError>> {
    let id: i64 = row.get(0)?;
    let action: String = row.get(3)?;
    let action = match action.parse() {
        Ok(action) => action,
        Err(reason) => {
            return Ok(Err(StoreError::Corrupt {
                what: format!("apply attempt {id}"),
                reason,
            }))
        }
    };
    let record = ApplyAttemptRecord {
        graph: row.get(1)?,
        generation: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        action,
        started_at_ms: row.get(4)?,
        duration_ms: row.get(5)?,
        ok: row.get::<_, String>(6)? == "ok",
        retryable: row.get::<_, i64>(7)? != 0,
        error: row.get(8)?,
    };
    Ok(Ok(ApplyAttempt { id, record }))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Appends an attempt and deletes the graph's attempts beyond the newest
    /// [`APPLY_ATTEMPTS_KEPT`], in one transaction; returns its id.
    pub fn append_apply_attempt(&self, record: &ApplyAttemptRecord) -> Result<i64, StoreError> {
        let operation = || {
            format!(
                "record an {} attempt of graph {:?}",
                record.action, record.graph
            )
        };
        let duration = if record.duration_ms.is_finite() {
            record.duration_ms.max(0.0)
        } else {
            0.0
        };
        super::append_keeping_latest(
            &mut self.lock(),
            "apply_attempts",
            "INSERT INTO apply_attempts (graph, generation, action, started_at_ms, duration_ms,
                 outcome, retryable, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                record.graph,
                to_i64(record.generation),
                record.action.as_str(),
                record.started_at_ms,
                duration,
                if record.ok { "ok" } else { "error" },
                i64::from(record.retryable),
                record.error,
            ],
            &record.graph,
            APPLY_ATTEMPTS_KEPT,
            operation,
        )
    }

    /// The latest `limit` attempts, newest first; only graph `graph`'s when given.
    pub fn list_apply_attempts(
        &self,
        graph: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ApplyAttempt>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!("{SELECT} WHERE ?1 IS NULL OR graph = ?1 ORDER BY id DESC LIMIT ?2");
        super::query_all(&self.lock(), &sql, params![graph, limit], from_row, || {
            "list apply attempts".to_owned()
        })?
        .into_iter()
        .collect()
    }

    /// What graph `graph`'s attempts say at generation `generation`.
    pub fn apply_summary(&self, graph: &str, generation: u64) -> Result<ApplySummary, StoreError> {
        apply_summary_in(&self.lock(), graph, generation)
    }
}

/// [`Store::apply_summary`] on `conn`.
pub(super) fn apply_summary_in(
    conn: &Connection,
    graph: &str,
    generation: u64,
) -> Result<ApplySummary, StoreError> {
    let operation = || format!("summarise the apply attempts of graph {graph:?}");
    let applied: Option<i64> = conn
        .query_row_cached(
            "SELECT max(generation) FROM apply_attempts
             WHERE graph = ?1 AND outcome = 'ok' AND action IN ('apply', 'withdraw')",
            [graph],
            |row| row.get(0),
        )
        .during(operation)?;
    let attempts: i64 = conn
        .query_row_cached(
            "SELECT count(*) FROM apply_attempts
             WHERE graph = ?1 AND generation = ?2 AND action IN ('apply', 'withdraw')",
            params![graph, to_i64(generation)],
            |row| row.get(0),
        )
        .during(operation)?;
    let newest = |filter: &str| -> Result<Option<ApplyAttempt>, StoreError> {
        conn.query_row_cached(
            &format!("{SELECT} WHERE graph = ?1 {filter} ORDER BY id DESC LIMIT 1"),
            [graph],
            from_row,
        )
        .optional()
        .during(operation)?
        .transpose()
    };
    Ok(ApplySummary {
        applied_generation: applied.and_then(|g| u64::try_from(g).ok()),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last: newest("")?,
        last_error: newest("AND outcome = 'error'")?,
    })
}
