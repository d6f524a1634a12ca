//! The integer-program core both MILP placements share: a 0/1 variable per (unit, cluster) pair
//! that can hold the unit, one cluster per unit, CPU/memory/GPU capacity, preferred-split terms.
//!
//! Variables `z[u][e]` exist only for pairs that pass the static filter (allowed clusters, GPU
//! present, the unit alone fits `available`); the filtered pairs become the decision's rejections.
//! A unit with a single candidate f is no variable: it is *fixed* on f, its demand comes off f's
//! capacity and its cost goes into a constant (most units of a restricted re-placement are).
//! A `Preferred` dependency (a, b) gets a continuous `p ∈ [0, 1]` with `p >= z[ua][e] - z[ub][e]`
//! for every cluster e of `ua`, so `p = 1` exactly when the two are split; its cost is `w_dep`.
//! When `ub` is fixed on f the split is `1 - z[ua][f]`, folded into the costs (no `p`).

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
    /// For each unit, its candidate clusters and their variables (none for a fixed unit).
    pub z: Vec<Vec<(usize, Col)>>,
    /// For each unit with a single candidate cluster, that cluster.
    pub fixed: Vec<Option<usize>>,
    /// For each preferred pair of `inst.preferred`, its split variable, if it has one (not when
    /// `w_dep` = 0 or a side is fixed).
    pub splits: Vec<Option<Col>>,
    /// The objective's constant part: costs of fixed units and splits they decide.
    offset: f64,
    /// Set when the fixed units alone overfill a cluster (no solve needed to say infeasible).
    overfilled: bool,
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
        let n_units = inst.units.len();
        let mut candidates: Vec<Vec<usize>> = Vec::with_capacity(n_units);
        for (u, unit) in inst.units.iter().enumerate() {
            let mut list = Vec::new();
            for (e, cluster) in inst.clusters.iter().enumerate() {
                match inst.why_not(u, e, &cluster.available) {
                    None if allow(u, e) => list.push(e),
                    None => {}
                    Some(why) => {
                        for &s in &unit.members {
                            rejections.push(s, e, why);
                        }
                    }
                }
            }
            if list.is_empty() {
                return Err(PluginError::infeasible(format!(
                    "{} fits no cluster even on its own",
                    inst.unit_label(u)
                )));
            }
            candidates.push(list);
        }
        let fixed: Vec<Option<usize>> = candidates
            .iter()
            .map(|list| match list.as_slice() {
                [only] => Some(*only),
                _ => None,
            })
            .collect();

        // Preferred pairs with a fixed side: w_dep · (1 - z[other][f]) is folded into the costs;
        // with both sides fixed the split is a constant.
        let mut offset = 0.0;
        let mut bonus: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_units];
        if w_dep > 0.0 {
            for &(a, b) in &inst.preferred {
                let (ua, ub) = (inst.unit_of[a], inst.unit_of[b]);
                match (fixed[ua], fixed[ub]) {
                    (Some(fa), Some(fb)) => {
                        if fa != fb {
                            offset += w_dep;
                        }
                    }
                    (Some(f), None) | (None, Some(f)) => {
                        let other = if fixed[ua].is_some() { ub } else { ua };
                        offset += w_dep;
                        if candidates[other].contains(&f) {
                            bonus[other].push((f, -w_dep));
                        }
                    }
                    (None, None) => {}
                }
            }
        }

        let mut milp = Milp::new();
        let mut z: Vec<Vec<(usize, Col)>> = Vec::with_capacity(n_units);
        let mut used = vec![Resources::default(); inst.clusters.len()];
        for (u, list) in candidates.iter().enumerate() {
            if let Some(f) = fixed[u] {
                offset += cost(u, f);
                used[f] = crate::instance::add(&used[f], &inst.units[u].total);
                z.push(Vec::new());
                continue;
            }
            let vars: Vec<(usize, Col)> = list
                .iter()
                .map(|&e| {
                    let extra: f64 = bonus[u]
                        .iter()
                        .filter(|&&(f, _)| f == e)
                        .map(|&(_, b)| b)
                        .sum();
                    (e, milp.binary(cost(u, e) + extra))
                })
                .collect();
            // (C1) exactly one cluster per unit.
            let terms: Vec<(Col, f64)> = vars.iter().map(|&(_, c)| (c, 1.0)).collect();
            milp.row(1.0, 1.0, &terms);
            z.push(vars);
        }

        // (C2) CPU, memory and GPU capacity per cluster, over the graph's available resources
        // less what the fixed units take.
        let mut overfilled = false;
        let mut per_cluster: Vec<Vec<(usize, Col)>> = vec![Vec::new(); inst.clusters.len()];
        for (u, vars) in z.iter().enumerate() {
            for &(e, col) in vars {
                per_cluster[e].push((u, col));
            }
        }
        for (e, vars) in per_cluster.iter().enumerate() {
            let limits = dims(&inst.clusters[e].available);
            let taken = dims(&used[e]);
            for (d, &limit) in limits.iter().enumerate() {
                let left = limit - taken[d];
                let terms: Vec<(Col, f64)> = vars
                    .iter()
                    .map(|&(u, col)| (col, dims(&inst.units[u].total)[d]))
                    .filter(|&(_, demand)| demand > 0.0)
                    .collect();
                if left < -1e-9 {
                    overfilled = true;
                }
                let total: f64 = terms.iter().map(|&(_, demand)| demand).sum();
                if total > left + 1e-9 && !terms.is_empty() {
                    milp.row(f64::NEG_INFINITY, left, &terms);
                }
            }
        }

        // Preferred dependencies between two movable units: p >= z[ua][e] - z[ub][e].
        let mut splits = vec![None; inst.preferred.len()];
        if w_dep > 0.0 {
            for (i, &(a, b)) in inst.preferred.iter().enumerate() {
                let (ua, ub) = (inst.unit_of[a], inst.unit_of[b]);
                if fixed[ua].is_some() || fixed[ub].is_some() {
                    continue;
                }
                let p = milp.continuous(w_dep, 0.0, 1.0);
                for &(e, za) in &z[ua] {
                    let mut terms = vec![(p, 1.0), (za, -1.0)];
                    if let Some(&(_, zb)) = z[ub].iter().find(|&&(f, _)| f == e) {
                        terms.push((zb, 1.0));
                    }
                    milp.row(0.0, f64::INFINITY, &terms);
                }
                splits[i] = Some(p);
            }
        }
        Ok(Self {
            inst,
            milp,
            z,
            fixed,
            splits,
            offset,
            overfilled,
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
            let total: f64 = bound.residents.iter().map(|&u| size(u)).sum();
            let staying: f64 = bound
                .residents
                .iter()
                .filter(|&&u| self.fixed[u] == Some(bound.cluster))
                .map(|&u| size(u))
                .sum();
            let limit = total - bound.k as f64 - staying;
            if !terms.is_empty() {
                self.milp.row(f64::NEG_INFINITY, limit, &terms);
            } else if limit < -1e-9 {
                self.overfilled = true;
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
        for (&(a, b), p) in self.inst.preferred.iter().zip(&self.splits) {
            let (ua, ub) = (self.inst.unit_of[a], self.inst.unit_of[b]);
            if let Some(p) = p {
                if unit_cluster.get(ua) != unit_cluster.get(ub) {
                    values[p.index()] = 1.0;
                }
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
        if self.overfilled {
            return Err(SolveError::Infeasible);
        }
        let hint = start.map(|s| self.hint(s));
        let Self {
            inst,
            milp,
            z,
            fixed,
            offset,
            ..
        } = self;
        let mut solved = milp.solve_from(options, hint.as_deref())?;
        solved.objective += offset;
        let mut unit_cluster = Vec::with_capacity(z.len());
        for (u, candidates) in z.iter().enumerate() {
            if let Some(f) = fixed[u] {
                unit_cluster.push(f);
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::testing::*;

    fn options() -> SolveOptions {
        SolveOptions {
            time_limit_s: 10.0,
            mip_rel_gap: 0.0,
            accept_incumbent: false,
        }
    }

    fn request() -> PlacementRequest {
        // a can only go to x (allowed clusters), b prefers a and may go anywhere.
        placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0).allowed(&["x"]),
                service("b", 1.0, 100.0, 0).prefers("a"),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        )
    }

    #[test]
    fn a_unit_with_one_candidate_is_fixed_and_its_splits_are_folded_into_costs() {
        let request = request();
        let inst = Instance::new(&request).expect("valid");
        let mut rejections = Rejections::new(10);
        // Costs: a 5 anywhere (a constant once fixed), b 0 on x and 0.05 on y.
        let model = AssignmentModel::build(&inst, 1.0, &mut rejections, |u, e| {
            if u == 0 {
                5.0
            } else {
                0.05 * e as f64
            }
        })
        .expect("built");
        assert_eq!(model.fixed, vec![Some(0), None]);
        assert!(model.z[0].is_empty());
        assert_eq!(model.splits, vec![None]);
        // Two columns (b on x or y), one row (b on one cluster): no split variable.
        assert_eq!((model.milp.num_cols(), model.milp.num_rows()), (2, 1));
        let assigned = model.solve(&options()).expect("optimal");
        assert_eq!(assigned.unit_cluster, vec![0, 0]);
        assert_eq!(assigned.split_preferred, 0);
        // 5 (a) + 0 (b on x, not split): the constant is part of the objective.
        assert!((assigned.solved.objective - 5.0).abs() < 1e-9);
    }

    #[test]
    fn fixed_units_alone_overfilling_a_cluster_make_the_model_infeasible_without_a_solve() {
        let request = placement_request(
            graph_of(vec![
                service("a", 3.0, 100.0, 0).allowed(&["x"]),
                service("b", 3.0, 100.0, 0).allowed(&["x"]),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let inst = Instance::new(&request).expect("valid");
        let model =
            AssignmentModel::build(&inst, 0.1, &mut Rejections::new(0), |_, _| 0.0).expect("built");
        assert_eq!((model.milp.num_cols(), model.milp.num_rows()), (0, 0));
        let error = model
            .solve(&options())
            .expect_err("6 CPU on a 4 CPU cluster");
        assert_eq!(error, SolveError::Infeasible);
    }

    #[test]
    fn a_model_of_fixed_units_that_fit_is_solved_without_highs() {
        let request = placement_request(
            graph_of(vec![service("a", 1.0, 100.0, 0).allowed(&["y"])]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let inst = Instance::new(&request).expect("valid");
        let assigned = AssignmentModel::build(&inst, 0.1, &mut Rejections::new(0), |_, _| 2.0)
            .expect("built")
            .solve(&options())
            .expect("nothing to decide");
        assert_eq!(assigned.unit_cluster, vec![1]);
        assert!((assigned.solved.objective - 2.0).abs() < 1e-9);
    }
}
