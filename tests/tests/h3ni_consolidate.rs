//! `h3ni-energy/consolidate` from its real `.so` in `smo simulate`: on upstream's Brussels demo
//! (two single-server clusters, one graph) the evening's falling load is consolidated onto one
//! node, so the evening uses less energy than the same run without the migration strategy; on
//! cloud-edge it does not trade the services' SLO for a server's idle power.

use serde_json::Value;
use smo_tests::*;

/// `scenario` with h3ni placement + predictive, without and with consolidate: both runs.
fn without_and_with_consolidate(scenario: &str) -> (Value, Value) {
    // cloud-edge names sbmp-gma/offload as its migration default; the runs name their own.
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy", "smo_sbmp_gma"]);
    let plain = "placement=h3ni-energy/placement,scaling=h3ni-energy/predictive";
    let consolidating = format!("{plain},migration=h3ni-energy/consolidate");
    let out = sandbox
        .simulate(scenario)
        .args(["--strategy", plain, "--strategy", &consolidating])
        .output()
        .expect("smo runs");
    let doc: Value = simulate_report(&out);
    let runs = doc["strategies"].as_array().expect("strategies");
    (runs[0].clone(), runs[1].clone())
}

#[test]
fn consolidation_moves_the_graph_onto_one_node_when_the_load_falls() {
    let (before, after) = without_and_with_consolidate("brussels-demo.yaml");
    let evening = |run: &Value| -> f64 {
        run["hourly"].as_array().expect("hourly")[20..24]
            .iter()
            .map(|h| h["energy_kwh"].as_f64().expect("energy"))
            .sum()
    };
    assert_eq!(after["totals"]["strategy_errors"], 0, "{}", after["totals"]);
    assert!(
        after["totals"]["migrations"].as_u64() > before["totals"]["migrations"].as_u64(),
        "consolidation moves services: {} vs {}",
        after["totals"]["migrations"],
        before["totals"]["migrations"]
    );
    // One node of the two switched off: its idle power (30 or 40 W x PUE 1.4) for 4 hours.
    assert!(
        evening(&after) < evening(&before) - 0.1,
        "evening {:.3} kWh with consolidation vs {:.3} without",
        evening(&after),
        evening(&before)
    );
    assert_eq!(after["totals"]["failed"], before["totals"]["failed"]);
}

#[test]
fn scheduled_consolidation_keeps_the_services_next_to_their_users() {
    let (plain, consolidated) = without_and_with_consolidate("cloud-edge.yaml");
    let (plain, consolidated) = (&plain["totals"], &consolidated["totals"]);
    assert_eq!(consolidated["strategy_errors"], 0, "{consolidated}");
    // The shop's users are in Milan. Moving frontend and catalog to munich-edge at 05:30 (7 ms
    // further) saved a server's idle power and nearly doubled their late requests once the
    // day's load came (9.94 M against 5.46 M).
    let late = |t: &Value| number(t, "service_slo_violations");
    assert!(
        late(consolidated) <= late(plain),
        "service SLO violations {} with consolidate, {} without",
        late(consolidated),
        late(plain)
    );
    assert!(number(consolidated, "failure_rate") <= number(plain, "failure_rate") + 1e-12);
}
