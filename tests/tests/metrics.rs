//! smo's own metrics and health as operators use them: `smo serve` in a child process with real
//! plugins (ecmr, default-lp, and the panicking fixture), scraped by a real Prometheus with a
//! `read` token, the counters read back through Prometheus's HTTP API, and the exposition
//! checked by `promtool check metrics` (both from Debian's `prometheus` package). Then the
//! auth scope of `/metrics`, its own unauthenticated listener, `/healthz`, and `/readyz` ready
//! on the simulated continuum and not ready on a Karmada backend whose API server refuses.

mod api_support;
mod prom_support;

use api_support::*;
use prom_support::{free_port, PromServer};
use serde_json::json;
use smo_prometheus::PromClient;
use smo_tests::{eventually, small_request};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The `read` token Prometheus scrapes with.
const READ: &str = "metrics-read-token-for-prometheus";

/// `sections` (whole TOML sections), then the `read` token.
fn config(sections: &str) -> String {
    format!("{sections}\n[[auth.tokens]]\nname = \"prometheus\"\nscope = \"read\"\ntoken = \"{READ}\"\n")
}

/// `GET url` with `token`: status, content type, body.
fn get(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = smo_tests::http().get(url);
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.into_body().read_to_string().expect("body"),
    )
}

/// `promtool check metrics` on `text`: its exit status and what it printed.
fn promtool_check(text: &str) -> (bool, String) {
    let promtool = prom_support::prometheus_binary().with_file_name("promtool");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", promtool.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the exposition");
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// The value of `query`'s only sample, if Prometheus has exactly one.
fn scalar(client: &PromClient, query: &str) -> Option<f64> {
    match client.instant_query(query, None).ok()?.as_slice() {
        [one] => Some(one.value),
        _ => None,
    }
}

#[test]
fn prometheus_scrapes_plugin_calls_panics_and_decisions_with_a_read_token() {
    let sandbox = sandbox();
    sandbox.install("smo_fixture_panicky", "panicky.so");
    let api = start(
        &sandbox,
        &config(
            "[backend.sim]\nready_after_s = 0.1\nfail_applies = 2\n\
             [applier]\npoll_ms = 50\nbackoff_base_ms = 50\nbackoff_max_ms = 100\n",
        ),
    );
    // Two calls of a real strategy, three of one that panics (quarantined by the third),
    // and a fourth the quarantine refuses: not a call.
    for _ in 0..2 {
        let reply = api.post_json(
            "/v1/strategies/ecmr/heuristic/place",
            &json!({"request": small_request()}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for _ in 0..4 {
        let reply = api.post_json(
            "/v1/strategies/panicky/boom/place",
            &json!({"request": small_request()}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply.body["fallback_reason"].is_string(),
            "fell back to the default: {}",
            reply.body
        );
    }
    // A deploy: one placement decision, recorded; the applier reconciles it to ready after
    // the backend's first two applies failed (two retries).
    api.deploy(HELLO);
    api.wait_for("/v1/graphs/hello-world-graph", "the graph ready", |v| {
        v["phase"] == "ready"
    });

    // The exposition itself passes promtool.
    let (status, content_type, text) = get(&api.url("/metrics"), Some(READ));
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let (passed, said) = promtool_check(&text);
    assert!(
        passed,
        "promtool check metrics failed:\n{said}\n---\n{text}"
    );
    assert!(said.trim().is_empty(), "promtool found problems:\n{said}");

    // Prometheus scrapes it with the read token, every second.
    let prometheus = PromServer::start_scraping(&format!(
        "  - job_name: smo\n    metrics_path: /metrics\n    authorization:\n      \
         credentials: {READ}\n    static_configs:\n      - targets: ['{}']\n",
        api.daemon.addr
    ));
    let client = PromClient::new(prometheus.url.clone(), Duration::from_secs(2));
    let expected: [(&str, f64); 9] = [
        ("up{job=\"smo\"}", 1.0),
        (
            "smo_plugin_calls_total{plugin=\"panicky\",strategy=\"boom\",outcome=\"panic\"}",
            3.0,
        ),
        (
            "sum(smo_plugin_calls_total{plugin=\"panicky\",strategy=\"boom\"})",
            3.0,
        ),
        (
            "smo_plugin_strategy_quarantined{plugin=\"panicky\",strategy=\"boom\"}",
            1.0,
        ),
        (
            "sum(smo_plugin_calls_total{plugin=\"ecmr\",strategy=\"heuristic\"})",
            2.0,
        ),
        (
            "smo_plugin_call_duration_seconds_count{plugin=\"ecmr\",strategy=\"heuristic\"}",
            2.0,
        ),
        (
            "smo_decisions_total{kind=\"placement\",outcome=\"ok\"}",
            1.0,
        ),
        ("smo_graphs{status=\"running\",phase=\"ready\"}", 1.0),
        ("smo_applier_retries_total", 2.0),
    ];
    let mut last = Vec::new();
    let all_seen = eventually(Duration::from_secs(30), || {
        last = expected
            .iter()
            .map(|(query, _)| scalar(&client, query))
            .collect();
        expected
            .iter()
            .zip(&last)
            .all(|((_, want), got)| *got == Some(*want))
    });
    assert!(
        all_seen,
        "Prometheus did not read the expected values within 30 s:\n{}\n{}",
        expected
            .iter()
            .zip(&last)
            .map(|((query, want), got)| format!("{query}: want {want}, got {got:?}"))
            .collect::<Vec<_>>()
            .join("\n"),
        prometheus.log_text()
    );
    // The default strategy answered every fallback: its calls counted under its own name.
    let fallbacks = scalar(
        &client,
        "smo_plugin_calls_total{plugin=\"default-lp\",strategy=\"placement\",outcome=\"ok\"}",
    )
    .unwrap_or(0.0);
    assert!(
        fallbacks >= 5.0,
        "4 fallbacks and 1 deploy, got {fallbacks}"
    );
    let reconciles = scalar(&client, "smo_applier_reconciles_total").unwrap_or(0.0);
    assert!(reconciles >= 1.0, "got {reconciles}");
}

/// The value of the sample `series` (name and labels exactly as exposed) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
}

#[test]
fn the_loops_rounds_periods_and_lag_are_counted() {
    let sandbox = sandbox();
    let api = start(
        &sandbox,
        &config("[engine]\nscaling_period_ms = 100\n[ecosystem]\nperiod_ms = 100\n"),
    );
    api.deploy(HELLO);
    let mut text = String::new();
    let counted = eventually(Duration::from_secs(20), || {
        text = get(&api.url("/metrics"), Some(READ)).2;
        ["scaling", "ecosystem"].iter().all(|name| {
            sample(&text, &format!("smo_loop_rounds_total{{loop=\"{name}\"}}"))
                .is_some_and(|rounds| rounds >= 3.0)
        })
    });
    assert!(counted, "three rounds of each loop within 20 s:\n{text}");
    for name in ["scaling", "ecosystem"] {
        let series = |metric: &str| format!("{metric}{{loop=\"{name}\"}}");
        assert_eq!(
            sample(&text, &series("smo_loop_period_seconds")),
            Some(0.1),
            "{name}"
        );
        assert_eq!(
            sample(&text, &series("smo_loop_round_failures_total")),
            Some(0.0),
            "{name}"
        );
        let rounds = sample(&text, &series("smo_loop_rounds_total")).unwrap_or(0.0);
        assert_eq!(
            sample(&text, &series("smo_loop_round_duration_seconds_count")),
            Some(rounds),
            "{name}: every round timed"
        );
        let lags = sample(&text, &series("smo_loop_lag_seconds_count")).unwrap_or(0.0);
        assert!(
            lags >= 2.0 && lags <= rounds,
            "{name}: {lags} lags, {rounds} rounds"
        );
    }
    assert_eq!(sample(&text, "smo_scaling_loops_running"), Some(1.0));
    let scaling_decisions: f64 = ["ok", "fallback", "error"]
        .iter()
        .filter_map(|outcome| {
            sample(
                &text,
                &format!("smo_decisions_total{{kind=\"scaling\",outcome=\"{outcome}\"}}"),
            )
        })
        .sum();
    assert!(
        scaling_decisions >= 1.0,
        "each scaling round records its decisions:\n{text}"
    );
}

#[test]
fn metrics_need_a_token_on_the_api_and_none_on_their_own_listener() {
    let sandbox = sandbox();
    let port = free_port();
    let api = start(
        &sandbox,
        &config(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n")),
    );
    let (status, _, body) = get(&api.url("/metrics"), None);
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = get(&api.url("/metrics"), Some("not-a-known-token"));
    assert_eq!(status, 401, "{body}");
    let (status, _, text) = get(&api.url("/metrics"), Some(READ));
    assert_eq!(status, 200, "a read token suffices: {text}");
    assert!(
        text.contains("# TYPE smo_plugin_calls_total counter"),
        "{text}"
    );
    let admin = api.token.clone().expect("admin token");
    assert_eq!(get(&api.url("/metrics"), Some(&admin)).0, 200);

    // The own listener: only /metrics, without a token.
    let own = format!("http://127.0.0.1:{port}");
    let (status, content_type, text) = get(&format!("{own}/metrics"), None);
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(text.contains("smo_build_info{version="), "{text}");
    let (passed, said) = promtool_check(&text);
    assert!(passed, "promtool check metrics failed:\n{said}");
    assert_eq!(get(&format!("{own}/v1/graphs"), None).0, 404);
    assert_eq!(get(&format!("{own}/healthz"), None).0, 404);
}

#[test]
fn ready_on_the_simulated_continuum() {
    let sandbox = sandbox();
    let api = start(&sandbox, &config(""));
    let (status, _, body) = get(&api.url("/healthz"), None);
    assert_eq!(status, 200, "{body}");
    let (status, content_type, body) = get(&api.url("/readyz"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/json");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["status"], "ready", "{body}");
    for check in ["store", "plugins", "backend"] {
        assert_eq!(body[check]["ok"], true, "{check}: {body}");
    }
    assert_eq!(
        body["plugins"]["detail"], "generation 1: 2 plugins, 0 files refused",
        "{body}"
    );
    assert!(
        body["backend"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("sim: 3 clusters")),
        "{body}"
    );
}

#[test]
fn not_ready_while_the_karmada_api_server_refuses() {
    let sandbox = sandbox();
    // Nothing listens on this port: every connection is refused.
    let refused = free_port();
    let kubeconfig = sandbox.root.path().join("karmada.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: refused\n  cluster:\n    \
             server: http://127.0.0.1:{refused}\nusers:\n- name: smo\n  user:\n    token: t\n\
             contexts:\n- name: refused\n  context:\n    cluster: refused\n    user: smo\n\
             current-context: refused\n"
        ),
    )
    .expect("write the kubeconfig");
    let api = start(
        &sandbox,
        &config(&format!(
            "[backend]\nkind = \"karmada\"\n[backend.karmada]\nkubeconfig = \"{}\"\n\
             request_timeout_ms = 300\n",
            kubeconfig.display()
        )),
    );
    // Alive all the same.
    assert_eq!(get(&api.url("/healthz"), None).0, 200);
    let (status, content_type, body) = get(&api.url("/readyz"), None);
    assert_eq!(status, 503, "{body}");
    assert_eq!(content_type, "application/json");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["status"], "not_ready", "{body}");
    assert_eq!(body["store"]["ok"], true, "{body}");
    assert_eq!(body["plugins"]["ok"], true, "{body}");
    assert_eq!(body["backend"]["ok"], false, "{body}");
    let detail = body["backend"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("karmada: ") && detail.contains("clusters"),
        "the failed check says why: {body}"
    );
}
