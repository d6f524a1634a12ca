//! `smo serve` with `[telemetry] source = "prometheus"`: the scaling loop scales on the request
//! rates a real Prometheus measures from Istio's `istio_requests_total`, not on the demo sine
//! load, and a graph the Prometheus settings do not list is not scaled at all.

mod prom_support;

use prom_support::{assert_close, Exporter, PromServer, WINDOW_S};
use serde_json::Value;
use smo_tests::*;
use std::time::Duration;

const ALPHA: f64 = 8.0;

fn config(url: &str) -> String {
    format!(
        "[engine]\nscaling_period_ms = 300\n\n\
         [backend.sim]\nready_after_s = 0\n\n\
         [applier]\npoll_ms = 50\n\n\
         [telemetry]\nsource = \"prometheus\"\n\n\
         [telemetry.prometheus]\nurl = \"{url}\"\ntimeout_ms = 3000\n\n\
         [telemetry.prometheus.graphs.shop]\nnamespace = \"shop\"\n\
         services = [\"frontend\", \"cart\", \"db\"]\ncloud_cluster = \"cloud\"\n\
         edge_cluster = \"edge1\"\ningress_app = \"istio-ingress\"\n\
         ingress_namespace = \"istio-ingress\"\n\
         pod_regexes = [\"frontend-.*\", \"cart-.*\", \"db-.*\"]\nwindow_s = {WINDOW_S}\n"
    )
}

fn deploy(daemon: &Daemon, yaml: &str) {
    let response = http()
        .post(&daemon.url("/v1/graphs"))
        .header("content-type", "application/yaml")
        .send(yaml.as_bytes())
        .expect("POST /v1/graphs");
    let status = response.status().as_u16();
    let body: Value = response.into_body().read_json().expect("JSON");
    assert_eq!(status, 201, "{body}");
}

/// The measured request rate of `service` in a scaling decision's inputs (0 when absent).
fn rps(decision: &Value, service: &str) -> f64 {
    decision["inputs"]["loads"]
        .as_array()
        .and_then(|loads| loads.iter().find(|l| l["service"] == service))
        .and_then(|l| l["current_rps"].as_f64())
        .unwrap_or(0.0)
}

/// The replicas a scaling decision gave `service`.
fn decided(decision: &Value, service: &str) -> u64 {
    decision["decision"]["replicas"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["service"] == service))
        .and_then(|r| r["replicas"].as_u64())
        .unwrap_or_else(|| panic!("no replicas of {service} in {decision}"))
}

#[test]
fn the_scaling_loop_scales_on_the_request_rates_prometheus_measures() {
    let exporter = Exporter::start();
    let prometheus = PromServer::start(exporter.addr);
    let sandbox = Sandbox::with_plugins(&["smo_default_lp"]);
    let path = sandbox.root.path().join("smo.toml");
    std::fs::write(&path, config(&prometheus.url)).expect("config");
    let daemon = Daemon::start(
        &sandbox,
        &["--no-auth", "--config", &path.display().to_string()],
    );
    let scaling = format!("{{alpha: {ALPHA}, beta: 0, minReplicas: 1, maxReplicas: 10}}");
    let services = [("frontend", "1Gi"), ("cart", "1Gi"), ("db", "1Gi")];
    deploy(
        &daemon,
        &test_descriptor("shop", &services, Some("cloud-frankfurt"), "", &scaling),
    );
    deploy(
        &daemon,
        &test_descriptor("unlisted", &[("web", "1Gi")], None, "", &scaling),
    );

    // Prometheus needs two scrapes in the window before a rate is known: until then the
    // loads are 0 and every service stays at 1 replica. The first decision on measured rates
    // scales from 1 to what they need.
    let mut first = Value::Null;
    let measured = eventually(Duration::from_secs(30), || {
        let (_, history) = get_json(&daemon.url("/v1/decisions?graph=shop&limit=1000"));
        first = history["decisions"]
            .as_array()
            .and_then(|ds| {
                ds.iter()
                    .rev()
                    .find(|d| {
                        d["kind"] == "scaling"
                            && ["frontend", "cart", "db"].iter().all(|s| rps(d, s) > 0.0)
                    })
                    .cloned()
            })
            .unwrap_or(Value::Null);
        !first.is_null()
    });
    assert!(
        measured,
        "no scaling decision on measured rates\nPrometheus log:\n{}",
        prometheus.log_text()
    );
    assert_eq!(first["outcome"], "ok", "{first}");
    // The exporter's rates into the services: frontend 20, cart 30, db 25 requests/s, each
    // times one common scrape-timing factor (low while the series are younger than the
    // window), so their ratios are exact: not a sine wave.
    let frontend = rps(&first, "frontend");
    assert_close("cart / frontend", rps(&first, "cart") / frontend, 1.5, 1e-6);
    assert_close("db / frontend", rps(&first, "db") / frontend, 1.25, 1e-6);
    for service in ["frontend", "cart", "db"] {
        let want = (rps(&first, service) / ALPHA).ceil() as u64;
        assert_eq!(decided(&first, service), want, "{service}: {first}");
    }

    // The replicas are committed and the backend runs them.
    let status = {
        let mut last = Value::Null;
        let scaled = eventually(Duration::from_secs(20), || {
            let (_, view) = get_json(&daemon.url("/v1/graphs/shop"));
            last = view;
            last["phase"] == "ready"
                && last["services"].as_array().is_some_and(|ss| {
                    ss.iter()
                        .all(|s| s["desired"].as_u64() > Some(1) && s["observed"] == s["desired"])
                })
        });
        assert!(scaled, "replicas not scaled and applied: {last}");
        last
    };
    assert_eq!(status["scaling_loop"]["telemetry_errors"], 0, "{status}");
    // Once the window is full, the measured rate is the exporter's, and so are the replicas.
    let mut newest = Value::Null;
    let settled = eventually(Duration::from_secs(20), || {
        let (_, history) = get_json(&daemon.url("/v1/decisions?graph=shop&limit=1"));
        newest = history["decisions"][0].clone();
        prom_support::close(rps(&newest, "frontend"), 20.0, 0.2)
    });
    assert!(
        settled,
        "the measured rate never reached the exporter's: {newest}"
    );
    assert!(decided(&newest, "cart") >= 3, "{newest}");

    // The unlisted graph is never scaled on made-up figures: each round is a telemetry error.
    let (_, unlisted) = get_json(&daemon.url("/v1/graphs/unlisted"));
    let loop_view = &unlisted["scaling_loop"];
    assert!(
        loop_view["telemetry_errors"].as_u64() > Some(0),
        "{unlisted}"
    );
    assert!(
        loop_view["last_telemetry_error"]
            .as_str()
            .is_some_and(|e| e.contains("no Prometheus queries")),
        "{unlisted}"
    );
    assert!(
        unlisted["last_decisions"]["scaling"].is_null(),
        "{unlisted}"
    );
}
