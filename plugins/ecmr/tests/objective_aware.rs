//! Hand-checked cases of what makes the heuristic objective-aware (choice by the MILP's
//! objective, moves and exchanges), the MILP's pruning of off servers, and the MESF repair.

mod common;
use common::{batch, linear16, linear_type, site, site_of, vm};
use smo_ecmr::heuristic::{dispatch, Outcome};
use smo_ecmr::milp;
use smo_ecmr::objective::evaluate;
use smo_ecmr::params::{Choice, HeuristicParams, MilpParams, Weights};
use smo_ecmr::repair::{replay, Fix};
use smo_ecmr::request::Batch;

fn sites_of(out: &[Outcome]) -> Vec<Option<usize>> {
    out.iter()
        .map(|o| match o {
            Outcome::Placed { site, .. } => Some(*site),
            Outcome::Unplaced => None,
        })
        .collect()
}

fn choices(out: &[Outcome]) -> Vec<Option<(usize, usize)>> {
    out.iter()
        .map(|o| match o {
            Outcome::Placed { site, server, .. } => Some((*site, *server)),
            Outcome::Unplaced => None,
        })
        .collect()
}

fn greedy_only() -> HeuristicParams {
    HeuristicParams {
        improve_passes: 0,
        ..HeuristicParams::default()
    }
}

#[test]
fn objective_choice_takes_a_green_site_that_covers_most_of_the_vm() {
    // A: green, 100 W supply, 300 g/kWh; B: brown, 100 g/kWh. An 8-core VM costs 130 W either
    // way. A covers 100 W of it: 0.2·130/100 + 0.7·300·30/1000/10 = 0.26 + 0.63 = 0.89, B none:
    // 0.26 + 0.7·100·130/1000/10 = 1.17. The margin check still refuses A in the green tier; the
    // fallback then picks A by objective where the paper's order picks B (lowest carbon).
    let mk = || {
        batch(
            vec![vm("big", 8.0, 60.0)],
            vec![site("a", 2, 100.0, 300.0), site("b", 2, 0.0, 100.0)],
            &[0.0, 0.0],
        )
    };
    let w = Weights::default();
    let b = mk();
    let at_a = evaluate(&b, &[Some((0, 0))], &w);
    let at_b = evaluate(&b, &[Some((1, 0))], &w);
    assert!((at_a - 0.89).abs() < 1e-9, "{at_a}");
    assert!((at_b - 1.17).abs() < 1e-9, "{at_b}");
    let (out, c) = dispatch(&mut mk(), &greedy_only());
    assert_eq!(c.res_rejections, 1);
    assert_eq!(c.fallback, 1);
    assert!(matches!(
        out[0],
        Outcome::Placed {
            site: 0,
            green: false,
            ..
        }
    ));
    let first = HeuristicParams {
        choice: Choice::First,
        ..greedy_only()
    };
    assert_eq!(sites_of(&dispatch(&mut mk(), &first).0), vec![Some(1)]);
}

#[test]
fn objective_choice_prefers_the_efficient_green_site_over_the_nearest() {
    // Both green with ample supply. A (2 ms) has 10 W/core servers with 50 W idle, B (5 ms)
    // 2 W/core with 20 W idle. A 4-core VM: A 90 W, B 28 W; latency adds 0.002 and 0.005.
    let mk = || {
        batch(
            vec![vm("v", 4.0, 60.0)],
            vec![
                site("a", 2, 1e6, 300.0),
                site_of("b", linear_type(16.0, 20.0, 2.0), &[0.0, 0.0], 1e6, 300.0),
            ],
            &[2.0, 5.0],
        )
    };
    let w = Weights::default();
    let b = mk();
    assert!((evaluate(&b, &[Some((0, 0))], &w) - (0.18 + 0.002)).abs() < 1e-9);
    assert!((evaluate(&b, &[Some((1, 0))], &w) - (0.056 + 0.005)).abs() < 1e-9);
    let (out, _) = dispatch(&mut mk(), &greedy_only());
    assert!(matches!(
        out[0],
        Outcome::Placed {
            site: 1,
            green: true,
            ..
        }
    ));
    let first = HeuristicParams {
        choice: Choice::First,
        ..greedy_only()
    };
    assert_eq!(sites_of(&dispatch(&mut mk(), &first).0), vec![Some(0)]);
}

#[test]
fn improvement_moves_a_vm_the_greedy_pass_placed_myopically() {
    // Brown sites, same intensity. A: off servers of 2 W/core, 50 W idle. B: one server on
    // (10 W/core) with 4 cores free. Two 4-core VMs in order: the first goes to B (+40 W <
    // 58 W), the second must switch A on (58 W): 98 W. Moving the first to A too: 58 + 8 = 66 W.
    let mk = || {
        batch(
            vec![vm("v1", 4.0, 60.0), vm("v2", 4.0, 60.0)],
            vec![
                site_of("a", linear_type(16.0, 50.0, 2.0), &[0.0, 0.0], 0.0, 200.0),
                site_of("b", linear16(), &[12.0], 0.0, 200.0),
            ],
            &[2.0, 2.0],
        )
    };
    let w = Weights::default();
    let mut gb = mk();
    let (greedy, _) = dispatch(&mut gb, &greedy_only());
    assert_eq!(sites_of(&greedy), vec![Some(1), Some(0)]);
    let mut ib = mk();
    let (improved, c) = dispatch(&mut ib, &HeuristicParams::default());
    assert_eq!(sites_of(&improved), vec![Some(0), Some(0)]);
    assert_eq!(c.moved, 1);
    // Both on A's first server, as MESF one at a time puts them; the state matches.
    assert_eq!(choices(&improved), vec![Some((0, 0)), Some((0, 0))]);
    assert!((ib.sites[0].servers[0].used_cpu - 8.0).abs() < 1e-9);
    assert!(ib.sites[1].servers[0].used_cpu - 12.0 < 1e-9);
    let b = mk();
    let (g, i) = (
        evaluate(&b, &choices(&greedy), &w),
        evaluate(&b, &choices(&improved), &w),
    );
    // 32 W less: 0.2·32/100 + 0.7·200·32/1000/10 = 0.064 + 0.448.
    assert!((g - i - 0.512).abs() < 1e-9, "{g} {i}");
}

#[test]
fn exchange_swaps_two_vms_when_no_single_move_fits() {
    // A: one server on (5 W/core) with 12 cores free. B: off servers of 10 W/core, 50 W idle.
    // v1 (8 cores) goes to A (+40 W < 130 W), v2 (12 cores) no longer fits A: B, 170 W; 210 W
    // in all. Neither moves alone (no room), but exchanged: A +60 W, B 130 W = 190 W.
    let mk = || {
        batch(
            vec![vm("v1", 8.0, 60.0), vm("v2", 12.0, 60.0)],
            vec![
                site_of("a", linear_type(16.0, 50.0, 5.0), &[4.0], 0.0, 100.0),
                site("b", 2, 0.0, 100.0),
            ],
            &[2.0, 2.0],
        )
    };
    // In arrival order (largest first would place v2 first and need no exchange).
    let swap = HeuristicParams {
        largest_first: false,
        improve_swaps: true,
        ..HeuristicParams::default()
    };
    let no_swap = HeuristicParams {
        improve_swaps: false,
        ..swap.clone()
    };
    let (out, c) = dispatch(&mut mk(), &no_swap);
    assert_eq!(sites_of(&out), vec![Some(0), Some(1)]);
    assert_eq!(c.moved, 0);
    let (out, c) = dispatch(&mut mk(), &swap);
    assert_eq!(sites_of(&out), vec![Some(1), Some(0)]);
    assert_eq!(c.moved, 2);
}

#[test]
fn largest_first_places_the_big_vm_before_a_small_one_takes_its_server() {
    // One site: server 0 on with 12 cores free (2 W/core), server 1 on with 4 free (10 W/core).
    // In arrival order the 4-core VM takes server 0 (+8 W < +40 W) and the 12-core one finds
    // no room; largest first puts the 12-core VM on server 0 and the 4-core one on server 1.
    let mk = || {
        let mut a = site_of("a", linear_type(16.0, 50.0, 2.0), &[4.0, 0.0], 0.0, 100.0);
        a.types.push(linear16());
        a.servers[1].kind = 1;
        a.reserve(1, &smo_plugin_api::Resources::new(12.0, 1024.0, 0));
        batch(
            vec![vm("small", 4.0, 60.0), vm("big", 12.0, 60.0)],
            vec![a],
            &[2.0],
        )
    };
    let arrival = HeuristicParams {
        largest_first: false,
        ..HeuristicParams::default()
    };
    let b = mk();
    assert_eq!(smo_ecmr::heuristic::order(&b, &arrival), vec![0, 1]);
    let (out, _) = dispatch(&mut mk(), &arrival);
    assert_eq!(choices(&out), vec![Some((0, 0)), None]);
    let p = HeuristicParams::default();
    assert_eq!(smo_ecmr::heuristic::order(&b, &p), vec![1, 0]);
    let mut placed = mk();
    let (out, _) = dispatch(&mut placed, &p);
    // Outcomes stay indexed by arrival; the state is that of packing in the listed order.
    assert_eq!(choices(&out), vec![Some((0, 1)), Some((0, 0))]);
    assert!((placed.sites[0].servers[0].used_cpu - 16.0).abs() < 1e-9);
    assert!((placed.sites[0].servers[1].used_cpu - 16.0).abs() < 1e-9);
}

/// The least objective over every (site, server) per VM that respects each server's CPU, by
/// enumeration: the reference the MILP must reach.
fn brute_force(b: &Batch, w: &Weights) -> f64 {
    let slots: Vec<(usize, usize)> = (0..b.sites.len())
        .flat_map(|j| (0..b.sites[j].servers.len()).map(move |i| (j, i)))
        .collect();
    let n = b.vms.len();
    let mut best = f64::INFINITY;
    let mut idx = vec![0usize; n];
    loop {
        let assign: Vec<_> = idx.iter().map(|&k| Some(slots[k])).collect();
        let fits = slots.iter().all(|&(j, i)| {
            let s = &b.sites[j];
            let add: f64 = (0..n)
                .filter(|&r| assign[r] == Some((j, i)))
                .map(|r| b.vms[r].demand.cpu)
                .sum();
            s.servers[i].used_cpu + add <= s.types[s.servers[i].kind].cores + 1e-9
        });
        if fits {
            best = best.min(evaluate(b, &assign, w));
        }
        let mut k = 0;
        while k < n {
            idx[k] += 1;
            if idx[k] < slots.len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
        if k == n {
            return best;
        }
    }
}

#[test]
fn milp_with_pruned_off_servers_matches_enumeration() {
    // Four VMs (14 cores, 4 GiB), 64-core servers: off_bound keeps ceil(2·14/64) +
    // ceil(2·4/64) + 1 = 3 of the 4 off servers per site; the optimum must not change.
    let big = || linear_type(64.0, 60.0, 3.0);
    let mk = || {
        batch(
            vec![
                vm("v1", 2.0, 60.0),
                vm("v2", 3.0, 60.0),
                vm("v3", 4.0, 60.0),
                vm("v4", 5.0, 60.0),
            ],
            vec![
                site_of("a", big(), &[0.0, 0.0, 0.0, 0.0], 150.0, 300.0),
                site_of("b", big(), &[60.0, 0.0, 0.0, 0.0], 0.0, 40.0),
            ],
            &[2.0, 9.0],
        )
    };
    let b = mk();
    let p = MilpParams {
        pool_off_servers: false,
        ..MilpParams::default()
    };
    assert_eq!(milp::off_bound(&b, 0, 0, &p), 3);
    let sol = milp::solve(&b, &p).expect("solved");
    assert_eq!(sol.status, "optimal");
    let m = evaluate(&b, &sol.assign, &p.weights);
    let e = brute_force(&b, &p.weights);
    assert!((m - e).abs() < 1e-6, "milp {m} enumeration {e}");
    // The same without the warm start.
    let cold = MilpParams {
        warm_start: false,
        ..p.clone()
    };
    let sol = milp::solve(&b, &cold).expect("solved");
    assert!((evaluate(&b, &sol.assign, &p.weights) - e).abs() < 1e-6);
    // Pooled off servers: one integer count per type; with VMs this small against 64 cores the
    // relaxed packing is exact, and the VMs unpacked onto servers reach the same optimum.
    let pooled = MilpParams {
        pool_off_servers: true,
        ..p.clone()
    };
    let sol = milp::solve(&b, &pooled).expect("solved");
    assert_eq!(sol.status, "optimal");
    assert!(sol.columns < milp::solve(&b, &p).expect("solved").columns);
    assert!((evaluate(&b, &sol.assign, &p.weights) - e).abs() < 1e-6);
}

#[test]
fn repair_moves_or_drops_what_one_at_a_time_mesf_cannot_pack() {
    // A: server 0 on (2 W/core, 12 cores free), server 1 on (10 W/core, 8 cores free). The
    // joint packing v1 (8) -> server 1, v2 (12) -> server 0 fits; MESF one at a time puts v1 on
    // server 0 (+16 W < +80 W) and then has no room for v2.
    let a = || {
        let mut s = site_of("a", linear_type(16.0, 50.0, 2.0), &[4.0, 0.0], 0.0, 100.0);
        s.types.push(linear16());
        s.servers[1].kind = 1;
        s.reserve(1, &smo_plugin_api::Resources::new(8.0, 1024.0, 0));
        s
    };
    let vms = || vec![vm("v1", 8.0, 60.0), vm("v2", 12.0, 60.0)];
    let w = Weights::default();
    let joint = [Some((0, 1)), Some((0, 0))];
    // With B within the threshold, v2 moves there.
    let b = batch(vms(), vec![a(), site("b", 2, 0.0, 100.0)], &[2.0, 5.0]);
    let fixes = replay(&b, &joint, 35.0, &w);
    assert_eq!(
        fixes,
        vec![
            Fix::Kept { site: 0, server: 0 },
            Fix::Moved {
                wanted: 0,
                site: 1,
                server: 0
            }
        ]
    );
    // With B beyond it, v2 is left out rather than sent where the host would refuse it.
    let fixes = replay(&b, &joint, 4.0, &w);
    assert_eq!(fixes[1], Fix::Dropped { wanted: 0 });
    // The MILP's own answer on this batch, repaired, is applicable as is.
    let sol = milp::solve(&b, &MilpParams::default()).expect("solved");
    let fixes = replay(&b, &sol.assign, 35.0, &w);
    assert!(fixes.iter().all(|f| f.placed().is_some()));
}

#[test]
fn a_queue_backlog_keeps_arrival_order() {
    // Three VMs, the big one last: largest first sorts them, unless the batch is larger than
    // `largest_first_max_vms` (a queue backlog, oldest first), which keeps arrival order.
    let b = batch(
        vec![
            vm("s1", 2.0, 60.0),
            vm("s2", 1.0, 60.0),
            vm("big", 8.0, 60.0),
        ],
        vec![site("a", 2, 0.0, 100.0)],
        &[2.0],
    );
    let sorted = HeuristicParams {
        largest_first_max_vms: 3,
        ..HeuristicParams::default()
    };
    // Memory ties (1 GiB each): by CPU, 8 > 2 > 1.
    assert_eq!(smo_ecmr::heuristic::order(&b, &sorted), vec![2, 0, 1]);
    let backlog = HeuristicParams {
        largest_first_max_vms: 2,
        ..HeuristicParams::default()
    };
    assert_eq!(smo_ecmr::heuristic::order(&b, &backlog), vec![0, 1, 2]);
}

#[test]
fn large_batches_get_exchanges_without_improve_swaps() {
    // The exchange case above: with `improve_swaps: false`, a batch of 2 VMs gets the
    // exchange when `improve_swaps_from_vms` is 2, not when it is 3.
    let mk = || {
        batch(
            vec![vm("v1", 8.0, 60.0), vm("v2", 12.0, 60.0)],
            vec![
                site_of("a", linear_type(16.0, 50.0, 5.0), &[4.0], 0.0, 100.0),
                site("b", 2, 0.0, 100.0),
            ],
            &[2.0, 2.0],
        )
    };
    let p = |from| HeuristicParams {
        largest_first: false,
        improve_swaps: false,
        improve_swaps_from_vms: from,
        ..HeuristicParams::default()
    };
    let (out, _) = dispatch(&mut mk(), &p(3));
    assert_eq!(sites_of(&out), vec![Some(0), Some(1)]);
    let (out, c) = dispatch(&mut mk(), &p(2));
    assert_eq!(sites_of(&out), vec![Some(1), Some(0)]);
    assert_eq!(c.moved, 2);
}

#[test]
fn renewable_credit_charges_covered_power_at_the_grid_intensity() {
    // 1,000 W drawn, 1,500 W supply, 400 g/kWh; 800 W more: 500 W covered, 300 W brown.
    // Energy 0.2·800/100 = 1.6. Credit 1: carbon 0.7·400·300/1000/10 = 8.4. Credit 0: all
    // 800 W, 22.4. Credit 0.5: 0.5·300 + 0.5·800 = 550 W, 15.4.
    let b = smo_ecmr::objective::Base {
        facility_w: 1000.0,
        renewable_w: 1500.0,
        carbon_g_per_kwh: 400.0,
    };
    let w = Weights::default();
    assert!((b.cost(800.0, &w) - 10.0).abs() < 1e-9);
    assert!((b.cost_with_credit(800.0, &w, 1.0) - 10.0).abs() < 1e-9);
    assert!((b.cost_with_credit(800.0, &w, 0.0) - 24.0).abs() < 1e-9);
    assert!((b.cost_with_credit(800.0, &w, 0.5) - 17.0).abs() < 1e-9);
}

#[test]
fn without_credit_the_green_tier_prefers_the_cleaner_grid() {
    // Two green sites (1,000 W supply each), A at 0 ms on a 400 g/kWh grid, B at 10 ms on a
    // 20 g/kWh one; a 4-core VM switches a server on: 50 + 40 = 90 W either way.
    // Credit 1: A 0.2·90/100 = 0.18, B 0.18 + 0.1·10/100 = 0.19: A.
    // Credit 0: A 0.18 + 0.7·400·90/1000/10 = 2.70, B 0.19 + 0.7·20·90/1000/10 = 0.316: B.
    let mk = || {
        batch(
            vec![vm("v", 4.0, 3600.0)],
            vec![site("a", 2, 1000.0, 400.0), site("b", 2, 1000.0, 20.0)],
            &[0.0, 10.0],
        )
    };
    let (out, c) = dispatch(&mut mk(), &greedy_only());
    assert_eq!(c.fallback, 0);
    assert_eq!(sites_of(&out), vec![Some(0)]);
    let grid = greedy_only().grid();
    assert_eq!(grid.renewable_credit, 0.0);
    let (out, c) = dispatch(&mut mk(), &grid);
    assert_eq!(c.fallback, 0);
    assert_eq!(sites_of(&out), vec![Some(1)]);
    // With the improvement pass (the default) the answers are the same.
    let (out, _) = dispatch(&mut mk(), &HeuristicParams::default());
    assert_eq!(sites_of(&out), vec![Some(0)]);
    let (out, _) = dispatch(&mut mk(), &HeuristicParams::default().grid());
    assert_eq!(sites_of(&out), vec![Some(1)]);
}
