//! Criterion benchmark of the min-migration re-placement: 50 x 20, 500 x 100, 2000 x 200
//! (services x clusters). Prints the solver status and size of each instance once.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use smo_default_lp::replacement::replace;
use smo_default_lp::Params;
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let params = Params::default();
    let mut group = c.benchmark_group("replacement");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    for (services, clusters, seconds) in [(50, 20, 3), (500, 100, 5), (2000, 200, 60)] {
        let request = common::replacement_request(services, clusters, 42);
        match replace(&request, &params) {
            Ok(d) => eprintln!("replacement {services}x{clusters}: {}", d.extra),
            Err(e) => eprintln!("replacement {services}x{clusters}: error {e}"),
        }
        group.measurement_time(Duration::from_secs(seconds));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{services}x{clusters}")),
            &request,
            |b, request| b.iter(|| replace(black_box(request), &params)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
