//! The heuristic's placement of a batch as HiGHS's starting incumbent (`warm_start`): every
//! column of the model set from it, so a time-limited solve is never worse than the heuristic.

use super::pool::Pool;
use crate::heuristic::{self, Outcome};
use crate::objective::{is_off, linear, linear_delta_w};
use crate::params::{HeuristicParams, MilpParams};
use crate::request::Batch;

/// The columns of a built model, for the warm start.
pub struct Cols<'a> {
    pub per_vm: &'a [Vec<(usize, usize, highs::Col)>],
    pub z: &'a [Vec<(usize, highs::Col)>],
    pub pools: &'a [Pool],
    pub b: &'a [Option<highs::Col>],
    pub f: &'a [highs::Col],
}

/// The heuristic's placement of the batch as a full column vector: y and z from its servers
/// (a newly switched-on server mapped to the model's first off candidates of its type, in
/// order, as the symmetry rows require), b from the linear power, f for the VMs it leaves out.
pub fn warm_start(batch: &Batch, p: &MilpParams, cols: &Cols, n_cols: usize) -> Vec<f64> {
    let mut x = vec![0.0; n_cols];
    let hp = HeuristicParams {
        latency_threshold_ms: p.latency_threshold_ms,
        weights: p.weights,
        ..HeuristicParams::default()
    };
    let mut hb = batch.clone();
    let (out, _) = heuristic::dispatch(&mut hb, &hp);
    // Per site, the heuristic's off servers in index order get the model's off candidates of
    // the same type in order.
    let mut map: Vec<std::collections::HashMap<usize, usize>> =
        vec![Default::default(); batch.sites.len()];
    let mut added_w = vec![0.0; batch.sites.len()];
    let mut used: Vec<Vec<usize>> = batch.sites.iter().map(|s| vec![0; s.types.len()]).collect();
    let mut order: Vec<(usize, usize, usize)> = out
        .iter()
        .enumerate()
        .filter_map(|(r, o)| match o {
            Outcome::Placed { site, server, .. } => Some((*site, *server, r)),
            Outcome::Unplaced => None,
        })
        .collect();
    order.sort_unstable();
    let mut placed = vec![false; batch.vms.len()];
    let mut pool_on: Vec<std::collections::BTreeSet<usize>> =
        vec![Default::default(); cols.pools.len()];
    for (j, i, r) in order {
        let site = &batch.sites[j];
        if is_off(site, i) {
            let k = site.servers[i].kind;
            let pool = cols
                .pools
                .iter()
                .position(|q| q.site == j && site.servers[q.servers[0]].kind == k);
            if let Some(q) = pool {
                // A pool takes the VM while it has servers left for the heuristic's ones.
                let on = &mut pool_on[q];
                let pool = &cols.pools[q];
                if !on.contains(&i) && on.len() >= pool.servers.len() {
                    continue;
                }
                if let Some((_, col)) = pool.xs.iter().find(|(v, _)| *v == r) {
                    on.insert(i);
                    x[col.index()] = 1.0;
                    placed[r] = true;
                }
                continue;
            }
        }
        let target = if is_off(site, i) {
            let k = site.servers[i].kind;
            match map[j].get(&i) {
                Some(&m) => Some(m),
                None => {
                    let m = cols.z[j]
                        .iter()
                        .filter(|(c, _)| site.servers[*c].kind == k)
                        .nth(used[j][k])
                        .map(|(c, _)| *c);
                    if let Some(m) = m {
                        used[j][k] += 1;
                        map[j].insert(i, m);
                    }
                    m
                }
            }
        } else {
            Some(i)
        };
        let Some(t) = target else { continue };
        let Some((_, _, y)) = cols.per_vm[r].iter().find(|(a, b, _)| *a == j && *b == t) else {
            continue;
        };
        x[y.index()] = 1.0;
        placed[r] = true;
    }
    // The linear power added per site (what the b rows see), and z for the servers used.
    for (r, ys) in cols.per_vm.iter().enumerate() {
        for (j, i, y) in ys {
            if x[y.index()] > 0.5 {
                let site = &batch.sites[*j];
                let (_, slope) = linear(&site.types[site.servers[*i].kind]);
                added_w[*j] += slope * batch.vms[r].demand.cpu * site.pue;
            }
        }
    }
    for (j, zs) in cols.z.iter().enumerate() {
        let site = &batch.sites[j];
        for (i, z) in zs {
            if map[j].values().any(|m| m == i) {
                x[z.index()] = 1.0;
                added_w[j] += (linear_delta_w(site, *i, 0.0)) * site.pue;
            }
        }
    }
    for (q, pool) in cols.pools.iter().enumerate() {
        let site = &batch.sites[pool.site];
        let (idle, _) = linear(&site.types[site.servers[pool.servers[0]].kind]);
        x[pool.n.index()] = pool_on[q].len() as f64;
        added_w[pool.site] += idle * pool_on[q].len() as f64 * site.pue;
    }
    for (j, b) in cols.b.iter().enumerate() {
        if let Some(b) = b {
            let site = &batch.sites[j];
            x[b.index()] = (site.facility_w() + added_w[j] - site.renewable_w).max(0.0);
        }
    }
    for (r, f) in cols.f.iter().enumerate() {
        if !placed[r] {
            x[f.index()] = 1.0;
        }
    }
    x
}
