//! The engine's ecosystem map (seed 001): the declared services of running graphs, placed where
//! most of their replicas run, kept current by every write of a graph (marked, then read again).
//!
//! A workload is `<graph>/<service>`; its declaration is the one registered through
//! `POST /v1/dependencies` under that name, else the one in its descriptor
//! (`deployment.intent.ecosystem`). A declaration for a name no running graph has is stored and
//! waits: the workload joins the map when it is deployed.

use super::error::EngineError;
use super::inventory::RUNNING;
use super::lifecycle::Engine;
use crate::store::PlacementEntry;
use schemars::JsonSchema;
use serde::Serialize;
use smo_core::ecosystem::learning::{CostModel, Learned};
use smo_core::ecosystem::{Declaration, EcosystemMap, Side, Topology, Unmet, Weights};
use smo_plugin_api::Cluster;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// The map with what keeps it current.
#[derive(Debug, Default)]
pub struct Ecosystem {
    state: Mutex<State>,
    /// Wakes the ecosystem loop (a declaration was registered).
    wake: Arc<Notify>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    loaded: bool,
    map: EcosystemMap,
    /// Graphs written since they were read.
    dirty: HashSet<String>,
    registered: HashMap<String, Declaration>,
    /// The workloads each graph has in the map.
    placed: HashMap<String, Vec<String>>,
    /// What the feedback loop learned (see [`super::ecosystem_learning`]).
    learned: Learned,
}

impl State {
    /// The score's weights: the configuration's, with the learned type weights.
    pub(crate) fn weights(&self, configured: &Weights) -> Weights {
        let mut weights = configured.clone();
        weights.per_type.extend(
            self.learned
                .type_weights
                .iter()
                .map(|(kind, w)| (kind.clone(), *w)),
        );
        weights
    }

    pub(crate) fn learned(&self) -> &Learned {
        &self.learned
    }

    pub(crate) fn set_learned(&mut self, learned: Learned) {
        self.learned = learned;
    }

    pub(crate) fn map(&self) -> &EcosystemMap {
        &self.map
    }

    pub(crate) fn map_mut(&mut self) -> &mut EcosystemMap {
        &mut self.map
    }
}

impl Ecosystem {
    /// Graph `graph` is being (or was) written: read it again next time.
    pub fn mark(&self, graph: &str) {
        self.lock().dirty.insert(graph.to_owned());
    }

    /// What wakes the ecosystem loop.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where a service runs: the cluster with most of its replicas (the first of equals).
fn home(placement: &[PlacementEntry], service: &str) -> Option<String> {
    let mut best: Option<&PlacementEntry> = None;
    for entry in placement
        .iter()
        .filter(|e| e.service == service && e.replicas > 0)
    {
        if best.is_none_or(|b| entry.replicas > b.replicas) {
            best = Some(entry);
        }
    }
    best.map(|e| e.cluster.clone())
}

/// A workload as the ecosystem view shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WorkloadView {
    pub name: String,
    pub graph: Option<String>,
    pub cluster: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub version: Option<String>,
    /// The Dependency Satisfaction Score (see docs/ecosystem.md).
    pub score: f64,
    /// A required dependency is not met.
    pub violated: bool,
    pub required_met: usize,
    pub required: usize,
    pub preferred_met: usize,
    pub preferred: usize,
}

/// A dependency edge: `from`'s requirement (`side`, `index`) and a workload that is the kind
/// of neighbour it asks for.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EdgeView {
    pub from: String,
    pub to: String,
    /// `required` or `preferred`.
    pub side: String,
    pub index: usize,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The two run close enough for the requirement.
    pub met: bool,
    /// Between their clusters, ms (measured or modelled; absent when unknown).
    pub latency_ms: Option<f64>,
}

/// A requirement not met, and why.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UnmetView {
    pub workload: String,
    pub side: String,
    pub index: usize,
    pub reason: String,
}

/// The map (`GET /v1/ecosystem`): workloads by name, edges by source, unmet requirements by
/// workload.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EcosystemView {
    /// Workloads scoring below it are candidates for migration.
    pub threshold: f64,
    /// What the feedback loop learned from the migrations observed so far.
    pub learned: LearnedView,
    pub workloads: Vec<WorkloadView>,
    pub edges: Vec<EdgeView>,
    pub unmet: Vec<UnmetView>,
}

/// The learned values (`docs/ecosystem.md`, the feedback loop).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LearnedView {
    /// Seconds of downtime a move takes.
    pub downtime_s: f64,
    /// Observed copy time over the modelled one.
    pub copy_scale: f64,
    /// Migrations observed.
    pub samples: usize,
    /// The benefit weight of each dependency type a migration met (1 for the others).
    pub type_weights: std::collections::BTreeMap<String, f64>,
}

impl LearnedView {
    fn of(learned: &Learned) -> Self {
        let CostModel {
            downtime_s,
            copy_scale,
            samples,
        } = learned.cost_model;
        Self {
            downtime_s,
            copy_scale,
            samples,
            type_weights: learned.type_weights.clone(),
        }
    }
}

/// One workload with what it depends on, what depends on it and, for a move, what it breaks
/// (`GET /v1/ecosystem/{graph}/{service}`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WorkloadDetail {
    pub workload: WorkloadView,
    /// Its requirements' edges.
    pub depends_on: Vec<EdgeView>,
    /// The edges of the workloads whose requirements it is the kind of neighbour for.
    pub dependents: Vec<EdgeView>,
    /// Its requirements not met, with why.
    pub unmet: Vec<UnmetView>,
    /// With `?move_to=`: the requirements met now, its own and its dependents', that a move
    /// there would break.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaks_if_moved: Option<Vec<UnmetView>>,
}

/// The answer to a registration.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Registered {
    pub vm_name: String,
    /// No declaration of that name was stored before.
    pub created: bool,
    /// The workload runs (a service of a running graph), so it is in the map.
    pub deployed: bool,
    /// Its score, when deployed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadView>,
}

fn side_name(side: Side) -> String {
    match side {
        Side::Required => "required".into(),
        Side::Preferred => "preferred".into(),
    }
}

impl Engine {
    /// The map, loaded at first use and brought up to date with the graphs written since.
    pub(crate) fn ecosystem_state(&self) -> Result<MutexGuard<'_, State>, EngineError> {
        let mut state = self.ecosystem.lock();
        let clusters = self.store.list_clusters::<Cluster>()?;
        let topology: &mut Topology = state.map.topology_mut();
        for stored in &clusters {
            let location = &stored.cluster.location;
            topology.locate(&stored.name, location.lat, location.lon);
        }
        if !state.loaded {
            state.registered = self
                .store
                .list_declarations()?
                .into_iter()
                .map(|d| (d.vm_name.clone(), d))
                .collect();
            let names = self.store.graph_names()?;
            state.dirty.extend(names);
            state.learned = self.fit_learned()?;
            state.loaded = true;
        }
        let mut dirty: Vec<String> = state.dirty.drain().collect();
        dirty.sort_unstable();
        for graph in dirty {
            self.refresh_graph(&mut state, &graph)?;
        }
        Ok(state)
    }

    fn refresh_graph(&self, state: &mut State, graph: &str) -> Result<(), EngineError> {
        let stored = self.store.get_graph(graph)?;
        let placement = match &stored {
            Some(_) => self.store.get_placement(graph).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut now = Vec::new();
        if let Some(stored) = stored.filter(|g| g.status == RUNNING) {
            for service in &stored.spec.services {
                let name = format!("{graph}/{}", service.name);
                // A registered declaration overrides the one in the descriptor.
                let declared = state
                    .registered
                    .get(&name)
                    .cloned()
                    .or_else(|| service.ecosystem.clone());
                let (Some(declaration), Some(cluster)) =
                    (declared, home(&placement, &service.name))
                else {
                    continue;
                };
                let same = state
                    .map
                    .id(&name)
                    .and_then(|id| state.map.declaration(id))
                    .is_some_and(|d| *d == declaration);
                if same {
                    state.map.move_to(&name, &cluster);
                } else {
                    state
                        .map
                        .upsert(declaration, Some(graph.to_owned()), &cluster);
                }
                now.push(name);
            }
        }
        for gone in state
            .placed
            .remove(graph)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !now.contains(n))
        {
            state.map.remove(&gone);
        }
        if !now.is_empty() {
            state.placed.insert(graph.to_owned(), now);
        }
        Ok(())
    }

    /// Stores `declaration` (replacing the workload's previous one) and updates the map.
    pub fn register_declaration(
        &self,
        declaration: Declaration,
    ) -> Result<Registered, EngineError> {
        let name = declaration.vm_name.clone();
        let created = self.store.put_declaration(&declaration)?;
        {
            let mut state = self.ecosystem.lock();
            state.registered.insert(name.clone(), declaration);
            if let Some((graph, _)) = name.split_once('/') {
                state.dirty.insert(graph.to_owned());
            }
        }
        let state = self.ecosystem_state()?;
        let weights = &state.weights(&self.config().ecosystem);
        let workload = state
            .map
            .id(&name)
            .and_then(|id| workload_view(&state.map, id, weights));
        tracing::info!(workload = %name, created, deployed = workload.is_some(), "dependency declaration registered");
        self.ecosystem.wake.notify_one();
        Ok(Registered {
            vm_name: name,
            created,
            deployed: workload.is_some(),
            workload,
        })
    }

    /// The map, only the workloads of graph `graph` and on cluster `cluster` when given (with
    /// their edges and unmet requirements).
    pub fn ecosystem_view(
        &self,
        graph: Option<&str>,
        cluster: Option<&str>,
    ) -> Result<EcosystemView, EngineError> {
        let state = self.ecosystem_state()?;
        let map = &state.map;
        let weights = &state.weights(&self.config().ecosystem);
        let shown: Vec<usize> = map
            .ids()
            .filter(|id| {
                map.describe(*id).is_some_and(|(_, g, c)| {
                    graph.is_none_or(|want| g == Some(want)) && cluster.is_none_or(|want| c == want)
                })
            })
            .collect();
        let mut edges: Vec<EdgeView> = shown.iter().flat_map(|id| edge_views(map, *id)).collect();
        edges.sort_by(|a, b| {
            (&a.from, &a.side, a.index, &a.to).cmp(&(&b.from, &b.side, b.index, &b.to))
        });
        let mut unmet: Vec<UnmetView> = map
            .unmet()
            .into_iter()
            .filter(|u| shown.contains(&u.workload))
            .map(|u| unmet_view(map, u))
            .collect();
        unmet.sort_by(|a, b| (&a.workload, &a.side, a.index).cmp(&(&b.workload, &b.side, b.index)));
        let mut workloads: Vec<WorkloadView> = shown
            .iter()
            .filter_map(|id| workload_view(map, *id, weights))
            .collect();
        workloads.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(EcosystemView {
            learned: LearnedView::of(state.learned()),
            threshold: weights.threshold,
            workloads,
            edges,
            unmet,
        })
    }

    /// Workload `name` (`<graph>/<service>`) in the map; with `move_to`, what moving it there
    /// would break.
    pub fn workload_detail(
        &self,
        name: &str,
        move_to: Option<&str>,
    ) -> Result<WorkloadDetail, EngineError> {
        if let Some(cluster) = move_to {
            if self.store.get_cluster::<Cluster>(cluster)?.is_none() {
                return Err(EngineError::ClusterNotFound(cluster.to_owned()));
            }
        }
        let state = self.ecosystem_state()?;
        let map = &state.map;
        let id = map
            .id(name)
            .ok_or_else(|| EngineError::WorkloadNotFound(name.to_owned()))?;
        let workload = workload_view(map, id, &state.weights(&self.config().ecosystem))
            .ok_or_else(|| EngineError::WorkloadNotFound(name.to_owned()))?;
        let dependents = map
            .dependents(id)
            .into_iter()
            .flat_map(|d| edge_views(map, d))
            .filter(|e| e.to == name)
            .collect();
        let unmet = map
            .unmet()
            .into_iter()
            .filter(|u| u.workload == id)
            .map(|u| unmet_view(map, u))
            .collect();
        let breaks_if_moved = move_to.map(|cluster| {
            map.breaks_if_moved(id, cluster)
                .into_iter()
                .map(|u| unmet_view(map, u))
                .collect()
        });
        Ok(WorkloadDetail {
            workload,
            depends_on: edge_views(map, id),
            dependents,
            unmet,
            breaks_if_moved,
        })
    }
}

fn name_of(map: &EcosystemMap, id: usize) -> String {
    map.describe(id).map_or(String::new(), |d| d.0.to_owned())
}

/// Workload `id`'s edges as the views show them.
fn edge_views(map: &EcosystemMap, id: usize) -> Vec<EdgeView> {
    map.edges_from(id)
        .into_iter()
        .map(|edge| {
            let kind = map
                .declaration(id)
                .and_then(|d| match edge.side {
                    Side::Required => d.dependencies.required.get(edge.index),
                    Side::Preferred => d.dependencies.preferred.get(edge.index),
                })
                .and_then(|r| r.kind.clone());
            EdgeView {
                from: name_of(map, id),
                to: name_of(map, edge.to),
                side: side_name(edge.side),
                index: edge.index,
                kind,
                met: edge.met,
                latency_ms: edge.latency_ms.is_finite().then_some(edge.latency_ms),
            }
        })
        .collect()
}

fn unmet_view(map: &EcosystemMap, unmet: Unmet) -> UnmetView {
    UnmetView {
        workload: name_of(map, unmet.workload),
        side: side_name(unmet.side),
        index: unmet.index,
        reason: unmet.reason,
    }
}

pub(crate) fn workload_view(
    map: &EcosystemMap,
    id: usize,
    weights: &Weights,
) -> Option<WorkloadView> {
    let (name, graph, cluster) = map.describe(id)?;
    let declaration = map.declaration(id)?;
    let score = map.score(id, weights)?;
    Some(WorkloadView {
        name: name.to_owned(),
        graph: graph.map(str::to_owned),
        cluster: cluster.to_owned(),
        kind: declaration.provides.kind.clone(),
        version: declaration.provides.version.clone(),
        score: score.score,
        violated: score.violated,
        required_met: score.required_met,
        required: score.required,
        preferred_met: score.preferred_met,
        preferred: score.preferred,
    })
}

/// The view in Graphviz's DOT language: a node a workload (its score), an edge a dependency
/// (solid required, dashed preferred; green met, red not).
pub fn to_dot(view: &EcosystemView) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut dot = String::from("digraph ecosystem {\n  rankdir=LR;\n  node [shape=box];\n");
    for w in &view.workloads {
        let label = format!(
            "{}\\n{} on {}\\nscore {:.2}",
            w.name,
            w.kind.as_deref().unwrap_or("-"),
            w.cluster,
            w.score
        );
        let _ = writeln!(
            dot,
            "  {} [label={}{}];",
            quote(&w.name),
            quote(&label).replace("\\\\n", "\\n"),
            if w.violated { ", color=red" } else { "" }
        );
    }
    for e in &view.edges {
        let _ = writeln!(
            dot,
            "  {} -> {} [style={}, color={}];",
            quote(&e.from),
            quote(&e.to),
            if e.side == "required" {
                "solid"
            } else {
                "dashed"
            },
            if e.met { "green" } else { "red" }
        );
    }
    dot.push_str("}\n");
    dot
}
