//! Fixture plugins that panic, hang, speak another API version, crash while loading, or are
//! not plugins at all: the host rejects or contains each, reports it, and keeps serving.

use smo_plugin_host::StrategyName;
use smo_tests::*;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_strategy_is_contained_counted_and_quarantined() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_fixture_panicky", "panicky.so");
    sandbox.install("smo_default_lp", "default-lp.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let boom = StrategyName::parse("panicky/boom").unwrap();
    let request = Arc::new(small_request());
    for call in 1..=3u64 {
        let record = dispatcher
            .place(Some(&boom), "{}", Arc::clone(&request))
            .await;
        let reason = record.record.fallback_reason.expect("fell back");
        assert!(reason.contains("panicked"), "{reason}");
        assert!(
            reason.contains("fixture panic while placing 3 services"),
            "{reason}"
        );
        assert_eq!(record.record.strategy, "default-lp/placement");
        assert!(record.decision.is_some(), "the default strategy decided");
        let stats = panicky_stats(&dispatcher);
        assert_eq!(stats.panics, call);
    }
    // Third consecutive panic quarantined it: the next call does not reach the plugin.
    let record = dispatcher.place(Some(&boom), "{}", request).await;
    let reason = record.record.fallback_reason.expect("fell back");
    assert!(reason.contains("quarantined"), "{reason}");
    let stats = panicky_stats(&dispatcher);
    assert_eq!(stats.panics, 3);
    assert_eq!(stats.quarantined.len(), 1);
    assert_eq!(stats.quarantined[0].strategy, "boom");
}

fn panicky_stats(
    dispatcher: &smo_plugin_host::Dispatcher,
) -> smo_plugin_host::stats::StatsSnapshot {
    dispatcher
        .registry()
        .status()
        .plugins
        .into_iter()
        .find(|p| p.name == "panicky")
        .expect("panicky listed")
        .stats
}

#[test]
fn a_hanging_strategy_times_out_and_only_blocks_itself() {
    // The hung thread can never finish, so this runtime is shut down without waiting for it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sandbox = Sandbox::new();
        sandbox.install("smo_fixture_hangs", "hangs.so");
        sandbox.install("smo_default_lp", "default-lp.so");
        let mut config = sandbox.registry_config();
        config.max_concurrent_calls = 1;
        let dispatcher = dispatcher(config, Duration::from_millis(300), 2).await;
        let forever = StrategyName::parse("hangs/forever").unwrap();
        let request = Arc::new(small_request());
        let first = dispatcher
            .place(Some(&forever), "{}", Arc::clone(&request))
            .await;
        let reason = first.record.fallback_reason.expect("fell back");
        assert!(reason.contains("timed out"), "{reason}");
        assert!(first.decision.is_some());
        // The hung call still holds the only permit: the second waits and times out too.
        let second = dispatcher
            .place(Some(&forever), "{}", Arc::clone(&request))
            .await;
        assert!(second.record.fallback_reason.unwrap().contains("timed out"));
        // Two consecutive timeouts quarantine it; other plugins still answer directly.
        let third = dispatcher
            .place(Some(&forever), "{}", Arc::clone(&request))
            .await;
        assert!(third
            .record
            .fallback_reason
            .unwrap()
            .contains("quarantined"));
        let default = dispatcher.place(None, "{}", request).await;
        assert_eq!(default.record.fallback_reason, None);
        assert!(default.decision.is_some());
        let hangs = dispatcher
            .registry()
            .status()
            .plugins
            .into_iter()
            .find(|p| p.name == "hangs")
            .unwrap();
        assert_eq!(hangs.stats.timeouts, 2);
    });
    runtime.shutdown_background();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_rejected_with_one_line_each_and_good_ones_still_load() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_wrong_abi", "wrong-abi.so");
    sandbox.install("smo_fixture_init_crash", "init-crash.so");
    sandbox.install("smo_fixture_not_a_plugin", "not-a-plugin.so");
    std::fs::write(
        sandbox.plugin_dir().join("garbage.so"),
        b"this is not an ELF file",
    )
    .unwrap();

    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let status = dispatcher.registry().status();
    assert_eq!(status.plugins.len(), 1);
    assert_eq!(status.plugins[0].name, "default-lp");
    let error_of = |file: &str| {
        status
            .rejected
            .iter()
            .find(|r| r.file.ends_with(file))
            .unwrap_or_else(|| panic!("{file} not rejected: {:?}", status.rejected))
            .error
            .clone()
    };
    for file in [
        "wrong-abi.so",
        "init-crash.so",
        "not-a-plugin.so",
        "garbage.so",
    ] {
        let e = error_of(file);
        assert!(!e.contains('\n'), "{file}: not one line: {e}");
        assert!(e.len() < 400, "{file}: too long: {e}");
    }
    let abi = error_of("wrong-abi.so");
    assert!(
        abi.contains("2.0.0") && abi.contains(smo_plugin_api::API_VERSION),
        "{abi}"
    );
    let crash = error_of("init-crash.so");
    assert!(
        crash.contains("crashed while loading") && crash.contains("SIGABRT"),
        "{crash}"
    );
    assert!(error_of("not-a-plugin.so").contains("not an smo plugin"));
    assert!(error_of("garbage.so").contains("cannot be opened"));

    // This process survived all of them and still decides.
    let record = dispatcher
        .place(None, "{}", Arc::new(small_request()))
        .await;
    assert_eq!(record.record.error, None);
}

#[test]
fn plugin_check_prints_metadata_json_or_one_error_line() {
    let ok = Command::new(smo_bin())
        .args(["plugin", "check"])
        .arg(plugin_so("smo_ecmr"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    let meta: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(meta["name"], "ecmr");
    assert_eq!(meta["api_version"], smo_plugin_api::API_VERSION);
    assert!(meta["version"].as_str().is_some_and(|v| !v.is_empty()));
    let strategies = meta["strategies"].as_array().unwrap();
    assert!(strategies.iter().any(|s| s["kind"] == "placement"));

    let bad = Command::new(smo_bin())
        .args(["plugin", "check"])
        .arg(plugin_so("smo_fixture_wrong_abi"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("2.0.0") && stderr.contains(smo_plugin_api::API_VERSION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_others_may_write_is_refused_unless_allowed() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_ecmr", "ecmr.so");
    let ecmr = sandbox.plugin_dir().join("ecmr.so");
    std::fs::set_permissions(&ecmr, std::fs::Permissions::from_mode(0o666)).unwrap();

    let refusing = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let status = refusing.registry().status();
    let loaded: Vec<&str> = status.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(loaded, ["default-lp"]);
    let refused = status
        .rejected
        .iter()
        .find(|r| r.file.ends_with("ecmr.so"))
        .expect("ecmr.so refused");
    assert!(
        refused
            .error
            .contains("writable by users other than its owner")
            && refused.error.contains("0666"),
        "{}",
        refused.error
    );

    let mut config = sandbox.registry_config();
    config.allow_insecure_permissions = true;
    let dispatcher = dispatcher(config, Duration::from_secs(30), 3).await;
    let status = dispatcher.registry().status();
    assert_eq!(
        status.plugins.len(),
        2,
        "loaded with a warning when allowed"
    );
}

#[test]
fn sigterm_ends_the_daemon_even_while_a_strategy_call_hangs() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_hangs", "hangs.so");
    let config = sandbox.config("[plugins]\ncall_timeout_ms = 300\n");
    let mut daemon = Daemon::start(&sandbox, &["--no-auth", "--config", &config]);
    let intent = "    placementStrategy: hangs/forever\n";
    let descriptor = test_descriptor("stuck", &[("svc", "1Gi")], None, intent, "{}");
    // The call to hangs/forever times out (its thread stays parked); the default decides.
    let (status, created) = send("POST", &daemon.url("/v1/graphs"), &descriptor);
    assert_eq!(status, 201, "{created}");
    assert!(
        created["last_decisions"]["placement"]["fallback_reason"]
            .as_str()
            .is_some_and(|r| r.contains("timed out") || r.contains("deadline")),
        "{created}"
    );
    daemon.signal("TERM");
    let exited = eventually(Duration::from_secs(30), || {
        daemon.child.try_wait().expect("wait").is_some()
    });
    assert!(
        exited,
        "smo serve still runs 30 s after SIGTERM with a hung call"
    );
}
