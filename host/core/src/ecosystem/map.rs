//! The ecosystem map: every deployed workload (what it provides, its cluster) and every
//! dependency edge (a requirement and each workload that is the kind of neighbour it asks for),
//! kept current by deploy, move and remove events, with the queries on it.
//!
//! Edges depend only on characteristics, so a move changes no edge: whether an edge satisfies
//! its requirement (the two ends close enough) is read when scored. Candidates are found through
//! indexes by the first software-stack tag a requirement names, else by its type; a requirement
//! with neither is matched against every workload.

use super::criteria::Compiled;
use super::declaration::{Characteristics, Declaration};
use super::topology::Topology;
use serde::Serialize;
use std::collections::HashMap;

/// A workload's place in the map (stable while it lives).
pub type WorkloadId = usize;

/// Required or preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Required,
    Preferred,
}

/// A requirement of a workload (its side and index in the declaration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotRef {
    pub workload: WorkloadId,
    pub side: Side,
    pub index: usize,
}

/// A requirement with the workloads that are the kind of neighbour it asks for.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) compiled: Compiled,
    pub(super) candidates: Vec<WorkloadId>,
}

/// A workload in the map.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) declaration: Declaration,
    pub(super) graph: Option<String>,
    pub(super) cluster: usize,
    pub(super) required: Vec<Slot>,
    pub(super) preferred: Vec<Slot>,
    /// The requirements this workload is a candidate of.
    pub(super) dependents: Vec<SlotRef>,
}

impl Entry {
    pub(super) fn slots(&self, side: Side) -> &[Slot] {
        match side {
            Side::Required => &self.required,
            Side::Preferred => &self.preferred,
        }
    }

    fn slots_mut(&mut self, side: Side) -> &mut Vec<Slot> {
        match side {
            Side::Required => &mut self.required,
            Side::Preferred => &mut self.preferred,
        }
    }
}

/// Where requirements are looked up for a new workload, and candidates for a new requirement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Tag(String),
    Kind(String),
    Any,
}

fn key_of(compiled: &Compiled) -> Key {
    let r = &compiled.requirement;
    match (r.software_stack.first(), compiled.kind()) {
        (Some(tag), _) => Key::Tag(tag.to_lowercase()),
        (None, Some(kind)) => Key::Kind(kind),
        (None, None) => Key::Any,
    }
}

fn keys_of(c: &Characteristics) -> Vec<Key> {
    let mut keys: Vec<Key> = c
        .software_stack
        .iter()
        .map(|t| Key::Tag(t.to_lowercase()))
        .collect();
    if let Some(kind) = &c.kind {
        keys.push(Key::Kind(kind.to_lowercase()));
    }
    keys.push(Key::Any);
    keys
}

/// The map (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct EcosystemMap {
    pub(super) entries: Vec<Option<Entry>>,
    free: Vec<WorkloadId>,
    by_name: HashMap<String, WorkloadId>,
    /// Workloads by each key they can be found by.
    providers: HashMap<Key, Vec<WorkloadId>>,
    /// Requirements by the key their candidates are found by.
    wanting: HashMap<Key, Vec<SlotRef>>,
    pub(super) topology: Topology,
    edges: usize,
}

fn remove_item<T: PartialEq>(list: &mut Vec<T>, item: &T) {
    if let Some(i) = list.iter().position(|x| x == item) {
        list.swap_remove(i);
    }
}

impl EcosystemMap {
    pub fn new(topology: Topology) -> Self {
        Self {
            topology,
            ..Self::default()
        }
    }

    pub fn topology_mut(&mut self) -> &mut Topology {
        &mut self.topology
    }

    /// Live workloads.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Dependency edges (requirement → candidate).
    pub fn edges(&self) -> usize {
        self.edges
    }

    pub fn id(&self, name: &str) -> Option<WorkloadId> {
        self.by_name.get(name).copied()
    }

    pub(super) fn entry(&self, id: WorkloadId) -> Option<&Entry> {
        self.entries.get(id).and_then(Option::as_ref)
    }

    /// The workload's name, graph and cluster.
    pub fn describe(&self, id: WorkloadId) -> Option<(&str, Option<&str>, &str)> {
        self.entry(id).map(|e| {
            (
                e.declaration.vm_name.as_str(),
                e.graph.as_deref(),
                self.topology.name(e.cluster),
            )
        })
    }

    /// The declaration workload `id` was deployed with.
    pub fn declaration(&self, id: WorkloadId) -> Option<&Declaration> {
        self.entry(id).map(|e| &e.declaration)
    }

    /// The workloads with a requirement workload `id` is a candidate of (each once).
    pub fn dependents(&self, id: WorkloadId) -> Vec<WorkloadId> {
        let mut out: Vec<WorkloadId> = self
            .entry(id)
            .map(|e| e.dependents.iter().map(|s| s.workload).collect())
            .unwrap_or_default();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Latency between clusters `a` and `b`, ms (infinite when unknown).
    pub fn latency_between(&self, a: &str, b: &str) -> f64 {
        match (self.topology.find(a), self.topology.find(b)) {
            (Some(a), Some(b)) => self.topology.latency_ms(a, b),
            _ => f64::INFINITY,
        }
    }

    /// The cluster workload `id` runs on.
    pub fn cluster_of(&self, id: WorkloadId) -> Option<&str> {
        self.entry(id).map(|e| self.topology.name(e.cluster))
    }

    /// Every live workload's id.
    pub fn ids(&self) -> impl Iterator<Item = WorkloadId> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|_| i))
    }

    /// Deploys (or redeclares) a workload on `cluster`: its edges both ways are found.
    pub fn upsert(
        &mut self,
        declaration: Declaration,
        graph: Option<String>,
        cluster: &str,
    ) -> WorkloadId {
        self.remove(&declaration.vm_name);
        let own = declaration.provides.signature.clone();
        let compile = |list: &[super::declaration::Requirement]| -> Vec<Slot> {
            list.iter()
                .map(|r| Slot {
                    compiled: Compiled::new(r, own.as_ref()),
                    candidates: Vec::new(),
                })
                .collect()
        };
        let entry = Entry {
            required: compile(&declaration.dependencies.required),
            preferred: compile(&declaration.dependencies.preferred),
            cluster: self.topology.cluster(cluster),
            graph,
            dependents: Vec::new(),
            declaration,
        };
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.entries.push(None);
                self.entries.len() - 1
            }
        };
        let provides = entry.declaration.provides.clone();
        self.by_name.insert(entry.declaration.vm_name.clone(), id);
        self.entries[id] = Some(entry);
        // Its requirements: candidates among the workloads already there.
        for side in [Side::Required, Side::Preferred] {
            let count = self.entry(id).map_or(0, |e| e.slots(side).len());
            for index in 0..count {
                let slot = SlotRef {
                    workload: id,
                    side,
                    index,
                };
                let key = match self.entry(id) {
                    Some(e) => key_of(&e.slots(side)[index].compiled),
                    None => continue,
                };
                let pool: Vec<WorkloadId> = match &key {
                    Key::Any => self.ids().collect(),
                    key => self.providers.get(key).cloned().unwrap_or_default(),
                };
                for candidate in pool.into_iter().filter(|c| *c != id) {
                    self.link_if_matching(slot, candidate);
                }
                self.wanting.entry(key).or_default().push(slot);
            }
        }
        // It as a candidate of the requirements already there.
        let keys = keys_of(&provides);
        let mut asked: Vec<SlotRef> = Vec::new();
        for key in &keys {
            if let Some(slots) = self.wanting.get(key) {
                asked.extend(slots.iter().copied().filter(|s| s.workload != id));
            }
        }
        for slot in asked {
            self.link_if_matching(slot, id);
        }
        for key in keys {
            self.providers.entry(key).or_default().push(id);
        }
        id
    }

    fn link_if_matching(&mut self, slot: SlotRef, candidate: WorkloadId) {
        let matches = match (self.entry(slot.workload), self.entry(candidate)) {
            (Some(declarer), Some(c)) => {
                let s = &declarer.slots(slot.side)[slot.index];
                !s.candidates.contains(&candidate) && s.compiled.matches(&c.declaration.provides)
            }
            _ => false,
        };
        if !matches {
            return;
        }
        if let Some(Some(declarer)) = self.entries.get_mut(slot.workload) {
            declarer.slots_mut(slot.side)[slot.index]
                .candidates
                .push(candidate);
        }
        if let Some(Some(c)) = self.entries.get_mut(candidate) {
            c.dependents.push(slot);
        }
        self.edges += 1;
    }

    /// A workload moved (or scaled onto another cluster): O(1), no edge changes.
    pub fn move_to(&mut self, name: &str, cluster: &str) -> bool {
        let cluster = self.topology.cluster(cluster);
        match self.id(name).and_then(|id| self.entries.get_mut(id)) {
            Some(Some(entry)) => {
                entry.cluster = cluster;
                true
            }
            _ => false,
        }
    }

    /// A workload went: its edges both ways go with it. Returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(id) = self.by_name.remove(name) else {
            return false;
        };
        let Some(entry) = self.entries.get_mut(id).and_then(Option::take) else {
            return false;
        };
        // Edges to its candidates.
        for side in [Side::Required, Side::Preferred] {
            for (index, slot) in entry.slots(side).iter().enumerate() {
                let me = SlotRef {
                    workload: id,
                    side,
                    index,
                };
                for candidate in &slot.candidates {
                    if let Some(Some(c)) = self.entries.get_mut(*candidate) {
                        remove_item(&mut c.dependents, &me);
                    }
                    self.edges -= 1;
                }
                if let Some(list) = self.wanting.get_mut(&key_of(&slot.compiled)) {
                    remove_item(list, &me);
                }
            }
        }
        // Edges from the requirements it was a candidate of.
        for slot in &entry.dependents {
            if let Some(Some(declarer)) = self.entries.get_mut(slot.workload) {
                remove_item(
                    &mut declarer.slots_mut(slot.side)[slot.index].candidates,
                    &id,
                );
                self.edges -= 1;
            }
        }
        for key in keys_of(&entry.declaration.provides) {
            if let Some(list) = self.providers.get_mut(&key) {
                remove_item(list, &id);
            }
        }
        self.free.push(id);
        true
    }

    /// Whether candidate `candidate` satisfies `slot` where both run now, and the latency.
    pub(super) fn satisfies(&self, slot: &Slot, from: usize, candidate: WorkloadId) -> Option<f64> {
        let c = self.entry(candidate)?;
        let latency = self.topology.latency_ms(from, c.cluster);
        slot.compiled
            .placed_well(from == c.cluster, latency)
            .then_some(latency)
    }
}
