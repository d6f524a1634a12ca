//! Builders for tests and benches (the `testing` feature): services, clusters, graphs and
//! requests in one line each, with fluent additions, so that no crate writes them again.

use crate::prelude::*;
use crate::types::Placement as PlacementRecord;

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

/// A cluster (role edge, at 0°N 0°E, default energy profile and prices) whose whole capacity
/// is available.
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

/// Fluent additions to a test cluster.
pub trait ClusterExt {
    fn role(self, role: ClusterRole) -> Cluster;
    /// Coordinates (degrees).
    fn at(self, lat: f64, lon: f64) -> Cluster;
    /// What is left free of its capacity.
    fn available(self, cpu: f64, memory_mib: f64, gpu: u32) -> Cluster;
    /// Grid carbon intensity (g/kWh) and PUE.
    fn grid(self, carbon_intensity_g_per_kwh: f64, pue: f64) -> Cluster;
    /// Idle and peak power of the whole cluster (W).
    fn power(self, idle_w: f64, peak_w: f64) -> Cluster;
    /// Its `extra` JSON.
    fn extra(self, json: &str) -> Cluster;
}

impl ClusterExt for Cluster {
    fn role(mut self, role: ClusterRole) -> Cluster {
        self.role = role;
        self
    }
    fn at(mut self, lat: f64, lon: f64) -> Cluster {
        self.location.lat = lat;
        self.location.lon = lon;
        self
    }
    fn available(mut self, cpu: f64, memory_mib: f64, gpu: u32) -> Cluster {
        self.available = Resources::new(cpu, memory_mib, gpu);
        self
    }
    fn grid(mut self, carbon_intensity_g_per_kwh: f64, pue: f64) -> Cluster {
        self.energy.carbon_intensity_g_per_kwh = carbon_intensity_g_per_kwh;
        self.energy.pue = pue;
        self
    }
    fn power(mut self, idle_w: f64, peak_w: f64) -> Cluster {
        self.energy.idle_power_w = idle_w;
        self.energy.peak_power_w = peak_w;
        self
    }
    fn extra(mut self, json: &str) -> Cluster {
        self.extra = json.into();
        self
    }
}

/// Three clusters in the shape of smo's built-in inventory: an edge in Athens (16 cores), a
/// GPU cloud in Stockholm (128 cores, 8 GPUs) and a cloud in Frankfurt (256 cores).
pub fn three_clusters() -> Vec<Cluster> {
    vec![
        cluster("edge-athens", 16.0, 32_768.0, 0).at(37.98, 23.73),
        cluster("cloud-gpu-stockholm", 128.0, 1_048_576.0, 8)
            .role(ClusterRole::Cloud)
            .at(59.33, 18.07),
        cluster("cloud-frankfurt", 256.0, 1_048_576.0, 0)
            .role(ClusterRole::Cloud)
            .at(50.11, 8.68),
    ]
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
