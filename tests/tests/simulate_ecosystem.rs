//! `smo simulate scenarios/ecosystem.yaml` with the real `ecosystem/satisfy` plugin: against
//! the same arrivals without the engine, it raises the mean and worst Dependency Satisfaction
//! Score and lowers the response time, with a bounded number of migrations.

use serde_json::Value;
use smo_tests::*;

fn totals<'a>(doc: &'a Value, run: &str) -> &'a Value {
    doc["runs"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["run"] == run))
        .map(|r| &r["totals"])
        .unwrap_or_else(|| panic!("no run {run} in {doc}"))
}

fn number(totals: &Value, key: &str) -> f64 {
    totals[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {totals}"))
}

#[test]
fn the_engine_raises_scores_and_lowers_response_time_with_few_moves() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_ecosystem", "ecosystem.so");
    let out = sandbox
        .simulate("ecosystem.yaml")
        .output()
        .expect("smo runs");
    let doc = simulate_report(&out);
    assert_eq!(doc["scenario"], "ecosystem");
    let (none, engine) = (totals(&doc, "none"), totals(&doc, "ecosystem/satisfy"));
    // The same arrivals: the same tiers deployed.
    assert_eq!(none["deployed"], engine["deployed"]);
    assert_eq!(number(none, "migrations"), 0.0);
    // The arrivals break dependencies...
    assert!(number(none, "violated_pct") > 0.0, "{none}");
    // ... and the engine mends them.
    for (key, better) in [
        ("mean_score", 1.0),
        ("worst_score", 1.0),
        ("violated_pct", -1.0),
        ("below_pct", -1.0),
        ("response_ms", -1.0),
        ("response_p95_ms", -1.0),
    ] {
        assert!(
            better * (number(engine, key) - number(none, key)) > 0.0,
            "{key}: {} with the engine, {} without",
            number(engine, key),
            number(none, key)
        );
    }
    // Bounded: fewer moves than the workloads deployed, and each carried a cost.
    let moves = number(engine, "migrations");
    assert!(
        moves > 0.0 && moves < number(engine, "deployed"),
        "{engine}"
    );
    assert!(number(engine, "downtime_s") >= 2.0 * moves, "{engine}");
    assert!(number(engine, "moved_gib") > 0.0);
    assert_eq!(number(engine, "strategy_errors"), 0.0);
}

#[test]
fn without_the_plugin_the_run_stops_naming_the_strategy_and_where_it_looked() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .simulate("ecosystem.yaml")
        .output()
        .expect("smo runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ecosystem/satisfy"), "{stderr}");
    // It says where it looked and what to do.
    assert!(
        stderr.contains("searched") && stderr.contains("--plugin-dir"),
        "{stderr}"
    );
}
