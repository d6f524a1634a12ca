//! The offload transition log: one record per transition of a graph's offload machine
//! (`engine::offload`), so the log shown by `GET /v1/graphs/{name}/offload` survives a restart.
//!
//! The states are stored as the machine's JSON form (`{"state": "offloadAlarm", "sinceS": ..}`),
//! so this module does not depend on the engine's types. Times `at_s` are on the telemetry clock
//! of the daemon that recorded them, which may differ from the clock after a restart;
//! `recorded_at_ms` is the wall clock. Each graph keeps its newest [`OFFLOAD_TRANSITIONS_KEPT`]
//! transitions: older ones are deleted in the append's transaction. As with decisions, there is
//! no foreign key to `graphs`: the log of a deleted graph is kept (and continues if a graph of
//! the same name is created again).

use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{SqlContext, StoreError};
use super::{from_json, now_ms, to_json, Store};

/// How many transitions are kept per graph (the oldest are deleted first).
pub const OFFLOAD_TRANSITIONS_KEPT: usize = 1_000;

/// A transition to record: the fields of the machine's `Transition`, states as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffloadTransitionRecord {
    pub graph: String,
    /// When, in seconds on the recording daemon's telemetry clock.
    pub at_s: f64,
    /// The state left, as the machine serialises it.
    pub from: Value,
    /// The state entered, as the machine serialises it.
    pub to: Value,
    pub reason: String,
}

/// A recorded transition: its id (increasing with time), the wall-clock time it was recorded
/// and the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredOffloadTransition {
    pub id: i64,
    pub recorded_at_ms: i64,
    #[serde(flatten)]
    pub record: OffloadTransitionRecord,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<StoredOffloadTransition, StoreError>> {
    let id: i64 = row.get(0)?;
    let from: String = row.get(3)?;
    let to: String = row.get(4)?;
    let what = || format!("offload transition {id}");
    let decode = || -> Result<StoredOffloadTransition, StoreError> {
        Ok(StoredOffloadTransition {
            id,
            recorded_at_ms: row.get(6).during(what)?,
            record: OffloadTransitionRecord {
                graph: row.get(1).during(what)?,
                at_s: row.get(2).during(what)?,
                from: from_json(&from, what)?,
                to: from_json(&to, what)?,
                reason: row.get(5).during(what)?,
            },
        })
    };
    Ok(decode())
}

impl Store {
    /// Appends a transition and deletes the graph's transitions beyond the newest
    /// [`OFFLOAD_TRANSITIONS_KEPT`], in one transaction; returns the new transition's id.
    pub fn append_offload_transition(
        &self,
        record: &OffloadTransitionRecord,
    ) -> Result<i64, StoreError> {
        let what = || format!("an offload transition of graph {:?}", record.graph);
        let operation = || format!("record {}", what());
        let from = to_json(&record.from, what)?;
        let to = to_json(&record.to, what)?;
        super::append_keeping_latest(
            &mut self.lock(),
            "offload_transitions",
            "INSERT INTO offload_transitions (graph, at_s, from_state, to_state, reason,
                 recorded_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![record.graph, record.at_s, from, to, record.reason, now_ms()],
            &record.graph,
            OFFLOAD_TRANSITIONS_KEPT,
            operation,
        )
    }

    /// Graph `graph`'s latest `limit` transitions, oldest first.
    pub fn list_offload_transitions(
        &self,
        graph: &str,
        limit: usize,
    ) -> Result<Vec<StoredOffloadTransition>, StoreError> {
        let operation = || format!("list the offload transitions of graph {graph:?}");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut listed: Vec<StoredOffloadTransition> = super::query_all(
            &self.lock(),
            "SELECT id, graph, at_s, from_state, to_state, reason, recorded_at_ms
             FROM offload_transitions WHERE graph = ?1 ORDER BY id DESC LIMIT ?2",
            params![graph, limit],
            from_row,
            operation,
        )?
        .into_iter()
        .collect::<Result<_, _>>()?;
        listed.reverse();
        Ok(listed)
    }
}
