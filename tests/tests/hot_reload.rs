//! Hot reload through real files: a new version replaces the old by rename while calls run,
//! nothing fails, later calls see the new version, in-flight calls finish on the old one, and a
//! broken replacement leaves the serving version in place.

use smo_plugin_host::StrategyName;
use smo_tests::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn version_of(reasons: &[String]) -> String {
    reasons
        .iter()
        .find_map(|r| r.strip_prefix("answered by versioned "))
        .expect("a version in the reasons")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_plugin_under_load_loses_no_call() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let echo = StrategyName::parse("versioned/echo").unwrap();
    let request = Arc::new(small_request());

    // Background caller, in a loop until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let (dispatcher, echo, request, stop) = (
            Arc::clone(&dispatcher),
            echo.clone(),
            Arc::clone(&request),
            Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = dispatcher
                    .place(Some(&echo), "{}", Arc::clone(&request))
                    .await;
                seen.push((
                    r.record.error.clone(),
                    r.record.fallback_reason.clone(),
                    r.record.plugin_version.clone(),
                ));
            }
            seen
        })
    };
    // Let the background task get going on version 1.
    let first = dispatcher
        .place(Some(&echo), "{}", Arc::clone(&request))
        .await;
    assert_eq!(version_of(&first.record.reasons), "1.0.0");

    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    let report = dispatcher
        .registry()
        .reload()
        .await
        .expect("reload succeeds");
    assert_eq!(report.updated, vec!["versioned 1.0.0 -> 2.0.0".to_string()]);
    assert_eq!(report.unchanged, vec!["default-lp".to_string()]);

    // Every call that starts after the swap answers with version 2.
    for _ in 0..20 {
        let r = dispatcher
            .place(Some(&echo), "{}", Arc::clone(&request))
            .await;
        assert_eq!(version_of(&r.record.reasons), "2.0.0");
        assert_eq!(r.record.plugin_version.as_deref(), Some("2.0.0"));
    }
    stop.store(true, Ordering::Relaxed);
    let seen = caller.await.unwrap();
    assert!(!seen.is_empty());
    for (error, fallback, _) in &seen {
        assert_eq!(error, &None);
        assert_eq!(fallback, &None);
    }
    // The background calls saw 1.0.0 then 2.0.0, never going back.
    let versions: Vec<&str> = seen.iter().filter_map(|(_, _, v)| v.as_deref()).collect();
    let first_v2 = versions.iter().position(|v| *v == "2.0.0");
    if let Some(i) = first_v2 {
        assert!(versions[i..].iter().all(|v| *v == "2.0.0"), "{versions:?}");
        assert!(versions[..i].iter().all(|v| *v == "1.0.0"), "{versions:?}");
    }

    // A broken replacement: refused and named in the report; version 2 keeps serving, as a
    // good file added in the same reload is loaded (start and reload treat files alike).
    sandbox.install("smo_fixture_not_a_plugin", "versioned.so");
    sandbox.install("smo_ecmr", "ecmr.so");
    let report = dispatcher
        .registry()
        .reload()
        .await
        .expect("a partial reload");
    assert_eq!(report.kept, ["versioned 2.0.0"]);
    assert_eq!(report.added, ["ecmr"]);
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert!(
        report.failed[0].contains("versioned.so"),
        "{:?}",
        report.failed
    );
    assert!(
        report.failed[0].contains("not an smo plugin"),
        "{:?}",
        report.failed
    );
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    let r = dispatcher
        .place(Some(&echo), "{}", Arc::clone(&request))
        .await;
    assert_eq!(r.record.fallback_reason, None);
    assert_eq!(version_of(&r.record.reasons), "2.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_finishes_on_the_version_it_started_on() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(60), 3).await;
    let gate = StrategyName::parse("versioned/gate").unwrap();
    let started = sandbox.root.path().join("started");
    let release = sandbox.root.path().join("release");
    let params = serde_json::json!({"started": started, "release": release}).to_string();

    let in_flight = {
        let (dispatcher, gate, params) = (Arc::clone(&dispatcher), gate.clone(), params.clone());
        tokio::spawn(async move {
            dispatcher
                .place(Some(&gate), &params, Arc::new(small_request()))
                .await
        })
    };
    // Wait until the plugin says the call is running (the plugin writes the file).
    let mut waited = 0;
    while !started.exists() {
        assert!(waited < 30_000, "the gated call never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
        waited += 5;
    }
    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    dispatcher
        .registry()
        .reload()
        .await
        .expect("reload succeeds");
    std::fs::write(&release, b"go").unwrap();
    let old = in_flight.await.unwrap();
    assert_eq!(old.record.error, None);
    assert_eq!(version_of(&old.record.reasons), "1.0.0");
    std::fs::remove_file(&started).unwrap();
    let new = dispatcher
        .place(Some(&gate), &params, Arc::new(small_request()))
        .await;
    assert_eq!(version_of(&new.record.reasons), "2.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_redrop_maps_no_new_image() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    sandbox.install("smo_default_lp", "default-lp.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let echo = StrategyName::parse("versioned/echo").unwrap();
    dispatcher
        .place(Some(&echo), "{}", Arc::new(small_request()))
        .await;
    let before = dispatcher.registry().status();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let report = dispatcher.registry().reload().await.unwrap();
    assert!(
        report.updated.is_empty() && report.added.is_empty(),
        "{report:?}"
    );
    let after = dispatcher.registry().status();
    let sha = |s: &smo_plugin_host::registry::RegistryStatus| {
        s.plugins
            .iter()
            .find(|p| p.name == "versioned")
            .unwrap()
            .sha256
            .clone()
    };
    assert_eq!(sha(&before), sha(&after));
    assert_eq!(
        after
            .plugins
            .iter()
            .find(|p| p.name == "versioned")
            .unwrap()
            .state,
        "active"
    );
    assert_eq!(after.generation, before.generation + 1);
}
