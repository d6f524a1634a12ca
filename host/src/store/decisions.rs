//! The decision history: one record per strategy call (placement, scaling or migration) with
//! the strategy and plugin version, timing, outcome, reasons, an inputs summary and the output.

use std::fmt;
use std::str::FromStr;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{SqlContext, StoreError};
use super::{from_json, to_json, Store};

/// Which kind of strategy made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    Placement,
    Scaling,
    Migration,
}

/// How a strategy call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The named strategy decided.
    Ok,
    /// No decision was made (the reasons say why).
    Error,
    /// The named strategy failed and the default strategy decided instead.
    Fallback,
}

macro_rules! text_enum {
    ($type:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $text),+ }
            }
        }
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $type {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($type::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", stringify!($type), " {:?}"), other
                    )),
                }
            }
        }
    };
}

text_enum!(DecisionKind { Placement => "placement", Scaling => "scaling", Migration => "migration" });
text_enum!(Outcome { Ok => "ok", Error => "error", Fallback => "fallback" });

/// A decision to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    pub graph: String,
    pub kind: DecisionKind,
    /// `plugin/strategy` that was called (or the fallback's name when `outcome` is fallback).
    pub strategy: String,
    pub plugin_version: String,
    pub started_at_ms: i64,
    /// Wall time of the call, in milliseconds (fractions kept).
    pub duration_ms: f64,
    pub outcome: Outcome,
    /// Human-readable reasons, in the order they were given.
    pub reasons: Vec<String>,
    /// A summary of what the strategy was given (clusters, loads, ...).
    pub inputs: Value,
    /// What it decided (placement, replicas or moves), or the error.
    pub output: Value,
}

/// A recorded decision: its id (increasing with time), the generation of the desired state
/// its commit made (none when it changed nothing) and the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: i64,
    #[serde(default)]
    pub generation: Option<u64>,
    #[serde(flatten)]
    pub record: DecisionRecord,
}

const SELECT: &str = "SELECT id, graph, kind, strategy, plugin_version, started_at_ms, \
                      duration_ms, outcome, reasons, inputs, output, generation FROM decisions";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<Decision, StoreError>> {
    let id: i64 = row.get(0)?;
    let kind: String = row.get(2)?;
    let outcome: String = row.get(7)?;
    let reasons: String = row.get(8)?;
    let inputs: String = row.get(9)?;
    let output: String = row.get(10)?;
    let generation: Option<i64> = row.get(11)?;
    let what = || format!("decision {id}");
    let corrupt = |reason: String| StoreError::Corrupt {
        what: what(),
        reason,
    };
    let decode = || -> Result<DecisionRecord, StoreError> {
        Ok(DecisionRecord {
            graph: row.get(1).during(what)?,
            kind: kind.parse().map_err(corrupt)?,
            strategy: row.get(3).during(what)?,
            plugin_version: row.get(4).during(what)?,
            started_at_ms: row.get(5).during(what)?,
            duration_ms: row.get(6).during(what)?,
            outcome: outcome.parse().map_err(corrupt)?,
            reasons: from_json(&reasons, what)?,
            inputs: from_json(&inputs, what)?,
            output: from_json(&output, what)?,
        })
    };
    Ok(decode().map(|record| Decision {
        id,
        generation: generation.and_then(|g| u64::try_from(g).ok()),
        record,
    }))
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
    let inputs = to_json(&record.inputs, what)?;
    let output = to_json(&record.output, what)?;
    let generation = generation.map(|g| i64::try_from(g).unwrap_or(i64::MAX));
    conn.execute(
        "INSERT INTO decisions (graph, kind, strategy, plugin_version, started_at_ms,
             duration_ms, outcome, reasons, inputs, output, generation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            record.graph,
            record.kind.as_str(),
            record.strategy,
            record.plugin_version,
            record.started_at_ms,
            record.duration_ms,
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
        insert_decision(&self.lock(), record, None)
    }

    /// The latest `limit` decisions, newest first; only graph `graph`'s when given.
    pub fn list_decisions(
        &self,
        graph: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Decision>, StoreError> {
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
    ) -> Result<Option<Decision>, StoreError> {
        self.lock()
            .query_row(
                &format!("{SELECT} WHERE graph = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1"),
                params![graph, kind.as_str()],
                from_row,
            )
            .optional()
            .during(|| format!("get the last {kind} decision of graph {graph:?}"))?
            .transpose()
    }

    /// Deletes all but the newest `keep` decisions; returns how many were deleted.
    pub fn prune_decisions(&self, keep: usize) -> Result<usize, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.lock()
            .execute(
                "DELETE FROM decisions WHERE id NOT IN
                     (SELECT id FROM decisions ORDER BY id DESC LIMIT ?1)",
                [keep],
            )
            .during(|| "prune the decision history".to_owned())
    }
}
