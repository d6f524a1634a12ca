//! Benchmarks of `smo simulate`'s start-up before the first step, on the reference
//! `scenarios/eu-5dc-24h.yaml` (its CSVs and the Azure trace):
//!
//! - `startup/eu_5dc_24h_load_parsed`: the scenario loaded with no cache, the trace parsed from
//!   its text (what every run did before the cache);
//! - `startup/eu_5dc_24h_load_cached`: the same with the trace read from its binary cache (what
//!   `smo simulate` does from the second run on; the key is the SHA-256 of the trace's files).
//!
//! The plugins' side of start-up (hashing and probing the plugins a run names) needs the
//! compiled plugins: measure it with `smo simulate ... --hours 1` (see docs/results.md).
//!
//! Run: `cargo bench -p smo-sim --bench startup`.

use criterion::{criterion_group, criterion_main, Criterion};
use smo_sim::Scenario;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/eu-5dc-24h.yaml")
}

fn bench(c: &mut Criterion) {
    let path = scenario();
    let cache = tempfile::tempdir().expect("temp dir");
    // Warm the cache once; every measured load then reads it.
    Scenario::load_cached(&path, Some(cache.path())).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("startup");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("eu_5dc_24h_load_parsed", |b| {
        b.iter(|| Scenario::load_cached(&path, None).unwrap_or_else(|e| panic!("{e}")))
    });
    g.bench_function("eu_5dc_24h_load_cached", |b| {
        b.iter(|| {
            Scenario::load_cached(&path, Some(cache.path())).unwrap_or_else(|e| panic!("{e}"))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
