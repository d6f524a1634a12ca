//! The model test vectors of the research note §7.3 (toy app, M = 7), checked two ways: against
//! the printed table (its 6 decimals) and, at 1e-9, against a dense (I − Fiᵀ)N = e reference.

// The reference spells the formulas out with explicit indices.
#![allow(clippy::needless_range_loop)]

use smo_sbmp_gma::bitset::Set;
use smo_sbmp_gma::graph::CallGraph;
use smo_sbmp_gma::model::{AreaPrices, Evaluator, Model, ModelInput, UsageMode, CLOUD, EDGE};
use smo_sbmp_gma::offload::{offload, Search};
use smo_sbmp_gma::rng::SplitMix64;
use smo_sbmp_gma::traces::{sample, CandidateRules, Ranking};
use smo_sbmp_gma::unoffload::{unoffload, Unoffload};

const M: usize = 7;
const USER: usize = 6;
const FM: [(usize, usize, f64); 6] = [
    (6, 0, 1.0),
    (0, 1, 1.0),
    (0, 2, 2.0),
    (1, 3, 1.0),
    (2, 4, 1.0),
    (2, 5, 1.0),
];
const L: [f64; M] = [20e3, 5e3, 10e3, 50e3, 2e3, 100e3, 0.0];
const U: [f64; M] = [0.5, 0.3, 0.8, 0.2, 0.4, 0.6, 0.0];

fn toy(bitrate: f64, l_scale: f64) -> ModelInput {
    let v = |x: f64| vec![x; M];
    let mut mem = v(2e8);
    mem[USER] = 0.0;
    ModelInput {
        graph: CallGraph::new(6, &FM).unwrap(),
        response_bytes: L.iter().map(|l| l * l_scale).collect(),
        lambda: 20.0,
        rtt_s: 0.04,
        bitrate_bps: bitrate,
        network_price_gb: 0.02,
        prices: [
            AreaPrices {
                cpu_core_hour: 0.0208,
                memory_byte_hour: 0.0104 / 1e9,
            },
            AreaPrices {
                cpu_core_hour: 0.028,
                memory_byte_hour: 0.014 / 1e9,
            },
        ],
        // The note's vectors give the user requests too (one extra cloud "user" replica).
        cpu_request: [v(0.5), v(0.5)],
        memory_request: [v(256e6), v(256e6)],
        hpa_target: [v(0.6), v(0.6)],
        cpu_usage: [U.to_vec(), v(0.0)],
        memory_usage: [mem, v(0.0)],
    }
}

fn set(services: &[usize]) -> Set {
    let mut s = Set::empty(M);
    s.insert(USER);
    services.iter().for_each(|&i| s.insert(i));
    s
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// Dense reference: instance-level Fi (2M × 2M), N from (I − Fiᵀ)N = e by Gauss–Jordan,
/// then T, D and the shifted cost, straight from the formulas of §1.2–1.3.
fn reference(inp: &ModelInput, edge: &Set) -> (f64, f64, [f64; 3]) {
    let n2 = 2 * M;
    let mut fi = vec![vec![0.0; n2]; n2];
    for &(i, j, f) in &FM {
        if i != USER {
            fi[i][j] = f; // cloud copies call cloud copies
        }
        if edge.contains(i) {
            let target = if edge.contains(j) { M + j } else { j };
            fi[M + i][target] = f;
        }
    }
    // A = I − Fiᵀ, b = e_{2M−1}
    let mut a = vec![vec![0.0; n2 + 1]; n2];
    for r in 0..n2 {
        for c in 0..n2 {
            a[r][c] = if r == c { 1.0 } else { 0.0 } - fi[c][r];
        }
    }
    a[n2 - 1][n2] = 1.0;
    for col in 0..n2 {
        let piv = (col..n2)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap();
        a.swap(col, piv);
        let p = a[col][col];
        for c in 0..=n2 {
            a[col][c] /= p;
        }
        for r in 0..n2 {
            if r != col && a[r][col] != 0.0 {
                let k = a[r][col];
                for c in 0..=n2 {
                    a[r][c] -= k * a[col][c];
                }
            }
        }
    }
    let n: Vec<f64> = (0..n2).map(|r| a[r][n2]).collect();
    let b = inp.bitrate_bps;
    let mut t = 0.0;
    for x in 0..M {
        for j in 0..M {
            t += 8.0 * inp.lambda * n[M + x] * fi[M + x][j] * inp.response_bytes[j];
        }
    }
    let rho = (t / b).min(1.0);
    let s = if rho < 1.0 {
        1.0 / (1.0 - rho)
    } else {
        1e6 * t / b
    };
    let mut d = 0.0;
    for x in 0..M {
        for j in 0..M {
            let dj = (8.0 * inp.response_bytes[j] / b * s).min(1e5) + inp.rtt_s;
            d += n[M + x] * fi[M + x][j] * dj;
        }
    }
    // Cloud-only N for the shift.
    let n_tot = [1.0, 1.0, 2.0, 1.0, 2.0, 2.0, 0.0];
    let mut cost = [0.0; 3];
    for j in 0..M {
        let (uc, ue) = if n_tot[j] > 0.0 {
            (U[j] * n[j] / n_tot[j], U[j] * n[M + j] / n_tot[j])
        } else {
            (U[j], 0.0)
        };
        let rc = ((uc / 0.6) / 0.5 - 1e-9).ceil().max(1.0);
        let re = ((ue / 0.6) / 0.5 - 1e-9).ceil().max(0.0);
        cost[0] += re * (0.028 * 0.5 + 0.014 * 0.256);
        cost[1] += rc * (0.0208 * 0.5 + 0.0104 * 0.256);
    }
    cost[2] = 0.02 * t * 3600.0 / 8.0 / 1e9;
    (d.min(1e5), t, cost)
}

/// (edge services, D, T, total, edge, cloud, traffic) from the note's table.
type Row = (&'static [usize], f64, f64, f64, f64, f64, f64);
const TABLE: [Row; 8] = [
    (&[], 0.040161, 3.2e6, 0.185549, 0.0, 0.156749, 0.028800),
    (
        &[0],
        0.120201,
        4.0e6,
        0.214854,
        0.035168,
        0.143686,
        0.036000,
    ),
    (
        &[0, 1],
        0.120566,
        11.2e6,
        0.297238,
        0.052752,
        0.143686,
        0.100800,
    ),
    (
        &[0, 2],
        0.201730,
        33.44e6,
        0.506442,
        0.087920,
        0.117562,
        0.300960,
    ),
    (
        &[0, 1, 2],
        0.202118,
        40.64e6,
        0.588826,
        0.105504,
        0.117562,
        0.365760,
    ),
    (
        &[0, 1, 3],
        0.080161,
        3.2e6,
        0.242822,
        0.070336,
        0.143686,
        0.028800,
    ),
    (
        &[0, 2, 4, 5],
        0.040040,
        0.8e6,
        0.256893,
        0.158256,
        0.091437,
        0.007200,
    ),
    (
        &[0, 1, 2, 3, 4, 5],
        0.0,
        0.0,
        0.284861,
        0.193424,
        0.091437,
        0.0,
    ),
];

#[test]
fn delay_and_cost_match_the_table() {
    let model = Model::new(toy(1e9, 1.0));
    assert_eq!(
        model.cloud_only_invocations(),
        vec![1.0, 1.0, 2.0, 1.0, 2.0, 2.0, 0.0]
    );
    // The table prints 6 decimals: half a unit of the last digit, plus float slack.
    let printed = 5e-7 + 1e-12;
    for (services, d, t, total, edge, cloud, traffic) in TABLE {
        let e = model.evaluate(&set(services), UsageMode::Shifted);
        let what = format!("E = {services:?}: {e:?}");
        assert!((e.delay_s - d).abs() <= printed, "D {what}");
        assert!(rel(e.traffic_bps, t) <= 1e-9, "T {what}");
        assert!((e.cost.total() - total).abs() <= printed, "total {what}");
        assert!((e.cost.edge - edge).abs() <= printed, "edge {what}");
        assert!((e.cost.cloud - cloud).abs() <= printed, "cloud {what}");
        assert!(
            (e.cost.traffic - traffic).abs() <= printed,
            "traffic {what}"
        );
    }
}

#[test]
fn delay_and_cost_match_the_dense_reference_at_1e_9() {
    for (bitrate, scale) in [(1e9, 1.0), (100e6, 10.0)] {
        let inp = toy(bitrate, scale);
        let model = Model::new(inp.clone());
        // Every edge subset, not only the table rows.
        for mask in 0u32..64 {
            let services: Vec<usize> = (0..6).filter(|i| mask & (1 << i) != 0).collect();
            let e = model.evaluate(&set(&services), UsageMode::Shifted);
            let (d, t, c) = reference(&inp, &set(&services));
            let what = format!("B = {bitrate}, E = {services:?}");
            assert!(rel(e.delay_s, d) <= 1e-9, "D {what}: {} vs {d}", e.delay_s);
            assert!(rel(e.traffic_bps, t) <= 1e-9, "T {what}");
            assert!(rel(e.cost.edge, c[0]) <= 1e-9, "edge cost {what}");
            assert!(rel(e.cost.cloud, c[1]) <= 1e-9, "cloud cost {what}");
            assert!(rel(e.cost.traffic, c[2]) <= 1e-9, "traffic cost {what}");
        }
    }
}

#[test]
fn first_row_by_hand() {
    let model = Model::new(toy(1e9, 1.0));
    let e = model.evaluate(&set(&[]), UsageMode::Shifted);
    assert!(rel(e.delay_s, 0.04 + 1.6e-4 / 0.9968) <= 1e-12);
    assert!(rel(e.cost.cloud, 12.0 * (0.0208 * 0.5 + 0.0104 * 0.256)) <= 1e-12);
    assert!(rel(e.cost.traffic, 0.0288) <= 1e-12);
    // Measured usage equals the shifted one on the cloud-only deployment.
    assert_eq!(e, model.evaluate(&set(&[]), UsageMode::Measured));
    let d = model.detail(&set(&[0, 2, 4, 5]), UsageMode::Shifted);
    let edge: Vec<u32> = d.replicas.iter().map(|r| r[EDGE]).collect();
    let cloud: Vec<u32> = d.replicas.iter().map(|r| r[CLOUD]).collect();
    assert_eq!(edge, vec![2, 0, 3, 0, 2, 2, 0]);
    assert_eq!(cloud, vec![1, 1, 1, 1, 1, 1, 1]);
}

fn rules(depth: usize) -> CandidateRules {
    CandidateRules {
        depth,
        max_sgs: 256,
        ranking: Ranking::Frequency,
    }
}

#[test]
fn heavy_traffic_toy() {
    let model = Model::new(toy(100e6, 10.0));
    let void = set(&[]);
    let full = set(&[0, 1, 2, 3, 4, 5]);
    let e = model.evaluate(&void, UsageMode::Shifted);
    assert!((e.delay_s - 0.063529).abs() <= 5e-7, "{e:?}");
    assert!(rel(e.traffic_bps, 32e6) <= 1e-9);
    assert!((e.cost.total() - 0.444749).abs() <= 5e-7);
    assert!(rel(e.cost.traffic, 0.288) <= 1e-9);
    let f = model.evaluate(&full, UsageMode::Shifted);
    assert!((f.cost.total() - 0.284861).abs() <= 5e-7);
    let step1 = model.evaluate(&set(&[0, 1, 2]), UsageMode::Shifted);
    assert_eq!(step1.rho, 1.0, "the first step saturates the link");

    let traces = sample(model.graph(), 64, &mut SplitMix64::new(3));
    let nothing = Set::empty(M);
    // Offload with Δ* = 50 ms goes straight to full edge: {0,1,2}, then {3,4,5}.
    let mut ev = Evaluator::new(&model);
    let out = offload(
        &mut ev,
        &traces,
        &Search {
            start: void.clone(),
            base_delay_s: e.delay_s,
            target_s: 0.05,
            stop_s: 0.05,
            locked: &nothing,
            keep: &nothing,
            rules: rules(2),
            cheapest_finisher: true,
            refine_budget: 4096,
        },
    );
    assert_eq!(out.edge, full);
    assert_eq!(out.rounds, 2);
    // Unoffload from full edge with Δ⁺ = 100 ms empties the edge (D_void ≤ D_target), and
    // the cost rises by 0.159888 $/h: the plugin's cost check rejects that (tests/plugin.rs).
    let u = unoffload(
        &mut ev,
        &traces,
        &Unoffload {
            current: full.clone(),
            allowed_increase_s: 0.1,
            stop_multiplier: 1.0,
            keep: &nothing,
            locked: &nothing,
            rules: rules(2),
            cheapest_finisher: true,
            refine_budget: 4096,
        },
    );
    assert_eq!(u.outcome.edge, void);
    let rise = u.outcome.eval.cost.total() - f.cost.total();
    assert!((rise - 0.159888).abs() <= 1e-6, "{rise}");
}

#[test]
fn light_toy_offload_goes_full_edge() {
    let model = Model::new(toy(1e9, 1.0));
    let void = set(&[]);
    let d0 = model.evaluate(&void, UsageMode::Shifted).delay_s;
    let traces = sample(model.graph(), 64, &mut SplitMix64::new(9));
    let nothing = Set::empty(M);
    for target in [0.001, 0.01, 0.04] {
        let mut ev = Evaluator::new(&model);
        let out = offload(
            &mut ev,
            &traces,
            &Search {
                start: void.clone(),
                base_delay_s: d0,
                target_s: target,
                stop_s: target,
                locked: &nothing,
                keep: &nothing,
                rules: rules(2),
                cheapest_finisher: true,
                refine_budget: 4096,
            },
        );
        assert_eq!(out.edge, set(&[0, 1, 2, 3, 4, 5]), "target {target}");
    }
}
