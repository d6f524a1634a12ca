//! The decision history: one row per strategy call (placement, scaling or migration) holding
//! its [`DecisionRecord`]: strategy and plugin version, timing, outcome, reasons, the inputs
//! summary, the output (what was asked for, the fallback, the error, the decision) and the
//! generation its commit made.
//!
//! The trigger lives in the inputs summary, as rows written before it had a field of its own
//! have it; reading a row takes it from there.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{from_json, to_json, Store};
pub use smo_core::decision::{DecisionKind, DecisionRecord, Outcome};

const SELECT: &str = "SELECT id, graph, kind, strategy, plugin_version, started_at_ms, \
                      duration_ms, outcome, reasons, inputs, output, generation FROM decisions";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<DecisionRecord, StoreError>> {
    let id: i64 = row.get(0)?;
    let kind: String = row.get(2)?;
    let outcome: String = row.get(7)?;
    let reasons: String = row.get(8)?;
    let inputs: String = row.get(9)?;
    let output: String = row.get(10)?;
    let generation: Option<i64> = row.get(11)?;
    let plugin_version: String = row.get(4)?;
    let what = || format!("decision {id}");
    let corrupt = |reason: String| StoreError::Corrupt {
        what: what(),
        reason,
    };
    let decode = || -> Result<DecisionRecord, StoreError> {
        let inputs: Value = from_json(&inputs, what)?;
        let output: Value = from_json(&output, what)?;
        let text =
            |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(DecisionRecord {
            id: Some(id),
            graph: row.get(1).during(what)?,
            kind: kind.parse().map_err(corrupt)?,
            trigger: text(&inputs, "trigger"),
            requested: text(&output, "requested"),
            strategy: row.get(3).during(what)?,
            plugin_version: Some(plugin_version.clone()).filter(|v| !v.is_empty()),
            started_at_ms: row.get(5).during(what)?,
            duration_ms: row.get(6).during(what)?,
            outcome: outcome.parse().map_err(corrupt)?,
            reasons: from_json(&reasons, what)?,
            fallback_reason: text(&output, "fallback_reason"),
            error: text(&output, "error"),
            decision: output.get("decision").cloned().filter(|d| !d.is_null()),
            inputs: Some(inputs),
            generation: generation.and_then(|g| u64::try_from(g).ok()),
            applied: None,
        })
    };
    Ok(decode())
}

/// Appends `record` (made at `generation`, if its commit made one) through `conn`, inside or
/// outside a transaction; returns its id.
pub(super) fn insert_decision(
    conn: &Connection,
    record: &DecisionRecord,
    generation: Option<u64>,
) -> Result<i64, StoreError> {
    let what = || format!("a {} decision for graph {:?}", record.kind, record.graph);
    let reasons = to_json(&record.reasons, what)?;
    let inputs = to_json(record.inputs.as_ref().unwrap_or(&json!({})), what)?;
    let output = to_json(
        &json!({
            "requested": record.requested,
            "fallback_reason": record.fallback_reason,
            "error": record.error,
            "decision": record.decision,
        }),
        what,
    )?;
    let generation = generation.map(|g| i64::try_from(g).unwrap_or(i64::MAX));
    let duration_ms = if record.duration_ms.is_finite() {
        record.duration_ms.max(0.0)
    } else {
        0.0
    };
    conn.execute_cached(
        "INSERT INTO decisions (graph, kind, strategy, plugin_version, started_at_ms,
             duration_ms, outcome, reasons, inputs, output, generation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            record.graph,
            record.kind.as_str(),
            record.strategy,
            record.plugin_version.as_deref().unwrap_or(""),
            record.started_at_ms,
            duration_ms,
            record.outcome.as_str(),
            reasons,
            inputs,
            output,
            generation,
        ],
    )
    .during(|| format!("record {}", what()))?;
    Ok(conn.last_insert_rowid())
}

impl Store {
    /// Appends a decision that changed no desired state; returns its id.
    pub fn append_decision(&self, record: &DecisionRecord) -> Result<i64, StoreError> {
        let id = insert_decision(&self.lock(), record, None)?;
        self.metrics()
            .decision_recorded(record.kind, record.outcome);
        Ok(id)
    }

    /// The latest `limit` decisions, newest first; only graph `graph`'s when given.
    pub fn list_decisions(
        &self,
        graph: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        let operation = || match graph {
            Some(graph) => format!("list the decisions of graph {graph:?}"),
            None => "list decisions".to_owned(),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!("{SELECT} WHERE ?1 IS NULL OR graph = ?1 ORDER BY id DESC LIMIT ?2");
        super::query_all(
            &self.lock(),
            &sql,
            params![graph, limit],
            from_row,
            operation,
        )?
        .into_iter()
        .collect()
    }

    /// The newest decision of `kind` for graph `graph`, if any (for the graph's status).
    pub fn last_decision(
        &self,
        graph: &str,
        kind: DecisionKind,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        self.newest_decision(graph, kind, "")
    }

    /// The newest decision of `kind` for graph `graph` that committed a desired state.
    pub fn last_committed_decision(
        &self,
        graph: &str,
        kind: DecisionKind,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        self.newest_decision(graph, kind, "AND generation IS NOT NULL")
    }

    fn newest_decision(
        &self,
        graph: &str,
        kind: DecisionKind,
        condition: &str,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        newest_decision_in(&self.lock(), graph, kind, condition)
    }
}

/// The newest decision of `kind` for graph `graph` matching `condition`, on `conn`.
pub(super) fn newest_decision_in(
    conn: &Connection,
    graph: &str,
    kind: DecisionKind,
    condition: &str,
) -> Result<Option<DecisionRecord>, StoreError> {
    conn.query_row_cached(
        &format!("{SELECT} WHERE graph = ?1 AND kind = ?2 {condition} ORDER BY id DESC LIMIT 1"),
        params![graph, kind.as_str()],
        from_row,
    )
    .optional()
    .during(|| format!("get the last {kind} decision of graph {graph:?}"))?
    .transpose()
}

impl Store {
    /// Deletes all but the newest `keep` decisions; returns how many were deleted.
    pub fn prune_decisions(&self, keep: usize) -> Result<usize, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.lock()
            .execute_cached(
                "DELETE FROM decisions WHERE id NOT IN
                     (SELECT id FROM decisions ORDER BY id DESC LIMIT ?1)",
                [keep],
            )
            .during(|| "prune the decision history".to_owned())
    }
}
