//! The integer-program core both MILP placements share: a 0/1 variable per (unit, cluster) pair
//! that can hold the unit, one cluster per unit, CPU/memory/GPU capacity, preferred-split terms.
//!
//! Variables `z[u][e]` exist only for pairs that pass the static filter (allowed clusters, GPU
//! present, the unit alone fits `available`); the filtered pairs become the decision's rejections.
//! A `Preferred` dependency (a, b) gets a continuous `p ∈ [0, 1]` with `p >= z[ua][e] - z[ub][e]`
//! for every cluster e of `ua` (or `p >= 1 - z[ub][f]` when `ua` can only be on f), so `p = 1`
//! exactly when the two are split; its cost is `w_dep`.

use crate::instance::{dims, Instance};
use crate::report::Rejections;
use crate::scope::DepartureBound;
use crate::solver::{Milp, SolveError, SolveOptions, Solved};
use highs::Col;
use smo_plugin_api::prelude::*;

/// The shared model, ready for extra rows or columns before [`AssignmentModel::solve`].
pub struct AssignmentModel<'i, 'a> {
    pub inst: &'i Instance<'a>,
    pub milp: Milp,
    /// For each unit, its candidate clusters and their variables.
    pub z: Vec<Vec<(usize, Col)>>,
    /// For each preferred pair of `inst.preferred`, its split variable (none when `w_dep` = 0).
    pub splits: Vec<Col>,
}

/// A solved assignment: the cluster index of each unit.
#[derive(Debug)]
pub struct Assigned {
    pub unit_cluster: Vec<usize>,
    pub solved: Solved,
    pub split_preferred: usize,
}

impl<'i, 'a> AssignmentModel<'i, 'a> {
    /// Builds variables and constraints; `cost(u, e)` is the objective coefficient of `z[u][e]`.
    pub fn build(
        inst: &'i Instance<'a>,
        w_dep: f64,
        rejections: &mut Rejections,
        cost: impl Fn(usize, usize) -> f64,
    ) -> Result<Self, PluginError> {
        Self::build_restricted(inst, w_dep, rejections, cost, |_, _| true)
    }

    /// Like [`AssignmentModel::build`], with only the pairs `allow(u, e)` as variables (on top
    /// of the static filter); other pairs are neither variables nor rejections.
    pub fn build_restricted(
        inst: &'i Instance<'a>,
        w_dep: f64,
        rejections: &mut Rejections,
        cost: impl Fn(usize, usize) -> f64,
        allow: impl Fn(usize, usize) -> bool,
    ) -> Result<Self, PluginError> {
        let mut milp = Milp::new();
        let mut z: Vec<Vec<(usize, Col)>> = Vec::with_capacity(inst.units.len());
        for (u, unit) in inst.units.iter().enumerate() {
            let mut candidates = Vec::new();
            for (e, cluster) in inst.clusters.iter().enumerate() {
                match inst.why_not(u, e, &cluster.available) {
                    None if allow(u, e) => candidates.push((e, milp.binary(cost(u, e)))),
                    None => {}
                    Some(why) => {
                        for &s in &unit.members {
                            rejections.push(s, e, why);
                        }
                    }
                }
            }
            if candidates.is_empty() {
                return Err(PluginError::infeasible(format!(
                    "{} fits no cluster even on its own",
                    inst.unit_label(u)
                )));
            }
            // (C1) exactly one cluster per unit.
            let terms: Vec<(Col, f64)> = candidates.iter().map(|&(_, c)| (c, 1.0)).collect();
            milp.row(1.0, 1.0, &terms);
            z.push(candidates);
        }

        // (C2) CPU, memory and GPU capacity per cluster, over the graph's available resources.
        let mut per_cluster: Vec<Vec<(usize, Col)>> = vec![Vec::new(); inst.clusters.len()];
        for (u, candidates) in z.iter().enumerate() {
            for &(e, col) in candidates {
                per_cluster[e].push((u, col));
            }
        }
        for (e, vars) in per_cluster.iter().enumerate() {
            let limits = dims(&inst.clusters[e].available);
            for (d, &limit) in limits.iter().enumerate() {
                let terms: Vec<(Col, f64)> = vars
                    .iter()
                    .map(|&(u, col)| (col, dims(&inst.units[u].total)[d]))
                    .filter(|&(_, demand)| demand > 0.0)
                    .collect();
                let total: f64 = terms.iter().map(|&(_, demand)| demand).sum();
                if total > limit + 1e-9 {
                    milp.row(f64::NEG_INFINITY, limit, &terms);
                }
            }
        }

        // Preferred dependencies: penalise a split. When one side has a single candidate f,
        // "split" is exactly 1 - z[other][f]: one row instead of one per cluster.
        let mut splits = Vec::new();
        if w_dep > 0.0 {
            for &(a, b) in &inst.preferred {
                let (ua, ub) = (inst.unit_of[a], inst.unit_of[b]);
                let p = milp.continuous(w_dep, 0.0, 1.0);
                let (single, other) = match (z[ua].as_slice(), z[ub].as_slice()) {
                    ([only], _) => (Some(only.0), ub),
                    (_, [only]) => (Some(only.0), ua),
                    _ => (None, ua),
                };
                if let Some(f) = single {
                    // p + z[other][f] >= 1 (no variable at f: the pair is always split).
                    let mut terms = vec![(p, 1.0)];
                    if let Some(&(_, zf)) = z[other].iter().find(|&&(e, _)| e == f) {
                        terms.push((zf, 1.0));
                    }
                    milp.row(1.0, f64::INFINITY, &terms);
                } else {
                    for &(e, za) in &z[ua] {
                        let mut terms = vec![(p, 1.0), (za, -1.0)];
                        if let Some(&(_, zb)) = z[ub].iter().find(|&&(f, _)| f == e) {
                            terms.push((zb, 1.0));
                        }
                        milp.row(0.0, f64::INFINITY, &terms);
                    }
                }
                splits.push(p);
            }
        }
        Ok(Self {
            inst,
            milp,
            z,
            splits,
        })
    }

    /// Adds the valid inequalities of [`crate::scope::Scope`]: residents totalling at least k
    /// services leave, i.e. Σ size_u · z[u][f] <= Σ size_u - k over f's residents.
    pub fn add_departure_bounds(&mut self, bounds: &[DepartureBound]) {
        for bound in bounds {
            let size = |u: usize| self.inst.units[u].members.len() as f64;
            let terms: Vec<(Col, f64)> = bound
                .residents
                .iter()
                .filter_map(|&u| {
                    self.z[u]
                        .iter()
                        .find(|&&(e, _)| e == bound.cluster)
                        .map(|&(_, col)| (col, size(u)))
                })
                .collect();
            if !terms.is_empty() {
                let total: f64 = bound.residents.iter().map(|&u| size(u)).sum();
                self.milp
                    .row(f64::NEG_INFINITY, total - bound.k as f64, &terms);
            }
        }
    }

    /// Column values for the assignment `unit_cluster` (a feasible solution to start from).
    pub fn hint(&self, unit_cluster: &[usize]) -> Vec<f64> {
        let mut values = vec![0.0; self.milp.num_cols()];
        for (u, candidates) in self.z.iter().enumerate() {
            for &(e, col) in candidates {
                if unit_cluster.get(u) == Some(&e) {
                    values[col.index()] = 1.0;
                }
            }
        }
        for (&(a, b), &p) in self.inst.preferred.iter().zip(&self.splits) {
            let (ua, ub) = (self.inst.unit_of[a], self.inst.unit_of[b]);
            if unit_cluster.get(ua) != unit_cluster.get(ub) {
                values[p.index()] = 1.0;
            }
        }
        values
    }

    /// Solves, reads one cluster per unit, and re-checks capacities on the rounded solution.
    pub fn solve(self, options: &SolveOptions) -> Result<Assigned, SolveError> {
        self.solve_from(options, None)
    }

    /// [`AssignmentModel::solve`] starting from the feasible assignment `start`, if any.
    pub fn solve_from(
        self,
        options: &SolveOptions,
        start: Option<&[usize]>,
    ) -> Result<Assigned, SolveError> {
        let hint = start.map(|s| self.hint(s));
        let Self { inst, milp, z, .. } = self;
        let solved = milp.solve_from(options, hint.as_deref())?;
        let mut unit_cluster = Vec::with_capacity(z.len());
        for (u, candidates) in z.iter().enumerate() {
            let chosen: Vec<usize> = candidates
                .iter()
                .filter(|&&(_, col)| solved.value(col) > 0.5)
                .map(|&(e, _)| e)
                .collect();
            match chosen.as_slice() {
                [e] => unit_cluster.push(*e),
                other => {
                    return Err(SolveError::Failed(format!(
                        "solution puts {} on {} clusters",
                        inst.unit_label(u),
                        other.len()
                    )))
                }
            }
        }
        let mut used = vec![Resources::default(); inst.clusters.len()];
        for (u, &e) in unit_cluster.iter().enumerate() {
            used[e] = crate::instance::add(&used[e], &inst.units[u].total);
        }
        for (e, used) in used.iter().enumerate() {
            let a = &inst.clusters[e].available;
            let tolerance = 1e-6 * (1.0 + a.cpu.abs().max(a.memory_mib.abs()));
            if used.cpu > a.cpu + tolerance
                || used.memory_mib > a.memory_mib + tolerance
                || used.gpu > a.gpu
            {
                return Err(SolveError::Failed(format!(
                    "rounded solution overfills cluster `{}`",
                    inst.clusters[e].name
                )));
            }
        }
        let split_preferred = inst
            .preferred
            .iter()
            .filter(|&&(a, b)| unit_cluster[inst.unit_of[a]] != unit_cluster[inst.unit_of[b]])
            .count();
        Ok(Assigned {
            unit_cluster,
            solved,
            split_preferred,
        })
    }
}

impl Assigned {
    /// One assignment per service, in descriptor order.
    pub fn assignments(&self, inst: &Instance<'_>) -> RVec<Assignment> {
        inst.services
            .iter()
            .enumerate()
            .map(|(s, service)| Assignment {
                service: service.name.as_str().into(),
                cluster: inst.clusters[self.unit_cluster[inst.unit_of[s]]]
                    .name
                    .clone(),
                replicas: service.replicas,
            })
            .collect()
    }

    /// The cluster index of service `s`.
    pub fn cluster_of(&self, inst: &Instance<'_>, s: usize) -> usize {
        self.unit_cluster[inst.unit_of[s]]
    }
}
