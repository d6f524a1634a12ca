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
#[serde(rename_all = "camelCase", default)]
pub struct Observation {
    /// Mean user delay at the edge ingress over the last query window (ms); NaN when unknown
    /// (e.g. no traffic): unknown never raises or keeps an alarm.
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

/// The Prometheus/Istio queries of the research note §5, for one application and one
/// cloud–edge pair. Only `response_code="200"` traffic counts; rates use `[window]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromQueries {
    /// Application namespace.
    pub namespace: String,
    /// Service names (the Istio `app` label: `destination_app` / `source_app`).
    pub services: Vec<String>,
    /// Value of the `cluster` label of each area (may be empty).
    pub cloud_cluster: String,
    pub edge_cluster: String,
    /// The edge ingress gateway: its `app` label and namespace.
    pub ingress_app: String,
    pub ingress_namespace: String,
    /// Regex on pod IPs identifying the edge area (the `instance` filter of the user rate).
    pub edge_pod_cidr_regex: String,
    /// Pod-name regexes of each service's workloads (`<workload>-.*`), all areas.
    pub pod_regexes: Vec<String>,
    /// The range window, seconds (the policy's `queryPeriodS`).
    pub window_s: u64,
}

/// Escapes regex metacharacters of a label value used inside `=~"..."`.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        } else if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` (a regex as configured) inside a double-quoted PromQL string: `\` and `"` escaped, so
/// that `^10\.244\..*` reaches Prometheus as that regex.
fn promql_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl PromQueries {
    fn w(&self) -> String {
        format!("{}s", self.window_s.max(1))
    }

    fn services_re(&self) -> String {
        self.services
            .iter()
            .map(|s| regex_escape(s))
            .collect::<Vec<_>>()
            .join("|")
    }

    fn both_clusters_re(&self) -> String {
        format!(
            "{}|{}",
            regex_escape(&self.cloud_cluster),
            regex_escape(&self.edge_cluster)
        )
    }

    /// Edge ingress → services, as seen by the ingress (reporter="source").
    fn ingress_selector(&self, with_edge_filters: bool) -> String {
        let edge = if with_edge_filters {
            format!(
                "cluster=\"{}\",instance=~\"{}\",",
                self.edge_cluster,
                promql_string(&self.edge_pod_cidr_regex)
            )
        } else {
            String::new()
        };
        format!(
            "{edge}namespace=\"{}\",source_app=\"{}\",destination_app=~\"{}\",reporter=\"source\",response_code=\"200\"",
            self.ingress_namespace,
            self.ingress_app,
            self.services_re()
        )
    }

    /// Mean user delay at the edge ingress (ms): duration sum rate / count rate.
    pub fn user_delay_avg(&self) -> String {
        let sel = format!(
            "cluster=\"{}\",namespace=\"{}\",source_app=\"{}\",destination_app=~\"{}\",reporter=\"source\",response_code=\"200\"",
            self.edge_cluster,
            self.ingress_namespace,
            self.ingress_app,
            self.services_re()
        );
        format!(
            "sum by (source_app) (rate(istio_request_duration_milliseconds_sum{{{sel}}}[{w}])) / sum by (source_app) (rate(istio_request_duration_milliseconds_count{{{sel}}}[{w}]))",
            w = self.w()
        )
    }

    /// The two queries of the quantile user delay: the `q`-quantile per destination, and the
    /// per-destination request rate (the `le="+Inf"` bucket) used to weight their average.
    pub fn user_delay_quantile(&self, q: f64) -> (String, String) {
        let sel = format!(
            "cluster=\"{}\",namespace=\"{}\",source_app=\"{}\",destination_app=~\"{}\",reporter=\"source\",response_code=\"200\"",
            self.edge_cluster,
            self.ingress_namespace,
            self.ingress_app,
            self.services_re()
        );
        (
            format!(
                "histogram_quantile({q}, sum by (destination_app, le) (rate(istio_request_duration_milliseconds_bucket{{{sel}}}[{w}])))",
                w = self.w()
            ),
            format!(
                "sum by (destination_app) (rate(istio_request_duration_milliseconds_bucket{{{sel},le=\"+Inf\"}}[{w}]))",
                w = self.w()
            ),
        )
    }

    /// λ: user requests per second entering at this edge.
    pub fn user_rate(&self) -> String {
        format!(
            "sum by (source_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.ingress_selector(true),
            self.w()
        )
    }

    /// λ over all edges (the multi-edge resource scaling is `user_rate / user_rate_all_edges`).
    pub fn user_rate_all_edges(&self) -> String {
        format!(
            "sum by (source_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.ingress_selector(false),
            self.w()
        )
    }

    fn app_selector(&self, sources: bool) -> String {
        let src = if sources {
            format!(
                "source_app=~\"{}|{}\",",
                regex_escape(&self.ingress_app),
                self.services_re()
            )
        } else {
            String::new()
        };
        format!(
            "cluster=~\"{}\",namespace=\"{}\",{src}reporter=\"destination\",response_code=\"200\"",
            self.both_clusters_re(),
            self.namespace
        )
    }

    /// Mean response size per service (bytes): increase of the byte sum / of the count.
    pub fn response_bytes(&self) -> String {
        let sel = self.app_selector(false);
        format!(
            "sum by (destination_app) (increase(istio_response_bytes_sum{{{sel}}}[{w}])) / sum by (destination_app) (increase(istio_response_bytes_count{{{sel}}}[{w}]))",
            w = self.w()
        )
    }

    /// Requests per second received by each service.
    pub fn service_rates(&self) -> String {
        format!(
            "sum by (destination_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.app_selector(true),
            self.w()
        )
    }

    /// Calls per second between each pair (`Fm[i][j] = rate(i→j) / rate into i`; the ingress
    /// row divides by λ).
    pub fn call_rates(&self) -> String {
        format!(
            "sum by (source_app, destination_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.app_selector(true),
            self.w()
        )
    }

    fn pod_selector(&self, cluster: &str) -> String {
        format!(
            "cluster=\"{cluster}\",namespace=\"{}\",pod=~\"{}\",container!=\"istio-proxy\",container!=\"\"",
            self.namespace,
            promql_string(&self.pod_regexes.join("|"))
        )
    }

    /// CPU cores used per pod in the cloud (`edge == false`) or edge area; the host sums the
    /// pods matching each service's regex.
    pub fn cpu_usage(&self, edge: bool) -> String {
        let cluster = if edge {
            &self.edge_cluster
        } else {
            &self.cloud_cluster
        };
        format!(
            "sum by (pod) (rate(container_cpu_usage_seconds_total{{{}}}[{}]))",
            self.pod_selector(cluster),
            self.w()
        )
    }

    /// Memory bytes used per pod in an area (instant).
    pub fn memory_usage(&self, edge: bool) -> String {
        let cluster = if edge {
            &self.edge_cluster
        } else {
            &self.cloud_cluster
        };
        format!(
            "sum by (pod) (container_memory_usage_bytes{{{}}})",
            self.pod_selector(cluster)
        )
    }
}

/// Where observations come from: the simulated continuum, Prometheus/Istio (with
/// [`PromQueries`]) and the Kubernetes autoscaling API later.
pub trait OffloadTelemetry {
    /// The light observation of one graph at `now`.
    fn observe(&mut self, graph: &str, now: Duration) -> Result<Observation, TelemetryError>;

    /// What the migration strategy of an action on `graph` is given: `base` (the host's own
    /// telemetry: simulated loads, calls from the descriptor's dependencies, links from the
    /// clusters' coordinates) with what this source measures put in its place, and members to
    /// add to `request.extra`. The default changes nothing. An error fails the action: the
    /// strategy is not asked on inputs the source could not measure.
    fn migration_inputs(
        &mut self,
        graph: &str,
        base: smo_plugin_api::Telemetry,
    ) -> Result<MigrationInputs, TelemetryError> {
        let _ = graph;
        Ok(MigrationInputs::from(base))
    }
}

/// The telemetry side of an offload action's `MigrationRequest`
/// ([`OffloadTelemetry::migration_inputs`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MigrationInputs {
    /// `request.telemetry`.
    pub telemetry: smo_plugin_api::Telemetry,
    /// Members added to `request.extra` (next to the action's `requiredDecreaseMs`), e.g. the
    /// measured `usage` and `meResourceScaling` that `sbmp-gma/offload` reads.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl From<smo_plugin_api::Telemetry> for MigrationInputs {
    fn from(telemetry: smo_plugin_api::Telemetry) -> Self {
        Self {
            telemetry,
            extra: serde_json::Map::new(),
        }
    }
}

/// A telemetry source could not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("offload telemetry for graph `{graph}`: {message}")]
pub struct TelemetryError {
    pub graph: String,
    pub message: String,
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

    #[test]
    fn prometheus_queries() {
        let q = PromQueries {
            namespace: "app".into(),
            services: vec!["s0".into(), "s1".into()],
            cloud_cluster: "cloud".into(),
            edge_cluster: "edge1".into(),
            ingress_app: "istio-ingress".into(),
            ingress_namespace: "istio-ingress".into(),
            edge_pod_cidr_regex: "^11.244.*".into(),
            pod_regexes: vec!["s0-.*".into(), "s1-.*".into()],
            window_s: 120,
        };
        let d = q.user_delay_avg();
        assert!(d.contains("istio_request_duration_milliseconds_sum{cluster=\"edge1\""));
        assert!(d.contains("destination_app=~\"s0|s1\""));
        assert!(d.contains("[120s]"));
        assert!(q.user_rate().contains("instance=~\"^11.244.*\""));
        // Configured regexes are escaped for the PromQL string they go in.
        let mut escaped = q.clone();
        escaped.edge_pod_cidr_regex = "^10\\.244\\..*".into();
        escaped.pod_regexes = vec!["web-\\w+".into()];
        assert!(escaped
            .user_rate()
            .contains(r#"instance=~"^10\\.244\\..*""#));
        assert!(escaped.cpu_usage(true).contains(r#"pod=~"web-\\w+""#));
        assert!(!q.user_rate_all_edges().contains("cluster="));
        assert!(q
            .call_rates()
            .contains("sum by (source_app, destination_app)"));
        assert!(q.call_rates().contains("cluster=~\"cloud|edge1\""));
        assert!(q
            .response_bytes()
            .contains("increase(istio_response_bytes_count"));
        assert!(q.cpu_usage(true).contains("container!=\"istio-proxy\""));
        assert!(q.memory_usage(false).contains("cluster=\"cloud\""));
        let (quant, weights) = q.user_delay_quantile(0.9);
        assert!(quant.starts_with("histogram_quantile(0.9, sum by (destination_app, le)"));
        assert!(weights.contains("le=\"+Inf\""));
        assert_eq!(regex_escape("a.b"), "a\\\\.b");
    }
}
