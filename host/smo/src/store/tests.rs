//! Store tests against real database files: round trips across a close and reopen, atomic
//! writes, migrations on reopen.

use serde_json::json;
use smo_plugin_api::DependencyKind;

use super::*;
use smo_core::graphs::{parse_descriptor, GraphSpec};

const BRUSSELS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/hdag/brussels-demo.yaml"
));

const SHOP_V1: &str = r#"
hdaGraph:
  id: shop
  hdaGraphIntent:
    placementStrategy: ecmr/heuristic
    strategyParameters: {placement: {w_dep: 1}}
  services:
    - id: api
      deployment:
        intent:
          compute: {cpu: 2, ram: 3Gi}
          scaling: {alpha: 5, maxReplicas: 4}
          dependencies: {required: [db]}
    - id: db
      deployment:
        intent:
          compute: {cpu: 500m, ram: 512Mi}
"#;

const SHOP_V2: &str = r#"
hdaGraph:
  id: shop
  services:
    - id: api
      deployment:
        intent:
          compute: {cpu: 4, ram: 4Gi}
"#;

fn spec(text: &str) -> GraphSpec {
    match parse_descriptor(text) {
        Ok(spec) => spec,
        Err(errors) => panic!("invalid test descriptor:\n{errors}"),
    }
}

fn decision(graph: &str, kind: DecisionKind, started_at_ms: i64) -> DecisionRecord {
    DecisionRecord {
        graph: graph.to_owned(),
        trigger: Some("deploy".to_owned()),
        requested: Some("ecmr/heuristic".to_owned()),
        strategy: "ecmr/heuristic".to_owned(),
        plugin_version: Some("0.1.0".to_owned()),
        duration_ms: 1.25,
        reasons: vec!["api fits edge-1".to_owned()],
        inputs: Some(json!({"clusters": 2, "trigger": "deploy"})),
        decision: Some(json!({"api": "edge-1"})),
        ..DecisionRecord::new(kind, started_at_ms)
    }
}

#[test]
fn the_state_directory_and_the_database_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("new").join("state");
    let store = Store::open(&state_dir).expect("open");
    store
        .append_decision(&decision("shop", DecisionKind::Placement, 1))
        .expect("a write");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("smo.db")), 0o600);
    assert_eq!(mode(&state_dir.join("smo.db-wal")), 0o600);
    drop(store);
    // A database left readable by others is made private when opened.
    let db = state_dir.join("smo.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let _store = Store::open(&state_dir).expect("reopen");
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn everything_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("state");
    let shop = spec(SHOP_V1);
    let brussels = spec(BRUSSELS);
    let cluster = json!({"role": "edge", "capacity": {"cpu": 16},
                         "energy": {"source": "solar", "pue": 1.2}});
    let placement = vec![
        PlacementEntry::new("api", "edge-1", 2),
        PlacementEntry::new("db", "cloud-1", 1),
        PlacementEntry::new("api", "cloud-1", 1),
    ];
    let token = hash_token("s3cret");
    let (first_id, created_at_ms) = {
        let store = Store::open(&state_dir).expect("open");
        assert!(state_dir.join(DATABASE_FILE).is_file());
        let mode: String = store
            .lock()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .expect("journal mode");
        assert_eq!(mode, "wal");
        let foreign_keys: i64 = store
            .lock()
            .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
            .expect("foreign keys");
        assert_eq!(foreign_keys, 1);

        let stored = store.create_graph(&shop, "running").expect("create shop");
        store
            .create_graph(&brussels, "stopped")
            .expect("create brussels");
        store.upsert_cluster("edge-1", &cluster).expect("cluster");
        store.set_placement("shop", &placement).expect("placement");
        let first = store
            .append_decision(&decision("shop", DecisionKind::Placement, 1000))
            .expect("decision");
        store.put_token(&token, "admin").expect("token");
        (first, stored.created_at_ms)
    };

    let store = Store::open(&state_dir).expect("reopen");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    let graphs = store.list_graphs().expect("list");
    let names: Vec<&str> = graphs.iter().map(StoredGraph::name).collect();
    assert_eq!(names, ["image-detection-graph", "shop"]);
    let shop_back = store.get_graph("shop").expect("get").expect("shop stored");
    assert_eq!(shop_back.spec, shop);
    assert_eq!(shop_back.spec.source, SHOP_V1);
    assert_eq!(shop_back.status, "running");
    assert_eq!(shop_back.created_at_ms, created_at_ms);
    let api = &shop_back.spec.to_plugin_graph().services[0];
    assert_eq!(api.dependencies[0].kind, DependencyKind::Required);
    assert_eq!(
        store
            .get_graph("image-detection-graph")
            .expect("get")
            .map(|g| g.spec),
        Some(brussels)
    );

    let clusters = store
        .list_clusters::<serde_json::Value>()
        .expect("clusters");
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0].name, "edge-1");
    assert_eq!(clusters[0].cluster, cluster);
    assert_eq!(store.get_placement("shop").expect("placement"), placement);

    let decisions = store.list_decisions(Some("shop"), 10).expect("decisions");
    assert_eq!(decisions.len(), 1);
    assert_eq!(
        decisions[0],
        DecisionRecord {
            id: Some(first_id),
            ..decision("shop", DecisionKind::Placement, 1000)
        }
    );
    assert_eq!(
        store.find_token(&token).expect("token").map(|t| t.scope),
        Some("admin".to_owned())
    );
}

#[test]
fn migrations_are_idempotent_on_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    for _ in 0..3 {
        let store = Store::open(dir.path()).expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        store.upsert_cluster("c", &json!({})).expect("write");
    }
    let store = Store::open(dir.path()).expect("open");
    assert_eq!(
        store
            .list_clusters::<serde_json::Value>()
            .expect("list")
            .len(),
        1
    );
}

#[test]
fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(DATABASE_FILE);
    {
        let conn = Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 7)
            .expect("bump");
    }
    let error = Store::open(dir.path()).expect_err("newer schema");
    assert!(matches!(error, StoreError::SchemaTooNew { .. }), "{error}");
    assert!(error.to_string().contains("newer than this smo"), "{error}");
}

#[test]
fn a_failed_graph_write_leaves_the_previous_graph_intact() {
    let store = Store::open_in_memory().expect("open");
    let v1 = spec(SHOP_V1);
    store.put_graph(&v1, "running").expect("v1");
    let placement = vec![
        PlacementEntry::new("api", "edge-1", 1),
        PlacementEntry::new("db", "edge-1", 1),
    ];
    store.set_placement("shop", &placement).expect("placement");
    // v2 drops service "db", so writing it prunes db's placement row *after* updating the
    // graph row. Make that second statement fail.
    store
        .lock()
        .execute_batch(
            "CREATE TRIGGER no_prune BEFORE DELETE ON placements
             BEGIN SELECT RAISE(ABORT, 'pruning refused'); END",
        )
        .expect("trigger");
    let error = store
        .put_graph(&spec(SHOP_V2), "running")
        .expect_err("the write must fail");
    assert!(
        error.to_string().contains("put graph \"shop\" failed"),
        "{error}"
    );
    let stored = store.get_graph("shop").expect("get").expect("still there");
    assert_eq!(stored.spec, v1);
    assert_eq!(stored.status, "running");
    assert_eq!(store.get_placement("shop").expect("placement"), placement);

    // Without the trigger the same write succeeds and prunes the placement of "db".
    store
        .lock()
        .execute_batch("DROP TRIGGER no_prune")
        .expect("drop trigger");
    let stored = store.put_graph(&spec(SHOP_V2), "running").expect("v2");
    assert_eq!(stored.spec.services.len(), 1);
    assert_eq!(
        store.get_placement("shop").expect("placement"),
        [PlacementEntry::new("api", "edge-1", 1)]
    );
}

#[test]
fn an_invalid_status_changes_nothing() {
    let store = Store::open_in_memory().expect("open");
    let v1 = spec(SHOP_V1);
    store.put_graph(&v1, "running").expect("v1");
    assert!(store.put_graph(&spec(SHOP_V2), "").is_err());
    assert_eq!(
        store.get_graph("shop").expect("get").map(|g| g.spec),
        Some(v1)
    );
}

#[test]
fn graphs_are_created_once_updated_and_deleted() {
    let store = Store::open_in_memory().expect("open");
    let v1 = spec(SHOP_V1);
    let created = store.create_graph(&v1, "pending").expect("create");
    assert!(matches!(
        store.create_graph(&v1, "pending"),
        Err(StoreError::GraphExists(name)) if name == "shop"
    ));
    store.set_graph_status("shop", "running").expect("status");
    assert_eq!(
        store.get_graph("shop").expect("get").map(|g| g.status),
        Some("running".to_owned())
    );
    let replaced = store.put_graph(&spec(SHOP_V2), "running").expect("replace");
    assert_eq!(replaced.created_at_ms, created.created_at_ms);
    assert!(matches!(
        store.set_graph_status("nope", "running"),
        Err(StoreError::GraphNotFound(_))
    ));

    store
        .set_placement("shop", &[PlacementEntry::new("api", "edge-1", 1)])
        .expect("placement");
    store
        .append_decision(&decision("shop", DecisionKind::Placement, 1))
        .expect("decision");
    assert!(store.delete_graph("shop").expect("delete"));
    assert!(!store.delete_graph("shop").expect("delete again"));
    assert_eq!(store.get_graph("shop").expect("get"), None);
    let placements: i64 = store
        .lock()
        .query_row("SELECT count(*) FROM placements", [], |row| row.get(0))
        .expect("count");
    assert_eq!(placements, 0, "the placement went with the graph");
    assert_eq!(
        store
            .list_decisions(Some("shop"), 10)
            .expect("history")
            .len(),
        1,
        "the history stays"
    );
}

#[test]
fn a_failed_placement_write_keeps_the_previous_placement() {
    let store = Store::open_in_memory().expect("open");
    store.put_graph(&spec(SHOP_V1), "running").expect("graph");
    let before = vec![PlacementEntry::new("api", "edge-1", 2)];
    store.set_placement("shop", &before).expect("placement");
    let duplicate = vec![
        PlacementEntry::new("db", "edge-2", 1),
        PlacementEntry::new("api", "edge-2", 1),
        PlacementEntry::new("api", "edge-2", 3),
    ];
    let error = store
        .set_placement("shop", &duplicate)
        .expect_err("duplicate entry");
    assert!(
        error
            .to_string()
            .contains("service \"api\" on cluster \"edge-2\""),
        "{error}"
    );
    assert_eq!(store.get_placement("shop").expect("placement"), before);
    assert!(matches!(
        store.set_placement("nope", &before),
        Err(StoreError::GraphNotFound(_))
    ));
    assert!(matches!(
        store.get_placement("nope"),
        Err(StoreError::GraphNotFound(_))
    ));

    // Round trip through the plugin API's placement.
    let plugin = PlacementEntry::to_plugin(&before);
    assert_eq!(plugin.cluster_of("api"), Some("edge-1"));
    assert_eq!(PlacementEntry::from_plugin(&plugin), before);
}

#[test]
fn decisions_are_listed_newest_first() {
    let store = Store::open_in_memory().expect("open");
    for (i, kind) in [
        DecisionKind::Placement,
        DecisionKind::Scaling,
        DecisionKind::Scaling,
        DecisionKind::Migration,
    ]
    .into_iter()
    .enumerate()
    {
        let graph = if i == 2 { "other" } else { "shop" };
        let mut record = decision(graph, kind, i64::try_from(i).expect("small"));
        if kind == DecisionKind::Migration {
            record.outcome = Outcome::Fallback;
        }
        store.append_decision(&record).expect("append");
    }
    let all = store.list_decisions(None, 10).expect("all");
    let order: Vec<i64> = all.iter().map(|d| d.started_at_ms).collect();
    assert_eq!(order, [3, 2, 1, 0]);
    let shop = store.list_decisions(Some("shop"), 2).expect("shop");
    let order: Vec<i64> = shop.iter().map(|d| d.started_at_ms).collect();
    assert_eq!(order, [3, 1]);
    assert_eq!(shop[0].outcome, Outcome::Fallback);
    let last = store
        .last_decision("shop", DecisionKind::Scaling)
        .expect("last")
        .expect("one");
    assert_eq!(last.started_at_ms, 1);
    assert_eq!(
        store
            .last_decision("other", DecisionKind::Migration)
            .expect("none"),
        None
    );
    // The JSON form is flat, with the id.
    let json = serde_json::to_value(&all[0]).expect("json");
    assert_eq!(json["kind"], "migration");
    assert_eq!(json["outcome"], "fallback");
    assert_eq!(json["duration_ms"], 1.25);
    assert!(json["id"].is_i64());

    assert_eq!(store.prune_decisions(2).expect("prune"), 2);
    assert_eq!(store.list_decisions(None, 10).expect("rest").len(), 2);
}

#[test]
fn tokens_are_stored_by_hash() {
    let store = Store::open_in_memory().expect("open");
    let hash = hash_token("s3cret");
    assert_eq!(hash.len(), 64);
    assert_ne!(hash, hash_token("other"));
    let token = store.put_token(&hash, "read").expect("put");
    assert_eq!(token.scope, "read");
    let token = store.put_token(&hash, "admin").expect("rescope");
    assert_eq!(token.scope, "admin");
    assert_eq!(store.list_tokens().expect("list").len(), 1);
    assert_eq!(store.find_token(&hash_token("wrong")).expect("find"), None);
    assert!(store.delete_token(&hash).expect("delete"));
    assert_eq!(store.find_token(&hash).expect("find"), None);
}

#[test]
fn clusters_keep_their_creation_time_and_typed_form() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Cluster {
        cpu: f64,
        source: String,
    }
    let store = Store::open_in_memory().expect("open");
    let first = Cluster {
        cpu: 8.0,
        source: "grid".to_owned(),
    };
    store.upsert_cluster("edge-1", &first).expect("insert");
    let created = store
        .get_cluster::<Cluster>("edge-1")
        .expect("get")
        .expect("stored");
    let second = Cluster {
        cpu: 16.0,
        source: "solar".to_owned(),
    };
    store.upsert_cluster("edge-1", &second).expect("update");
    let updated = store
        .get_cluster::<Cluster>("edge-1")
        .expect("get")
        .expect("stored");
    assert_eq!(updated.cluster, second);
    assert_eq!(updated.created_at_ms, created.created_at_ms);
    assert!(store.get_cluster::<Cluster>("nope").expect("get").is_none());
    // A row of another shape is reported, not panicked on.
    store.upsert_cluster("odd", &json!([1, 2])).expect("insert");
    assert!(matches!(
        store.get_cluster::<Cluster>("odd"),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(store.delete_cluster("odd").expect("delete"));
}

#[test]
fn the_store_is_shared_across_threads() {
    let store = std::sync::Arc::new(Store::open_in_memory().expect("open"));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || {
                store
                    .append_decision(&decision("shop", DecisionKind::Scaling, i))
                    .expect("append")
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread");
    }
    assert_eq!(store.list_decisions(None, 100).expect("list").len(), 4);
}

fn transition(graph: &str, at_s: f64) -> OffloadTransitionRecord {
    OffloadTransitionRecord {
        graph: graph.to_owned(),
        at_s,
        from: json!({"state": "camping"}),
        to: json!({"state": "offloadAlarm", "sinceS": at_s}),
        reason: format!("delay high at {at_s}"),
    }
}

#[test]
fn offload_transitions_are_listed_oldest_first_and_bounded_per_graph() {
    let store = Store::open_in_memory().expect("open");
    for i in 0..5 {
        store
            .append_offload_transition(&transition("shop", f64::from(i)))
            .expect("append");
        store
            .append_offload_transition(&transition("other", f64::from(100 + i)))
            .expect("append other");
    }
    let shop = store.list_offload_transitions("shop", 3).expect("list");
    let times: Vec<f64> = shop.iter().map(|t| t.record.at_s).collect();
    assert_eq!(times, [2.0, 3.0, 4.0], "the newest three, oldest first");
    assert!(shop.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(shop[0].record, transition("shop", 2.0));
    assert!(shop[0].recorded_at_ms > 0);
    let json = serde_json::to_value(&shop[0]).expect("json");
    assert_eq!(json["atS"], 2.0);
    assert_eq!(json["to"]["state"], "offloadAlarm");
    assert!(json["id"].is_i64());
    assert!(store
        .list_offload_transitions("nobody", 10)
        .expect("none")
        .is_empty());

    // Retention: each graph keeps its newest OFFLOAD_TRANSITIONS_KEPT, the others untouched.
    for i in 5..(OFFLOAD_TRANSITIONS_KEPT + 10) {
        let at = f64::from(u32::try_from(i).expect("small"));
        store
            .append_offload_transition(&transition("shop", at))
            .expect("append");
    }
    let shop = store
        .list_offload_transitions("shop", usize::MAX)
        .expect("all");
    assert_eq!(shop.len(), OFFLOAD_TRANSITIONS_KEPT);
    assert_eq!(shop[0].record.at_s, 10.0);
    assert_eq!(
        shop.last().map(|t| t.record.at_s),
        Some(f64::from(
            u32::try_from(OFFLOAD_TRANSITIONS_KEPT + 9).expect("small")
        ))
    );
    assert_eq!(
        store
            .list_offload_transitions("other", usize::MAX)
            .expect("other")
            .len(),
        5
    );

    // A nameless graph is refused and changes nothing.
    assert!(store
        .append_offload_transition(&transition("", 1.0))
        .is_err());
    assert!(store
        .list_offload_transitions("", 10)
        .expect("empty")
        .is_empty());

    // The log of a deleted graph is kept, as decisions are.
    store
        .create_graph(&spec(SHOP_V1), "running")
        .expect("create");
    assert!(store.delete_graph("shop").expect("delete"));
    assert_eq!(
        store
            .list_offload_transitions("shop", usize::MAX)
            .expect("kept")
            .len(),
        OFFLOAD_TRANSITIONS_KEPT
    );
}

#[test]
fn a_version_1_database_migrates_forward_keeping_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DATABASE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).expect("open v1");
        conn.execute_batch(migrations::MIGRATIONS[0])
            .expect("schema v1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version 1");
        conn.execute(
            "INSERT INTO decisions (graph, kind, strategy, plugin_version, started_at_ms,
                 duration_ms, outcome, reasons, inputs, output)
             VALUES ('shop', 'placement', 'ecmr/heuristic', '0.1.0', 7, 1.0, 'ok', '[]', '{}', '{}')",
            [],
        )
        .expect("a v1 decision");
    }
    let store = Store::open_file(&path).expect("migrate");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 6);
    let decisions = store.list_decisions(Some("shop"), 10).expect("decisions");
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].started_at_ms, 7);
    assert_eq!(
        decisions[0].generation, None,
        "a v1 decision committed nothing"
    );
    store
        .append_offload_transition(&transition("shop", 1.0))
        .expect("the new table");
    assert_eq!(
        store
            .list_offload_transitions("shop", 10)
            .expect("list")
            .len(),
        1
    );
}

#[test]
fn a_commit_writes_spec_placement_status_and_decisions_at_a_new_generation() {
    let store = Store::open_in_memory().expect("store");
    let shop = spec(SHOP_V1);
    let placement = [
        PlacementEntry::new("api", "edge-1", 2),
        PlacementEntry::new("db", "cloud-1", 1),
    ];
    let decisions = [
        decision("shop", DecisionKind::Placement, 1),
        decision("shop", DecisionKind::Scaling, 2),
    ];
    let created = store
        .commit(
            "shop",
            &Commit {
                spec: Some(&shop),
                create: true,
                placement: Some(&placement),
                status: Some("running"),
                decisions: &decisions,
            },
        )
        .expect("create");
    assert_eq!(created.decision_ids.len(), 2);
    let stored = store.get_graph("shop").expect("get").expect("stored");
    assert_eq!(stored.generation, created.generation);
    assert_eq!(stored.status, "running");
    assert_eq!(store.get_placement("shop").expect("placement"), placement);
    let listed = store.list_decisions(Some("shop"), 10).expect("decisions");
    assert!(listed
        .iter()
        .all(|d| d.generation == Some(created.generation)));

    // Creating again is refused and changes nothing.
    let again = store.commit(
        "shop",
        &Commit {
            spec: Some(&shop),
            create: true,
            status: Some("running"),
            decisions: &decisions,
            ..Commit::default()
        },
    );
    assert!(
        matches!(again, Err(StoreError::GraphExists(_))),
        "{again:?}"
    );
    assert_eq!(store.list_decisions(Some("shop"), 10).expect("d").len(), 2);

    // A status change alone keeps the placement and makes a newer generation.
    let stopped = store
        .commit(
            "shop",
            &Commit {
                status: Some("stopped"),
                ..Commit::default()
            },
        )
        .expect("stop");
    assert!(stopped.generation > created.generation);
    assert_eq!(store.get_placement("shop").expect("placement"), placement);

    // A failing commit (the same row twice) changes nothing, decisions included.
    let twice = [
        PlacementEntry::new("api", "edge-1", 1),
        PlacementEntry::new("api", "edge-1", 1),
    ];
    let failed = store.commit(
        "shop",
        &Commit {
            placement: Some(&twice),
            decisions: &decisions,
            ..Commit::default()
        },
    );
    assert!(failed.is_err());
    let after = store.get_graph("shop").expect("get").expect("stored");
    assert_eq!(after.generation, stopped.generation);
    assert_eq!(after.status, "stopped");
    assert_eq!(store.list_decisions(Some("shop"), 10).expect("d").len(), 2);
    assert!(matches!(
        store.commit("ghost", &Commit::default()),
        Err(StoreError::GraphNotFound(_))
    ));
}

#[test]
fn generations_keep_growing_when_a_graph_is_deleted_and_created_again() {
    let store = Store::open_in_memory().expect("store");
    let shop = spec(SHOP_V1);
    let create = Commit {
        spec: Some(&shop),
        create: true,
        status: Some("running"),
        ..Commit::default()
    };
    let first = store.commit("shop", &create).expect("create");
    assert!(store.delete_graph("shop").expect("delete"));
    let second = store.commit("shop", &create).expect("create again");
    assert!(second.generation > first.generation);
    assert!(
        !store
            .delete_graph_at("shop", first.generation, "running")
            .expect("older generation"),
        "a graph created anew is not deleted by its predecessor's withdrawal"
    );
    assert!(store
        .delete_graph_at("shop", second.generation, "running")
        .expect("this generation"));
}

#[test]
fn apply_attempts_give_the_applied_generation_the_attempts_and_the_last_error() {
    let store = Store::open_in_memory().expect("store");
    let attempt = |generation: u64, ok: bool| ApplyAttemptRecord {
        graph: "shop".into(),
        generation,
        action: ApplyAction::Apply,
        started_at_ms: i64::try_from(generation).expect("small"),
        duration_ms: 0.5,
        ok,
        retryable: !ok,
        error: (!ok).then(|| format!("failure at {generation}")),
    };
    assert_eq!(
        store.apply_summary("shop", 1).expect("empty"),
        ApplySummary::default()
    );
    store.append_apply_attempt(&attempt(1, true)).expect("ok");
    store
        .append_apply_attempt(&attempt(2, false))
        .expect("fail");
    store
        .append_apply_attempt(&attempt(2, false))
        .expect("fail");
    let summary = store.apply_summary("shop", 2).expect("summary");
    assert_eq!(summary.applied_generation, Some(1));
    assert_eq!(summary.attempts, 2);
    assert!(!summary.last.as_ref().expect("last").record.ok);
    store.append_apply_attempt(&attempt(2, true)).expect("ok");
    let summary = store.apply_summary("shop", 2).expect("summary");
    assert_eq!(summary.applied_generation, Some(2));
    assert_eq!(summary.attempts, 3);
    let error = summary.last_error.expect("kept").record;
    assert_eq!(error.error.as_deref(), Some("failure at 2"));
    assert!(error.retryable);
    for _ in 0..APPLY_ATTEMPTS_KEPT {
        store.append_apply_attempt(&attempt(3, true)).expect("ok");
    }
    let listed = store
        .list_apply_attempts(Some("shop"), usize::MAX)
        .expect("list");
    assert_eq!(listed.len(), APPLY_ATTEMPTS_KEPT, "bounded per graph");
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let nameless = ApplyAttemptRecord {
        graph: String::new(),
        ..attempt(1, true)
    };
    assert!(store.append_apply_attempt(&nameless).is_err());
}

#[test]
fn the_graph_list_is_read_page_by_page_with_the_same_rows_as_one_graph_reads() {
    let store = Store::open_in_memory().expect("store");
    let names = ["a-shop", "b-shop", "c-shop", "d-shop", "e-shop"];
    for (i, name) in names.iter().enumerate() {
        let spec = spec(&SHOP_V1.replace("id: shop", &format!("id: {name}")));
        store.create_graph(&spec, "running").expect("graph");
        let rows = [
            PlacementEntry::new("api", "edge", u32::try_from(i + 1).expect("small")),
            PlacementEntry::new("db", "cloud", 1),
        ];
        store
            .commit(
                name,
                &Commit {
                    placement: Some(&rows),
                    ..Commit::default()
                },
            )
            .expect("placement");
    }
    let attempt = |graph: &str, generation: u64, ok: bool| ApplyAttemptRecord {
        graph: graph.into(),
        generation,
        action: ApplyAction::Apply,
        started_at_ms: 1,
        duration_ms: 0.5,
        ok,
        retryable: !ok,
        error: (!ok).then(|| "boom".to_owned()),
    };
    store
        .append_apply_attempt(&attempt("b-shop", 1, true))
        .expect("ok");
    store
        .append_apply_attempt(&attempt("b-shop", 1, false))
        .expect("error");
    store
        .append_apply_attempt(&attempt("c-shop", 1, true))
        .expect("ok");

    let first = store.graph_page(None, 2).expect("page 1");
    let second = store.graph_page(Some("b-shop"), 2).expect("page 2");
    let last = store.graph_page(Some("d-shop"), 2).expect("page 3");
    let listed: Vec<&str> = first
        .iter()
        .chain(&second)
        .chain(&last)
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(listed, names);
    assert!(store
        .graph_page(Some("e-shop"), 2)
        .expect("after the end")
        .is_empty());
    for listing in first.iter().chain(&second).chain(&last) {
        let graph = store
            .get_graph(&listing.name)
            .expect("read")
            .expect("stored");
        assert_eq!(listing.status, graph.status);
        assert_eq!(listing.generation, graph.generation);
        let services: Vec<&str> = graph
            .spec
            .services
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(listing.services, services);
        assert_eq!(
            listing.placement,
            store.get_placement(&listing.name).expect("placement")
        );
        let summary = store
            .apply_summary(&listing.name, graph.generation)
            .expect("summary");
        assert_eq!(listing.apply.applied_generation, summary.applied_generation);
        assert_eq!(listing.apply.last, summary.last, "{}", listing.name);
    }
    assert_eq!(first[1].apply.applied_generation, Some(1));
    assert!(first[1].apply.last.as_ref().is_some_and(|a| !a.record.ok));
    assert_eq!(first[0].apply.last, None);
}

#[test]
fn a_version_3_database_gains_the_service_names_of_its_graphs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DATABASE_FILE);
    let shop = spec(SHOP_V1);
    {
        let conn = rusqlite::Connection::open(&path).expect("open v3");
        for migration in &migrations::MIGRATIONS[..3] {
            conn.execute_batch(migration).expect("schema");
        }
        conn.pragma_update(None, "user_version", 3)
            .expect("version 3");
        conn.execute(
            "INSERT INTO graphs (name, descriptor, spec, status, created_at_ms, updated_at_ms)
             VALUES ('shop', ?1, ?2, 'running', 1, 1)",
            rusqlite::params![shop.source, shop.to_json().expect("spec JSON")],
        )
        .expect("a v3 graph");
    }
    let store = Store::open_file(&path).expect("migrate");
    let page = store.graph_page(None, 10).expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].services, ["api", "db"]);
}
