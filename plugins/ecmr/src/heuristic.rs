//! Algorithm 1 of Miao et al. (2024) on one batch: green tier (on-site margin, MESF, threshold),
//! then the fallback, each picking first or by the MILP's objective; then local improvement.

use crate::objective::{latency_term, linear_delta_w, Base};
use crate::params::{Choice, Fallback, HeuristicParams, Weights};
use crate::request::Batch;

pub mod improve;

/// Where one VM went, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// On `site`, server `server`; `green` when accepted by a green datacenter (lines 19-22).
    Placed {
        site: usize,
        server: usize,
        green: bool,
        delta_facility_w: f64,
    },
    /// No datacenter within the latency threshold had a server with room.
    Unplaced,
}

/// Counters of one dispatch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// A green datacenter refused for latency (`L >= T_thre`).
    pub latency_rejections: u64,
    /// A green datacenter refused because `RES_margin <= E_r`.
    pub res_rejections: u64,
    /// VMs placed by the fallback (step 5).
    pub fallback: u64,
    /// VMs the improvement pass moved to another datacenter.
    pub moved: u64,
}

/// The batch's running objective terms per datacenter (state before the batch, watts added).
struct Running {
    base: Vec<Base>,
    added_w: Vec<f64>,
}

impl Running {
    /// Marginal energy and carbon terms of `facility_w` more at site `j`.
    fn marginal(&self, j: usize, facility_w: f64, w: &Weights, credit: f64) -> f64 {
        let b = &self.base[j];
        b.cost_with_credit(self.added_w[j] + facility_w, w, credit)
            - b.cost_with_credit(self.added_w[j], w, credit)
    }
}

/// Runs Algorithm 1 on `batch` in request order, updating the sites' state as it allocates.
/// The green set DG is fixed at the start of the slot (lines 4-9); margins shrink as VMs land.
/// With `improve_passes`, a local-improvement pass then moves VMs between datacenters.
pub fn dispatch(batch: &mut Batch, p: &HeuristicParams) -> (Vec<Outcome>, Counters) {
    let order = order(batch, p);
    if order.iter().enumerate().all(|(k, &r)| k == r) {
        return dispatch_in_order(batch, p);
    }
    // Work on the batch permuted into processing order, then map the outcomes back.
    let mut permuted = Batch {
        vms: order.iter().map(|&r| batch.vms[r].clone()).collect(),
        sites: std::mem::take(&mut batch.sites),
        latency_ms: order
            .iter()
            .map(|&r| batch.latency_ms.get(r).cloned().unwrap_or_default())
            .collect(),
    };
    let (out_p, counters) = dispatch_in_order(&mut permuted, p);
    batch.sites = permuted.sites;
    let mut out = vec![Outcome::Unplaced; out_p.len()];
    for (k, o) in out_p.into_iter().enumerate() {
        out[order[k]] = o;
    }
    (out, counters)
}

/// The order the batch is processed in, which is also the order the decision must list it in
/// (the host packs one VM at a time in that order): arrival order, or with `largest_first`
/// by decreasing memory then CPU (ties in arrival order). A batch of more than
/// `largest_first_max_vms` (a queue backlog, oldest first) keeps the arrival order.
pub fn order(batch: &Batch, p: &HeuristicParams) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.vms.len()).collect();
    if p.largest_first && batch.vms.len() <= p.largest_first_max_vms {
        let vms = &batch.vms;
        order.sort_by(|&a, &b| {
            let (da, db) = (vms[a].demand, vms[b].demand);
            db.memory_mib
                .total_cmp(&da.memory_mib)
                .then(db.cpu.total_cmp(&da.cpu))
                .then(a.cmp(&b))
        });
    }
    order
}

fn dispatch_in_order(batch: &mut Batch, p: &HeuristicParams) -> (Vec<Outcome>, Counters) {
    let green: Vec<bool> = batch.sites.iter().map(|s| s.res_margin_w() > 0.0).collect();
    let n = batch.vms.len();
    let improve = p.improve_passes > 0 && n > 0 && n <= p.improve_max_vms;
    let start = improve.then(|| batch.sites.clone());
    let mut run = Running {
        base: batch.sites.iter().map(Base::of).collect(),
        added_w: vec![0.0; batch.sites.len()],
    };
    let mut counters = Counters::default();
    let mut out = Vec::with_capacity(batch.vms.len());
    for r in 0..batch.vms.len() {
        let o = place_one(batch, r, &green, &run, p, &mut counters);
        if let Outcome::Placed { site, server, .. } = o {
            let d = batch.vms[r].demand;
            let s = &mut batch.sites[site];
            run.added_w[site] += linear_delta_w(s, server, d.cpu) * s.pue;
            s.reserve(server, &d);
        }
        out.push(o);
    }
    if let Some(start) = start {
        improve::run(batch, start, &green, &mut out, p, &mut counters);
    }
    (out, counters)
}

/// Site indices sorted by latency from VM `r` (then by index: deterministic).
fn by_distance(batch: &Batch, r: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.sites.len()).collect();
    order.sort_by(|&a, &b| batch.latency(r, a).total_cmp(&batch.latency(r, b)));
    order
}

/// A candidate: (site, MESF server, IT power increase W).
type Candidate = (usize, usize, f64);

/// Picks among a tier's candidates (in the tier's order): the first, or the lowest marginal
/// weighted objective (linear power, eq. 5; ties to the earlier one).
fn pick(
    batch: &Batch,
    r: usize,
    cands: &[Candidate],
    run: &Running,
    p: &HeuristicParams,
) -> Option<Candidate> {
    match p.choice {
        Choice::First => cands.first().copied(),
        Choice::Objective => {
            let cpu = batch.vms[r].demand.cpu;
            let mut best: Option<(f64, Candidate)> = None;
            for &(j, i, dw) in cands {
                let site = &batch.sites[j];
                let v = run.marginal(
                    j,
                    linear_delta_w(site, i, cpu) * site.pue,
                    &p.weights,
                    p.renewable_credit,
                ) + latency_term(batch.latency(r, j), &p.weights);
                if best.is_none_or(|(b, _)| v < b - 1e-12) {
                    best = Some((v, (j, i, dw)));
                }
            }
            best.map(|(_, c)| c)
        }
    }
}

fn place_one(
    batch: &Batch,
    r: usize,
    green: &[bool],
    run: &Running,
    p: &HeuristicParams,
    c: &mut Counters,
) -> Outcome {
    let d = batch.vms[r].demand;
    let order = by_distance(batch, r);
    // Lines 11-22: nearest green first; a green datacenter that passes every check is a
    // candidate, and the first (step 4.1) or the lowest-objective one wins.
    if p.green_first {
        let mut cands = Vec::new();
        for &j in order.iter().filter(|&&j| green[j]) {
            let site = &batch.sites[j];
            if batch.latency(r, j) >= p.latency_threshold_ms {
                c.latency_rejections += 1;
                continue;
            }
            let Some((server, delta_w)) = site.mesf(&d) else {
                continue;
            };
            if p.res_margin_check && site.res_margin_w() <= delta_w * site.pue {
                c.res_rejections += 1;
                continue;
            }
            cands.push((j, server, delta_w));
            if p.choice == Choice::First {
                break;
            }
        }
        if let Some((j, server, delta_w)) = pick(batch, r, &cands, run, p) {
            return Outcome::Placed {
                site: j,
                server,
                green: true,
                delta_facility_w: delta_w * batch.sites[j].pue,
            };
        }
    }
    // Step 5: every datacenter within the threshold, in the fallback order, ignoring RES.
    let mut candidates: Vec<usize> = order
        .into_iter()
        .filter(|&j| batch.latency(r, j) < p.latency_threshold_ms)
        .collect();
    let sites = &batch.sites;
    match p.fallback {
        Fallback::Nearest => {}
        Fallback::MostFree => {
            candidates.sort_by(|&a, &b| sites[b].free_share().total_cmp(&sites[a].free_share()))
        }
        Fallback::LowestCarbon => candidates.sort_by(|&a, &b| {
            sites[a]
                .carbon_g_per_kwh
                .total_cmp(&sites[b].carbon_g_per_kwh)
        }),
    }
    let mut cands = Vec::new();
    for j in candidates {
        if let Some((server, delta_w)) = sites[j].mesf(&d) {
            cands.push((j, server, delta_w));
            if p.choice == Choice::First {
                break;
            }
        }
    }
    match pick(batch, r, &cands, run, p) {
        Some((j, server, delta_w)) => {
            c.fallback += 1;
            Outcome::Placed {
                site: j,
                server,
                green: !p.green_first && green[j],
                delta_facility_w: delta_w * sites[j].pue,
            }
        }
        None => Outcome::Unplaced,
    }
}

/// ECNR-style baseline: the nearest datacenter with a server for the VM (MESF), no renewables,
/// no threshold.
pub fn nearest(batch: &mut Batch) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(batch.vms.len());
    for r in 0..batch.vms.len() {
        let d = batch.vms[r].demand;
        let mut o = Outcome::Unplaced;
        for j in by_distance(batch, r) {
            if let Some((server, delta_w)) = batch.sites[j].mesf(&d) {
                let site = &mut batch.sites[j];
                o = Outcome::Placed {
                    site: j,
                    server,
                    green: false,
                    delta_facility_w: delta_w * site.pue,
                };
                site.reserve(server, &d);
                break;
            }
        }
        out.push(o);
    }
    out
}
