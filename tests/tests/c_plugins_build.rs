//! The C ABI's plugins before any loader: the example `examples/c-strategy/` and the fixtures
//! of `tests/fixture-plugins-c/` build with the system C compiler and export what
//! `smo_plugin.h` names (`c_no_free` all but `smo_plugin_free`, the example nothing else); the
//! example, loaded with dlopen by the test host `drive` and called as the header says, places
//! real `PlacementRequest`s first-fit, from several threads at once, refuses bad parameters
//! and survives malformed requests; each fixture misbehaves as documented.

use smo_plugin_api::testing::{self, ClusterExt, ServiceExt};
use smo_plugin_api::*;
use smo_tests::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const C_API: [&str; 4] = [
    "smo_plugin_abi_version",
    "smo_plugin_describe",
    "smo_plugin_call",
    "smo_plugin_free",
];

const FIXTURES: [&str; 8] = [
    "c_segfault",
    "c_hang",
    "c_invalid_json",
    "c_unknown_cluster",
    "c_leak",
    "c_wrong_abi",
    "c_no_free",
    "c_bad_describe",
];

/// The dynamic symbols `lib` defines (`nm -D --defined-only`).
fn exported(lib: &Path) -> BTreeSet<String> {
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
        .expect("nm runs (binutils)");
    assert!(
        output.status.success(),
        "nm {}: {}",
        lib.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}

#[test]
fn every_c_fixture_and_the_example_export_the_c_abi() {
    for name in FIXTURES {
        let symbols = exported(&c_fixture(name));
        for symbol in C_API {
            let expected = !(name == "c_no_free" && symbol == "smo_plugin_free");
            assert_eq!(
                symbols.contains(symbol),
                expected,
                "{name}: {symbol} (exports {symbols:?})"
            );
        }
    }
    // The example's JSON helpers are hidden: it exports the four functions and nothing else.
    let example: BTreeSet<String> = exported(&c_example())
        .into_iter()
        .filter(|s| s.starts_with("smo_") || s.starts_with("json") || s.starts_with("jb_"))
        .collect();
    let api: BTreeSet<String> = C_API.iter().map(|s| s.to_string()).collect();
    assert_eq!(example, api);
}

#[test]
fn tests_asking_at_once_get_one_build() {
    let paths: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| c_fixture("c_invalid_json")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(paths.iter().all(|p| p == &paths[0]), "{paths:?}");
    assert!(paths[0].is_file());
    assert!(paths[0].starts_with(c_build_dir()));
}

#[test]
fn build_c_plugin_names_the_compilers_error() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("broken.c");
    std::fs::write(
        &source,
        "#include \"smo_plugin.h\"\nint broken(void) { return nope; }\n",
    )
    .unwrap();
    let out = dir.path().join("libbroken.so");
    let panic = std::panic::catch_unwind(|| build_c_plugin(&[&source], &out))
        .expect_err("a source that does not compile panics");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("nope"), "{message}");
    // Nothing is left behind, not even the temporary file.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("broken.c")]);
}

// ---------------------------------------------------------------------------------------------
// Through the driver, as a host calls.

/// `drive LIB ARGS...`.
fn drive(lib: &Path, args: &[&str]) -> Output {
    Command::new(c_driver())
        .arg(lib)
        .args(args)
        .output()
        .expect("drive runs")
}

/// The status and `*out` of strategy `strategy` of kind `kind` of `lib` with `params` on
/// `request` (JSON text), called by `threads` threads at once (all must answer the same).
fn call_raw(
    lib: &Path,
    kind: &str,
    strategy: &str,
    params: &str,
    request: &str,
    threads: u32,
) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.json");
    std::fs::write(&file, request).unwrap();
    let output = drive(
        lib,
        &[
            "call",
            kind,
            strategy,
            params,
            file.to_str().unwrap(),
            &threads.to_string(),
        ],
    );
    assert!(
        output.status.success(),
        "drive {} call: {}\n{}",
        lib.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 answer");
    let (status, out) = stdout
        .strip_prefix("status ")
        .and_then(|rest| rest.split_once('\n'))
        .unwrap_or_else(|| panic!("unexpected driver output: {stdout:?}"));
    (
        status.parse().unwrap(),
        out.trim_end_matches('\n').to_owned(),
    )
}

/// The example's `placement` strategy with `params` on `request`.
fn place(params: &str, request: &PlacementRequest) -> (i32, String) {
    let json = serde_json::to_string(request).unwrap();
    call_raw(&c_example(), "placement", "placement", params, &json, 1)
}

/// The assignments of a decision as (service, cluster, replicas).
fn assignments(decision: &str) -> Vec<(String, String, u32)> {
    let value: serde_json::Value =
        serde_json::from_str(decision).unwrap_or_else(|e| panic!("{e}: {decision}"));
    value["placement"]["assignments"]
        .as_array()
        .unwrap_or_else(|| panic!("no assignments: {decision}"))
        .iter()
        .map(|a| {
            (
                a["service"].as_str().unwrap().to_owned(),
                a["cluster"].as_str().unwrap().to_owned(),
                u32::try_from(a["replicas"].as_u64().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// Every service of `request` placed exactly once, and no cluster given more than it had.
fn assert_valid(request: &PlacementRequest, placed: &[(String, String, u32)]) {
    let services: Vec<&str> = request
        .graph
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let names: Vec<&str> = placed.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(names, services, "each service once, in order");
    let mut used: BTreeMap<&str, Resources> = BTreeMap::new();
    for (service, cluster, replicas) in placed {
        let s = request
            .graph
            .services
            .iter()
            .find(|s| s.name.as_str() == service)
            .unwrap();
        assert_eq!(*replicas, s.replicas.max(1), "{service}");
        if !s.allowed_clusters.is_empty() {
            assert!(
                s.allowed_clusters.iter().any(|c| c.as_str() == cluster),
                "{service} is not allowed on {cluster}"
            );
        }
        let sum = used.entry(cluster.as_str()).or_default();
        let demand = s.demand.times(*replicas);
        sum.cpu += demand.cpu;
        sum.memory_mib += demand.memory_mib;
        sum.gpu += demand.gpu;
    }
    for (cluster, sum) in used {
        let c = request
            .clusters
            .iter()
            .find(|c| c.name.as_str() == cluster)
            .unwrap_or_else(|| panic!("{cluster} is not a cluster of the request"));
        assert!(
            c.available.fits(&sum),
            "{cluster}: {sum:?} > {:?}",
            c.available
        );
    }
}

fn triples(expected: &[(&str, &str, u32)]) -> Vec<(String, String, u32)> {
    expected
        .iter()
        .map(|(s, c, r)| (s.to_string(), c.to_string(), *r))
        .collect()
}

#[test]
fn the_example_describes_itself() {
    let output = drive(&c_example(), &["describe"]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (abi, metadata) = stdout.split_once('\n').unwrap();
    assert_eq!(abi, "abi 1");
    let metadata: serde_json::Value = serde_json::from_str(metadata.trim_end()).unwrap();
    assert_eq!(
        metadata,
        serde_json::json!({
            "name": "c-first-fit",
            "version": "0.1.0",
            "strategies": [{"name": "placement", "kind": "placement",
                            "description": "first cluster with room, services in order"}]
        })
    );
}

#[test]
fn the_example_places_a_real_request_first_fit_from_eight_threads_at_once() {
    let request = small_request();
    let json = serde_json::to_string(&request).unwrap();
    let (status, decision) = call_raw(&c_example(), "placement", "placement", "{}", &json, 8);
    assert_eq!(status, 0, "{decision}");
    let placed = assignments(&decision);
    assert_valid(&request, &placed);
    // edge-1 (2 cores, no GPU) takes the frontend and, with its last core, the db; the GPU
    // service goes to the first cluster with a GPU.
    assert_eq!(
        placed,
        triples(&[
            ("frontend", "edge-1", 1),
            ("inference", "cloud-gpu", 1),
            ("db", "edge-1", 1),
        ])
    );
    let value: serde_json::Value = serde_json::from_str(&decision).unwrap();
    assert_eq!(
        value["reasons"],
        serde_json::json!([
            "frontend -> edge-1: first with room",
            "inference -> cloud-gpu: first with room",
            "db -> edge-1: first with room"
        ])
    );
}

#[test]
fn the_example_honours_role_allowed_clusters_replicas_and_what_it_already_placed() {
    let (status, decision) = place(r#"{"role": "cloud"}"#, &small_request());
    assert_eq!(status, 0, "{decision}");
    assert_eq!(
        assignments(&decision),
        triples(&[
            ("frontend", "cloud-gpu", 1),
            ("inference", "cloud-gpu", 1),
            ("db", "cloud-gpu", 1),
        ])
    );

    let request = testing::placement_request(
        testing::graph_of(vec![
            testing::service("one", 1.0, 100.0, 0),
            testing::service("two", 1.0, 100.0, 0),
            // tiny has no core left: the next cluster.
            testing::service("three", 1.0, 100.0, 0),
            testing::service("pinned", 1.0, 100.0, 0).allowed(&["far"]),
            // 3 replicas of 2 cores: only big holds 6.
            testing::service("wide", 2.0, 100.0, 0).scaling(10.0, 0.0, 1, 5),
            // 0 replicas are placed as 1.
            testing::service("idle", 0.5, 100.0, 0),
            testing::service("gpu", 1.0, 100.0, 1),
        ]),
        vec![
            testing::cluster("tiny", 2.0, 1024.0, 0),
            testing::cluster("mid", 4.0, 1024.0, 0).available(3.0, 1024.0, 0),
            testing::cluster("big", 64.0, 65536.0, 2).role(ClusterRole::Cloud),
            testing::cluster("far", 8.0, 8192.0, 0),
        ],
        None,
    );
    let mut request = request;
    request.graph.services[4].replicas = 3;
    request.graph.services[5].replicas = 0;
    let (status, decision) = place("{}", &request);
    assert_eq!(status, 0, "{decision}");
    let placed = assignments(&decision);
    assert_valid(&request, &placed);
    assert_eq!(
        placed,
        triples(&[
            ("one", "tiny", 1),
            ("two", "tiny", 1),
            ("three", "mid", 1),
            ("pinned", "far", 1),
            ("wide", "big", 3),
            ("idle", "mid", 1),
            ("gpu", "big", 1),
        ])
    );
}

#[test]
fn the_example_answers_infeasible_naming_the_service() {
    let mut request = small_request();
    request.graph.services[1].demand.gpu = 5;
    let (status, message) = place("{}", &request);
    assert_eq!(status, 2, "{message}");
    assert!(message.contains("\"inference\""), "{message}");
    assert!(!message.contains('\n'));

    let (status, message) = place(r#"{"role": "iot"}"#, &small_request());
    assert_eq!(status, 2, "{message}");
    assert!(
        message.contains("\"frontend\"") && message.contains("iot"),
        "{message}"
    );

    let mut request = small_request();
    request.graph.services[0].allowed_clusters = vec![RString::from("nowhere")].into();
    let (status, message) = place("{}", &request);
    assert_eq!(status, 2, "{message}");
    assert!(message.contains("\"frontend\""), "{message}");
}

#[test]
fn the_example_refuses_unknown_strategies_kinds_and_parameters() {
    let json = serde_json::to_string(&small_request()).unwrap();
    let example = c_example();
    for (kind, strategy, params, needle) in [
        ("placement", "placement", r#"{"colour": "red"}"#, "colour"),
        ("placement", "placement", r#"{"role": "mars"}"#, "role"),
        ("placement", "placement", r#"{"role": 1}"#, "role"),
        ("placement", "placement", "[]", "object"),
        ("placement", "placement", "{", "JSON"),
        ("placement", "first-fit", "{}", "first-fit"),
        ("scaling", "placement", "{}", "scaling"),
        ("migration", "placement", "{}", "migration"),
    ] {
        let (status, message) = call_raw(&example, kind, strategy, params, &json, 1);
        assert_eq!(status, 5, "{kind} {strategy} {params}: {message}");
        assert!(message.contains(needle), "{params}: {message}");
    }
    // {} and each role are accepted.
    let json = serde_json::to_string(&small_request_without_gpu()).unwrap();
    for params in ["{}", " { } ", r#"{"role":"edge"}"#, r#"{"role":"cloud"}"#] {
        let (status, message) = call_raw(&example, "placement", "placement", params, &json, 1);
        assert_eq!(status, 0, "{params}: {message}");
    }
}

#[test]
fn the_example_refuses_malformed_requests_without_crashing() {
    let example = c_example();
    for (request, needle) in [
        ("", "not JSON"),
        ("[]", "graph.services"),
        ("{}", "graph.services"),
        (
            r#"{"graph": {"services": {}}, "clusters": []}"#,
            "graph.services",
        ),
        (
            r#"{"graph": {"services": [{"name": "a"}]}, "clusters": []}"#,
            "graph.services[0].demand",
        ),
        (
            r#"{"graph": {"services": [{"name": "a", "demand": {"cpu": -1, "memory_mib": 1, "gpu": 0}, "replicas": 1}]}, "clusters": []}"#,
            "demand.cpu",
        ),
        (
            r#"{"graph": {"services": [{"name": "a", "demand": {"cpu": 1, "memory_mib": 1, "gpu": 0.5}, "replicas": 1}]}, "clusters": []}"#,
            "demand.gpu",
        ),
        (
            r#"{"graph": {"services": []}, "clusters": [{"name": "c", "available": {"cpu": 1, "memory_mib": 1}}]}"#,
            "clusters[0].available.gpu",
        ),
        (
            r#"{"graph": {"services": []}, "clusters": [{"name": 1}]}"#,
            "clusters[0].name",
        ),
        (
            r#"{"graph": {"services": []}, "clusters": []} x"#,
            "not JSON",
        ),
        (
            r#"{"graph": {"services": ["\ud800"]}, "clusters": []}"#,
            "not JSON",
        ),
        ("{\"a\": 1e999}", "not JSON"),
    ] {
        let (status, message) = call_raw(&example, "placement", "placement", "{}", request, 1);
        assert_eq!(status, 1, "{request}: {message}");
        assert!(message.contains(needle), "{request}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
    // Nothing to place is a valid, empty decision.
    let (status, decision) = call_raw(
        &example,
        "placement",
        "placement",
        "{}",
        r#"{"graph": {"services": []}, "clusters": []}"#,
        1,
    );
    assert_eq!(status, 0, "{decision}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&decision).unwrap(),
        serde_json::json!({"placement": {"assignments": []}, "reasons": []})
    );

    // Every proper prefix of a real request is INVALID_INPUT; corrupted copies are answered
    // (OK with JSON, INVALID_INPUT or INFEASIBLE with a one-line message), never a crash.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.json");
    std::fs::write(&file, serde_json::to_string(&small_request()).unwrap()).unwrap();
    let file = file.to_str().unwrap();
    for mode in [
        vec!["prefixes", "placement", "placement", "{}", file],
        vec!["mutate", "placement", "placement", "{}", file, "3000"],
    ] {
        let output = drive(&example, &mode);
        assert!(
            output.status.success(),
            "drive {}: {}\n{}",
            mode[0],
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn names_are_escaped_both_ways() {
    let request = testing::placement_request(
        testing::graph_of(vec![testing::service("q\"uote\\é😀\n", 1.0, 1.0, 0)]),
        vec![testing::cluster("c/\u{1}", 2.0, 1024.0, 0)],
        None,
    );
    let (status, decision) = place("{}", &request);
    assert_eq!(status, 0, "{decision}");
    assert_eq!(
        assignments(&decision),
        triples(&[("q\"uote\\é😀\n", "c/\u{1}", 1)])
    );
}

// ---------------------------------------------------------------------------------------------
// The fixtures misbehave as documented.

#[test]
fn the_fixtures_misbehave_as_documented() {
    let json = serde_json::to_string(&small_request()).unwrap();

    // Metadata: every fixture names itself, but the wrong ABI and the bad description.
    for (name, plugin) in [
        ("c_segfault", "c-segfault"),
        ("c_hang", "c-hang"),
        ("c_invalid_json", "c-invalid-json"),
        ("c_unknown_cluster", "c-unknown-cluster"),
        ("c_leak", "c-leak"),
    ] {
        let output = drive(&c_fixture(name), &["describe"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.starts_with("abi 1\n"), "{name}: {stdout}");
        let metadata: serde_json::Value =
            serde_json::from_str(stdout.lines().nth(1).unwrap()).unwrap();
        assert_eq!(metadata["name"], plugin);
        assert_eq!(metadata["strategies"][0]["name"], "placement");
        assert_eq!(metadata["strategies"][0]["kind"], "placement");
    }
    let output = drive(&c_fixture("c_wrong_abi"), &["describe"]);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("abi 999\n"));
    let output = drive(&c_fixture("c_bad_describe"), &["describe"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "abi 1\n{\"name\": 42}\n"
    );
    let output = drive(&c_fixture("c_no_free"), &["describe"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("smo_plugin_free: missing"));

    // Calls.
    let (status, out) = call_raw(
        &c_fixture("c_invalid_json"),
        "placement",
        "placement",
        "{}",
        &json,
        1,
    );
    assert_eq!((status, out.as_str()), (0, "{\"placement\": ["));
    let (status, out) = call_raw(
        &c_fixture("c_unknown_cluster"),
        "placement",
        "placement",
        "{}",
        &json,
        1,
    );
    assert_eq!(status, 0);
    assert_eq!(
        assignments(&out),
        triples(&[("frontend", "no-such-cluster", 1)])
    );
    let (status, out) = call_raw(
        &c_fixture("c_leak"),
        "placement",
        "placement",
        "{}",
        &json,
        4,
    );
    assert_eq!(status, 0);
    assert_eq!(assignments(&out), triples(&[("frontend", "edge-1", 1)]));

    // The segfault kills the process that calls it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.json");
    std::fs::write(&file, &json).unwrap();
    let args = |params: &'static str| -> Vec<String> {
        [
            "call",
            "placement",
            "placement",
            params,
            file.to_str().unwrap(),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let output = Command::new(c_driver())
        .arg(c_fixture("c_segfault"))
        .args(args("{}"))
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(11), "{:?}", output.status);

    // The hang creates its `started` file, then never returns.
    let started = dir.path().join("started");
    let params = format!(r#"{{"started": "{}"}}"#, started.display());
    let mut child = Command::new(c_driver())
        .arg(c_fixture("c_hang"))
        .args([
            "call",
            "placement",
            "placement",
            &params,
            file.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(20), || started.is_file()),
        "c_hang never created {}",
        started.display()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "c_hang returned");
    child.kill().unwrap();
    child.wait().unwrap();
}
