//! Each shipped plugin, loaded from its compiled `.so`: it is listed with its metadata and
//! every placement strategy it offers answers a small fixed input.

use smo_plugin_host::StrategyName;
use smo_tests::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_plugin_loads_is_listed_and_places() {
    let sandbox = Sandbox::new();
    for lib in SHIPPED {
        sandbox.install(lib, &format!("{lib}.so"));
    }
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let status = dispatcher.registry().status();
    let names: BTreeSet<&str> = status.plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["default-lp", "ecmr", "h3ni-energy", "sbmp-gma"]),
        "rejected: {:?}",
        status.rejected
    );
    assert!(status.rejected.is_empty());
    for p in &status.plugins {
        assert_eq!(p.api_version, smo_plugin_api::API_VERSION, "{}", p.name);
        assert!(!p.strategies.is_empty(), "{} offers no strategy", p.name);
        assert_eq!(p.state, "ready", "{} loaded before first use", p.name);
    }

    let request = Arc::new(small_request());
    let mut placed = 0;
    for p in &status.plugins {
        for s in p.strategies.iter().filter(|s| s.kind == "placement") {
            let name = StrategyName::parse(&format!("{}/{}", p.name, s.name)).unwrap();
            let record = dispatcher
                .place(Some(&name), "{}", Arc::clone(&request))
                .await;
            assert_eq!(record.record.error, None, "{name}");
            assert_eq!(record.record.fallback_reason, None, "{name}");
            assert_eq!(record.record.strategy, name.to_string());
            assert_eq!(
                record.record.plugin_version.as_deref(),
                Some(p.version.as_str())
            );
            let decision = record.decision.expect("a decision");
            let services: BTreeSet<String> = decision
                .placement
                .assignments
                .iter()
                .map(|a| a.service.to_string())
                .collect();
            assert_eq!(
                services,
                BTreeSet::from(["db".to_string(), "frontend".into(), "inference".into()]),
                "{name} did not place every service"
            );
            // The GPU service can only go to the one GPU cluster.
            assert_eq!(
                decision.placement.cluster_of("inference"),
                Some("cloud-gpu"),
                "{name}"
            );
            assert!(!record.record.reasons.is_empty(), "{name} gave no reasons");
            placed += 1;
        }
    }
    assert!(placed >= 3, "only {placed} placement strategies answered");
    let after = dispatcher.registry().status();
    for p in after.plugins.iter().filter(|p| p.name != "sbmp-gma") {
        assert_eq!(p.state, "active", "{} not loaded after use", p.name);
        assert!(p.stats.calls >= 1);
        assert_eq!(p.stats.errors + p.stats.panics + p.stats.timeouts, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_cluster_figures_are_an_answer_not_a_malfunction() {
    // Issue 27 (4): a PUE of 1e308 once made ecmr/milp's model one HiGHS rejects, an internal
    // error counted toward quarantine, so after three such requests ecmr/milp was quarantined
    // for every graph. Now it answers invalid_input naming the cluster, as often as asked.
    let sandbox = Sandbox::new();
    sandbox.install("smo_ecmr", "ecmr.so");
    sandbox.install("smo_default_lp", "default-lp.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let milp = StrategyName::parse("ecmr/milp").unwrap();
    let mut absurd = small_request();
    absurd.clusters[2].energy.pue = 1e308;
    let absurd = Arc::new(absurd);
    for _ in 0..5 {
        let record = dispatcher
            .place(Some(&milp), "{}", Arc::clone(&absurd))
            .await;
        let reason = record.record.fallback_reason.expect("fell back");
        assert!(reason.contains("failed (invalid_input)"), "{reason}");
        assert!(
            reason.contains("cluster `cloud-2`: facility power at full load +inf W"),
            "{reason}"
        );
        assert_eq!(record.record.strategy, "default-lp/placement");
        assert!(record.decision.is_some(), "the default strategy decided");
    }
    // Not quarantined: a normal request is still decided by ecmr/milp itself.
    let record = dispatcher
        .place(Some(&milp), "{}", Arc::new(small_request()))
        .await;
    assert_eq!(record.record.error, None);
    assert_eq!(record.record.fallback_reason, None);
    assert_eq!(record.record.strategy, "ecmr/milp");
    let decision = record.decision.expect("a decision");
    assert_eq!(decision.placement.assignments.len(), 3);
    let ecmr = dispatcher
        .registry()
        .status()
        .plugins
        .into_iter()
        .find(|p| p.name == "ecmr")
        .expect("ecmr listed");
    assert_eq!(ecmr.stats.calls, 6);
    assert_eq!(ecmr.stats.errors, 5);
    assert_eq!(ecmr.stats.panics, 0);
    assert!(
        ecmr.stats.quarantined.is_empty(),
        "{:?}",
        ecmr.stats.quarantined
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_strategy_answers_and_unknown_names_are_explained() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    sandbox.install("smo_default_lp", "default-lp.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    // Two services in the cloud, users at the edge, 40 ms between them.
    let mut req = small_request_without_gpu();
    req.clusters = req
        .clusters
        .into_iter()
        .filter(|c| c.name != "cloud-2")
        .collect();
    let placement = dispatcher.place(None, "{}", Arc::new(req.clone())).await;
    assert_eq!(placement.record.strategy, "default-lp/placement");
    assert!(placement.decision.is_some());
    let in_cloud = |service: &str| smo_plugin_api::Assignment {
        service: service.into(),
        cluster: "cloud-gpu".into(),
        replicas: 1,
    };
    let call = |from: &str, to: &str, rps: f64, bytes: f64| smo_plugin_api::CallRate {
        from: from.into(),
        to: to.into(),
        rps,
        mean_response_bytes: bytes,
    };
    let load = |service: &str| smo_plugin_api::ServiceLoad {
        service: service.into(),
        current_rps: 50.0,
        predicted_rps: 50.0,
        cpu_utilisation: 0.5,
        memory_utilisation: 0.5,
        response_time_ms: 0.0,
    };
    let migration = smo_plugin_api::MigrationRequest {
        graph: req.graph.clone(),
        clusters: req.clusters.clone(),
        current: smo_plugin_api::Placement {
            assignments: vec![in_cloud("frontend"), in_cloud("db")].into(),
        },
        telemetry: smo_plugin_api::Telemetry {
            time_unix_s: 0,
            loads: vec![load("frontend"), load("db")].into(),
            links: vec![smo_plugin_api::Link {
                from: "cloud-gpu".into(),
                to: "edge-1".into(),
                latency_ms: 40.0,
                bandwidth_mbps: 100.0,
            }]
            .into(),
            calls: vec![
                call("users", "frontend", 50.0, 20_000.0),
                call("frontend", "db", 100.0, 5_000.0),
            ]
            .into(),
        },
        extra: r#"{"requiredDecreaseMs": 30}"#.into(),
    };
    let name = StrategyName::parse("sbmp-gma/offload").unwrap();
    let record = dispatcher
        .migrate(Some(&name), "{}", Arc::new(migration))
        .await;
    assert_eq!(record.record.error, None);
    assert_eq!(record.record.fallback_reason, None);
    let moves = record.decision.expect("a decision").moves;
    assert!(
        !moves.is_empty(),
        "an offload was asked for: {:?}",
        record.record.reasons
    );
    for m in moves.iter() {
        assert_eq!(m.to.as_str(), "edge-1", "{m:?}");
        assert!(!m.reason.is_empty());
    }
    assert!(moves.iter().map(|m| m.expected_gain).sum::<f64>() > 0.0);

    let req = small_request();
    let missing = StrategyName::parse("nope/placement").unwrap();
    let record = dispatcher.place(Some(&missing), "{}", Arc::new(req)).await;
    let reason = record.record.fallback_reason.expect("fell back");
    assert!(reason.contains("no plugin named `nope`"), "{reason}");
    assert_eq!(record.record.strategy, "default-lp/placement");
    assert!(record.decision.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_plugin_loads_and_honours_its_parameters() {
    let sandbox = Sandbox::new();
    sandbox.install("hello_strategy", "hello.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let name = StrategyName::parse("hello/most-free").unwrap();
    // Without the GPU service, everything fits on an edge cluster.
    let request = Arc::new(small_request_without_gpu());
    let record = dispatcher
        .place(Some(&name), r#"{"role": "edge"}"#, Arc::clone(&request))
        .await;
    assert_eq!(record.record.error, None);
    let placement = record.decision.unwrap().placement;
    assert!(placement.assignments.iter().all(|a| a.cluster == "edge-1"));
    let record = dispatcher
        .place(Some(&name), r#"{"role": "moon"}"#, request)
        .await;
    let reason = record
        .record
        .fallback_reason
        .expect("bad parameters are refused");
    assert!(reason.contains("moon"), "{reason}");
}
