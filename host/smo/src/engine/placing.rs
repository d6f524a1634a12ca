//! Asking a placement strategy and checking its answer: the request (graph with current
//! replicas, clusters with their free capacity, current placement), the call through the
//! dispatcher, and the validation that turns a decision into placement rows.
//!
//! A conditional service (deployed on an alert) is placed with the graph, so its cluster is
//! chosen in advance, but stored with 0 replicas ("pending") until `POST /alerts` names it.
//! Pending services use no capacity.

use super::admission::Snapshot;
use super::error::EngineError;
use super::lifecycle::Engine;
use super::record::{self, Cause};
use crate::store::{now_ms, PlacementEntry};
use serde_json::{json, Value};
use smo_core::decision::{Decided, DecisionRecord, Outcome};
use smo_core::graphs::GraphSpec;
use smo_plugin_api::{
    Cluster, PlacementDecision, PlacementRequest, ROption, RString, RVec, StrategyKind, Telemetry,
};
use smo_plugin_host::StrategyName;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tracing::Instrument;

/// A placement decision with the rows it would store (when it succeeded and is valid).
#[derive(Debug)]
pub struct Placed {
    /// The history row (not yet appended).
    pub record: DecisionRecord,
    /// The placement rows, pending services at 0 replicas; `None` when no valid decision.
    pub entries: Option<Vec<PlacementEntry>>,
}

impl Placed {
    /// The decision with the history id it was stored under, if it was.
    pub fn view(&self, id: Option<i64>) -> DecisionRecord {
        DecisionRecord {
            id,
            ..self.record.clone()
        }
    }

    /// Why it failed: the error, else "no placement".
    pub fn failure(&self) -> String {
        self.record
            .error
            .clone()
            .unwrap_or_else(|| "the strategy returned no placement".to_owned())
    }
}

/// The strategy a graph names for `kind`, as the dispatcher's name type.
pub fn graph_strategy(spec: &GraphSpec, kind: StrategyKind) -> Option<StrategyName> {
    spec.strategies.get(kind).map(|s| StrategyName {
        plugin: s.plugin.clone(),
        strategy: s.strategy.clone(),
    })
}

/// Services that are conditional and not deployed: with a current placement, those whose rows
/// all have 0 replicas (or that have none); without one, every conditional service.
pub fn pending_services(spec: &GraphSpec, current: Option<&[PlacementEntry]>) -> HashSet<String> {
    spec.services
        .iter()
        .filter(|s| s.conditional)
        .filter(|s| match current {
            None => true,
            Some(entries) => !entries
                .iter()
                .any(|e| e.service == s.name && e.replicas > 0),
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Total replicas of each service in `entries`.
pub fn replica_totals(entries: &[PlacementEntry]) -> HashMap<&str, u32> {
    let mut totals: HashMap<&str, u32> = HashMap::new();
    for entry in entries {
        *totals.entry(entry.service.as_str()).or_default() += entry.replicas;
    }
    totals
}

/// The graph as strategies see it, each service with its current replica count (its minimum,
/// at least 1, when it has none yet).
pub fn plugin_graph(spec: &GraphSpec, current: &[PlacementEntry]) -> smo_plugin_api::Graph {
    let totals = replica_totals(current);
    let mut graph = spec.to_plugin_graph();
    for service in graph.services.iter_mut() {
        let floor = service.scaling.min_replicas.max(1);
        service.replicas = totals
            .get(service.name.as_str())
            .copied()
            .filter(|r| *r > 0)
            .unwrap_or(floor);
    }
    graph
}

/// Summary of the clusters a strategy was given, for the decision history.
pub fn clusters_summary(clusters: &[Cluster]) -> Value {
    Value::Array(
        clusters
            .iter()
            .map(|c| {
                json!({
                    "name": c.name.as_str(),
                    "role": c.role.as_str(),
                    "available": c.available,
                    "carbon_intensity_g_per_kwh": c.energy.carbon_intensity_g_per_kwh,
                    "pue": c.energy.pue,
                    "renewable_supply_kw": c.energy.renewable_supply_kw,
                    "preferred_for_saving": c.energy.preferred_for_saving,
                })
            })
            .collect(),
    )
}

/// Checks a strategy's placement against the graph and the clusters and returns the rows to
/// store: every service placed, on known clusters, at most once per cluster, with replicas.
pub fn validate(
    spec: &GraphSpec,
    clusters: &[Cluster],
    decision: &PlacementDecision,
    pending: &HashSet<String>,
) -> Result<Vec<PlacementEntry>, String> {
    let known: HashSet<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    for a in decision.placement.assignments.iter() {
        let (service, cluster) = (a.service.as_str(), a.cluster.as_str());
        if spec.service(service).is_none() {
            problems.push(format!("unknown service `{service}`"));
        } else if !known.contains(cluster) {
            problems.push(format!("`{service}` on unknown cluster `{cluster}`"));
        } else if a.replicas == 0 {
            problems.push(format!("`{service}` on `{cluster}` with 0 replicas"));
        } else if !seen.insert((service, cluster)) {
            problems.push(format!("`{service}` on `{cluster}` twice"));
        } else {
            let replicas = if pending.contains(service) {
                0
            } else {
                a.replicas
            };
            entries.push(PlacementEntry::new(service, cluster, replicas));
        }
    }
    for service in &spec.services {
        if !seen.iter().any(|(s, _)| *s == service.name) {
            problems.push(format!("`{}` is not placed", service.name));
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(format!(
            "the strategy returned an invalid placement: {}",
            problems.join("; ")
        ))
    }
}

/// The request's `extra` ([`smo_plugin_api::extra::PlacementRequestExtra`]): `graphs`, the names of every graph the
/// host holds with the one being placed, sorted (a strategy keeping state per graph forgets
/// those not listed), from their JSON array `names` as the store writes it.
pub fn request_extra(names: &str) -> RString {
    format!("{{\"graphs\":{names}}}").into()
}

/// What to ask for.
pub struct Ask<'a> {
    pub spec: &'a GraphSpec,
    /// The current rows; `None` (or empty) for an initial placement.
    pub current: Option<&'a [PlacementEntry]>,
    /// Place from scratch even though there are current rows (which still say which
    /// conditional services are deployed).
    pub initial: bool,
    /// The strategy; `None` = the graph's, else the default.
    pub strategy: Option<StrategyName>,
    /// JSON parameters; `None` = the graph's `strategyParameters.placement`.
    pub params: Option<String>,
    /// Whether the graph runs (telemetry is only read for running graphs).
    pub running: bool,
    pub cause: Cause,
}

impl Engine {
    /// Asks for a placement of `ask.spec` on the clusters of `snapshot` and validates it.
    /// Changes nothing in the store; the caller holds the graph's turn (and no other lock) and
    /// commits the result.
    pub(crate) async fn decide_placement(
        &self,
        snapshot: &Snapshot,
        ask: &Ask<'_>,
    ) -> Result<Placed, EngineError> {
        let spec = ask.spec;
        let clusters = &snapshot.clusters;
        let current: Vec<PlacementEntry> = ask
            .current
            .unwrap_or_default()
            .iter()
            .filter(|e| spec.service(&e.service).is_some())
            .cloned()
            .collect();
        let pending = pending_services(spec, ask.current);
        let graph = plugin_graph(spec, &current);
        // Pending services are placed as if they ran their minimum.
        let current_for_strategy: Vec<PlacementEntry> = current
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if e.replicas == 0 {
                    e.replicas = spec
                        .service(&e.service)
                        .map_or(1, |s| s.scaling.min_replicas.max(1));
                }
                e
            })
            .collect();
        // A graph that does not run yet has nothing measured, but the request still carries
        // the backend's clock (simulated time under `--scenario`).
        // A source that cannot measure a running graph leaves its placement without loads
        // (the error goes into the decision's inputs), rather than blocking it.
        let now_s = now_ms() as f64 / 1e3;
        let unmeasured = Telemetry {
            time_unix_s: self.telemetry.clock_s(now_s),
            ..Telemetry::default()
        };
        let mut telemetry_error = None;
        let telemetry = if ask.running && !current.is_empty() {
            let (measured_spec, placed) = (spec.clone(), current.clone());
            let measured = self
                .measure(&spec.name, move |source| {
                    source.loads(&measured_spec, &placed, now_s)
                })
                .await;
            match measured {
                Ok(telemetry) => telemetry,
                Err(error) => {
                    tracing::warn!(graph = %spec.name, %error, "placement without loads");
                    telemetry_error = Some(error.to_string());
                    unmeasured
                }
            }
        } else {
            unmeasured
        };
        let strategy = ask
            .strategy
            .clone()
            .or_else(|| graph_strategy(spec, StrategyKind::PLACEMENT));
        let params = ask
            .params
            .clone()
            .unwrap_or_else(|| spec.parameters_json(StrategyKind::PLACEMENT));
        let mut inputs = json!({
            "clusters": clusters_summary(clusters),
            "current": if current.is_empty() { Value::Null } else { json!(current) },
            "params": serde_json::from_str::<Value>(&params).unwrap_or(Value::Null),
            "pending": pending,
        });
        if let (Some(error), Value::Object(map)) = (telemetry_error, &mut inputs) {
            map.insert("telemetry_error".into(), json!(error));
        }
        let request = PlacementRequest {
            graph,
            clusters: RVec::from(clusters.clone()),
            current: if ask.initial || current_for_strategy.is_empty() {
                ROption::RNone
            } else {
                ROption::RSome(PlacementEntry::to_plugin(&current_for_strategy))
            },
            telemetry,
            extra: request_extra(&self.names.json_with(&self.store, &spec.name)?),
        };
        let span = tracing::info_span!("placement", graph = %spec.name, cause = ask.cause.as_str());
        let mut made: Decided<PlacementDecision> = self
            .dispatcher
            .place(strategy.as_ref(), &params, Arc::new(request))
            .instrument(span)
            .await;
        let mut entries = None;
        if made.record.error.is_none() {
            let problem = match made.decision.as_ref() {
                Some(decision) => match validate(spec, clusters, decision, &pending) {
                    Ok(valid) => {
                        entries = Some(valid);
                        None
                    }
                    Err(problem) => Some(problem),
                },
                None => Some("the strategy returned no placement".to_owned()),
            };
            if let Some(problem) = problem {
                made.record.error = Some(problem);
                made.record.outcome = Outcome::Error;
            }
        }
        let record = record::complete(&spec.name, &made, ask.cause, inputs);
        record.log();
        Ok(Placed { record, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::extra::{self, PlacementRequestExtra};

    fn spec() -> GraphSpec {
        smo_core::graphs::brussels_demo_spec()
    }

    fn decision(rows: &[(&str, &str, u32)]) -> PlacementDecision {
        PlacementDecision {
            placement: smo_plugin_api::testing::placement_of(rows),
            ..PlacementDecision::default()
        }
    }

    #[test]
    fn the_request_extra_is_written_as_the_typed_writer_writes_it() {
        let extra = request_extra(r#"["a","b","c"]"#);
        let read: PlacementRequestExtra = extra::read(extra.as_str()).expect("JSON");
        assert_eq!(read.graphs, ["a", "b", "c"]);
        assert_eq!(extra.as_str(), extra::write(&read).as_str());
    }

    #[test]
    fn conditional_services_are_pending_until_deployed() {
        let spec = spec();
        let initial = pending_services(&spec, None);
        assert_eq!(initial, HashSet::from(["image-compression-vo".to_owned()]));
        let deployed = [PlacementEntry::new("image-compression-vo", "c", 1)];
        assert!(pending_services(&spec, Some(&deployed)).is_empty());
    }

    #[test]
    fn a_valid_decision_becomes_rows_with_pending_at_zero() {
        let spec = spec();
        let clusters = crate::engine::inventory::default_clusters();
        let rows = validate(
            &spec,
            &clusters,
            &decision(&[
                ("image-compression-vo", "edge-athens", 1),
                ("noise-reduction", "edge-athens", 2),
                ("image-detection", "cloud-frankfurt", 1),
            ]),
            &pending_services(&spec, None),
        )
        .expect("valid");
        assert_eq!(rows[0].replicas, 0);
        assert_eq!(rows[1].replicas, 2);
    }

    #[test]
    fn every_problem_of_a_bad_decision_is_named() {
        let spec = spec();
        let clusters = crate::engine::inventory::default_clusters();
        let error = validate(
            &spec,
            &clusters,
            &decision(&[
                ("ghost", "edge-athens", 1),
                ("noise-reduction", "mars", 1),
                ("image-detection", "edge-athens", 0),
            ]),
            &HashSet::new(),
        )
        .unwrap_err();
        for needle in [
            "ghost",
            "mars",
            "0 replicas",
            "`image-compression-vo` is not placed",
        ] {
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }
}
