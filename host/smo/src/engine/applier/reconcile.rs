//! One reconcile of one graph: read its desired state, observe what the backend runs, and when
//! the two differ (or the generation was never taken) apply it — or withdraw the graph when it
//! is stopped or being deleted — recording the attempt. A deleted graph's rows go once its
//! withdrawal succeeded, as a Kubernetes finalizer does.
//!
//! No engine lock is held while the backend is asked: the graph's rows are read under its read
//! lock, and the attempt is recorded on its own. Each reconcile runs in a `reconcile` span.

use super::runner::Action;
use super::{Observed, Reconciled};
use crate::engine::error::EngineError;
use crate::engine::inventory::{DELETING, RUNNING};
use crate::engine::lifecycle::Engine;
use crate::store::{
    now_ms, ApplyAction, ApplyAttemptRecord, DecisionKind, PlacementEntry, StoredGraph,
};
use smo_core::ports::{ContinuumError, DesiredState, Observation};
use std::time::Instant;
use tracing::Instrument;

/// The rows the backend should run for `graph` with `placement`: those with replicas while it
/// runs, none when it is stopped or being deleted.
pub fn effective_desired(
    graph: &StoredGraph,
    placement: Vec<PlacementEntry>,
) -> Vec<PlacementEntry> {
    if graph.status == RUNNING {
        placement.into_iter().filter(|e| e.replicas > 0).collect()
    } else {
        Vec::new()
    }
}

impl Engine {
    /// Reconciles graph `name` (see the module documentation); never fails: a failure is
    /// logged and answered with [`Action::Retry`].
    pub async fn reconcile(&self, name: &str) -> Action {
        let span = tracing::info_span!("reconcile", graph = %name);
        match self.reconcile_graph(name).instrument(span.clone()).await {
            Ok(action) => action,
            Err(error) => {
                span.in_scope(|| tracing::warn!(%error, "reconcile failed"));
                Action::Retry
            }
        }
    }

    async fn reconcile_graph(&self, name: &str) -> Result<Action, EngineError> {
        let read = {
            let _read = self.locks.read(name).await;
            match self.store.get_graph(name)? {
                Some(graph) => {
                    let placement = self.store.get_placement(name)?;
                    Some((graph, placement))
                }
                None => None,
            }
        };
        let Some((graph, placement)) = read else {
            self.applier.forget(name);
            return Ok(Action::AwaitChange);
        };
        let generation = graph.generation;
        let desired = effective_desired(&graph, placement);
        let Some(observed) = self.observe_graph(name).await else {
            return Ok(Action::Retry);
        };
        let summary = self.store.apply_summary(name, generation)?;
        let applied = summary.applied_generation.is_some_and(|g| g >= generation);
        let in_step = observed.asked_for(&desired);
        let config = self.applier.config();
        let reapply = self.applier.must_reapply(name);
        if applied && in_step && !reapply {
            if graph.status == DELETING {
                return self.finish_deletion(name, generation).await;
            }
            return Ok(Action::Requeue(if observed.all_ready() {
                config.resync
            } else {
                config.poll
            }));
        }
        let refused = summary.last.as_ref().is_some_and(|a| {
            a.record.generation == generation && !a.record.ok && !a.record.retryable
        });
        if refused && !reapply {
            // Nothing a retry can mend: wait for a new desired state.
            return Ok(Action::AwaitChange);
        }
        let action = if graph.status == RUNNING {
            ApplyAction::Apply
        } else {
            ApplyAction::Withdraw
        };
        let started_at_ms = now_ms();
        let started = Instant::now();
        let result = match action {
            ApplyAction::Apply => {
                let state = DesiredState {
                    generation,
                    placement: desired,
                    server_selection: self.server_selection(name)?,
                };
                self.continuum.apply(&graph.spec, &state).await
            }
            _ => self.continuum.withdraw(name).await,
        };
        let duration_ms = started.elapsed().as_secs_f64() * 1e3;
        if !result.as_ref().is_err_and(ContinuumError::retryable) {
            // Taken or refused by the backend in force: a pending reapply is done.
            self.applier.reapplied(name);
        }
        self.store.append_apply_attempt(&ApplyAttemptRecord {
            graph: name.to_owned(),
            generation,
            action,
            started_at_ms,
            duration_ms,
            ok: result.is_ok(),
            retryable: result.as_ref().err().is_some_and(ContinuumError::retryable),
            error: result.as_ref().err().map(ToString::to_string),
        })?;
        match result {
            Ok(()) => {
                tracing::info!(%action, generation, duration_ms, "backend took the desired state");
                if graph.status == DELETING {
                    return self.finish_deletion(name, generation).await;
                }
                self.applier.publish(Reconciled::Applied {
                    graph: name.to_owned(),
                    generation,
                });
                let ready = self
                    .observe_graph(name)
                    .await
                    .is_some_and(|o| o.all_ready());
                Ok(Action::Requeue(if ready {
                    config.resync
                } else {
                    config.poll
                }))
            }
            Err(error) => {
                if error.retryable() {
                    tracing::warn!(%action, generation, %error, "the backend did not take the desired state; retrying with backoff");
                } else {
                    tracing::warn!(%action, generation, %error, "the backend refused the desired state; waiting for the next change");
                }
                self.applier.publish(Reconciled::Failed {
                    graph: name.to_owned(),
                    generation,
                    error: error.to_string(),
                    retryable: error.retryable(),
                });
                Ok(if error.retryable() {
                    Action::Retry
                } else {
                    Action::AwaitChange
                })
            }
        }
    }

    /// The server choice graph `name`'s newest committed placement decision asked for, when
    /// the backend passes it on.
    fn server_selection(&self, name: &str) -> Result<Option<String>, EngineError> {
        if !self.continuum.passes_server_choice() {
            return Ok(None);
        }
        let record = self
            .store
            .last_committed_decision(name, DecisionKind::Placement)?;
        Ok(record
            .and_then(|r| r.decision)
            .and_then(|d| server_selection_of(&d)))
    }

    /// Asks the backend what runs of graph `name` and keeps the answer for the status; `None`
    /// (logged, kept as the observation's error) when it cannot answer.
    async fn observe_graph(&self, name: &str) -> Option<Observation> {
        let result = self.continuum.observe(name).await;
        let at_ms = now_ms();
        match result {
            Ok(observation) => {
                self.applier.set_observed(
                    name,
                    Observed {
                        observation: Some(observation.clone()),
                        at_ms,
                        error: None,
                    },
                );
                Some(observation)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot observe the graph");
                self.applier.set_observed(
                    name,
                    Observed {
                        observation: None,
                        at_ms,
                        error: Some(error.to_string()),
                    },
                );
                None
            }
        }
    }

    /// Removes the rows of graph `name`, withdrawn at `generation`, unless it changed since.
    async fn finish_deletion(&self, name: &str, generation: u64) -> Result<Action, EngineError> {
        let removed = {
            let _write = self.write_lock(name).await;
            self.store.delete_graph_at(name, generation, DELETING)?
        };
        if removed {
            self.names.removed(name);
            self.applier.forget(name);
            tracing::info!(generation, "graph withdrawn and deleted");
            self.applier.publish(Reconciled::Removed {
                graph: name.to_owned(),
            });
            Ok(Action::AwaitChange)
        } else {
            // Changed while it was withdrawn (forced away, or created anew): look again.
            Ok(Action::Requeue(std::time::Duration::ZERO))
        }
    }
}

/// `extra.server_selection` of a placement decision as stored (its `extra` is JSON text).
pub fn server_selection_of(decision: &serde_json::Value) -> Option<String> {
    let extra: serde_json::Value = serde_json::from_str(decision.get("extra")?.as_str()?).ok()?;
    extra.get("server_selection")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_server_choice_is_read_from_the_decisions_extra() {
        let decision =
            json!({"placement": [], "extra": "{\"server_selection\":\"least_power_shared_idle\"}"});
        assert_eq!(
            server_selection_of(&decision).as_deref(),
            Some("least_power_shared_idle")
        );
        for none in [json!({"extra": ""}), json!({"extra": "{}"}), json!({})] {
            assert_eq!(server_selection_of(&none), None, "{none}");
        }
    }
}
