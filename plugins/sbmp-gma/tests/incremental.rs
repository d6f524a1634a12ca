//! The incremental evaluation against the straightforward one: on random DAG and Barabási–Albert
//! apps, both evaluators must give the same plan, down to every bit, order and count.

use smo_sbmp_gma::decide::{decide_with, Plan};
use smo_sbmp_gma::model::Evaluator;
use smo_sbmp_gma::params::{Extra, Params};
use smo_sbmp_gma::problem::{self, Problem};
use smo_sbmp_gma::synth::{self, BaSpec, Spec};
use smo_sbmp_gma::Offload;

/// The problem of `app` with its cloud-only network delay, in ms.
fn problem_of(app: &smo_plugin_api::MigrationRequest, params: &Params) -> (Problem, f64) {
    let extra = Extra::parse(&app.extra).expect("extra");
    let p = problem::build(app, params, &extra).expect("problem");
    let d = p
        .model
        .evaluate(&p.current, smo_sbmp_gma::model::UsageMode::Shifted)
        .delay_s;
    (p, d * 1000.0)
}

/// Both plans for `required_ms`, as their full debug text (f64s print exactly).
fn both(problem: &Problem, params: &Params, required_ms: f64) -> (String, String, Plan) {
    let fast = decide_with(problem, params, required_ms, Evaluator::new(&problem.model));
    let plain = decide_with(
        problem,
        params,
        required_ms,
        Evaluator::straightforward(&problem.model),
    );
    (format!("{fast:?}"), format!("{plain:?}"), fast)
}

const CONFIGS: [&str; 4] = [
    r#"{"stopMultiplier": 1.0}"#,
    r#"{"stopMultiplier": 1.0, "cheapestFinisher": false, "refineBudget": 0}"#,
    r#"{"stopMultiplier": 0.3, "expandingDepth": 1, "maxSgs": 16}"#,
    r#"{"stopMultiplier": 1.0, "expandingDepth": 3, "maxTraces": 300, "refineBudget": 500}"#,
];

/// Runs every config and target fraction on `app`, and an unoffload from where the first
/// config's offload ends; returns the rounds of all offloads.
fn check(app: &smo_plugin_api::MigrationRequest, what: &str, fractions: &[f64]) -> usize {
    let mut rounds = 0;
    for (k, config) in CONFIGS.into_iter().enumerate() {
        let params = Offload::new(config).expect("parameters").params().clone();
        let (problem, d0) = problem_of(app, &params);
        for &frac in fractions {
            let (fast, plain, plan) = both(&problem, &params, frac * d0);
            assert!(
                fast == plain,
                "{what}, {config}, target {frac} of {d0} ms: the plans differ\nincremental: {fast}\nstraightforward: {plain}"
            );
            rounds += plan.rounds;
            if k > 0 {
                continue;
            }
            let mut back = app.clone();
            back.current = smo_plugin_api::Placement {
                assignments: plan
                    .edge
                    .iter()
                    .filter(|&s| s < problem.names.len())
                    .map(|s| smo_plugin_api::Assignment {
                        service: problem.name(s).into(),
                        cluster: "edge".into(),
                        replicas: 1,
                    })
                    .chain(app.current.assignments.iter().cloned())
                    .collect::<Vec<_>>()
                    .into(),
            };
            let (problem2, _) = problem_of(&back, &params);
            let (fast, plain, _) = both(&problem2, &params, -0.4 * frac * d0);
            assert!(
                fast == plain,
                "{what}, {config}, unoffload after {frac}: the plans differ\nincremental: {fast}\nstraightforward: {plain}"
            );
        }
    }
    rounds
}

#[test]
fn random_dag_apps_decide_the_same() {
    let mut rounds = 0;
    for n in [6, 30, 60] {
        for seed in 0..2 {
            let app = synth::app(&Spec::new(n, 500 + seed));
            rounds += check(&app, &format!("dag n={n} seed={seed}"), &[0.3, 0.8]);
        }
    }
    // The comparison covered real searches, not only trivial ones.
    assert!(rounds > 300, "only {rounds} rounds");
}

#[test]
fn barabasi_albert_apps_decide_the_same() {
    let mut rounds = 0;
    for (n, seeds) in [(40, 0..3), (120, 1..3)] {
        for seed in seeds {
            let app = synth::ba_app(&BaSpec::new(n, seed));
            rounds += check(&app, &format!("ba n={n} seed={seed}"), &[0.3, 0.69]);
        }
    }
    assert!(rounds > 300, "only {rounds} rounds");
}

/// FNV-1a, 64 bits.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Digests of what was decided (edge set, change order, search counts, predicted figures and
/// each move's share), recorded with the implementation before the speed-ups of issue 31
/// (commit 492fc78) for a required decrease of 69 % of the cloud-only delay: every fast path
/// (incremental evaluation, candidate builder, exchange-search shortcut) must keep them.
const RECORDED: [(&str, usize, u64); 21] = [
    ("ba500-2", 0, 0xee198dc1794a0ed7),
    ("ba500-2", 1, 0xaf7b4a8ddaf75657),
    ("ba500-2", 2, 0xb2db135812a21055),
    ("ba150-0", 0, 0x9c50af2ad3661fc4),
    ("ba150-0", 1, 0xa9634d21e6349f28),
    ("ba150-0", 2, 0xb34cce25425e4edf),
    ("dag60-0", 0, 0xeaeb93adb6750b97),
    ("dag60-0", 1, 0x27960ccfe597d179),
    ("dag60-0", 2, 0x49d08600ed6d0052),
    ("ba150-1", 0, 0x8bdbd11e3559f235),
    ("ba150-1", 1, 0xb3c79ca4c5feb8d6),
    ("ba150-1", 2, 0xf59003fcf7910ec7),
    ("dag60-1", 0, 0xf09bb8f2178262b4),
    ("dag60-1", 1, 0x82eb2635b6feee85),
    ("dag60-1", 2, 0xb85a4dc0a0b37486),
    ("ba150-2", 0, 0x17feaa879d602612),
    ("ba150-2", 1, 0xc277260a0ce962bc),
    ("ba150-2", 2, 0xffb66563a4898db3),
    ("dag60-2", 0, 0x0b2f6804dc5e9e8e),
    ("dag60-2", 1, 0x52d01e58554036a7),
    ("dag60-2", 2, 0xd9edf88a24c7c7d3),
];

#[test]
fn decisions_match_those_recorded_before_the_speed_ups() {
    let recorded_configs = [CONFIGS[0], CONFIGS[1], CONFIGS[2]];
    for (name, k, digest) in RECORDED {
        let (kind, seed) = name.split_once('-').expect("name-seed");
        let seed: u64 = seed.parse().expect("seed");
        let app = match kind {
            "ba500" => synth::ba_app(&BaSpec::new(500, seed)),
            "ba150" => synth::ba_app(&BaSpec::new(150, seed)),
            _ => synth::app(&Spec::new(60, seed)),
        };
        let params = Offload::new(recorded_configs[k])
            .expect("parameters")
            .params()
            .clone();
        let (problem, d0) = problem_of(&app, &params);
        let plan = decide_with(&problem, &params, 0.69 * d0, Evaluator::new(&problem.model));
        let attribution: Vec<(usize, f64, f64)> =
            plan.attribution.iter().map(|a| (a.0, a.1, a.2)).collect();
        let decided = format!(
            "{:?}",
            (
                &plan.edge,
                &plan.to_apply,
                &plan.to_delete,
                plan.rounds,
                plan.candidates_seen,
                plan.evaluations,
                plan.after.eval,
                attribution
            )
        );
        assert_eq!(
            fnv(&decided),
            digest,
            "{name}, {}: the decision changed: {decided}",
            recorded_configs[k]
        );
    }
}
