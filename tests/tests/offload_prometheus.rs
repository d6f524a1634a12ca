//! `smo serve` with `[telemetry] source = "prometheus"`: the offload loop of a configured graph
//! observes the delay of a real Prometheus, other graphs get a telemetry error, bad settings stop it.

mod prom_support;

use prom_support::{assert_close, Exporter, PromServer, DELAY_MS, WINDOW_S};
use serde_json::Value;
use smo_tests::*;
use std::time::Duration;

/// A graph of `services` with 2 fixed replicas each (2 CPUs, 1 GiB), migration strategy
/// `sbmp-gma/offload` and `policy` as its `offloadPolicy` (a YAML flow mapping).
fn descriptor(id: &str, services: &[&str], policy: &str) -> String {
    let mut doc = format!(
        "hdaGraph:\n  imVersion: 0.4.0\n  id: {id}\n  version: \"1.0.0\"\n  designer: smo tests\n  \
         description: offload loop on Prometheus telemetry\n  hdaGraphIntent:\n    \
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
             valuesOverwrite: {{}}\n"
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
        &descriptor("shop", &["frontend", "cart", "db"], policy),
    );
    // A graph the Prometheus settings do not list.
    deploy(&daemon, &descriptor("unlisted", &["web"], policy));

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
