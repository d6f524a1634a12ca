//! The outcomes of ecosystem migrations: what each applied move predicted, and what was measured
//! before it and a window after it (the latency, the seconds the apply took), from which the
//! ecosystem learns ([`smo_core::ecosystem::learning`]).

use rusqlite::params;

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{query_all, to_json, Store};

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
    pub delay_before_ms: Option<f64>,
}

/// A move observed: its prediction and what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedOutcome {
    pub copy_s: f64,
    pub observed_s: f64,
    pub types_met: Vec<String>,
    pub delay_before_ms: Option<f64>,
    pub delay_after_ms: Option<f64>,
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
                 (workload, graph, generation, due_at_ms, copy_s, types_met, delay_before_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                outcome.workload,
                outcome.graph,
                to_i64(outcome.generation),
                outcome.due_at_ms,
                outcome.copy_s,
                types,
                outcome.delay_before_ms
            ],
        )
        .during(|| format!("record the outcome of moving {:?}", outcome.workload))?;
        Ok(conn.last_insert_rowid())
    }

    /// The moves due for observation at `now_ms`, oldest first.
    pub fn due_outcomes(&self, now_ms: i64) -> Result<Vec<PendingOutcome>, StoreError> {
        query_all(
            &self.lock(),
            "SELECT id, workload, graph, generation, due_at_ms, copy_s, types_met, delay_before_ms
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
                    delay_before_ms: row.get(7)?,
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
        delay_after_ms: Option<f64>,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute_cached(
                "UPDATE ecosystem_outcomes SET observed_s = ?2, delay_after_ms = ?3 WHERE id = ?1",
                params![id, observed_s, delay_after_ms],
            )
            .during(|| format!("complete outcome {id}"))?;
        Ok(())
    }

    /// Every observed move, oldest first.
    pub fn completed_outcomes(&self) -> Result<Vec<CompletedOutcome>, StoreError> {
        query_all(
            &self.lock(),
            "SELECT copy_s, observed_s, types_met, delay_before_ms, delay_after_ms
               FROM ecosystem_outcomes WHERE observed_s IS NOT NULL ORDER BY id",
            [],
            |row| {
                let types: String = row.get(2)?;
                Ok(CompletedOutcome {
                    copy_s: row.get(0)?,
                    observed_s: row.get(1)?,
                    types_met: serde_json::from_str(&types).unwrap_or_default(),
                    delay_before_ms: row.get(3)?,
                    delay_after_ms: row.get(4)?,
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
            .map(|ms| Some(ms / 1e3))
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .during(|| format!("read the apply time of graph {graph:?}"))
    }
}
