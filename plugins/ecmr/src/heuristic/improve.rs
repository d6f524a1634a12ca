//! Local improvement of a batch's placement: move one VM (or exchange two) between datacenters
//! when that lowers the weighted objective, servers re-chosen by MESF in request order.

use super::{Counters, Outcome};
use crate::objective::{latency_term, linear_delta_w, Base};
use crate::params::HeuristicParams;
use crate::request::Batch;
use crate::site::Site;

/// Below this, a change of objective is noise.
const EPS: f64 = 1e-9;

/// Target datacenters of a move costed exactly, best estimates first.
const MOVE_CANDIDATES: usize = 2;

/// The batch's datacenters before it, and a scratch copy of each to replay packings on.
struct Ctx<'a> {
    batch: &'a Batch,
    start: &'a [Site],
    base: Vec<Base>,
    scratch: Vec<Site>,
    /// Each site after its current members, and the facility W they add (for estimates).
    end: Vec<Site>,
    end_added_w: Vec<f64>,
    p: &'a HeuristicParams,
}

impl Ctx<'_> {
    /// Energy and carbon terms of `members` (VM indices, request order) at site `j`, each on
    /// the server MESF picks one at a time, as the host applies them; `None` when MESF finds
    /// no server for one of them.
    fn cost(&mut self, j: usize, members: &[usize]) -> Option<f64> {
        if members.is_empty() {
            return Some(0.0);
        }
        let s = &mut self.scratch[j];
        s.servers.clone_from(&self.start[j].servers);
        s.free = self.start[j].free;
        let mut added = 0.0;
        for &r in members {
            let d = self.batch.vms[r].demand;
            let (i, _) = s.mesf(&d)?;
            added += linear_delta_w(s, i, d.cpu) * s.pue;
            s.reserve(i, &d);
        }
        Some(self.base[j].cost_with_credit(added, &self.p.weights, self.p.renewable_credit))
    }

    /// Replays site `j`'s `members` into its end state (see [`Ctx::estimate`]).
    fn settle(&mut self, j: usize, members: &[usize]) {
        let s = &mut self.end[j];
        s.servers.clone_from(&self.start[j].servers);
        s.free = self.start[j].free;
        let mut added = 0.0;
        for &r in members {
            let d = self.batch.vms[r].demand;
            if let Some((i, _)) = s.mesf(&d) {
                added += linear_delta_w(s, i, d.cpu) * s.pue;
                s.reserve(i, &d);
            }
        }
        self.end_added_w[j] = added;
    }

    /// What adding VM `r` to site `j` would change the objective by if it came last: one MESF
    /// on the end state instead of a replay (exact when `r` is the last of the batch there).
    fn estimate(&self, r: usize, j: usize, cost_now: f64) -> Option<f64> {
        let s = &self.end[j];
        let d = self.batch.vms[r].demand;
        let (i, _) = s.mesf(&d)?;
        let add = linear_delta_w(s, i, d.cpu) * s.pue;
        Some(
            self.base[j].cost_with_credit(
                self.end_added_w[j] + add,
                &self.p.weights,
                self.p.renewable_credit,
            ) - cost_now
                + self.vm_term(r, Some(j)),
        )
    }

    /// Latency term of VM `r` at `site`, or the unplaced penalty.
    fn vm_term(&self, r: usize, site: Option<usize>) -> f64 {
        match site {
            Some(j) => latency_term(self.batch.latency(r, j), &self.p.weights),
            None => self.p.weights.unplaced_penalty,
        }
    }

    fn reachable(&self, r: usize, j: usize) -> bool {
        self.batch.latency(r, j) < self.p.latency_threshold_ms
    }
}

/// The placement being improved: site per VM, VMs per site (request order), cost per site.
struct State {
    at: Vec<Option<usize>>,
    members: Vec<Vec<usize>>,
    cost: Vec<f64>,
    moved: Vec<bool>,
}

/// `members` without `out` and with `into` (either optional), in request order.
fn edit(members: &[usize], out: Option<usize>, into: Option<usize>) -> Vec<usize> {
    let mut v: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&x| Some(x) != out)
        .collect();
    if let Some(r) = into {
        let k = v.partition_point(|&x| x < r);
        v.insert(k, r);
    }
    v
}

/// One sweep of single-VM moves. The target datacenters are ranked by [`Ctx::estimate`]; the
/// best `MOVE_CANDIDATES` are costed exactly (MESF replay) and the best improving one is taken.
fn moves(ctx: &mut Ctx, st: &mut State) -> bool {
    let mut improved = false;
    for r in 0..st.at.len() {
        let from = st.at[r];
        let mut ranked: Vec<(f64, usize)> = (0..st.members.len())
            .filter(|&k| Some(k) != from && ctx.reachable(r, k))
            .filter_map(|k| ctx.estimate(r, k, st.cost[k]).map(|e| (e, k)))
            .collect();
        if ranked.is_empty() {
            continue;
        }
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let without = match from {
            Some(a) => {
                let rest = edit(&st.members[a], Some(r), None);
                match ctx.cost(a, &rest) {
                    Some(v) => Some((a, rest, v)),
                    None => continue,
                }
            }
            None => None,
        };
        let saved =
            without.as_ref().map_or(0.0, |(a, _, v)| st.cost[*a] - v) + ctx.vm_term(r, from);
        let mut best: Option<(f64, usize, Vec<usize>, f64)> = None;
        for &(e, k) in ranked.iter().take(MOVE_CANDIDATES) {
            if e - saved >= -EPS {
                break;
            }
            let m = edit(&st.members[k], None, Some(r));
            let Some(v) = ctx.cost(k, &m) else {
                continue;
            };
            let delta = v - st.cost[k] + ctx.vm_term(r, Some(k)) - saved;
            if delta < -EPS && best.as_ref().is_none_or(|b| delta < b.0 - EPS) {
                best = Some((delta, k, m, v));
            }
        }
        if let Some((_, k, m, v)) = best {
            if let Some((a, rest, w)) = without {
                ctx.settle(a, &rest);
                st.members[a] = rest;
                st.cost[a] = w;
            }
            ctx.settle(k, &m);
            st.members[k] = m;
            st.cost[k] = v;
            st.at[r] = Some(k);
            st.moved[r] = true;
            improved = true;
        }
    }
    improved
}

/// One sweep of pairwise exchanges: `r1` at site a and `r2` at site b trade places when that
/// lowers the objective (what a single move cannot do when neither site has room for both).
fn swaps(ctx: &mut Ctx, st: &mut State) -> bool {
    let mut improved = false;
    let vms = &ctx.batch.vms;
    for r1 in 0..st.at.len() {
        for r2 in r1 + 1..st.at.len() {
            let (Some(a), Some(b)) = (st.at[r1], st.at[r2]) else {
                continue;
            };
            let same = vms[r1].demand == vms[r2].demand
                && ctx.batch.latency_ms.get(r1) == ctx.batch.latency_ms.get(r2);
            if a == b || same || !ctx.reachable(r1, b) || !ctx.reachable(r2, a) {
                continue;
            }
            let ma = edit(&st.members[a], Some(r1), Some(r2));
            let Some(va) = ctx.cost(a, &ma) else {
                continue;
            };
            let mb = edit(&st.members[b], Some(r2), Some(r1));
            let Some(vb) = ctx.cost(b, &mb) else {
                continue;
            };
            let delta = va + vb - st.cost[a] - st.cost[b]
                + ctx.vm_term(r1, Some(b))
                + ctx.vm_term(r2, Some(a))
                - ctx.vm_term(r1, Some(a))
                - ctx.vm_term(r2, Some(b));
            if delta < -EPS {
                ctx.settle(a, &ma);
                ctx.settle(b, &mb);
                st.members[a] = ma;
                st.members[b] = mb;
                st.cost[a] = va;
                st.cost[b] = vb;
                st.at[r1] = Some(b);
                st.at[r2] = Some(a);
                st.moved[r1] = true;
                st.moved[r2] = true;
                improved = true;
            }
        }
    }
    improved
}

/// Improves `out` (from the greedy pass) by single-VM moves (and, with `improve_swaps` or in
/// a batch of at least `improve_swaps_from_vms`, exchanges), at most `p.improve_passes` sweeps, then replays MESF from `start` so
/// `batch.sites` and every outcome's server are what the host will do. A change is kept only
/// when every VM still fits under one-at-a-time MESF.
pub fn run(
    batch: &mut Batch,
    start: Vec<Site>,
    green: &[bool],
    out: &mut [Outcome],
    p: &HeuristicParams,
    c: &mut Counters,
) {
    let n_sites = start.len();
    let at: Vec<Option<usize>> = out
        .iter()
        .map(|o| match o {
            Outcome::Placed { site, .. } => Some(*site),
            Outcome::Unplaced => None,
        })
        .collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_sites];
    for (r, a) in at.iter().enumerate() {
        if let Some(j) = a {
            members[*j].push(r);
        }
    }
    let moved = {
        let mut ctx = Ctx {
            batch,
            start: &start,
            base: start.iter().map(Base::of).collect(),
            scratch: start.clone(),
            end: start.clone(),
            end_added_w: vec![0.0; n_sites],
            p,
        };
        for (j, m) in members.iter().enumerate() {
            ctx.settle(j, m);
        }
        let cost = (0..n_sites)
            .map(|j| ctx.cost(j, &members[j]).unwrap_or(f64::INFINITY))
            .collect();
        let mut st = State {
            moved: vec![false; at.len()],
            at,
            members,
            cost,
        };
        let swap = p.improve_swaps || st.at.len() >= p.improve_swaps_from_vms;
        for _ in 0..p.improve_passes {
            let mut improved = moves(&mut ctx, &mut st);
            if swap {
                improved |= swaps(&mut ctx, &mut st);
            }
            if !improved {
                break;
            }
        }
        st
    };
    // Replay: the state and servers the host will reach applying the batch in request order.
    batch.sites = start;
    for (r, a) in moved.at.iter().enumerate() {
        let d = batch.vms[r].demand;
        let placed = a.and_then(|j| batch.sites[j].mesf(&d).map(|(i, dw)| (j, i, dw)));
        out[r] = match placed {
            Some((j, i, dw)) => {
                batch.sites[j].reserve(i, &d);
                c.moved += u64::from(moved.moved[r]);
                let was_green =
                    matches!(out[r], Outcome::Placed { green: true, site, .. } if site == j);
                Outcome::Placed {
                    site: j,
                    server: i,
                    green: was_green || (moved.moved[r] && green[j]),
                    delta_facility_w: dw * batch.sites[j].pue,
                }
            }
            None => Outcome::Unplaced,
        };
    }
}
