//! The per-graph scaling loop, in small named pieces as kube-runtime does: a [`Trigger`] says
//! when to run (every period, until stopped), the runner ([`Engine::scale_round`]) does one
//! round, and [`Loops`] keeps one task per running graph.
//!
//! A round, in the graph's turn ([`super::admission`]): read the graph (a graph no longer running ends its loop),
//! read telemetry, call the graph's scaling strategy (or the default) once per cluster hosting
//! deployed services, commit the replicas (clamped to the service's `1..=max_replicas`) with
//! the round's decisions (only record them when nothing changed) unless the clusters changed
//! meanwhile so that they no longer fit (the next round decides again), and re-place the graph
//! when a strategy answers `infeasible_replace`.

use super::error::EngineError;
use super::inventory::{self, RUNNING};
use super::lifecycle::Engine;
use super::placing::{graph_strategy, plugin_graph};
use super::record::{self, Cause};
use crate::store::{Commit, PlacementEntry};
use serde_json::json;
use smo_plugin_api::{ScalingRequest, StrategyKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

/// When the next round runs: every `period`, until the stop signal.
pub struct Trigger {
    period: Duration,
    stop: watch::Receiver<bool>,
    /// When the round being waited for (or the last one) was due.
    due: Option<Instant>,
}

impl Trigger {
    pub fn new(period: Duration, stop: watch::Receiver<bool>) -> Self {
        Self {
            period,
            stop,
            due: None,
        }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// How late a round starting at `at` is after the last wait's end was due.
    pub fn lag(&self, at: Instant) -> Option<Duration> {
        self.due.map(|due| at.saturating_duration_since(due))
    }

    /// Waits one period; `false` when the loop was stopped (now or while waiting).
    pub async fn next(&mut self) -> bool {
        if *self.stop.borrow() {
            return false;
        }
        self.due = Some(Instant::now() + self.period);
        tokio::select! {
            () = tokio::time::sleep(self.period) => !*self.stop.borrow(),
            _ = self.stop.changed() => false,
        }
    }
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Keep looping.
    Continue,
    /// The graph is gone or no longer running: end the loop.
    Stop,
}

struct LoopHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Rounds of a graph's loop skipped because its telemetry could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetryErrors {
    pub count: u64,
    pub last: Option<String>,
}

/// The running loops, by graph name, and their telemetry errors.
#[derive(Default)]
pub struct Loops {
    handles: Mutex<HashMap<String, LoopHandle>>,
    errors: Mutex<HashMap<String, TelemetryErrors>>,
}

impl Loops {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LoopHandle>> {
        self.handles.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn errors(&self) -> std::sync::MutexGuard<'_, HashMap<String, TelemetryErrors>> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells every loop to stop after its current round; their tasks, to wait for.
    pub(crate) fn stop_all(&self) -> Vec<JoinHandle<()>> {
        self.lock()
            .drain()
            .map(|(_, handle)| {
                // A loop that already ended has no receiver: nothing to tell it.
                let _ = handle.stop.send(true);
                handle.task
            })
            .collect()
    }

    /// The telemetry errors of graph `name`'s scaling loop.
    pub fn telemetry_errors(&self, name: &str) -> TelemetryErrors {
        self.errors().get(name).cloned().unwrap_or_default()
    }
}

impl Engine {
    /// Starts graph `name`'s scaling loop unless it is already running.
    /// Also starts, updates or ends its offload loop to match its `offloadPolicy`.
    pub(crate) fn ensure_loop(self: &Arc<Self>, name: &str) {
        {
            let mut handles = self.loops.lock();
            if handles.get(name).is_none_or(|h| h.task.is_finished()) {
                let (stop, stopped) = watch::channel(false);
                let trigger = Trigger::new(self.config().scaling_period, stopped);
                let task = tokio::spawn(run(Arc::downgrade(self), name.to_owned(), trigger));
                handles.insert(name.to_owned(), LoopHandle { stop, task });
                tracing::debug!(graph = %name, "scaling loop started");
            }
        }
        self.ensure_offload_loop(name);
    }

    /// Ends graph `name`'s loops (a round in progress finishes first).
    pub(crate) fn stop_loop(&self, name: &str) {
        self.stop_offload_loop(name);
        if let Some(handle) = self.loops.lock().remove(name) {
            // The receiver may be gone if the loop already ended by itself: nothing to do.
            let _ = handle.stop.send(true);
            tracing::debug!(graph = %name, "scaling loop stopped");
        }
    }

    /// How many graphs have a live scaling loop.
    pub fn scaling_loops(&self) -> usize {
        self.loops
            .lock()
            .values()
            .filter(|h| !h.task.is_finished())
            .count()
    }

    /// Whether graph `name` has a live scaling loop.
    pub fn loop_active(&self, name: &str) -> bool {
        self.loops
            .lock()
            .get(name)
            .is_some_and(|h| !h.task.is_finished())
    }

    /// One round of graph `name`'s scaling loop (see the module documentation). The loads are
    /// read before the graph's turn is taken (a source may take its time); a source that
    /// cannot measure the graph skips the round, counted in the loop's status.
    pub async fn scale_round(&self, name: &str) -> Result<Round, super::error::EngineError> {
        let Some(graph) = self.store.get_graph(name)? else {
            return Ok(Round::Stop);
        };
        if graph.status != RUNNING {
            return Ok(Round::Stop);
        }
        let measured = {
            let placed = self.store.get_placement(name)?;
            let clusters =
                inventory::clusters_with(&self.store, &self.usage.usage(&self.store, Some(name))?)?;
            let spec = graph.spec.clone();
            self.measure(name, move |source| {
                source.loads_with_delay(&spec, &placed, &clusters, source.now_s())
            })
            .await
        };
        let telemetry = match measured {
            Ok(telemetry) => telemetry,
            Err(error) => {
                let message = error.to_string();
                let mut errors = self.loops.errors();
                let entry = errors.entry(name.to_owned()).or_default();
                // Warn when the error is new; while it repeats, each round logs at debug.
                if entry.last.as_deref() == Some(message.as_str()) {
                    tracing::debug!(graph = %name, %error, "scaling round skipped: no telemetry");
                } else {
                    tracing::warn!(graph = %name, %error, "scaling round skipped: no telemetry");
                }
                entry.count += 1;
                entry.last = Some(message);
                return Ok(Round::Continue);
            }
        };
        let _turn = self.admission.turn(name).await;
        let Some(graph) = self.store.get_graph(name)? else {
            return Ok(Round::Stop);
        };
        if graph.status != RUNNING {
            return Ok(Round::Stop);
        }
        let spec = &graph.spec;
        let entries = self.store.get_placement(name)?;
        let snapshot = self.snapshot(name).await?;
        let clusters = &snapshot.clusters;
        let strategy = graph_strategy(spec, StrategyKind::SCALING);
        let params = spec.parameters_json(StrategyKind::SCALING);
        let plugin_graph = plugin_graph(spec, &entries);
        let mut updated = entries.clone();
        let mut infeasible = Vec::new();
        let mut records = Vec::new();
        for cluster in clusters {
            let here: Vec<PlacementEntry> = entries
                .iter()
                .filter(|e| e.cluster == cluster.name.as_str() && e.replicas > 0)
                .cloned()
                .collect();
            if here.is_empty() {
                continue;
            }
            let request = ScalingRequest {
                graph: plugin_graph.clone(),
                cluster: cluster.clone(),
                placement: PlacementEntry::to_plugin(&here),
                telemetry: telemetry.clone(),
                extra: "{}".into(),
            };
            let inputs = json!({
                "cluster": cluster.name.as_str(),
                "available": cluster.available,
                "placement": here,
                "loads": request.telemetry.loads,
                "params": serde_json::from_str::<serde_json::Value>(&params).unwrap_or_default(),
            });
            let span = tracing::info_span!("scaling", graph = %name, cluster = %cluster.name);
            let made = self
                .dispatcher
                .scale(strategy.as_ref(), &params, Arc::new(request))
                .instrument(span)
                .await;
            let record = record::complete(name, &made, Cause::ScalingLoop, inputs);
            record.log();
            records.push(record);
            let (Some(decision), None) = (&made.decision, &made.record.error) else {
                continue;
            };
            if decision.infeasible_replace {
                infeasible.push(cluster.name.to_string());
                continue;
            }
            for choice in decision.replicas.iter() {
                let Some(service) = spec.service(choice.service.as_str()) else {
                    continue;
                };
                let ceiling = service.scaling.max_replicas.max(1);
                if let Some(entry) = updated.iter_mut().find(|e| {
                    e.service == choice.service.as_str()
                        && e.cluster == cluster.name.as_str()
                        && e.replicas > 0
                }) {
                    entry.replicas = choice.replicas.clamp(1, ceiling);
                }
            }
        }
        if updated != entries {
            let committed = self
                .commit_checked(
                    name,
                    spec,
                    &snapshot,
                    &updated,
                    Commit {
                        placement: Some(&updated),
                        decisions: &records,
                        ..Commit::default()
                    },
                )
                .await;
            match committed {
                Ok(_) => {
                    self.offload.mark_scaled(name);
                    tracing::info!(graph = %name, "replicas scaled");
                }
                // Decided again next round, from the clusters as they are then.
                Err(EngineError::Stale(why)) => {
                    tracing::info!(graph = %name, %why, "scaling not applied: the clusters changed while deciding");
                    return Ok(Round::Continue);
                }
                Err(e) => return Err(e),
            }
        } else {
            for record in &records {
                self.record(record)?;
            }
        }
        if !infeasible.is_empty() {
            tracing::info!(graph = %name, clusters = ?infeasible, "scaling infeasible: re-placing");
            if let Err(e) = self
                .replace_in_turn(name, Cause::Infeasible, None, None)
                .await
            {
                tracing::warn!(graph = %name, error = %e, "re-placement after infeasible scaling failed");
            }
        }
        Ok(Round::Continue)
    }
}

/// The runner: one round per trigger, until the trigger stops or the graph stops running.
async fn run(engine: Weak<Engine>, name: String, mut trigger: Trigger) {
    while trigger.next().await {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        // A configuration reload may have changed the period: the next wait uses it.
        trigger.period = engine.config().scaling_period;
        let started = Instant::now();
        let round = engine.scale_round(&name).await;
        engine.loop_stats.scaling.round(
            trigger.period(),
            trigger.lag(started),
            started.elapsed(),
            round.is_ok(),
        );
        match round {
            Ok(Round::Continue) => {}
            Ok(Round::Stop) => return,
            Err(e) => tracing::warn!(graph = %name, error = %e, "scaling round failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_trigger_fires_every_period_until_stopped() {
        let (stop, stopped) = watch::channel(false);
        let mut trigger = Trigger::new(Duration::from_millis(10), stopped);
        let start = std::time::Instant::now();
        assert!(trigger.next().await);
        assert!(start.elapsed() >= Duration::from_millis(10));
        stop.send(true).expect("receiver alive");
        assert!(!trigger.next().await);
    }

    #[tokio::test(start_paused = true)]
    async fn the_lag_is_how_late_a_round_starts_after_it_was_due() {
        let (_stop, stopped) = watch::channel(false);
        let mut trigger = Trigger::new(Duration::from_secs(30), stopped);
        assert_eq!(trigger.lag(Instant::now()), None, "nothing was due yet");
        assert!(trigger.next().await);
        assert_eq!(trigger.lag(Instant::now()), Some(Duration::ZERO));
        tokio::time::advance(Duration::from_millis(7)).await;
        assert_eq!(trigger.lag(Instant::now()), Some(Duration::from_millis(7)));
        assert_eq!(trigger.period(), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_stop_interrupts_the_wait() {
        let (stop, stopped) = watch::channel(false);
        let mut trigger = Trigger::new(Duration::from_secs(3600), stopped);
        let waiting = tokio::spawn(async move { trigger.next().await });
        tokio::task::yield_now().await;
        stop.send(true).expect("receiver alive");
        let stopped = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the stop ends the wait at once")
            .expect("joins");
        assert!(!stopped);
    }
}
