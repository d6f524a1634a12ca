//! Placement solve time of `h3ni-energy/placement` (MILP on HiGHS, and greedy) for 50/200
//! services x 5/20 clusters, fit+predict time of the forecasters on 7 days of 15-min data, and
//! one `h3ni-energy/predictive` call (3 services with a full history each), and one
//! `h3ni-energy/repack` call (about 600 running VMs on 5 clusters of 30 servers).
//!
//! Also `place/sim-10k-vms-5dc-24h`: `scenarios/eu-5dc-24h.yaml` with 10,000 VMs instead of
//! 3,000 run through the simulator with `h3ni-energy/placement` in-process (every decision of
//! the day, about 350 calls; the goal is under 1 s).
//!
//! `cargo bench -p smo-plugin-h3ni-energy --bench h3ni` (short settings: 10 samples, 2 s;
//! `-- sim-10k` for the day alone).

use criterion::{criterion_group, criterion_main, Criterion};
use smo_h3ni_energy::forecast::{autoregression, holt_winters, HwParams};
use smo_h3ni_energy::params::{PlacementParams, ScalingParams};
use smo_h3ni_energy::repack::RepackParams;
use smo_h3ni_energy::{EnergyPlacement, Predictive, Repack};
use smo_plugin_api::prelude::*;
use smo_sim::{simulate, DriverError, Scenario, StrategyDriver};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// `h3ni-energy/placement` called in-process, as `smo simulate` calls the plugin (`replace`
/// for a re-placement); no other strategy.
struct InProcess(EnergyPlacement);

impl StrategyDriver for InProcess {
    fn place(
        &self,
        _strategy: &str,
        req: &Arc<PlacementRequest>,
    ) -> Result<(PlacementDecision, Duration), DriverError> {
        let t0 = Instant::now();
        let d = match req.current {
            ROption::RSome(_) => self.0.replace(req),
            ROption::RNone => self.0.place(req),
        };
        let d = d.map_err(|e| match e.kind {
            ErrorKind::INFEASIBLE => DriverError::Infeasible(e.message.to_string()),
            _ => DriverError::Failed(e.message.to_string()),
        })?;
        Ok((d, t0.elapsed()))
    }

    fn scale(
        &self,
        strategy: &str,
        _req: &Arc<ScalingRequest>,
    ) -> Result<(ScalingDecision, Duration), DriverError> {
        Err(DriverError::UnknownStrategy(strategy.into()))
    }

    fn migrate(
        &self,
        strategy: &str,
        _req: &Arc<MigrationRequest>,
    ) -> Result<(MigrationDecision, Duration), DriverError> {
        Err(DriverError::UnknownStrategy(strategy.into()))
    }
}

/// The day of eu-5dc-24h with 10,000 VMs, placed by `h3ni-energy/placement`.
fn sim_10k(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let text = std::fs::read_to_string(dir.join("eu-5dc-24h.yaml"))
        .unwrap_or_else(|e| panic!("scenarios/eu-5dc-24h.yaml: {e}"));
    let scenario = Scenario::from_yaml(&text.replace("count: 3000", "count: 10000"), &dir)
        .unwrap_or_else(|e| panic!("{e}"));
    let strategy = "h3ni-energy/placement";
    let run = |driver: &InProcess| {
        simulate(&scenario, strategy, driver, None).unwrap_or_else(|e| panic!("{e}"))
    };
    let driver = InProcess(EnergyPlacement::new(PlacementParams::default()));
    let t = run(&driver).totals;
    println!(
        "sim-10k-vms-5dc-24h: {} VMs, {:.2} kWh, {:.3} kg, failure rate {:.2} %",
        t.vm_requests,
        t.energy_kwh,
        t.carbon_kg,
        t.failure_rate * 100.0
    );
    let mut g = c.benchmark_group("place");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(20));
    g.bench_function("sim-10k-vms-5dc-24h", |b| {
        // A new strategy each run: its held room starts empty, as in `smo simulate`.
        b.iter(|| run(&InProcess(EnergyPlacement::new(PlacementParams::default()))))
    });
    g.finish();
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

/// Up to 1,000 VMs (1-8 cores, 1-2 GiB a core, 0.1-12 h left) first-fit on 5 clusters of 30
/// servers of eu-5dc-7d's three models, 40 % of them then gone: the holes a re-pack fills.
fn repack_request() -> MigrationRequest {
    let mut s = 11u64;
    let models = [
        (16.0, 24.0, "[51,72.5,81.9,92,101,114,133,154,178,218,241]"),
        (
            40.0,
            64.0,
            "[43.5,83.7,101,117,131,145,164,187,228,277,329]",
        ),
        (
            96.0,
            192.0,
            "[63.2,124,145,166,186,206,227,244,280,308,351]",
        ),
    ];
    let types: Vec<String> = models
        .iter()
        .map(|(c, m, curve)| {
            format!(
                r#"{{"cores":{c},"memory_mib":{},"curve_w":{curve}}}"#,
                m * 1024.0
            )
        })
        .collect();
    let (mut services, mut current, mut clusters) = (Vec::new(), Vec::new(), Vec::new());
    for j in 0..5 {
        let kinds: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let mut used: Vec<(f64, f64)> = vec![(0.0, 0.0); 30];
        let mut placed = Vec::new();
        for v in 0..200 {
            let cpu = (1.0 + 7.0 * rng(&mut s)).floor();
            let mem = cpu * 1024.0 * (1.0 + 2.0 * rng(&mut s)).floor();
            let Some(i) = (0..30).find(|&i| {
                let (c, m, _) = models[kinds[i]];
                used[i].0 + cpu <= c && used[i].1 + mem <= m * 1024.0
            }) else {
                continue;
            };
            used[i].0 += cpu;
            used[i].1 += mem;
            placed.push((v, i, cpu, mem));
        }
        for (v, i, cpu, mem) in placed {
            if rng(&mut s) < 0.4 {
                // Ended: leaves a hole.
                used[i].0 -= cpu;
                used[i].1 -= mem;
                continue;
            }
            let name = RString::from(format!("vm-{j}-{v}"));
            services.push(Service {
                name: name.clone(),
                demand: Resources::new(cpu, mem, 0),
                replicas: 1,
                scaling: ScalingProfile::default(),
                dependencies: RVec::new(),
                allowed_clusters: RVec::new(),
                labels: RVec::new(),
                extra: format!(
                    r#"{{"duration_s":86400,"remaining_s":{},"server":{i}}}"#,
                    (0.1 + 11.9 * rng(&mut s)) * 3600.0
                )
                .into(),
            });
            current.push(Assignment {
                service: name,
                cluster: format!("c{j}").into(),
                replicas: 1,
            });
        }
        let rows: Vec<String> = (0..30)
            .map(|i| {
                let (c, _, curve) = models[kinds[i]];
                let w = if used[i].0 > 0.0 {
                    curve_w(curve, used[i].0 / c)
                } else {
                    0.0
                };
                format!(
                    "[{},{},{},0,{},{w}]",
                    kinds[i], used[i].0, used[i].1, used[i].0
                )
            })
            .collect();
        clusters.push(Cluster {
            name: format!("c{j}").into(),
            role: ClusterRole::Cloud,
            location: Location::default(),
            capacity: Resources::new(1520.0, 2_867_200.0, 0),
            available: Resources::new(760.0, 1_433_600.0, 0),
            energy: EnergyProfile::default(),
            prices: Prices::default(),
            labels: RVec::new(),
            extra: format!(
                r#"{{"server_detail":{{"idle_on":false,"types":[{}],"servers":[{}]}}}}"#,
                types.join(","),
                rows.join(",")
            )
            .into(),
        });
    }
    MigrationRequest {
        graph: Graph {
            name: "vms".into(),
            services: services.into(),
        },
        clusters: clusters.into(),
        current: smo_plugin_api::Placement {
            assignments: current.into(),
        },
        telemetry: Telemetry::default(),
        extra: r#"{"vms":true,"copy_wh_per_gib":10}"#.into(),
    }
}

/// The draw at utilisation `u` of a SPECpower curve given as a JSON list of 11 points.
fn curve_w(curve: &str, u: f64) -> f64 {
    let points: Vec<f64> = serde_json::from_str(curve).unwrap_or_default();
    let x = u.clamp(0.0, 1.0) * 10.0;
    let i = (x.floor() as usize).min(9);
    points[i] + (points[i + 1] - points[i]) * (x - i as f64)
}

fn repack_call(c: &mut Criterion) {
    let req = repack_request();
    let strategy = Repack::new(RepackParams::default());
    let moves = strategy.plan(&req).map(|d| d.moves.len()).unwrap_or(0);
    assert!(
        moves > 0,
        "the bench instance has holes to fill: {:?}",
        strategy.plan(&req).map(|d| d.reasons)
    );
    c.bench_function(
        &format!("repack/{}vms-5x30/{moves}moves", req.graph.services.len()),
        |b| b.iter(|| black_box(strategy.plan(&req).map(|d| d.moves.len()))),
    );
}

fn short() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = short(); targets = placement, sim_10k, forecasters, predictive_call, repack_call }
criterion_main!(benches);
