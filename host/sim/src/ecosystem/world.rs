//! The ecosystem run's state: the datacenters' capacity, the workloads (one per tier of each
//! live application instance), the ecosystem map over them, and what is measured each step.
//!
//! Arrivals are placed as a scheduler unaware of dependencies would: each tier on the
//! datacenter nearest its users with room, tiers in their file order.

use super::arrivals::Instance;
use crate::continuum::Datacenter;
use crate::scenario::{EcosystemSpec, Scenario, TierSpec};
use crate::step_loop::{network, Net};
use smo_core::ecosystem::{EcosystemMap, Side, Topology, Weights};
use smo_plugin_api::{Cluster, ClusterRole, EnergyProfile, Location, RVec, Resources};
use std::collections::{BTreeMap, HashMap};

/// A deployed tier.
#[derive(Debug, Clone)]
pub struct Workload {
    pub dc: usize,
    pub server: u32,
    pub demand: Resources,
    /// Index of its application instance.
    pub instance: usize,
    pub tier: usize,
    pub state_gib: f64,
}

/// What one step measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measure {
    pub workloads: usize,
    pub mean_score: f64,
    pub worst_score: f64,
    /// Workloads below the threshold (or with an unmet required dependency).
    pub below: usize,
    /// Workloads with an unmet required dependency.
    pub violated: usize,
    /// Each live instance's response time, ms (instances whose first tier runs).
    pub response_ms: Vec<f64>,
}

/// A move that was carried out: seconds its workload was down and GiB copied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moved {
    pub seconds: f64,
    pub gib: f64,
}

/// The run's state (see the module documentation).
pub struct World<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) eco: &'a EcosystemSpec,
    pub(super) instances: Vec<Instance>,
    pub(super) dcs: Vec<Datacenter>,
    net: Net,
    pub(super) map: EcosystemMap,
    pub(super) workloads: HashMap<String, Workload>,
    pub(super) weights: Weights,
    /// Tiers no datacenter had room for when they arrived.
    pub unplaced: usize,
    pub deployed: usize,
}

impl<'a> World<'a> {
    pub fn new(sc: &'a Scenario, eco: &'a EcosystemSpec, instances: Vec<Instance>) -> Self {
        let spec = &sc.spec;
        let net = network(sc);
        let mut topology = Topology::default();
        for (a, da) in spec.datacenters.iter().enumerate() {
            topology.locate(&da.name, da.lat, da.lon);
            for (b, db) in spec.datacenters.iter().enumerate().skip(a + 1) {
                topology.measure(&da.name, &db.name, net.dc_lat[a][b]);
            }
        }
        let weights = eco.weights.map_or_else(Weights::default, |w| Weights {
            required: w.required,
            preferred: w.preferred,
            threshold: w.threshold,
            ..Weights::default()
        });
        Self {
            dcs: spec
                .datacenters
                .iter()
                .map(|d| Datacenter::new(d, spec.idle_servers, spec.server_selection))
                .collect(),
            sc,
            eco,
            instances,
            net,
            map: EcosystemMap::new(topology),
            workloads: HashMap::new(),
            weights,
            unplaced: 0,
            deployed: 0,
        }
    }

    fn tier(&self, w: &Workload) -> &'a TierSpec {
        let eco: &'a EcosystemSpec = self.eco;
        &eco.applications[self.instances[w.instance].template].tiers[w.tier]
    }

    /// Instance `i` arrives: each tier on the nearest datacenter with room.
    pub fn arrive(&mut self, i: usize) {
        let instance = &self.instances[i];
        let user = instance.user;
        let app = &self.eco.applications[instance.template];
        let name = instance.name.clone();
        let mut nearest: Vec<usize> = (0..self.dcs.len()).collect();
        nearest.sort_by(|a, b| {
            self.net.user_lat[user][*a]
                .total_cmp(&self.net.user_lat[user][*b])
                .then(a.cmp(b))
        });
        for (t, tier) in app.tiers.iter().enumerate() {
            // Checked with the scenario: a declaration that fails here cannot occur.
            let Ok(declaration) = tier.declaration(&name) else {
                continue;
            };
            let demand = Resources::new(tier.cpu, tier.memory_gib * 1024.0, 0);
            let placed = nearest
                .iter()
                .find_map(|&d| self.dcs[d].place(&demand, 1.0).map(|server| (d, server)));
            let Some((dc, server)) = placed else {
                self.unplaced += 1;
                continue;
            };
            self.deployed += 1;
            let state_gib = declaration.provides.state_gib.unwrap_or(0.0);
            let workload_name = declaration.vm_name.clone();
            self.map.upsert(
                declaration,
                Some(name.clone()),
                &self.sc.spec.datacenters[dc].name,
            );
            self.workloads.insert(
                workload_name,
                Workload {
                    dc,
                    server,
                    demand,
                    instance: i,
                    tier: t,
                    state_gib,
                },
            );
        }
    }

    /// Instance `i` leaves: its tiers are released.
    pub fn leave(&mut self, i: usize) {
        let instance = &self.instances[i];
        let app = &self.eco.applications[instance.template];
        for tier in &app.tiers {
            let name = format!("{}/{}", instance.name, tier.name);
            if let Some(w) = self.workloads.remove(&name) {
                self.dcs[w.dc].release(w.server, &w.demand, 1.0);
                self.map.remove(&name);
            }
        }
    }

    /// Moves workload `name` to datacenter `to`: its state is copied over the link between the
    /// two, and it is down `ecosystem.downtime_s` besides. `None` when it cannot move there.
    pub fn relocate(&mut self, name: &str, to: &str) -> Option<Moved> {
        let d = self
            .sc
            .spec
            .datacenters
            .iter()
            .position(|dc| dc.name == to)?;
        let w = self.workloads.get(name)?.clone();
        if w.dc == d {
            return None;
        }
        let server = self.dcs[d].place(&w.demand, 1.0)?;
        self.dcs[w.dc].release(w.server, &w.demand, 1.0);
        let mbps = self.net.dc_bw[w.dc][d];
        let copy_s = if mbps > 0.0 {
            w.state_gib * 8.0 * 1024.0 / mbps
        } else {
            0.0
        };
        self.map.move_to(name, to);
        if let Some(entry) = self.workloads.get_mut(name) {
            entry.dc = d;
            entry.server = server;
        }
        Some(Moved {
            seconds: self.eco.downtime_s + copy_s,
            gib: w.state_gib,
        })
    }

    /// The default link bandwidth, Gb/s (what the host offers strategies for a copy).
    pub fn bandwidth_gbps(&self) -> f64 {
        self.sc.spec.network.bandwidth_mbps / 1000.0
    }

    /// The datacenters as strategies see them (capacity and what is free).
    pub fn clusters(&self) -> RVec<Cluster> {
        self.sc
            .spec
            .datacenters
            .iter()
            .zip(&self.dcs)
            .map(|(spec, dc)| Cluster {
                name: spec.name.as_str().into(),
                role: match spec.role {
                    crate::scenario::Role::Cloud => ClusterRole::Cloud,
                    crate::scenario::Role::Edge => ClusterRole::Edge,
                    crate::scenario::Role::Iot => ClusterRole::Iot,
                },
                location: Location {
                    lat: spec.lat,
                    lon: spec.lon,
                    region: spec.region.as_str().into(),
                },
                capacity: dc.capacity,
                available: dc.free(),
                energy: EnergyProfile {
                    pue: spec.pue,
                    ..EnergyProfile::default()
                },
                prices: Default::default(),
                labels: RVec::new(),
                extra: "{}".into(),
            })
            .collect()
    }

    /// Time workload `id` takes for one call, ms: its processing, and for each of its
    /// requirements the calls per request to the nearest neighbour that meets its kind (a
    /// round trip there and that neighbour's processing).
    fn call_ms(&self, id: usize, w: &Workload) -> f64 {
        let tier = self.tier(w);
        let mut nearest: BTreeMap<(u8, usize), (f64, usize)> = BTreeMap::new();
        for edge in self.map.edges_from(id) {
            let key = (u8::from(edge.side == Side::Preferred), edge.index);
            let better = nearest
                .get(&key)
                .is_none_or(|(ms, _)| edge.latency_ms < *ms);
            if better {
                nearest.insert(key, (edge.latency_ms, edge.to));
            }
        }
        let declaration = self.map.declaration(id);
        let mut ms = tier.processing_ms;
        for ((side, index), (latency, to)) in nearest {
            let kind = declaration.and_then(|d| {
                let list = if side == 0 {
                    &d.dependencies.required
                } else {
                    &d.dependencies.preferred
                };
                list.get(index).and_then(|r| r.kind.as_deref())
            });
            let neighbour_ms = self
                .map
                .describe(to)
                .and_then(|(name, _, _)| self.workloads.get(name))
                .map_or(0.0, |n| self.tier(n).processing_ms);
            ms += tier.calls_to(kind) * (2.0 * latency + neighbour_ms);
        }
        ms
    }

    /// The scores and response times now.
    pub fn measure(&self) -> Measure {
        let scores = self.map.scores(&self.weights);
        let mut m = Measure {
            workloads: scores.len(),
            worst_score: if scores.is_empty() { 1.0 } else { f64::MAX },
            ..Measure::default()
        };
        for s in &scores {
            m.mean_score += s.score;
            m.worst_score = m.worst_score.min(s.score);
            m.below += usize::from(s.violated || s.score < self.weights.threshold);
            m.violated += usize::from(s.violated);
        }
        m.mean_score = if scores.is_empty() {
            1.0
        } else {
            m.mean_score / scores.len() as f64
        };
        // Each live instance's users call its first tier.
        let mut entries: Vec<(&String, &Workload)> =
            self.workloads.iter().filter(|(_, w)| w.tier == 0).collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (name, w) in entries {
            let Some(id) = self.map.id(name) else {
                continue;
            };
            let user = self.instances[w.instance].user;
            m.response_ms
                .push(2.0 * self.net.user_lat[user][w.dc] + self.call_ms(id, w));
        }
        m
    }
}
