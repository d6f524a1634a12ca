//! The per-graph offload control loop (GMA's state machine, research note §4): pure and
//! synchronous; the caller passes the time and an observation, and runs the action returned.
//!
//! ```text
//!            delay > offload threshold                 held for W
//!  Camping ───────────────────────────▶ OffloadAlarm ─────────────▶ Offloading ──finish──▶ Cooldown
//!     ▲  ╲   delay < unoffload threshold               held for W                             │
//!     │   ╲─────────────────────────▶ UnoffloadAlarm ─────────────▶ Unoffloading ─finish──▶   │
//!     │    any autoscaler acting (from Camping or an alarm)                                   │
//!     ├──────────────── WaitingForAutoscaler ◀─────────                                        │
//!     └───────────────────────────────────────────────────── cool-down over ◀────────────────┘
//! ```
//!
//! An alarm acts only when its condition held at every observation for the stability window W;
//! it clears as soon as one observation misses it, when an autoscaler starts acting, or when
//! observations stop for more than two query periods. After an action the machine waits for
//! [`OffloadMachine::finish`] (or a timeout), then cools down. Every transition is logged with
//! `tracing::info!` and kept in a bounded log for the graph's status. The target of an action is
//! the middle of the band, as in GMA: offload asks for `delay − target` less, unoffload allows
//! `target − delay` more. [`PromQueries`] holds the Prometheus/Istio queries of the research
//! note §5 for the telemetry source that will feed [`Observation`]s and strategy requests.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// How many transitions the machine keeps for its status (oldest dropped first).
pub const TRANSITION_LOG_LEN: usize = 256;

pub use crate::graphs::offload_policy::{OffloadPolicy, PolicyError};

/// Where the machine is. Times are seconds on the caller's clock.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum OffloadState {
    /// Watching the delay; no alarm.
    Camping,
    /// The delay has been above the offload threshold since `since_s`.
    #[serde(rename_all = "camelCase")]
    OffloadAlarm { since_s: f64 },
    /// The delay has been below the unoffload threshold since `since_s`.
    #[serde(rename_all = "camelCase")]
    UnoffloadAlarm { since_s: f64 },
    /// An offload was asked for at `since_s`; waiting for [`OffloadMachine::finish`].
    #[serde(rename_all = "camelCase")]
    Offloading { since_s: f64 },
    /// An unoffload was asked for at `since_s`; waiting for [`OffloadMachine::finish`].
    #[serde(rename_all = "camelCase")]
    Unoffloading { since_s: f64 },
    /// An autoscaler of the graph is acting (since `since_s`); nothing is decided meanwhile.
    #[serde(rename_all = "camelCase")]
    WaitingForAutoscaler { since_s: f64 },
    /// Resting after an action until `until_s`.
    #[serde(rename_all = "camelCase")]
    Cooldown { until_s: f64 },
}

impl OffloadState {
    /// A short camelCase name, as in the status.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Camping => "camping",
            Self::OffloadAlarm { .. } => "offloadAlarm",
            Self::UnoffloadAlarm { .. } => "unoffloadAlarm",
            Self::Offloading { .. } => "offloading",
            Self::Unoffloading { .. } => "unoffloading",
            Self::WaitingForAutoscaler { .. } => "waitingForAutoscaler",
            Self::Cooldown { .. } => "cooldown",
        }
    }
}

impl fmt::Display for OffloadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the host measured for one graph at one instant (the light refresh of camping and
/// alarms; the full refresh goes into the strategy request when acting).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct Observation {
    /// Mean user delay at the edge ingress over the last query window (ms); NaN when unknown
    /// (e.g. no traffic): unknown never raises or keeps an alarm. JSON has no NaN: an unknown
    /// delay is shown as `null`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub delay_ms: f64,
    /// Some autoscaler of the graph (any area) is changing replicas: desired ≠ current, or
    /// current changed since the previous observation.
    pub autoscaler_active: bool,
    /// Some service could still move to the edge (not all there, not all pinned).
    pub can_offload: bool,
    /// Some service runs at the edge now.
    pub can_unoffload: bool,
}

impl Default for Observation {
    fn default() -> Self {
        Self {
            delay_ms: f64::NAN,
            autoscaler_active: false,
            can_offload: true,
            can_unoffload: true,
        }
    }
}

impl Observation {
    /// An observation of `delay_ms`, no autoscaler acting, both directions possible.
    pub fn delay(delay_ms: f64) -> Self {
        Self {
            delay_ms,
            ..Self::default()
        }
    }
}

/// What the machine asks the host to do: call the graph's migration strategy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// Move services to the edge so that the delay falls by `required_decrease_ms`.
    #[serde(rename_all = "camelCase")]
    Offload {
        required_decrease_ms: f64,
        measured_delay_ms: f64,
        target_delay_ms: f64,
    },
    /// Move services back to the cloud, letting the delay rise by up to `allowed_increase_ms`.
    #[serde(rename_all = "camelCase")]
    Unoffload {
        allowed_increase_ms: f64,
        measured_delay_ms: f64,
        target_delay_ms: f64,
    },
}

impl Action {
    /// The signed change asked of the strategy: positive offloads, negative unoffloads.
    pub fn required_decrease_ms(&self) -> f64 {
        match *self {
            Action::Offload {
                required_decrease_ms,
                ..
            } => required_decrease_ms,
            Action::Unoffload {
                allowed_increase_ms,
                ..
            } => -allowed_increase_ms,
        }
    }

    /// The `request.extra` members for the migration strategy (sbmp-gma reads
    /// `requiredDecreaseMs`), as a JSON object.
    pub fn request_extra_json(&self) -> String {
        let v = self.required_decrease_ms();
        let v = if v.is_finite() { v } else { 0.0 };
        format!("{{\"requiredDecreaseMs\":{v}}}")
    }
}

/// How an action ended, reported by the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum ActionOutcome {
    /// The strategy's moves were applied.
    Applied { moves: usize },
    /// The strategy proposed nothing (or its plan was rejected), with why.
    NoChange { reason: String },
    /// The strategy or the actuation failed.
    Failed { error: String },
}

/// One logged transition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// When, in seconds on the caller's clock.
    pub at_s: f64,
    pub from: OffloadState,
    pub to: OffloadState,
    pub reason: String,
}

/// A serialisable snapshot for the graph's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OffloadStatus {
    pub state: OffloadState,
    pub policy: OffloadPolicy,
    pub last_observation: Option<(f64, Observation)>,
    pub last_action: Option<(f64, Action)>,
    pub last_outcome: Option<(f64, ActionOutcome)>,
    pub actions: u64,
    /// The most recent transitions, oldest first (at most [`TRANSITION_LOG_LEN`]).
    pub transitions: Vec<Transition>,
}

/// The offload state machine of one graph.
#[derive(Clone, Debug)]
pub struct OffloadMachine {
    graph: String,
    policy: OffloadPolicy,
    state: OffloadState,
    log: VecDeque<Transition>,
    /// Transitions made since the machine was created (the log keeps only the newest).
    logged: u64,
    last_observation: Option<(f64, Observation)>,
    last_action: Option<(f64, Action)>,
    last_outcome: Option<(f64, ActionOutcome)>,
    actions: u64,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl OffloadMachine {
    /// A machine in [`OffloadState::Camping`] for `graph` (used in logs).
    pub fn new(graph: impl Into<String>, policy: OffloadPolicy) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(Self {
            graph: graph.into(),
            policy,
            state: OffloadState::Camping,
            log: VecDeque::new(),
            logged: 0,
            last_observation: None,
            last_action: None,
            last_outcome: None,
            actions: 0,
        })
    }

    pub fn state(&self) -> OffloadState {
        self.state
    }

    pub fn policy(&self) -> &OffloadPolicy {
        &self.policy
    }

    /// How many transitions the machine has made since it was created.
    pub fn transitions_logged(&self) -> u64 {
        self.logged
    }

    /// The transitions made after the first `count` ([`Self::transitions_logged`] read
    /// earlier), oldest first; those already dropped from the bounded log are not returned.
    pub fn transitions_after(&self, count: u64) -> impl Iterator<Item = &Transition> {
        let new = usize::try_from(self.logged.saturating_sub(count)).unwrap_or(usize::MAX);
        self.log.iter().skip(self.log.len().saturating_sub(new))
    }

    /// The logged transitions, oldest first.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.log.iter()
    }

    /// Actions asked for since the machine was made.
    pub fn actions(&self) -> u64 {
        self.actions
    }

    pub fn status(&self) -> OffloadStatus {
        OffloadStatus {
            state: self.state,
            policy: self.policy,
            last_observation: self.last_observation,
            last_action: self.last_action,
            last_outcome: self.last_outcome.clone(),
            actions: self.actions,
            transitions: self.log.iter().cloned().collect(),
        }
    }

    /// Replaces the policy (e.g. the graph was updated). A running alarm restarts from
    /// Camping, since its thresholds may have changed; other states are kept.
    pub fn set_policy(&mut self, now: Duration, policy: OffloadPolicy) -> Result<(), PolicyError> {
        policy.validate()?;
        self.policy = policy;
        if matches!(
            self.state,
            OffloadState::OffloadAlarm { .. } | OffloadState::UnoffloadAlarm { .. }
        ) {
            self.go(
                secs(now),
                OffloadState::Camping,
                "offload policy changed".into(),
            );
        }
        Ok(())
    }

    fn go(&mut self, at_s: f64, to: OffloadState, reason: String) {
        let from = self.state;
        tracing::info!(
            graph = %self.graph,
            from = from.name(),
            to = to.name(),
            at_s,
            reason = %reason,
            "offload state transition"
        );
        if self.log.len() == TRANSITION_LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(Transition {
            at_s,
            from,
            to,
            reason,
        });
        self.logged += 1;
        self.state = to;
    }

    /// Feeds one observation at `now`; returns the action to run, if any. After an action
    /// the host calls the strategy, applies its moves and reports with [`Self::finish`].
    pub fn step(&mut self, now: Duration, obs: &Observation) -> Option<Action> {
        let t = secs(now);
        let gap = self
            .last_observation
            .map(|(prev, _)| t - prev)
            .filter(|g| *g > self.policy.max_gap_s());
        self.last_observation = Some((t, *obs));
        let p = self.policy;
        let d = obs.delay_ms;
        let known = d.is_finite();
        let high = known && d > p.offload_delay_ms && obs.can_offload;
        let low = known && d < p.unoffload_delay_ms && obs.can_unoffload;
        // A few chained transitions at most (e.g. cooldown over -> camping -> alarm).
        for _ in 0..4 {
            match self.state {
                OffloadState::Camping => {
                    if obs.autoscaler_active {
                        self.go(
                            t,
                            OffloadState::WaitingForAutoscaler { since_s: t },
                            "an autoscaler is acting".into(),
                        );
                        return None;
                    }
                    if high {
                        self.go(
                            t,
                            OffloadState::OffloadAlarm { since_s: t },
                            format!(
                                "delay {d:.1} ms above the offload threshold {} ms",
                                p.offload_delay_ms
                            ),
                        );
                    } else if low {
                        self.go(
                            t,
                            OffloadState::UnoffloadAlarm { since_s: t },
                            format!(
                                "delay {d:.1} ms below the unoffload threshold {} ms",
                                p.unoffload_delay_ms
                            ),
                        );
                    } else {
                        return None;
                    }
                }
                OffloadState::OffloadAlarm { since_s }
                | OffloadState::UnoffloadAlarm { since_s } => {
                    let offload = matches!(self.state, OffloadState::OffloadAlarm { .. });
                    let holds = if offload { high } else { low };
                    if obs.autoscaler_active {
                        self.go(
                            t,
                            OffloadState::WaitingForAutoscaler { since_s: t },
                            "an autoscaler is acting: alarm dropped".into(),
                        );
                        return None;
                    }
                    if !holds {
                        let why = if !known {
                            "no delay measurement: alarm cleared".to_owned()
                        } else {
                            format!("delay {d:.1} ms back in the band: alarm cleared")
                        };
                        self.go(t, OffloadState::Camping, why);
                        continue;
                    }
                    if let Some(g) = gap {
                        let restart = if offload {
                            OffloadState::OffloadAlarm { since_s: t }
                        } else {
                            OffloadState::UnoffloadAlarm { since_s: t }
                        };
                        self.go(
                            t,
                            restart,
                            format!("no observation for {g:.0} s: alarm restarted"),
                        );
                        return None;
                    }
                    if t - since_s + 1e-9 < p.stability_window_s {
                        return None;
                    }
                    let target = p.target_delay_ms();
                    let action = if offload {
                        let mut dec = d - target;
                        if let Some(cap) = p.max_decrease_ms {
                            dec = dec.min(cap);
                        }
                        Action::Offload {
                            required_decrease_ms: dec,
                            measured_delay_ms: d,
                            target_delay_ms: target,
                        }
                    } else {
                        let mut inc = target - d;
                        if let Some(cap) = p.max_increase_ms {
                            inc = inc.min(cap);
                        }
                        Action::Unoffload {
                            allowed_increase_ms: inc,
                            measured_delay_ms: d,
                            target_delay_ms: target,
                        }
                    };
                    let (to, why) = if offload {
                        (
                            OffloadState::Offloading { since_s: t },
                            format!(
                                "delay above {} ms for {:.0} s (W = {} s): offload, -{:.1} ms asked",
                                p.offload_delay_ms,
                                t - since_s,
                                p.stability_window_s,
                                action.required_decrease_ms()
                            ),
                        )
                    } else {
                        (
                            OffloadState::Unoffloading { since_s: t },
                            format!(
                                "delay below {} ms for {:.0} s (W = {} s): unoffload, +{:.1} ms allowed",
                                p.unoffload_delay_ms,
                                t - since_s,
                                p.stability_window_s,
                                -action.required_decrease_ms()
                            ),
                        )
                    };
                    self.go(t, to, why);
                    self.actions += 1;
                    self.last_action = Some((t, action));
                    return Some(action);
                }
                OffloadState::Offloading { since_s } | OffloadState::Unoffloading { since_s } => {
                    if t - since_s >= p.action_timeout_s {
                        self.go(
                            t,
                            OffloadState::Cooldown {
                                until_s: t + p.cooldown_s,
                            },
                            format!(
                                "no completion reported within {} s: cooling down",
                                p.action_timeout_s
                            ),
                        );
                    }
                    return None;
                }
                OffloadState::WaitingForAutoscaler { since_s } => {
                    if obs.autoscaler_active {
                        return None;
                    }
                    self.go(
                        t,
                        OffloadState::Camping,
                        format!("autoscalers settled after {:.0} s", t - since_s),
                    );
                }
                OffloadState::Cooldown { until_s } => {
                    if t + 1e-9 < until_s {
                        return None;
                    }
                    self.go(t, OffloadState::Camping, "cool-down over".into());
                }
            }
        }
        None
    }

    /// Reports how the last action ended; the machine cools down from `now`. Ignored (and
    /// logged at debug level) when no action is running.
    pub fn finish(&mut self, now: Duration, outcome: ActionOutcome) {
        let t = secs(now);
        if !matches!(
            self.state,
            OffloadState::Offloading { .. } | OffloadState::Unoffloading { .. }
        ) {
            tracing::debug!(graph = %self.graph, state = self.state.name(), "finish without a running action ignored");
            return;
        }
        let why = match &outcome {
            ActionOutcome::Applied { moves } => format!("{moves} moves applied"),
            ActionOutcome::NoChange { reason } => format!("no change: {reason}"),
            ActionOutcome::Failed { error } => format!("failed: {error}"),
        };
        self.last_outcome = Some((t, outcome));
        self.go(
            t,
            OffloadState::Cooldown {
                until_s: t + self.policy.cooldown_s,
            },
            why,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    fn machine() -> OffloadMachine {
        // Band 150..250 ms, W = 120 s, cool-down 120 s.
        OffloadMachine::new("g", OffloadPolicy::default()).unwrap()
    }

    /// Steps every 30 s from `from` to `to` (inclusive) with `obs`; returns the actions.
    fn run(m: &mut OffloadMachine, from: u64, to: u64, obs: Observation) -> Vec<(u64, Action)> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= to {
            if let Some(a) = m.step(s(t), &obs) {
                out.push((t, a));
            }
            t += 30;
        }
        out
    }

    #[test]
    fn an_alarm_shorter_than_w_does_not_act() {
        let mut m = machine();
        assert!(run(&mut m, 0, 90, Observation::delay(300.0)).is_empty());
        assert_eq!(m.state(), OffloadState::OffloadAlarm { since_s: 0.0 });
        assert!(m.step(s(120), &Observation::delay(200.0)).is_none());
        assert_eq!(m.state(), OffloadState::Camping);
        // A new alarm starts from scratch.
        assert!(run(&mut m, 150, 240, Observation::delay(300.0)).is_empty());
        assert_eq!(m.actions(), 0);
    }

    #[test]
    fn a_sustained_alarm_acts_exactly_once() {
        let mut m = machine();
        let acts = run(&mut m, 0, 690, Observation::delay(300.0));
        assert_eq!(acts.len(), 1, "{acts:?}");
        let (at, action) = acts[0];
        assert_eq!(at, 120);
        assert_eq!(
            action,
            Action::Offload {
                required_decrease_ms: 100.0,
                measured_delay_ms: 300.0,
                target_delay_ms: 200.0
            }
        );
        assert_eq!(action.request_extra_json(), r#"{"requiredDecreaseMs":100}"#);
        // Without a finish it stays offloading until the action timeout (600 s), then cools
        // down.
        assert_eq!(m.state(), OffloadState::Offloading { since_s: 120.0 });
        assert!(m.step(s(720), &Observation::delay(300.0)).is_none());
        assert_eq!(m.state(), OffloadState::Cooldown { until_s: 840.0 });
        let names: Vec<&str> = m.transitions().map(|t| t.to.name()).collect();
        assert_eq!(names, ["offloadAlarm", "offloading", "cooldown"]);
    }

    #[test]
    fn cooldown_is_respected() {
        let mut m = machine();
        let acts = run(&mut m, 0, 150, Observation::delay(300.0));
        assert_eq!(acts.len(), 1);
        m.finish(s(150), ActionOutcome::Applied { moves: 3 });
        assert_eq!(m.state(), OffloadState::Cooldown { until_s: 270.0 });
        // Still high: nothing until 270 (end of cool-down) + 120 (W).
        let acts = run(&mut m, 180, 360, Observation::delay(300.0));
        assert!(acts.is_empty(), "{acts:?}");
        let acts = run(&mut m, 390, 390, Observation::delay(300.0));
        assert_eq!(acts.len(), 1);
        assert_eq!(m.actions(), 2);
    }

    #[test]
    fn an_active_autoscaler_blocks_action() {
        let mut m = machine();
        let busy = Observation {
            autoscaler_active: true,
            ..Observation::delay(400.0)
        };
        assert!(run(&mut m, 0, 600, busy).is_empty());
        assert_eq!(
            m.state(),
            OffloadState::WaitingForAutoscaler { since_s: 0.0 }
        );
        // It settles at 630: the alarm needs a full W from there.
        assert!(run(&mut m, 630, 720, Observation::delay(400.0)).is_empty());
        assert_eq!(run(&mut m, 750, 750, Observation::delay(400.0)).len(), 1);
        // An autoscaler starting during an alarm drops it.
        let mut m = machine();
        assert!(run(&mut m, 0, 60, Observation::delay(400.0)).is_empty());
        assert!(m.step(s(90), &busy).is_none());
        assert!(run(&mut m, 120, 210, Observation::delay(400.0)).is_empty());
        assert_eq!(m.actions(), 0);
    }

    #[test]
    fn low_delay_unoffloads_towards_the_middle() {
        let mut m = machine();
        let acts = run(&mut m, 0, 120, Observation::delay(80.0));
        assert_eq!(
            acts,
            vec![(
                120,
                Action::Unoffload {
                    allowed_increase_ms: 120.0,
                    measured_delay_ms: 80.0,
                    target_delay_ms: 200.0
                }
            )]
        );
        assert_eq!(acts[0].1.required_decrease_ms(), -120.0);
        // Nothing at the edge: no unoffload alarm at all.
        let mut m = machine();
        let nothing_at_edge = Observation {
            can_unoffload: false,
            ..Observation::delay(80.0)
        };
        assert!(run(&mut m, 0, 600, nothing_at_edge).is_empty());
        assert_eq!(m.state(), OffloadState::Camping);
    }

    #[test]
    fn caps_gaps_unknown_delays_and_zero_window() {
        let policy = OffloadPolicy {
            max_decrease_ms: Some(30.0),
            stability_window_s: 0.0,
            ..OffloadPolicy::default()
        };
        let mut m = OffloadMachine::new("g", policy).unwrap();
        let a = m.step(s(0), &Observation::delay(500.0)).unwrap();
        assert_eq!(a.required_decrease_ms(), 30.0);

        let mut m = machine();
        assert!(run(&mut m, 0, 600, Observation::delay(f64::NAN)).is_empty());
        assert_eq!(m.state(), OffloadState::Camping);

        // A gap of more than two query periods restarts the alarm.
        let mut m = machine();
        assert!(m.step(s(0), &Observation::delay(300.0)).is_none());
        assert!(m.step(s(300), &Observation::delay(300.0)).is_none());
        assert_eq!(m.state(), OffloadState::OffloadAlarm { since_s: 300.0 });
        assert!(run(&mut m, 330, 390, Observation::delay(300.0)).is_empty());
        assert!(m.step(s(420), &Observation::delay(300.0)).is_some());
    }

    #[test]
    fn transitions_are_logged_and_bounded() {
        let mut m = machine();
        run(&mut m, 0, 120, Observation::delay(300.0));
        m.finish(s(130), ActionOutcome::NoChange { reason: "x".into() });
        let log: Vec<Transition> = m.transitions().cloned().collect();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].from, OffloadState::Camping);
        assert!(log[1].reason.contains("offload"), "{}", log[1].reason);
        assert_eq!(log[2].reason, "no change: x");
        assert_eq!(m.transitions_logged(), 3);
        // After a mark, exactly the later transitions, even when one repeats an earlier one.
        let mark = m.transitions_logged();
        assert_eq!(m.transitions_after(mark).count(), 0);
        assert_eq!(
            m.transitions_after(1).cloned().collect::<Vec<_>>(),
            log[1..]
        );
        let status = m.status();
        assert_eq!(status.actions, 1);
        assert!(status.last_outcome.is_some());
        for k in 0..400u64 {
            let d = if k % 2 == 0 { 300.0 } else { 200.0 };
            m.step(s(1000 + 30 * k), &Observation::delay(d));
        }
        assert_eq!(m.transitions().count(), TRANSITION_LOG_LEN);
        let made = m.transitions_logged();
        assert!(made > TRANSITION_LOG_LEN as u64, "{made}");
        // A mark older than the bounded log gives the whole log, never more.
        assert_eq!(m.transitions_after(0).count(), TRANSITION_LOG_LEN);
        assert_eq!(m.transitions_after(made - 2).count(), 2);
    }

    #[test]
    fn policy_is_camel_case_with_defaults_and_checked() {
        let p: OffloadPolicy =
            serde_json::from_str(r#"{"offloadDelayMs": 300, "stabilityWindowS": 60}"#).unwrap();
        assert_eq!(p.offload_delay_ms, 300.0);
        assert_eq!(p.unoffload_delay_ms, 150.0);
        assert_eq!(p.stability_window_s, 60.0);
        assert!(serde_json::from_str::<OffloadPolicy>(r#"{"offloadDelay": 1}"#).is_err());
        let bad = OffloadPolicy {
            unoffload_delay_ms: 300.0,
            ..OffloadPolicy::default()
        };
        let e = OffloadMachine::new("g", bad).unwrap_err();
        assert!(e.to_string().contains("unoffloadDelayMs"), "{e}");
        assert_eq!(OffloadPolicy::default().observe_every_s(), 30.0);
        let json = serde_json::to_string(&machine().status()).unwrap();
        assert!(json.contains(r#""state":{"state":"camping"}"#), "{json}");
    }
}
