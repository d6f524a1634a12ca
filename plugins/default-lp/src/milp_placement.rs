//! `default-lp/milp`: the initial placement as an integer program instead of first-fit: balance
//! the load over clusters, prefer cheap ones, keep preferred neighbours together.
//!
//! minimise  w_balance · U  +  w_cost · Σ price(u, e)·z[u][e] / P  +  w_dep · Σ p_ab  (+ tie-break)
//! with U >= Σ_u cpu_u·z[u][e] / available_cpu(e) and the same for memory, for every cluster e:
//! U is the largest share of any cluster's free CPU or memory the graph takes. P normalises the
//! hourly price to 0..1 (the sum over units of their dearest candidate cluster).

use crate::assignment::AssignmentModel;
use crate::instance::{describe, nothing_to_place, Instance};
use crate::params::Params;
use crate::replacement;
use crate::report::{extra, Rejections};
use smo_plugin_api::prelude::*;

/// Weight of the tie-break (mean share of free capacity), divided by the number of clusters.
const TIE_BREAK: f64 = 1e-3;

replacement::placement_with_min_migration!(
    /// The optimising initial placement; re-placement is the min-migration program.
    MilpPlacement,
    "milp",
    balanced
);

/// Hourly price of unit `total` on `cluster`.
fn price(total: &Resources, cluster: &Cluster) -> f64 {
    let p = &cluster.prices;
    total.cpu * p.cpu_core_hour
        + total.memory_mib / 1024.0 * p.memory_gib_hour
        + f64::from(total.gpu) * p.gpu_hour
}

/// Prices at or above this are refused: HiGHS reads costs of 1e20 or more as infinite, and
/// smo's API bounds each price far below it (10^6).
const PRICE_LIMIT: f64 = 1e15;

/// Refuses a cluster whose price is not finite or not below [`PRICE_LIMIT`], naming it and the
/// price: such a price made the normalisation infinite and every cost NaN (`objective: NaN`).
fn check_prices(clusters: &[Cluster]) -> Result<(), PluginError> {
    let bad: Vec<String> = clusters
        .iter()
        .filter_map(|c| {
            let p = &c.prices;
            [
                ("prices.cpu_core_hour", p.cpu_core_hour),
                ("prices.memory_gib_hour", p.memory_gib_hour),
                ("prices.gpu_hour", p.gpu_hour),
            ]
            .into_iter()
            .find(|(_, v)| !(v.is_finite() && v.abs() < PRICE_LIMIT))
            .map(|(field, v)| format!("cluster `{}`: {field} {v:e}", c.name))
        })
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(PluginError::invalid_input(format!(
        "milp placement: every price must be finite and below {PRICE_LIMIT:e}: {}",
        bad.join("; ")
    )))
}

/// Share of `cluster`'s free CPU and memory that `total` takes: (cpu share, memory share).
fn shares(total: &Resources, cluster: &Cluster) -> (f64, f64) {
    let share = |need: f64, free: f64| if free > 0.0 { need / free } else { 0.0 };
    (
        share(total.cpu, cluster.available.cpu),
        share(total.memory_mib, cluster.available.memory_mib),
    )
}

/// The balanced, price-aware initial placement.
pub fn balanced(
    request: &PlacementRequest,
    params: &Params,
) -> Result<PlacementDecision, PluginError> {
    let (inst, mut decision) = Instance::with_decision(request)?;
    if inst.services.is_empty() {
        return Ok(nothing_to_place(decision, Some(0.0)));
    }
    inst.precheck().map_err(|e| {
        PluginError::infeasible(format!("milp placement infeasible: {}", e.message))
    })?;
    check_prices(inst.clusters)?;

    let price_norm: f64 = (0..inst.units.len())
        .map(|u| {
            (0..inst.clusters.len())
                .filter(|&e| inst.fits(u, e, &inst.clusters[e].available))
                .map(|e| price(&inst.units[u].total, &inst.clusters[e]))
                .fold(0.0, f64::max)
        })
        .sum();
    if !price_norm.is_finite() {
        return Err(PluginError::invalid_input(format!(
            "milp placement: the graph's hourly price {price_norm:e} is not finite (demands \
             times prices)"
        )));
    }
    let price_weight = if price_norm > 0.0 {
        params.w_cost / price_norm
    } else {
        0.0
    };
    let tie = TIE_BREAK / inst.clusters.len() as f64;

    let mut rejections = Rejections::new(params.max_rejections);
    let mut model = AssignmentModel::build(&inst, params.w_dep, &mut rejections, |u, e| {
        let total = &inst.units[u].total;
        let cluster = &inst.clusters[e];
        let (cpu, mem) = shares(total, cluster);
        price_weight * price(total, cluster) + tie * (cpu + mem) / 2.0
    })?;
    if params.w_balance > 0.0 {
        let peak = model.milp.continuous(params.w_balance, 0.0, f64::INFINITY);
        let mut per_cluster: Vec<Vec<(usize, highs::Col)>> = vec![Vec::new(); inst.clusters.len()];
        for (u, candidates) in model.z.iter().enumerate() {
            for &(e, col) in candidates {
                per_cluster[e].push((u, col));
            }
        }
        let pick = |total: &Resources, e: usize, which: usize| {
            let (cpu, mem) = shares(total, &inst.clusters[e]);
            if which == 0 {
                cpu
            } else {
                mem
            }
        };
        for (e, vars) in per_cluster.iter().enumerate() {
            for which in [0usize, 1] {
                let mut terms: Vec<(highs::Col, f64)> = vars
                    .iter()
                    .map(|&(u, col)| (col, pick(&inst.units[u].total, e, which)))
                    .filter(|&(_, share)| share > 0.0)
                    .collect();
                // Units fixed on e (a single candidate) take a constant share.
                let fixed: f64 = (0..inst.units.len())
                    .filter(|&u| model.fixed[u] == Some(e))
                    .map(|u| pick(&inst.units[u].total, e, which))
                    .sum();
                if !terms.is_empty() || fixed > 0.0 {
                    terms.push((peak, -1.0));
                    model.milp.row(f64::NEG_INFINITY, -fixed, &terms);
                }
            }
        }
    }
    let (cols, rows) = (model.milp.num_cols(), model.milp.num_rows());
    let assigned = model
        .solve(&replacement::solve_options(params))
        .map_err(|e| e.into_plugin_error("milp placement"))?;
    if !assigned.solved.objective.is_finite() {
        return Err(PluginError::invalid_input(format!(
            "milp placement: the objective is {}",
            assigned.solved.objective
        )));
    }

    let mut used = vec![Resources::default(); inst.clusters.len()];
    let mut hourly = 0.0;
    for (u, &e) in assigned.unit_cluster.iter().enumerate() {
        let total = &inst.units[u].total;
        used[e] = crate::instance::add(&used[e], total);
        hourly += price(total, &inst.clusters[e]);
        decision.reasons.push(
            format!(
                "{} -> {} (needs {})",
                inst.unit_label(u),
                inst.clusters[e].name,
                describe(total)
            )
            .into(),
        );
    }
    let peak_share = used
        .iter()
        .zip(inst.clusters.iter())
        .map(|(used, cluster)| {
            let (cpu, mem) = shares(used, cluster);
            cpu.max(mem)
        })
        .fold(0.0, f64::max);
    decision.reasons.push(
        format!(
            "balanced milp placement: takes at most {:.1}% of any cluster's free CPU or memory, \
             hourly price {hourly:.4}, {} preferred dependencies split; objective {:.6} \
             (w_balance {}, w_cost {}, w_dep {}); HiGHS {} in {:.3} s ({cols} columns, {rows} rows)",
            peak_share * 100.0,
            assigned.split_preferred,
            assigned.solved.objective,
            params.w_balance,
            params.w_cost,
            params.w_dep,
            assigned.solved.status.describe(),
            assigned.solved.seconds,
        )
        .into(),
    );
    decision.placement.assignments = assigned.assignments(&inst);
    decision.objective = ROption::RSome(assigned.solved.objective);
    rejections.finish(&inst, &mut decision);
    decision.extra = extra(serde_json::json!({
        "model": "balanced-milp",
        "solver_status": assigned.solved.status.describe(),
        "peak_share_of_free": peak_share,
        "hourly_price": hourly,
        "split_preferred": assigned.split_preferred,
        "solve_seconds": assigned.solved.seconds,
        "columns": cols,
        "rows": rows,
    }));
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::first_fit::first_fit;
    use smo_plugin_api::testing::*;

    fn place(request: &PlacementRequest, params: &Params) -> PlacementDecision {
        match balanced(request, params) {
            Ok(d) => d,
            Err(e) => panic!("placement failed: {e}"),
        }
    }

    #[test]
    fn spreads_load_instead_of_filling_the_first_cluster() {
        // First-fit puts both on x; balancing puts one on each (peak share 50% instead of 100%).
        let request = placement_request(
            graph_of(vec![
                service("a", 2.0, 100.0, 0),
                service("b", 2.0, 100.0, 0),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let ff = first_fit(&request, &Params::default()).expect("fits");
        assert_eq!(cluster_of(&ff, "a"), cluster_of(&ff, "b"));
        let d = place(&request, &Params::default());
        assert_ne!(cluster_of(&d, "a"), cluster_of(&d, "b"));
    }

    #[test]
    fn solves_what_greedy_first_fit_cannot() {
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0),
                service("b", 2.0, 100.0, 0),
                service("c", 3.0, 100.0, 0),
                service("d", 2.0, 100.0, 0),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        assert!(first_fit(&request, &Params::default()).is_err());
        let d = place(&request, &Params::default());
        // The only packings: {a, c} and {b, d}.
        assert_eq!(cluster_of(&d, "a"), cluster_of(&d, "c"));
        assert_eq!(cluster_of(&d, "b"), cluster_of(&d, "d"));
        assert_ne!(cluster_of(&d, "a"), cluster_of(&d, "b"));
    }

    #[test]
    fn prefers_the_cheaper_cluster_when_price_dominates() {
        let mut cheap = cluster("cheap", 8.0, 8192.0, 0);
        cheap.prices.cpu_core_hour = 0.01;
        let mut dear = cluster("dear", 8.0, 8192.0, 0);
        dear.prices.cpu_core_hour = 0.10;
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0),
                service("b", 1.0, 100.0, 0),
            ]),
            vec![dear, cheap],
            None,
        );
        let params = Params {
            w_balance: 0.0,
            w_cost: 1.0,
            ..Params::default()
        };
        let d = place(&request, &params);
        assert_eq!(cluster_of(&d, "a"), "cheap");
        assert_eq!(cluster_of(&d, "b"), "cheap");
    }

    #[test]
    fn respects_gpu_memory_and_required_co_location() {
        let request = placement_request(
            graph_of(vec![
                service("gpu", 1.0, 512.0, 1).requires("feeder"),
                service("feeder", 1.0, 512.0, 0),
                service("fat", 1.0, 6000.0, 0),
            ]),
            vec![
                cluster("plain", 16.0, 4096.0, 0),
                cluster("accel", 4.0, 8192.0, 1),
                cluster("big-mem", 4.0, 16384.0, 0),
            ],
            None,
        );
        let d = place(&request, &Params::default());
        assert_eq!(cluster_of(&d, "gpu"), "accel");
        assert_eq!(cluster_of(&d, "feeder"), "accel");
        assert_ne!(cluster_of(&d, "fat"), "plain");
    }

    #[test]
    fn preferred_neighbours_share_a_cluster_when_it_costs_little() {
        // Without the dependency, balancing would split a and b; a split costs w_dep = 1, more
        // than the 25-point peak-share gain of splitting them.
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0).prefers("b"),
                service("b", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let plain = Params {
            w_dep: 0.0,
            ..Params::default()
        };
        let d = place(&request, &plain);
        assert_ne!(cluster_of(&d, "a"), cluster_of(&d, "b"));
        let coupled = Params {
            w_dep: 1.0,
            ..Params::default()
        };
        let d = place(&request, &coupled);
        assert_eq!(cluster_of(&d, "a"), cluster_of(&d, "b"));
    }

    #[test]
    fn an_unpackable_graph_is_infeasible() {
        let request = placement_request(
            graph_of(vec![
                service("a", 2.0, 100.0, 0),
                service("b", 2.0, 100.0, 0),
                service("c", 2.0, 100.0, 0),
            ]),
            vec![cluster("x", 3.0, 1000.0, 0), cluster("y", 3.0, 1000.0, 0)],
            None,
        );
        let err = balanced(&request, &Params::default()).expect_err("unpackable");
        assert_eq!(err.kind, ErrorKind::INFEASIBLE);
    }
}
