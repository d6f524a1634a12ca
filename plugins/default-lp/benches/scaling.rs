//! Criterion benchmark of the replica program: 200 services on one cluster.
//! Prints the solver status once.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use smo_default_lp::scaling::scale;
use smo_default_lp::Params;
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let params = Params::default();
    let request = common::scaling_request(200, 7);
    match scale(&request, &params) {
        Ok(d) => eprintln!(
            "scaling 200 services: {} | {}",
            d.extra,
            d.reasons.last().map(|r| r.as_str()).unwrap_or("")
        ),
        Err(e) => eprintln!("scaling 200 services: error {e}"),
    }
    let mut group = c.benchmark_group("scaling");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("200-services-one-cluster", |b| {
        b.iter(|| scale(black_box(&request), &params))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
