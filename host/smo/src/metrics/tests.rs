//! `/metrics` and `/readyz` through the daemon's router (built as `smo serve` builds it, on the
//! simulated continuum, with no plugin installed), and the store's own counting.

use crate::config::{Config, TokenSettings};
use crate::daemon::build_app;
use crate::store::{DecisionKind, DecisionRecord, Outcome, Store};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

const READ_TOKEN: &str = "read-token-for-the-metrics-test";
const HELLO: &str = include_str!("../../../../tests/fixtures/hdag/hello-world.yaml");

struct Daemon {
    _dir: tempfile::TempDir,
    router: axum::Router,
    engine: std::sync::Arc<crate::engine::lifecycle::Engine>,
    admin: String,
}

async fn daemon() -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        plugin_dir: dir.path().join("plugins"),
        system_plugin_dir: dir.path().join("no-system-plugins"),
        state_dir: dir.path().join("state"),
        auth: crate::config::AuthSettings {
            enabled: true,
            tokens: vec![TokenSettings {
                name: "prometheus".into(),
                scope: "read".into(),
                token_sha256: None,
                token: Some(READ_TOKEN.into()),
            }],
        },
        ..Config::default()
    };
    let app = build_app(&config, dir.path().join("no-probe-needed"))
        .await
        .expect("the app builds");
    let admin = std::fs::read_to_string(dir.path().join("state/admin.token"))
        .expect("admin token")
        .trim()
        .to_owned();
    Daemon {
        _dir: dir,
        router: app.router,
        engine: app.engine,
        admin,
    }
}

/// Status, content type and body of `method path` with `token` and `body` (YAML).
async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(text) => request
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(text.to_owned())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = router.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).expect("UTF-8"),
    )
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
}

#[tokio::test]
async fn metrics_need_a_read_token_and_count_a_failed_placement() {
    let daemon = daemon().await;
    let router = &daemon.router;
    let (status, _, _) = call(router, "GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, content_type, text) =
        call(router, "GET", "/metrics", Some(READ_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&text, &format!("smo_build_info{{version=\"{version}\"}}")),
        Some(1.0)
    );
    let errors = "smo_decisions_total{kind=\"placement\",outcome=\"error\"}";
    assert_eq!(sample(&text, errors), Some(0.0), "{text}");
    assert_eq!(sample(&text, "smo_plugin_registry_generation"), Some(1.0));
    assert_eq!(sample(&text, "smo_plugin_images_max"), Some(64.0));
    for family in [
        "# TYPE smo_plugin_calls_total counter",
        "# TYPE smo_plugin_call_duration_seconds histogram",
        "# TYPE smo_store_call_duration_seconds histogram",
        "# TYPE smo_loop_lag_seconds histogram",
        "# TYPE smo_applier_reconciles_total counter",
        "# TYPE smo_graphs gauge",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    // No plugin is installed: the placement fails, and only its decision is stored.
    let (status, _, body) = call(
        router,
        "POST",
        "/v1/graphs",
        Some(&daemon.admin),
        Some(HELLO),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, _, text) = call(router, "GET", "/metrics", Some(READ_TOKEN), None).await;
    assert_eq!(sample(&text, errors), Some(1.0), "{text}");
    let store_calls = sample(&text, "smo_store_call_duration_seconds_count").unwrap_or(0.0);
    assert!(store_calls >= 1.0, "{text}");
    assert_eq!(
        sample(&text, "smo_store_call_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(store_calls),
        "+Inf holds every call"
    );
}

#[tokio::test]
async fn the_daemon_on_the_simulated_continuum_is_ready() {
    let daemon = daemon().await;
    let (status, content_type, body) = call(&daemon.router, "GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/json");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["status"], "ready");
    for check in ["store", "plugins", "backend"] {
        assert_eq!(body[check]["ok"], true, "{check}: {body}");
    }
    assert!(
        body["backend"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("sim: 3 clusters")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_listener_serves_only_metrics_without_a_token() {
    let daemon = daemon().await;
    let metrics = std::sync::Arc::new(super::Metrics::new(&daemon.engine));
    let addr = crate::api::metrics::spawn_listener(
        "127.0.0.1:0".parse().expect("address"),
        metrics,
        &crate::config::HttpSettings::default(),
    )
    .await
    .expect("the listener binds");
    let get = |path: &'static str| {
        let url = format!("http://{addr}{path}");
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let response = agent.get(&url).call().expect("an answer");
            let status = response.status().as_u16();
            (status, response.into_body().read_to_string().expect("body"))
        })
    };
    let (status, text) = get("/metrics").await.expect("joins");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("# TYPE smo_decisions_total counter"),
        "{text}"
    );
    let (status, _) = get("/v1/graphs").await.expect("joins");
    assert_eq!(status, 404, "only /metrics is served there");
}

#[test]
fn the_store_times_its_calls_and_counts_decisions_once_written() {
    let store = Store::open_in_memory().expect("store");
    let before = store.metrics().latency().snapshot().count();
    store.list_tokens().expect("a read");
    assert_eq!(store.metrics().latency().snapshot().count(), before + 1);
    let mut record = DecisionRecord::new(DecisionKind::Scaling, 1);
    record.graph = "g".into();
    record.outcome = Outcome::Fallback;
    store.append_decision(&record).expect("recorded");
    assert_eq!(
        store
            .metrics()
            .decisions(DecisionKind::Scaling, Outcome::Fallback),
        1
    );
    assert_eq!(
        store
            .metrics()
            .decisions(DecisionKind::Scaling, Outcome::Ok),
        0
    );
}
