//! Migrating a workload for the ecosystem (`POST /v1/migrate`): the moves that would change its
//! Dependency Satisfaction Score are found on the map (each tried, scored, undone), offered to
//! the ecosystem migration strategy with their cost inputs, and the moves it answers are
//! committed through the engine's commit path with their decision (or only shown: a dry run).

use super::ecosystem::WorkloadView;
use super::error::EngineError;
use super::inventory::RUNNING;
use super::lifecycle::Engine;
use super::offload_apply::apply_moves;
use super::placing::plugin_graph;
use super::record::{self, Cause};
use crate::store::{Commit, PendingOutcome, PlacementEntry};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use smo_core::ecosystem::options::{move_options, unmet_neighbours, Moving};
use smo_plugin_api::extra::{self, EcosystemMigrationExtra, EcosystemOptions};
use smo_plugin_api::{Cluster, MigrationRequest, Move, RVec, Resources, Telemetry};
use smo_plugin_host::StrategyName;
use std::collections::HashMap;
use std::sync::Arc;

/// The ecosystem migration strategy when `[ecosystem] strategy` names none.
pub const DEFAULT_STRATEGY: &str = "ecosystem/satisfy";

/// Bandwidth assumed between two clusters unless `[ecosystem] bandwidth_gbps` says, Gb/s.
pub const DEFAULT_BANDWIDTH_GBPS: f64 = 10.0;

/// A move the strategy answered, as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MoveView {
    pub service: String,
    pub from: String,
    pub to: String,
    pub replicas: u32,
    pub score_before: f64,
    pub score_after: f64,
    /// The change of the scores of the workloads depending on it.
    pub dependents_delta: f64,
    /// The strategy's figures: gain (score units) and cost (seconds of downtime and copy).
    pub expected_gain: f64,
    pub expected_cost: f64,
    pub reason: String,
}

/// A move offered to the strategy.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OfferView {
    pub to: String,
    pub score_after: f64,
    pub dependents_delta: f64,
    pub expected_s: f64,
}

/// The answer of `POST /v1/migrate`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MigrationView {
    pub workload: WorkloadView,
    /// The strategy that decided.
    pub strategy: String,
    /// Moves offered to it (one per cluster with room where the score would change).
    pub options: usize,
    /// Each offered move: where to, the scores after it, and the seconds the host expects it
    /// to take (its learned cost model).
    pub offered: Vec<OfferView>,
    pub moves: Vec<MoveView>,
    /// Moves it answered that were not offered (refused), with why.
    pub rejected: Vec<String>,
    pub reasons: Vec<String>,
    /// The moves were committed (`?apply=true`).
    pub applied: bool,
    /// The decision record, when applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<i64>,
}

/// Whether `replicas` of a service demanding `demand` each fit `cluster`'s free capacity.
fn fits(cluster: &Cluster, demand: Resources, replicas: u32) -> bool {
    cluster.available.fits(&demand.times(replicas))
}

impl Engine {
    /// Asks the ecosystem strategy for moves of workload `name` (`<graph>/<service>`); commits
    /// them with `apply`.
    pub async fn migrate_workload(
        &self,
        name: &str,
        apply: bool,
    ) -> Result<MigrationView, EngineError> {
        let (graph_name, service) = name.split_once('/').ok_or_else(|| {
            EngineError::invalid(
                "workload",
                format!("`{name}`: expected `<graph>/<service>`"),
            )
        })?;
        let _turn = self.admission.turn(graph_name).await;
        let graph = self.stored_graph(graph_name)?;
        if graph.status != RUNNING {
            return Err(EngineError::Conflict(format!(
                "graph {graph_name:?} is {}: only a running graph's workloads move",
                graph.status
            )));
        }
        let spec = &graph.spec;
        if spec.use_static_placement {
            return Err(EngineError::Conflict(format!(
                "graph {graph_name:?} is pinned (useStaticPlacement): its services are not moved for the ecosystem"
            )));
        }
        let demand = spec
            .service(service)
            .map(|s| Resources::from(s.demand))
            .ok_or_else(|| EngineError::WorkloadNotFound(name.to_owned()))?;
        let entries = self.store.get_placement(graph_name)?;
        let snapshot = self.snapshot(graph_name).await?;
        // The options, from the map (held only while scoring, never across the strategy call).
        let (workload, found, weights, joins) = {
            let mut state = self.ecosystem_state()?;
            let weights = state.weights(&self.config().ecosystem);
            let cost_model = state.learned().cost_model;
            let map = state.map_mut();
            let id = map
                .id(name)
                .ok_or_else(|| EngineError::WorkloadNotFound(name.to_owned()))?;
            let workload = super::ecosystem::workload_view(map, id, &weights)
                .ok_or_else(|| EngineError::WorkloadNotFound(name.to_owned()))?;
            let replicas = entries
                .iter()
                .find(|e| e.service == service && e.cluster == workload.cluster)
                .map_or(0, |e| e.replicas);
            let targets: Vec<&str> = snapshot
                .clusters
                .iter()
                .filter(|c| c.name.as_str() != workload.cluster && fits(c, demand, replicas))
                .map(|c| c.name.as_str())
                .collect();
            let mut found = move_options(
                map,
                Moving {
                    id,
                    name,
                    service,
                    home: &workload.cluster,
                    replicas,
                },
                &targets,
                &weights,
                &cost_model,
                self.config().ecosystem_bandwidth_gbps,
            );
            // Its neighbours in the graph that could meet an unmet requirement by joining it.
            let mut joins: HashMap<(String, String), Vec<String>> = HashMap::new();
            let here = snapshot
                .clusters
                .iter()
                .find(|c| c.name.as_str() == workload.cluster);
            // The workload's unmet types now, to tell which a join meets.
            let unmet_now = map.unmet_kinds(id);
            for neighbour in unmet_neighbours(map, id) {
                let Some((neighbour_name, Some(graph), from)) = map.describe(neighbour) else {
                    continue;
                };
                let (Some(neighbour_service), Some(here)) =
                    (neighbour_name.strip_prefix(&format!("{graph_name}/")), here)
                else {
                    continue;
                };
                if graph != graph_name || from == workload.cluster {
                    continue;
                }
                let (neighbour_name, from) = (neighbour_name.to_owned(), from.to_owned());
                let neighbour_service = neighbour_service.to_owned();
                let Some(neighbour_demand) = spec
                    .service(&neighbour_service)
                    .map(|s| Resources::from(s.demand))
                else {
                    continue;
                };
                let neighbour_replicas = entries
                    .iter()
                    .find(|e| e.service == neighbour_service && e.cluster == from)
                    .map_or(0, |e| e.replicas);
                if !fits(here, neighbour_demand, neighbour_replicas) {
                    continue;
                }
                let joined = move_options(
                    map,
                    Moving {
                        id: neighbour,
                        name: &neighbour_name,
                        service: &neighbour_service,
                        home: &from,
                        replicas: neighbour_replicas,
                    },
                    &[workload.cluster.as_str()],
                    &weights,
                    &cost_model,
                    self.config().ecosystem_bandwidth_gbps,
                );
                // What it meets is the workload's: its unmet types that the join meets.
                map.move_to(&neighbour_name, &workload.cluster);
                let after = map.unmet_kinds(id);
                map.move_to(&neighbour_name, &from);
                let met: Vec<String> = unmet_now
                    .iter()
                    .filter(|k| !after.contains(k))
                    .cloned()
                    .collect();
                for option in joined.options {
                    joins.insert((option.service.clone(), option.to.clone()), met.clone());
                    found.options.push(option);
                }
            }
            (workload, found, weights, joins)
        };
        let options = found.options;
        let strategy = StrategyName::parse(&self.config().ecosystem_strategy)
            .map_err(|e| EngineError::invalid("ecosystem.strategy", e.to_string()))?;
        let offered = options.len();
        let extra = EcosystemMigrationExtra {
            ecosystem: EcosystemOptions {
                threshold: weights.threshold,
                budget: 1,
                options: options.clone(),
            },
        };
        let deployed: Vec<PlacementEntry> =
            entries.iter().filter(|e| e.replicas > 0).cloned().collect();
        let request = MigrationRequest {
            graph: plugin_graph(spec, &entries),
            clusters: RVec::from(snapshot.clusters.clone()),
            current: PlacementEntry::to_plugin(&deployed),
            telemetry: Telemetry::default(),
            extra: extra::write(&extra),
        };
        let span = tracing::info_span!("ecosystem_migration", workload = %name);
        let made = tracing::Instrument::instrument(
            self.dispatcher.migrate(
                Some(&strategy),
                &self.config().ecosystem_params,
                Arc::new(request),
            ),
            span,
        )
        .await;
        let inputs = json!({"workload": name, "score": workload.score, "options": options});
        let record = record::complete(graph_name, &made, Cause::Ecosystem, inputs);
        record.log();
        let answered: Vec<Move> = made
            .decision
            .as_ref()
            .map(|d| d.moves.iter().cloned().collect())
            .unwrap_or_default();
        let mut moves = Vec::new();
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for mv in answered {
            let offered_as = options.iter().find(|o| {
                o.service == mv.service.as_str()
                    && o.from == mv.from.as_str()
                    && o.to == mv.to.as_str()
                    && o.replicas == mv.replicas
            });
            match offered_as {
                Some(o) => {
                    moves.push(MoveView {
                        service: o.service.clone(),
                        from: o.from.clone(),
                        to: o.to.clone(),
                        replicas: o.replicas,
                        score_before: o.score_before,
                        score_after: o.score_after,
                        dependents_delta: o.dependents_delta,
                        expected_gain: mv.expected_gain,
                        expected_cost: mv.expected_cost,
                        reason: mv.reason.to_string(),
                    });
                    accepted.push(mv);
                }
                None => rejected.push(format!(
                    "{}: {} -> {} ({} replicas) was not offered",
                    mv.service, mv.from, mv.to, mv.replicas
                )),
            }
        }
        let reasons: Vec<String> = made
            .decision
            .as_ref()
            .map(|d| d.reasons.iter().map(ToString::to_string).collect())
            .unwrap_or_else(|| made.record.error.clone().into_iter().collect());
        let mut view = MigrationView {
            workload,
            strategy: made.record.strategy.clone(),
            options: offered,
            offered: options
                .iter()
                .map(|o| OfferView {
                    to: o.to.clone(),
                    score_after: o.score_after,
                    dependents_delta: o.dependents_delta,
                    expected_s: o.expected_s,
                })
                .collect(),
            moves,
            rejected,
            reasons,
            applied: false,
            decision_id: None,
        };
        if !apply {
            return Ok(view);
        }
        if accepted.is_empty() {
            view.decision_id = Some(self.record(&record)?);
            return Ok(view);
        }
        let metrics_before = self.graph_metrics(graph_name).await;
        let applied = apply_moves(spec, &snapshot.clusters, &entries, &accepted);
        if !applied.rejected.is_empty() {
            view.rejected.extend(applied.rejected.iter().cloned());
        }
        let committed = self
            .commit_checked(
                graph_name,
                spec,
                &snapshot,
                &applied.entries,
                Commit {
                    placement: Some(&applied.entries),
                    decisions: std::slice::from_ref(&record),
                    ..Commit::default()
                },
            )
            .await?;
        tracing::info!(workload = %name, moves = applied.applied.len(), "ecosystem migration applied");
        if !applied.applied.is_empty() {
            let own_service = service;
            for mv in &accepted {
                let (service, to) = (mv.service.to_string(), mv.to.to_string());
                let (workload, copy_s, types_met) = if service == own_service {
                    let met = found.types_met.get(&to).cloned().unwrap_or_default();
                    (name.to_owned(), found.copy_s, met)
                } else {
                    let copy_s = options
                        .iter()
                        .find(|o| o.service == service && o.to == to)
                        .map_or(0.0, |o| o.state_gib * 8.0 / o.bandwidth_gbps.max(1e-9));
                    let met = joins
                        .get(&(service.clone(), to))
                        .cloned()
                        .unwrap_or_default();
                    (format!("{graph_name}/{service}"), copy_s, met)
                };
                self.expect_outcome(PendingOutcome {
                    id: 0,
                    workload,
                    graph: graph_name.to_owned(),
                    generation: committed.generation,
                    due_at_ms: 0,
                    copy_s,
                    types_met,
                    metrics_before,
                })?;
            }
        }
        view.applied = !applied.applied.is_empty();
        view.decision_id = committed.decision_ids.first().copied();
        Ok(view)
    }
}
