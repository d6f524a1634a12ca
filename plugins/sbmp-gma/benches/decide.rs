//! Offload decision time of `sbmp-gma/offload` on seeded random DAG applications of 10, 50, 120
//! and 500 services (research-note setup), through `Migration::plan` (parsing included).
//!
//! `cargo bench -p smo-plugin-sbmp-gma --bench decide`; the figures and the cost of each
//! solution are printed once per size before the timing.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use smo_plugin_api::sdk::Migration;
use smo_sbmp_gma::synth::{self, Spec};
use smo_sbmp_gma::Offload;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [10, 50, 120, 500];
const SEED: u64 = 150_273;

/// The app of size `n` and a required decrease of half its cloud-only network delay.
fn request(n: usize) -> smo_plugin_api::MigrationRequest {
    let app = synth::app(&Spec::new(n, SEED + n as u64));
    let probe = Offload::new("{}").expect("default parameters");
    let (_, plan) = probe.decide(&app).expect("probe");
    let half_ms = plan.before.eval.delay_s * 1000.0 / 2.0;
    synth::with_required_decrease(app, half_ms)
}

fn configs() -> [(&'static str, &'static str); 2] {
    [
        ("default", r#"{"stopMultiplier": 1.0}"#),
        (
            "plain-sbmp",
            r#"{"stopMultiplier": 1.0, "cheapestFinisher": false, "refineBudget": 0}"#,
        ),
    ]
}

fn report() {
    for n in SIZES {
        let req = request(n);
        for (label, params) in configs() {
            let s = Offload::new(params).expect("parameters");
            let t = Instant::now();
            let (_, plan) = s.decide(&req).expect("decision");
            let took = t.elapsed();
            let (b, a) = (plan.before.eval, plan.after.eval);
            eprintln!(
                "n={n:3} {label:10}: {:8.2} ms | delay {:6.1} -> {:6.1} ms (required -{:.1}) | cost {:8.2} -> {:8.2} $/h (+{:.2}) | {} services at the edge | {} rounds, {} candidates, {} distinct sets",
                took.as_secs_f64() * 1000.0,
                b.delay_s * 1000.0,
                a.delay_s * 1000.0,
                plan.required_decrease_ms,
                b.cost.total(),
                a.cost.total(),
                a.cost.total() - b.cost.total(),
                plan.edge.len() - 1,
                plan.rounds,
                plan.candidates_seen,
                plan.evaluations,
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    report();
    let mut g = c.benchmark_group("sbmp_offload_decision");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let req = request(n);
        for (label, params) in configs() {
            let s = Offload::new(params).expect("parameters");
            g.bench_with_input(BenchmarkId::new(label, n), &req, |b, req| {
                b.iter(|| black_box(s.plan(black_box(req)).expect("decision")))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
