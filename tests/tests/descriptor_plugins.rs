//! Descriptors that name a plugin (`hdaGraphIntent.placementStrategy: plugin/strategy`): a
//! plugin file dropped since the last reload is found, loaded alone and used at deploy; a name
//! that matches nothing, or a strategy of another kind, is refused with 422 naming the field and
//! listing the strategies of that kind (nothing stored); a plugin removed after the deploy still
//! falls back to the default, shown in the graph's status.

mod api_support;

use api_support::*;
use serde_json::Value;
use smo_plugin_host::Registry;
use smo_tests::{plugin_so, Sandbox};
use std::os::unix::fs::PermissionsExt;

const PLACEMENT_FIELD: &str = "hdaGraph.hdaGraphIntent.placementStrategy";

/// hello-world renamed to `id`, naming `lines` under `hdaGraphIntent`.
fn naming(id: &str, lines: &str) -> String {
    let text = hello_named(id).replace(
        "  hdaGraphIntent:\n",
        &format!("  hdaGraphIntent:\n{lines}"),
    );
    assert!(text.contains(lines), "the fixture changed shape");
    text
}

fn plugin<'a>(plugins: &'a Value, name: &str) -> Option<&'a Value> {
    plugins["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == name)
}

fn only_default_lp() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox
}

#[test]
fn a_plugin_dropped_since_the_last_reload_is_loaded_alone_at_deploy() {
    let sandbox = only_default_lp();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let api = start(&sandbox, "");
    let before = api.get("/v1/plugins").body;
    let generation = before["generation"].as_u64().expect("generation");
    let default_since =
        plugin(&before, "default-lp").expect("default-lp")["since_generation"].clone();
    assert!(plugin(&before, "ecmr").is_none());

    // Dropped by rename, no reload; and another plugin's file changed on disk meanwhile.
    sandbox.install("smo_ecmr", "ecmr.so");
    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    let created = api.deploy(&naming("green", "    placementStrategy: ecmr/heuristic\n"));
    let decision = &created["last_decisions"]["placement"];
    assert_eq!(decision["strategy"], "ecmr/heuristic", "{decision}");
    assert_eq!(decision["fallback_reason"], Value::Null, "{decision}");
    assert_eq!(created["strategies"]["placement"]["name"], "ecmr/heuristic");

    let after = api.get("/v1/plugins").body;
    assert_eq!(
        after["generation"].as_u64(),
        Some(generation + 1),
        "{after}"
    );
    let ecmr = plugin(&after, "ecmr").expect("ecmr listed");
    assert_eq!(ecmr["since_generation"].as_u64(), Some(generation + 1));
    assert_eq!(decision["plugin_version"], ecmr["version"]);
    assert_eq!(
        plugin(&after, "default-lp").expect("default-lp")["since_generation"],
        default_since
    );
    // The changed file of another plugin waits for a reload.
    let versioned = plugin(&after, "versioned").expect("versioned");
    assert_eq!(versioned["version"], "1.0.0", "{versioned}");
    assert_eq!(
        versioned["since_generation"],
        plugin(&before, "versioned").expect("versioned")["since_generation"]
    );
    assert_eq!(
        after["reloads"], before["reloads"],
        "not counted as a reload"
    );

    // A second deploy naming it finds it in the set: no new generation.
    api.deploy(&naming(
        "green-2",
        "    placementStrategy: ecmr/heuristic\n",
    ));
    assert_eq!(
        api.get("/v1/plugins").body["generation"].as_u64(),
        Some(generation + 1)
    );
    // A reload takes the changed file in.
    let reload = api.post_empty("/v1/plugins/reload");
    assert_eq!(reload.status, 200, "{}", reload.body);
    let reloaded = api.get("/v1/plugins").body;
    assert_eq!(
        plugin(&reloaded, "versioned").expect("versioned")["version"],
        "2.0.0"
    );
    assert_eq!(
        plugin(&reloaded, "ecmr").expect("ecmr")["since_generation"].as_u64(),
        Some(generation + 1),
        "unchanged by the reload"
    );
}

/// Asserts a 422 naming `field` whose message lists `listed`, and that nothing was stored.
fn assert_refused(api: &Api, reply: &Reply, graph: &str, field: &str, listed: &[&str]) {
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_descriptor", "{}", reply.body);
    assert_eq!(reply.body["field"], field, "{}", reply.body);
    let errors = reply.body["errors"].as_array().expect("errors");
    let error = errors
        .iter()
        .find(|e| e["path"] == field)
        .unwrap_or_else(|| panic!("no error at {field}: {errors:?}"));
    let message = error["message"].as_str().expect("message");
    for name in listed {
        assert!(message.contains(name), "{name} not listed: {message}");
    }
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(field)),
        "{}",
        reply.body
    );
    assert_eq!(
        api.get(&format!("/v1/graphs/{graph}")).status,
        404,
        "nothing stored"
    );
}

#[test]
fn a_name_that_matches_nothing_or_the_wrong_kind_is_refused_and_nothing_is_stored() {
    let sandbox = only_default_lp();
    let api = start(&sandbox, "");

    let unknown = naming("lost", "    placementStrategy: nosuch/placement\n");
    let reply = api.post_yaml("/v1/graphs", &unknown);
    assert_refused(
        &api,
        &reply,
        "lost",
        PLACEMENT_FIELD,
        &["nosuch", "default-lp/placement"],
    );
    let reply = api.put_yaml("/v1/graphs/lost", &unknown);
    assert_refused(
        &api,
        &reply,
        "lost",
        PLACEMENT_FIELD,
        &["nosuch", "default-lp/placement"],
    );
    let history = api.get("/v1/decisions?graph=lost").body;
    assert_eq!(history["decisions"].as_array().map(Vec::len), Some(0));

    // A strategy the plugin lacks, and a scaling strategy named as placement.
    let reply = api.post_yaml(
        "/v1/graphs",
        &naming("typo", "    placementStrategy: default-lp/placment\n"),
    );
    assert_refused(
        &api,
        &reply,
        "typo",
        PLACEMENT_FIELD,
        &["placment", "default-lp/milp"],
    );
    let reply = api.post_yaml(
        "/v1/graphs",
        &naming("kind", "    placementStrategy: default-lp/scaling\n"),
    );
    assert_refused(
        &api,
        &reply,
        "kind",
        PLACEMENT_FIELD,
        &["is a scaling strategy", "default-lp/placement"],
    );

    // Every wrong field at once; the first is `field`.
    let reply = api.post_yaml(
        "/v1/graphs",
        &naming(
            "both",
            "    placementStrategy: default-lp/scaling\n    scalingStrategy: default-lp/placement\n    migrationStrategy: nosuch/offload\n",
        ),
    );
    assert_refused(&api, &reply, "both", PLACEMENT_FIELD, &[]);
    let paths: Vec<&str> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            PLACEMENT_FIELD,
            "hdaGraph.hdaGraphIntent.scalingStrategy",
            "hdaGraph.hdaGraphIntent.migrationStrategy"
        ]
    );
    let migration = reply.body["errors"][2]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        migration.contains("no migration strategy is available"),
        "{migration}"
    );

    // An update of an existing graph to a wrong name is refused too, and changes nothing.
    api.deploy(&naming("kept", ""));
    let reply = api.put_yaml(
        "/v1/graphs/kept",
        &naming("kept", "    scalingStrategy: default-lp/placement\n"),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["field"],
        "hdaGraph.hdaGraphIntent.scalingStrategy"
    );
    let status = api.get("/v1/graphs/kept").body;
    assert_eq!(
        status["strategies"]["scaling"]["source"], "default",
        "{status}"
    );
}

#[test]
fn a_plugin_removed_after_the_deploy_falls_back_to_the_default_shown_in_the_status() {
    let sandbox = only_default_lp();
    sandbox.install("smo_ecmr", "ecmr.so");
    let api = start(&sandbox, "");
    api.deploy(&naming("green", "    placementStrategy: ecmr/heuristic\n"));
    std::fs::remove_file(sandbox.plugin_dir().join("ecmr.so")).expect("remove ecmr.so");
    let reload = api.post_empty("/v1/plugins/reload");
    assert_eq!(reload.status, 200, "{}", reload.body);
    assert_eq!(reload.body["removed"][0], "ecmr", "{}", reload.body);

    let record = api.post_empty("/v1/graphs/green/placement");
    assert_eq!(record.status, 200, "{}", record.body);
    assert_eq!(record.body["outcome"], "fallback", "{}", record.body);
    assert_eq!(record.body["strategy"], "default-lp/placement");
    assert!(
        record.body["fallback_reason"]
            .as_str()
            .is_some_and(|r| r.contains("ecmr")),
        "{}",
        record.body
    );
    let status = api.get("/v1/graphs/green").body;
    let placement = &status["strategies"]["placement"];
    assert_eq!(placement["name"], "ecmr/heuristic", "{status}");
    assert!(placement["unavailable"].is_string(), "{status}");
    assert_eq!(
        status["last_decisions"]["placement"]["outcome"], "fallback",
        "{status}"
    );
}

/// Copies plugin `lib` to `dir/as_name` with `mode`, by rename.
fn drop_file(dir: &std::path::Path, lib: &str, as_name: &str, mode: u32) {
    let tmp = dir.join(format!(".{as_name}.tmp"));
    std::fs::copy(plugin_so(lib), &tmp).expect("copy plugin");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).expect("chmod");
    std::fs::rename(&tmp, dir.join(as_name)).expect("rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_finds_a_missing_plugin_alone_under_the_rules_of_a_reload() {
    let sandbox = only_default_lp();
    let shipped = sandbox.root.path().join("shipped");
    std::fs::create_dir(&shipped).expect("shipped dir");
    let mut config = sandbox.registry_config();
    config.system_plugin_dir = Some(shipped.clone());
    let registry = Registry::open(config).await.expect("registry opens");
    let start = registry.active().generation;

    // Nothing provides it: nothing changes.
    assert!(registry
        .find_missing("nosuch")
        .await
        .expect("search")
        .is_none());
    assert_eq!(registry.active().generation, start);

    // A file others may write is skipped, as a reload refuses it.
    drop_file(&sandbox.plugin_dir(), "smo_ecmr", "ecmr.so", 0o666);
    assert!(registry
        .find_missing("ecmr")
        .await
        .expect("search")
        .is_none());
    std::fs::set_permissions(
        sandbox.plugin_dir().join("ecmr.so"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");

    // The operators' file is taken before the shipped one of the same plugin.
    drop_file(&shipped, "smo_ecmr", "ecmr.so", 0o755);
    let ecmr = registry
        .find_missing("ecmr")
        .await
        .expect("search")
        .expect("ecmr found");
    assert_eq!(ecmr.file.source, sandbox.plugin_dir().join("ecmr.so"));
    let set = registry.active();
    assert_eq!(set.generation, start + 1);
    assert_eq!(ecmr.since_generation, start + 1);
    assert_eq!(set.plugins["default-lp"].since_generation, start);
    assert_eq!(registry.status().reloads, 0, "not counted as a reload");

    // A file passed over while looking for another plugin is still found when it is the one.
    drop_file(
        &sandbox.plugin_dir(),
        "smo_fixture_versioned",
        "versioned.so",
        0o755,
    );
    assert!(registry
        .find_missing("other")
        .await
        .expect("search")
        .is_none());
    assert!(!registry.active().plugins.contains_key("versioned"));
    let versioned = registry
        .find_missing("versioned")
        .await
        .expect("search")
        .expect("versioned found");
    assert_eq!(versioned.info.version, "1.0.0");
    assert_eq!(registry.active().generation, start + 2);
    // Already active: the same entry, no new generation.
    let again = registry.find_missing("versioned").await.expect("search");
    assert!(again.is_some_and(|e| std::sync::Arc::ptr_eq(&e, &versioned)));
    assert_eq!(registry.active().generation, start + 2);
}
