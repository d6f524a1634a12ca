//! Re-placement as upstream's min-migration integer program, fixed: memory and GPUs are real
//! constraints, required co-location is enforced, preferred splits cost `w_dep`, moves cost `w_re`.
//!
//! minimise  w_re · Σ_u Σ_e moved(u, e) · z[u][e]  +  w_dep · Σ_(a,b) preferred p_ab
//! where moved(u, e) counts the members of unit u that run now on a cluster other than e
//! (services new to the placement count 0). With the defaults a feasible current placement is
//! kept as it is, and otherwise exactly the minimum number of services moves.

use crate::assignment::{Assigned, AssignmentModel};
use crate::instance::{nothing_to_place, Current, Instance};
use crate::params::{Params, ReplaceScope};
use crate::report::{extra, Rejections};
use crate::scope::Scope;
use crate::solver::{SolveError, SolveOptions};
use smo_plugin_api::prelude::*;

/// Declares a placement strategy `$name` whose initial placement is `$initial` and whose
/// re-placement (a request with a current placement) is the min-migration program [`replace`].
/// `$strategy` names its parameter section.
macro_rules! placement_with_min_migration {
    ($(#[$doc:meta])* $name:ident, $strategy:literal, $initial:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            params: $crate::params::Params,
        }

        impl $name {
            pub fn new(params: &str) -> Result<Self, PluginError> {
                Ok(Self {
                    params: $crate::params::Params::for_strategy($strategy, params)?,
                })
            }

            pub fn with_params(params: $crate::params::Params) -> Self {
                Self { params }
            }
        }

        impl Placement for $name {
            fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
                $initial(request, &self.params)
            }

            fn replace(
                &self,
                request: &PlacementRequest,
            ) -> Result<PlacementDecision, PluginError> {
                if request.current.is_some() {
                    $crate::replacement::replace(request, &self.params)
                } else {
                    $initial(request, &self.params)
                }
            }
        }
    };
}
pub(crate) use placement_with_min_migration;

/// Solver options from the parameters.
pub fn solve_options(params: &Params) -> SolveOptions {
    SolveOptions {
        time_limit_s: params.time_limit_s,
        mip_rel_gap: params.mip_rel_gap,
        accept_incumbent: params.use_incumbent_on_time_limit,
    }
}

/// The min-migration re-placement of `request` (whose `current` should be set; without it every
/// service is new and any feasible placement is optimal).
pub fn replace(
    request: &PlacementRequest,
    params: &Params,
) -> Result<PlacementDecision, PluginError> {
    let (inst, decision) = Instance::with_decision(request)?;
    if inst.services.is_empty() {
        return Ok(nothing_to_place(decision, Some(0.0)));
    }
    inst.precheck()
        .map_err(|e| PluginError::infeasible(format!("re-placement infeasible: {}", e.message)))?;

    let options = solve_options(params);
    let scope = Scope::analyse(
        &inst,
        |u, e| inst.fits(u, e, &inst.clusters[e].available),
        &options,
    );
    let mut rejections = Rejections::new(params.max_rejections);

    // First the restricted model: services that are fine where they are stay there.
    let restricted = solve(&inst, params, &scope, true, None, &mut rejections);
    let (assigned, scope_used, size) = match (&restricted, params.replace_scope) {
        (Ok((a, size)), ReplaceScope::Affected) if moves(&inst, a) <= scope.min_moves => {
            (a, "affected services only; the move count meets the lower bound, so it is minimal over all services", *size)
        }
        (Err(SolveError::Infeasible), _) | (Ok(_), _) => {
            let start = restricted.as_ref().ok().map(|(a, _)| a.unit_cluster.clone());
            let mut ignored = Rejections::new(0);
            let full = solve(&inst, params, &scope, false, start.as_deref(), &mut ignored)
                .map_err(|e| e.into_plugin_error("min-migration re-placement"))?;
            return Ok(finish(&inst, params, &scope, decision, rejections, &full.0, "all services", full.1));
        }
        (Err(e), _) => return Err(e.clone().into_plugin_error("min-migration re-placement (affected services)")),
    };
    Ok(finish(
        &inst, params, &scope, decision, rejections, assigned, scope_used, size,
    ))
}

/// Builds and solves the model, restricted to the movable units or over all of them.
fn solve(
    inst: &Instance<'_>,
    params: &Params,
    scope: &Scope,
    restricted: bool,
    start: Option<&[usize]>,
    rejections: &mut Rejections,
) -> Result<(Assigned, (usize, usize)), SolveError> {
    let moved_if = |u: usize, e: usize| -> usize {
        inst.units[u]
            .members
            .iter()
            .filter(|&&s| match inst.current[s] {
                Current::New | Current::Vanished(_) => false,
                Current::On(f) => f != e,
            })
            .count()
    };
    let allow = |u: usize, e: usize| !restricted || scope.movable[u] || scope.settled[u] == Some(e);
    let mut model = AssignmentModel::build_restricted(
        inst,
        params.w_dep,
        rejections,
        |u, e| params.w_re * moved_if(u, e) as f64,
        allow,
    )
    .map_err(SolveError::Model)?;
    model.add_departure_bounds(&scope.bounds);
    let size = (model.milp.num_cols(), model.milp.num_rows());
    let assigned = model.solve_from(&solve_options(params), start)?;
    Ok((assigned, size))
}

/// Services that run elsewhere than before (services on a vanished cluster always count).
fn moves(inst: &Instance<'_>, assigned: &Assigned) -> usize {
    (0..inst.services.len())
        .filter(|&s| match inst.current[s] {
            Current::New => false,
            Current::On(f) => assigned.cluster_of(inst, s) != f,
            Current::Vanished(_) => true,
        })
        .count()
}

#[allow(clippy::too_many_arguments)]
fn finish(
    inst: &Instance<'_>,
    params: &Params,
    scope: &Scope,
    mut decision: PlacementDecision,
    rejections: Rejections,
    assigned: &Assigned,
    scope_used: &str,
    (cols, rows): (usize, usize),
) -> PlacementDecision {
    let mut moved = 0usize;
    for (s, service) in inst.services.iter().enumerate() {
        let to = &inst.clusters[assigned.cluster_of(inst, s)].name;
        let line = match &inst.current[s] {
            Current::On(f) if inst.clusters[*f].name == *to => {
                format!("`{}` stays on {to}", service.name)
            }
            Current::On(f) => {
                moved += 1;
                format!(
                    "`{}` moves {} -> {to}",
                    service.name, inst.clusters[*f].name
                )
            }
            Current::Vanished(from) => {
                moved += 1;
                format!("`{}` moves {from} (gone) -> {to}", service.name)
            }
            Current::New => format!("`{}` (not placed before) goes to {to}", service.name),
        };
        decision.reasons.push(line.into());
    }
    let vanished = inst
        .current
        .iter()
        .filter(|c| matches!(c, Current::Vanished(_)))
        .count();
    let objective = assigned.solved.objective + params.w_re * vanished as f64;
    decision.reasons.push(
        format!(
            "min-migration re-placement over {scope_used}: {moved} of {} services moved (lower \
             bound {}, {} overfull clusters), {} preferred dependencies split; objective \
             {objective:.4} (w_re {} per move, w_dep {} per split); HiGHS {} in {:.3} s ({cols} \
             columns, {rows} rows)",
            inst.services.len(),
            scope.min_moves,
            scope.overfull_clusters,
            assigned.split_preferred,
            params.w_re,
            params.w_dep,
            assigned.solved.status.describe(),
            assigned.solved.seconds,
        )
        .into(),
    );
    decision.placement.assignments = assigned.assignments(inst);
    decision.objective = ROption::RSome(objective);
    rejections.finish(inst, &mut decision);
    decision.extra = extra(serde_json::json!({
        "model": "min-migration",
        "scope": scope_used,
        "solver_status": assigned.solved.status.describe(),
        "moved": moved,
        "min_moves": scope.min_moves,
        "split_preferred": assigned.split_preferred,
        "solve_seconds": assigned.solved.seconds,
        "columns": cols,
        "rows": rows,
    }));
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::testing::*;

    fn assert_objective(decision: &PlacementDecision, expected: f64) {
        let got = decision.objective.into_option().unwrap_or(f64::NAN);
        assert!(
            (got - expected).abs() < 1e-6,
            "objective {got}, expected {expected}"
        );
    }

    fn moved(decision: &PlacementDecision, current: &[(&str, &str, u32)]) -> usize {
        current
            .iter()
            .filter(|(s, c, _)| cluster_of(decision, s) != *c)
            .count()
    }

    fn used_cpu(decision: &PlacementDecision, graph: &Graph, cluster: &str) -> f64 {
        decision
            .placement
            .assignments
            .iter()
            .filter(|a| a.cluster.as_str() == cluster)
            .map(|a| {
                let s = graph
                    .services
                    .iter()
                    .find(|s| s.name == a.service)
                    .map(|s| s.demand.cpu)
                    .unwrap_or(f64::NAN);
                s * f64::from(a.replicas)
            })
            .sum()
    }

    #[test]
    fn a_group_that_fits_no_cluster_is_infeasible_not_a_malfunction() {
        // a requires b: each fits a cluster alone, the pair (10 CPU) fits none. That is an
        // answer about the request (infeasible, which does not count toward quarantine), not
        // an internal error.
        let request = placement_request(
            graph_of(vec![
                service("a", 5.0, 100.0, 0).requires("b"),
                service("b", 5.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 8.0, 1000.0, 0)],
            Some(vec![("a", "y", 1), ("b", "y", 1)]),
        );
        let error = replace(&request, &Params::default()).expect_err("the pair fits nowhere");
        assert_eq!(error.kind, ErrorKind::INFEASIBLE, "{}", error.message);
        assert!(
            error.message.contains("fits no cluster"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_feasible_current_placement_is_kept() {
        // Everything on y although x is first and roomier: still feasible, so nothing moves.
        let current = vec![("a", "y", 1), ("b", "y", 1), ("c", "x", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0),
                service("b", 1.0, 100.0, 0),
                service("c", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 2.0, 1000.0, 0)],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(moved(&d, &current), 0);
        assert_objective(&d, 0.0);
    }

    #[test]
    fn exactly_the_minimum_number_of_services_moves() {
        // y shrank to 3 CPU; on it a(2) b(1) c(1) d(1) = 5 CPU: 2 CPU must leave y. Moving a
        // alone (1 move) suffices; a greedy "move the last ones" would move two.
        let current = vec![("a", "y", 1), ("b", "y", 1), ("c", "y", 1), ("d", "y", 1)];
        let graph = graph_of(vec![
            service("a", 2.0, 100.0, 0),
            service("b", 1.0, 100.0, 0),
            service("c", 1.0, 100.0, 0),
            service("d", 1.0, 100.0, 0),
        ]);
        let request = placement_request(
            graph.clone(),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 3.0, 1000.0, 0)],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(moved(&d, &current), 1);
        assert_eq!(cluster_of(&d, "a"), "x");
        assert!(used_cpu(&d, &graph, "y") <= 3.0);
        assert_objective(&d, 1.0);
    }

    #[test]
    fn w_re_scales_the_objective() {
        let current = vec![("a", "y", 1)];
        let request = placement_request(
            graph_of(vec![service("a", 2.0, 100.0, 0)]),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 1.0, 1000.0, 0)],
            Some(current),
        );
        let params = Params {
            w_re: 2.5,
            ..Params::default()
        };
        let d = replace(&request, &params).expect("feasible");
        assert_eq!(cluster_of(&d, "a"), "x");
        assert_objective(&d, 2.5);
    }

    #[test]
    fn memory_forces_a_move_that_cpu_alone_would_not() {
        // CPU fits on y (2 of 4) but memory does not (2048 MiB of 1536): one service moves.
        let current = vec![("a", "y", 1), ("b", "y", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 1024.0, 0),
                service("b", 1.0, 1024.0, 0),
            ]),
            vec![cluster("x", 4.0, 4096.0, 0), cluster("y", 4.0, 1536.0, 0)],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(moved(&d, &current), 1);
    }

    #[test]
    fn memory_of_arriving_services_is_respected() {
        // n1 and n2 are new (1024 MiB each) and both prefer c on x, but x has 1500 MiB free
        // next to c's 100: only one of them can join c; the other goes to z.
        let current = vec![("c", "x", 1)];
        let request = placement_request(
            graph_of(vec![
                service("c", 0.1, 100.0, 0),
                service("n1", 0.1, 1024.0, 0).prefers("c"),
                service("n2", 0.1, 1024.0, 0).prefers("c"),
            ]),
            vec![cluster("x", 8.0, 1600.0, 0), cluster("z", 8.0, 4096.0, 0)],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(moved(&d, &current), 0);
        assert_ne!(cluster_of(&d, "n1"), cluster_of(&d, "n2"));
        assert_objective(&d, 0.1);
    }

    #[test]
    fn gpu_services_never_land_on_non_gpu_clusters() {
        // The GPU cluster g has 1 GPU and is currently shared by two GPU services: one must go,
        // and the only other cluster with a GPU is h, although plain has the most CPU.
        let current = vec![("g1", "g", 1), ("g2", "g", 1), ("c", "g", 1)];
        let request = placement_request(
            graph_of(vec![
                service("g1", 1.0, 100.0, 1),
                service("g2", 1.0, 100.0, 1),
                service("c", 1.0, 100.0, 0),
            ]),
            vec![
                cluster("plain", 64.0, 65536.0, 0),
                cluster("g", 8.0, 8192.0, 1),
                cluster("h", 2.0, 8192.0, 1),
            ],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(moved(&d, &current), 1);
        for s in ["g1", "g2"] {
            assert_ne!(cluster_of(&d, s), "plain");
        }
        assert_ne!(cluster_of(&d, "g1"), cluster_of(&d, "g2"));
        assert!(d
            .rejections
            .iter()
            .any(|r| r.service.as_str() == "g1" && r.cluster.as_str() == "plain"));
    }

    #[test]
    fn required_dependencies_move_together() {
        // a requires b; y (2 CPU) can no longer hold the pair (3 CPU), and neither may move
        // alone: both go to x, which is 2 moves.
        let current = vec![("a", "y", 1), ("b", "y", 1), ("c", "x", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 2.0, 100.0, 0).requires("b"),
                service("b", 1.0, 100.0, 0),
                service("c", 2.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 2.0, 1000.0, 0)],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(cluster_of(&d, "a"), cluster_of(&d, "b"));
        assert_eq!(cluster_of(&d, "a"), "x");
        assert_eq!(moved(&d, &current), 2);
    }

    #[test]
    fn a_split_current_placement_of_required_services_is_repaired() {
        let current = vec![("a", "x", 1), ("b", "y", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0).requires("b"),
                service("b", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 8.0, 1000.0, 0)],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(cluster_of(&d, "a"), cluster_of(&d, "b"));
        assert_eq!(moved(&d, &current), 1);
    }

    #[test]
    fn preferred_dependencies_weigh_against_moves() {
        // a on x, b on y, a prefers b; both clusters have room. With w_dep < w_re nothing moves;
        // with w_dep > w_re over all services (scope "all") one of them joins the other.
        let current = vec![("a", "x", 1), ("b", "y", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0).prefers("b"),
                service("b", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 8.0, 1000.0, 0)],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(moved(&d, &current), 0);
        assert_objective(&d, 0.1);
        let eager = Params {
            w_dep: 3.0,
            replace_scope: ReplaceScope::All,
            ..Params::default()
        };
        let d = replace(&request, &eager).expect("feasible");
        assert_eq!(moved(&d, &current), 1);
        assert_eq!(cluster_of(&d, "a"), cluster_of(&d, "b"));
        assert_objective(&d, 1.0);
        // The default scope never moves a service whose cluster still fits.
        let local = Params {
            w_dep: 3.0,
            ..Params::default()
        };
        let d = replace(&request, &local).expect("feasible");
        assert_eq!(moved(&d, &current), 0);
    }

    #[test]
    fn preferred_dependencies_choose_among_equally_few_moves() {
        // y (2 CPU) holds a and b (1 CPU each) and must shed one; c on x prefers b. Moving b to
        // x (next to c) and moving a both cost one move; only the first also un-splits b / c.
        let current = vec![("a", "y", 1), ("b", "y", 1), ("c", "x", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0),
                service("b", 1.0, 100.0, 0),
                service("c", 1.0, 100.0, 0).prefers("b"),
            ]),
            vec![
                cluster("x", 8.0, 1000.0, 0),
                cluster("y", 1.0, 1000.0, 0),
                cluster("z", 8.0, 1000.0, 0),
            ],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(moved(&d, &current), 1);
        assert_eq!(cluster_of(&d, "b"), "x");
        assert_eq!(cluster_of(&d, "a"), "y");
        assert_objective(&d, 1.0);
    }

    #[test]
    fn a_chain_of_moves_is_found_when_evictions_alone_cannot_fit() {
        // y shrank to 2 CPU and must shed big (3 CPU). x has 2 free (small1, small2 use 4 of 6)
        // and z has 2 free: big fits nowhere unless a small service moves from x to z first.
        // Minimum: 2 moves (big -> x, one small -> z); the affected-only model is infeasible.
        let current = vec![("big", "y", 1), ("small1", "x", 1), ("small2", "x", 1)];
        let request = placement_request(
            graph_of(vec![
                service("big", 3.0, 100.0, 0),
                service("small1", 2.0, 100.0, 0),
                service("small2", 2.0, 100.0, 0),
            ]),
            vec![
                cluster("x", 6.0, 1000.0, 0),
                cluster("y", 2.0, 1000.0, 0),
                cluster("z", 2.0, 1000.0, 0),
            ],
            Some(current.clone()),
        );
        let d = replace(&request, &Params::default()).expect("feasible with a chain");
        assert_eq!(moved(&d, &current), 2);
        assert_eq!(cluster_of(&d, "big"), "x");
        assert!(d.reasons.iter().any(|r| r.contains("over all services")));
    }

    #[test]
    fn services_on_a_vanished_cluster_move_and_new_ones_are_placed() {
        let current = vec![("a", "gone", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0),
                service("n", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 8.0, 1000.0, 0)],
            Some(current),
        );
        let d = replace(&request, &Params::default()).expect("feasible");
        assert_eq!(cluster_of(&d, "a"), "x");
        assert_eq!(cluster_of(&d, "n"), "x");
        assert_objective(&d, 1.0);
        assert!(d.reasons.iter().any(|r| r.contains("gone")));
    }

    #[test]
    fn infeasible_replacement_is_an_error_not_a_partial_placement() {
        // Passes the pre-check (each service fits alone, total 6 <= 6) but three 2-CPU services
        // cannot be packed into two 3-CPU clusters: the solver proves infeasibility.
        let current = vec![("a", "x", 1), ("b", "x", 1), ("c", "y", 1)];
        let request = placement_request(
            graph_of(vec![
                service("a", 2.0, 100.0, 0),
                service("b", 2.0, 100.0, 0),
                service("c", 2.0, 100.0, 0),
            ]),
            vec![cluster("x", 3.0, 1000.0, 0), cluster("y", 3.0, 1000.0, 0)],
            Some(current),
        );
        let err = replace(&request, &Params::default()).expect_err("cannot pack");
        assert_eq!(err.kind, ErrorKind::INFEASIBLE);
        assert!(err.message.contains("infeasible"), "{}", err.message);
    }
}
