//! The Prometheus telemetry source against a real Prometheus server scraping the Istio-shaped
//! exporter of `prom_support`: the queries of a full refresh and of an observation, and errors.

mod prom_support;

use prom_support::*;
use smo_core::graphs::{parse_descriptor, GraphSpec};
use smo_core::ports::TelemetrySource;
use smo_host::store::PlacementEntry;
use smo_prometheus::{
    GraphTelemetry, PromClient, PromError, PromQueries, PrometheusConfig, PrometheusTelemetry,
    SbmpRefresh,
};
use smo_tests::{test_descriptor, FIXED_TWO};
use std::collections::BTreeMap;
use std::time::Duration;

fn queries(services: &[&str], edge_cluster: &str) -> PromQueries {
    PromQueries {
        namespace: "shop".into(),
        services: services.iter().map(|s| s.to_string()).collect(),
        cloud_cluster: "cloud".into(),
        edge_cluster: edge_cluster.into(),
        ingress_app: "istio-ingress".into(),
        ingress_namespace: "istio-ingress".into(),
        edge_pod_cidr_regex: "^11.244.*".into(),
        pod_regexes: services.iter().map(|s| format!("{s}-.*")).collect(),
        window_s: WINDOW_S,
    }
}

fn telemetry(url: &str) -> PrometheusTelemetry {
    let mut shop = GraphTelemetry::new(queries(&["frontend", "cart", "db"], "edge1"));
    shop.delay_quantile = Some(0.9);
    let mut bad = GraphTelemetry::new(queries(&["frontend"], "edge1"));
    bad.queries.pod_regexes = vec!["frontend-(".into()];
    let graphs = [
        ("shop", shop),
        // Everything it has is at the edge; nothing of it is.
        (
            "edge-only",
            GraphTelemetry::new(queries(&["frontend"], "edge1")),
        ),
        (
            "cloud-only",
            GraphTelemetry::new(queries(&["cart", "db"], "edge1")),
        ),
        ("bad", bad),
    ];
    PrometheusTelemetry::new(PrometheusConfig {
        url: url.to_owned(),
        timeout_ms: 5000,
        graphs: graphs
            .into_iter()
            .map(|(name, g)| (name.to_owned(), g))
            .collect(),
    })
}

/// A graph `name` of `services` (2 CPUs and 1 GiB a replica).
fn graph(name: &str, services: &[&str]) -> GraphSpec {
    let services: Vec<(&str, &str)> = services.iter().map(|s| (*s, "1Gi")).collect();
    parse_descriptor(&test_descriptor(name, &services, None, "", FIXED_TWO)).expect("descriptor")
}

/// The offload loop's observation of graph `name`.
fn observe(
    telemetry: &PrometheusTelemetry,
    name: &str,
) -> Result<smo_core::offload::Observation, smo_core::ports::TelemetryError> {
    telemetry.offload_observation(&graph(name, &["frontend"]), &[], &[], 1234.0)
}

fn check_refresh(r: &SbmpRefresh) {
    assert_close("user delay", r.user_delay_ms, DELAY_MS, 1e-6);
    // All requests are in the (50, 100] bucket: the 0.9 quantile interpolates to 95 ms.
    let (q, v) = r.user_delay_quantile_ms.expect("quantile configured");
    assert_eq!(q, 0.9);
    assert_close("0.9 quantile user delay", v, 95.0, 1e-6);

    // One common factor k (scrape timing and rate extrapolation, the same for every series
    // of a scrape) for every rate of the refresh: near 1 (a late scrape under load can cut the
    // extrapolation by up to ~15% of a 4 s window), and every rate divided by it is exactly
    // the exporter's.
    let k = r.user_rate / USER_RATE;
    assert_close("rate timing factor", k, 1.0, 0.2);
    let rate = |what: &str, got: f64, want: f64| assert_close(what, got / k, want, 1e-6);
    // λ over all edges: edge1 and edge2 (the 503s and the other namespace excluded).
    rate("λ all edges", r.user_rate_all_edges, USER_RATE + 7.0);
    assert_close(
        "resource scaling",
        r.resource_scaling(),
        USER_RATE / 27.0,
        1e-6,
    );

    let services: Vec<&String> = r.service_rates.keys().collect();
    assert_eq!(
        services,
        ["cart", "db", "frontend"],
        "{:?}",
        r.service_rates
    );
    rate("rate of frontend", r.service_rates["frontend"], 20.0);
    rate("rate of cart", r.service_rates["cart"], 30.0);
    rate("rate of db", r.service_rates["db"], 25.0);

    let calls: Vec<(&str, &str)> = r
        .call_rates
        .iter()
        .map(|c| (c.source.as_str(), c.destination.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("cart", "db"),
            ("frontend", "cart"),
            ("frontend", "db"),
            ("istio-ingress", "frontend")
        ],
        "{:?}",
        r.call_rates
    );
    for (c, want) in r.call_rates.iter().zip([15.0, 30.0, 10.0, 20.0]) {
        rate(&format!("{} -> {}", c.source, c.destination), c.rate, want);
    }
    // Fm: nodes frontend 0, cart 1, db 2, user 3.
    let fm = r.call_frequencies();
    let want = [(1, 2, 0.5), (0, 1, 1.5), (0, 2, 0.5), (3, 0, 1.0)];
    assert_eq!(fm.len(), want.len(), "{fm:?}");
    for ((i, j, f), (wi, wj, wf)) in fm.iter().zip(want) {
        assert_eq!((*i, *j), (wi, wj), "{fm:?}");
        assert_close(&format!("Fm[{i}][{j}]"), *f, wf, 1e-6);
    }

    // Response sizes: frontend (8×3000 + 12×2000 + 5×2000) / 25 over both areas and all
    // sources; the errors, the other namespace and edge2 excluded.
    assert_eq!(r.response_bytes.len(), 3, "{:?}", r.response_bytes);
    assert_close("L frontend", r.response_bytes["frontend"], 2320.0, 1e-6);
    assert_close("L cart", r.response_bytes["cart"], 512.0, 1e-6);
    assert_close("L db", r.response_bytes["db"], 128.0, 1e-6);

    // CPU and memory per area: istio-proxy, the pod-level series, redis and the other
    // namespace excluded.
    let keys = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&r.cloud.cpu_cores_by_pod),
        [
            "cart-cloud-1",
            "cart-cloud-2",
            "db-cloud-0",
            "frontend-cloud-5c4b"
        ]
    );
    rate(
        "cloud cpu cart-cloud-1",
        r.cloud.cpu_cores_by_pod["cart-cloud-1"],
        1.25,
    );
    assert_eq!(keys(&r.cloud.cpu_cores), ["cart", "db", "frontend"]);
    rate("cloud cpu cart", r.cloud.cpu_cores["cart"], 2.0);
    rate("cloud cpu db", r.cloud.cpu_cores["db"], 2.0);
    rate("cloud cpu frontend", r.cloud.cpu_cores["frontend"], 0.5);
    assert_eq!(r.cloud.memory_bytes["cart"], 4e8);
    assert_eq!(r.cloud.memory_bytes["db"], 1e9);
    assert_eq!(r.cloud.memory_bytes["frontend"], 2e8);
    assert_eq!(r.cloud.memory_bytes_by_pod.len(), 4);
    assert_eq!(keys(&r.edge.cpu_cores_by_pod), ["frontend-edge1-7d9f"]);
    assert_eq!(keys(&r.edge.cpu_cores), ["frontend"]);
    rate("edge cpu frontend", r.edge.cpu_cores["frontend"], 0.25);
    assert_eq!(keys(&r.edge.memory_bytes), ["frontend"]);
    assert_eq!(r.edge.memory_bytes["frontend"], 1e8);
}

#[test]
fn prometheus_telemetry_reads_a_real_prometheus() {
    let exporter = Exporter::start();
    let server = PromServer::start(exporter.addr);
    let telemetry = telemetry(&server.url);
    wait_for_scrapes(telemetry.client());

    let refresh = telemetry.refresh("shop").expect("full refresh");
    check_refresh(&refresh);

    // The light observation: the delay, and frontend (only) at the edge.
    let obs = observe(&telemetry, "shop").expect("observe shop");
    assert_close("observed delay", obs.delay_ms, DELAY_MS, 1e-6);
    assert!(!obs.autoscaler_active);
    assert!(obs.can_offload && obs.can_unoffload, "{obs:?}");
    let obs = observe(&telemetry, "edge-only").expect("observe edge-only");
    assert_close("edge-only delay", obs.delay_ms, DELAY_MS, 1e-6);
    assert!(!obs.can_offload && obs.can_unoffload, "{obs:?}");
    // No user traffic to cart or db: the delay is unknown; nothing of them at the edge (the
    // 500s to cart at the edge do not count).
    let obs = observe(&telemetry, "cloud-only").expect("observe cloud-only");
    assert!(obs.delay_ms.is_nan(), "{obs:?}");
    assert!(obs.can_offload && !obs.can_unoffload, "{obs:?}");

    // A query Prometheus refuses: its words and the query text, through both layers.
    let bad = "sum(rate(istio_requests_total[4s])";
    let e = telemetry.client().instant_query(bad, None).unwrap_err();
    assert!(matches!(e, PromError::Query { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(bad), "{text}");
    assert!(
        text.contains("bad_data") && text.contains("parse error"),
        "{text}"
    );
    let e = telemetry.refresh("bad").unwrap_err();
    assert_eq!(e.graph, "bad");
    assert!(
        e.message.contains("frontend-(") && e.message.contains("error parsing regexp"),
        "{e}"
    );
    // A scalar is not a vector.
    let e = telemetry.client().instant_query("1 + 1", None).unwrap_err();
    assert!(
        matches!(e, PromError::NotVector { ref result_type, .. } if result_type == "scalar"),
        "{e:?}"
    );
    let e = observe(&telemetry, "unknown").unwrap_err();
    assert!(e.message.contains("no Prometheus queries"), "{e}");

    // The scaling loop's loads: the measured rate into each deployed service (ratios exact),
    // the time it took to answer, its pods' CPU over what its replicas reserve.
    let shop = graph("shop", &["frontend", "cart", "db"]);
    let placed = [
        PlacementEntry::new("frontend", "cloud-1", 1),
        PlacementEntry::new("cart", "cloud-1", 2),
        PlacementEntry::new("db", "cloud-1", 0),
    ];
    let loads = telemetry.loads(&shop, &placed, 99.5).expect("loads");
    assert_eq!(loads.time_unix_s, 99);
    let load = |name: &str| {
        loads
            .loads
            .iter()
            .find(|l| l.service.as_str() == name)
            .unwrap_or_else(|| panic!("no load of {name}"))
            .clone()
    };
    assert_eq!(loads.loads.len(), 2, "db has no replica: no load");
    let (frontend, cart) = (load("frontend"), load("cart"));
    // frontend: 8 + 12 from the ingress (loadgen is no caller of the graph); cart: 30.
    assert_close(
        "frontend rate (timing factor near 1)",
        frontend.current_rps,
        20.0,
        0.2,
    );
    assert_close(
        "cart / frontend",
        cart.current_rps / frontend.current_rps,
        1.5,
        1e-6,
    );
    assert_eq!(frontend.predicted_rps, frontend.current_rps);
    assert_close(
        "frontend response",
        frontend.response_time_ms,
        SERVICE_MS,
        1e-6,
    );
    // CPU: frontend's pods 0.25 + 0.5 cores over 1 x 2, cart's 1.25 + 0.75 over 2 x 2.
    assert_close(
        "cpu ratio",
        cart.cpu_utilisation / frontend.cpu_utilisation,
        (2.0 / 4.0) / (0.75 / 2.0),
        1e-6,
    );
    let e = telemetry
        .loads(&graph("unknown", &["frontend"]), &placed, 0.0)
        .unwrap_err();
    assert!(e.message.contains("no Prometheus queries"), "{e}");
    drop(server);
    drop(exporter);
}

#[test]
fn a_dead_url_gives_a_connection_error_naming_it() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = PromClient::new(url.clone(), Duration::from_secs(2));
    let e = client.instant_query("up", None).unwrap_err();
    assert!(
        matches!(e, PromError::Connect { url: ref u, .. } if *u == url),
        "{e:?}"
    );
    assert!(e.to_string().contains(&url), "{e}");
    let telemetry = telemetry(&url);
    let e = observe(&telemetry, "shop").expect_err("nothing listens");
    assert!(e.message.contains(&url), "{e}");
    assert!(e.message.contains("cannot connect"), "{e}");
}
