//! `h3ni-energy/repack` from its real `.so` as `smo simulate`'s VM migration: on a hand-checked
//! datacenter it empties the server a finished VM left nearly idle, for exactly the energy the
//! power model says; on the 7-day reference scenario every move it plans is one the host can
//! apply, and the run uses less energy per request than without it. A VM migration strategy
//! that panics is counted, and the run goes on as without one.

use serde_json::Value;
use smo_tests::*;

/// Two 8-core servers (100-200 W, PUE 1.5), 8 hours of 30-minute steps, three VMs: v0 (6 cores,
/// 2 h) at 0 on server 0, v1 (4 cores, 6 h) at 0:30 on server 1, v2 (2 cores, 6 h) at 1:00 on
/// server 0 (the first of two equal rises).
const TWO_SERVERS: &str = r#"name: two-servers
data_source: hand-written test case
seed: 1
start: 2024-01-01T00:00:00Z
hours: 8
step_minutes: 30
slo_ms: 100
users:
  - {name: paris, lat: 48.8566, lon: 2.3522}
datacenters:
  - name: dc
    lat: 48.8566
    lon: 2.3522
    pue: 1.5
    carbon_intensity: 300
    servers:
      - {count: 2, cores: 8, memory_gib: 32, idle_w: 100, peak_w: 200}
workload:
  vms:
    kind: list
    requests:
      - {arrival_s: 0, cpu: 6, memory_mib: 1024, duration_s: 7200}
      - {arrival_s: 1800, cpu: 4, memory_mib: 1024, duration_s: 21600}
      - {arrival_s: 3600, cpu: 2, memory_mib: 1024, duration_s: 21600}
"#;

const PLAIN: &str = "h3ni-energy/placement";
const REPACKING: &str = "placement=h3ni-energy/placement,vm_migration=h3ni-energy/repack";

fn runs(sandbox: &Sandbox, scenario: &str, extra: &[&str]) -> (Value, Value) {
    let out = sandbox
        .simulate(scenario)
        .args(extra)
        .args(["--strategy", PLAIN, "--strategy", REPACKING])
        .output()
        .expect("smo runs");
    let doc = simulate_report(&out);
    let runs = doc["strategies"].as_array().expect("strategies");
    (runs[0]["totals"].clone(), runs[1]["totals"].clone())
}

#[test]
fn the_server_a_finished_vm_left_nearly_idle_is_emptied() {
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy"]);
    let file = sandbox.state_dir().with_file_name("two-servers.yaml");
    std::fs::write(&file, TWO_SERVERS).expect("scenario written");
    let (plain, repacked) = runs(&sandbox, file.to_str().expect("utf-8 path"), &[]);
    assert_eq!(plain["migrations"], 0, "{plain}");
    assert_eq!(repacked["migrations"], 1, "{repacked}");
    assert_eq!(repacked["refused_vm_moves"], 0, "{repacked}");
    assert_eq!(repacked["served"], plain["served"]);
    // At 2:00 v0 ends; v2 moves onto server 1 and server 0 switches off. Without the move,
    // 2:00-7:00 draws 125 W (server 0) + 150 W for 4.5 h (server 1) = 1,300 Wh; with it,
    // 175 W for 4.5 h + 125 W for 0.5 h = 850 Wh, plus 10 Wh to copy v2's GiB. x PUE 1.5.
    let saved = number(&plain, "energy_kwh") - number(&repacked, "energy_kwh");
    assert!(
        (saved - (1.300 - 0.860) * 1.5).abs() < 1e-9,
        "saved {saved} kWh"
    );
    assert!((number(&repacked, "migration_energy_kwh") - 0.01).abs() < 1e-12);
}

#[test]
fn every_move_on_the_reference_week_applies_and_saves_energy() {
    // Seed 1, where h3ni alone misses the issue's 25 % the most (-19 % against default-lp):
    // re-packing takes it to -23 %.
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy"]);
    let (plain, repacked) = runs(&sandbox, "eu-5dc-7d.yaml", &["--seed", "1"]);
    assert_eq!(repacked["strategy_errors"], 0, "{repacked}");
    assert_eq!(repacked["refused_vm_moves"], 0, "{repacked}");
    assert!(number(&repacked, "migrations") > 0.0, "{repacked}");
    assert_below(
        "energy per request with repack",
        number(&repacked, "energy_per_request_wh"),
        number(&plain, "energy_per_request_wh"),
    );
}

#[test]
fn a_panicking_vm_migration_strategy_is_counted_and_the_run_goes_on() {
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy"]);
    sandbox.install("smo_fixture_panicky", "panicky.so");
    let file = sandbox.state_dir().with_file_name("two-servers.yaml");
    std::fs::write(&file, TWO_SERVERS).expect("scenario written");
    let out = sandbox
        .simulate(file.to_str().expect("utf-8 path"))
        .args(["--strategy", PLAIN])
        .args([
            "--strategy",
            "placement=h3ni-energy/placement,vm_migration=panicky/boom-migration",
        ])
        .output()
        .expect("smo runs");
    let doc = simulate_report(&out);
    let runs = doc["strategies"].as_array().expect("strategies");
    let (plain, boom) = (&runs[0]["totals"], &runs[1]["totals"]);
    // Calls every hour from 1:00 to 6:00 (by 7:00 the last VM has ended): each panic, or
    // refusal once the strategy is quarantined, is one strategy error.
    assert_eq!(boom["strategy_errors"], 6, "{boom}");
    assert_eq!(boom["migrations"], 0, "{boom}");
    assert_eq!(boom["served"], plain["served"]);
    assert_eq!(number(boom, "energy_kwh"), number(plain, "energy_kwh"));
}
