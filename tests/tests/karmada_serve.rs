//! `smo serve --backend karmada` end to end against the fake Karmada API server (no API server
//! runs on these machines): the member clusters are adopted, a graph is placed on them and
//! applied, its status follows the ResourceBindings, a cluster going NotReady is shown so, a
//! restarted daemon converges on the same objects, and delete withdraws them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use smo_tests::fake_apiserver::{ClusterSpec, FakeApiServer, MemberBehaviour};
use smo_tests::*;

fn shop_descriptor() -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/karmada/shop.yaml"))
        .expect("the shop descriptor")
}

fn clusters(daemon: &Daemon) -> BTreeMap<String, Value> {
    let (status, body) = get_json(&daemon.url("/v1/clusters"));
    assert_eq!(status, 200, "{body}");
    body["clusters"]
        .as_array()
        .expect("a list of clusters")
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or_default().to_owned(), c.clone()))
        .collect()
}

/// Graph objects the server holds (the server's own metadata left out).
fn graph_objects(server: &FakeApiServer) -> BTreeMap<String, Value> {
    server
        .applied_objects()
        .into_iter()
        .filter(|(id, _)| !id.starts_with("Namespace/"))
        .collect()
}

#[test]
fn serve_adopts_the_members_applies_a_graph_follows_it_and_withdraws_it() {
    let (runtime, server) = FakeApiServer::start_with_runtime();
    server.set_shop_members();
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    let kubeconfig = server.write_kubeconfig(sandbox.root.path());
    let config = sandbox.config(&format!(
        "[engine]\nscaling_period_ms = 3600000\n[applier]\npoll_ms = 50\nresync_ms = 100\nbackoff_base_ms = 100\n\
         backoff_max_ms = 200\n[backend]\nkind = \"karmada\"\n[backend.karmada]\n\
         kubeconfig = \"{}\"\nnamespace = \"shop\"\nrequest_timeout_ms = 2000\nadopt_period_ms = 50\n",
        kubeconfig.display()
    ));
    let start = |sandbox: &Sandbox| Daemon::start(sandbox, &["--no-auth", "--config", &config]);
    let daemon = start(&sandbox);

    // The members are registered with what Karmada reports; smo's default inventory is not.
    assert!(eventually(Duration::from_secs(20), || clusters(&daemon)
        .len()
        == 2));
    let seen = clusters(&daemon);
    assert_eq!(seen["edge-1"]["role"], "edge");
    assert_eq!(seen["edge-1"]["location"]["region"], "eu-west");
    assert_eq!(seen["cloud-a"]["capacity"]["gpu"], 2);
    assert_eq!(seen["cloud-a"]["backend"]["ready"], true);
    let listed = std::process::Command::new(smo_bin())
        .args(["cluster", "list", "--listen", &daemon.addr])
        .output()
        .expect("smo cluster list runs");
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[1].starts_with("cloud-a") && rows[1].contains(" yes "),
        "{table}"
    );
    assert!(rows[1].contains("32/64.0/2"), "{table}");
    assert!(
        rows[2].starts_with("edge-1") && rows[2].contains("edge"),
        "{table}"
    );

    // Deploy: placed on the members, applied, ready once the bindings say so.
    let (status, created) = send("POST", &daemon.url("/v1/graphs"), &shop_descriptor());
    assert_eq!(status, 201, "{created}");
    let view = wait(&daemon, "shop", 30, "the graph ready", ready);
    let objects = graph_objects(&server);
    for service in ["frontend", "catalog", "cart", "worker"] {
        let deployment = &objects[&format!("Deployment/shop/{service}")];
        let placed: u64 = view["placement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["service"] == service)
            .map(|row| row["replicas"].as_u64().unwrap())
            .sum();
        assert_eq!(deployment["spec"]["replicas"], placed, "{service}");
        let policy = &objects[&format!("PropagationPolicy/shop/{service}")];
        let clusters: Vec<&str> = view["placement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["service"] == service)
            .map(|row| row["cluster"].as_str().unwrap())
            .collect();
        let mut affinity: Vec<&str> = policy["spec"]["placement"]["clusterAffinity"]
            ["clusterNames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        affinity.sort_unstable();
        let mut clusters = clusters;
        clusters.sort_unstable();
        assert_eq!(affinity, clusters, "{service}");
    }
    assert_eq!(
        objects["Deployment/shop/cart"]["spec"]["template"]["spec"]["containers"][0]["resources"]
            ["limits"]["nvidia.com/gpu"],
        "1",
        "cart asks for a GPU: {}",
        objects["Deployment/shop/cart"]
    );

    // A member goes NotReady: the clusters view says so and why.
    server.set_cluster(ClusterSpec {
        ready: false,
        labels: &[("smo.io/role", "edge")],
        ..ClusterSpec::ready("edge-1")
    });
    assert!(eventually(Duration::from_secs(20), || {
        clusters(&daemon)["edge-1"]["backend"]["reason"]
            == "ClusterNotReachable: cluster is not reachable"
    }));
    server.set_cluster(ClusterSpec {
        labels: &[("smo.io/role", "edge")],
        ..ClusterSpec::ready("edge-1")
    });

    // A member's work fails: the graph's status carries the member's message.
    server.set_members(MemberBehaviour {
        ready: true,
        failing: [("cloud-a".to_owned(), "quota exceeded".to_owned())].into(),
        ..MemberBehaviour::default()
    });
    wait(
        &daemon,
        "shop",
        30,
        "the member's error in the status",
        |view| view.to_string().contains("quota exceeded"),
    );
    server.set_members(MemberBehaviour {
        ready: true,
        ..MemberBehaviour::default()
    });
    wait(&daemon, "shop", 30, "ready again", ready);

    // A daemon killed in the middle of an apply: the new one converges on the objects of the
    // new desired state, none duplicated, none left behind.
    let before = graph_objects(&server);
    server.inject(
        "PATCH",
        "/propagationpolicies/worker",
        smo_tests::fake_apiserver::Answer::Hang,
        usize::MAX,
    );
    let mark = server.request_count();
    let updated = shop_descriptor().replace("worker:1.0", "worker:1.1");
    let (status, body) = send("PUT", &daemon.url("/v1/graphs/shop"), &updated);
    assert!(status == 200 || status == 201, "{status} {body}");
    assert!(eventually(Duration::from_secs(20), || server
        .object_requests(mark)
        .iter()
        .any(
            |r| r.method == "PATCH" && r.path.ends_with("/propagationpolicies/worker")
        )));
    drop(daemon);
    server.clear_faults();
    let daemon = start(&sandbox);
    let view = wait(&daemon, "shop", 30, "ready after the restart", ready);
    let after = graph_objects(&server);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same objects"
    );
    let generation = view["apply"]["generation"].as_u64().unwrap().to_string();
    for (id, body) in &after {
        assert_eq!(
            body["metadata"]["annotations"]["smo.io/generation"], generation,
            "{id}"
        );
    }
    assert_eq!(
        after["Deployment/shop/worker"]["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/shop/worker:1.1"
    );

    // Delete withdraws everything of the graph.
    let response = http()
        .delete(&daemon.url("/v1/graphs/shop"))
        .call()
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 204);
    assert!(
        graph_objects(&server).is_empty(),
        "{:?}",
        graph_objects(&server).keys()
    );
    drop(runtime);
}

#[test]
fn a_missing_kubeconfig_or_an_unknown_backend_stops_serve_naming_the_key() {
    let sandbox = Sandbox::new();
    let missing = sandbox.root.path().join("absent.kubeconfig");
    let (status, stderr) = serve_expecting_exit(
        &sandbox,
        &[
            "--no-auth",
            "--backend",
            "karmada",
            "--kubeconfig",
            &missing.display().to_string(),
        ],
        Duration::from_secs(30),
    );
    assert!(!status.success());
    assert!(
        stderr.contains("backend.karmada.kubeconfig") && stderr.contains("absent.kubeconfig"),
        "{stderr}"
    );
    let (status, stderr) = serve_expecting_exit(
        &sandbox,
        &["--no-auth", "--backend", "nomad"],
        Duration::from_secs(30),
    );
    assert!(!status.success());
    assert!(
        stderr.contains("backend.kind") && stderr.contains("nomad"),
        "{stderr}"
    );
}
