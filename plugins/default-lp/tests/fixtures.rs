//! The two upstream NEPHELE descriptors (tests/fixtures/hdag at the repository root), parsed
//! just enough to build graphs, placed by every default-lp placement on a 3-cluster inventory.

use serde_norway::Value;
use smo_default_lp::{FirstFit, MilpPlacement, Params};
use smo_plugin_api::prelude::*;
use smo_plugin_api::testing::cluster;
use smo_plugin_api::types::Placement as PlacementRecord;
use std::path::PathBuf;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hdag")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Research notes, section 1.1: light/small/medium/large CPU cores and memory.
fn cpu_cores(intent: &str) -> f64 {
    match intent {
        "light" => 0.5,
        "small" => 1.0,
        "medium" => 4.0,
        "large" => 8.0,
        other => panic!("unknown cpu intent {other}"),
    }
}

fn memory_mib(intent: &str) -> f64 {
    match intent {
        "light" => 500.0,
        "small" => 1024.0,
        "medium" => 2048.0,
        "large" => 8192.0,
        other => panic!("unknown ram intent {other}"),
    }
}

/// Upstream compares with the string "True", so a YAML boolean `true` gave 0: both count here.
fn gpu_flag(enabled: &Value) -> u32 {
    match enabled {
        Value::Bool(true) => 1,
        Value::String(s) if s.eq_ignore_ascii_case("true") => 1,
        _ => 0,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|seq| {
            seq.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Translates an `hdaGraph`: intents to demand, `coLocation` to required and
/// `connectionPoints` to preferred dependencies.
fn graph_from(doc: &Value) -> Graph {
    let hdag = &doc["hdaGraph"];
    let name = hdag["id"].as_str().expect("hdaGraph.id");
    let services = hdag["services"]
        .as_sequence()
        .expect("hdaGraph.services")
        .iter()
        .map(|s| {
            let intent = &s["deployment"]["intent"];
            let compute = &intent["compute"];
            let mut dependencies: RVec<Dependency> = RVec::new();
            for other in strings(&intent["coLocation"]) {
                dependencies.push(Dependency {
                    service: other.into(),
                    kind: DependencyKind::Required,
                });
            }
            for other in strings(&intent["connectionPoints"]) {
                dependencies.push(Dependency {
                    service: other.into(),
                    kind: DependencyKind::Preferred,
                });
            }
            Service {
                name: s["id"].as_str().expect("service id").into(),
                demand: Resources::new(
                    cpu_cores(compute["cpu"].as_str().expect("cpu intent")),
                    memory_mib(compute["ram"].as_str().expect("ram intent")),
                    gpu_flag(&compute["gpu"]["enabled"]),
                ),
                replicas: 1,
                scaling: ScalingProfile::default(),
                dependencies,
                allowed_clusters: RVec::new(),
                labels: RVec::new(),
                extra: "{}".into(),
            }
        })
        .collect();
    Graph {
        name: name.into(),
        services,
    }
}

/// A small edge, a GPU edge and a cloud.
fn inventory() -> Vec<Cluster> {
    vec![
        cluster("edge-1", 1.5, 2048.0, 0),
        cluster("edge-gpu", 4.0, 4096.0, 1),
        cluster("cloud", 16.0, 32768.0, 0),
    ]
}

fn request(
    graph: Graph,
    clusters: Vec<Cluster>,
    current: Option<PlacementRecord>,
) -> PlacementRequest {
    PlacementRequest {
        graph,
        clusters: clusters.into_iter().collect(),
        current: current.into(),
        telemetry: Telemetry::default(),
        extra: "{}".into(),
    }
}

/// Every service placed once, on a known cluster, GPU services on GPU clusters, and no
/// cluster's available CPU, memory or GPUs exceeded.
fn assert_valid(req: &PlacementRequest, decision: &PlacementDecision) {
    let placement = &decision.placement;
    assert_eq!(placement.assignments.len(), req.graph.services.len());
    let mut used: Vec<Resources> = vec![Resources::default(); req.clusters.len()];
    for service in req.graph.services.iter() {
        let target = placement
            .cluster_of(&service.name)
            .unwrap_or_else(|| panic!("`{}` not placed", service.name));
        let e = req
            .clusters
            .iter()
            .position(|c| c.name.as_str() == target)
            .unwrap_or_else(|| panic!("unknown cluster {target}"));
        if service.demand.gpu > 0 {
            assert!(req.clusters[e].capacity.gpu > 0, "GPU service on {target}");
        }
        let need = service.demand.times(service.replicas.max(1));
        used[e] = Resources::new(
            used[e].cpu + need.cpu,
            used[e].memory_mib + need.memory_mib,
            used[e].gpu + need.gpu,
        );
    }
    for (c, used) in req.clusters.iter().zip(&used) {
        assert!(c.available.fits(used), "{} overfilled: {used:?}", c.name);
    }
}

#[test]
fn descriptors_translate_as_upstream_intends() {
    let brussels = graph_from(&fixture("brussels-demo.yaml"));
    assert_eq!(brussels.name.as_str(), "image-detection-graph");
    let names: Vec<&str> = brussels.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["image-compression-vo", "noise-reduction", "image-detection"]
    );
    assert_eq!(brussels.services[0].demand, Resources::new(0.5, 500.0, 0));
    assert_eq!(brussels.services[1].demand, Resources::new(1.0, 1024.0, 0));
    assert_eq!(brussels.services[1].dependencies.len(), 1);
    let hello = graph_from(&fixture("hello-world.yaml"));
    assert_eq!(hello.services.len(), 1);
    assert_eq!(hello.services[0].demand, Resources::new(1.0, 1024.0, 0));
}

#[test]
fn first_fit_places_both_descriptors_in_inventory_order() {
    let placement = FirstFit::with_params(Params::default());
    let hello = request(graph_from(&fixture("hello-world.yaml")), inventory(), None);
    let d = placement.place(&hello).expect("hello-world fits");
    assert_valid(&hello, &d);
    assert_eq!(d.placement.cluster_of("hello-world"), Some("edge-1"));

    // Brussels: vo (0.5) and noise-reduction (1.0) fill edge-1's 1.5 CPU; detection spills over.
    let brussels = request(
        graph_from(&fixture("brussels-demo.yaml")),
        inventory(),
        None,
    );
    let d = placement.place(&brussels).expect("brussels fits");
    assert_valid(&brussels, &d);
    assert_eq!(
        d.placement.cluster_of("image-compression-vo"),
        Some("edge-1")
    );
    assert_eq!(d.placement.cluster_of("noise-reduction"), Some("edge-1"));
    assert_eq!(d.placement.cluster_of("image-detection"), Some("edge-gpu"));
}

#[test]
fn both_graphs_share_the_inventory() {
    // Place hello-world, subtract its use (what the host does for other graphs), then Brussels.
    let placement = FirstFit::with_params(Params::default());
    let hello = request(graph_from(&fixture("hello-world.yaml")), inventory(), None);
    let first = placement.place(&hello).expect("hello-world fits");
    let mut clusters = inventory();
    for a in first.placement.assignments.iter() {
        let service = &hello.graph.services[0];
        if let Some(c) = clusters.iter_mut().find(|c| c.name == a.cluster) {
            c.available = c.available.minus(&service.demand.times(a.replicas));
        }
    }
    let brussels = request(graph_from(&fixture("brussels-demo.yaml")), clusters, None);
    let d = placement.place(&brussels).expect("brussels still fits");
    assert_valid(&brussels, &d);
    // edge-1 has 0.5 CPU and 1024 MiB left: only the light VO fits there.
    assert_eq!(
        d.placement.cluster_of("image-compression-vo"),
        Some("edge-1")
    );
    assert_ne!(d.placement.cluster_of("noise-reduction"), Some("edge-1"));
}

#[test]
fn a_yaml_true_gpu_flag_sends_the_service_to_the_gpu_cluster() {
    for flag in [Value::Bool(true), Value::String("True".into())] {
        let mut doc = fixture("brussels-demo.yaml");
        doc["hdaGraph"]["services"][0]["deployment"]["intent"]["compute"]["gpu"]["enabled"] =
            flag.clone();
        let graph = graph_from(&doc);
        assert_eq!(graph.services[0].demand.gpu, 1, "flag {flag:?}");
        let req = request(graph, inventory(), None);
        for decision in [
            FirstFit::with_params(Params::default()).place(&req),
            MilpPlacement::with_params(Params::default()).place(&req),
        ] {
            let d = decision.expect("fits");
            assert_valid(&req, &d);
            assert_eq!(
                d.placement.cluster_of("image-compression-vo"),
                Some("edge-gpu")
            );
        }
    }
}

#[test]
fn milp_places_brussels_and_keeps_connected_services_together() {
    // With a strong preference for connected services, the chain vo -> noise -> detection
    // (connectionPoints, read as preferred dependencies) shares one cluster.
    let params = Params {
        w_dep: 1.0,
        ..Params::default()
    };
    let req = request(
        graph_from(&fixture("brussels-demo.yaml")),
        inventory(),
        None,
    );
    let d = MilpPlacement::with_params(params)
        .place(&req)
        .expect("fits");
    assert_valid(&req, &d);
    let first = d.placement.cluster_of("image-compression-vo");
    assert_eq!(d.placement.cluster_of("noise-reduction"), first);
    assert_eq!(d.placement.cluster_of("image-detection"), first);
    assert!(d.objective.is_some());
}

#[test]
fn brussels_replacement_moves_only_what_no_longer_fits() {
    let placement = FirstFit::with_params(Params::default());
    let initial = request(
        graph_from(&fixture("brussels-demo.yaml")),
        inventory(),
        None,
    );
    let first = placement.place(&initial).expect("fits");
    // edge-1 shrinks to 1 CPU: vo (0.5) + noise-reduction (1.0) no longer fit there, and
    // moving either one of them is enough, so exactly one service moves. The connection points
    // (preferred, w_dep = 0.1) decide which: noise-reduction joins image-detection on edge-gpu
    // (1 split left: vo / noise), whereas moving vo would leave 2 splits. Objective 1 + 0.1.
    let mut clusters = inventory();
    clusters[0].available = Resources::new(1.0, 2048.0, 0);
    let again = request(
        graph_from(&fixture("brussels-demo.yaml")),
        clusters,
        Some(first.placement.clone()),
    );
    let d = placement.replace(&again).expect("re-placement");
    assert_valid(&again, &d);
    let moved = first
        .placement
        .assignments
        .iter()
        .filter(|a| d.placement.cluster_of(&a.service) != Some(a.cluster.as_str()))
        .count();
    assert_eq!(moved, 1);
    assert_eq!(d.placement.cluster_of("noise-reduction"), Some("edge-gpu"));
    assert_eq!(
        d.placement.cluster_of("image-compression-vo"),
        Some("edge-1")
    );
    assert_eq!(d.placement.cluster_of("image-detection"), Some("edge-gpu"));
    let objective = d.objective.into_option().unwrap_or(f64::NAN);
    assert!((objective - 1.1).abs() < 1e-9, "{objective}");
}
