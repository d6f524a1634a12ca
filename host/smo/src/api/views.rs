//! What the API answers with for graphs, clusters, offload loops, alerts and apply attempts:
//! the API's own types, with JSON Schemas, converted from the engine's and the store's views.
//!
//! The OpenAPI document's schemas are generated from these types ([`super::openapi`]), and the
//! handlers serialize exactly these types, so the document and the answers cannot drift. Every
//! conversion destructures the engine's view without `..`: a member added there fails to build
//! here until it is shown (and so documented) or dropped on purpose.

use super::wire::{ClusterRole, EnergyProfile, Location, Prices, Resources};
use crate::engine::alerts as engine_alerts;
use crate::engine::applier::phase::Phase as EnginePhase;
use crate::engine::clusters as engine_clusters;
use crate::engine::offload_loop as engine_offload;
use crate::engine::status as engine_status;
use crate::store;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use smo_core::decision::DecisionRecord;
use smo_core::offload::{Action, ActionOutcome, OffloadStatus};
use smo_core::placement::PlacementEntry;
use std::collections::BTreeMap;

/// Where a graph or service stands between desired and observed. pending: committed, not tried
/// yet; applying: the backend took it, replicas not all ready; ready: the backend runs exactly
/// the desired replicas, all ready; degraded: the last attempt failed and is retried, or the
/// backend drifted; failed: the last attempt failed in a way a retry will not mend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Pending,
    Applying,
    Ready,
    Degraded,
    Failed,
}

impl From<EnginePhase> for Phase {
    fn from(phase: EnginePhase) -> Self {
        match phase {
            EnginePhase::Pending => Self::Pending,
            EnginePhase::Applying => Self::Applying,
            EnginePhase::Ready => Self::Ready,
            EnginePhase::Degraded => Self::Degraded,
            EnginePhase::Failed => Self::Failed,
        }
    }
}

/// What the applier did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplyAction {
    /// Made the backend run the desired state.
    Apply,
    /// Removed everything of the graph from the backend (stop, delete).
    Withdraw,
    /// The operator deleted the graph without a withdrawal (`DELETE ...?force=true`).
    ForceDelete,
}

impl From<store::ApplyAction> for ApplyAction {
    fn from(action: store::ApplyAction) -> Self {
        match action {
            store::ApplyAction::Apply => Self::Apply,
            store::ApplyAction::Withdraw => Self::Withdraw,
            store::ApplyAction::ForceDelete => Self::ForceDelete,
        }
    }
}

/// One attempt of the applier (apply, withdraw, forced delete) and its outcome.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ApplyAttempt {
    pub id: i64,
    pub graph: String,
    /// The desired state's generation it tried to reach.
    pub generation: u64,
    pub action: ApplyAction,
    /// ms since the Unix epoch.
    pub started_at_ms: i64,
    pub duration_ms: f64,
    /// Whether the backend did it.
    pub ok: bool,
    /// Whether a retry may help, when it failed.
    pub retryable: bool,
    pub error: Option<String>,
}

impl From<store::ApplyAttempt> for ApplyAttempt {
    fn from(attempt: store::ApplyAttempt) -> Self {
        let store::ApplyAttempt {
            id,
            record:
                store::ApplyAttemptRecord {
                    graph,
                    generation,
                    action,
                    started_at_ms,
                    duration_ms,
                    ok,
                    retryable,
                    error,
                },
        } = attempt;
        Self {
            id,
            graph,
            generation,
            action: action.into(),
            started_at_ms,
            duration_ms,
            ok,
            retryable,
            error,
        }
    }
}

/// One line of `GET /v1/graphs`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GraphSummary {
    pub name: String,
    /// running, stopped or deleting.
    #[schemars(extend("enum" = ["running", "stopped", "deleting"]))]
    pub status: String,
    /// The graph's phase (see the graph's status).
    pub phase: Phase,
    pub services: Vec<String>,
    pub placement: Vec<PlacementEntry>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl From<engine_status::GraphSummary> for GraphSummary {
    fn from(summary: engine_status::GraphSummary) -> Self {
        let engine_status::GraphSummary {
            name,
            status,
            phase,
            services,
            placement,
            created_at_ms,
            updated_at_ms,
        } = summary;
        Self {
            name,
            status,
            phase: phase.into(),
            services,
            placement,
            created_at_ms,
            updated_at_ms,
        }
    }
}

/// `hdaGraph` fields worth showing.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DescriptorSummary {
    pub version: Option<String>,
    pub designer: Option<String>,
    pub description: Option<String>,
    /// How many services the descriptor has.
    pub services: usize,
    pub use_static_placement: bool,
}

/// A strategy in use for a graph.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ActiveStrategy {
    /// `plugin/strategy`.
    pub name: String,
    /// `graph` when the descriptor names it, `default` when the host's default is used.
    #[schemars(extend("enum" = ["graph", "default"]))]
    pub source: String,
    /// The version of the plugin that would decide now; `null` when it is not loaded.
    pub plugin_version: Option<String>,
    /// Why the plugin is not available, if it is not.
    pub unavailable: Option<String>,
    /// The JSON parameters the strategy receives.
    pub parameters: Value,
}

impl From<engine_status::ActiveStrategy> for ActiveStrategy {
    fn from(strategy: engine_status::ActiveStrategy) -> Self {
        let engine_status::ActiveStrategy {
            name,
            source,
            plugin_version,
            unavailable,
            parameters,
        } = strategy;
        Self {
            name,
            source: source.to_owned(),
            plugin_version,
            unavailable,
            parameters,
        }
    }
}

/// The strategies of each kind.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ActiveStrategies {
    pub placement: Option<ActiveStrategy>,
    pub scaling: Option<ActiveStrategy>,
    pub migration: Option<ActiveStrategy>,
}

/// The newest decision of each kind.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LastDecisions {
    pub placement: Option<DecisionRecord>,
    pub scaling: Option<DecisionRecord>,
    pub migration: Option<DecisionRecord>,
}

/// Replicas of a service on one cluster: desired, and ready as last observed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OnCluster {
    pub cluster: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Ready replicas the backend reports.
    pub ready: u32,
    /// The last error the backend reports for them (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub error: Option<String>,
}

/// An attempt of the applier that failed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ApplyError {
    pub message: String,
    /// When the attempt started (ms since the Unix epoch).
    pub at_ms: i64,
    pub action: ApplyAction,
    pub retryable: bool,
    pub generation: u64,
}

impl From<engine_status::ApplyErrorView> for ApplyError {
    fn from(error: engine_status::ApplyErrorView) -> Self {
        let engine_status::ApplyErrorView {
            message,
            at_ms,
            action,
            retryable,
            generation,
        } = error;
        Self {
            message,
            at_ms,
            action: action.into(),
            retryable,
            generation,
        }
    }
}

/// Where a graph stands between its desired state and what the backend runs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ApplyView {
    /// The generation of the desired state (grows with every commit, across graphs).
    pub generation: u64,
    /// The newest generation the backend took.
    pub applied_generation: Option<u64>,
    /// Attempts at the current generation.
    pub attempts: u32,
    pub last_attempt_at_ms: Option<i64>,
    pub last_error: Option<ApplyError>,
    /// When the backend was last observed (ms since the Unix epoch); `null`: not yet.
    pub observed_at_ms: Option<i64>,
    /// Why the backend could not be observed, if it could not.
    pub observe_error: Option<String>,
}

/// One service's state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceView {
    pub name: String,
    /// deployed: the backend reports ready replicas; deploying: replicas are desired, none
    /// ready yet; pending: a conditional service waiting for its alert; not_deployed: stopped
    /// graph or nothing desired.
    #[schemars(extend("enum" = ["deployed", "deploying", "pending", "not_deployed"]))]
    pub status: String,
    pub phase: Phase,
    /// Deployed on an alert (`trigger: event`) rather than with the graph.
    pub conditional: bool,
    /// Desired replicas in total.
    pub replicas: u32,
    /// Desired replicas in total (as `replicas`).
    pub desired: u32,
    /// Ready replicas in total, as last observed.
    pub observed: u32,
    /// The graph's last failed attempt, when this service is not in step.
    pub last_apply_error: Option<ApplyError>,
    /// Attempts at the graph's current generation.
    pub attempts: u32,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Per-replica demand.
    pub cpu: f64,
    pub memory_mib: f64,
    pub gpu: u32,
    pub clusters: Vec<OnCluster>,
}

/// The scaling loop of the graph.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LoopView {
    pub active: bool,
    pub period_ms: u64,
    /// Rounds skipped because the telemetry source could not measure the graph.
    pub telemetry_errors: u64,
    pub last_telemetry_error: Option<String>,
}

/// `GET /v1/graphs/{name}`: descriptor summary, status, placement, strategies, last decisions,
/// per-service status.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "GraphStatus")]
pub struct GraphView {
    pub name: String,
    /// running, stopped or deleting.
    #[schemars(extend("enum" = ["running", "stopped", "deleting"]))]
    pub status: String,
    /// The graph's services together.
    pub phase: Phase,
    /// The desired state's generation, the attempts to apply it and the last observation.
    pub apply: ApplyView,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub descriptor: DescriptorSummary,
    pub strategies: ActiveStrategies,
    pub placement: Vec<PlacementEntry>,
    pub services: Vec<ServiceView>,
    pub last_decisions: LastDecisions,
    /// The newest of the last decisions that failed or fell back, if any: why it failed.
    pub last_failure: Option<DecisionRecord>,
    pub scaling_loop: LoopView,
    /// The offload loop of a graph with an `offloadPolicy` (as `GET
    /// /v1/graphs/{name}/offload`); `null` without one.
    pub offload_loop: Option<OffloadLoop>,
}

impl From<engine_status::GraphView> for GraphView {
    fn from(view: engine_status::GraphView) -> Self {
        let engine_status::GraphView {
            name,
            status,
            phase,
            apply,
            created_at_ms,
            updated_at_ms,
            descriptor,
            strategies,
            placement,
            services,
            last_decisions,
            last_failure,
            scaling_loop,
            offload_loop,
        } = view;
        let engine_status::ApplyView {
            generation,
            applied_generation,
            attempts,
            last_attempt_at_ms,
            last_error,
            observed_at_ms,
            observe_error,
        } = apply;
        let engine_status::DescriptorSummary {
            version,
            designer,
            description,
            services: service_count,
            use_static_placement,
        } = descriptor;
        let engine_status::ActiveStrategies {
            placement: placement_strategy,
            scaling,
            migration,
        } = strategies;
        let engine_status::LastDecisions {
            placement: last_placement,
            scaling: last_scaling,
            migration: last_migration,
        } = last_decisions;
        let engine_status::LoopView {
            active,
            period_ms,
            telemetry_errors,
            last_telemetry_error,
        } = scaling_loop;
        Self {
            name,
            status,
            phase: phase.into(),
            apply: ApplyView {
                generation,
                applied_generation,
                attempts,
                last_attempt_at_ms,
                last_error: last_error.map(Into::into),
                observed_at_ms,
                observe_error,
            },
            created_at_ms,
            updated_at_ms,
            descriptor: DescriptorSummary {
                version,
                designer,
                description,
                services: service_count,
                use_static_placement,
            },
            strategies: ActiveStrategies {
                placement: placement_strategy.map(Into::into),
                scaling: scaling.map(Into::into),
                migration: migration.map(Into::into),
            },
            placement,
            services: services.into_iter().map(service_view).collect(),
            last_decisions: LastDecisions {
                placement: last_placement,
                scaling: last_scaling,
                migration: last_migration,
            },
            last_failure,
            scaling_loop: LoopView {
                active,
                period_ms,
                telemetry_errors,
                last_telemetry_error,
            },
            offload_loop: offload_loop.map(Into::into),
        }
    }
}

fn service_view(service: engine_status::ServiceView) -> ServiceView {
    let engine_status::ServiceView {
        name,
        status,
        phase,
        conditional,
        replicas,
        desired,
        observed,
        last_apply_error,
        attempts,
        min_replicas,
        max_replicas,
        cpu,
        memory_mib,
        gpu,
        clusters,
    } = service;
    ServiceView {
        name,
        status: status.to_owned(),
        phase: phase.into(),
        conditional,
        replicas,
        desired,
        observed,
        last_apply_error: last_apply_error.map(Into::into),
        attempts,
        min_replicas,
        max_replicas,
        cpu,
        memory_mib,
        gpu,
        clusters: clusters
            .into_iter()
            .map(|c| {
                let engine_status::OnCluster {
                    cluster,
                    replicas,
                    ready,
                    error,
                } = c;
                OnCluster {
                    cluster,
                    replicas,
                    ready,
                    error,
                }
            })
            .collect(),
    }
}

/// What the offload loop's last action did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    /// On the telemetry clock (s).
    pub at_s: f64,
    pub action: Action,
    /// The strategy that answered (after any fallback), or the one asked for.
    pub strategy: Option<String>,
    /// The decision's id in `GET /v1/decisions`.
    pub decision_id: Option<i64>,
    /// The moves applied, one line each.
    pub applied: Vec<String>,
    /// The moves rejected, with why.
    pub rejected: Vec<String>,
    pub outcome: ActionOutcome,
}

/// An offload loop: its state machine, policy, last observation, recent transitions and last
/// action.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OffloadLoop {
    /// Whether the loop runs now (a stopped graph keeps its last state).
    pub active: bool,
    /// The state's name.
    #[schemars(extend("enum" = [
        "camping", "offloadAlarm", "unoffloadAlarm", "offloading", "unoffloading",
        "waitingForAutoscaler", "cooldown"
    ]))]
    pub state_name: String,
    /// Wall-clock period of the observations (ms).
    pub period_ms: u64,
    #[serde(flatten)]
    pub machine: OffloadStatus,
    pub last_action_report: Option<ActionReport>,
    /// Observations that failed, and the last failure.
    pub telemetry_errors: u64,
    pub last_telemetry_error: Option<String>,
}

impl From<engine_offload::OffloadView> for OffloadLoop {
    fn from(view: engine_offload::OffloadView) -> Self {
        let engine_offload::OffloadView {
            active,
            state_name,
            period_ms,
            machine,
            last_action_report,
            telemetry_errors,
            last_telemetry_error,
        } = view;
        Self {
            active,
            state_name: state_name.to_owned(),
            period_ms,
            machine,
            last_action_report: last_action_report.map(|r| {
                let engine_offload::ActionReport {
                    at_s,
                    action,
                    strategy,
                    decision_id,
                    applied,
                    rejected,
                    outcome,
                } = r;
                ActionReport {
                    at_s,
                    action,
                    strategy,
                    decision_id,
                    applied,
                    rejected,
                    outcome,
                }
            }),
            telemetry_errors,
            last_telemetry_error,
        }
    }
}

/// `GET /v1/graphs/{name}/offload`: `enabled` (the graph has an `offloadPolicy`) and, when it
/// has, the members of its loop.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OffloadAnswer {
    pub enabled: bool,
    #[serde(flatten)]
    pub offload: Option<OffloadLoop>,
}

impl From<engine_offload::OffloadAnswer> for OffloadAnswer {
    fn from(answer: engine_offload::OffloadAnswer) -> Self {
        let engine_offload::OffloadAnswer { enabled, offload } = answer;
        Self {
            enabled,
            offload: offload.map(Into::into),
        }
    }
}

/// A cluster as the backend reports it: only a ready cluster receives new placements.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BackendReport {
    pub ready: bool,
    /// Why the cluster is not ready: the backend's reason, or that the backend does not report
    /// the cluster, or could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub reason: Option<String>,
    /// What workloads may use of the cluster, when the backend reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Resources")]
    pub allocatable: Option<Resources>,
    /// What every workload (not only smo's) uses of it now, when the backend reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Resources")]
    pub allocated: Option<Resources>,
}

/// A cluster: capacity, what running graphs use, what is left, energy profile, prices.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "Cluster")]
pub struct ClusterView {
    pub name: String,
    pub role: ClusterRole,
    pub location: Location,
    pub capacity: Resources,
    /// Capacity minus what running graphs use (never negative).
    pub available: Resources,
    /// What running graphs use: replicas x per-replica demand.
    pub used: Resources,
    pub energy: EnergyProfile,
    pub prices: Prices,
    pub labels: BTreeMap<String, String>,
    /// The response-time objective strategies see (`slo_ms` in the cluster's `extra`); absent
    /// when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "f64")]
    pub slo_ms: Option<f64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// What the backend (`[backend] kind`) reports of the cluster now.
    pub backend: BackendReport,
}

impl From<engine_clusters::ClusterView> for ClusterView {
    fn from(view: engine_clusters::ClusterView) -> Self {
        let engine_clusters::ClusterView {
            name,
            role,
            location,
            capacity,
            available,
            used,
            energy,
            prices,
            labels,
            slo_ms,
            created_at_ms,
            updated_at_ms,
            backend,
        } = view;
        let engine_clusters::BackendReport {
            ready,
            reason,
            allocatable,
            allocated,
        } = backend;
        Self {
            name,
            role: role.into(),
            location: location.into(),
            capacity: capacity.into(),
            available: available.into(),
            used: used.into(),
            energy: energy.into(),
            prices: prices.into(),
            labels,
            slo_ms,
            created_at_ms,
            updated_at_ms,
            backend: BackendReport {
                ready,
                reason,
                allocatable: allocatable.map(Into::into),
                allocated: allocated.map(Into::into),
            },
        }
    }
}

/// What happened to one alert.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AlertOutcome {
    /// `labels.service` (empty when the alert had none).
    pub service: String,
    pub graph: Option<String>,
    pub cluster: Option<String>,
    #[schemars(extend("enum" = ["deployed", "ignored"]))]
    pub action: String,
    pub reason: String,
}

impl From<engine_alerts::AlertOutcome> for AlertOutcome {
    fn from(outcome: engine_alerts::AlertOutcome) -> Self {
        let engine_alerts::AlertOutcome {
            service,
            graph,
            cluster,
            action,
            reason,
        } = outcome;
        Self {
            service,
            graph,
            cluster,
            action: action.to_owned(),
            reason,
        }
    }
}
