//! The Karmada backend's kube client against a local server that answers as the Karmada API
//! server does and records each request (there is no API server on these machines): the exact
//! requests of deploy, scale, move and delete; observe from ResourceBindings; the inventory
//! following a watch; which failures are retried; a restart that converges without duplicates.

use std::time::Duration;

use serde_json::Value;
use smo_core::graphs::GraphSpec;
use smo_core::placement::PlacementEntry;
use smo_core::ports::continuum::{Continuum, ContinuumError, DesiredState};
use smo_karmada::{KarmadaContinuum, KarmadaSettings};
use smo_tests::fake_apiserver::{Answer, ClusterSpec, FakeApiServer, MemberBehaviour, Recorded};
use smo_tests::repo_root;

fn shop() -> GraphSpec {
    smo_core::graphs::validate_file(repo_root().join("tests/fixtures/karmada/shop.yaml"))
        .expect("the shop descriptor is valid")
}

fn desired(generation: u64, rows: &[(&str, &str, u32)]) -> DesiredState {
    DesiredState {
        server_selection: None,
        generation,
        placement: rows
            .iter()
            .map(|(s, c, r)| PlacementEntry::new(*s, *c, *r))
            .collect(),
    }
}

const FIRST: &[(&str, &str, u32)] = &[
    ("frontend", "edge-1", 3),
    ("frontend", "cloud-a", 2),
    ("catalog", "cloud-a", 2),
    ("cart", "edge-1", 1),
    ("worker", "cloud-b", 1),
];

struct Setup {
    server: FakeApiServer,
    backend: KarmadaContinuum,
    _dir: tempfile::TempDir,
}

async fn setup(timeout: Duration) -> Setup {
    let server = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let backend = connect(&server, &dir, timeout).await;
    Setup {
        server,
        backend,
        _dir: dir,
    }
}

async fn connect(
    server: &FakeApiServer,
    dir: &tempfile::TempDir,
    timeout: Duration,
) -> KarmadaContinuum {
    let settings = KarmadaSettings {
        kubeconfig: Some(server.write_kubeconfig(dir.path())),
        namespace: "shop".into(),
        request_timeout: timeout,
        scheduler_names: [(
            "least_power_shared_idle".to_owned(),
            "smo-binpack".to_owned(),
        )]
        .into(),
        ..KarmadaSettings::default()
    };
    KarmadaContinuum::connect(settings)
        .await
        .expect("a client for the fake API server")
}

fn lines(requests: &[smo_tests::fake_apiserver::Recorded]) -> Vec<String> {
    requests.iter().map(|r| r.line_with_selector()).collect()
}

fn patches(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(Recorded::line)
        .collect()
}

const POLICIES: &str = "/apis/policy.karmada.io/v1alpha1/namespaces/shop/propagationpolicies";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/shop/deployments";

fn weights(policy: &Value) -> Vec<(String, u64)> {
    policy["spec"]["placement"]["replicaScheduling"]["weightPreference"]["staticWeightList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["targetCluster"]["clusterNames"][0]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                w["weight"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_is_one_server_side_apply_per_object_then_a_list_per_kind_to_prune() {
    let setup = setup(Duration::from_secs(5)).await;
    setup
        .backend
        .apply(&shop(), &desired(1, FIRST))
        .await
        .unwrap();
    let requests = setup.server.object_requests(0);
    let services = "/api/v1/namespaces/shop/services";
    let exports = "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/shop/serviceexports";
    let imports = "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/shop/serviceimports";
    let expected_patches: Vec<String> = [
        "/api/v1/namespaces/shop".to_owned(),
        format!("{DEPLOYMENTS}/frontend"),
        format!("{services}/frontend"),
        format!("{POLICIES}/frontend"),
        format!("{DEPLOYMENTS}/catalog"),
        format!("{services}/catalog"),
        format!("{POLICIES}/catalog"),
        format!("{DEPLOYMENTS}/cart"),
        format!("{services}/cart"),
        format!("{POLICIES}/cart"),
        format!("{DEPLOYMENTS}/worker"),
        format!("{POLICIES}/worker"),
        format!("{exports}/catalog"),
        format!("{POLICIES}/catalog-export"),
        format!("{imports}/catalog"),
        format!("{POLICIES}/catalog-import"),
        format!("{exports}/cart"),
        format!("{POLICIES}/cart-export"),
        format!("{imports}/cart"),
        format!("{POLICIES}/cart-import"),
    ]
    .iter()
    .map(|path| format!("PATCH {path}"))
    .collect();
    // The namespace first; then every object once (several in flight, so in any order).
    let sent = patches(&requests);
    assert_eq!(sent[0], expected_patches[0]);
    let mut sent_rest = sent[1..].to_vec();
    let mut expected_rest = expected_patches[1..].to_vec();
    sent_rest.sort();
    expected_rest.sort();
    assert_eq!(sent_rest, expected_rest);
    for patch in requests.iter().filter(|r| r.method == "PATCH") {
        assert_eq!(
            patch.content_type.as_deref(),
            Some("application/apply-patch+yaml"),
            "{}",
            patch.line()
        );
        assert_eq!(
            patch.query.get("fieldManager").map(String::as_str),
            Some("smo")
        );
        assert!(
            !patch.query.contains_key("force"),
            "never forced: {patch:?}"
        );
        let body = patch.body.as_ref().unwrap();
        assert_eq!(
            body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "smo"
        );
        if body["kind"] != "Namespace" {
            assert_eq!(
                body["metadata"]["labels"]["smo.io/graph"],
                "shop",
                "{}",
                patch.line()
            );
        }
        assert_eq!(body["metadata"]["annotations"]["smo.io/generation"], "1");
    }
    // Then one list per kind smo manages (nothing was remembered yet), nothing deleted.
    assert!(requests[..20].iter().all(|r| r.method == "PATCH"));
    let lists: Vec<String> = requests[20..]
        .iter()
        .map(Recorded::line_with_selector)
        .collect();
    assert_eq!(lists.len(), 9, "{lists:#?}");
    assert!(lists
        .iter()
        .all(|l| l.starts_with("GET ") && l.ends_with("?labelSelector=smo.io/graph=shop")));
    let frontend = &setup.server.objects()["PropagationPolicy/shop/frontend"];
    assert_eq!(
        weights(frontend),
        [("cloud-a".to_owned(), 2), ("edge-1".to_owned(), 3)]
    );
    assert_eq!(
        setup.server.objects()["Deployment/shop/frontend"]["spec"]["replicas"],
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_changes_replicas_and_weights_move_changes_affinity_removal_prunes() {
    let setup = setup(Duration::from_secs(5)).await;
    let graph = shop();
    setup
        .backend
        .apply(&graph, &desired(1, FIRST))
        .await
        .unwrap();
    let objects_before = setup.server.objects().len();

    // Scale frontend on edge-1 from 3 to 5.
    let mark = setup.server.request_count();
    let scaled = [
        ("frontend", "edge-1", 5),
        ("frontend", "cloud-a", 2),
        ("catalog", "cloud-a", 2),
        ("cart", "edge-1", 1),
        ("worker", "cloud-b", 1),
    ];
    setup
        .backend
        .apply(&graph, &desired(2, &scaled))
        .await
        .unwrap();
    let requests = setup.server.object_requests(mark);
    assert_eq!(patches(&requests).len(), 20);
    assert!(requests.iter().all(|r| r.method != "DELETE"));
    // Now only the kinds applied are listed to prune.
    assert_eq!(requests.iter().filter(|r| r.method == "GET").count(), 5);
    let objects = setup.server.objects();
    assert_eq!(objects.len(), objects_before, "no object added or lost");
    assert_eq!(objects["Deployment/shop/frontend"]["spec"]["replicas"], 7);
    assert_eq!(
        weights(&objects["PropagationPolicy/shop/frontend"]),
        [("cloud-a".to_owned(), 2), ("edge-1".to_owned(), 5)]
    );
    assert_eq!(
        objects["Deployment/shop/frontend"]["metadata"]["generation"],
        2
    );
    assert_eq!(
        objects["Deployment/shop/catalog"]["metadata"]["generation"], 1,
        "an object that did not change keeps its generation"
    );

    // Move catalog from cloud-a to cloud-b: its policy's affinity follows, and so do the
    // export (where it runs) and the import (where its callers run).
    let moved = [
        ("frontend", "edge-1", 5),
        ("frontend", "cloud-a", 2),
        ("catalog", "cloud-b", 2),
        ("cart", "edge-1", 1),
        ("worker", "cloud-b", 1),
    ];
    setup
        .backend
        .apply(&graph, &desired(3, &moved))
        .await
        .unwrap();
    let objects = setup.server.objects();
    assert_eq!(objects.len(), objects_before);
    let catalog = &objects["PropagationPolicy/shop/catalog"];
    assert_eq!(
        catalog["spec"]["placement"]["clusterAffinity"]["clusterNames"],
        serde_json::json!(["cloud-b"])
    );
    assert_eq!(
        objects["PropagationPolicy/shop/catalog-export"]["spec"]["placement"]["clusterAffinity"]
            ["clusterNames"],
        serde_json::json!(["cloud-b"])
    );

    // Worker is no longer placed: its Deployment and policy are pruned, by name.
    let mark = setup.server.request_count();
    let without_worker = &moved[..4];
    setup
        .backend
        .apply(&graph, &desired(4, without_worker))
        .await
        .unwrap();
    let mut deletes: Vec<String> = setup
        .server
        .object_requests(mark)
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(Recorded::line)
        .collect();
    deletes.sort();
    assert_eq!(
        deletes,
        [
            format!("DELETE {DEPLOYMENTS}/worker"),
            format!("DELETE {POLICIES}/worker"),
        ]
    );
    assert_eq!(setup.server.objects().len(), objects_before - 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_choice_with_a_member_scheduler_becomes_override_policies_pruned_without_it() {
    let setup = setup(Duration::from_secs(5)).await;
    let graph = shop();
    let mut state = desired(1, FIRST);
    state.server_selection = Some("least_power_shared_idle".into());
    setup.backend.apply(&graph, &state).await.unwrap();
    let objects = setup.server.objects();
    let overrides: Vec<&String> = objects
        .keys()
        .filter(|id| id.starts_with("OverridePolicy/"))
        .collect();
    assert_eq!(
        overrides,
        [
            "OverridePolicy/shop/cart-scheduler",
            "OverridePolicy/shop/catalog-scheduler",
            "OverridePolicy/shop/frontend-scheduler",
            "OverridePolicy/shop/worker-scheduler",
        ]
    );
    let worker = &objects["OverridePolicy/shop/worker-scheduler"];
    assert_eq!(
        worker["spec"]["overrideRules"][0]["overriders"]["plaintext"][0]["value"],
        "smo-binpack"
    );
    assert_eq!(
        worker["spec"]["overrideRules"][0]["targetCluster"]["clusterNames"],
        serde_json::json!(["cloud-b"])
    );

    // A choice no member scheduler makes, or none: the overrides are pruned.
    state.generation = 2;
    state.server_selection = Some("first_fit".into());
    setup.backend.apply(&graph, &state).await.unwrap();
    assert!(!setup
        .server
        .objects()
        .keys()
        .any(|id| id.starts_with("OverridePolicy/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdraw_deletes_every_kind_by_the_graphs_label_and_is_idempotent() {
    let setup = setup(Duration::from_secs(5)).await;
    setup
        .backend
        .apply(&shop(), &desired(1, FIRST))
        .await
        .unwrap();
    let mark = setup.server.request_count();
    setup.backend.withdraw("shop").await.unwrap();
    let requests = setup.server.object_requests(mark);
    assert_eq!(requests.len(), 9, "{:#?}", lines(&requests));
    assert!(requests.iter().all(|r| r.method == "DELETE"
        && r.query.get("labelSelector").map(String::as_str) == Some("smo.io/graph=shop")
        && !r.path.ends_with("/shop")));
    // The namespace is the project's: it stays; nothing else of the graph does.
    let left: Vec<String> = setup.server.objects().into_keys().collect();
    assert_eq!(left, ["Namespace/shop"]);
    setup
        .backend
        .withdraw("shop")
        .await
        .expect("withdrawing again succeeds");
    assert!(setup.backend.observe("shop").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_reads_scheduled_and_ready_replicas_from_the_resource_bindings() {
    let setup = setup(Duration::from_secs(5)).await;
    let state = desired(7, FIRST);
    setup.server.set_members(MemberBehaviour {
        unscheduled: true,
        ..MemberBehaviour::default()
    });
    setup.backend.apply(&shop(), &state).await.unwrap();

    // Before Karmada schedules: what smo decided, none ready.
    let seen = setup.backend.observe("shop").await.unwrap();
    assert_eq!(seen.generation, Some(7));
    assert!(seen.asked_for(&state.placement), "{seen:?}");
    assert!(seen.replicas.iter().all(|r| r.ready == 0));

    // Scheduled, replicas starting.
    setup.server.set_members(MemberBehaviour::default());
    let seen = setup.backend.observe("shop").await.unwrap();
    assert!(seen.asked_for(&state.placement), "{seen:?}");
    assert!(!seen.all_ready());
    let mark = setup.server.request_count();

    // Ready everywhere but on cloud-b, whose member could not apply the work.
    setup.server.set_members(MemberBehaviour {
        ready: true,
        failing: [("cloud-b".to_owned(), "quota exceeded".to_owned())].into(),
        ..MemberBehaviour::default()
    });
    let seen = setup.backend.observe("shop").await.unwrap();
    assert_eq!(seen.ready("frontend", "edge-1"), 3);
    assert_eq!(seen.ready("frontend", "cloud-a"), 2);
    let worker = seen
        .replicas
        .iter()
        .find(|r| r.service == "worker")
        .unwrap();
    assert_eq!(
        (worker.ready, worker.last_error.as_deref()),
        (0, Some("quota exceeded"))
    );
    // One list of the graph's policies, then one GET per workload's binding.
    let reads: Vec<String> = lines(&setup.server.object_requests(mark));
    assert_eq!(
        reads[0],
        format!("GET {POLICIES}?labelSelector=smo.io/graph=shop")
    );
    let bindings: Vec<&String> = reads[1..].iter().collect();
    assert_eq!(bindings.len(), 4, "{reads:#?}");
    assert!(bindings.iter().all(|l| l
        .starts_with("GET /apis/work.karmada.io/v1alpha2/namespaces/shop/resourcebindings/")
        && l.ends_with("-deployment")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_server_errors_and_timeouts_are_retryable_validation_is_not() {
    let setup = setup(Duration::from_millis(400)).await;
    let graph = shop();
    let state = desired(1, FIRST);
    let cases = [
        (
            Answer::Status(
                409,
                "Conflict".into(),
                "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas".into(),
            ),
            "409 Conflict",
        ),
        (
            Answer::Status(
                500,
                "InternalError".into(),
                "etcdserver: request timed out".into(),
            ),
            "500 InternalError",
        ),
        (
            Answer::Status(429, "TooManyRequests".into(), "slow down".into()),
            "429 TooManyRequests",
        ),
        (Answer::Hang, "no answer from the API server within 0.4 s"),
    ];
    for (answer, says) in cases {
        setup
            .server
            .inject("PATCH", "/deployments/catalog", answer, 1);
        let error = setup.backend.apply(&graph, &state).await.expect_err(says);
        assert!(error.retryable(), "{error}");
        assert!(error.to_string().contains(says), "{error}");
        assert!(
            error.to_string().contains("Deployment"),
            "names the object: {error}"
        );
        setup
            .backend
            .apply(&graph, &state)
            .await
            .expect("the retry passes");
    }
    setup.server.inject(
        "PATCH",
        "/deployments/catalog",
        Answer::Status(
            422,
            "Invalid".into(),
            "Deployment.apps \"catalog\" is invalid: spec.template.spec.containers[0].image: Required value".into(),
        ),
        1,
    );
    let refused = setup.backend.apply(&graph, &state).await.expect_err("422");
    assert!(matches!(refused, ContinuumError::Rejected(_)), "{refused}");
    assert!(
        refused
            .to_string()
            .contains("422 Invalid: Deployment.apps \"catalog\" is invalid: spec.template.spec.containers[0].image"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_applying_the_same_state_converges_without_duplicates() {
    let server = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let graph = shop();
    let state = desired(3, FIRST);
    {
        let first = connect(&server, &dir, Duration::from_secs(5)).await;
        first.apply(&graph, &state).await.unwrap();
    }
    let before = server.applied_objects();
    let seen_before = {
        let restarted = connect(&server, &dir, Duration::from_secs(5)).await;
        let seen = restarted.observe("shop").await.unwrap();
        restarted.apply(&graph, &state).await.unwrap();
        assert_eq!(restarted.observe("shop").await.unwrap(), seen);
        seen
    };
    assert!(seen_before.asked_for(&state.placement));
    let after = server.applied_objects();
    assert_eq!(
        after, before,
        "the same objects, none duplicated, none lost"
    );
    assert_eq!(after.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_follows_the_cluster_watch_through_not_ready_and_a_dropped_watch() {
    let setup = setup(Duration::from_secs(5)).await;
    setup.server.set_cluster(ClusterSpec {
        allocated: ("2500m", "4Gi"),
        labels: &[("smo.io/role", "edge")],
        region: Some("eu-west"),
        ..ClusterSpec::ready("edge-1")
    });
    setup.server.set_cluster(ClusterSpec::ready("cloud-a"));
    assert!(wait_for(&setup.backend, |inventory| inventory.len() == 2).await);
    let inventory = setup.backend.inventory().await.unwrap();
    let names: Vec<&str> = inventory.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cloud-a", "edge-1"]);
    let edge = &inventory[1];
    assert!(edge.ready);
    assert_eq!(edge.allocatable.cpu, 8.0);
    assert_eq!(edge.allocated.cpu, 2.5);
    assert_eq!(edge.allocated.memory_mib, 4096.0);
    assert_eq!(edge.labels["region"], "eu-west");

    setup.server.set_cluster(ClusterSpec {
        ready: false,
        ..ClusterSpec::ready("edge-1")
    });
    assert!(
        wait_for(&setup.backend, |inventory| inventory.iter().any(|c| c.name
            == "edge-1"
            && !c.ready
            && c.reason.as_deref()
                == Some("ClusterNotReachable: cluster is not reachable")))
        .await
    );

    // The watch ends (as API servers end watches); the next change still arrives.
    let watches_before = watch_requests(&setup.server);
    setup.server.drop_watches();
    setup.server.set_cluster(ClusterSpec::ready("edge-1"));
    setup.server.set_cluster(ClusterSpec::ready("cloud-b"));
    assert!(
        wait_for(&setup.backend, |inventory| inventory.len() == 3
            && inventory.iter().all(|c| c.ready))
        .await
    );
    assert!(
        watch_requests(&setup.server) > watches_before,
        "watched again"
    );
    assert!(
        setup
            .server
            .requests()
            .iter()
            .filter(|r| r.is_cluster_inventory())
            .all(|r| r.method == "GET"),
        "the inventory only reads"
    );
}

fn watch_requests(server: &FakeApiServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.is_cluster_inventory() && r.query.contains_key("watch"))
        .count()
}

/// Polls the inventory (every 10 ms, up to 20 s) until it satisfies `condition`.
async fn wait_for(
    backend: &KarmadaContinuum,
    condition: impl Fn(&[smo_core::ports::continuum::ClusterInventory]) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    while tokio::time::Instant::now() < deadline {
        let inventory = backend.inventory().await.unwrap();
        if condition(&inventory) {
            return true;
        }
        ticks.tick().await;
    }
    false
}
