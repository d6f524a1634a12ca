//! From a strategy name and a request to a decision record: resolve the plugin, call it
//! through the guard, and fall back to the default strategy when it fails, saying why.

use super::error::CallError;
use super::guard::{CallGuard, GuardConfig};
use super::names::StrategyName;
use super::registry::{Instance, Registry};
use smo_core::clock::now_ms;
use smo_core::decision::{Decided, DecisionKind as Kind, DecisionRecord, Outcome, Reasons};
use smo_plugin_api::{
    MigrationDecision, MigrationRequest, PlacementDecision, PlacementRequest, PluginError,
    ScalingDecision, ScalingRequest,
};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The strategies used when a graph names none, or when its own fails.
#[derive(Debug, Clone)]
pub struct DefaultStrategies {
    pub placement: StrategyName,
    pub scaling: StrategyName,
    pub migration: Option<StrategyName>,
}

impl Default for DefaultStrategies {
    fn default() -> Self {
        Self {
            placement: StrategyName {
                plugin: "default-lp".into(),
                strategy: "placement".into(),
            },
            scaling: StrategyName {
                plugin: "default-lp".into(),
                strategy: "scaling".into(),
            },
            migration: None,
        }
    }
}

type Invoke<R, T> = fn(&Instance, &R) -> Result<T, PluginError>;

fn wrong_kind() -> PluginError {
    PluginError::internal("strategy object of the wrong kind")
}

fn invoke_place(i: &Instance, r: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
    match i {
        Instance::Placement(s) => s.place(r).into_result().and_then(|d| placed_within(r, d)),
        _ => Err(wrong_kind()),
    }
}
fn invoke_replace(i: &Instance, r: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
    match i {
        Instance::Placement(s) => s.replace(r).into_result().and_then(|d| placed_within(r, d)),
        _ => Err(wrong_kind()),
    }
}
fn invoke_scale(i: &Instance, r: &ScalingRequest) -> Result<ScalingDecision, PluginError> {
    match i {
        Instance::Scaling(s) => s.scale(r).into_result(),
        _ => Err(wrong_kind()),
    }
}
fn invoke_plan(i: &Instance, r: &MigrationRequest) -> Result<MigrationDecision, PluginError> {
    match i {
        Instance::Migration(s) => s.plan(r).into_result().and_then(|d| moved_within(r, d)),
        _ => Err(wrong_kind()),
    }
}

/// A placement that names a service its graph lacks, or a placement or move naming a cluster
/// the request did not offer, is a malfunction of the strategy (an internal error: counted, and
/// the default decides).
fn outside(what: &str, name: &str) -> PluginError {
    PluginError::internal(format!(
        "the decision names {what} `{name}`, which the request does not have"
    ))
}

fn has_service(graph: &smo_plugin_api::Graph, name: &str) -> bool {
    graph.services.iter().any(|s| s.name.as_str() == name)
}

fn has_cluster(clusters: &[smo_plugin_api::Cluster], name: &str) -> bool {
    clusters.iter().any(|c| c.name.as_str() == name)
}

fn placed_within(
    request: &PlacementRequest,
    decision: PlacementDecision,
) -> Result<PlacementDecision, PluginError> {
    for assignment in decision.placement.assignments.iter() {
        if !has_service(&request.graph, &assignment.service) {
            return Err(outside("service", &assignment.service));
        }
        if !has_cluster(&request.clusters, &assignment.cluster) {
            return Err(outside("cluster", &assignment.cluster));
        }
    }
    Ok(decision)
}

fn moved_within(
    request: &MigrationRequest,
    decision: MigrationDecision,
) -> Result<MigrationDecision, PluginError> {
    // Services are not checked: an ecosystem request names its workloads in `extra`.
    for step in decision.moves.iter() {
        for cluster in [&step.from, &step.to] {
            if !cluster.is_empty() && !has_cluster(&request.clusters, cluster) {
                return Err(outside("cluster", cluster));
            }
        }
    }
    Ok(decision)
}

/// Calls strategies by name on behalf of graphs.
pub struct Dispatcher {
    registry: Arc<Registry>,
    /// Swapped whole by a configuration reload; each call loads the current one.
    guard: arc_swap::ArcSwap<CallGuard>,
    defaults: arc_swap::ArcSwap<DefaultStrategies>,
}

impl Dispatcher {
    pub fn new(registry: Arc<Registry>, guard: CallGuard, defaults: DefaultStrategies) -> Self {
        Self {
            registry,
            guard: arc_swap::ArcSwap::from_pointee(guard),
            defaults: arc_swap::ArcSwap::from_pointee(defaults),
        }
    }

    /// Replaces the call limits (a configuration reload); calls in flight keep theirs.
    pub fn set_guard(&self, config: GuardConfig) {
        self.guard.store(Arc::new(CallGuard::new(config)));
    }

    /// Replaces the default strategies (a configuration reload).
    pub fn set_defaults(&self, defaults: DefaultStrategies) {
        self.defaults.store(Arc::new(defaults));
    }

    /// The call limits in force.
    pub fn guard_config(&self) -> GuardConfig {
        self.guard.load().config().clone()
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn defaults(&self) -> Arc<DefaultStrategies> {
        self.defaults.load_full()
    }

    /// Initial placement (or re-placement when `request.current` is set and `replace`).
    pub async fn place(
        &self,
        strategy: Option<&StrategyName>,
        params: &str,
        request: Arc<PlacementRequest>,
    ) -> Decided<PlacementDecision> {
        let invoke: Invoke<_, _> = if request.current.is_some() {
            invoke_replace
        } else {
            invoke_place
        };
        let default = self.defaults.load().placement.clone();
        self.decide(
            Kind::Placement,
            strategy,
            Some(&default),
            params,
            request,
            invoke,
        )
        .await
    }

    pub async fn scale(
        &self,
        strategy: Option<&StrategyName>,
        params: &str,
        request: Arc<ScalingRequest>,
    ) -> Decided<ScalingDecision> {
        let default = self.defaults.load().scaling.clone();
        self.decide(
            Kind::Scaling,
            strategy,
            Some(&default),
            params,
            request,
            invoke_scale,
        )
        .await
    }

    pub async fn migrate(
        &self,
        strategy: Option<&StrategyName>,
        params: &str,
        request: Arc<MigrationRequest>,
    ) -> Decided<MigrationDecision> {
        let default = self.defaults.load().migration.clone();
        self.decide(
            Kind::Migration,
            strategy,
            default.as_ref(),
            params,
            request,
            invoke_plan,
        )
        .await
    }

    /// Calls exactly `name` (no fallback): for comparisons such as `smo simulate`, where a
    /// failing strategy must show as failing. Returns the decision and the plugin version.
    pub async fn place_exact(
        &self,
        name: &StrategyName,
        params: &str,
        request: Arc<PlacementRequest>,
    ) -> Result<(PlacementDecision, String), CallError> {
        let invoke: Invoke<_, _> = if request.current.is_some() {
            invoke_replace
        } else {
            invoke_place
        };
        self.call(Kind::Placement, name, params, request, invoke)
            .await
    }

    /// [`Dispatcher::place_exact`] for scaling.
    pub async fn scale_exact(
        &self,
        name: &StrategyName,
        params: &str,
        request: Arc<ScalingRequest>,
    ) -> Result<(ScalingDecision, String), CallError> {
        self.call(Kind::Scaling, name, params, request, invoke_scale)
            .await
    }

    /// [`Dispatcher::place_exact`] for migration.
    pub async fn migrate_exact(
        &self,
        name: &StrategyName,
        params: &str,
        request: Arc<MigrationRequest>,
    ) -> Result<(MigrationDecision, String), CallError> {
        self.call(Kind::Migration, name, params, request, invoke_plan)
            .await
    }

    async fn decide<R, T>(
        &self,
        kind: Kind,
        requested: Option<&StrategyName>,
        default: Option<&StrategyName>,
        params: &str,
        request: Arc<R>,
        invoke: Invoke<R, T>,
    ) -> Decided<T>
    where
        R: Send + Sync + 'static,
        T: Reasons + Send + 'static,
    {
        let span = tracing::info_span!(
            "decide",
            kind = kind.as_str(),
            strategy = ?requested.or(default).map(|s| s.to_string())
        );
        self.decide_inner(kind, requested, default, params, request, invoke)
            .instrument(span)
            .await
    }

    async fn decide_inner<R, T>(
        &self,
        kind: Kind,
        requested: Option<&StrategyName>,
        default: Option<&StrategyName>,
        params: &str,
        request: Arc<R>,
        invoke: Invoke<R, T>,
    ) -> Decided<T>
    where
        R: Send + Sync + 'static,
        T: Reasons + Send + 'static,
    {
        let started = Instant::now();
        let primary = requested.or(default);
        let mut record = DecisionRecord::new(kind, now_ms());
        record.requested = Some(primary.map_or_else(|| "none".to_string(), |s| s.to_string()));
        let Some(primary) = primary else {
            record.error = Some(format!("no {} strategy configured", kind.as_str()));
            record.outcome = Outcome::Error;
            return Decided {
                record,
                decision: None,
            };
        };
        let mut outcome = self
            .call(kind, primary, params, Arc::clone(&request), invoke)
            .await;
        record.strategy = primary.to_string();
        if let (Err(error), Some(fallback)) = (&outcome, default) {
            if fallback != primary {
                let reason = format!("{error}; fell back to {fallback}");
                tracing::warn!(%reason, "strategy fallback");
                record.fallback_reason = Some(reason);
                record.strategy = fallback.to_string();
                outcome = self.call(kind, fallback, "{}", request, invoke).await;
            }
        }
        let decision = match outcome {
            Ok((decision, version)) => {
                record.plugin_version = Some(version);
                record.reasons = decision.reasons();
                if record.fallback_reason.is_some() {
                    record.outcome = Outcome::Fallback;
                }
                Some(decision)
            }
            Err(error) => {
                record.error = Some(error.to_string());
                record.outcome = Outcome::Error;
                None
            }
        };
        record.duration_ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(strategy = %record.strategy, ok = record.error.is_none(), duration_ms = record.duration_ms, "decision made");
        Decided { record, decision }
    }

    async fn call<R, T>(
        &self,
        kind: Kind,
        name: &StrategyName,
        params: &str,
        request: Arc<R>,
        invoke: Invoke<R, T>,
    ) -> Result<(T, String), CallError>
    where
        R: Send + Sync + 'static,
        T: Send + 'static,
    {
        let unavailable = |message: String| CallError::Unavailable {
            strategy: name.to_string(),
            message,
        };
        let entry = self
            .registry
            .entry(&name.plugin)
            .map_err(|e| unavailable(e.to_string()))?;
        if !entry.offers(kind.as_str(), &name.strategy) {
            let offered: Vec<String> = entry
                .info
                .strategies
                .iter()
                .filter(|s| s.kind == kind.as_str())
                .map(|s| s.name.clone())
                .collect();
            return Err(unavailable(format!(
                "plugin `{}` offers no {} strategy `{}` (it offers: {})",
                name.plugin,
                kind.as_str(),
                name.strategy,
                if offered.is_empty() {
                    "none".to_string()
                } else {
                    offered.join(", ")
                }
            )));
        }
        let version = entry.info.version.clone();
        let strategy = name.strategy.clone();
        let params = params.to_string();
        let code = kind.code();
        self.guard
            .load_full()
            .run(&entry, &name.strategy, move |e| {
                let instance = e.instance(code, &strategy, &params)?;
                invoke(&instance, &request)
            })
            .await
            .map(|decision| (decision, version))
    }
}
