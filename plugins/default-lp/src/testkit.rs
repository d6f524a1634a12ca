//! Builders for the unit tests: services, clusters, graphs and requests in one line each.
//! Compiled only for `cargo test`.

use smo_plugin_api::prelude::*;
use smo_plugin_api::types::Placement as PlacementRecord;

/// A service with a per-replica demand, one replica and the default scaling profile.
pub fn service(name: &str, cpu: f64, memory_mib: f64, gpu: u32) -> Service {
    Service {
        name: name.into(),
        demand: Resources::new(cpu, memory_mib, gpu),
        replicas: 1,
        scaling: ScalingProfile::default(),
        dependencies: RVec::new(),
        allowed_clusters: RVec::new(),
        labels: RVec::new(),
        extra: "{}".into(),
    }
}

/// Fluent additions to a test service.
pub trait ServiceExt {
    fn requires(self, other: &str) -> Service;
    fn prefers(self, other: &str) -> Service;
    fn allowed(self, clusters: &[&str]) -> Service;
    fn scaling(self, alpha: f64, beta: f64, min: u32, max: u32) -> Service;
}

impl ServiceExt for Service {
    fn requires(mut self, other: &str) -> Service {
        self.dependencies.push(Dependency {
            service: other.into(),
            kind: DependencyKind::Required,
        });
        self
    }
    fn prefers(mut self, other: &str) -> Service {
        self.dependencies.push(Dependency {
            service: other.into(),
            kind: DependencyKind::Preferred,
        });
        self
    }
    fn allowed(mut self, clusters: &[&str]) -> Service {
        self.allowed_clusters = clusters.iter().map(|c| RString::from(*c)).collect();
        self
    }
    fn scaling(mut self, alpha: f64, beta: f64, min: u32, max: u32) -> Service {
        self.scaling = ScalingProfile {
            alpha,
            beta,
            min_replicas: min,
            max_replicas: max,
        };
        self
    }
}

/// A cluster whose whole capacity is available.
pub fn cluster(name: &str, cpu: f64, memory_mib: f64, gpu: u32) -> Cluster {
    let r = Resources::new(cpu, memory_mib, gpu);
    Cluster {
        name: name.into(),
        role: ClusterRole::Edge,
        location: Location::default(),
        capacity: r,
        available: r,
        energy: EnergyProfile::default(),
        prices: Prices::default(),
        labels: RVec::new(),
        extra: "{}".into(),
    }
}

pub fn graph_of(services: Vec<Service>) -> Graph {
    Graph {
        name: "g".into(),
        services: services.into_iter().collect(),
    }
}

/// `(service, cluster, replicas)` triples as a placement.
pub fn placement_of(assignments: &[(&str, &str, u32)]) -> PlacementRecord {
    PlacementRecord {
        assignments: assignments
            .iter()
            .map(|(s, c, r)| Assignment {
                service: (*s).into(),
                cluster: (*c).into(),
                replicas: *r,
            })
            .collect(),
    }
}

pub fn placement_request(
    graph: Graph,
    clusters: Vec<Cluster>,
    current: Option<Vec<(&str, &str, u32)>>,
) -> PlacementRequest {
    PlacementRequest {
        graph,
        clusters: clusters.into_iter().collect(),
        current: match current {
            Some(c) => ROption::RSome(placement_of(&c)),
            None => ROption::RNone,
        },
        telemetry: Telemetry::default(),
        extra: "{}".into(),
    }
}

/// Load of one service: `(name, current_rps, predicted_rps)`.
pub fn loads(values: &[(&str, f64, f64)]) -> Telemetry {
    Telemetry {
        loads: values
            .iter()
            .map(|(s, c, p)| ServiceLoad {
                service: (*s).into(),
                current_rps: *c,
                predicted_rps: *p,
                cpu_utilisation: 0.0,
                memory_utilisation: 0.0,
                response_time_ms: 0.0,
            })
            .collect(),
        ..Telemetry::default()
    }
}

pub fn scaling_request(
    graph: Graph,
    cluster: Cluster,
    current: &[(&str, u32)],
    telemetry: Telemetry,
) -> ScalingRequest {
    let name = cluster.name.to_string();
    let assignments: Vec<(&str, &str, u32)> = current
        .iter()
        .map(|(s, r)| (*s, name.as_str(), *r))
        .collect();
    ScalingRequest {
        graph,
        cluster,
        placement: placement_of(&assignments),
        telemetry,
        extra: "{}".into(),
    }
}

/// The cluster a decision put `service` on.
pub fn cluster_of<'a>(decision: &'a PlacementDecision, service: &str) -> &'a str {
    decision
        .placement
        .cluster_of(service)
        .unwrap_or("<unplaced>")
}
