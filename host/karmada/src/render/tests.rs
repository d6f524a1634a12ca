//! Rendering the shop fixture (four services without charts) on three clusters: the objects,
//! their order, the replica division and the imports; and the errors that name a field.

use super::*;
use serde_json::{json, Value};
use smo_core::graphs::parse_descriptor;

fn shop() -> GraphSpec {
    let text = include_str!("../../../../tests/fixtures/karmada/shop.yaml");
    parse_descriptor(text).expect("shop descriptor")
}

fn placement() -> Vec<PlacementEntry> {
    vec![
        PlacementEntry::new("frontend", "edge-1", 3),
        PlacementEntry::new("frontend", "cloud-a", 2),
        PlacementEntry::new("catalog", "cloud-a", 2),
        PlacementEntry::new("cart", "edge-1", 1),
        PlacementEntry::new("worker", "cloud-b", 1),
        PlacementEntry::new("worker", "edge-1", 0),
    ]
}

fn find<'a>(manifests: &'a [Manifest], kind: &str, name: &str) -> &'a Value {
    &manifests
        .iter()
        .find(|m| m.kind == kind && m.name == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {:?}", ids(manifests)))
        .body
}

fn ids(manifests: &[Manifest]) -> Vec<String> {
    manifests.iter().map(Manifest::id).collect()
}

#[test]
fn every_object_in_apply_order() {
    let manifests = render_graph(&shop(), &placement(), &RenderOptions::default()).unwrap();
    assert_eq!(
        ids(&manifests),
        [
            "Namespace/smo",
            "Deployment/smo/frontend",
            "Service/smo/frontend",
            "PropagationPolicy/smo/frontend",
            "Deployment/smo/catalog",
            "Service/smo/catalog",
            "PropagationPolicy/smo/catalog",
            "Deployment/smo/cart",
            "Service/smo/cart",
            "PropagationPolicy/smo/cart",
            "Deployment/smo/worker",
            "PropagationPolicy/smo/worker",
            "ServiceExport/smo/catalog",
            "PropagationPolicy/smo/catalog-export",
            "ServiceImport/smo/catalog",
            "PropagationPolicy/smo/catalog-import",
            "ServiceExport/smo/cart",
            "PropagationPolicy/smo/cart-export",
            "ServiceImport/smo/cart",
            "PropagationPolicy/smo/cart-import",
        ]
    );
    for manifest in &manifests[1..] {
        let labels = &manifest.body["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "smo",
            "{}",
            manifest.id()
        );
        assert_eq!(labels["smo.io/graph"], "shop", "{}", manifest.id());
    }
}

#[test]
fn replicas_are_divided_by_static_weight_exactly_as_decided() {
    let manifests = render_graph(&shop(), &placement(), &RenderOptions::default()).unwrap();
    assert_eq!(
        find(&manifests, "Deployment", "frontend")["spec"]["replicas"],
        5
    );
    let placement = &find(&manifests, "PropagationPolicy", "frontend")["spec"]["placement"];
    assert_eq!(
        placement["clusterAffinity"]["clusterNames"],
        json!(["cloud-a", "edge-1"])
    );
    assert_eq!(
        placement["replicaScheduling"],
        json!({
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {"staticWeightList": [
                {"targetCluster": {"clusterNames": ["cloud-a"]}, "weight": 2},
                {"targetCluster": {"clusterNames": ["edge-1"]}, "weight": 3},
            ]}
        })
    );
    // A zero-replica row does not send the worker to edge-1.
    let worker = &find(&manifests, "PropagationPolicy", "worker")["spec"];
    assert_eq!(
        worker["placement"]["clusterAffinity"]["clusterNames"],
        json!(["cloud-b"])
    );
    assert_eq!(
        worker["resourceSelectors"],
        json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"}]),
        "no ports, no Service to select"
    );
}

#[test]
fn the_container_follows_the_descriptor() {
    let manifests = render_graph(&shop(), &placement(), &RenderOptions::default()).unwrap();
    let pod = &find(&manifests, "Deployment", "cart")["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example/shop/cart:0.9");
    assert_eq!(
        container["resources"],
        json!({
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "256Mi", "nvidia.com/gpu": "1"},
        })
    );
    assert_eq!(
        pod["metadata"]["labels"]["app.kubernetes.io/name"], "cart",
        "the pods carry the selector's labels"
    );
    let frontend =
        &find(&manifests, "Deployment", "frontend")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        frontend["env"],
        json!([
            {"name": "CATALOG_URL", "value": "http://catalog.shop.svc.clusterset.local:9000"},
            {"name": "LOG_LEVEL", "value": "info"},
        ])
    );
    let service = &find(&manifests, "Service", "catalog")["spec"];
    assert_eq!(
        service["ports"],
        json!([
            {"name": "http", "port": 9000, "protocol": "TCP", "targetPort": "http"},
            {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": "metrics"},
        ])
    );
}

#[test]
fn a_called_service_is_exported_where_it_runs_and_imported_where_its_callers_run() {
    let manifests = render_graph(&shop(), &placement(), &RenderOptions::default()).unwrap();
    let clusters = |name: &str| {
        find(&manifests, "PropagationPolicy", name)["spec"]["placement"]["clusterAffinity"]
            ["clusterNames"]
            .clone()
    };
    assert_eq!(clusters("catalog-export"), json!(["cloud-a"]));
    // frontend (edge-1, cloud-a) and worker (cloud-b) call catalog; upstream's duplicates go.
    assert_eq!(
        clusters("catalog-import"),
        json!(["cloud-a", "cloud-b", "edge-1"])
    );
    assert_eq!(clusters("cart-import"), json!(["cloud-a", "edge-1"]));
    assert_eq!(
        find(&manifests, "ServiceImport", "cart")["spec"],
        json!({"type": "ClusterSetIP", "ports": [{"name": "p9001", "protocol": "TCP", "port": 9001}]})
    );
}

#[test]
fn the_same_desired_state_renders_the_same_bytes() {
    let first = render_graph(&shop(), &placement(), &RenderOptions::default()).unwrap();
    let mut shuffled = placement();
    shuffled.reverse();
    let second = render_graph(&shop(), &shuffled, &RenderOptions::default()).unwrap();
    assert_eq!(first, second);
}

#[test]
fn a_service_without_replicas_renders_nothing() {
    let rows = vec![PlacementEntry::new("catalog", "cloud-a", 1)];
    let manifests = render_graph(&shop(), &rows, &RenderOptions::default()).unwrap();
    assert_eq!(
        ids(&manifests),
        [
            "Namespace/smo",
            "Deployment/smo/catalog",
            "Service/smo/catalog",
            "PropagationPolicy/smo/catalog"
        ],
        "nobody placed calls catalog: no export"
    );
}

#[test]
fn errors_name_the_field() {
    let graph = shop();
    let unknown = vec![PlacementEntry::new("payments", "edge-1", 1)];
    let error = render_graph(&graph, &unknown, &RenderOptions::default()).unwrap_err();
    assert!(error.to_string().contains("\"payments\""), "{error}");

    let mut no_image = graph.clone();
    if let Some(artifact) = no_image.descriptor.services[2].artifact.as_mut() {
        artifact.image = None;
    }
    let error = render_graph(&no_image, &placement(), &RenderOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("hdaGraph.services[2].artifact: service \"cart\" has no Helm chart"),
        "{error}"
    );

    let bad_namespace = RenderOptions {
        namespace: "Shop_NS".into(),
        ..RenderOptions::default()
    };
    let error = render_graph(&graph, &placement(), &bad_namespace).unwrap_err();
    assert!(
        error.to_string().starts_with("namespace: \"Shop_NS\""),
        "{error}"
    );

    let chart = smo_core::graphs::brussels_demo_spec();
    let rows: Vec<PlacementEntry> = chart
        .services
        .iter()
        .map(|s| PlacementEntry::new(s.name.clone(), "edge-1", 1))
        .collect();
    let error = render_graph(&chart, &rows, &RenderOptions::default()).unwrap_err();
    assert!(
        error.to_string().contains("artifact.ociImage") && error.to_string().contains("helm"),
        "{error}"
    );
}

mod chart_values {
    use super::*;
    use crate::render::values::{chart_values, service_import_clusters};

    /// The Brussels demo placed with its VO (a WoT chart) on two clusters.
    fn brussels() -> (GraphSpec, Vec<PlacementEntry>) {
        let graph = smo_core::graphs::brussels_demo_spec();
        let rows = vec![
            PlacementEntry::new("image-compression-vo", "edge-1", 1),
            PlacementEntry::new("image-compression-vo", "cloud-a", 1),
            PlacementEntry::new("noise-reduction", "cloud-a", 2),
            PlacementEntry::new("image-detection", "cloud-b", 1),
        ];
        (graph, rows)
    }

    #[test]
    fn import_clusters_are_upstreams_callers_clusters_with_duplicates() {
        let (graph, rows) = brussels();
        let placed = placed_services(&graph, &rows).unwrap();
        let imports = service_import_clusters(&placed);
        // image-compression-vo calls noise-reduction, which calls image-detection.
        assert_eq!(imports["noise-reduction"], ["cloud-a", "edge-1"]);
        assert_eq!(imports["image-detection"], ["cloud-a"]);
        assert!(
            !imports.contains_key("image-compression-vo"),
            "nobody calls it"
        );
        let mut twice = rows.clone();
        twice.push(PlacementEntry::new("image-detection", "cloud-a", 1));
        let mut graph = graph;
        graph.services[2].connection_points = vec!["noise-reduction".into()];
        let placed = placed_services(&graph, &twice).unwrap();
        assert_eq!(
            service_import_clusters(&placed)["noise-reduction"],
            ["cloud-a", "edge-1", "cloud-a", "cloud-b"],
            "upstream appends each caller's clusters, duplicates included"
        );
    }

    #[test]
    fn a_wot_chart_gets_its_keys_under_vo_chart_overwrite_and_keeps_its_values() {
        let (graph, rows) = brussels();
        let placed = placed_services(&graph, &rows).unwrap();
        let imports = service_import_clusters(&placed);
        let vo = chart_values(&placed[0], &imports);
        assert_eq!(
            vo,
            json!({
                "voDescriptorOverwrite": {},
                "voChartOverwrite": {
                    "clustersAffinity": ["cloud-a", "edge-1"],
                    "serviceImportClusters": [],
                },
            })
        );
        let helm = chart_values(&placed[1], &imports);
        assert_eq!(
            helm,
            json!({
                "clustersAffinity": ["cloud-a"],
                "serviceImportClusters": ["cloud-a", "edge-1"],
            })
        );
    }
}
