//! Each shipped plugin, loaded from its compiled `.so`: it is listed with its metadata and
//! every placement strategy it offers answers a small fixed input.

use smo_host::plugins::StrategyName;
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
            assert_eq!(record.error, None, "{name}");
            assert_eq!(record.fallback_reason, None, "{name}");
            assert_eq!(record.strategy, name.to_string());
            assert_eq!(record.plugin_version.as_deref(), Some(p.version.as_str()));
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
            assert!(!record.reasons.is_empty(), "{name} gave no reasons");
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
async fn migration_strategy_answers_and_unknown_names_are_explained() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    sandbox.install("smo_default_lp", "default-lp.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let req = small_request();
    let placement = dispatcher.place(None, "{}", Arc::new(req.clone())).await;
    assert_eq!(placement.strategy, "default-lp/placement");
    let current = placement.decision.expect("default placement").placement;
    let migration = smo_plugin_api::MigrationRequest {
        graph: req.graph.clone(),
        clusters: req.clusters.clone(),
        current,
        telemetry: req.telemetry.clone(),
        extra: "{}".into(),
    };
    let name = StrategyName::parse("sbmp-gma/offload").unwrap();
    let record = dispatcher
        .migrate(Some(&name), "{}", Arc::new(migration))
        .await;
    assert_eq!(record.error, None);
    assert!(record.decision.is_some());

    let missing = StrategyName::parse("nope/placement").unwrap();
    let record = dispatcher.place(Some(&missing), "{}", Arc::new(req)).await;
    let reason = record.fallback_reason.expect("fell back");
    assert!(reason.contains("no plugin named `nope`"), "{reason}");
    assert_eq!(record.strategy, "default-lp/placement");
    assert!(record.decision.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_plugin_loads_and_honours_its_parameters() {
    let sandbox = Sandbox::new();
    sandbox.install("hello_strategy", "hello.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let name = StrategyName::parse("hello/most-free").unwrap();
    let mut request = small_request();
    // Without the GPU service, everything fits on an edge cluster.
    request.graph.services = request
        .graph
        .services
        .into_iter()
        .filter(|s| s.demand.gpu == 0)
        .collect();
    let request = Arc::new(request);
    let record = dispatcher
        .place(Some(&name), r#"{"role": "edge"}"#, Arc::clone(&request))
        .await;
    assert_eq!(record.error, None);
    let placement = record.decision.unwrap().placement;
    assert!(placement.assignments.iter().all(|a| a.cluster == "edge-1"));
    let record = dispatcher
        .place(Some(&name), r#"{"role": "moon"}"#, request)
        .await;
    let reason = record.fallback_reason.expect("bad parameters are refused");
    assert!(reason.contains("moon"), "{reason}");
}
