//! The ecosystem over HTTP: declarations registered through `POST /v1/dependencies` or written
//! in the descriptor, the map with scores, edges and why a requirement is unmet, DOT output,
//! the JSON Schema, and a bad declaration refused whole with every error's path.

mod api_support;

use api_support::*;
use serde_json::{json, Value};
use smo_tests::{test_descriptor, FIXED_TWO};

/// Graph `id` with services `services`, all on `cluster`.
fn pinned(id: &str, services: &[&str], cluster: &str) -> String {
    let services: Vec<(&str, &str)> = services.iter().map(|s| (*s, "1Gi")).collect();
    test_descriptor(id, &services, Some(cluster), "", FIXED_TWO)
}

fn workload<'a>(map: &'a Value, name: &str) -> &'a Value {
    map["workloads"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == name))
        .unwrap_or_else(|| panic!("{name} not in {map}"))
}

#[test]
fn declarations_make_a_map_with_scores_edges_and_reasons() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    // The schema is public.
    let schema = api.call("GET", "/v1/schemas/dependencies", None, None);
    assert_eq!(schema.status, 200);
    assert_eq!(schema.body["required"], json!(["vm_name"]));

    api.deploy(&pinned("shop", &["web", "db"], "edge-athens"));
    api.deploy(&pinned("far", &["db"], "cloud-frankfurt"));
    // A declaration for a workload that does not run is stored, and waits.
    let reply = api.post_json(
        "/v1/dependencies",
        &json!({"vm_name": "later/api", "provides": {"type": "web"}}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["deployed"], false);

    for (name, version) in [
        ("shop/db", "PostgreSQL 14.2"),
        ("far/db", "PostgreSQL 15.1"),
    ] {
        let reply = api.post_json(
            "/v1/dependencies",
            &json!({"vm_name": name, "provides": {"type": "database", "version": version}}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.body["deployed"], true, "{}", reply.body);
    }
    let web = |version: &str| {
        json!({"vm_name": "shop/web", "provides": {"type": "web"}, "dependencies": {
            "required": [{"type": "database", "version": version,
                          "network_latency_requirement": "< 1ms"}]}})
    };
    let reply = api.post_json("/v1/dependencies", &web("PostgreSQL 14"));
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["workload"]["score"], 1.0, "{}", reply.body);
    assert_eq!(reply.body["workload"]["cluster"], "edge-athens");

    let map = api.get("/v1/ecosystem").body;
    assert_eq!(
        map["workloads"].as_array().expect("workloads").len(),
        3,
        "{map}"
    );
    let edges = map["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1, "only PostgreSQL 14.2 is a 14: {map}");
    assert_eq!(edges[0]["from"], "shop/web");
    assert_eq!(edges[0]["to"], "shop/db");
    assert_eq!(edges[0]["met"], true);

    // One workload: what it depends on, what depends on it, what a move would break.
    let web_detail = api
        .get("/v1/ecosystem/shop/web?move_to=cloud-frankfurt")
        .body;
    assert_eq!(web_detail["depends_on"][0]["to"], "shop/db", "{web_detail}");
    let breaks = web_detail["breaks_if_moved"].as_array().expect("breaks");
    assert_eq!(breaks.len(), 1, "{web_detail}");
    assert_eq!(breaks[0]["side"], "required");
    let db_detail = api
        .get("/v1/ecosystem/shop/db?move_to=cloud-frankfurt")
        .body;
    assert_eq!(
        db_detail["dependents"][0]["from"], "shop/web",
        "{db_detail}"
    );
    let breaks = db_detail["breaks_if_moved"].as_array().expect("breaks");
    assert_eq!(breaks[0]["workload"], "shop/web", "{db_detail}");
    assert!(api
        .get("/v1/ecosystem/shop/db")
        .body
        .get("breaks_if_moved")
        .is_none());
    assert_eq!(api.get("/v1/ecosystem/shop/db?move_to=mars").status, 404);
    assert_eq!(api.get("/v1/ecosystem/shop/ghost").status, 404);

    // Replaced: now only Frankfurt's database is the kind asked for, and it is too far.
    let reply = api.post_json("/v1/dependencies", &web("PostgreSQL 15"));
    assert_eq!(reply.status, 200, "replaced: {}", reply.body);
    let map = api.get("/v1/ecosystem").body;
    let web_view = workload(&map, "shop/web");
    assert_eq!(web_view["violated"], true);
    assert!(
        web_view["score"].as_f64() < map["threshold"].as_f64(),
        "{map}"
    );
    let unmet = map["unmet"].as_array().expect("unmet");
    assert_eq!(unmet.len(), 1, "{map}");
    let reason = unmet[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("`far/db` on `cloud-frankfurt`"), "{reason}");

    // Filters and DOT.
    let far = api.get("/v1/ecosystem?graph=far").body;
    assert_eq!(far["workloads"].as_array().expect("workloads").len(), 1);
    let on_athens = api.get("/v1/ecosystem?cluster=edge-athens").body;
    assert_eq!(
        on_athens["workloads"].as_array().expect("workloads").len(),
        2
    );
    let dot = api.get("/v1/ecosystem?format=dot");
    assert_eq!(dot.status, 200);
    assert_eq!(
        dot.header("content-type"),
        Some("text/vnd.graphviz; charset=utf-8")
    );
    let text = dot.body.as_str().expect("DOT text");
    assert!(text.starts_with("digraph ecosystem {"), "{text}");
    assert!(
        text.contains("\"shop/web\" -> \"far/db\" [style=solid, color=red]"),
        "{text}"
    );
    assert_eq!(api.get("/v1/ecosystem?format=svg").status, 422);
    assert_eq!(api.get("/v1/ecosystem?colour=red").status, 400);

    // A restart (the daemon killed) rebuilds the same map from the store.
    let before = api.get("/v1/ecosystem").body;
    drop(api);
    let api = start(&sandbox, "");
    assert_eq!(api.get("/v1/ecosystem").body, before);

    // Stopping the graph takes its workloads out of the map.
    assert_eq!(api.post_empty("/v1/graphs/shop/stop").status, 200);
    let map = api.get("/v1/ecosystem").body;
    let names: Vec<&str> = map["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, ["far/db"]);
}

#[test]
fn a_declaration_in_the_descriptor_joins_the_map() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let yaml = pinned("inline", &["web", "cache"], "edge-athens")
        .replacen(
            "          scaling:",
            "          ecosystem:\n            provides: {type: web}\n            dependencies:\n              preferred: [{type: caching}]\n          scaling:",
            1,
        );
    api.deploy(&yaml);
    let reply = api.post_json(
        "/v1/dependencies",
        &json!({"vm_name": "inline/cache", "provides": {"type": "caching"}}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let map = api.get("/v1/ecosystem?graph=inline").body;
    let web = workload(&map, "inline/web");
    assert_eq!(web["preferred_met"], 1, "{map}");
    assert_eq!(web["score"], 1.0, "{map}");
}

#[test]
fn a_bad_declaration_is_refused_whole_with_every_path() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let reply = api.post_yaml(
        "/v1/dependencies",
        "vm_name: x/y\ndependencies:\n  required:\n    - {type: database, version: '>=banana'}\n    - {}\n  preferred:\n    - {type: cache, network_latency_requirement: 'fast'}\n",
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_declaration");
    let paths: Vec<&str> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "dependencies.required[0].version",
            "dependencies.required[1]",
            "dependencies.preferred[0].network_latency_requirement"
        ]
    );
    // Nothing was stored: a valid declaration of that name is new.
    let reply = api.post_yaml("/v1/dependencies", "vm_name: x/y\nprovides: {type: web}\n");
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = api.call(
        "POST",
        "/v1/dependencies",
        api.token.as_deref(),
        Some(("text/html", b"<p>".to_vec())),
    );
    assert_eq!(reply.status, 415);
}

/// Deploys `shop/web`, placed by the default strategy, and `data/db` pinned on another cluster;
/// returns web's cluster and the database's.
fn web_away_from_its_database(api: &Api) -> (String, &'static str) {
    api.deploy(&test_descriptor(
        "shop",
        &[("web", "1Gi")],
        None,
        "",
        FIXED_TWO,
    ));
    let home = api.get("/v1/graphs/shop").body["placement"][0]["cluster"]
        .as_str()
        .expect("placed")
        .to_owned();
    let far = ["cloud-frankfurt", "cloud-gpu-stockholm", "edge-athens"]
        .into_iter()
        .find(|c| *c != home)
        .expect("another cluster");
    api.deploy(&pinned("data", &["db"], far));
    (home, far)
}

#[test]
fn a_migration_moves_a_workload_next_to_what_it_requires() {
    let sandbox = sandbox();
    sandbox.install("smo_ecosystem", "ecosystem.so");
    // No loop: each migration here is asked for.
    let api = start(&sandbox, "[ecosystem]\nperiod_ms = 0\n");
    let (home, far) = web_away_from_its_database(&api);
    for declaration in [
        json!({"vm_name": "data/db", "provides": {"type": "database", "version": "PostgreSQL 14.2"}}),
        json!({"vm_name": "shop/web", "provides": {"type": "web", "state_gib": 2.0},
               "dependencies": {"required": [{"type": "database", "version": "PostgreSQL 14"}]}}),
    ] {
        assert_eq!(api.post_json("/v1/dependencies", &declaration).status, 201);
    }
    let before = workload(&api.get("/v1/ecosystem").body, "shop/web").clone();
    assert_eq!(before["violated"], true, "{before}");

    // A dry run: the move next to the database, nothing committed.
    let reply = api.post_json("/v1/migrate", &json!({"workload": "shop/web"}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["strategy"], "ecosystem/satisfy",
        "{}",
        reply.body
    );
    assert_eq!(reply.body["applied"], false);
    let moves = reply.body["moves"].as_array().expect("moves");
    assert_eq!(moves.len(), 1, "{}", reply.body);
    assert_eq!(moves[0]["from"], home.as_str());
    assert_eq!(moves[0]["to"], far);
    assert_eq!(moves[0]["score_after"], 1.0);
    // 2 GiB over 10 Gb/s is 1.6 s, plus 2 s of downtime.
    assert!(
        (moves[0]["expected_cost"].as_f64().expect("cost") - 3.6).abs() < 1e-9,
        "{}",
        reply.body
    );
    assert_eq!(
        workload(&api.get("/v1/ecosystem").body, "shop/web")["cluster"],
        home.as_str()
    );

    // Applied: committed through the commit path, recorded, and the map follows.
    let reply = api.post_json("/v1/migrate?apply=true", &json!({"workload": "shop/web"}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["applied"], true, "{}", reply.body);
    let id = reply.body["decision_id"].as_i64().expect("recorded");
    let placed: Vec<(String, String, u64)> = placement(&api.get("/v1/graphs/shop").body);
    assert_eq!(placed, [("web".to_owned(), far.to_owned(), 2)]);
    let after = workload(&api.get("/v1/ecosystem").body, "shop/web").clone();
    assert_eq!(
        (after["cluster"].as_str(), after["score"].as_f64()),
        (Some(far), Some(1.0))
    );
    let history = api.get("/v1/decisions?graph=shop").body;
    let record = history["decisions"]
        .as_array()
        .and_then(|d| d.iter().find(|r| r["id"] == id))
        .expect("the decision is in the history");
    assert_eq!(record["trigger"], "ecosystem", "{record}");

    // Nothing left to gain: no move; pinned graphs and unknown workloads are refused.
    let reply = api.post_json("/v1/migrate", &json!({"workload": "shop/web"}));
    assert_eq!(reply.body["moves"], json!([]), "{}", reply.body);
    assert_eq!(
        api.post_json("/v1/migrate", &json!({"workload": "data/db"}))
            .status,
        409
    );
    assert_eq!(
        api.post_json("/v1/migrate", &json!({"workload": "shop/nope"}))
            .status,
        404
    );
    assert_eq!(
        api.post_json("/v1/migrate", &json!({"workload": "no-slash"}))
            .status,
        422
    );
}

#[test]
fn a_neighbour_of_the_same_graph_is_offered_to_join_the_workload() {
    let sandbox = sandbox();
    sandbox.install("smo_ecosystem", "ecosystem.so");
    let api = start(&sandbox, "[ecosystem]\nperiod_ms = 0\n");
    api.deploy(&test_descriptor(
        "shop",
        &[("web", "1Gi"), ("cache", "1Gi")],
        None,
        "",
        FIXED_TWO,
    ));
    let placed = placement(&api.get("/v1/graphs/shop").body);
    let home = placed[0].1.clone();
    assert!(
        placed.iter().all(|(_, c, _)| *c == home),
        "web and cache start together: {placed:?}"
    );
    let far = ["cloud-frankfurt", "cloud-gpu-stockholm", "edge-athens"]
        .into_iter()
        .find(|c| *c != home)
        .expect("another cluster");
    api.deploy(&pinned("data", &["db"], far));
    for declaration in [
        json!({"vm_name": "data/db", "provides": {"type": "database"}}),
        json!({"vm_name": "shop/cache", "provides": {"type": "caching", "state_gib": 1.0}}),
        json!({"vm_name": "shop/web", "provides": {"type": "web"},
               "dependencies": {"required": [{"type": "database"}],
                                "preferred": [{"type": "caching"}]}}),
    ] {
        assert_eq!(api.post_json("/v1/dependencies", &declaration).status, 201);
    }
    // First the web tier goes to its database, leaving its cache behind.
    let reply = api.post_json("/v1/migrate?apply=true", &json!({"workload": "shop/web"}));
    assert_eq!(reply.body["applied"], true, "{}", reply.body);
    let web = workload(&api.get("/v1/ecosystem").body, "shop/web").clone();
    assert_eq!(
        (web["cluster"].as_str(), web["score"].as_f64()),
        (Some(far), Some(0.7))
    );

    // Then its cache is offered to join it (a move of another service of the graph, scored by
    // what it gives the web tier), and joins.
    let reply = api.post_json("/v1/migrate?apply=true", &json!({"workload": "shop/web"}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let moves = reply.body["moves"].as_array().expect("moves");
    assert_eq!(moves.len(), 1, "{}", reply.body);
    assert_eq!(
        (
            moves[0]["service"].as_str(),
            moves[0]["from"].as_str(),
            moves[0]["to"].as_str()
        ),
        (Some("cache"), Some(home.as_str()), Some(far)),
        "{}",
        reply.body
    );
    assert!((moves[0]["dependents_delta"].as_f64().expect("delta") - 0.3).abs() < 1e-9);
    assert_eq!(reply.body["applied"], true, "{}", reply.body);
    let map = api.get("/v1/ecosystem").body;
    assert_eq!(workload(&map, "shop/cache")["cluster"], far);
    assert_eq!(workload(&map, "shop/web")["score"], 1.0);
    let placed = placement(&api.get("/v1/graphs/shop").body);
    assert!(placed.iter().all(|(_, c, _)| c == far), "{placed:?}");
}

#[test]
fn the_loop_migrates_a_low_scoring_workload_on_its_own() {
    let sandbox = sandbox();
    sandbox.install("smo_ecosystem", "ecosystem.so");
    let api = start(
        &sandbox,
        "[ecosystem]\nperiod_ms = 200\nmax_moves_per_period = 1\n",
    );
    let (_, far) = web_away_from_its_database(&api);
    for declaration in [
        json!({"vm_name": "data/db", "provides": {"type": "database"}}),
        json!({"vm_name": "shop/web", "provides": {"type": "web", "critical": true},
               "dependencies": {"required": [{"type": "database"}]}}),
    ] {
        assert_eq!(api.post_json("/v1/dependencies", &declaration).status, 201);
    }
    // No request: the loop finds shop/web below the threshold and moves it.
    let map = api.wait_for("/v1/ecosystem", "shop/web moved next to data/db", |map| {
        map["workloads"]
            .as_array()
            .and_then(|w| w.iter().find(|w| w["name"] == "shop/web"))
            .is_some_and(|w| w["cluster"] == far && w["score"] == 1.0)
    });
    assert!(map["unmet"].as_array().is_some_and(Vec::is_empty), "{map}");
    let history = api.get("/v1/decisions?graph=shop").body;
    assert!(
        history["decisions"].as_array().is_some_and(|d| d
            .iter()
            .any(|r| r["trigger"] == "ecosystem" && r["generation"].is_number())),
        "{history}"
    );
}

#[test]
fn the_outcome_of_a_migration_is_observed_and_learned_from() {
    let sandbox = sandbox();
    sandbox.install("smo_ecosystem", "ecosystem.so");
    // Observed as soon as applied (window 1 ms), rounds every 100 ms.
    let api = start(&sandbox, "[ecosystem]\nperiod_ms = 100\nwindow_ms = 1\n");
    let (_, far) = web_away_from_its_database(&api);
    let before = api.get("/v1/ecosystem").body;
    assert_eq!(before["learned"]["samples"], 0, "{before}");
    assert_eq!(before["learned"]["downtime_s"], 2.0, "the prior");
    for declaration in [
        json!({"vm_name": "data/db", "provides": {"type": "database"}}),
        json!({"vm_name": "shop/web", "provides": {"type": "web", "state_gib": 1.0},
               "dependencies": {"required": [{"type": "database"}]}}),
    ] {
        assert_eq!(api.post_json("/v1/dependencies", &declaration).status, 201);
    }
    let map = api.wait_for("/v1/ecosystem", "the move observed", |map| {
        map["learned"]["samples"] == 1
    });
    assert_eq!(workload(&map, "shop/web")["cluster"], far, "{map}");
    // The simulated continuum applies in milliseconds: the learned downtime falls from the
    // prior's 2 s (one observation weighs as much as the prior).
    let downtime = map["learned"]["downtime_s"].as_f64().expect("downtime");
    assert!(downtime < 1.5, "{map}");
    // And the next decision uses it: the moves offered carry the learned model's seconds
    // (1 GiB of state over 10 Gb/s is 0.8 s of copy).
    let learned = &map["learned"];
    let expected = learned["downtime_s"].as_f64().expect("downtime")
        + learned["copy_scale"].as_f64().expect("scale") * 0.8;
    let reply = api.post_json("/v1/migrate", &json!({"workload": "shop/web"}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let offered = reply.body["offered"].as_array().expect("offered");
    assert!(!offered.is_empty(), "{}", reply.body);
    for offer in offered {
        let seconds = offer["expected_s"].as_f64().expect("seconds");
        assert!((seconds - expected).abs() < 1e-9, "{offer} vs {expected}");
    }
}
