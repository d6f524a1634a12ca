//! systemd's contract, through a `NOTIFY_SOCKET` this test listens on (systemd is not PID 1
//! here): READY once serving, watchdog pings, a reload cycle (RELOADING with MONOTONIC_USEC,
//! then READY) that puts a changed setting in force, reloads that are refused and change
//! nothing, and STOPPING on SIGTERM while a request in flight still completes and is kept.

mod api_support;

use api_support::*;
use smo_tests::notify::{status_of, Notifications};
use smo_tests::*;
use std::time::Duration;

const READER: &str =
    "[[auth.tokens]]\nname = \"reader\"\nscope = \"read\"\ntoken = \"reader-secret-0123456789\"\n";

fn start_notified(sandbox: &Sandbox, notify: &Notifications, config: &str) -> Api {
    let path = sandbox.root.path().join("smo.toml");
    std::fs::write(&path, config).expect("write config");
    let daemon = Daemon::start_with_env(
        sandbox,
        &["--config", &path.display().to_string()],
        &[
            ("NOTIFY_SOCKET", notify.path.as_os_str()),
            // 200 ms: a ping every 100 ms while the engine's heartbeat passes.
            ("WATCHDOG_USEC", std::ffi::OsStr::new("200000")),
        ],
    );
    let token = std::fs::read_to_string(sandbox.state_dir().join("admin.token"))
        .ok()
        .map(|t| t.trim().to_owned());
    Api { daemon, token }
}

fn reader_status(api: &Api) -> u16 {
    api.call("GET", "/v1/graphs", Some("reader-secret-0123456789"), None)
        .status
}

#[test]
fn ready_watchdog_reload_and_refused_reloads() {
    let sandbox = sandbox();
    let notify = Notifications::listen(&sandbox);
    let config = sandbox.root.path().join("smo.toml");
    let api = start_notified(&sandbox, &notify, "[engine]\nscaling_period_ms = 30000\n");
    let ready = notify.wait_for(0, "READY=1", |m| m.contains("READY=1"));
    assert!(
        status_of(&notify.all()[ready]).starts_with("serving on 127.0.0.1:"),
        "{:?}",
        notify.all()[ready]
    );
    // Pings follow, at the watchdog's half period.
    let first = notify.wait_for(ready, "a watchdog ping", |m| m.trim() == "WATCHDOG=1");
    notify.wait_for(first + 1, "a second watchdog ping", |m| {
        m.trim() == "WATCHDOG=1"
    });

    // A reload that adds a read token: RELOADING with the monotonic clock, then READY with
    // the outcome, and the token works.
    assert_eq!(reader_status(&api), 401);
    std::fs::write(
        &config,
        format!("[engine]\nscaling_period_ms = 30000\n{READER}"),
    )
    .expect("write");
    let before = notify.all().len();
    api.daemon.signal("HUP");
    let reloading = notify.wait_for(before, "RELOADING=1", |m| m.contains("RELOADING=1"));
    assert!(
        notify.all()[reloading].contains("MONOTONIC_USEC="),
        "{:?}",
        notify.all()[reloading]
    );
    let done = notify.wait_for(reloading, "READY=1 after the reload", |m| {
        m.contains("READY=1")
    });
    let line = status_of(&notify.all()[done]).to_owned();
    assert!(
        line.starts_with("configuration reloaded (changed: auth)"),
        "{line}"
    );
    assert_eq!(reader_status(&api), 200);

    // A key only a restart changes (the HTTP server's limits; `listen` is on the command line,
    // which wins over the file): refused, named, and the old configuration stays.
    std::fs::write(
        &config,
        "[engine]\nscaling_period_ms = 30000\n[http]\nrequest_timeout_ms = 1234\n",
    )
    .expect("write");
    let before = notify.all().len();
    api.daemon.signal("HUP");
    let done = notify.wait_for(before, "READY=1 after the refused reload", |m| {
        m.contains("READY=1")
    });
    let line = status_of(&notify.all()[done]).to_owned();
    assert!(
        line.starts_with("reload refused") && line.contains("http: changed, but only a restart"),
        "{line}"
    );
    assert_eq!(
        reader_status(&api),
        200,
        "the previous tokens stay in force"
    );

    // A file that does not parse: the same.
    std::fs::write(&config, "[engine\nscaling_period_ms = ").expect("write");
    let before = notify.all().len();
    api.daemon.signal("HUP");
    let done = notify.wait_for(before, "READY=1 after the bad file", |m| {
        m.contains("READY=1")
    });
    let line = status_of(&notify.all()[done]).to_owned();
    assert!(
        line.starts_with("reload refused") && line.contains("smo.toml"),
        "{line}"
    );
    assert_eq!(reader_status(&api), 200);
    // One reload applied, two refused, as /metrics counts them.
    let metrics = api.get("/metrics").body;
    let text = metrics.as_str().unwrap_or_default();
    for sample in [
        "smo_config_reloads_total{outcome=\"applied\"} 1",
        "smo_config_reloads_total{outcome=\"refused\"} 2",
    ] {
        assert!(text.contains(sample), "{sample} not in {text}");
    }
}

/// hello-world renamed to `id`, placed by the fixture strategy that writes `started` and
/// returns once `release` exists.
fn gated_graph(id: &str, started: &std::path::Path, release: &std::path::Path) -> String {
    hello_named(id).replace(
        "  hdaGraphIntent:\n",
        &format!(
            "  hdaGraphIntent:\n    placementStrategy: versioned/gate\n    strategyParameters:\n      \
             placement: {{\"started\": \"{}\", \"release\": \"{}\"}}\n",
            started.display(),
            release.display()
        ),
    )
}

#[test]
fn sigterm_says_stopping_and_the_request_in_flight_completes_and_is_kept() {
    let sandbox = sandbox();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let notify = Notifications::listen(&sandbox);
    let mut api = start_notified(&sandbox, &notify, "[plugins]\ncall_timeout_ms = 60000\n");
    notify.wait_for(0, "READY=1", |m| m.contains("READY=1"));
    let started = sandbox.root.path().join("started");
    let release = sandbox.root.path().join("release");
    let in_flight =
        api.post_yaml_in_background("/v1/graphs", gated_graph("late", &started, &release));
    assert!(
        eventually(Duration::from_secs(30), || started.exists()),
        "the gated placement never started"
    );
    let before = notify.all().len();
    api.daemon.signal("TERM");
    let stopping = notify.wait_for(before, "STOPPING=1", |m| m.contains("STOPPING=1"));
    assert!(status_of(&notify.all()[stopping]).starts_with("stopping"));
    // Only now may the call finish: it was in flight when the stop began.
    std::fs::write(&release, b"go").expect("release");
    let status = in_flight.join().expect("thread").expect("answered");
    assert_eq!(status, 201, "the request in flight was answered");
    let exit = api.daemon.child.wait().expect("exits");
    assert!(exit.success(), "{exit:?}");

    // Nothing stored was lost: a daemon on the same state has the graph.
    let again = start(&sandbox, "");
    let graph = again.get("/v1/graphs/late");
    assert_eq!(graph.status, 200, "{}", graph.body);
}

#[test]
fn a_reload_retimes_the_simulated_continuum_and_the_applier() {
    let sandbox = sandbox();
    let notify = Notifications::listen(&sandbox);
    let config = sandbox.root.path().join("smo.toml");
    let settings = |fail_applies: u32, backoff_base_ms: u32| {
        format!(
            "[engine]\nscaling_period_ms = 30000\n[backend.sim]\nready_after_s = 0\n\
             fail_applies = {fail_applies}\n[applier]\npoll_ms = 50\n\
             backoff_base_ms = {backoff_base_ms}\nbackoff_max_ms = 100\n"
        )
    };
    let api = start_notified(&sandbox, &notify, &settings(0, 50));
    let ready = notify.wait_for(0, "READY=1", |m| m.contains("READY=1"));
    let graph = "/v1/graphs/hello-world-graph";
    api.deploy(HELLO);
    api.wait_for(graph, "the graph ready", |v| v["phase"] == "ready");

    // The next two applies fail, and failures back off from 20 ms.
    std::fs::write(&config, settings(2, 20)).expect("write");
    let before = notify.all().len().max(ready + 1);
    api.daemon.signal("HUP");
    let done = notify.wait_for(before, "READY=1 after the reload", |m| {
        m.contains("READY=1")
    });
    let line = status_of(&notify.all()[done]).to_owned();
    assert!(
        line.starts_with("configuration reloaded (changed: applier, backend)"),
        "{line}"
    );
    // Stopped and started again: the apply of the new generation fails twice, then passes.
    assert_eq!(api.post_empty(&format!("{graph}/stop")).status, 200);
    api.wait_for(graph, "the graph withdrawn", |v| {
        v["status"] == "stopped" && v["apply"]["applied_generation"] == v["apply"]["generation"]
    });
    assert_eq!(api.post_empty(&format!("{graph}/start")).status, 200);
    api.wait_for(graph, "the graph ready again", |v| v["phase"] == "ready");
    let attempts = api
        .get("/v1/applies?graph=hello-world-graph&limit=100")
        .body;
    let applies: Vec<bool> = attempts["applies"]
        .as_array()
        .expect("applies")
        .iter()
        .rev()
        .filter(|a| a["action"] == "apply")
        .map(|a| a["ok"].as_bool().expect("ok"))
        .collect();
    assert_eq!(applies, [true, false, false, true], "{attempts}");
}
