//! Placement solve time of `h3ni-energy/placement` (MILP on HiGHS, and greedy) for 50/200
//! services x 5/20 clusters, fit+predict time of the forecasters on 7 days of 15-min data, and
//! one `h3ni-energy/predictive` call (3 services with a full history each).
//!
//! `cargo bench -p smo-plugin-h3ni-energy --bench h3ni` (short settings: 10 samples, 2 s).

use criterion::{criterion_group, criterion_main, Criterion};
use smo_h3ni_energy::forecast::{autoregression, holt_winters, HwParams};
use smo_h3ni_energy::params::{PlacementParams, ScalingParams};
use smo_h3ni_energy::{EnergyPlacement, Predictive};
use smo_plugin_api::prelude::*;
use std::hint::black_box;
use std::time::Duration;

/// Deterministic pseudo-random numbers in 0..1 (an LCG: benches need no statistics).
fn rng(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

fn request(services: usize, clusters: usize) -> PlacementRequest {
    let mut s = 7u64;
    let clusters: Vec<Cluster> = (0..clusters)
        .map(|j| {
            let cores = 64.0 + 64.0 * (j % 4) as f64;
            Cluster {
                name: format!("c{j}").into(),
                role: ClusterRole::Cloud,
                location: Location::default(),
                capacity: Resources::new(cores, cores * 4096.0, 0),
                available: Resources::new(cores, cores * 4096.0, 0),
                energy: EnergyProfile {
                    pue: 1.1 + 0.4 * rng(&mut s),
                    carbon_intensity_g_per_kwh: 20.0 + 400.0 * rng(&mut s),
                    renewable_supply_kw: 2.0 * rng(&mut s),
                    peak_power_w: cores * (4.0 + 8.0 * rng(&mut s)),
                    ..EnergyProfile::default()
                },
                prices: Prices::default(),
                labels: RVec::new(),
                extra: RString::from("{}"),
            }
        })
        .collect();
    let total: f64 = clusters.iter().map(|c| c.capacity.cpu).sum();
    let services: Vec<Service> = (0..services)
        .map(|i| Service {
            name: format!("s{i}").into(),
            demand: Resources::new(
                (0.5 + 3.5 * rng(&mut s)) * total / 2.0 / 2.25 / services as f64,
                1024.0,
                0,
            ),
            replicas: 1,
            scaling: ScalingProfile::default(),
            dependencies: RVec::new(),
            allowed_clusters: RVec::new(),
            labels: RVec::new(),
            extra: RString::new(),
        })
        .collect();
    PlacementRequest {
        graph: Graph {
            name: "bench".into(),
            services: services.into(),
        },
        clusters: clusters.into(),
        current: ROption::RNone,
        telemetry: Telemetry::default(),
        extra: RString::new(),
    }
}

fn placement(c: &mut Criterion) {
    for (n, m) in [(50, 5), (50, 20), (200, 5), (200, 20)] {
        let req = request(n, m);
        for (label, max_pairs) in [("milp", usize::MAX), ("greedy", 0)] {
            let p = EnergyPlacement::new(PlacementParams {
                milp_max_pairs: max_pairs,
                ..PlacementParams::default()
            });
            let d = p.place(&req).expect("placed");
            println!(
                "{label} {n}x{m}: {} placed, objective {:.1}",
                d.placement.assignments.len(),
                d.objective.into_option().unwrap_or(f64::NAN)
            );
            c.bench_function(&format!("place/{label}/{n}x{m}"), |b| {
                b.iter(|| p.place(black_box(&req)))
            });
        }
    }
}

fn forecasters(c: &mut Criterion) {
    let y: Vec<f64> = (0..7 * 96)
        .map(|t| 200.0 + 100.0 * (t as f64 * std::f64::consts::TAU / 96.0).sin())
        .collect();
    let hw = HwParams {
        alpha: 0.5,
        beta: 0.01,
        gamma: 0.3,
    };
    c.bench_function("forecast/holt-winters/672", |b| {
        b.iter(|| holt_winters(black_box(&y), 96, hw, 4))
    });
    c.bench_function("forecast/autoregression-p3-w48/672", |b| {
        b.iter(|| autoregression(black_box(&y), 3, 48, 4))
    });
}

/// One scaling call of the predictive strategy, in steady state: 3 services on one cluster, each
/// with a full history (`max_history`, 4096 15-minute samples; every model fitted, the margin
/// from recent errors); also with `slo_margin` (processing time read back, SLO replicas).
fn predictive_call(c: &mut Criterion) {
    predictive_bench(
        c,
        "scale/predictive/3-services-4096",
        ScalingParams::default(),
    );
    let slo_aware = ScalingParams {
        slo_margin: Some(1.0),
        ..ScalingParams::default()
    };
    predictive_bench(c, "scale/predictive-slo/3-services-4096", slo_aware);
}

fn predictive_bench(c: &mut Criterion, name: &str, params: ScalingParams) {
    let mut req = request(3, 1);
    let mut cluster = req.clusters[0].clone();
    cluster.extra = r#"{"processing_ms": 2, "slo_ms": 30}"#.into();
    for svc in req.graph.services.iter_mut() {
        svc.scaling = ScalingProfile {
            alpha: 20.0,
            beta: 0.0,
            min_replicas: 1,
            max_replicas: 50,
        };
    }
    let placement = smo_plugin_api::Placement {
        assignments: req
            .graph
            .services
            .iter()
            .map(|s| Assignment {
                service: s.name.clone(),
                cluster: cluster.name.clone(),
                replicas: 1,
            })
            .collect(),
    };
    let strategy = Predictive::new(params);
    let call = |t: i64| {
        let rate = 200.0 + 100.0 * (t as f64 * std::f64::consts::TAU / 96.0).sin();
        let loads = req
            .graph
            .services
            .iter()
            .map(|s| ServiceLoad {
                service: s.name.clone(),
                current_rps: rate,
                predicted_rps: 0.0,
                cpu_utilisation: 0.5,
                memory_utilisation: 0.0,
                response_time_ms: 12.0,
            })
            .collect();
        let r = ScalingRequest {
            graph: req.graph.clone(),
            cluster: cluster.clone(),
            placement: placement.clone(),
            telemetry: Telemetry {
                time_unix_s: t * 900,
                loads,
                ..Telemetry::default()
            },
            extra: RString::new(),
        };
        strategy.scale(&r).map(|d| d.replicas.len()).unwrap_or(0)
    };
    let history = ScalingParams::default().max_history as i64;
    let mut t = 0;
    while t < history {
        call(t);
        t += 1;
    }
    c.bench_function(name, |b| {
        b.iter(|| {
            t += 1;
            black_box(call(t))
        })
    });
}

fn short() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = short(); targets = placement, forecasters, predictive_call }
criterion_main!(benches);
