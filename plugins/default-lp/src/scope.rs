//! Which services a re-placement has to touch, and a lower bound on how many must move: the
//! residents of overfull clusters, plus services that are new, orphaned or split from their group.
//!
//! For each overfull cluster f a tiny integer program gives k_f, the fewest services among its
//! residents whose departure makes the rest fit in every dimension. Any re-placement moves at least
//! Σ k_f + (forced moves) services, because arrivals only add to f's excess; a solution meeting
//! this bound moves the minimum number of services over the whole model, not only the restricted one.

use crate::instance::{add, dims, Current, Instance};
use crate::solver::{Milp, SolveOptions};
use smo_plugin_api::prelude::*;

/// "Residents of `cluster` with at least `k` services in total leave it" (units weighted by
/// their number of services).
#[derive(Debug, Clone)]
pub struct DepartureBound {
    pub cluster: usize,
    pub residents: Vec<usize>,
    pub k: usize,
}

/// The analysis of a re-placement request.
#[derive(Debug, Clone)]
pub struct Scope {
    /// For each unit: whether the restricted model may move it.
    pub movable: Vec<bool>,
    /// For each unit: the cluster all its members run on now, if that cluster may still hold it.
    pub settled: Vec<Option<usize>>,
    pub bounds: Vec<DepartureBound>,
    /// A lower bound on the number of services any re-placement moves.
    pub min_moves: usize,
    pub overfull_clusters: usize,
}

impl Scope {
    /// `candidate(u, e)`: whether cluster e may hold unit u at all (the static filter).
    pub fn analyse(
        inst: &Instance<'_>,
        candidate: impl Fn(usize, usize) -> bool,
        options: &SolveOptions,
    ) -> Scope {
        let n = inst.units.len();
        let mut movable = vec![false; n];
        let mut settled = vec![None; n];
        let mut min_moves = 0usize;
        for (u, unit) in inst.units.iter().enumerate() {
            let mut counts: Vec<(usize, usize)> = Vec::new();
            let mut vanished = 0usize;
            for &s in &unit.members {
                match inst.current[s] {
                    Current::On(f) => match counts.iter_mut().find(|(e, _)| *e == f) {
                        Some((_, c)) => *c += 1,
                        None => counts.push((f, 1)),
                    },
                    Current::Vanished(_) => vanished += 1,
                    Current::New => {}
                }
            }
            let placed: usize = counts.iter().map(|&(_, c)| c).sum();
            let all_on_one = counts.len() == 1 && vanished == 0 && placed == unit.members.len();
            match counts.first() {
                Some(&(f, _)) if all_on_one && candidate(u, f) => settled[u] = Some(f),
                _ => {
                    movable[u] = true;
                    // Members on clusters other than the one holding most of them must move.
                    let best = counts
                        .iter()
                        .filter(|&&(f, _)| candidate(u, f))
                        .map(|&(_, c)| c)
                        .max()
                        .unwrap_or(0);
                    min_moves += vanished + placed - best;
                }
            }
        }

        let mut bounds = Vec::new();
        for (f, cluster) in inst.clusters.iter().enumerate() {
            let residents: Vec<usize> = (0..n).filter(|&u| settled[u] == Some(f)).collect();
            let load = residents.iter().fold(Resources::default(), |acc, &u| {
                add(&acc, &inst.units[u].total)
            });
            if cluster.available.fits(&load) {
                continue;
            }
            for &u in &residents {
                movable[u] = true;
            }
            let k = min_evictions(inst, &residents, &cluster.available, options);
            min_moves += k;
            bounds.push(DepartureBound {
                cluster: f,
                residents,
                k,
            });
        }
        let overfull_clusters = bounds.len();
        Scope {
            movable,
            settled,
            bounds,
            min_moves,
            overfull_clusters,
        }
    }
}

/// The fewest services (units weighted by size) among `residents` to evict so that the others
/// fit `available`; exact (a small MILP), with a per-dimension largest-first bound as fallback.
fn min_evictions(
    inst: &Instance<'_>,
    residents: &[usize],
    available: &Resources,
    options: &SolveOptions,
) -> usize {
    let greedy = largest_first_bound(inst, residents, available);
    // The common case needs no solver: a greedy eviction that meets the lower bound is optimal.
    if greedy_evictions(inst, residents, available) == greedy {
        return greedy;
    }
    // A gap tolerance could overstate k and cut off optimal solutions: solve to optimality.
    let options = SolveOptions {
        mip_rel_gap: 0.0,
        accept_incumbent: false,
        ..*options
    };
    let mut milp = Milp::new();
    let evict: Vec<_> = residents
        .iter()
        .map(|&u| milp.binary(inst.units[u].members.len() as f64))
        .collect();
    for (d, &limit) in dims(available).iter().enumerate() {
        // Σ (1 - y_u) d_u <= limit  <=>  Σ d_u y_u >= Σ d_u - limit
        let size = |u: usize| dims(&inst.units[u].total)[d];
        let total: f64 = residents.iter().map(|&u| size(u)).sum();
        if total <= limit + 1e-9 {
            continue;
        }
        let terms: Vec<_> = residents
            .iter()
            .zip(&evict)
            .map(|(&u, &y)| (y, size(u)))
            .collect();
        milp.row(total - limit, f64::INFINITY, &terms);
    }
    match milp.solve(&options) {
        Ok(solved) => {
            let exact: usize = residents
                .iter()
                .zip(&evict)
                .filter(|&(_, &y)| solved.value(y) > 0.5)
                .map(|(&u, _)| inst.units[u].members.len())
                .sum();
            exact.max(greedy)
        }
        Err(_) => greedy,
    }
}

/// The services (units weighted by size) a greedy eviction removes until the other residents fit
/// `available`: each step evicts the unit that clears the largest share of the remaining excess,
/// summed over the dimensions. An upper bound on the fewest evictions.
fn greedy_evictions(inst: &Instance<'_>, residents: &[usize], available: &Resources) -> usize {
    let limits = dims(available);
    let mut excess = [0.0f64; 3];
    for &u in residents {
        for (d, size) in dims(&inst.units[u].total).iter().enumerate() {
            excess[d] += size;
        }
    }
    for (d, limit) in limits.iter().enumerate() {
        excess[d] -= limit;
    }
    let mut left: Vec<usize> = residents.to_vec();
    let mut evicted = 0;
    while excess.iter().any(|&x| x > 1e-9) {
        let cleared = |u: usize| -> f64 {
            dims(&inst.units[u].total)
                .iter()
                .zip(&excess)
                .filter(|&(_, &x)| x > 1e-9)
                .map(|(&size, &x)| size.min(x) / x)
                .sum()
        };
        let Some((i, _)) = left
            .iter()
            .enumerate()
            .map(|(i, &u)| (i, cleared(u)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return usize::MAX; // even evicting every resident does not clear the excess
        };
        let u = left.swap_remove(i);
        for (d, size) in dims(&inst.units[u].total).iter().enumerate() {
            excess[d] -= size;
        }
        evicted += inst.units[u].members.len();
    }
    evicted
}

/// Per dimension, the number of residents to remove largest-first to clear the excess; the
/// maximum over dimensions is a valid lower bound (each unit counts at least one service).
fn largest_first_bound(inst: &Instance<'_>, residents: &[usize], available: &Resources) -> usize {
    let mut k = 0;
    for (d, &limit) in dims(available).iter().enumerate() {
        let mut sizes: Vec<f64> = residents
            .iter()
            .map(|&u| dims(&inst.units[u].total)[d])
            .collect();
        let excess = sizes.iter().sum::<f64>() - limit;
        if excess <= 1e-9 {
            continue;
        }
        sizes.sort_by(|x, y| y.total_cmp(x));
        let mut removed = 0.0;
        let mut count = 0;
        for size in sizes {
            if removed >= excess - 1e-9 {
                break;
            }
            removed += size;
            count += 1;
        }
        k = k.max(count);
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::testing::*;

    fn options() -> SolveOptions {
        SolveOptions {
            time_limit_s: 10.0,
            mip_rel_gap: 1e-6,
            accept_incumbent: false,
        }
    }

    #[test]
    fn overfull_clusters_make_their_residents_movable_and_bound_the_moves() {
        // y (4 CPU, 4 GiB) holds a, b, c, d: 6 CPU and 6 GiB. x holds e and is fine.
        let request = placement_request(
            graph_of(vec![
                service("a", 3.0, 1024.0, 0),
                service("b", 1.0, 1024.0, 0),
                service("c", 1.0, 1024.0, 0),
                service("d", 1.0, 3072.0, 0),
                service("e", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 8192.0, 0), cluster("y", 4.0, 4096.0, 0)],
            Some(vec![
                ("a", "y", 1),
                ("b", "y", 1),
                ("c", "y", 1),
                ("d", "y", 1),
                ("e", "x", 1),
            ]),
        );
        let inst = Instance::new(&request).expect("valid");
        let scope = Scope::analyse(&inst, |_, _| true, &options());
        assert_eq!(scope.movable, vec![true, true, true, true, false]);
        assert_eq!(scope.settled[4], Some(0));
        // CPU excess 2 (evict a); memory excess 2048 (evict d, or two 1 GiB ones). Largest-first
        // per dimension says 1, but no single service clears both: the exact bound is 2.
        assert_eq!(scope.bounds.len(), 1);
        assert_eq!(scope.bounds[0].k, 2);
        assert_eq!(scope.min_moves, 2);
        assert_eq!(
            largest_first_bound(
                &inst,
                &scope.bounds[0].residents,
                &inst.clusters[1].available
            ),
            1
        );
    }

    #[test]
    fn a_greedy_eviction_meeting_the_lower_bound_gives_the_bound_without_a_solver() {
        // y (4 CPU) holds a (3), b (2), c (1): 2 CPU too many. Evicting a alone clears it.
        let request = placement_request(
            graph_of(vec![
                service("a", 3.0, 100.0, 0),
                service("b", 2.0, 100.0, 0),
                service("c", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 8192.0, 0), cluster("y", 4.0, 8192.0, 0)],
            Some(vec![("a", "y", 1), ("b", "y", 1), ("c", "y", 1)]),
        );
        let inst = Instance::new(&request).expect("valid");
        let y = &inst.clusters[1].available;
        assert_eq!(greedy_evictions(&inst, &[0, 1, 2], y), 1);
        assert_eq!(largest_first_bound(&inst, &[0, 1, 2], y), 1);
        let scope = Scope::analyse(&inst, |_, _| true, &options());
        assert_eq!(scope.bounds[0].k, 1);
        assert_eq!(scope.min_moves, 1);
        // The case of the test above, where one dimension each favours another unit: the greedy
        // needs two evictions, more than the per-dimension bound of one, so the solver decides.
        let request = placement_request(
            graph_of(vec![
                service("a", 3.0, 1024.0, 0),
                service("d", 1.0, 3072.0, 0),
            ]),
            vec![cluster("y", 2.0, 2048.0, 0)],
            Some(vec![("a", "y", 1), ("d", "y", 1)]),
        );
        let inst = Instance::new(&request).expect("valid");
        assert_eq!(
            greedy_evictions(&inst, &[0, 1], &inst.clusters[0].available),
            2
        );
    }

    #[test]
    fn new_vanished_and_split_units_are_movable() {
        let request = placement_request(
            graph_of(vec![
                service("new", 1.0, 1.0, 0),
                service("orphan", 1.0, 1.0, 0),
                service("p", 1.0, 1.0, 0).requires("q"),
                service("q", 1.0, 1.0, 0),
            ]),
            vec![cluster("x", 8.0, 8192.0, 0), cluster("y", 8.0, 8192.0, 0)],
            Some(vec![("orphan", "gone", 1), ("p", "x", 1), ("q", "y", 1)]),
        );
        let inst = Instance::new(&request).expect("valid");
        let scope = Scope::analyse(&inst, |_, _| true, &options());
        assert_eq!(scope.movable, vec![true, true, true]);
        // The orphan moves; one of p, q moves; the new service is free.
        assert_eq!(scope.min_moves, 2);
        assert!(scope.bounds.is_empty());
    }
}
