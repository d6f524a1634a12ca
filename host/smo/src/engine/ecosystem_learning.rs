//! The ecosystem's feedback loop: each applied ecosystem move is recorded with its prediction and
//! the graph's latency before it; a window later its latency after and the seconds the apply
//! took are measured, and the cost model and the dependency types' weights are fitted again
//! ([`smo_core::ecosystem::learning`]). The next scores and migration options use them.

use super::error::EngineError;
use super::inventory;
use super::lifecycle::Engine;
use crate::store::{now_ms, CompletedOutcome, Metrics, PendingOutcome};
use smo_core::ecosystem::learning::{self, Learned, Outcome};

/// The graph's figures from `telemetry`: response time and CPU utilisation weighted by each
/// service's request rate (a plain mean when no rate is known), and the total request rate.
fn metrics_of(telemetry: &smo_plugin_api::Telemetry) -> Metrics {
    let weighted = |value: fn(&smo_plugin_api::ServiceLoad) -> f64| -> Option<f64> {
        let known: Vec<(f64, f64)> = telemetry
            .loads
            .iter()
            .map(|l| (value(l), l.current_rps.max(0.0)))
            .filter(|(v, _)| *v > 0.0 && v.is_finite())
            .collect();
        if known.is_empty() {
            return None;
        }
        let rate: f64 = known.iter().map(|(_, r)| r).sum();
        Some(if rate > 0.0 {
            known.iter().map(|(v, r)| v * r).sum::<f64>() / rate
        } else {
            known.iter().map(|(v, _)| v).sum::<f64>() / known.len() as f64
        })
    };
    Metrics {
        latency_ms: weighted(|l| l.response_time_ms),
        throughput_rps: telemetry
            .loads
            .iter()
            .map(|l| l.current_rps.max(0.0))
            .filter(|r| r.is_finite())
            .sum(),
        cpu_utilisation: weighted(|l| l.cpu_utilisation),
    }
}

/// What learning reads from an observed move.
pub fn to_outcome(completed: &CompletedOutcome) -> Outcome {
    let latency = |m: &Option<Metrics>| m.as_ref().and_then(|m| m.latency_ms);
    let improvement = match (
        latency(&completed.metrics_before),
        latency(&completed.metrics_after),
    ) {
        (Some(before), Some(after)) if before > 0.0 => (before - after) / before,
        _ => f64::NAN,
    };
    Outcome {
        copy_s: completed.copy_s,
        observed_s: completed.observed_s,
        types_met: completed.types_met.clone(),
        improvement,
    }
}

impl Engine {
    /// Graph `graph`'s figures now, from the telemetry source (`None` when it cannot say).
    pub(crate) async fn graph_metrics(&self, graph: &str) -> Option<Metrics> {
        let stored = self.store.get_graph(graph).ok()??;
        let placed = self.store.get_placement(graph).ok()?;
        let used = self.usage.usage(&self.store, Some(graph)).ok()?;
        let clusters = inventory::clusters_with(&self.store, &used).ok()?;
        let spec = stored.spec;
        let telemetry = self
            .measure(graph, move |source| {
                source.loads_with_delay(&spec, &placed, &clusters, source.now_s())
            })
            .await
            .ok()?;
        Some(metrics_of(&telemetry))
    }

    /// Records an applied move for observation a window from now.
    pub(crate) fn expect_outcome(&self, outcome: PendingOutcome) -> Result<(), EngineError> {
        let due_at_ms =
            now_ms() + i64::try_from(self.config().ecosystem_window_ms).unwrap_or(i64::MAX);
        self.store.add_outcome(&PendingOutcome {
            due_at_ms,
            ..outcome
        })?;
        Ok(())
    }

    /// Observes the moves whose window has passed (once the backend applied them) and fits
    /// the learned values again; returns how many were observed.
    pub async fn observe_outcomes(&self) -> Result<usize, EngineError> {
        let due = self.store.due_outcomes(now_ms())?;
        let mut observed = 0;
        for pending in due {
            let Some(seconds) = self
                .store
                .apply_seconds(&pending.graph, pending.generation)?
            else {
                continue;
            };
            let after = self.graph_metrics(&pending.graph).await;
            self.store
                .complete_outcome(pending.id, seconds, after.as_ref())?;
            tracing::info!(
                workload = %pending.workload,
                observed_s = seconds,
                before = ?pending.metrics_before,
                after = ?after,
                "ecosystem migration observed"
            );
            observed += 1;
        }
        if observed > 0 {
            let learned = self.fit_learned()?;
            tracing::info!(
                downtime_s = learned.cost_model.downtime_s,
                copy_scale = learned.cost_model.copy_scale,
                samples = learned.cost_model.samples,
                "ecosystem cost model and type weights refitted"
            );
            self.ecosystem_state()?.set_learned(learned);
        }
        Ok(observed)
    }

    /// The learned values from every observed move in the store.
    pub(crate) fn fit_learned(&self) -> Result<Learned, EngineError> {
        let outcomes: Vec<Outcome> = self
            .store
            .completed_outcomes()?
            .iter()
            .map(to_outcome)
            .collect();
        Ok(learning::learn(&outcomes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_are_weighted_by_request_rate_and_an_improvement_is_relative() {
        let load = |rt: f64, rps: f64| smo_plugin_api::ServiceLoad {
            service: "s".into(),
            current_rps: rps,
            predicted_rps: rps,
            cpu_utilisation: 0.0,
            memory_utilisation: 0.0,
            response_time_ms: rt,
        };
        let telemetry = smo_plugin_api::Telemetry {
            loads: vec![load(10.0, 3.0), load(20.0, 1.0), load(0.0, 5.0)].into(),
            ..smo_plugin_api::Telemetry::default()
        };
        let metrics = metrics_of(&telemetry);
        assert_eq!(metrics.latency_ms, Some(12.5));
        assert_eq!(metrics.throughput_rps, 9.0);
        assert_eq!(
            metrics_of(&smo_plugin_api::Telemetry::default()).latency_ms,
            None
        );
        let at = |latency_ms| {
            Some(Metrics {
                latency_ms: Some(latency_ms),
                throughput_rps: 1.0,
                cpu_utilisation: None,
            })
        };
        let completed = CompletedOutcome {
            copy_s: 1.0,
            observed_s: 2.0,
            types_met: vec!["database".into()],
            metrics_before: at(20.0),
            metrics_after: at(15.0),
        };
        assert_eq!(to_outcome(&completed).improvement, 0.25);
    }
}
