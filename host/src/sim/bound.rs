//! A lower bound on the facility energy any placement could spend on the VMs a run served:
//! each hour, a linear program (HiGHS) spreads that hour's mean running VMs over the servers.
//!
//! The relaxation lets VMs split and move every hour, lets servers be switched on in
//! fractions and ignores the SLO, so no placement of the same VMs can use less: each server's
//! draw is at least the lower convex envelope of its power curve at its utilisation, the sum
//! over `n` servers at least `n` times the envelope at their mean utilisation, and an hour's
//! mean demand bounds the mean over its steps (the LP's optimum is convex in the demand).

use super::continuum::{Datacenter, ServerType};
use super::metrics::StrategyRun;
use super::scenario::{IdleServers, Scenario};
use super::vm_mix::ShapeLoad;
use highs::{Col, HighsModelStatus, RowProblem, Sense};
use serde::Serialize;
use std::fmt::Write;

/// Why the bound was not computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BoundError {
    #[error("the energy lower bound covers VMs only; this scenario also runs {0} service(s)")]
    Services(usize),
    #[error("the energy lower bound does not model GPUs; hour {hour} runs VMs with GPUs")]
    Gpu { hour: usize },
    #[error("hour {hour}: the VMs running do not fit the datacenters' servers even split up")]
    Infeasible { hour: usize },
    #[error("hour {hour}: HiGHS: {message}")]
    Solver { hour: usize, message: String },
}

/// The bound over the booked hours of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyBound {
    /// Facility energy (IT x PUE), kWh, summed over the hours.
    pub energy_kwh: f64,
    pub hourly_kwh: Vec<f64>,
}

/// A run beside the bound for the VMs it served (`--lower-bound`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundRow {
    pub strategy: String,
    pub energy_kwh: f64,
    pub bound_kwh: f64,
    pub served: u64,
    pub energy_per_request_wh: f64,
    pub bound_energy_per_request_wh: f64,
    /// The bound's energy per request against the baseline run's (-0.3: 30 % lower); `None`
    /// when the baseline served nothing.
    pub bound_change: Option<f64>,
}

/// The bound for every run, each beside the baseline run's energy per request.
pub fn rows(
    sc: &Scenario,
    runs: &[StrategyRun],
    baseline: &str,
) -> Result<Vec<BoundRow>, BoundError> {
    let base = runs
        .iter()
        .find(|r| r.strategy == baseline)
        .map(|r| r.totals.energy_per_request_wh);
    runs.iter()
        .map(|r| {
            let b = energy_lower_bound(sc, &r.vm_mix)?;
            let served = r.totals.served;
            let per = |kwh: f64| {
                if served > 0 {
                    kwh * 1000.0 / served as f64
                } else {
                    0.0
                }
            };
            let bound_epr = per(b.energy_kwh);
            Ok(BoundRow {
                strategy: r.strategy.clone(),
                energy_kwh: r.totals.energy_kwh,
                bound_kwh: b.energy_kwh,
                served,
                energy_per_request_wh: r.totals.energy_per_request_wh,
                bound_energy_per_request_wh: bound_epr,
                bound_change: base.filter(|b| *b > 0.0).map(|b| bound_epr / b - 1.0),
            })
        })
        .collect()
}

/// The rows as the text table `smo simulate --lower-bound` prints under the comparison.
pub fn table(rows: &[BoundRow], baseline: &str) -> String {
    let mut out = String::from(
        "\nEnergy lower bound: per hour, the VMs each strategy served split freely over every \
         datacenter's servers\n(HiGHS LP; no migration cost, no SLO): no placement of those VMs \
         uses less.\n",
    );
    let w = rows
        .iter()
        .map(|r| r.strategy.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        out,
        "{:<w$}  {:>10}  {:>9}  {:>7}  {:>7}  {:>12}  bound vs {baseline}",
        "strategy", "energy kWh", "bound kWh", "served", "Wh/req", "bound Wh/req"
    );
    for r in rows {
        let change = r
            .bound_change
            .map_or("-".to_string(), |c| format!("{:+.1} %", c * 100.0));
        let _ = writeln!(
            out,
            "{:<w$}  {:>10.2}  {:>9.2}  {:>7}  {:>7.2}  {:>12.2}  {change}",
            r.strategy,
            r.energy_kwh,
            r.bound_kwh,
            r.served,
            r.energy_per_request_wh,
            r.bound_energy_per_request_wh
        );
    }
    out
}

/// One server model in one datacenter: what the LP switches on and loads.
struct Group {
    pue: f64,
    cores: f64,
    memory_mib: f64,
    count: f64,
    always_on: bool,
    /// Lower convex envelope of the power curve: `(watts at u = 0, watts per unit of u)` per
    /// segment; the draw is at least the largest of them.
    segments: Vec<(f64, f64)>,
}

/// The bound for `hourly` (from [`super::vm_mix::VmMix`]) on the scenario's datacenters.
pub fn energy_lower_bound(
    sc: &Scenario,
    hourly: &[Vec<ShapeLoad>],
) -> Result<EnergyBound, BoundError> {
    supported(sc)?;
    let spec = &sc.spec;
    let groups = groups(sc);
    let booked = spec
        .energy_accounting_hours
        .map_or(hourly.len(), |n| (n as usize).min(hourly.len()));
    let _span = tracing::info_span!("energy_lower_bound", hours = booked).entered();
    let mut out = Vec::with_capacity(booked);
    for (hour, mix) in hourly.iter().take(booked).enumerate() {
        if mix.iter().any(|s| s.gpu > 0 && s.vms > 0.0) {
            return Err(BoundError::Gpu { hour });
        }
        out.push(hour_w(&groups, mix, hour)? / 1000.0);
    }
    Ok(EnergyBound {
        energy_kwh: out.iter().sum(),
        hourly_kwh: out,
    })
}

/// Whether the bound can be computed for runs of `sc` (VMs only; GPUs are checked per hour).
pub fn supported(sc: &Scenario) -> Result<(), BoundError> {
    match sc.spec.workload.services.len() {
        0 => Ok(()),
        n => Err(BoundError::Services(n)),
    }
}

fn groups(sc: &Scenario) -> Vec<Group> {
    let spec = &sc.spec;
    let mut out = Vec::new();
    for d in &spec.datacenters {
        let dc = Datacenter::new(d, spec.idle_servers, spec.server_selection);
        for (k, t) in dc.types.iter().enumerate() {
            let count = dc.servers.iter().filter(|s| s.kind as usize == k).count();
            if count == 0 || t.cores <= 0.0 {
                continue;
            }
            out.push(Group {
                pue: d.pue,
                cores: t.cores,
                memory_mib: t.memory_mib,
                count: count as f64,
                always_on: spec.idle_servers == IdleServers::On,
                segments: envelope(t),
            });
        }
    }
    out
}

/// The lower convex hull of the power curve's points, as segments `(intercept, slope)`.
fn envelope(t: &ServerType) -> Vec<(f64, f64)> {
    let n = match &t.power {
        super::power::PowerModel::Piecewise { points_w } => points_w.len().max(2),
        super::power::PowerModel::Linear { .. } => 2,
    };
    let pts: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let u = i as f64 / (n - 1) as f64;
            (u, t.power.watts(u))
        })
        .collect();
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(n);
    for p in pts {
        while hull.len() >= 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            // b is above the line a-p: not on the lower hull.
            if (b.1 - a.1) * (p.0 - a.0) >= (p.1 - a.1) * (b.0 - a.0) {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    hull.windows(2)
        .map(|w| {
            let slope = (w[1].1 - w[0].1) / (w[1].0 - w[0].0);
            (w[0].1 - slope * w[0].0, slope)
        })
        .collect()
}

/// The least facility watts that carry `mix` on `groups`.
fn hour_w(groups: &[Group], mix: &[ShapeLoad], hour: usize) -> Result<f64, BoundError> {
    let mix: Vec<&ShapeLoad> = mix.iter().filter(|s| s.vms > 0.0).collect();
    let idle_only: f64 = groups
        .iter()
        .filter(|g| g.always_on)
        .map(|g| g.pue * g.count * g.segments.first().map_or(0.0, |s| s.0))
        .sum();
    if mix.is_empty() {
        return Ok(idle_only);
    }
    let mut pb = RowProblem::default();
    // x[f][g]: VMs of shape f on group g; n[g]: servers on; p[g]: their IT watts.
    let x: Vec<Vec<Col>> = mix
        .iter()
        .map(|_| {
            groups
                .iter()
                .map(|_| pb.add_column(0.0, 0.0..=f64::INFINITY))
                .collect()
        })
        .collect();
    let n: Vec<Col> = groups
        .iter()
        .map(|g| {
            let lo = if g.always_on { g.count } else { 0.0 };
            pb.add_column(0.0, lo..=g.count)
        })
        .collect();
    let p: Vec<Col> = groups
        .iter()
        .map(|g| pb.add_column(g.pue, 0.0..=f64::INFINITY))
        .collect();
    for (f, s) in mix.iter().enumerate() {
        let row: Vec<(Col, f64)> = x[f].iter().map(|&c| (c, 1.0)).collect();
        pb.add_row(s.vms..=s.vms, &row);
    }
    for (g, grp) in groups.iter().enumerate() {
        let mut cpu: Vec<(Col, f64)> = mix.iter().zip(&x).map(|(s, xf)| (xf[g], s.cpu)).collect();
        cpu.push((n[g], -grp.cores));
        pb.add_row(..=0.0, &cpu);
        let mut mem: Vec<(Col, f64)> = mix
            .iter()
            .zip(&x)
            .map(|(s, xf)| (xf[g], s.memory_mib))
            .collect();
        mem.push((n[g], -grp.memory_mib));
        pb.add_row(..=0.0, &mem);
        for &(intercept, slope) in &grp.segments {
            // p >= intercept x n + slope x cores / cores-per-server
            let mut row: Vec<(Col, f64)> = mix
                .iter()
                .zip(&x)
                .map(|(s, xf)| (xf[g], slope * s.cpu / grp.cores))
                .collect();
            row.push((n[g], intercept));
            row.push((p[g], -1.0));
            pb.add_row(..=0.0, &row);
        }
    }
    let solver = |message: String| BoundError::Solver { hour, message };
    let mut model = pb
        .try_optimise(Sense::Minimise)
        .map_err(|e| solver(format!("{e:?}")))?;
    let _ = model.try_set_option("output_flag", false);
    let _ = model.try_set_option("threads", 1);
    let solved = model.try_solve().map_err(|e| solver(format!("{e:?}")))?;
    match solved.status() {
        HighsModelStatus::Optimal => Ok(solved.objective_value()),
        HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => {
            Err(BoundError::Infeasible { hour })
        }
        other => Err(solver(format!("status {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::power::PowerModel;

    fn server(points_w: Vec<f64>) -> ServerType {
        ServerType {
            model: "s".into(),
            cores: 10.0,
            memory_mib: 10240.0,
            gpus: 0,
            power: PowerModel::Piecewise { points_w },
        }
    }

    #[test]
    fn the_envelope_is_the_lower_convex_hull() {
        // 0 -> 60 W at 10 %, then 10 W per 10 % up to 150 W: the hull runs straight from 0 %
        // to 100 % (slope 150), below the 60 W point.
        let t = server(vec![
            0.0, 60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0, 130.0, 140.0, 150.0,
        ]);
        assert_eq!(envelope(&t), vec![(0.0, 150.0)]);
        // A convex curve keeps every point: 0, 10, 30 W at 0, 50, 100 %.
        let t = server(vec![0.0, 10.0, 30.0]);
        assert_eq!(envelope(&t), vec![(0.0, 20.0), (-10.0, 40.0)]);
    }

    fn group(count: f64, always_on: bool) -> Group {
        // 10 cores, 10 GiB, 50 W idle + 100 W per unit of utilisation, PUE 1.5.
        Group {
            pue: 1.5,
            cores: 10.0,
            memory_mib: 10240.0,
            count,
            always_on,
            segments: vec![(50.0, 100.0)],
        }
    }

    fn vms(cpu: f64, gib: f64, n: f64) -> ShapeLoad {
        ShapeLoad {
            cpu,
            memory_mib: gib * 1024.0,
            gpu: 0,
            vms: n,
        }
    }

    #[test]
    fn an_hour_switches_on_what_the_tighter_resource_needs() {
        // 10 VMs of 1 core: one server, 50 + 100 = 150 W, x 1.5.
        let w = hour_w(&[group(4.0, false)], &[vms(1.0, 0.5, 10.0)], 0).unwrap();
        assert!((w - 225.0).abs() < 1e-6, "{w}");
        // 5 VMs of 1 core and 4 GiB: memory needs 2 servers (20 GiB), cores 0.5 of one:
        // 2 x 50 + 100 x 5/10 = 150 W, x 1.5.
        let w = hour_w(&[group(4.0, false)], &[vms(1.0, 4.0, 5.0)], 0).unwrap();
        assert!((w - 225.0).abs() < 1e-6, "{w}");
        // Always on: all four servers idle (200 W) + 50 W of load, x 1.5.
        let w = hour_w(&[group(4.0, true)], &[vms(1.0, 0.5, 5.0)], 0).unwrap();
        assert!((w - 375.0).abs() < 1e-6, "{w}");
        // More memory than the servers have.
        let e = hour_w(&[group(1.0, false)], &[vms(1.0, 4.0, 5.0)], 3).unwrap_err();
        assert_eq!(e, BoundError::Infeasible { hour: 3 });
    }

    #[test]
    fn memory_heavy_vms_go_where_they_cost_least() {
        // Group a as above; group b: 10 cores, 40 GiB, 80 W idle + 100 W. Four 1-core VMs of
        // 8 GiB: on a they need 3.2 servers (160 + 40 W = 200 W), on b 0.8 (64 + 40 = 104 W).
        let mut b = group(2.0, false);
        b.memory_mib = 40960.0;
        b.segments = vec![(80.0, 100.0)];
        let w = hour_w(&[group(4.0, false), b], &[vms(1.0, 8.0, 4.0)], 0).unwrap();
        assert!((w - 104.0 * 1.5).abs() < 1e-6, "{w}");
    }
}
