//! Deterministic synthetic instances for the benchmarks: clusters, services with dependencies
//! and GPUs, a current placement that no longer fits, and per-service loads.

#![allow(dead_code)]

use smo_plugin_api::prelude::*;
use smo_plugin_api::testing::{cluster, service};
use smo_plugin_api::types::Placement as PlacementRecord;

/// xorshift64: reproducible without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `services` services on `clusters` clusters at about 65% CPU load: 5% of services need a GPU
/// (every 5th cluster has 4), every 10th service requires its successor, 20% prefer a random
/// other service. The current placement is a random feasible one; then every 10th cluster loses
/// 40% of its available resources, so some services must move.
pub fn replacement_request(services: usize, clusters: usize, seed: u64) -> PlacementRequest {
    let mut rng = Rng::new(seed);
    let mut list: Vec<Service> = (0..services)
        .map(|i| {
            let gpu = u32::from(rng.below(20) == 0);
            let (cpu, memory_mib) = (rng.range(0.25, 2.0), rng.range(256.0, 4096.0));
            service(&format!("svc-{i:04}"), cpu, memory_mib, gpu)
        })
        .collect();
    for i in 0..services {
        if i % 10 == 0 && i + 1 < services {
            let next = list[i + 1].name.clone();
            list[i].dependencies.push(Dependency {
                service: next,
                kind: DependencyKind::Required,
            });
        }
        if rng.below(5) == 0 {
            let other = list[rng.below(services)].name.clone();
            list[i].dependencies.push(Dependency {
                service: other,
                kind: DependencyKind::Preferred,
            });
        }
    }
    let total_cpu: f64 = list.iter().map(|s| s.demand.cpu).sum();
    let total_mem: f64 = list.iter().map(|s| s.demand.memory_mib).sum();
    let mean_cpu = total_cpu / 0.65 / clusters as f64;
    let mean_mem = total_mem / 0.65 / clusters as f64;
    let mut inventory: Vec<Cluster> = (0..clusters)
        .map(|e| {
            let scale = rng.range(0.6, 1.4);
            let gpus = if e % 5 == 0 { 4 } else { 0 };
            cluster(
                &format!("cl-{e:03}"),
                mean_cpu * scale,
                mean_mem * scale,
                gpus,
            )
        })
        .collect();

    // A random feasible current placement, co-located pairs together.
    let mut free: Vec<Resources> = inventory.iter().map(|c| c.available).collect();
    let mut current = Vec::new();
    let mut i = 0;
    while i < services {
        let group = if i % 10 == 0 && i + 1 < services {
            2
        } else {
            1
        };
        let need = (i..i + group).fold(Resources::default(), |acc, s| {
            let d = list[s].demand;
            Resources::new(
                acc.cpu + d.cpu,
                acc.memory_mib + d.memory_mib,
                acc.gpu + d.gpu,
            )
        });
        let mut placed = None;
        for _ in 0..10 * clusters {
            let e = rng.below(clusters);
            if free[e].fits(&need) {
                placed = Some(e);
                break;
            }
        }
        let e = placed.unwrap_or_else(|| {
            (0..clusters)
                .find(|&e| free[e].fits(&need))
                .unwrap_or_else(|| panic!("generator: no room for service {i}"))
        });
        free[e] = free[e].minus(&need);
        for s in &list[i..i + group] {
            current.push(Assignment {
                service: s.name.clone(),
                cluster: inventory[e].name.clone(),
                replicas: 1,
            });
        }
        i += group;
    }
    for (e, c) in inventory.iter_mut().enumerate() {
        if e % 10 == 3 {
            c.available = Resources::new(
                c.available.cpu * 0.6,
                c.available.memory_mib * 0.6,
                c.available.gpu,
            );
        }
    }
    PlacementRequest {
        graph: Graph {
            name: "bench".into(),
            services: list.into_iter().collect(),
        },
        clusters: inventory.into_iter().collect(),
        current: ROption::RSome(PlacementRecord {
            assignments: current.into_iter().collect(),
        }),
        telemetry: Telemetry::default(),
        extra: "{}".into(),
    }
}

/// `services` services on one roomy cluster, with random profiles, replicas and loads.
pub fn scaling_request(services: usize, seed: u64) -> ScalingRequest {
    let mut rng = Rng::new(seed);
    let mut list = Vec::new();
    let mut assignments = Vec::new();
    let mut loads = Vec::new();
    for i in 0..services {
        let (cpu, memory_mib) = (rng.range(0.1, 1.0), rng.range(128.0, 1024.0));
        let mut s = service(&format!("svc-{i:04}"), cpu, memory_mib, 0);
        s.scaling = ScalingProfile {
            alpha: rng.range(5.0, 50.0),
            beta: rng.range(-5.0, 5.0),
            min_replicas: 1,
            max_replicas: 2 + rng.below(15) as u32,
        };
        let current = rng.range(0.0, 400.0);
        loads.push(ServiceLoad {
            service: s.name.clone(),
            current_rps: current,
            predicted_rps: current * rng.range(0.7, 1.3),
            cpu_utilisation: 0.5,
            memory_utilisation: 0.5,
            response_time_ms: 0.0,
        });
        assignments.push(Assignment {
            service: s.name.clone(),
            cluster: "big".into(),
            replicas: 1 + rng.below(10) as u32,
        });
        list.push(s);
    }
    ScalingRequest {
        graph: Graph {
            name: "bench".into(),
            services: list.into_iter().collect(),
        },
        cluster: cluster("big", 2000.0, 4_000_000.0, 0),
        placement: PlacementRecord {
            assignments: assignments.into_iter().collect(),
        },
        telemetry: Telemetry {
            loads: loads.into_iter().collect(),
            ..Telemetry::default()
        },
        extra: "{}".into(),
    }
}
