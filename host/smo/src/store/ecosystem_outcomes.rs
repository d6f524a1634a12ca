//! The outcomes of ecosystem migrations: what each applied move predicted, and what was measured
//! before it and a window after it (latency, throughput, CPU utilisation; the seconds the apply
//! took), from which the ecosystem learns ([`smo_core::ecosystem::learning`]).

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{query_all, to_json, Store};

/// What was measured of a graph around a move (its services' figures, from the telemetry).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean response time weighted by request rate, ms (absent when unknown).
    pub latency_ms: Option<f64>,
    /// Requests per second, all services.
    pub throughput_rps: f64,
    /// Mean CPU utilisation weighted by request rate, 0..1 (absent when unknown).
    pub cpu_utilisation: Option<f64>,
}

fn metrics_json(metrics: Option<&Metrics>) -> Option<String> {
    metrics.and_then(|m| serde_json::to_string(m).ok())
}

fn metrics_of(text: Option<String>) -> Option<Metrics> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// An applied move to observe.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOutcome {
    pub id: i64,
    pub workload: String,
    pub graph: String,
    pub generation: u64,
    pub due_at_ms: i64,
    pub copy_s: f64,
    pub types_met: Vec<String>,
    pub metrics_before: Option<Metrics>,
}

/// A move observed: its prediction and what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedOutcome {
    pub copy_s: f64,
    pub observed_s: f64,
    pub types_met: Vec<String>,
    pub metrics_before: Option<Metrics>,
    pub metrics_after: Option<Metrics>,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// Records an applied move, to be observed from `due_at_ms`.
    pub fn add_outcome(&self, outcome: &PendingOutcome) -> Result<i64, StoreError> {
        let types = to_json(&outcome.types_met, || "the types an outcome met".to_owned())?;
        let conn = self.lock();
        conn.execute_cached(
            "INSERT INTO ecosystem_outcomes
                 (workload, graph, generation, due_at_ms, copy_s, types_met, metrics_before)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                outcome.workload,
                outcome.graph,
                to_i64(outcome.generation),
                outcome.due_at_ms,
                outcome.copy_s,
                types,
                metrics_json(outcome.metrics_before.as_ref())
            ],
        )
        .during(|| format!("record the outcome of moving {:?}", outcome.workload))?;
        Ok(conn.last_insert_rowid())
    }

    /// The moves due for observation at `now_ms`, oldest first.
    pub fn due_outcomes(&self, now_ms: i64) -> Result<Vec<PendingOutcome>, StoreError> {
        query_all(
            &self.lock(),
            "SELECT id, workload, graph, generation, due_at_ms, copy_s, types_met, metrics_before
               FROM ecosystem_outcomes WHERE observed_s IS NULL AND due_at_ms <= ?1 ORDER BY id",
            [now_ms],
            |row| {
                let types: String = row.get(6)?;
                Ok(PendingOutcome {
                    id: row.get(0)?,
                    workload: row.get(1)?,
                    graph: row.get(2)?,
                    generation: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
                    due_at_ms: row.get(4)?,
                    copy_s: row.get(5)?,
                    types_met: serde_json::from_str(&types).unwrap_or_default(),
                    metrics_before: metrics_of(row.get(7)?),
                })
            },
            || "list the outcomes due".to_owned(),
        )
    }

    /// Completes outcome `id` with what was measured.
    pub fn complete_outcome(
        &self,
        id: i64,
        observed_s: f64,
        metrics_after: Option<&Metrics>,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute_cached(
                "UPDATE ecosystem_outcomes SET observed_s = ?2, metrics_after = ?3 WHERE id = ?1",
                params![id, observed_s, metrics_json(metrics_after)],
            )
            .during(|| format!("complete outcome {id}"))?;
        Ok(())
    }

    /// Every observed move, oldest first.
    pub fn completed_outcomes(&self) -> Result<Vec<CompletedOutcome>, StoreError> {
        query_all(
            &self.lock(),
            "SELECT copy_s, observed_s, types_met, metrics_before, metrics_after
               FROM ecosystem_outcomes WHERE observed_s IS NOT NULL ORDER BY id",
            [],
            |row| {
                let types: String = row.get(2)?;
                Ok(CompletedOutcome {
                    copy_s: row.get(0)?,
                    observed_s: row.get(1)?,
                    types_met: serde_json::from_str(&types).unwrap_or_default(),
                    metrics_before: metrics_of(row.get(3)?),
                    metrics_after: metrics_of(row.get(4)?),
                })
            },
            || "list the observed outcomes".to_owned(),
        )
    }

    /// Seconds the applier took for graph `graph`'s first successful apply at `generation` or
    /// later (`None` before it has applied).
    pub fn apply_seconds(&self, graph: &str, generation: u64) -> Result<Option<f64>, StoreError> {
        self.lock()
            .query_row_cached(
                "SELECT duration_ms FROM apply_attempts
                  WHERE graph = ?1 AND generation >= ?2 AND outcome = 'ok' AND action = 'apply'
                  ORDER BY id LIMIT 1",
                params![graph, to_i64(generation)],
                |row| row.get::<_, f64>(0),
            )
            .optional()
            .map(|ms| ms.map(|ms| ms / 1e3))
            .during(|| format!("read the apply time of graph {graph:?}"))
    }
}
