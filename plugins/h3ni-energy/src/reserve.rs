//! Room promised to scalable service graphs (a share of their growth up to `max_replicas`),
//! held back from other requests (VM batches) so that the services can scale where placed.
//!
//! A promise lasts while its graph exists: a request whose `extra` lists the host's graphs
//! (`graphs`) drops the promises of graphs not listed (deleted under `smo serve`). Time 0 is
//! "unknown" (an initial placement from a host that sends no clock) and never starts a new run.

use smo_plugin_api::{PlacementDecision, PlacementRequest, Resources};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Held room that several strategies read and write.
pub type SharedReservations = Arc<Mutex<Reservations>>;

/// The store every strategy this plugin exports shares: one continuum, one set of promises
/// (keyed by graph). Strategies made in tests have their own.
pub fn plugin_wide() -> SharedReservations {
    static STORE: OnceLock<SharedReservations> = OnceLock::new();
    STORE.get_or_init(SharedReservations::default).clone()
}

/// The growth promised to one placed scalable service: `share` of the replicas it may still
/// add (up to `max_replicas`) on the cluster it runs on.
#[derive(Debug, Clone)]
struct Hold {
    cluster: String,
    service: String,
    per_replica: Resources,
    max_replicas: u32,
    /// Replicas it runs: as placed, then as the scaling strategy last set them.
    replicas: u32,
    share: f64,
}

impl Hold {
    fn room(&self) -> Resources {
        let n = f64::from(self.max_replicas.saturating_sub(self.replicas)) * self.share;
        Resources::new(
            self.per_replica.cpu * n,
            self.per_replica.memory_mib * n,
            (f64::from(self.per_replica.gpu) * n).ceil() as u32,
        )
    }
}

/// Per graph, the room held for its services; forgotten when time goes back (a new run).
#[derive(Debug, Default)]
pub struct Reservations {
    last_time_s: i64,
    by_graph: HashMap<String, Vec<Hold>>,
}

impl Reservations {
    /// Starts over when `time_s` is before the last call seen (a new simulation run); a time
    /// of 0 or less says nothing (no clock in the request) and changes nothing.
    fn clock(&mut self, time_s: i64) {
        if time_s <= 0 {
            return;
        }
        if time_s < self.last_time_s {
            self.by_graph.clear();
        }
        self.last_time_s = time_s;
    }

    /// Forgets the promises of graphs the host no longer has: `req.extra.graphs`, when the
    /// host sends it, names every graph it holds. Returns the graphs forgotten.
    pub fn keep_listed(&mut self, req: &PlacementRequest) -> Vec<String> {
        let Some(listed) = listed_graphs(req.extra.as_str()) else {
            return Vec::new();
        };
        let gone: Vec<String> = self
            .by_graph
            .keys()
            .filter(|g| *g != req.graph.name.as_str() && !listed.contains(g.as_str()))
            .cloned()
            .collect();
        for g in &gone {
            self.by_graph.remove(g);
        }
        gone
    }

    /// The graphs other than `graph` holding room, by name.
    pub fn holders_except(&self, graph: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_graph
            .keys()
            .filter(|g| *g != graph)
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Room held for graphs other than `graph`, per cluster name.
    pub fn held_for_others(&mut self, graph: &str, time_s: i64) -> HashMap<String, Resources> {
        self.clock(time_s);
        let mut held: HashMap<String, Resources> = HashMap::new();
        for (g, holds) in &self.by_graph {
            if g == graph {
                continue;
            }
            for hold in holds {
                let r = hold.room();
                let h = held.entry(hold.cluster.clone()).or_default();
                h.cpu += r.cpu;
                h.memory_mib += r.memory_mib;
                h.gpu += r.gpu;
            }
        }
        held
    }

    /// Records what `decision` promises to the scalable services of `req` (alpha > 0):
    /// `share` of their growth to `max_replicas`. A graph without such services holds nothing
    /// (VM batches).
    pub fn record(&mut self, req: &PlacementRequest, decision: &PlacementDecision, share: f64) {
        self.clock(req.telemetry.time_unix_s);
        let mut holds = Vec::new();
        for a in decision.placement.assignments.iter() {
            let Some(s) = req.graph.services.iter().find(|s| s.name == a.service) else {
                continue;
            };
            if s.scaling.alpha <= 0.0 || share <= 0.0 {
                continue;
            }
            holds.push(Hold {
                cluster: a.cluster.to_string(),
                service: a.service.to_string(),
                per_replica: s.demand,
                max_replicas: s.scaling.max_replicas,
                replicas: a.replicas,
                share,
            });
        }
        let graph = req.graph.name.to_string();
        if holds.is_empty() {
            self.by_graph.remove(&graph);
        } else {
            self.by_graph.insert(graph, holds);
        }
    }

    /// The scaling strategy set `service` of `graph` on `cluster` to `replicas`: what it may
    /// still add is held from then on (the replicas it added use the cluster's room already).
    pub fn scaled(
        &mut self,
        graph: &str,
        cluster: &str,
        service: &str,
        replicas: u32,
        time_s: i64,
    ) {
        self.clock(time_s);
        for hold in self.by_graph.get_mut(graph).into_iter().flatten() {
            if hold.cluster == cluster && hold.service == service {
                hold.replicas = replicas;
            }
        }
    }
}

/// The graphs a request's `extra` lists (the names of the graphs the host holds,
/// [`PlacementRequestExtra`]), if the host sent any.
fn listed_graphs(extra: &str) -> Option<std::collections::HashSet<String>> {
    extra::read::<PlacementRequestExtra>(extra)
        .ok()
        .filter(|e| !e.graphs.is_empty())
        .map(|e| e.graphs.into_iter().collect())
}

use smo_plugin_api::extra::{self, PlacementRequestExtra};

#[cfg(test)]
mod tests {
    use crate::params::PlacementParams;
    use crate::placement::tests::{cluster, params, request, service};
    use crate::EnergyPlacement;
    use smo_plugin_api::prelude::*;

    /// A placement strategy (own store) holding half of a placed service's growth.
    fn half_held() -> EnergyPlacement {
        EnergyPlacement::new(PlacementParams {
            growth_reserve: 0.5,
            ..params()
        })
    }

    /// A scalable `web` (2 cores a replica, up to 5) on `edge` at time 100, then a batch of
    /// four 3-core VMs at `vm_time` with `edge` 2 cores used by web.
    fn run(vm_time: i64) -> (PlacementDecision, PlacementDecision) {
        let strategy = half_held();
        let (web, batch) = requests(vm_time);
        let placed = strategy.place(&web).expect("web placed");
        (placed, strategy.place(&batch).expect("VMs placed"))
    }

    /// The two requests of [`run`]: web at time 100, the VM batch at `vm_time`.
    fn requests(vm_time: i64) -> (PlacementRequest, PlacementRequest) {
        let edge = cluster("edge", 16.0, 1.0, 10.0, 0.0);
        let cloud = cluster("cloud", 64.0, 1.5, 300.0, 0.0);
        let mut web = service("web", 2.0);
        web.scaling = ScalingProfile {
            alpha: 10.0,
            beta: 0.0,
            min_replicas: 1,
            max_replicas: 5,
        };
        let mut req = request(vec![edge.clone(), cloud.clone()], vec![web]);
        req.graph.name = "shop".into();
        req.telemetry.time_unix_s = 100;
        let mut edge = edge;
        edge.available.cpu -= 2.0;
        let vms: Vec<Service> = (0..4).map(|i| service(&format!("vm-{i}"), 3.0)).collect();
        let mut batch = request(vec![edge, cloud], vms);
        batch.graph.name = "vms".into();
        batch.telemetry.time_unix_s = vm_time;
        (req, batch)
    }

    fn on(d: &PlacementDecision, c: &str) -> usize {
        d.placement
            .assignments
            .iter()
            .filter(|a| a.cluster.as_str() == c)
            .count()
    }

    #[test]
    fn a_scalable_service_keeps_room_to_grow_where_it_runs() {
        // web may grow by 4 replicas (8 cores); half of that (4 cores) is held on edge. Edge
        // room for the VMs: 0.9 x 16 - 2 - 4 = 8.4 cores: two 3-core VMs, the others go to
        // the cloud (without the hold, 12.4 cores: all four would fit the cheaper edge).
        let (web, vms) = run(200);
        assert_eq!(web.placement.cluster_of("web"), Some("edge"));
        assert_eq!((on(&vms, "edge"), on(&vms, "cloud")), (2, 2));
    }

    #[test]
    fn strategies_sharing_a_store_see_each_others_holds() {
        // web placed by one strategy, the VMs by another sharing its store: the hold is
        // kept (two VMs on edge); with a store of its own the second sees none (all four).
        let store = crate::reserve::SharedReservations::default();
        let make = half_held;
        let (first, second) = (make().sharing(store.clone()), make().sharing(store));
        let (web, batch) = requests(200);
        first.place(&web).expect("web placed");
        let vms = second.place(&batch).expect("VMs placed");
        assert_eq!((on(&vms, "edge"), on(&vms, "cloud")), (2, 2));
        let (web, batch) = requests(200);
        make().place(&web).expect("web placed");
        assert_eq!(on(&make().place(&batch).expect("VMs placed"), "edge"), 4);
    }

    #[test]
    fn replicas_the_scaling_added_are_no_longer_held() {
        // web is placed with 1 replica (4 cores held: half of 4 more x 2 cores), then
        // h3ni-energy/predictive, sharing the store, scales it to 3 for 25 rps: 2 more may still
        // come, 2 cores held. Edge room for the VMs: 0.9 x 16 - 6 - 2 = 6.4 cores, two 3-core
        // VMs (holding the placed growth again, 4.4 cores: one).
        let store = crate::reserve::SharedReservations::default();
        let strategy = half_held().sharing(store.clone());
        let (web, mut batch) = requests(200);
        let placed = strategy.place(&web).expect("web placed");
        let scaling =
            crate::Predictive::new(crate::params::ScalingParams::default()).sharing(store);
        let mut telemetry = Telemetry {
            time_unix_s: 150,
            ..Telemetry::default()
        };
        telemetry.loads.push(ServiceLoad {
            service: "web".into(),
            current_rps: 25.0,
            predicted_rps: 25.0,
            cpu_utilisation: 0.0,
            memory_utilisation: 0.0,
            response_time_ms: 0.0,
        });
        let edge = web.clusters[0].clone();
        let scaled = scaling
            .scale(&ScalingRequest {
                graph: web.graph.clone(),
                cluster: edge,
                placement: placed.placement.clone(),
                telemetry,
                extra: RString::new(),
            })
            .expect("scaled");
        assert_eq!(scaled.replicas[0].replicas, 3, "{:?}", scaled.reasons);
        batch.clusters[0].available.cpu -= 4.0; // the two replicas added (2 cores each)
        let vms = strategy.place(&batch).expect("VMs placed");
        assert_eq!((on(&vms, "edge"), on(&vms, "cloud")), (2, 2));
    }

    #[test]
    fn the_hold_of_a_graph_the_host_no_longer_lists_is_released() {
        // The VM batch's request lists the host's graphs: while "shop" is listed its hold
        // stands (two VMs on edge); once the host has deleted it, all four fit edge.
        let strategy = half_held();
        let (web, mut batch) = requests(200);
        strategy.place(&web).expect("web placed");
        batch.extra = r#"{"graphs":["shop","vms"]}"#.into();
        let kept = strategy.place(&batch).expect("VMs placed");
        assert_eq!(on(&kept, "edge"), 2);
        assert!(
            kept.reasons.iter().any(|r| r.contains("held for shop")),
            "{:?}",
            kept.reasons
        );
        batch.extra = r#"{"graphs":["vms"]}"#.into();
        let released = strategy.place(&batch).expect("VMs placed");
        assert_eq!(on(&released, "edge"), 4);
        assert!(
            released.reasons.iter().any(|r| r.contains("released")),
            "{:?}",
            released.reasons
        );
    }

    #[test]
    fn a_request_without_a_clock_keeps_the_holds() {
        // An initial placement from a host that sends no time (0) after calls with a clock:
        // not a new run, the hold stands (two VMs on edge, not four).
        let (web, mut batch) = requests(200);
        let strategy = half_held();
        strategy.place(&web).expect("web placed");
        batch.telemetry.time_unix_s = 0;
        assert_eq!(on(&strategy.place(&batch).expect("VMs placed"), "edge"), 2);
    }

    #[test]
    fn the_hold_is_forgotten_when_time_goes_back() {
        // A call before the last one seen starts a new run: nothing is held any more.
        let (_, vms) = run(50);
        assert_eq!(on(&vms, "edge"), 4);
    }
}
