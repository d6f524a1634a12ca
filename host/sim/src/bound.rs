//! A lower bound on the facility energy any placement could spend on the work a run served:
//! each hour, a linear program (HiGHS) spreads that hour's mean running VMs and busy service
//! replicas over the servers.
//!
//! The relaxation lets VMs split and move every hour and servers be switched on in fractions;
//! a service counts only its busy replicas (replicas x load factor, so any scaling of the same
//! work); what the run answered within the SLO stays at datacenters that can answer it in
//! time, the late ones go anywhere. So no placement of the same VMs, late no more often, uses less: each server's
//! draw is at least the lower convex envelope of its power curve at its utilisation, the sum
//! over `n` servers at least `n` times the envelope at their mean utilisation, and an hour's
//! mean demand bounds the mean over its steps (the LP's optimum is convex in the demand).

use super::continuum::{Datacenter, ServerType};
use super::metrics::StrategyRun;
use super::report::{push_aligned, wh_per_request};
use super::scenario::{IdleServers, Scenario};
use super::vm_mix::{Shape, ShapeLoad};
use highs::{Col, HighsModelStatus, RowProblem, Sense};
use serde::Serialize;

/// Why the bound was not computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BoundError {
    #[error("the energy lower bound does not model GPUs; service {0} uses one")]
    ServiceGpu(String),
    #[error("the energy lower bound does not model GPUs; hour {hour} runs VMs with GPUs")]
    Gpu { hour: usize },
    #[error(
        "hour {hour}: the VMs running do not fit the servers of the datacenters within their SLO, even split up"
    )]
    Infeasible { hour: usize },
    #[error("hour {hour}: HiGHS: {message}")]
    Solver { hour: usize, message: String },
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
    /// Where the bound's optimum puts the work, per datacenter and server model (the same
    /// fields as a run's `datacenters[].server_types`), to set beside the run's.
    pub server_types: Vec<BoundServerUse>,
    /// The demand the bound spread, so that other bounds can be computed from it offline
    /// (e.g. `plugins/h3ni-energy/analysis/whole_vm_bound.py`).
    pub demand: BoundDemand,
}

/// Each booked hour's mean running VMs and busy service replicas, by shape.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct BoundDemand {
    /// The scenario's datacenters, in file order (what `allowed` indexes).
    pub datacenters: Vec<String>,
    pub shapes: Vec<DemandShape>,
    /// Per hour, `[shape index, mean count]`.
    pub hourly: Vec<Vec<(usize, f64)>>,
}

/// One shape of the demand: a VM's (or a service replica's) cores, memory and GPUs, whether the
/// run answered it late, and the datacenters it may use in the bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemandShape {
    pub cpu: f64,
    pub memory_mib: f64,
    pub gpu: u32,
    pub late: bool,
    pub service: bool,
    pub allowed: Vec<usize>,
}

/// One datacenter's servers of one model in the bound's optimum, summed over the booked
/// hours: servers switched on (fractions allowed), cores and memory of the VMs they carry,
/// and their IT energy by the lower convex envelope of the power curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundServerUse {
    pub datacenter: String,
    pub model: String,
    pub servers: u32,
    pub server_hours_on: f64,
    pub busy_core_hours: f64,
    pub memory_gib_hours: f64,
    pub it_energy_kwh: f64,
}

/// The bound for every run, each beside the baseline run's energy per request.
pub fn rows(
    sc: &Scenario,
    runs: &[StrategyRun],
    baseline: &str,
) -> Result<Vec<BoundRow>, BoundError> {
    let fleet = Fleet::of(sc)?;
    let base = runs
        .iter()
        .find(|r| r.strategy == baseline)
        .map(|r| r.totals.energy_per_request_wh);
    runs.iter()
        .map(|r| {
            let (bound_kwh, server_types) = fleet.bound(&r.vm_mix)?;
            let demand = fleet.demand(sc, &r.vm_mix);
            let served = r.totals.served;
            let per = |kwh: f64| {
                if served > 0 {
                    kwh * 1000.0 / served as f64
                } else {
                    0.0
                }
            };
            let bound_epr = per(bound_kwh);
            Ok(BoundRow {
                strategy: r.strategy.clone(),
                energy_kwh: r.totals.energy_kwh,
                bound_kwh,
                served,
                energy_per_request_wh: r.totals.energy_per_request_wh,
                bound_energy_per_request_wh: bound_epr,
                bound_change: base.filter(|b| *b > 0.0).map(|b| bound_epr / b - 1.0),
                server_types,
                demand,
            })
        })
        .collect()
}

/// The rows as the text table `smo simulate --lower-bound` prints under the comparison.
pub fn table(rows: &[BoundRow], baseline: &str) -> String {
    let mut out = String::from(
        "\nEnergy lower bound: per hour, the VMs and busy service replicas each strategy served \
         split freely over the\nservers (HiGHS LP; no migration cost; what it answered within the \
         SLO stays within reach): no such placement uses less.\n",
    );
    let header = [
        "strategy",
        "energy kWh",
        "bound kWh",
        "served",
        "Wh/req",
        "bound Wh/req",
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    cells[0].push(format!("bound vs {baseline}"));
    cells[0].push("run above bound".into());
    for r in rows {
        cells.push(vec![
            r.strategy.clone(),
            format!("{:.2}", r.energy_kwh),
            format!("{:.2}", r.bound_kwh),
            r.served.to_string(),
            wh_per_request(r.energy_per_request_wh),
            wh_per_request(r.bound_energy_per_request_wh),
            r.bound_change
                .map_or("-".to_string(), |c| format!("{:+.1} %", c * 100.0)),
            if r.bound_kwh > 0.0 {
                format!("{:+.1} %", (r.energy_kwh / r.bound_kwh - 1.0) * 100.0)
            } else {
                "-".into()
            },
        ]);
    }
    push_aligned(&mut out, &cells);
    out
}

/// One server model in one datacenter: what the LP switches on and loads.
struct Group {
    dc: usize,
    datacenter: String,
    model: String,
    pue: f64,
    cores: f64,
    memory_mib: f64,
    count: f64,
    always_on: bool,
    /// Lower convex envelope of the power curve: `(watts at u = 0, watts per unit of u)` per
    /// segment; the draw is at least the largest of them.
    segments: Vec<(f64, f64)>,
}

/// What the bound of every run of one scenario shares: its servers, which datacenters each
/// user reaches in time, and the hours booked.
struct Fleet {
    groups: Vec<Group>,
    in_time: Vec<Vec<bool>>,
    /// `[user][dc]` network latency, ms, and the SLO: where a service's replicas answer in time
    /// depends on the service's own processing time.
    user_lat: Vec<Vec<f64>>,
    slo_ms: f64,
    booked_hours: Option<usize>,
}

impl Fleet {
    fn of(sc: &Scenario) -> Result<Self, BoundError> {
        supported(sc)?;
        let user_lat = super::step_loop::network(sc).user_lat;
        Ok(Fleet {
            groups: groups(sc),
            in_time: in_time(sc, &user_lat),
            user_lat,
            slo_ms: sc.spec.slo_ms,
            booked_hours: sc.spec.energy_accounting_hours.map(|n| n as usize),
        })
    }

    /// Whether work of `shape` may run at datacenter `dc`: anywhere if the run answered it
    /// late, else only where its user is answered within the SLO at no load (a VM by the
    /// datacenter's processing time, a service replica by its own).
    fn allows(&self, shape: &Shape, dc: usize) -> bool {
        let user = shape.user as usize;
        shape.late
            || match shape.processing_ms {
                None => self
                    .in_time
                    .get(user)
                    .and_then(|u| u.get(dc))
                    .copied()
                    .unwrap_or(false),
                Some(ms) => self
                    .user_lat
                    .get(user)
                    .and_then(|u| u.get(dc))
                    .is_some_and(|lat| lat + smo_core::delay::processing(ms, 0.0) <= self.slo_ms),
            }
    }

    /// How many of `hours` hours are booked (the scenario's `energy_accounting_hours`).
    fn booked(&self, hours: usize) -> usize {
        self.booked_hours.map_or(hours, |n| n.min(hours))
    }

    /// The booked hours of `hourly` as shapes and counts, for [`BoundRow::demand`].
    fn demand(&self, sc: &Scenario, hourly: &[Vec<ShapeLoad>]) -> BoundDemand {
        let booked = self.booked(hourly.len());
        let datacenters: Vec<String> = sc.spec.datacenters.iter().map(|d| d.name.clone()).collect();
        let mut keys: Vec<Shape> = Vec::new();
        let mut shapes = Vec::new();
        let mut out = Vec::with_capacity(booked);
        for mix in hourly.iter().take(booked) {
            let mut hour = Vec::with_capacity(mix.len());
            for s in mix.iter().filter(|s| s.vms > 0.0) {
                let i = match keys.iter().position(|k| *k == s.shape) {
                    Some(i) => i,
                    None => {
                        keys.push(s.shape);
                        shapes.push(DemandShape {
                            cpu: s.shape.cpu,
                            memory_mib: s.shape.memory_mib,
                            gpu: s.shape.gpu,
                            late: s.shape.late,
                            service: s.shape.processing_ms.is_some(),
                            allowed: (0..datacenters.len())
                                .filter(|&d| self.allows(&s.shape, d))
                                .collect(),
                        });
                        keys.len() - 1
                    }
                };
                hour.push((i, s.vms));
            }
            out.push(hour);
        }
        BoundDemand {
            datacenters,
            shapes,
            hourly: out,
        }
    }

    /// Facility kWh of the bound for `hourly` (from [`super::vm_mix::VmMix`]), summed over
    /// the booked hours, and the use of each server group in its optimum.
    fn bound(&self, hourly: &[Vec<ShapeLoad>]) -> Result<(f64, Vec<BoundServerUse>), BoundError> {
        let booked = self.booked(hourly.len());
        let _span = tracing::info_span!("energy_lower_bound", hours = booked).entered();
        let allowed = |s: &ShapeLoad, g: &Group| self.allows(&s.shape, g.dc);
        let mut kwh = 0.0;
        let mut uses: Vec<BoundServerUse> = self
            .groups
            .iter()
            .map(|g| BoundServerUse {
                datacenter: g.datacenter.clone(),
                model: g.model.clone(),
                servers: g.count as u32,
                server_hours_on: 0.0,
                busy_core_hours: 0.0,
                memory_gib_hours: 0.0,
                it_energy_kwh: 0.0,
            })
            .collect();
        for (hour, mix) in hourly.iter().take(booked).enumerate() {
            if mix.iter().any(|s| s.shape.gpu > 0 && s.vms > 0.0) {
                return Err(BoundError::Gpu { hour });
            }
            let optimum = hour_w(&self.groups, mix, &allowed, hour)?;
            kwh += optimum.facility_w / 1000.0;
            for (u, g) in uses.iter_mut().zip(&optimum.groups) {
                u.server_hours_on += g.servers_on;
                u.busy_core_hours += g.cores;
                u.memory_gib_hours += g.memory_mib / 1024.0;
                u.it_energy_kwh += g.it_w / 1000.0;
            }
        }
        Ok((kwh, uses))
    }
}

/// Whether the bound can be computed for runs of `sc`: no service with GPUs (VMs' GPUs are
/// checked per hour).
pub fn supported(sc: &Scenario) -> Result<(), BoundError> {
    match sc.spec.workload.services.iter().find(|s| s.gpu > 0) {
        None => Ok(()),
        Some(s) => Err(BoundError::ServiceGpu(s.name.clone())),
    }
}

fn groups(sc: &Scenario) -> Vec<Group> {
    let spec = &sc.spec;
    let mut out = Vec::new();
    for (i, d) in spec.datacenters.iter().enumerate() {
        let dc = Datacenter::new(d, spec.idle_servers, spec.server_selection);
        for (k, t) in dc.types.iter().enumerate() {
            let count = dc.servers.iter().filter(|s| s.kind as usize == k).count();
            if count == 0 || t.cores <= 0.0 {
                continue;
            }
            out.push(Group {
                dc: i,
                datacenter: d.name.clone(),
                model: t.model.clone(),
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

/// `[user][dc]`: whether the datacenter can answer the user within `slo_ms` at all (network
/// latency plus processing time at no load).
fn in_time(sc: &Scenario, user_lat: &[Vec<f64>]) -> Vec<Vec<bool>> {
    let spec = &sc.spec;
    user_lat
        .iter()
        .map(|row| {
            row.iter()
                .zip(&spec.datacenters)
                .map(|(lat, d)| {
                    lat + smo_core::delay::processing(d.processing_ms, 0.0) <= spec.slo_ms
                })
                .collect()
        })
        .collect()
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

/// One hour's optimum: facility watts, and per group (in [`Fleet`]'s order) what it carries.
#[derive(Debug)]
struct HourOptimum {
    facility_w: f64,
    groups: Vec<GroupUse>,
}

/// A group's servers on, the cores and memory of the VMs on them, and their IT watts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct GroupUse {
    servers_on: f64,
    cores: f64,
    memory_mib: f64,
    it_w: f64,
}

/// The least facility watts that carry `mix` on `groups`, shape `f` only where `allowed`.
fn hour_w(
    groups: &[Group],
    mix: &[ShapeLoad],
    allowed: &dyn Fn(&ShapeLoad, &Group) -> bool,
    hour: usize,
) -> Result<HourOptimum, BoundError> {
    let mix: Vec<&ShapeLoad> = mix.iter().filter(|s| s.vms > 0.0).collect();
    if mix.is_empty() {
        let uses: Vec<GroupUse> = groups
            .iter()
            .map(|g| match g.always_on {
                true => GroupUse {
                    servers_on: g.count,
                    it_w: g.count * g.segments.first().map_or(0.0, |s| s.0),
                    ..GroupUse::default()
                },
                false => GroupUse::default(),
            })
            .collect();
        let facility_w = uses.iter().zip(groups).map(|(u, g)| u.it_w * g.pue).sum();
        return Ok(HourOptimum {
            facility_w,
            groups: uses,
        });
    }
    let mut pb = RowProblem::default();
    // x[f][g]: VMs of shape f on group g (0 where not allowed); n[g]: servers on; p[g]:
    // their IT watts.
    let x: Vec<Vec<Col>> = mix
        .iter()
        .map(|s| {
            groups
                .iter()
                .map(|g| {
                    let hi = if allowed(s, g) { f64::INFINITY } else { 0.0 };
                    pb.add_column(0.0, 0.0..=hi)
                })
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
    type Per = fn(&Shape) -> f64;
    for (g, grp) in groups.iter().enumerate() {
        // cores and memory of the VMs <= what the servers switched on have
        let capacity: [(Per, f64); 2] =
            [(|s| s.cpu, grp.cores), (|s| s.memory_mib, grp.memory_mib)];
        for (per_vm, per_server) in capacity {
            let mut row: Vec<(Col, f64)> = mix
                .iter()
                .zip(&x)
                .map(|(s, xf)| (xf[g], per_vm(&s.shape)))
                .collect();
            row.push((n[g], -per_server));
            pb.add_row(..=0.0, &row);
        }
        for &(intercept, slope) in &grp.segments {
            // p >= intercept x n + slope x cores / cores-per-server
            let mut row: Vec<(Col, f64)> = mix
                .iter()
                .zip(&x)
                .map(|(s, xf)| (xf[g], slope * s.shape.cpu / grp.cores))
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
        HighsModelStatus::Optimal => {
            let solution = solved.get_solution();
            let cols = solution.columns();
            // Columns in the order added: x[f][g], then n[g], then p[g].
            let (nf, ng) = (mix.len(), groups.len());
            let at = |k: usize| cols.get(k).copied().unwrap_or(0.0);
            let uses = (0..ng)
                .map(|g| GroupUse {
                    servers_on: at(nf * ng + g),
                    cores: (0..nf).map(|f| at(f * ng + g) * mix[f].shape.cpu).sum(),
                    memory_mib: (0..nf)
                        .map(|f| at(f * ng + g) * mix[f].shape.memory_mib)
                        .sum(),
                    it_w: at(nf * ng + ng + g),
                })
                .collect();
            Ok(HourOptimum {
                facility_w: solved.objective_value(),
                groups: uses,
            })
        }
        HighsModelStatus::Infeasible | HighsModelStatus::UnboundedOrInfeasible => {
            Err(BoundError::Infeasible { hour })
        }
        other => Err(solver(format!("status {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::power::PowerModel;

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
            dc: 0,
            datacenter: "a".into(),
            model: "m".into(),
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
            shape: Shape {
                cpu,
                memory_mib: gib * 1024.0,
                gpu: 0,
                user: 0,
                late: false,
                processing_ms: None,
            },
            vms: n,
        }
    }

    fn anywhere(_: &ShapeLoad, _: &Group) -> bool {
        true
    }

    #[test]
    fn an_hour_switches_on_what_the_tighter_resource_needs() {
        // 10 VMs of 1 core: one server, 50 + 100 = 150 W, x 1.5.
        let w = hour_w(&[group(4.0, false)], &[vms(1.0, 0.5, 10.0)], &anywhere, 0)
            .unwrap()
            .facility_w;
        assert!((w - 225.0).abs() < 1e-6, "{w}");
        // 5 VMs of 1 core and 4 GiB: memory needs 2 servers (20 GiB), cores 0.5 of one:
        // 2 x 50 + 100 x 5/10 = 150 W, x 1.5.
        let w = hour_w(&[group(4.0, false)], &[vms(1.0, 4.0, 5.0)], &anywhere, 0)
            .unwrap()
            .facility_w;
        assert!((w - 225.0).abs() < 1e-6, "{w}");
        // Always on: all four servers idle (200 W) + 50 W of load, x 1.5.
        let w = hour_w(&[group(4.0, true)], &[vms(1.0, 0.5, 5.0)], &anywhere, 0)
            .unwrap()
            .facility_w;
        assert!((w - 375.0).abs() < 1e-6, "{w}");
        // More memory than the servers have.
        let e = hour_w(&[group(1.0, false)], &[vms(1.0, 4.0, 5.0)], &anywhere, 3).unwrap_err();
        assert_eq!(e, BoundError::Infeasible { hour: 3 });
    }

    /// Group a as above; group b in datacenter 1: 10 cores, 40 GiB, 80 W idle + 100 W.
    fn two_groups() -> [Group; 2] {
        let mut b = group(2.0, false);
        b.dc = 1;
        b.memory_mib = 40960.0;
        b.segments = vec![(80.0, 100.0)];
        [group(4.0, false), b]
    }

    #[test]
    fn memory_heavy_vms_go_where_they_cost_least() {
        // Four 1-core VMs of 8 GiB: on a they need 3.2 servers (160 + 40 W = 200 W), on b 0.8
        // (64 + 40 = 104 W).
        let optimum = hour_w(&two_groups(), &[vms(1.0, 8.0, 4.0)], &anywhere, 0).unwrap();
        assert!((optimum.facility_w - 104.0 * 1.5).abs() < 1e-6);
        // All on b: 0.8 servers, 4 cores, 32 GiB, 104 IT watts; nothing on a.
        let [a, b] = [optimum.groups[0], optimum.groups[1]];
        assert!(a.servers_on.abs() < 1e-9 && a.cores.abs() < 1e-9, "{a:?}");
        assert!((b.servers_on - 0.8).abs() < 1e-6, "{b:?}");
        assert!((b.cores - 4.0).abs() < 1e-6, "{b:?}");
        assert!((b.memory_mib - 32.0 * 1024.0).abs() < 1e-3, "{b:?}");
        assert!((b.it_w - 104.0).abs() < 1e-6, "{b:?}");
    }

    #[test]
    fn an_hour_without_vms_draws_only_the_servers_always_on() {
        let optimum = hour_w(&[group(4.0, true), group(2.0, false)], &[], &anywhere, 0).unwrap();
        assert!((optimum.facility_w - 4.0 * 50.0 * 1.5).abs() < 1e-9);
        assert_eq!(optimum.groups[0].servers_on, 4.0);
        assert_eq!(optimum.groups[1], GroupUse::default());
    }

    #[test]
    fn vms_answered_in_time_stay_where_they_can_be() {
        // Datacenter 1 is too far for user 0: the in-time VMs pay group a's 200 W; the late
        // ones may still use b.
        let near = |s: &ShapeLoad, g: &Group| s.shape.late || g.dc == 0;
        let w = hour_w(&two_groups(), &[vms(1.0, 8.0, 4.0)], &near, 0)
            .unwrap()
            .facility_w;
        assert!((w - 200.0 * 1.5).abs() < 1e-6, "{w}");
        let mut late = vms(1.0, 8.0, 4.0);
        late.shape.late = true;
        let w = hour_w(&two_groups(), &[late], &near, 0).unwrap().facility_w;
        assert!((w - 104.0 * 1.5).abs() < 1e-6, "{w}");
    }

    #[test]
    fn a_service_replica_answers_in_time_where_its_own_processing_allows() {
        // One user, 5 ms from datacenter 0 and 15 ms from 1, SLO 20 ms; VMs are in time at
        // both (precomputed). A replica with 4 ms of processing reaches both, one with 8 ms
        // only datacenter 0, unless the run answered it late.
        let fleet = Fleet {
            groups: Vec::new(),
            in_time: vec![vec![true, true]],
            user_lat: vec![vec![5.0, 15.0]],
            slo_ms: 20.0,
            booked_hours: None,
        };
        let mut shape = vms(1.0, 1.0, 1.0).shape;
        assert!(fleet.allows(&shape, 0) && fleet.allows(&shape, 1));
        shape.processing_ms = Some(4.0);
        assert!(fleet.allows(&shape, 0) && fleet.allows(&shape, 1));
        shape.processing_ms = Some(8.0);
        assert!(fleet.allows(&shape, 0) && !fleet.allows(&shape, 1));
        shape.late = true;
        assert!(fleet.allows(&shape, 1));
    }

    #[test]
    fn a_datacenter_within_the_slo_is_one_its_users_reach_in_time() {
        // eu-5dc-24h: users in Paris, 30 ms; Stockholm is 32.9 ms away, the others closer.
        let sc = Scenario::load(&crate::testing::scenarios_dir().join("eu-5dc-24h.yaml")).unwrap();
        let names: Vec<(&str, bool)> = sc
            .spec
            .datacenters
            .iter()
            .zip(&in_time(&sc, &crate::step_loop::network(&sc).user_lat)[0])
            .map(|(d, ok)| (d.name.as_str(), *ok))
            .collect();
        assert_eq!(
            names,
            [
                ("milan", true),
                ("stockholm", false),
                ("madrid", true),
                ("paris", true),
                ("frankfurt", true)
            ]
        );
    }
}
