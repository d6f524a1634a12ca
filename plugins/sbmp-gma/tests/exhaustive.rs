//! SBMP against the exhaustive optimum on small random apps (up to 10 services): every edge
//! subset is evaluated with the same model; SBMP must meet the target at a cost within a bound.

use smo_sbmp_gma::bitset::Set;
use smo_sbmp_gma::model::UsageMode;
use smo_sbmp_gma::synth::{self, Spec};
use smo_sbmp_gma::Offload;

/// The cheapest edge set meeting `base − D ≥ target`, by enumeration.
fn optimum(problem: &smo_sbmp_gma::problem::Problem, base: f64, target: f64) -> (f64, Set) {
    let model = &problem.model;
    let n = problem.names.len();
    let mut best = (f64::INFINITY, model.void_set());
    for mask in 0u32..(1 << n) {
        let mut e = model.void_set();
        (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .for_each(|i| e.insert(i));
        let ev = model.evaluate(&e, UsageMode::Shifted);
        if base - ev.delay_s >= target * (1.0 - 1e-12) && ev.cost.total() < best.0 {
            best = (ev.cost.total(), e);
        }
    }
    best
}

struct Stats {
    cases: usize,
    ratios: Vec<f64>,
    extra_ratios: Vec<f64>,
    optimal: usize,
}

/// One app and target with its exhaustive optimum.
struct Case {
    request: smo_plugin_api::MigrationRequest,
    target_s: f64,
    base_delay_s: f64,
    base_cost: f64,
    optimum: f64,
}

const FRACTIONS: [f64; 6] = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85];

/// Every spec with targets at fractions of its cloud-only delay, and their optima.
fn cases(specs: impl Iterator<Item = Spec>) -> Vec<Case> {
    let probe = Offload::new("{}").unwrap();
    let mut out = Vec::new();
    for spec in specs {
        let base_req = synth::app(&spec);
        let (problem, p0) = probe.decide(&base_req).unwrap();
        let d0 = p0.before.eval.delay_s;
        for frac in FRACTIONS {
            let target_s = frac * d0;
            out.push(Case {
                request: synth::with_required_decrease(base_req.clone(), target_s * 1000.0),
                target_s,
                base_delay_s: d0,
                base_cost: p0.before.eval.cost.total(),
                optimum: optimum(&problem, d0, target_s).0,
            });
        }
    }
    out
}

fn run(label: &str, cases: &[Case], params: &str) -> Stats {
    let strategy = Offload::new(params).unwrap();
    let mut st = Stats {
        cases: 0,
        ratios: Vec::new(),
        extra_ratios: Vec::new(),
        optimal: 0,
    };
    for case in cases {
        let (_, plan) = strategy.decide(&case.request).unwrap();
        let got = plan.after.eval;
        assert!(
            case.base_delay_s - got.delay_s >= case.target_s * (1.0 - 1e-12),
            "{label} {}: target not met",
            case.request.graph.name
        );
        let ratio = got.cost.total() / case.optimum;
        assert!(ratio >= 1.0 - 1e-12, "SBMP beat the optimum? {ratio}");
        st.cases += 1;
        if ratio <= 1.0 + 1e-12 {
            st.optimal += 1;
        }
        st.ratios.push(ratio);
        if case.optimum - case.base_cost > 1e-9 {
            st.extra_ratios
                .push((got.cost.total() - case.base_cost) / (case.optimum - case.base_cost));
        }
    }
    let xmax = st.extra_ratios.iter().copied().fold(1.0, f64::max);
    let mut xs = st.extra_ratios.clone();
    xs.sort_by(f64::total_cmp);
    let xmed = xs.get(xs.len() / 2).copied().unwrap_or(1.0);
    println!(
        "{label}: {} cases, {} optimal, total-cost ratio mean {:.5} max {:.5}; extra-cost ratio median {xmed:.3} max {xmax:.3}",
        st.cases,
        st.optimal,
        mean(&st),
        worst(&st)
    );
    st
}

fn specs(seeds: std::ops::Range<u64>, f: impl Fn(&mut Spec) + Copy) -> impl Iterator<Item = Spec> {
    seeds.flat_map(move |seed| {
        (4..=10).map(move |n| {
            let mut s = Spec::new(n, seed * 100 + n as u64);
            f(&mut s);
            s
        })
    })
}

fn dense(s: &mut Spec) {
    s.fm = (0.3, 1.5);
    s.second_caller = 0.6;
    s.lambda = 20.0;
}

fn worst(st: &Stats) -> f64 {
    st.ratios.iter().copied().fold(1.0, f64::max)
}

fn mean(st: &Stats) -> f64 {
    st.ratios.iter().sum::<f64>() / st.ratios.len() as f64
}

// Bounds measured on these seeds (12 seeds × 7 sizes × 6 targets = 504 cases per family, see
// the README). Default parameters: worst total-cost ratio 1.00902 (research-like apps) and
// 1.04267 (dense apps). Plain SBMP (cheapestFinisher off, refineBudget 0): 1.07582 and 1.14040.
// The asserted bounds are those figures rounded up: they catch regressions, not float noise.

#[test]
fn sbmp_against_the_exhaustive_optimum() {
    let research = cases(specs(0..12, |_| {}));
    let dense = cases(specs(0..12, dense));

    let p = r#"{"stopMultiplier": 1.0}"#;
    let a = run("default, research-like", &research, p);
    assert!(worst(&a) <= 1.0091 && mean(&a) <= 1.0001, "{}", worst(&a));
    let b = run("default, dense", &dense, p);
    assert!(worst(&b) <= 1.0427 && mean(&b) <= 1.0003, "{}", worst(&b));

    let p = r#"{"stopMultiplier": 1.0, "cheapestFinisher": false, "refineBudget": 0}"#;
    let a = run("plain SBMP, research-like", &research, p);
    assert!(worst(&a) <= 1.0759 && mean(&a) <= 1.0026, "{}", worst(&a));
    let b = run("plain SBMP, dense", &dense, p);
    assert!(worst(&b) <= 1.1405 && mean(&b) <= 1.0073, "{}", worst(&b));

    // With k = 3 every case of these seeds is solved optimally.
    let p = r#"{"stopMultiplier": 1.0, "expandingDepth": 3}"#;
    for (label, c) in [
        ("depth 3, research-like", &research),
        ("depth 3, dense", &dense),
    ] {
        let st = run(label, c, p);
        assert!(worst(&st) <= 1.0 + 1e-9, "{label}: {}", worst(&st));
    }
}

/// `SBMP_PARAMS='{...}' cargo test -p smo-plugin-sbmp-gma --test exhaustive explore -- --ignored
/// --nocapture` prints the figures for other parameters.
#[test]
#[ignore]
fn explore() {
    let p = std::env::var("SBMP_PARAMS").unwrap_or(r#"{"stopMultiplier": 1.0}"#.into());
    run("research-like", &cases(specs(0..12, |_| {})), &p);
    run("dense", &cases(specs(0..12, dense)), &p);
}
