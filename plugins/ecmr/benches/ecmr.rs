//! Benchmarks: the heuristic over 10,000 VM arrivals in 24 h (5 and 50 datacenters of 100
//! servers, 5-minute slots, releases and queue included), and the MILP per batch of 20/50/100 VMs
//! on 5 and 50 datacenters, exact and with pooled off servers.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use smo_ecmr::dispatcher::Dispatcher;
use smo_ecmr::heuristic::{dispatch, Outcome};
use smo_ecmr::milp;
use smo_ecmr::objective::evaluate;
use smo_ecmr::params::{HeuristicParams, MilpParams};
use smo_ecmr::repair::{replay, Fix};
use smo_ecmr::request::{Batch, Vm};
use smo_ecmr::site::{Server, ServerType, Site};
use smo_plugin_api::Resources;
use std::time::Duration;

/// SplitMix64, so the workload is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Miao et al. Table 3-4 server types, a third each.
fn types() -> Vec<ServerType> {
    vec![
        ServerType {
            cores: 16.0,
            memory_mib: 24.0 * 1024.0,
            gpus: 0,
            curve_w: vec![
                51.0, 72.5, 81.9, 92.0, 101.0, 114.0, 133.0, 154.0, 178.0, 218.0, 241.0,
            ],
        },
        ServerType {
            cores: 40.0,
            memory_mib: 64.0 * 1024.0,
            gpus: 0,
            curve_w: vec![
                43.5, 83.7, 101.0, 117.0, 131.0, 145.0, 164.0, 187.0, 228.0, 277.0, 329.0,
            ],
        },
        ServerType {
            cores: 96.0,
            memory_mib: 192.0 * 1024.0,
            gpus: 0,
            curve_w: vec![
                63.2, 124.0, 145.0, 166.0, 186.0, 206.0, 227.0, 244.0, 280.0, 308.0, 351.0,
            ],
        },
    ]
}

fn sites(n: usize, rng: &mut Rng) -> Vec<Site> {
    (0..n)
        .map(|j| {
            let types = types();
            let servers: Vec<Server> = (0..100)
                .map(|i| Server {
                    kind: i % 3,
                    ..Server::default()
                })
                .collect();
            let cap = servers.iter().fold(Resources::default(), |a, s| {
                let t = &types[s.kind];
                Resources::new(a.cpu + t.cores, a.memory_mib + t.memory_mib, 0)
            });
            Site {
                name: format!("dc-{j}"),
                lat: 0.0,
                lon: 0.0,
                pue: 1.1 + 0.1 * rng.unit(),
                carbon_g_per_kwh: 20.0 + 400.0 * rng.unit(),
                grid_renewable_share: rng.unit(),
                renewable_w: 20_000.0 * rng.unit(),
                idle_on: false,
                types,
                servers,
                idle_w: 0.0,
                peak_w: 0.0,
                capacity: cap,
                free: cap,
            }
        })
        .collect()
}

fn vm(i: usize, rng: &mut Rng) -> Vm {
    let cpu = [1.0, 2.0, 4.0, 8.0][(rng.next() % 4) as usize];
    Vm {
        name: format!("vm-{i}"),
        demand: Resources::new(cpu, cpu * 1792.0, 0),
        user: "u".into(),
        duration_s: 300.0 + 21_300.0 * rng.unit(),
    }
}

/// 10,000 arrivals over 288 five-minute slots, supply changing every hour.
fn run_day(n_sites: usize) -> u64 {
    let mut rng = Rng(42);
    let s = sites(n_sites, &mut rng);
    let latency = (0..n_sites).map(|j| 2.0 + 0.5 * j as f64).collect();
    let mut d = Dispatcher::new(s, latency, HeuristicParams::default());
    let mut id = 0;
    for k in 0..288 {
        if k % 12 == 0 {
            for j in 0..n_sites {
                let w = 20_000.0 * rng.unit();
                d.set_supply_w(j, w);
            }
        }
        let n = 10_000 * (k + 1) / 288 - 10_000 * k / 288;
        let arrivals = (0..n).map(|_| {
            id += 1;
            vm(id, &mut rng)
        });
        d.step(k as f64 * 300.0, arrivals.collect());
    }
    d.stats.placed
}

fn heuristic(c: &mut Criterion) {
    let mut g = c.benchmark_group("heuristic_10k_vms_24h");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for n in [5usize, 50] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| run_day(n))
        });
    }
    g.finish();
}

fn milp_batch(n_sites: usize, n: usize) -> Batch {
    let mut rng = Rng(7);
    let s = sites(n_sites, &mut rng);
    let vms: Vec<Vm> = (0..n).map(|i| vm(i, &mut rng)).collect();
    let latency_ms = vms
        .iter()
        .map(|_| {
            (0..n_sites)
                .map(|j| Some(2.0 + 5.0 * (j % 6) as f64))
                .collect()
        })
        .collect();
    Batch {
        vms,
        sites: s,
        latency_ms,
    }
}

fn milp_batches(c: &mut Criterion) {
    for (mode, pool) in [("exact", false), ("pooled", true)] {
        for n_sites in [5usize, 50] {
            let mut g = c.benchmark_group(format!("milp_{mode}_{n_sites}dc_100_servers"));
            g.sample_size(10)
                .measurement_time(Duration::from_secs(3))
                .warm_up_time(Duration::from_millis(200));
            for n in [20usize, 50, 100] {
                let batch = milp_batch(n_sites, n);
                let p = MilpParams {
                    max_batch: 1000,
                    pool_off_servers: pool,
                    ..MilpParams::default()
                };
                // One solve first, to print what criterion cannot: the status (and gap when
                // the time limit is hit) and the objective against the heuristic's.
                let started = std::time::Instant::now();
                match milp::solve(&batch, &p) {
                    Ok(s) => {
                        let secs = started.elapsed().as_secs_f64();
                        let m = evaluate(&batch, &s.assign, &p.weights);
                        let mut hb = batch.clone();
                        let hp = HeuristicParams::default();
                        let h: Vec<_> = dispatch(&mut hb, &hp)
                            .0
                            .iter()
                            .map(|o| match o {
                                Outcome::Placed { site, server, .. } => Some((*site, *server)),
                                Outcome::Unplaced => None,
                            })
                            .collect();
                        let h = evaluate(&batch, &h, &p.weights);
                        let fixes = replay(&batch, &s.assign, p.latency_threshold_ms, &p.weights);
                        let applied: Vec<_> = fixes.iter().map(Fix::placed).collect();
                        let a = evaluate(&batch, &applied, &p.weights);
                        eprintln!(
                            "milp {mode} {n_sites} DCs, {n} VMs: {secs:.3} s, {} ({} columns, \
                             {} rows), objective {m:.4} ({a:.4} as MESF applies it), \
                             heuristic {h:.4}",
                            s.status, s.columns, s.rows
                        )
                    }
                    Err(e) => eprintln!("milp {mode} {n_sites} DCs, {n} VMs: error {e:?}"),
                }
                // The exact model at 50 DCs runs into the time limit at every size: ten samples
                // of 5-15 s each would only measure the limit, so it is solved once (above).
                if pool || n_sites == 5 {
                    g.bench_with_input(BenchmarkId::from_parameter(n), &batch, |b, batch| {
                        b.iter(|| milp::solve(batch, &p).map(|s| s.status))
                    });
                }
            }
            g.finish();
        }
    }
}

criterion_group!(benches, heuristic, milp_batches);
criterion_main!(benches);
