//! The per-graph offload loop of `smo serve`: for a running graph with an `offloadPolicy`, every
//! observation period it observes, steps the graph's [`OffloadMachine`], and acts when asked.
//!
//! A round: read the graph (gone, stopped, or without a policy: the loop ends), take an
//! [`Observation`](smo_core::offload::Observation) from the engine's [`OffloadTelemetry`] (the
//! autoscaler flag is set when the scaling loop changed the graph's replicas since the previous
//! round), step the machine. On an [`Action`], in the graph's turn ([`super::admission`]): ask the graph's
//! migration strategy through the dispatcher, record the decision (trigger `offload_loop`; its
//! inputs hold the `loads`, `calls` and `extra` the strategy was given), apply its moves to the
//! placement ([`super::offload_apply`]) and report the outcome to the machine (a strategy error,
//! panic or timeout is a `failed` outcome). Time is the telemetry's clock
//! ([`TelemetrySource::now_s`]), so a sped-up scenario speeds the loop up. One telemetry object
//! serves every loop, asked in a blocking task (a Prometheus source may block on HTTP).
//!
//! The request's telemetry starts from the host's own figures ([`TelemetrySource`]: simulated
//! loads, calls from the descriptor's dependencies, links from the clusters' coordinates), which
//! the offload telemetry may replace by its measurements
//! ([`OffloadTelemetry::migration_inputs`]; the Prometheus source puts in the measured rates,
//! call graph, response sizes and delay, and adds the measured CPU and memory to `request.extra`
//! next to `requiredDecreaseMs`). When it cannot measure them the action fails with its error
//! (outcome `failed`, in the last action report and the machine's log; no decision is recorded
//! since no strategy was asked), rather than deciding on simulated figures.
//!
//! Every transition of a machine is also appended to the store
//! ([`Store::append_offload_transition`](crate::store::Store::append_offload_transition); a
//! store error is logged, never fatal), and the status lists the persisted transitions (the
//! newest [`TRANSITION_LOG_LEN`]), so the log survives a restart. The machine's *state* does
//! not: after a restart the loop starts again from camping, and when the graph has earlier
//! history a transition "resumed after restart" (from the last persisted state to camping) is
//! recorded. Its `atS` is on the new daemon's telemetry clock, which may differ from the clock
//! of the transitions before it.

use super::error::EngineError;
use super::inventory;
use super::inventory::RUNNING;
use super::lifecycle::Engine;
use super::offload_apply::apply_moves;
use super::placing::{graph_strategy, plugin_graph};
use super::record::{self, Cause};
use super::scaling::{Round, Trigger};
use crate::store::{Commit, OffloadTransitionRecord, PlacementEntry, StoredOffloadTransition};
use serde::Serialize;
use serde_json::json;
use smo_core::graphs::{GraphSpec, OffloadPolicy};
use smo_core::offload::{
    Action, ActionOutcome, OffloadMachine, OffloadState, OffloadStatus, Transition,
    TRANSITION_LOG_LEN,
};
use smo_core::ports::{TelemetryError, TelemetrySource};
use smo_core::user_delay;
use smo_plugin_api::{CallRate, Cluster, MigrationRequest, RVec, StrategyKind, Telemetry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The shortest wall-clock period between two rounds.
const MIN_PERIOD: Duration = Duration::from_millis(5);

/// What the last action did, for the status.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    /// On the telemetry clock (s).
    pub at_s: f64,
    pub action: Action,
    /// The strategy that answered (after any fallback), or the one asked for.
    pub strategy: Option<String>,
    /// The decision's id in the history.
    pub decision_id: Option<i64>,
    /// The moves applied, one line each.
    pub applied: Vec<String>,
    /// The moves rejected, with why.
    pub rejected: Vec<String>,
    pub outcome: ActionOutcome,
}

/// `GET /v1/graphs/{name}/offload`: `enabled` (the graph has an `offloadPolicy`) and, when
/// it has, its loop.
#[derive(Debug, Clone, Serialize)]
pub struct OffloadAnswer {
    pub enabled: bool,
    #[serde(flatten)]
    pub offload: Option<OffloadView>,
}

/// An offload loop, as `offload_loop` in the graph's status and in [`OffloadAnswer`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OffloadView {
    /// Whether the loop runs now.
    pub active: bool,
    /// The state's name (camping, offloadAlarm, unoffloadAlarm, offloading, unoffloading,
    /// waitingForAutoscaler, cooldown).
    pub state_name: &'static str,
    /// Wall-clock period of the rounds (ms).
    pub period_ms: u64,
    #[serde(flatten)]
    pub machine: OffloadStatus,
    pub last_action_report: Option<ActionReport>,
    /// Observations that failed, and the last failure.
    pub telemetry_errors: u64,
    pub last_telemetry_error: Option<String>,
}

/// One graph's machine and what the status shows next to it.
struct Shared {
    machine: OffloadMachine,
    period: Duration,
    last_action: Option<ActionReport>,
    telemetry_errors: u64,
    last_telemetry_error: Option<String>,
    /// The scaling loop's activity count seen at the previous round.
    scale_seen: u64,
}

struct Entry {
    shared: Arc<Mutex<Shared>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The offload loops, by graph name, and what they share.
#[derive(Default)]
pub struct OffloadLoops {
    entries: Mutex<HashMap<String, Entry>>,
    /// How many times the scaling loop changed each graph's replicas.
    scaled: Mutex<HashMap<String, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OffloadLoops {
    /// Notes that the scaling loop changed graph `name`'s replicas.
    pub fn mark_scaled(&self, name: &str) {
        *lock(&self.scaled).entry(name.to_owned()).or_default() += 1;
    }

    fn scaled(&self, name: &str) -> u64 {
        lock(&self.scaled).get(name).copied().unwrap_or(0)
    }

    fn shared(&self, name: &str) -> Option<Arc<Mutex<Shared>>> {
        lock(&self.entries).get(name).map(|e| Arc::clone(&e.shared))
    }
}

/// The wall-clock period of a policy's rounds at telemetry speed `speed`.
fn period(policy: &OffloadPolicy, speed: f64) -> Duration {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    Duration::from_secs_f64(policy.observe_every_s() / speed).max(MIN_PERIOD)
}

fn telemetry_now(source: &dyn TelemetrySource) -> Duration {
    Duration::from_secs_f64(source.now_s().max(0.0))
}

/// The reason of the transition recorded when a loop starts on a graph with earlier history.
const RESUMED_REASON: &str =
    "resumed after restart: the state restarts from camping (the telemetry clock may differ)";

/// Where a machine's log ended, to find the transitions added since.
struct LogMark(u64);

impl LogMark {
    fn of(machine: &OffloadMachine) -> Self {
        Self(machine.transitions_logged())
    }

    /// The transitions `machine` made after the mark, oldest first.
    fn added(&self, machine: &OffloadMachine) -> Vec<Transition> {
        machine.transitions_after(self.0).cloned().collect()
    }
}

/// A transition as the store keeps it.
fn to_record(graph: &str, t: &Transition) -> Result<OffloadTransitionRecord, serde_json::Error> {
    Ok(OffloadTransitionRecord {
        graph: graph.to_owned(),
        at_s: t.at_s,
        from: serde_json::to_value(t.from)?,
        to: serde_json::to_value(t.to)?,
        reason: t.reason.clone(),
    })
}

/// A stored transition as the machine logs it.
fn from_stored(stored: StoredOffloadTransition) -> Result<Transition, serde_json::Error> {
    Ok(Transition {
        at_s: stored.record.at_s,
        from: serde_json::from_value(stored.record.from)?,
        to: serde_json::from_value(stored.record.to)?,
        reason: stored.record.reason,
    })
}

impl Engine {
    /// Starts, updates or ends graph `name`'s offload loop to match its stored spec: a running
    /// graph with an `offloadPolicy` gets one (a changed policy goes to its machine).
    pub(crate) fn ensure_offload_loop(self: &Arc<Self>, name: &str) {
        let policy = match self.store.get_graph(name) {
            Ok(Some(g)) if g.status == RUNNING => g.spec.offload_policy,
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(graph = %name, error = %e, "cannot read the graph for its offload loop");
                return;
            }
        };
        let Some(policy) = policy else {
            self.stop_offload_loop(name);
            return;
        };
        let now = telemetry_now(self.telemetry.as_ref());
        let wanted = period(&policy, self.telemetry.speed());
        let mut entries = lock(&self.offload.entries);
        let shared = match entries.get(name) {
            Some(entry) => {
                let same = {
                    let mut shared = lock(&entry.shared);
                    let same = *shared.machine.policy() == policy;
                    if !same {
                        let mark = LogMark::of(&shared.machine);
                        if let Err(e) = shared.machine.set_policy(now, policy) {
                            tracing::warn!(graph = %name, error = %e, "offload policy refused");
                        }
                        shared.period = wanted;
                        self.persist_transitions(name, &mark.added(&shared.machine));
                    }
                    same
                };
                if same && !entry.task.is_finished() && !*entry.stop.borrow() {
                    return;
                }
                let _ = entry.stop.send(true);
                Arc::clone(&entry.shared)
            }
            None => match OffloadMachine::new(name, policy) {
                Ok(machine) => {
                    self.record_resumed(name, now);
                    Arc::new(Mutex::new(Shared {
                        machine,
                        period: wanted,
                        last_action: None,
                        telemetry_errors: 0,
                        last_telemetry_error: None,
                        scale_seen: self.offload.scaled(name),
                    }))
                }
                Err(e) => {
                    tracing::warn!(graph = %name, error = %e, "offload policy refused: no offload loop");
                    return;
                }
            },
        };
        let (stop, stopped) = watch::channel(false);
        let trigger = Trigger::new(wanted, stopped);
        let task = tokio::spawn(run(Arc::downgrade(self), name.to_owned(), trigger));
        entries.insert(name.to_owned(), Entry { shared, stop, task });
        tracing::info!(graph = %name, period_ms = wanted.as_millis() as u64, "offload loop started");
    }

    /// Appends `transitions` of graph `name` to the store; an error is logged, not returned.
    fn persist_transitions(&self, name: &str, transitions: &[Transition]) {
        for t in transitions {
            let appended = to_record(name, t).map_err(|e| e.to_string()).and_then(|r| {
                self.store
                    .append_offload_transition(&r)
                    .map_err(|e| e.to_string())
            });
            if let Err(error) = appended {
                tracing::warn!(graph = %name, %error, "cannot persist an offload transition");
            }
        }
    }

    /// When graph `name` has persisted transitions (an earlier daemon ran its loop), records
    /// that its loop resumed from camping at `now`, coming from the last persisted state.
    fn record_resumed(&self, name: &str, now: Duration) {
        let last = match self.store.list_offload_transitions(name, 1) {
            Ok(mut listed) => listed.pop(),
            Err(error) => {
                tracing::warn!(graph = %name, %error, "cannot read the offload transitions");
                return;
            }
        };
        let Some(last) = last else {
            return;
        };
        let to = match serde_json::to_value(OffloadState::Camping) {
            Ok(to) => to,
            Err(error) => {
                tracing::warn!(graph = %name, %error, "cannot encode the camping state");
                return;
            }
        };
        let record = OffloadTransitionRecord {
            graph: name.to_owned(),
            at_s: now.as_secs_f64(),
            from: last.record.to,
            to,
            reason: RESUMED_REASON.to_owned(),
        };
        match self.store.append_offload_transition(&record) {
            Ok(_) => tracing::info!(graph = %name, "offload loop resumed from camping"),
            Err(error) => {
                tracing::warn!(graph = %name, %error, "cannot persist an offload transition")
            }
        }
    }

    /// Graph `name`'s persisted transitions (the newest [`TRANSITION_LOG_LEN`], oldest first),
    /// or `None` (logged) when the store cannot give them.
    fn persisted_transitions(&self, name: &str) -> Option<Vec<Transition>> {
        let listed = match self
            .store
            .list_offload_transitions(name, TRANSITION_LOG_LEN)
        {
            Ok(listed) => listed,
            Err(error) => {
                tracing::warn!(graph = %name, %error, "cannot read the offload transitions");
                return None;
            }
        };
        match listed.into_iter().map(from_stored).collect() {
            Ok(transitions) => Some(transitions),
            Err(error) => {
                tracing::warn!(graph = %name, %error, "a stored offload transition is unreadable");
                None
            }
        }
    }

    /// Ends graph `name`'s offload loop (its machine stays for the status until deleted).
    pub(crate) fn stop_offload_loop(&self, name: &str) {
        if let Some(entry) = lock(&self.offload.entries).get(name) {
            if entry.stop.send(true).is_ok() {
                tracing::info!(graph = %name, "offload loop stopped");
            }
        }
    }

    /// Tells every offload loop to stop after its current round; their tasks, to wait for.
    pub(crate) fn stop_offload_loops(&self) -> Vec<JoinHandle<()>> {
        lock(&self.offload.entries)
            .drain()
            .map(|(_, entry)| {
                let _ = entry.stop.send(true);
                entry.task
            })
            .collect()
    }

    /// Ends graph `name`'s offload loop and forgets its machine.
    pub(crate) fn forget_offload_loop(&self, name: &str) {
        if let Some(entry) = lock(&self.offload.entries).remove(name) {
            let _ = entry.stop.send(true);
            tracing::info!(graph = %name, "offload loop removed");
        }
    }

    /// The offload loop of graph `name`, if it has (had) one; its transitions are the
    /// persisted ones (the machine's own log if the store cannot give them).
    pub fn offload_view(&self, name: &str) -> Option<OffloadView> {
        let mut view = self.memory_offload_view(name)?;
        if let Some(transitions) = self.persisted_transitions(name) {
            view.machine.transitions = transitions;
        }
        Some(view)
    }

    /// The offload loop of graph `name` as held in memory.
    fn memory_offload_view(&self, name: &str) -> Option<OffloadView> {
        let entries = lock(&self.offload.entries);
        let entry = entries.get(name)?;
        let active = !entry.task.is_finished() && !*entry.stop.borrow();
        let shared = lock(&entry.shared);
        Some(OffloadView {
            active,
            state_name: shared.machine.state().name(),
            period_ms: u64::try_from(shared.period.as_millis()).unwrap_or(u64::MAX),
            machine: shared.machine.status(),
            last_action_report: shared.last_action.clone(),
            telemetry_errors: shared.telemetry_errors,
            last_telemetry_error: shared.last_telemetry_error.clone(),
        })
    }

    /// `GET /v1/graphs/{name}/offload`: the loop of graph `name` (404 when the graph does not
    /// exist; `enabled: false` alone when it has no `offloadPolicy`); a loop that never ran
    /// shows a fresh machine, with the persisted transitions.
    pub async fn offload_status(&self, name: &str) -> Result<OffloadAnswer, EngineError> {
        let graph = {
            let _read = self.locks.read(name).await;
            self.stored_graph(name)?
        };
        let Some(policy) = graph.spec.offload_policy else {
            return Ok(OffloadAnswer {
                enabled: false,
                offload: None,
            });
        };
        if let Some(view) = self.offload_view(name) {
            return Ok(OffloadAnswer {
                enabled: true,
                offload: Some(view),
            });
        }
        let machine = OffloadMachine::new(name, policy)
            .map_err(|e| EngineError::invalid("hdaGraphIntent.offloadPolicy", e.to_string()))?;
        let mut status = machine.status();
        if let Some(transitions) = self.persisted_transitions(name) {
            status.transitions = transitions;
        }
        let view = OffloadView {
            active: false,
            state_name: machine.state().name(),
            period_ms: u64::try_from(period(&policy, self.telemetry.speed()).as_millis())
                .unwrap_or(u64::MAX),
            machine: status,
            last_action_report: None,
            telemetry_errors: 0,
            last_telemetry_error: None,
        };
        Ok(OffloadAnswer {
            enabled: true,
            offload: Some(view),
        })
    }

    /// One round of graph `name`'s offload loop (see the module documentation).
    pub async fn offload_round(&self, name: &str) -> Result<Round, EngineError> {
        let Some(graph) = self.store.get_graph(name)? else {
            return Ok(Round::Stop);
        };
        if graph.status != RUNNING || graph.spec.offload_policy.is_none() {
            return Ok(Round::Stop);
        }
        let Some(shared) = self.offload.shared(name) else {
            return Ok(Round::Stop);
        };
        let now = telemetry_now(self.telemetry.as_ref());
        let placement = self.store.get_placement(name)?;
        let clusters =
            inventory::clusters_with(&self.store, &self.usage.usage(&self.store, None)?)?;
        let spec = graph.spec;
        let observed = self
            .measure(name, move |source| {
                source.offload_observation(&spec, &placement, &clusters, now.as_secs_f64())
            })
            .await;
        let mut obs = match observed {
            Ok(obs) => obs,
            Err(e) => {
                tracing::warn!(graph = %name, error = %e, "offload observation failed");
                let mut shared = lock(&shared);
                shared.telemetry_errors += 1;
                shared.last_telemetry_error = Some(e.to_string());
                return Ok(Round::Continue);
            }
        };
        let (action, added) = {
            let mut shared = lock(&shared);
            let scaled = self.offload.scaled(name);
            obs.autoscaler_active |= scaled != shared.scale_seen;
            shared.scale_seen = scaled;
            tracing::debug!(graph = %name, delay_ms = obs.delay_ms, state = shared.machine.state().name(), "offload observation");
            let mark = LogMark::of(&shared.machine);
            let action = shared.machine.step(now, &obs);
            (action, mark.added(&shared.machine))
        };
        self.persist_transitions(name, &added);
        let Some(action) = action else {
            return Ok(Round::Continue);
        };
        let span = tracing::info_span!("offload_action", graph = %name, action = ?action);
        let report = self.offload_act(name, action, now).instrument(span).await;
        let done = telemetry_now(self.telemetry.as_ref()).max(now);
        match &report.outcome {
            ActionOutcome::Failed { error } => {
                tracing::warn!(graph = %name, %error, "offload action failed")
            }
            outcome => {
                tracing::info!(graph = %name, ?outcome, applied = ?report.applied, "offload action done")
            }
        }
        let added = {
            let mut shared = lock(&shared);
            let mark = LogMark::of(&shared.machine);
            shared.machine.finish(done, report.outcome.clone());
            shared.last_action = Some(report);
            mark.added(&shared.machine)
        };
        self.persist_transitions(name, &added);
        Ok(Round::Continue)
    }

    /// Asks the migration strategy for `action` and applies its moves; never fails (a failure
    /// is the report's outcome).
    async fn offload_act(&self, name: &str, action: Action, now: Duration) -> ActionReport {
        let mut report = ActionReport {
            at_s: now.as_secs_f64(),
            action,
            strategy: None,
            decision_id: None,
            applied: Vec::new(),
            rejected: Vec::new(),
            outcome: ActionOutcome::NoChange {
                reason: String::new(),
            },
        };
        report.outcome = match self.offload_call(name, action, now, &mut report).await {
            Ok(outcome) => outcome,
            Err(error) => ActionOutcome::Failed { error },
        };
        report
    }

    async fn offload_call(
        &self,
        name: &str,
        action: Action,
        now: Duration,
        report: &mut ActionReport,
    ) -> Result<ActionOutcome, String> {
        let _turn = self.admission.turn(name).await;
        let graph = self
            .store
            .get_graph(name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("graph `{name}` is gone"))?;
        let spec = &graph.spec;
        let entries = self.store.get_placement(name).map_err(|e| e.to_string())?;
        let snapshot = self.snapshot(name).await.map_err(|e| e.to_string())?;
        let clusters = &snapshot.clusters;
        let strategy = graph_strategy(spec, StrategyKind::MIGRATION);
        if strategy.is_none() && self.dispatcher.defaults().migration.is_none() {
            return Err(
                "no migration strategy: name one with hdaGraphIntent.migrationStrategy".into(),
            );
        }
        report.strategy = strategy.as_ref().map(ToString::to_string);
        let params = spec.parameters_json(StrategyKind::MIGRATION);
        let deployed: Vec<PlacementEntry> =
            entries.iter().filter(|e| e.replicas > 0).cloned().collect();
        let measured = {
            let (spec, deployed, clusters) = (spec.clone(), deployed.clone(), clusters.clone());
            let graph_name = name.to_owned();
            self.measure(name, move |source| {
                let base = migration_telemetry(source, &spec, &deployed, &clusters, now)?;
                source.migration_inputs(&graph_name, base)
            })
            .await
            .map_err(|e| format!("no migration inputs: {e}"))?
        };
        let extra = request_extra(action, measured.extra);
        let request = MigrationRequest {
            graph: plugin_graph(spec, &entries),
            clusters: RVec::from(clusters.clone()),
            current: PlacementEntry::to_plugin(&deployed),
            telemetry: measured.telemetry,
            extra: serde_json::Value::Object(extra.clone()).to_string().into(),
        };
        let inputs = json!({
            "action": action,
            "placement": deployed,
            "loads": request.telemetry.loads,
            "calls": request.telemetry.calls,
            "extra": extra,
            "params": serde_json::from_str::<serde_json::Value>(&params).unwrap_or_default(),
        });
        let made = self
            .dispatcher
            .migrate(strategy.as_ref(), &params, Arc::new(request))
            .await;
        if !made.record.strategy.is_empty() {
            report.strategy = Some(made.record.strategy.clone());
        }
        let record = record::complete(name, &made, Cause::OffloadLoop, inputs);
        record.log();
        let decision = match (&made.record.error, &made.decision) {
            (None, Some(decision)) => decision,
            (error, _) => {
                // No decision: it is recorded on its own.
                report.decision_id = Some(self.record(&record).map_err(|e| e.to_string())?);
                return Err(error
                    .clone()
                    .unwrap_or_else(|| "the strategy returned no decision".to_owned()));
            }
        };
        let moves: Vec<_> = decision.moves.iter().cloned().collect();
        let applied = apply_moves(spec, clusters, &entries, &moves);
        if applied.applied.is_empty() {
            report.decision_id = Some(self.record(&record).map_err(|e| e.to_string())?);
            report.rejected = applied.rejected.clone();
            let reason = applied
                .rejected
                .first()
                .cloned()
                .or_else(|| decision.reasons.iter().last().map(ToString::to_string))
                .unwrap_or_else(|| "the strategy proposed no move".into());
            return Ok(ActionOutcome::NoChange { reason });
        }
        report.applied = applied.applied.clone();
        report.rejected = applied.rejected.clone();
        let committed = self
            .commit_checked(
                name,
                spec,
                &snapshot,
                &applied.entries,
                Commit {
                    placement: Some(&applied.entries),
                    decisions: std::slice::from_ref(&record),
                    ..Commit::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        report.decision_id = committed.decision_ids.first().copied();
        Ok(ActionOutcome::Applied {
            moves: applied.applied.len(),
        })
    }
}

/// The host's own figures for a migration strategy (the base of
/// [`TelemetrySource::migration_inputs`]): loads with their users' delay, links between the
/// clusters, and the users' calls to each service (and each service's to its dependencies, at
/// the service's own rate).
fn migration_telemetry(
    source: &dyn TelemetrySource,
    spec: &GraphSpec,
    placement: &[PlacementEntry],
    clusters: &[Cluster],
    now: Duration,
) -> Result<Telemetry, TelemetryError> {
    let mut telemetry = source.loads_with_delay(spec, placement, clusters, now.as_secs_f64())?;
    telemetry.links = source.links(clusters);
    let rate = |service: &str| {
        telemetry
            .loads
            .iter()
            .find(|l| l.service.as_str() == service)
            .map_or(0.0, |l| l.current_rps)
    };
    let mut calls = Vec::new();
    for service in &spec.services {
        let rps = rate(&service.name);
        if rps <= 0.0 {
            continue;
        }
        calls.push(CallRate {
            from: user_delay::USERS.into(),
            to: service.name.as_str().into(),
            rps,
            mean_response_bytes: source.response_bytes(&service.name),
        });
        for dep in service
            .dependencies
            .required
            .iter()
            .chain(&service.dependencies.preferred)
        {
            calls.push(CallRate {
                from: service.name.as_str().into(),
                to: dep.as_str().into(),
                rps,
                mean_response_bytes: source.response_bytes(dep),
            });
        }
    }
    telemetry.calls = RVec::from(calls);
    Ok(telemetry)
}

/// `request.extra` of an action: the telemetry's members, then the action's (its
/// `requiredDecreaseMs` wins over a telemetry member of that name).
fn request_extra(
    action: Action,
    mut extra: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    if let Ok(serde_json::Value::Object(own)) =
        serde_json::from_str::<serde_json::Value>(&action.request_extra_json())
    {
        extra.extend(own);
    }
    extra
}

/// The runner: one round per trigger, until the trigger stops or the graph no longer needs it.
async fn run(engine: Weak<Engine>, name: String, mut trigger: Trigger) {
    while trigger.next().await {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        match engine.offload_round(&name).await {
            Ok(Round::Continue) => {}
            Ok(Round::Stop) => {
                tracing::info!(graph = %name, "offload loop ended");
                return;
            }
            Err(e) => tracing::warn!(graph = %name, error = %e, "offload round failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actions_extra_members_win_over_the_telemetrys() {
        let action = Action::Offload {
            required_decrease_ms: 12.5,
            measured_delay_ms: 87.5,
            target_delay_ms: 75.0,
        };
        let mut telemetry = serde_json::Map::new();
        telemetry.insert("meResourceScaling".into(), json!(0.5));
        telemetry.insert("requiredDecreaseMs".into(), json!(-1.0));
        let extra = request_extra(action, telemetry);
        assert_eq!(
            serde_json::Value::Object(extra),
            json!({"meResourceScaling": 0.5, "requiredDecreaseMs": 12.5})
        );
        let extra = request_extra(action, serde_json::Map::new());
        assert_eq!(
            serde_json::Value::Object(extra).to_string(),
            action.request_extra_json()
        );
    }
}
