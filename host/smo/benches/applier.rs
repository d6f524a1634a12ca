//! Benchmarks of the applier on the simulated continuum with 100 graphs of 10 services each,
//! stored in SQLite on disk: one reconcile of a graph already in step (observe, compare, read
//! the attempts), and one that applies a new generation (commit, apply, record the attempt,
//! observe again).
//!
//! Needs the default-lp plugin and the `smo` binary built in the profile's directory (`cargo
//! build --workspace` for `--profile dev`, `cargo build --release --workspace` for `cargo bench`).

use criterion::{criterion_group, criterion_main, Criterion};
use smo_core::graphs::parse_descriptor;
mod common;

use smo_host::engine::lifecycle::DeployMode;
use smo_host::store::Commit;
use std::time::Duration;

const GRAPHS: usize = 100;
const SERVICES: usize = 10;

/// Graph `g<i>` of [`SERVICES`] small services.
fn descriptor(i: usize) -> String {
    let mut doc = format!("hdaGraph:\n  id: g{i}\n  services:\n");
    for s in 0..SERVICES {
        doc.push_str(&format!(
            "    - id: s{s}\n      deployment:\n        intent:\n          compute: {{cpu: 100m, ram: 64Mi}}\n"
        ));
    }
    doc
}

/// The daemon with every graph deployed, applied and ready.
fn fixture() -> common::Daemon {
    let daemon = common::daemon(|config| {
        // Only the benchmark reconciles: no scaling rounds, no resync during the measurement.
        config.engine.scaling_period_ms = 3_600_000;
        config.applier.resync_ms = 3_600_000;
        config.applier.poll_ms = 3_600_000;
        config.backend.sim.ready_after_s = 0.0;
    });
    let engine = &daemon.app.engine;
    daemon.runtime.block_on(async {
        for i in 0..GRAPHS {
            let spec = parse_descriptor(&descriptor(i)).expect("descriptor");
            engine
                .deploy(spec, DeployMode::Create)
                .await
                .expect("deploys");
        }
        for i in 0..GRAPHS {
            let name = format!("g{i}");
            engine.reconcile(&name).await;
            let status = engine.status(&name).await.expect("status");
            assert_eq!(status.phase.as_str(), "ready", "{name}");
        }
    });
    daemon
}

fn bench(c: &mut Criterion) {
    let fixture = fixture();
    let engine = &fixture.app.engine;
    let mut group = c.benchmark_group("applier");
    group.measurement_time(Duration::from_secs(5));
    let mut next = 0usize;
    group.bench_function("reconcile_in_step_100x10", |b| {
        b.iter(|| {
            let name = format!("g{}", next % GRAPHS);
            next += 1;
            fixture.runtime.block_on(engine.reconcile(&name))
        })
    });
    group.bench_function("commit_and_apply_100x10", |b| {
        b.iter(|| {
            let name = format!("g{}", next % GRAPHS);
            next += 1;
            fixture.runtime.block_on(async {
                let store = engine.store();
                let placement = store.get_placement(&name).expect("placement");
                store
                    .commit(
                        &name,
                        &Commit {
                            placement: Some(&placement),
                            ..Commit::default()
                        },
                    )
                    .expect("commit");
                engine.reconcile(&name).await
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
