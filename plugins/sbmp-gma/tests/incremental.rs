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
