//! Algorithm 1 of Miao et al. (2024) on one batch: green/brown per datacenter from its on-site
//! supply, nearest green first with MESF and the renewable-margin check, then the fallback.

use crate::params::{Fallback, HeuristicParams};
use crate::request::Batch;

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
}

/// Runs Algorithm 1 on `batch` in request order, updating the sites' state as it allocates.
/// The green set DG is fixed at the start of the slot (lines 4-9); margins shrink as VMs land.
pub fn dispatch(batch: &mut Batch, p: &HeuristicParams) -> (Vec<Outcome>, Counters) {
    let green: Vec<bool> = batch.sites.iter().map(|s| s.res_margin_w() > 0.0).collect();
    let mut counters = Counters::default();
    let mut out = Vec::with_capacity(batch.vms.len());
    for r in 0..batch.vms.len() {
        let o = place_one(batch, r, &green, p, &mut counters);
        if let Outcome::Placed { site, server, .. } = o {
            let d = batch.vms[r].demand;
            batch.sites[site].reserve(server, &d);
        }
        out.push(o);
    }
    (out, counters)
}

/// Site indices sorted by latency from VM `r` (then by index: deterministic).
fn by_distance(batch: &Batch, r: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.sites.len()).collect();
    order.sort_by(|&a, &b| batch.latency(r, a).total_cmp(&batch.latency(r, b)));
    order
}

fn place_one(
    batch: &Batch,
    r: usize,
    green: &[bool],
    p: &HeuristicParams,
    c: &mut Counters,
) -> Outcome {
    let d = batch.vms[r].demand;
    let order = by_distance(batch, r);
    // Lines 11-22: nearest green first; the first that passes every check wins (step 4.1).
    for &j in order.iter().filter(|&&j| green[j]) {
        let site = &batch.sites[j];
        if batch.latency(r, j) >= p.latency_threshold_ms {
            c.latency_rejections += 1;
            continue;
        }
        let Some((server, delta_w)) = site.mesf(&d) else {
            continue;
        };
        let e_r = delta_w * site.pue;
        if p.res_margin_check && site.res_margin_w() <= e_r {
            c.res_rejections += 1;
            continue;
        }
        return Outcome::Placed {
            site: j,
            server,
            green: true,
            delta_facility_w: e_r,
        };
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
    for j in candidates {
        if let Some((server, delta_w)) = sites[j].mesf(&d) {
            c.fallback += 1;
            return Outcome::Placed {
                site: j,
                server,
                green: false,
                delta_facility_w: delta_w * sites[j].pue,
            };
        }
    }
    Outcome::Unplaced
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
