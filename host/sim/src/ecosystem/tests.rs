//! The ecosystem run on a small continuum: arrivals break a dependency, the engine mends it
//! within its budget, and what it costs is measured; a bad section is refused with every path.

use super::*;
use crate::command::SimulateArgs;
use crate::testing::TestDriver;

/// Paris has room for one shop and a second shop's web tier and cache, not its database, which
/// lands in Frankfurt (10.6 ms away, over the web tier's 5 ms); a third shop goes to Frankfurt.
fn yaml(budget: u32) -> String {
    format!(
        r#"name: eco-tiny
seed: 3
start: 2024-10-14T00:00:00Z
hours: 2
step_minutes: 15
slo_ms: 100
network: {{ms_per_km: 0.02, base_ms: 1, bandwidth_mbps: 8000}}
users:
  - {{name: paris-users, lat: 48.8566, lon: 2.3522}}
datacenters:
  - {{name: paris, lat: 48.8566, lon: 2.3522, pue: 1.1, carbon_intensity: 30,
     servers: [{{model: s, count: 1, cores: 20, memory_gib: 64, idle_w: 50, peak_w: 200}}]}}
  - {{name: frankfurt, lat: 50.1109, lon: 8.6821, pue: 1.1, carbon_intensity: 300,
     servers: [{{model: s, count: 1, cores: 200, memory_gib: 640, idle_w: 50, peak_w: 200}}]}}
ecosystem:
  compare: [none, test/ecosystem-best]
  max_moves_per_period: {budget}
  applications:
    - name: shop
      count: 3
      arrive_hours: [0, 0.1]
      tiers:
        - name: web
          cpu: 4
          memory_gib: 8
          processing_ms: 5
          calls: {{database: 4, caching: 6}}
          provides: {{type: web, state_gib: 1}}
          dependencies:
            required: [{{type: database, software_stack: ["{{app}}"], network_latency_requirement: "< 5 ms"}}]
            preferred: [{{type: caching, software_stack: ["{{app}}"]}}]
        - name: db
          cpu: 8
          memory_gib: 32
          processing_ms: 2
          provides: {{type: database, software_stack: ["{{app}}"], state_gib: 40}}
        - name: cache
          cpu: 2
          memory_gib: 8
          processing_ms: 0.5
          provides: {{type: caching, software_stack: ["{{app}}"], state_gib: 3}}
"#
    )
}

fn scenario(text: &str) -> Scenario {
    Scenario::from_yaml(text, std::path::Path::new(".")).expect("valid scenario")
}

fn run(sc: &Scenario, name: &str) -> EcosystemRun {
    simulate(sc, name, &TestDriver).expect("runs")
}

#[test]
fn arrivals_break_a_dependency_and_the_engine_mends_it() {
    let sc = scenario(&yaml(3));
    let none = run(&sc, "none");
    let engine = run(&sc, "test/ecosystem-best");
    // Without the engine shop-2's web tier misses its database all along (1 of 9 workloads).
    assert_eq!(none.totals.deployed, 9);
    assert_eq!(none.totals.migrations, 0);
    assert!(
        (none.totals.violated_pct - 100.0 / 9.0).abs() < 1e-9,
        "{none:?}"
    );
    // With it: the web tier joins its database, then its cache joins it, in the first round.
    assert_eq!(engine.totals.migrations, 2, "{engine:?}");
    assert_eq!(engine.totals.violated_pct, 0.0);
    assert_eq!(engine.totals.mean_score, 1.0);
    assert!(none.totals.mean_score < engine.totals.mean_score);
    assert!(
        engine.totals.response_ms < none.totals.response_ms,
        "{} vs {}",
        engine.totals.response_ms,
        none.totals.response_ms
    );
    // Web (1 GiB) and cache (3 GiB) copied at 8 Gb/s: 1 s and 3 s, plus 2 s of downtime each.
    assert!((engine.totals.moved_gib - 4.0).abs() < 1e-9);
    let copy_s = 4.0 * 8.0 * 1024.0 / 8000.0;
    assert!(
        (engine.totals.downtime_s - (4.0 + copy_s)).abs() < 1e-9,
        "{engine:?}"
    );
}

#[test]
fn the_budget_bounds_the_moves_of_a_round() {
    let sc = scenario(&yaml(1));
    let engine = run(&sc, "test/ecosystem-best");
    assert_eq!(engine.totals.migrations, 2);
    // One a round: the web tier in the first, its cache in the second (both in hour 0).
    assert_eq!(engine.hourly[0].migrations, 2);
    // The web tier met its database in the first round; it stayed below the threshold (its
    // cache away) for that one step of eight.
    assert_eq!(engine.totals.violated_pct, 0.0);
    assert!(
        (engine.totals.below_pct - 100.0 / 9.0 / 8.0).abs() < 1e-9,
        "{engine:?}"
    );
    let unbounded = run(&scenario(&yaml(3)), "test/ecosystem-best");
    assert_eq!(unbounded.totals.below_pct, 0.0);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let sc = scenario(&yaml(3));
    let mut first = run(&sc, "test/ecosystem-best");
    let mut second = run(&sc, "test/ecosystem-best");
    // Only the wall-clock time may differ.
    first.totals.decide_ms = 0.0;
    second.totals.decide_ms = 0.0;
    assert_eq!(first, second);
    assert_eq!(
        arrivals::draw(&sc, sc.spec.ecosystem.as_ref().expect("section")),
        arrivals::draw(&sc, sc.spec.ecosystem.as_ref().expect("section"))
    );
}

#[test]
fn a_bad_section_is_refused_with_every_path() {
    let text = yaml(0)
        .replace("count: 3", "count: 0")
        .replace("\"< 5 ms\"", "\"> 5 ms\"")
        .replace(
            "compare: [none, test/ecosystem-best]",
            "compare: [none, none, nope]",
        )
        .replace("cpu: 8\n", "cpu: -8\n");
    let error = Scenario::from_yaml(&text, std::path::Path::new("."))
        .expect_err("refused")
        .errors;
    for wanted in [
        "ecosystem.compare[1]: is listed twice",
        "ecosystem.compare[2]: must be `none` or `plugin/strategy`",
        "ecosystem.max_moves_per_period: must be >= 1",
        "ecosystem.applications[0].count: must be >= 1",
        "ecosystem.applications[0].tiers[1].cpu: must be > 0",
        "ecosystem.applications[0].tiers[0].dependencies.required[0].network_latency_requirement",
    ] {
        assert!(
            error.iter().any(|e| e.starts_with(wanted)),
            "{wanted} not in {error:#?}"
        );
    }
}

#[test]
fn options_without_meaning_here_are_refused() {
    let sc = scenario(&yaml(3));
    let args = SimulateArgs {
        lower_bound: true,
        ..SimulateArgs::default()
    };
    let e = compare::run(&args, &sc, &TestDriver)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("--lower-bound does not apply"), "{e}");
    let args = SimulateArgs {
        strategies: vec!["nope/nothing".into()],
        no_progress: true,
        ..SimulateArgs::default()
    };
    // No workload is below the threshold before the first arrival is placed, so the unknown
    // strategy is found when first asked.
    let e = compare::run(&args, &sc, &TestDriver)
        .expect_err("unknown")
        .to_string();
    assert!(e.contains("nope/nothing"), "{e}");
}
