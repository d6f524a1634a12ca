//! The graph lifecycle over real HTTP against `smo serve` on 127.0.0.1 with a temporary state
//! directory: deploy both upstream fixtures, read status, re-place, alert, stop/start, delete,
//! restart the daemon and find everything; the scaling loop; execute_strategy; refusals.

mod api_support;

use api_support::*;
use serde_json::{json, Value};

const FAST_LOOPS: &str = "[engine]\nscaling_period_ms = 100\n";
/// Replicas ready 0.2 s after an apply, looked at every 50 ms.
const QUICK_BACKEND: &str = "[backend.sim]\nready_after_s = 0.2\n[applier]\npoll_ms = 50\n";

/// Waits until graph `name` is `ready` and returns its status.
fn wait_ready(api: &Api, name: &str) -> Value {
    api.wait_for(&format!("/v1/graphs/{name}"), "phase ready", |s| {
        s["phase"] == "ready"
    })
}

fn service<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {status}"))
}

#[test]
fn deploy_both_fixtures_read_status_replace_delete_and_find_everything_after_a_restart() {
    let sandbox = sandbox();
    let api = start(&sandbox, QUICK_BACKEND);

    // hello-world as YAML.
    let reply = api.post_yaml("/v1/graphs", HELLO);
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.header("location"),
        Some("/v1/graphs/hello-world-graph")
    );
    let hello = reply.body;
    assert_eq!(hello["status"], "running");
    assert_eq!(hello["descriptor"]["designer"], "Abilian");
    assert_eq!(
        hello["strategies"]["placement"]["name"],
        "default-lp/placement"
    );
    assert_eq!(hello["strategies"]["placement"]["source"], "default");
    assert_eq!(hello["strategies"]["placement"]["plugin_version"], "0.1.0");
    assert_eq!(hello["strategies"]["scaling"]["name"], "default-lp/scaling");
    assert_eq!(placement(&hello).len(), 1);
    // Committed, not yet observed: nothing is called deployed before the backend runs it.
    assert_eq!(service(&hello, "hello-world")["status"], "deploying");
    assert!(
        ["pending", "applying"].contains(&hello["phase"].as_str().expect("phase")),
        "{}",
        hello["phase"]
    );
    assert!(hello["apply"]["generation"].as_u64().expect("generation") > 0);
    let ready = wait_ready(&api, "hello-world-graph");
    let svc = service(&ready, "hello-world");
    assert_eq!(svc["status"], "deployed");
    assert_eq!(svc["phase"], "ready");
    assert_eq!(svc["observed"], svc["desired"]);
    assert_eq!(svc["clusters"][0]["ready"], svc["clusters"][0]["replicas"]);
    assert_eq!(
        ready["apply"]["applied_generation"],
        ready["apply"]["generation"]
    );
    assert_eq!(ready["apply"]["attempts"], 1);
    assert_eq!(ready["last_decisions"]["placement"]["applied"], true);
    let decision = &hello["last_decisions"]["placement"];
    assert_eq!(decision["trigger"], "deploy");
    assert_eq!(decision["strategy"], "default-lp/placement");
    assert_eq!(decision["outcome"], "ok");
    assert!(decision["duration_ms"].as_f64().expect("duration") > 0.0);
    assert!(!decision["reasons"].as_array().expect("reasons").is_empty());
    assert_eq!(hello["last_failure"], Value::Null);

    // The Brussels demo through upstream's endpoint, as upstream's JSON string holding YAML.
    let body = serde_json::to_vec(&Value::String(BRUSSELS.to_owned())).expect("json");
    let reply = api.call(
        "POST",
        "/project/test/graphs",
        api.token.as_deref(),
        Some(("application/json", body)),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let brussels = reply.body;
    assert_eq!(brussels["name"], "image-detection-graph");
    assert_eq!(placement(&brussels).len(), 3);
    let vo = service(&brussels, "image-compression-vo");
    assert_eq!(
        vo["status"], "pending",
        "a conditional service waits for its alert"
    );
    assert_eq!(vo["replicas"], 0);
    let brussels = wait_ready(&api, "image-detection-graph");
    assert_eq!(service(&brussels, "noise-reduction")["status"], "deployed");
    assert_eq!(
        service(&brussels, "image-compression-vo")["status"],
        "pending"
    );

    // Both are listed, by name, in /v1 and in upstream's list.
    let list = api.get("/v1/graphs").body;
    let names: Vec<&str> = list["graphs"]
        .as_array()
        .expect("graphs")
        .iter()
        .map(|g| g["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["hello-world-graph", "image-detection-graph"]);
    assert_eq!(
        api.get("/project/test/graphs")
            .body
            .as_array()
            .expect("array")
            .len(),
        2
    );

    // Re-place now: a recorded decision with trigger "replace", placement unchanged (min moves).
    let reply = api.post_empty("/v1/graphs/image-detection-graph/placement");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["trigger"], "replace");
    assert!(
        reply.body["id"].as_i64().expect("id")
            > brussels["last_decisions"]["placement"]["id"]
                .as_i64()
                .expect("id")
    );
    let after = api.get("/v1/graphs/image-detection-graph").body;
    assert_eq!(placement(&after), placement(&brussels));
    assert_eq!(after["last_decisions"]["placement"]["trigger"], "replace");

    // The Alertmanager webhook deploys the conditional service where it was placed.
    let reply = api.post_json(
        "/alerts",
        &json!({"receiver": "smo", "status": "firing", "alerts": [
            {"status": "firing", "labels": {"alertname": "main-event", "service": "image-compression-vo"}},
            {"status": "resolved", "labels": {"service": "noise-reduction"}},
            {"status": "firing", "labels": {"service": "nobody"}}
        ]}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["message"], "Alert received");
    let results = reply.body["results"].as_array().expect("results");
    assert_eq!(results[0]["action"], "deployed");
    assert_eq!(results[1]["action"], "ignored");
    assert_eq!(results[2]["action"], "ignored");
    let after = wait_ready(&api, "image-detection-graph");
    assert_eq!(
        service(&after, "image-compression-vo")["status"],
        "deployed"
    );
    assert_eq!(service(&after, "image-compression-vo")["replicas"], 1);
    assert_eq!(service(&after, "image-compression-vo")["observed"], 1);

    // Stop and start (POST, not GET); twice is a conflict.
    let stopped = api.post_empty("/v1/graphs/hello-world-graph/stop");
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!(stopped.body["status"], "stopped");
    assert_eq!(stopped.body["scaling_loop"]["active"], false);
    assert_eq!(
        service(&stopped.body, "hello-world")["status"],
        "not_deployed"
    );
    assert_eq!(
        api.post_empty("/v1/graphs/hello-world-graph/stop").status,
        409
    );
    // A stopped graph is withdrawn from the backend: nothing of it runs.
    let withdrawn = wait_ready(&api, "hello-world-graph");
    assert_eq!(service(&withdrawn, "hello-world")["observed"], 0);
    assert_eq!(
        api.call(
            "GET",
            "/v1/graphs/hello-world-graph/stop",
            api.token.as_deref(),
            None
        )
        .status,
        405
    );
    let started = api.post_empty("/v1/graphs/hello-world-graph/start");
    assert_eq!(started.status, 200, "{}", started.body);
    assert!(
        started.body["apply"]["generation"].as_u64() > withdrawn["apply"]["generation"].as_u64()
    );
    assert_eq!(started.body["status"], "running");
    assert_eq!(started.body["scaling_loop"]["active"], true);
    assert_eq!(
        started.body["last_decisions"]["placement"]["trigger"],
        "start"
    );
    assert_eq!(
        api.post_empty("/v1/graphs/hello-world-graph/start").status,
        409
    );
    api.post_empty("/v1/graphs/hello-world-graph/stop");

    // Restart (the first daemon is killed, not asked to stop): everything is still there.
    let before_hello = api.get("/v1/graphs/hello-world-graph").body;
    let before_brussels = api.get("/v1/graphs/image-detection-graph").body;
    let token = api.token.clone();
    drop(api);
    let api = start(&sandbox, QUICK_BACKEND);
    assert_eq!(api.token, token, "the admin token survives a restart");
    let hello = api.get("/v1/graphs/hello-world-graph").body;
    let brussels = api.get("/v1/graphs/image-detection-graph").body;
    assert_eq!(hello["status"], "stopped");
    assert_eq!(hello["scaling_loop"]["active"], false);
    assert_eq!(brussels["status"], "running");
    assert_eq!(
        brussels["scaling_loop"]["active"], true,
        "the loop of a running graph resumes"
    );
    assert_eq!(placement(&hello), placement(&before_hello));
    assert_eq!(placement(&brussels), placement(&before_brussels));
    assert_eq!(
        hello["last_decisions"]["placement"]["id"],
        before_hello["last_decisions"]["placement"]["id"]
    );
    // The simulated continuum starts empty: the applier applies the stored state again.
    let brussels = wait_ready(&api, "image-detection-graph");
    assert_eq!(
        service(&brussels, "image-compression-vo")["status"],
        "deployed"
    );
    let clusters = api.get("/v1/clusters").body;
    assert_eq!(
        clusters["clusters"].as_array().expect("clusters").len(),
        3,
        "seeded once, not twice"
    );

    // Delete: withdrawn, then gone, and gone again is 404; its history stays.
    assert_eq!(api.delete("/v1/graphs/image-detection-graph").status, 204);
    let applies = api.get("/v1/applies?graph=image-detection-graph").body;
    let newest = &applies["applies"][0];
    assert_eq!(newest["action"], "withdraw", "{applies}");
    assert_eq!(newest["ok"], true);
    assert_eq!(api.get("/v1/graphs/image-detection-graph").status, 404);
    assert_eq!(api.delete("/v1/graphs/image-detection-graph").status, 404);
    let history = api
        .get("/v1/decisions?graph=image-detection-graph&limit=100")
        .body;
    assert!(history["decisions"].as_array().expect("decisions").len() >= 2);
    assert_eq!(
        api.get("/v1/graphs").body["graphs"]
            .as_array()
            .expect("graphs")
            .len(),
        1
    );
}

#[test]
fn the_scaling_loop_decides_applies_and_resumes_after_a_restart() {
    let sandbox = sandbox();
    let api = start(&sandbox, FAST_LOOPS);
    api.deploy(HELLO);
    let path = "/v1/graphs/hello-world-graph";
    let status = api.wait_for(path, "a scaling decision", |s| {
        !s["last_decisions"]["scaling"].is_null()
    });
    let scaling = &status["last_decisions"]["scaling"];
    assert_eq!(scaling["trigger"], "scaling_loop");
    assert_eq!(scaling["strategy"], "default-lp/scaling");
    assert_eq!(scaling["plugin_version"], "0.1.0");
    assert_eq!(scaling["outcome"], "ok", "{scaling}");
    let replicas = service(&status, "hello-world")["replicas"]
        .as_u64()
        .expect("replicas");
    assert!((1..=10).contains(&replicas));
    let history = api
        .get("/v1/decisions?graph=hello-world-graph&limit=5")
        .body;
    let newest = &history["decisions"][0];
    assert_eq!(newest["kind"], "scaling");
    assert!(
        newest["inputs"]["loads"][0]["current_rps"]
            .as_f64()
            .expect("load")
            > 0.0,
        "{newest}"
    );

    drop(api);
    let api = start(&sandbox, FAST_LOOPS);
    let last_id = scaling["id"].as_i64().expect("id");
    api.wait_for(path, "a scaling decision after the restart", |s| {
        s["last_decisions"]["scaling"]["id"]
            .as_i64()
            .is_some_and(|id| id > last_id)
    });

    // Stopped: the loop ends at once.
    let stopped = api.post_empty("/v1/graphs/hello-world-graph/stop").body;
    assert_eq!(stopped["scaling_loop"]["active"], false);
}

#[test]
fn execute_strategy_is_a_dry_run_unless_applied_and_sees_energy_profiles() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let deployed = api.deploy(HELLO);
    let before = placement(&deployed);
    assert_eq!(before[0].1, "cloud-frankfurt", "first fit, inventory order");

    // Make the edge site the cleanest: ECMR (lowest carbon with room) must now choose it.
    let reply = api.put_json(
        "/v1/clusters/edge-athens/energy_profile",
        &json!({"carbon_intensity_g_per_kwh": 5.0, "renewable_supply_kw": 12.5, "preferred_for_saving": true}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["energy"]["carbon_intensity_g_per_kwh"], 5.0);

    let dry = api.post_empty("/v1/graphs/hello-world-graph/execute_strategy/ecmr%2Fheuristic");
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["applied"], false);
    let decision = &dry.body["decision"];
    assert_eq!(decision["strategy"], "ecmr/heuristic");
    assert_eq!(decision["id"], Value::Null, "a dry run is not recorded");
    assert_eq!(
        decision["decision"]["placement"]["assignments"][0]["cluster"], "edge-athens",
        "{decision}"
    );
    let edge = decision["inputs"]["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .find(|c| c["name"] == "edge-athens")
        .expect("edge in inputs")
        .clone();
    assert_eq!(edge["carbon_intensity_g_per_kwh"], 5.0);
    assert_eq!(edge["preferred_for_saving"], true);
    assert_eq!(
        placement(&api.get("/v1/graphs/hello-world-graph").body),
        before,
        "not applied"
    );

    // Applied, with `plugin:strategy` and parameters.
    let applied = api.post_json(
        "/v1/graphs/hello-world-graph/execute_strategy/ecmr:heuristic?apply=true",
        &json!({"latency_threshold_ms": 50}),
    );
    assert_eq!(applied.status, 200, "{}", applied.body);
    assert_eq!(applied.body["applied"], true);
    assert!(applied.body["decision"]["id"].as_i64().is_some());
    assert_eq!(
        applied.body["decision"]["inputs"]["params"]["latency_threshold_ms"],
        50
    );
    let status = api.get("/v1/graphs/hello-world-graph").body;
    assert_eq!(placement(&status)[0].1, "edge-athens");
    assert_eq!(
        status["last_decisions"]["placement"]["trigger"],
        "execute_strategy"
    );

    // An unknown strategy falls back to the default, and says why.
    let fallback = api.post_empty("/v1/graphs/hello-world-graph/execute_strategy/nope:nothing");
    assert_eq!(fallback.status, 200, "{}", fallback.body);
    assert_eq!(fallback.body["decision"]["outcome"], "fallback");
    assert!(fallback.body["decision"]["fallback_reason"]
        .as_str()
        .expect("reason")
        .contains("nope"));

    // A graph naming its strategy uses it, and its status shows it with its version.
    let green = hello_named("green").replace(
        "  hdaGraphIntent:\n",
        "  hdaGraphIntent:\n    placementStrategy: ecmr/heuristic\n",
    );
    let status = api.deploy(&green);
    assert_eq!(status["strategies"]["placement"]["name"], "ecmr/heuristic");
    assert_eq!(status["strategies"]["placement"]["source"], "graph");
    let plugins = api.get("/v1/plugins").body;
    let ecmr_version = plugins["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == "ecmr")
        .expect("ecmr listed")["version"]
        .clone();
    assert_eq!(
        status["strategies"]["placement"]["plugin_version"],
        ecmr_version
    );
    assert_eq!(placement(&status)[0].1, "edge-athens");
}

#[test]
fn a_placement_that_fails_stores_nothing_but_its_reason() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let greedy = hello_named("greedy").replace(
        "            gpu:\n              enabled: False",
        "            gpu:\n              enabled: true\n              count: 64",
    );
    assert!(greedy.contains("count: 64"), "the fixture changed shape");
    let reply = api.post_yaml("/v1/graphs", &greedy);
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.body["error"], "placement_failed");
    let decision = &reply.body["decision"];
    assert_eq!(decision["outcome"], "error");
    assert!(
        decision["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{decision}"
    );
    assert_eq!(
        api.get("/v1/graphs/greedy").status,
        404,
        "nothing half-stored"
    );
    let history = api.get("/v1/decisions?graph=greedy").body;
    assert_eq!(history["decisions"].as_array().expect("decisions").len(), 1);
    // The name is free: a feasible graph of that name deploys.
    api.deploy(&hello_named("greedy"));
}

#[test]
fn put_creates_or_updates_and_post_refuses_an_existing_name() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let created = api.put_yaml("/v1/graphs/hello-world-graph", HELLO);
    assert_eq!(created.status, 201, "{}", created.body);
    let again = api.post_yaml("/v1/graphs", HELLO);
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"], "already_exists");

    let bigger = HELLO.replace("cpu: \"small\"", "cpu: \"medium\"");
    let updated = api.put_yaml("/v1/graphs/hello-world-graph", &bigger);
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(service(&updated.body, "hello-world")["cpu"], 4.0);
    assert_eq!(
        updated.body["last_decisions"]["placement"]["trigger"],
        "update"
    );
    assert_eq!(updated.body["created_at_ms"], created.body["created_at_ms"]);

    let mismatch = api.put_yaml("/v1/graphs/other-name", HELLO);
    assert_eq!(mismatch.status, 422);
    assert_eq!(mismatch.body["field"], "hdaGraph.id");
    assert_eq!(api.get("/v1/graphs/other-name").status, 404);
}

#[test]
fn a_quarantined_strategy_is_shown_unavailable_on_the_graphs_that_name_it() {
    let sandbox = sandbox();
    sandbox.install("smo_fixture_panicky", "panicky.so");
    let api = start(&sandbox, "");
    let intent = "    placementStrategy: panicky/boom\n";
    // Each deploy asks the panicking strategy once; the third panic quarantines it.
    for graph in ["q1", "q2", "q3"] {
        let descriptor = smo_tests::test_descriptor(graph, &[("svc", "1Gi")], None, intent, "{}");
        let reply = api.post_yaml("/v1/graphs", &descriptor);
        assert_eq!(reply.status, 201, "{}", reply.body);
        let placement = &reply.body["last_decisions"]["placement"];
        assert_eq!(placement["strategy"], "default-lp/placement", "{placement}");
    }
    let status = api.get("/v1/graphs/q1").body;
    let active = &status["strategies"]["placement"];
    assert_eq!(active["name"], "panicky/boom");
    let why = active["unavailable"].as_str().unwrap_or_default();
    assert!(
        why.contains("quarantined") && why.contains("panic"),
        "{active}"
    );
}

#[test]
fn the_graph_list_is_paginated_by_name_with_a_cursor() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    for name in ["p-c", "p-a", "p-e", "p-b", "p-d"] {
        assert_eq!(api.post_yaml("/v1/graphs", &hello_named(name)).status, 201);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/graphs?limit=2".to_owned();
    loop {
        let reply = api.get(&path);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let page = reply.body["graphs"].as_array().expect("graphs").clone();
        assert!(page.len() <= 2, "{}", reply.body);
        for graph in &page {
            assert_eq!(placement(graph).len(), 1, "{graph}");
            assert_eq!(graph["status"], "running");
            seen.push(graph["name"].as_str().expect("name").to_owned());
        }
        match reply.body["next"].as_str() {
            Some(next) => path = format!("/v1/graphs?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["p-a", "p-b", "p-c", "p-d", "p-e"]);
    let all = api.get("/v1/graphs").body;
    assert_eq!(all["graphs"].as_array().expect("graphs").len(), 5);
    assert!(all.get("next").is_none(), "one page: {all}");
    let refused = api.get("/v1/graphs?limit=1001");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["field"], "limit");
    assert_eq!(api.get("/v1/graphs?page=2").status, 400);
}
