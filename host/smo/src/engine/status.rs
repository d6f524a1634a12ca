//! What `GET /v1/graphs[/{name}]` shows: the descriptor summary, status, placement, the active
//! strategies with their plugin versions, the last decision of each kind, and where the graph
//! and each service stand between desired and observed (phase, ready replicas, attempts).
//!
//! A service is `deployed` (the backend reports ready replicas of it), `deploying` (replicas
//! are desired, none is ready yet), `pending` (a conditional service waiting for its alert) or
//! `not_deployed` (its graph is stopped, or nothing is desired of it). Its `phase` is the
//! applier's ([`super::applier::phase`]).

use super::applier::phase::{Phase, PhaseInputs};
use super::applier::reconcile::effective_desired;
use super::applier::Observed;
use super::error::EngineError;
use super::inventory::RUNNING;
use super::lifecycle::Engine;
use super::offload_loop::OffloadView;
use super::placing::graph_strategy;
use crate::store::{ApplyAction, ApplySummary, DecisionKind, PlacementEntry, StoredGraph};
use serde::Serialize;
use serde_json::Value;
use smo_core::decision::DecisionRecord;
use smo_plugin_api::StrategyKind;
use smo_plugin_host::StrategyName;
use std::collections::HashMap;

/// `hdaGraph` fields worth showing.
#[derive(Debug, Clone, Serialize)]
pub struct DescriptorSummary {
    pub version: Option<String>,
    pub designer: Option<String>,
    pub description: Option<String>,
    pub services: usize,
    pub use_static_placement: bool,
}

/// A strategy in use for a graph.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveStrategy {
    /// `plugin/strategy`.
    pub name: String,
    /// `graph` when the descriptor names it, `default` when the host's default is used.
    pub source: &'static str,
    /// The version of the plugin that would decide now; `None` when it is not loaded.
    pub plugin_version: Option<String>,
    /// Why the plugin is not available, if it is not.
    pub unavailable: Option<String>,
    /// The JSON parameters the strategy receives.
    pub parameters: Value,
}

/// The strategies of each kind.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveStrategies {
    pub placement: Option<ActiveStrategy>,
    pub scaling: Option<ActiveStrategy>,
    pub migration: Option<ActiveStrategy>,
}

/// The newest decision of each kind.
#[derive(Debug, Clone, Serialize)]
pub struct LastDecisions {
    pub placement: Option<DecisionRecord>,
    pub scaling: Option<DecisionRecord>,
    pub migration: Option<DecisionRecord>,
}

/// Replicas of a service on one cluster: desired, and ready as last observed.
#[derive(Debug, Clone, Serialize)]
pub struct OnCluster {
    pub cluster: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Ready replicas the backend reports.
    pub ready: u32,
    /// The last error the backend reports for them (Karmada: the member cluster's message
    /// when it could not apply the work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An attempt of the applier that failed.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyErrorView {
    pub message: String,
    /// When the attempt started (ms since the Unix epoch).
    pub at_ms: i64,
    /// apply or withdraw.
    pub action: ApplyAction,
    pub retryable: bool,
    pub generation: u64,
}

/// Where a graph stands between its desired state and what the backend runs.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyView {
    /// The generation of the desired state (grows with every commit).
    pub generation: u64,
    /// The newest generation the backend took.
    pub applied_generation: Option<u64>,
    /// Attempts at the current generation.
    pub attempts: u32,
    pub last_attempt_at_ms: Option<i64>,
    pub last_error: Option<ApplyErrorView>,
    /// When the backend was last observed (ms since the Unix epoch); `None`: not yet.
    pub observed_at_ms: Option<i64>,
    /// Why the backend could not be observed, if it could not.
    pub observe_error: Option<String>,
}

/// One service's state.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub name: String,
    /// deployed, deploying, pending or not_deployed.
    pub status: &'static str,
    /// pending, applying, ready, degraded or failed.
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
    pub last_apply_error: Option<ApplyErrorView>,
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
#[derive(Debug, Clone, Serialize)]
pub struct LoopView {
    pub active: bool,
    pub period_ms: u64,
    /// Rounds skipped because the telemetry source could not measure the graph.
    pub telemetry_errors: u64,
    pub last_telemetry_error: Option<String>,
}

/// `GET /v1/graphs/{name}`.
#[derive(Debug, Clone, Serialize)]
pub struct GraphView {
    pub name: String,
    /// running, stopped or deleting.
    pub status: String,
    /// pending, applying, ready, degraded or failed: the graph's services together.
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
    /// The offload loop (state machine, recent transitions, last action) of a graph with an
    /// `offloadPolicy`; `None` without one.
    pub offload_loop: Option<OffloadView>,
}

/// One line of `GET /v1/graphs`.
#[derive(Debug, Clone, Serialize)]
pub struct GraphSummary {
    pub name: String,
    pub status: String,
    /// The graph's phase (see the graph's status).
    pub phase: Phase,
    pub services: Vec<String>,
    pub placement: Vec<PlacementEntry>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// What the phase and the views are computed from.
struct Standing {
    summary: ApplySummary,
    observed: Option<Observed>,
}

impl Standing {
    fn inputs(&self, generation: u64) -> PhaseInputs<'_> {
        PhaseInputs {
            generation,
            summary: &self.summary,
            observed: self.observed.as_ref().and_then(|o| o.observation.as_ref()),
        }
    }

    fn last_error(&self) -> Option<ApplyErrorView> {
        self.summary.last_error.as_ref().map(|a| ApplyErrorView {
            message: a.record.error.clone().unwrap_or_default(),
            at_ms: a.record.started_at_ms,
            action: a.record.action,
            retryable: a.record.retryable,
            generation: a.record.generation,
        })
    }

    fn view(&self, generation: u64) -> ApplyView {
        ApplyView {
            generation,
            applied_generation: self.summary.applied_generation,
            attempts: self.summary.attempts,
            last_attempt_at_ms: self.summary.last.as_ref().map(|a| a.record.started_at_ms),
            last_error: self.last_error(),
            observed_at_ms: self.observed.as_ref().map(|o| o.at_ms),
            observe_error: self.observed.as_ref().and_then(|o| o.error.clone()),
        }
    }
}

fn service_views(
    graph: &StoredGraph,
    placement: &[PlacementEntry],
    standing: &Standing,
) -> Vec<ServiceView> {
    let running = graph.status == RUNNING;
    let desired = effective_desired(graph, placement.to_vec());
    let inputs = standing.inputs(graph.generation);
    let observation = inputs.observed;
    graph
        .spec
        .services
        .iter()
        .map(|s| {
            let clusters: Vec<OnCluster> = placement
                .iter()
                .filter(|e| e.service == s.name)
                .map(|e| OnCluster {
                    cluster: e.cluster.clone(),
                    replicas: e.replicas,
                    ready: observation.map_or(0, |o| o.ready(&s.name, &e.cluster)),
                    error: observation.and_then(|o| o.error(&s.name, &e.cluster)),
                })
                .collect();
            let replicas = clusters.iter().map(|c| c.replicas).sum();
            let observed = observation.map_or(0, |o| {
                o.replicas
                    .iter()
                    .filter(|r| r.service == s.name)
                    .map(|r| r.ready)
                    .sum()
            });
            let phase = inputs.phase_of(&desired, |name| name == s.name);
            let status = if !running {
                "not_deployed"
            } else if observed > 0 {
                "deployed"
            } else if replicas > 0 {
                "deploying"
            } else if s.conditional {
                "pending"
            } else {
                "not_deployed"
            };
            ServiceView {
                name: s.name.clone(),
                status,
                phase,
                conditional: s.conditional,
                replicas,
                desired: replicas,
                observed,
                last_apply_error: matches!(phase, Phase::Degraded | Phase::Failed)
                    .then(|| standing.last_error())
                    .flatten(),
                attempts: standing.summary.attempts,
                min_replicas: s.scaling.min_replicas,
                max_replicas: s.scaling.max_replicas,
                cpu: s.demand.cpu,
                memory_mib: s.demand.memory_mib,
                gpu: s.demand.gpu,
                clusters,
            }
        })
        .collect()
}

impl Engine {
    fn active_strategy(
        &self,
        graph: &StoredGraph,
        kind: StrategyKind,
        default: Option<&StrategyName>,
    ) -> Option<ActiveStrategy> {
        let named = graph_strategy(&graph.spec, kind);
        let source = if named.is_some() { "graph" } else { "default" };
        let name = named.or_else(|| default.cloned())?;
        let (plugin_version, unavailable) = match self.dispatcher.registry().entry(&name.plugin) {
            Ok(entry) if entry.offers(kind.name(), &name.strategy) => (
                Some(entry.info.version.clone()),
                entry.stats.quarantined(&name.strategy).map(|reason| {
                    format!(
                        "`{name}` {} is quarantined: {reason} (the default strategy decides \
                         until a new version of the plugin is loaded or smo restarts)",
                        entry.info.version
                    )
                }),
            ),
            Ok(entry) => (
                None,
                Some(format!(
                    "plugin `{}` {} offers no {} strategy `{}`",
                    name.plugin,
                    entry.info.version,
                    kind.name(),
                    name.strategy
                )),
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        let parameters =
            serde_json::from_str(&graph.spec.parameters_json(kind)).unwrap_or(Value::Null);
        Some(ActiveStrategy {
            name: name.to_string(),
            source,
            plugin_version,
            unavailable,
            parameters,
        })
    }

    /// The status of graph `name`, read consistently (never half-way through a write).
    pub async fn status(&self, name: &str) -> Result<GraphView, EngineError> {
        // One read transaction: graph, placement, decisions and attempts from the same state.
        let (graph, placement, last, summary) = self
            .store
            .read(|reader| {
                let Some(graph) = reader.get_graph(name)? else {
                    return Ok(None);
                };
                let placement = reader.get_placement(name)?;
                let mut last = Vec::with_capacity(3);
                for kind in [
                    DecisionKind::Placement,
                    DecisionKind::Scaling,
                    DecisionKind::Migration,
                ] {
                    last.push(reader.last_decision(name, kind)?.map(|d| d.summary()));
                }
                let summary = reader.apply_summary(name, graph.generation)?;
                Ok(Some((graph, placement, last, summary)))
            })?
            .ok_or_else(|| EngineError::GraphNotFound(name.to_owned()))?;
        let standing = Standing {
            summary,
            observed: self.applier.observed(name),
        };
        let applied = standing.summary.applied_generation;
        let last: Vec<Option<DecisionRecord>> = last
            .into_iter()
            .map(|d| d.map(|d| d.with_applied(applied)))
            .collect();
        let phase = standing
            .inputs(graph.generation)
            .phase_of(&effective_desired(&graph, placement.clone()), |_| true);
        let defaults = self.dispatcher.defaults();
        let strategies = ActiveStrategies {
            placement: self.active_strategy(
                &graph,
                StrategyKind::PLACEMENT,
                Some(&defaults.placement),
            ),
            scaling: self.active_strategy(&graph, StrategyKind::SCALING, Some(&defaults.scaling)),
            migration: self.active_strategy(
                &graph,
                StrategyKind::MIGRATION,
                defaults.migration.as_ref(),
            ),
        };
        let mut last = last.into_iter();
        let last_decisions = LastDecisions {
            placement: last.next().flatten(),
            scaling: last.next().flatten(),
            migration: last.next().flatten(),
        };
        let last_failure = [
            &last_decisions.placement,
            &last_decisions.scaling,
            &last_decisions.migration,
        ]
        .into_iter()
        .flatten()
        .filter(|d| d.error.is_some() || d.fallback_reason.is_some())
        .max_by_key(|d| d.id)
        .cloned();
        let descriptor = &graph.spec.descriptor;
        Ok(GraphView {
            name: graph.spec.name.clone(),
            status: graph.status.clone(),
            phase,
            apply: standing.view(graph.generation),
            created_at_ms: graph.created_at_ms,
            updated_at_ms: graph.updated_at_ms,
            descriptor: DescriptorSummary {
                version: descriptor.version.clone(),
                designer: descriptor.designer.clone(),
                description: descriptor.description.clone(),
                services: graph.spec.services.len(),
                use_static_placement: graph.spec.use_static_placement,
            },
            strategies,
            services: service_views(&graph, &placement, &standing),
            placement,
            last_decisions,
            last_failure,
            scaling_loop: LoopView {
                telemetry_errors: self.loops.telemetry_errors(name).count,
                last_telemetry_error: self.loops.telemetry_errors(name).last,
                active: self.loop_active(name),
                period_ms: u64::try_from(self.config().scaling_period.as_millis())
                    .unwrap_or(u64::MAX),
            },
            offload_loop: if graph.spec.offload_policy.is_some() {
                self.offload_view(name)
            } else {
                None
            },
        })
    }

    /// Up to `limit` graphs after the name `after` (from the first without it), by name, each
    /// with its placement and phase; and the cursor of the next page when this one is full.
    /// Read in one store call, so each graph's status and placement come from the same write,
    /// at a cost that does not grow with the number of graphs stored.
    pub fn list_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<GraphSummary>, Option<String>), EngineError> {
        let page = self.store.graph_page(after, limit)?;
        let next = (limit > 0 && page.len() == limit)
            .then(|| page.last().map(|l| l.name.clone()))
            .flatten();
        let graphs = page
            .into_iter()
            .map(|listing| {
                let desired: Vec<PlacementEntry> = if listing.status == RUNNING {
                    listing
                        .placement
                        .iter()
                        .filter(|e| e.replicas > 0)
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                let standing = Standing {
                    summary: listing.apply,
                    observed: self.applier.observed(&listing.name),
                };
                GraphSummary {
                    phase: standing
                        .inputs(listing.generation)
                        .phase_of(&desired, |_| true),
                    services: listing.services,
                    status: listing.status,
                    placement: listing.placement,
                    created_at_ms: listing.created_at_ms,
                    updated_at_ms: listing.updated_at_ms,
                    name: listing.name,
                }
            })
            .collect();
        Ok((graphs, next))
    }

    /// Every graph, by name (page after page), with its placement.
    pub fn list(&self) -> Result<Vec<GraphSummary>, EngineError> {
        const PAGE: usize = 1_000;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (graphs, next) = self.list_page(after.as_deref(), PAGE)?;
            out.extend(graphs);
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(out),
            }
        }
    }

    /// The decision history, newest first: graph `graph`'s, or everyone's; each decision that
    /// committed a desired state says whether the backend took it.
    pub fn decisions(
        &self,
        graph: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DecisionRecord>, EngineError> {
        let mut applied: HashMap<String, Option<Option<u64>>> = HashMap::new();
        let mut views = Vec::new();
        for view in self.store.list_decisions(graph, limit)? {
            if view.generation.is_none() {
                views.push(view);
                continue;
            }
            let name = view.graph.clone();
            if !applied.contains_key(&name) {
                let newest = match self.store.get_graph(&name)? {
                    Some(stored) => Some(
                        self.store
                            .apply_summary(&name, stored.generation)?
                            .applied_generation,
                    ),
                    None => None,
                };
                applied.insert(name.clone(), newest);
            }
            views.push(match applied.get(&name).copied().flatten() {
                Some(newest) => view.with_applied(newest),
                None => view,
            });
        }
        Ok(views)
    }
}
