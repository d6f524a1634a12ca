//! Benchmarks of the simulator's step loop with an in-process heuristic strategy (greenest
//! datacenter with room, as `ecmr/heuristic` does), so that the figures measure the simulator:
//!
//! - `sim/10k_vms_5dc_24h`: the reference `scenarios/eu-5dc-24h.yaml` (real carbon and renewable
//!   data, Azure trace) with 10,000 VMs instead of 3,000; the target is under 1 s;
//! - `sim/100k_vms_50dc_7d`: a generated continuum of 50 datacenters (22 servers each) and
//!   100,000 generated VMs over 168 h, measured and reported;
//! - `sim/services_3svc_7d`: the reference `scenarios/h3ni-predictive.yaml` (a three-service
//!   shop over 168 h, request routing and the delay model every step, scaling every 15 min by
//!   an in-process alpha/beta rule), for the services' side of the step loop;
//! - `sim/10k_vms_5dc_24h_vm_migration`: the first, with the running VMs offered every hour to
//!   an in-process VM migration strategy that moves none: what offering them costs the host.
//!
//! Run: `cargo bench -p smo-sim --bench sim_step`.

use criterion::{criterion_group, criterion_main, Criterion};
use smo_plugin_api::capacity::FreeCapacity;
use smo_plugin_api::*;
use smo_sim::{simulate, DriverError, Scenario, StrategyDriver};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Each VM on the lowest-carbon cluster with room; what fits nowhere is left out.
struct Greenest;

impl StrategyDriver for Greenest {
    fn place(
        &self,
        _strategy: &str,
        req: &Arc<PlacementRequest>,
    ) -> Result<(PlacementDecision, Duration), DriverError> {
        let t0 = Instant::now();
        let mut order: Vec<&Cluster> = req.clusters.iter().collect();
        order.sort_by(|a, b| {
            a.energy
                .carbon_intensity_g_per_kwh
                .total_cmp(&b.energy.carbon_intensity_g_per_kwh)
        });
        let mut free = FreeCapacity::new(&req.clusters);
        let mut decision = PlacementDecision::default();
        for s in req.graph.services.iter() {
            if let Some(c) = order.iter().find(|c| free.fits(s, c)) {
                free.reserve(s, c.name.as_str());
                decision.placement.assignments.push(Assignment {
                    service: s.name.clone(),
                    cluster: c.name.clone(),
                    replicas: 1,
                });
            }
        }
        Ok((decision, t0.elapsed()))
    }

    /// Each service the fewest replicas whose alpha/beta capacity covers the larger of its
    /// measured and predicted rate, within its bounds.
    fn scale(
        &self,
        _strategy: &str,
        req: &Arc<ScalingRequest>,
    ) -> Result<(ScalingDecision, Duration), DriverError> {
        let t0 = Instant::now();
        let mut decision = ScalingDecision::default();
        for a in req.placement.assignments.iter() {
            let Some(s) = req.graph.services.iter().find(|s| s.name == a.service) else {
                continue;
            };
            let rate = req
                .telemetry
                .loads
                .iter()
                .find(|l| l.service == a.service)
                .map_or(0.0, |l| l.current_rps.max(l.predicted_rps));
            let p = &s.scaling;
            let need = if p.alpha > 0.0 {
                ((rate - p.beta) / p.alpha).ceil().max(0.0) as u32
            } else {
                a.replicas
            };
            decision.replicas.push(ReplicaChoice {
                service: a.service.clone(),
                replicas: need.clamp(p.min_replicas.max(1), p.max_replicas.max(1)),
                reason: RString::new(),
            });
        }
        Ok((decision, t0.elapsed()))
    }

    /// `bench/no-moves`: reads the VMs offered and moves none (the host's side of VM migration).
    fn migrate(
        &self,
        strategy: &str,
        req: &Arc<MigrationRequest>,
    ) -> Result<(MigrationDecision, Duration), DriverError> {
        if strategy != "bench/no-moves" {
            return Err(DriverError::UnknownStrategy(strategy.into()));
        }
        let t0 = Instant::now();
        let offered = req.graph.services.len();
        let decision = MigrationDecision {
            reasons: vec![RString::from(format!("{offered} VMs stay"))].into(),
            ..MigrationDecision::default()
        };
        Ok((decision, t0.elapsed()))
    }
}

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn eu_10k() -> Scenario {
    let text = std::fs::read_to_string(scenarios().join("eu-5dc-24h.yaml"))
        .expect("scenarios/eu-5dc-24h.yaml");
    let text = text.replace("count: 3000", "count: 10000");
    Scenario::from_yaml(&text, &scenarios()).unwrap_or_else(|e| panic!("{e}"))
}

/// 50 datacenters on a 10 x 5 grid over Europe with varied hourly carbon profiles.
fn large() -> Scenario {
    let mut y = String::from(
        "name: bench-50dc-7d\ndata_source: generated for the benchmark\nseed: 1\n\
         start: 2024-10-14T00:00:00Z\nhours: 168\nstep_minutes: 5\nslo_ms: 50\n\
         users: [{name: u, lat: 48.85, lon: 2.35}]\ndatacenters:\n",
    );
    for i in 0..50 {
        let lat = 38.0 + f64::from(i / 10) * 4.0;
        let lon = -8.0 + f64::from(i % 10) * 3.0;
        let base = 20.0 + f64::from((i * 37) % 50) * 9.0;
        let hourly: Vec<String> = (0..24)
            .map(|h| {
                let solar = (f64::from(h) - 12.0).abs().min(6.0) / 6.0;
                format!("{:.1}", base * (0.6 + 0.4 * solar))
            })
            .collect();
        let _ = write!(
            y,
            "  - name: dc{i}\n    lat: {lat}\n    lon: {lon}\n    pue: {pue}\n    \
             processing_ms: 2\n    carbon_intensity: [{ci}]\n    renewables:\n      \
             - {{kind: solar, kw: 4, shape: [0,0,0,0,0,0,0.1,0.3,0.5,0.7,0.8,0.9,0.9,0.8,0.7,0.5,0.3,0.1,0,0,0,0,0,0]}}\n    \
             servers:\n      \
             - {{count: 10, cores: 16, memory_gib: 24, idle_w: 51, peak_w: 241}}\n      \
             - {{count: 10, cores: 40, memory_gib: 64, idle_w: 43.5, peak_w: 329}}\n      \
             - {{count: 2, cores: 96, memory_gib: 192, power_curve_w: [63.2, 124, 145, 166, 186, 206, 227, 244, 280, 308, 351]}}\n",
            pue = 1.1 + f64::from(i % 4) * 0.05,
            ci = hourly.join(", "),
        );
    }
    y.push_str(
        "workload:\n  vms:\n    kind: generator\n    count: 100000\n    diurnal_amplitude: 0.5\n    \
         duration_minutes: {min: 5, max: 600}\n    flavours:\n      \
         - {cpu: 1, memory_gib: 1.75, weight: 5}\n      - {cpu: 2, memory_gib: 3.5, weight: 3}\n      \
         - {cpu: 4, memory_gib: 7, weight: 1}\n      - {cpu: 8, memory_gib: 14, weight: 1}\n",
    );
    Scenario::from_yaml(&y, Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

fn services_7d() -> Scenario {
    Scenario::load(&scenarios().join("h3ni-predictive.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Greenest placement with the in-process alpha/beta scaling.
const WITH_SCALING: &str = "placement=bench/greenest,scaling=bench/alpha-beta";

fn report(name: &str, s: &Scenario) {
    report_as(name, s, "bench/greenest");
}

fn report_as(name: &str, s: &Scenario, strategy: &str) {
    let t0 = Instant::now();
    let run = simulate(s, strategy, &Greenest, None).expect("simulate");
    let t = &run.totals;
    eprintln!(
        "{name}: one run {:.3} s; {} steps, {} VMs, {} requests served, {:.1} kWh, {:.1} kg CO2, \
         renewable share {:.1} %, failure rate {:.2} %",
        t0.elapsed().as_secs_f64(),
        s.steps(),
        t.vm_requests,
        t.served,
        t.energy_kwh,
        t.carbon_kg,
        t.renewable_share * 100.0,
        t.failure_rate * 100.0,
    );
}

fn bench(c: &mut Criterion) {
    let eu = eu_10k();
    report("10k_vms_5dc_24h", &eu);
    let mut g = c.benchmark_group("sim");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("10k_vms_5dc_24h", |b| {
        b.iter(|| simulate(&eu, "bench/greenest", &Greenest, None).expect("simulate"))
    });
    let offering = "placement=bench/greenest,vm_migration=bench/no-moves";
    g.bench_function("10k_vms_5dc_24h_vm_migration", |b| {
        b.iter(|| simulate(&eu, offering, &Greenest, None).expect("simulate"))
    });
    let big = large();
    report("100k_vms_50dc_7d", &big);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("100k_vms_50dc_7d", |b| {
        b.iter(|| simulate(&big, "bench/greenest", &Greenest, None).expect("simulate"))
    });
    let shop = services_7d();
    report_as("services_3svc_7d", &shop, WITH_SCALING);
    g.bench_function("services_3svc_7d", |b| {
        b.iter(|| simulate(&shop, WITH_SCALING, &Greenest, None).expect("simulate"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
