//! `smo serve` with `[telemetry] source = "prometheus"`: the offload loop of a configured graph
//! observes the delay of a real Prometheus, other graphs get a telemetry error, bad settings stop
//! it; and when the loop acts, its migration strategy (the real `sbmp-gma/offload`) is given the
//! measured loads, call graph, response sizes and usage, not the host's simulated figures.

mod prom_support;

use prom_support::{assert_close, Exporter, PromServer, DELAY_MS, USER_RATE, WINDOW_S};
use serde_json::Value;
use smo_tests::*;
use std::time::Duration;

/// A graph of `services` with 2 fixed replicas each (2 CPUs, 1 GiB), migration strategy
/// `sbmp-gma/offload` and `policy` as its `offloadPolicy` (a YAML flow mapping); pinned to
/// cluster `pinned` (static placement) when given.
fn descriptor(id: &str, services: &[&str], policy: &str, pinned: Option<&str>) -> String {
    let static_ = if pinned.is_some() {
        "    useStaticPlacement: True\n"
    } else {
        ""
    };
    let affinity = match pinned {
        Some(c) => format!("\n          clustersAffinity: [{c}]"),
        None => " {}".to_owned(),
    };
    let mut doc = format!(
        "hdaGraph:\n  imVersion: 0.4.0\n  id: {id}\n  version: \"1.0.0\"\n  designer: smo tests\n  \
         description: offload loop on Prometheus telemetry\n  hdaGraphIntent:\n{static_}    \
         migrationStrategy: sbmp-gma/offload\n    offloadPolicy: {policy}\n    security:\n      \
         enabled: False\n    highAvailability:\n      enabled: False\n    highPerformance:\n      \
         enabled: False\n    energyEfficiency:\n      enabled: False\n  services:\n"
    );
    for name in services {
        doc.push_str(&format!(
            "    - id: {name}\n      deployment:\n        trigger:\n          auto:\n            \
             dependencies: []\n        intent:\n          network:\n            deviceProximity:\n              \
             enabled: False\n            latencies: []\n          compute:\n            cpu: \"2\"\n            \
             ram: \"1Gi\"\n            storage: \"small\"\n            gpu:\n              enabled: False\n          \
             coLocation: []\n          connectionPoints: []\n          metrics: []\n          \
             scaling: {{alpha: 50, beta: 0, minReplicas: 2, maxReplicas: 2}}\n      artifact:\n        \
             ociImage: \"oci://registry.example/shop/{name}\"\n        ociConfig:\n          type: App\n          \
             implementer: HELM\n        ociRun:\n          name: HELM\n          version: v3\n        \
             valuesOverwrite:{affinity}\n"
        ));
    }
    doc
}

fn deploy(daemon: &Daemon, body: &str) {
    let response = http()
        .post(&daemon.url("/v1/graphs"))
        .header("content-type", "application/yaml")
        .send(body.as_bytes())
        .expect("POST /v1/graphs");
    let status = response.status().as_u16();
    let answer: Value = response.into_body().read_json().expect("JSON body");
    assert_eq!(status, 201, "{answer}");
}

fn update(daemon: &Daemon, graph: &str, body: &str) {
    let response = http()
        .put(&daemon.url(&format!("/v1/graphs/{graph}")))
        .header("content-type", "application/yaml")
        .send(body.as_bytes())
        .expect("PUT /v1/graphs/{graph}");
    let status = response.status().as_u16();
    let answer: Value = response.into_body().read_json().expect("JSON body");
    assert_eq!(status, 200, "{answer}");
}

fn offload(daemon: &Daemon, graph: &str) -> Value {
    let (status, view) = get_json(&daemon.url(&format!("/v1/graphs/{graph}/offload")));
    assert_eq!(status, 200, "{view}");
    view
}

/// The `[telemetry]` section selecting the Prometheus at `url` for graph `shop`, whose metrics
/// are the exporter's (namespace `shop`, edge ingress `istio-ingress` in cluster `edge1`).
fn telemetry_config(url: &str) -> String {
    format!(
        "[engine]\nscaling_period_ms = 60000\n\n\
         [telemetry]\nsource = \"prometheus\"\n\n\
         [telemetry.prometheus]\nurl = \"{url}\"\ntimeout_ms = 3000\n\n\
         [telemetry.prometheus.graphs.shop]\nnamespace = \"shop\"\n\
         services = [\"frontend\", \"cart\", \"db\"]\ncloud_cluster = \"cloud\"\n\
         edge_cluster = \"edge1\"\ningress_app = \"istio-ingress\"\n\
         ingress_namespace = \"istio-ingress\"\nedge_pod_cidr_regex = \"^11\\\\.244\\\\..*\"\n\
         pod_regexes = [\"frontend-.*\", \"cart-.*\", \"db-.*\"]\nwindow_s = {WINDOW_S}\n"
    )
}

#[test]
fn the_offload_loop_observes_the_delay_of_a_real_prometheus() {
    let exporter = Exporter::start();
    let prometheus = PromServer::start(exporter.addr);
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    let config = sandbox.root.path().join("smo.toml");
    std::fs::write(&config, telemetry_config(&prometheus.url)).expect("write smo.toml");
    let daemon = Daemon::start(
        &sandbox,
        &["--no-auth", "--config", &config.to_string_lossy()],
    );

    // Observed every second (queryPeriodS / 4); the exporter's 87.5 ms is above the 50 ms
    // threshold, and a long stability window keeps the alarm from acting during the test.
    let policy = "{offloadDelayMs: 50, unoffloadDelayMs: 25, stabilityWindowS: 3600, \
                  queryPeriodS: 4, cooldownS: 60}";
    deploy(
        &daemon,
        &descriptor("shop", &["frontend", "cart", "db"], policy, None),
    );
    // A graph the Prometheus settings do not list.
    deploy(&daemon, &descriptor("unlisted", &["web"], policy, None));

    // Prometheus scrapes a first time ~5 s after it starts, and a rate needs two scrapes in
    // the window: until then the delay is unknown and the machine camps.
    let mut view = Value::Null;
    let observed = eventually(Duration::from_secs(20), || {
        view = offload(&daemon, "shop");
        view["lastObservation"][1]["delayMs"].is_f64() && view["stateName"] == "offloadAlarm"
    });
    assert!(
        observed,
        "no known delay and alarm from Prometheus: {view}\nPrometheus log:\n{}",
        prometheus.log_text()
    );
    let delay = view["lastObservation"][1]["delayMs"]
        .as_f64()
        .unwrap_or_default();
    assert_close("observed delay", delay, DELAY_MS, 1e-6);
    assert_eq!(view["active"], true, "{view}");
    assert_eq!(view["telemetryErrors"], 0, "{view}");
    assert_eq!(view["lastObservation"][1]["canOffload"], true, "{view}");
    let transitions = view["transitions"].as_array().expect("transitions");
    let first = &transitions[0];
    assert_eq!(first["from"]["state"], "camping", "{view}");
    assert_eq!(first["to"]["state"], "offloadAlarm", "{view}");
    let reason = first["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("87.5 ms above the offload threshold 50"),
        "{reason}"
    );
    // Still alarmed on the next observations (the delay stays known and the same).
    let at = view["lastObservation"][0].as_f64().unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(5), || {
            view = offload(&daemon, "shop");
            view["lastObservation"][0].as_f64().unwrap_or_default() > at
        }),
        "no further observation: {view}"
    );
    assert_eq!(view["stateName"], "offloadAlarm", "{view}");
    let delay = view["lastObservation"][1]["delayMs"]
        .as_f64()
        .unwrap_or_default();
    assert_close("next observed delay", delay, DELAY_MS, 1e-6);
    assert!(view["lastActionReport"].is_null(), "{view}");

    // The unlisted graph: a telemetry error each round, the loop goes on, nothing observed.
    let mut other = Value::Null;
    assert!(
        eventually(Duration::from_secs(5), || {
            other = offload(&daemon, "unlisted");
            other["telemetryErrors"].as_u64().unwrap_or_default() >= 2
        }),
        "no telemetry errors for the unlisted graph: {other}"
    );
    let error = other["lastTelemetryError"].as_str().unwrap_or_default();
    assert!(
        error.contains("`unlisted`") && error.contains("no Prometheus queries configured"),
        "{error}"
    );
    assert!(error.contains(&prometheus.url), "{error}");
    assert_eq!(other["active"], true, "{other}");
    assert_eq!(other["stateName"], "camping", "{other}");
    assert!(other["lastObservation"].is_null(), "{other}");
    drop(daemon);
    drop(prometheus);
    drop(exporter);
}

/// The graph's placement as (service, cluster, replicas).
fn placement(daemon: &Daemon, graph: &str) -> Vec<(String, String, u64)> {
    let (status, view) = get_json(&daemon.url(&format!("/v1/graphs/{graph}")));
    assert_eq!(status, 200, "{view}");
    let mut out = placement_of(&view);
    out.sort();
    out
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn an_offload_action_gives_the_strategy_the_measured_loads_and_calls() {
    let exporter = Exporter::start();
    let prometheus = PromServer::start(exporter.addr);
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    let config = sandbox.root.path().join("smo.toml");
    // Graph `broken`: the same application, but an edge pod-IP regex Prometheus refuses. Only
    // the full refresh of an action filters on it, so the loop observes, alarms and acts, and
    // the action fails on the refresh.
    let broken = telemetry_config(&prometheus.url)
        .split_once("[telemetry.prometheus.graphs.shop]")
        .map(|(_, graph)| graph.replace(r"^11\\.244\\..*", r"^11\\.244\\.("))
        .expect("the shop section");
    assert!(broken.contains(r"^11\\.244\\.("), "{broken}");
    let text = format!(
        "{}[telemetry.prometheus.graphs.broken]{broken}",
        telemetry_config(&prometheus.url)
    );
    std::fs::write(&config, text).expect("write smo.toml");
    let daemon = Daemon::start(
        &sandbox,
        &["--no-auth", "--config", &config.to_string_lossy()],
    );

    // Deployed pinned to the cloud of the pair sbmp-gma takes (the first cloud and the edge of
    // the request's clusters: cloud-frankfurt, edge-athens), not acting; then released with a
    // policy that acts after 2 s of alarm and cools down for an hour: one action. The services
    // declare no dependencies, so the host's own call graph would be `users` calling each one.
    let services = ["frontend", "cart", "db"];
    let cloud = "cloud-frankfurt";
    let edge = "edge-athens";
    let slow = "{offloadDelayMs: 50, unoffloadDelayMs: 25, stabilityWindowS: 3600, \
                queryPeriodS: 4, cooldownS: 3600}";
    let fast = "{offloadDelayMs: 50, unoffloadDelayMs: 25, stabilityWindowS: 2, \
                queryPeriodS: 4, cooldownS: 3600}";
    deploy(&daemon, &descriptor("shop", &services, slow, Some(cloud)));
    update(&daemon, "shop", &descriptor("shop", &services, fast, None));
    deploy(&daemon, &descriptor("broken", &services, slow, Some(cloud)));
    update(
        &daemon,
        "broken",
        &descriptor("broken", &services, fast, None),
    );
    let before = placement(&daemon, "shop");
    assert_eq!(before.len(), 3, "{before:?}");
    assert!(
        before.iter().all(|(_, c, r)| c == cloud && *r == 2),
        "{before:?}"
    );

    // Prometheus's first scrapes take ~6 s, then the alarm holds for 2 s: the loop acts.
    let mut view = Value::Null;
    let acted = eventually(Duration::from_secs(20), || {
        view = offload(&daemon, "shop");
        !view["lastActionReport"].is_null()
    });
    assert!(
        acted,
        "the loop did not act: {view}\nPrometheus log:\n{}",
        prometheus.log_text()
    );
    let report = &view["lastActionReport"];
    assert_eq!(report["action"]["action"], "offload", "{report}");
    assert_close(
        "measured delay of the action",
        num(&report["action"]["measuredDelayMs"]),
        DELAY_MS,
        1e-6,
    );
    // The target is the middle of the band: 37.5 ms, so 50 ms less are asked.
    assert_close(
        "required decrease",
        num(&report["action"]["requiredDecreaseMs"]),
        DELAY_MS - 37.5,
        1e-6,
    );
    assert_eq!(report["strategy"], "sbmp-gma/offload", "{report}");
    let id = report["decisionId"].as_i64().expect("a recorded decision");

    let (status, history) = get_json(&daemon.url("/v1/decisions?graph=shop&limit=100"));
    assert_eq!(status, 200, "{history}");
    let decision = history["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("decision {id} not in the history: {history}"));
    assert_eq!(decision["kind"], "migration", "{decision}");
    assert_eq!(decision["trigger"], "offload_loop", "{decision}");
    assert_eq!(decision["strategy"], "sbmp-gma/offload", "{decision}");
    assert_eq!(decision["outcome"], "ok", "{decision}");
    let inputs = &decision["inputs"];

    // Calls: the measured call graph, the ingress renamed `users`; the exporter's decoys and
    // `loadgen` (not an app of the graph) left out. Every rate is the exporter's times one
    // common factor k (scrape timing), so ratios are exact.
    let calls: Vec<(String, String, f64, f64)> = inputs["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap_or_default().to_owned(),
                c["to"].as_str().unwrap_or_default().to_owned(),
                num(&c["rps"]),
                num(&c["mean_response_bytes"]),
            )
        })
        .collect();
    let edges: Vec<(&str, &str)> = calls
        .iter()
        .map(|(f, t, _, _)| (f.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        edges,
        [
            ("cart", "db"),
            ("frontend", "cart"),
            ("frontend", "db"),
            ("users", "frontend")
        ],
        "{calls:?}"
    );
    let k = calls[3].2 / USER_RATE;
    assert_close("rate timing factor", k, 1.0, 0.2);
    for ((from, to, rps, bytes), (want_rps, want_bytes)) in
        calls
            .iter()
            .zip([(15.0, 128.0), (30.0, 512.0), (10.0, 128.0), (20.0, 2320.0)])
    {
        assert_close(&format!("{from} -> {to} rps / k"), rps / k, want_rps, 1e-6);
        assert_close(&format!("{from} -> {to} bytes"), *bytes, want_bytes, 1e-6);
    }

    // Loads: the measured rate into each service (the edge ingress and the cloud copy of
    // frontend; loadgen's calls excluded), the measured user delay.
    let loads = inputs["loads"].as_array().expect("loads");
    assert_eq!(loads.len(), 3, "{loads:?}");
    for (service, want) in [("frontend", 20.0), ("cart", 30.0), ("db", 25.0)] {
        let load = loads
            .iter()
            .find(|l| l["service"] == service)
            .unwrap_or_else(|| panic!("no load of {service}: {loads:?}"));
        assert_close(
            &format!("{service} rps / k"),
            num(&load["current_rps"]) / k,
            want,
            1e-6,
        );
        assert_eq!(load["predicted_rps"], load["current_rps"], "{load}");
        assert_close(
            &format!("{service} response time"),
            num(&load["response_time_ms"]),
            DELAY_MS,
            1e-6,
        );
    }

    // request.extra: the action's decrease, λ / λ over all edges (edge1 20/s, edge2 7/s), and
    // the measured usage per area (cAdvisor CPU is a rate too: k; memory is a gauge: exact).
    let extra = &inputs["extra"];
    assert_close(
        "extra decrease",
        num(&extra["requiredDecreaseMs"]),
        50.0,
        1e-6,
    );
    assert_close(
        "meResourceScaling",
        num(&extra["meResourceScaling"]),
        USER_RATE / 27.0,
        1e-6,
    );
    const MIB: f64 = 1024.0 * 1024.0;
    for (service, cloud_cpu, edge_cpu, cloud_mem, edge_mem) in [
        ("frontend", 0.5, 0.25, 2e8, 1e8),
        ("cart", 2.0, 0.0, 4e8, 0.0),
        ("db", 2.0, 0.0, 1e9, 0.0),
    ] {
        let u = &extra["usage"][service];
        assert_close(
            &format!("{service} cloud cpu / k"),
            num(&u["cloudCpu"]) / k,
            cloud_cpu,
            1e-6,
        );
        assert_close(
            &format!("{service} edge cpu / k"),
            num(&u["edgeCpu"]) / k,
            edge_cpu,
            1e-6,
        );
        assert_close(
            &format!("{service} cloud MiB"),
            num(&u["cloudMemoryMib"]),
            cloud_mem / MIB,
            1e-9,
        );
        assert_close(
            &format!("{service} edge MiB"),
            num(&u["edgeMemoryMib"]),
            edge_mem / MIB,
            1e-9,
        );
    }

    // What SBMP made of them. The users call frontend alone, so no edge set without frontend
    // lowers the delay; with the measured graph frontend → {cart, db}, cart → db, moving the
    // whole sub-graph removes every cloud crossing, which meets the 50 ms asked.
    let reasons = decision["reasons"].to_string();
    assert!(
        reasons.contains(&format!("offload {cloud} -> {edge}")),
        "{reasons}"
    );
    assert!(!reasons.contains("outside the pair"), "{reasons}");
    assert!(
        reasons.contains("required delay decrease 50.000 ms"),
        "{reasons}"
    );
    assert_eq!(report["outcome"]["outcome"], "applied", "{report}");
    let after = placement(&daemon, "shop");
    assert!(
        after
            .iter()
            .any(|(s, c, r)| s == "frontend" && c == edge && *r > 0),
        "frontend not at the edge: {after:?}\n{report}"
    );
    let moved = report["outcome"]["moves"].as_u64().unwrap_or_default();
    let at_edge = after.iter().filter(|(_, c, r)| c == edge && *r > 0).count();
    assert_eq!(moved as usize, at_edge, "{after:?}\n{report}");

    // `broken`: the action failed with the refresh's error, the strategy was not asked (no
    // decision), nothing moved; the observations themselves went fine.
    let mut view = Value::Null;
    assert!(
        eventually(Duration::from_secs(10), || {
            view = offload(&daemon, "broken");
            !view["lastActionReport"].is_null()
        }),
        "the loop of `broken` did not act: {view}"
    );
    let report = &view["lastActionReport"];
    assert_eq!(report["action"]["action"], "offload", "{report}");
    assert_eq!(report["outcome"]["outcome"], "failed", "{report}");
    let error = report["outcome"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("no migration inputs")
            && error.contains("`broken`")
            && error.contains(r"^11\\.244\\.(")
            && error.contains("Prometheus refused query"),
        "{error}"
    );
    assert!(report["decisionId"].is_null(), "{report}");
    assert_eq!(view["telemetryErrors"], 0, "{view}");
    let (_, history) = get_json(&daemon.url("/v1/decisions?graph=broken&limit=100"));
    let migrations = history["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|d| d["kind"] == "migration")
        .count();
    assert_eq!(migrations, 0, "{history}");
    let kept = placement(&daemon, "broken");
    assert!(
        kept.iter().all(|(_, c, r)| c == cloud && *r == 2),
        "{kept:?}"
    );
    drop(daemon);
    drop(prometheus);
    drop(exporter);
}

#[test]
fn bad_telemetry_settings_stop_smo_serve_naming_the_field() {
    let sandbox = Sandbox::new();
    let valid = telemetry_config("http://127.0.0.1:9090");
    let cases = [
        (
            "source = \"prometheus\"",
            "source = \"carrier-pigeon\"",
            "telemetry.source",
        ),
        (
            "http://127.0.0.1:9090",
            "ftp://127.0.0.1:9090",
            "telemetry.prometheus.url",
        ),
        (
            "window_s = 4",
            "window_s = 0",
            "telemetry.prometheus.graphs.shop.window_s",
        ),
        (
            "services = [\"frontend\", \"cart\", \"db\"]",
            "services = []",
            "telemetry.prometheus.graphs.shop.services",
        ),
    ];
    for (i, (from, to, field)) in cases.iter().enumerate() {
        let text = valid.replacen(from, to, 1);
        assert_ne!(text, valid, "{from}");
        let config = sandbox.root.path().join(format!("bad-{i}.toml"));
        std::fs::write(&config, &text).expect("write the config");
        let (status, stderr) = serve_expecting_exit(
            &sandbox,
            &["--no-auth", "--config", &config.to_string_lossy()],
            Duration::from_secs(10),
        );
        assert_eq!(status.code(), Some(1), "{field}: {stderr}");
        assert!(stderr.contains(&format!("{field}: ")), "{field}: {stderr}");
    }
    // `--telemetry-url` overrides the file's URL, and is checked the same way.
    let config = sandbox.root.path().join("good.toml");
    std::fs::write(&config, &valid).expect("write the config");
    let (status, stderr) = serve_expecting_exit(
        &sandbox,
        &[
            "--no-auth",
            "--config",
            &config.to_string_lossy(),
            "--telemetry-url",
            "file:///etc/passwd",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("telemetry.prometheus.url: `file:///etc/passwd`"),
        "{stderr}"
    );
}
