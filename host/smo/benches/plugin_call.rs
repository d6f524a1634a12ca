//! Benchmarks of the plugin hot path: one placement call made directly in-process, through the
//! ABI (loaded `.so`), and through the full guard and dispatcher, with and without the metrics
//! the guard records for `/metrics` (and that recording alone); and reload latency.
//!
//! Needs the plugins built in the bench profile's directory: `cargo build --release --workspace`
//! (the README's bench command does it).

use criterion::{criterion_group, criterion_main, Criterion};
use smo_plugin_api::sdk::Placement;
use smo_plugin_api::*;
use smo_plugin_host::dispatch::DefaultStrategies;
use smo_plugin_host::metrics::CallMetrics;
use smo_plugin_host::stats::Outcome;
use smo_plugin_host::{
    loader, CallGuard, Dispatcher, GuardConfig, Registry, RegistryConfig, StrategyName,
};
use std::sync::Arc;
use std::time::Duration;

mod common;

fn request(services: usize, clusters: usize) -> PlacementRequest {
    common::request::placement(services, clusters, 64.0, 262_144.0)
}

fn plugin_call(c: &mut Criterion) {
    for (services, clusters) in [(1, 1), (20, 5)] {
        call_group(c, services, clusters);
    }
}

fn call_group(c: &mut Criterion, services: usize, clusters: usize) {
    let req = request(services, clusters);
    let mut group = c.benchmark_group(format!("placement_call_{services}x{clusters}"));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("direct_in_process", |b| {
        let s = smo_ecmr::Greenest;
        b.iter(|| {
            s.place(std::hint::black_box(&req))
                .map(|d| d.placement.assignments.len())
        })
    });

    let (image, _) = loader::load(&common::so("smo_ecmr")).expect("ecmr loads");
    let loader::LoadedImage::Rust(module) = image else {
        panic!("ecmr is a Rust plugin");
    };
    let strategy = (module.new_placement())("heuristic".into(), "{}".into())
        .into_result()
        .expect("strategy builds");
    let strategy = Arc::new(strategy);
    group.bench_function("through_abi", |b| {
        b.iter(|| {
            strategy
                .place(std::hint::black_box(&req))
                .into_result()
                .map(|d| d.placement.assignments.len())
        })
    });

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    std::fs::copy(common::so("smo_ecmr"), plugins.join("ecmr.so")).expect("install");
    let registry = runtime
        .block_on(Registry::open(RegistryConfig::new(
            &plugins,
            dir.path(),
            common::artifacts().join("smo"),
        )))
        .expect("registry");
    let registry = Arc::new(registry);
    let name = StrategyName::parse("ecmr/heuristic").expect("name");
    let shared = Arc::new(req.clone());
    // The same guard with and without the per-strategy counters and latency histogram that
    // `/metrics` reads: the difference is what recording a call costs.
    for (label, metrics) in [
        ("through_guard_and_dispatcher", true),
        ("through_guard_and_dispatcher_without_metrics", false),
    ] {
        let dispatcher = Dispatcher::new(
            Arc::clone(&registry),
            CallGuard::new(GuardConfig::default()).with_metrics(metrics),
            DefaultStrategies::default(),
        );
        group.bench_function(label, |b| {
            b.iter(|| {
                runtime
                    .block_on(dispatcher.place(Some(&name), "{}", Arc::clone(&shared)))
                    .record
                    .error
                    .is_none()
            })
        });
    }
    group.finish();
    hand_off_group(
        c,
        &format!("{services}x{clusters}"),
        &runtime,
        &registry,
        &strategy,
        &shared,
    );
}

/// The same ABI call handed to another thread and its answer awaited, three ways: on tokio's
/// blocking pool (how the guard ran calls before issue 31), on the plugin version's own worker
/// (awaiting the answer at once), and through the guard (its worker, then a short look for the
/// answer before awaiting it; with the permit, deadline and statistics).
fn hand_off_group(
    c: &mut Criterion,
    size: &str,
    runtime: &tokio::runtime::Runtime,
    registry: &Registry,
    strategy: &Arc<PlacementStrategyBox>,
    request: &Arc<PlacementRequest>,
) {
    let mut group = c.benchmark_group(format!("hand_off_{size}"));
    group.measurement_time(Duration::from_secs(3));
    let call = |strategy: &PlacementStrategyBox, request: &PlacementRequest| {
        strategy
            .place(request)
            .into_result()
            .map(|d| d.placement.assignments.len())
    };
    group.bench_function("spawn_blocking", |b| {
        b.iter(|| {
            let (strategy, request) = (Arc::clone(strategy), Arc::clone(request));
            runtime.block_on(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                let handle = tokio::task::spawn_blocking(move || call(&strategy, &request));
                tokio::time::timeout_at(deadline, handle).await
            })
        })
    });
    let workers = smo_plugin_host::guard::Workers::new("bench", 4);
    group.bench_function("plugin_worker", |b| {
        b.iter(|| {
            let (strategy, request) = (Arc::clone(strategy), Arc::clone(request));
            let (answer, answered) = tokio::sync::oneshot::channel();
            workers
                .submit(Box::new(move || {
                    let _ = answer.send(call(&strategy, &request));
                }))
                .expect("worker");
            runtime.block_on(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                tokio::time::timeout_at(deadline, answered).await
            })
        })
    });
    let entry = registry.entry("ecmr").expect("ecmr is active");
    let guard = CallGuard::new(GuardConfig::default());
    group.bench_function("call_guard", |b| {
        b.iter(|| {
            let (strategy, request) = (Arc::clone(strategy), Arc::clone(request));
            runtime.block_on(guard.run(&entry, "heuristic", move |_| {
                strategy
                    .place(&request)
                    .into_result()
                    .map(|d| d.placement.assignments.len())
            }))
        })
    });
    group.finish();
}

/// What the guard adds per call for `/metrics`: find the strategy's counters among the
/// plugin's and count the call (outcome and latency bucket).
fn metrics_recording(c: &mut Criterion) {
    let calls = CallMetrics::new([
        "heuristic",
        "heuristic-grid",
        "heuristic-paper",
        "milp",
        "nearest",
        "seed",
    ]);
    let mut group = c.benchmark_group("metrics_recording");
    let mut micros = 0u64;
    group.bench_function("record_one_call", |b| {
        b.iter(|| {
            micros = (micros + 7_919) % 2_000_000;
            if let Some(strategy) = calls.get(std::hint::black_box("nearest")) {
                strategy.record(Outcome::Ok, std::hint::black_box(micros));
            }
        })
    });
    group.finish();
}

fn reload_latency(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    let install = |lib: &str| {
        let tmp = plugins.join(".versioned.tmp");
        std::fs::copy(common::so(lib), &tmp).expect("copy");
        std::fs::rename(&tmp, plugins.join("versioned.so")).expect("rename");
    };
    install("smo_fixture_versioned");
    let registry = Arc::new(
        runtime
            .block_on(Registry::open(RegistryConfig::new(
                &plugins,
                dir.path(),
                common::artifacts().join("smo"),
            )))
            .expect("registry"),
    );
    let dispatcher = Dispatcher::new(
        Arc::clone(&registry),
        CallGuard::new(GuardConfig::default()),
        DefaultStrategies::default(),
    );
    let name = StrategyName::parse("versioned/echo").expect("name");
    let req = Arc::new(request(3, 2));
    let mut next_v2 = true;
    let mut group = c.benchmark_group("reload");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    // Alternating between two builds: each content is staged (and probed) once; later swaps reuse
    // the staged copies, so this measures rename -> reload -> first answer of the new version.
    group.bench_function("rename_reload_first_answer", |b| {
        b.iter(|| {
            let (lib, want) = if next_v2 {
                ("smo_fixture_versioned_v2", "2.0.0")
            } else {
                ("smo_fixture_versioned", "1.0.0")
            };
            next_v2 = !next_v2;
            install(lib);
            runtime.block_on(async {
                registry.reload().await.expect("reload");
                let r = dispatcher.place(Some(&name), "{}", Arc::clone(&req)).await;
                assert_eq!(r.record.plugin_version.as_deref(), Some(want));
            })
        })
    });
    group.finish();
}

criterion_group!(benches, plugin_call, metrics_recording, reload_latency);
criterion_main!(benches);
