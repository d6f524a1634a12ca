//! `smo simulate` strategy parameters (`plugin/name?key=value`) reach the real plugin: a hard
//! latency cap keeps every VM in the datacenter next to the users, and a parameter the
//! strategy refuses stops the run with the strategy's own message naming it.

use serde_json::Value;
use smo_tests::*;
use std::process::Output;

fn simulate(sandbox: &Sandbox, strategies: &[&str]) -> Output {
    let mut cmd = sandbox.simulate("eu-5dc-24h.yaml");
    cmd.args(["--hours", "2"]);
    for s in strategies {
        cmd.args(["--strategy", s]);
    }
    cmd.output().expect("smo runs")
}

/// VMs placed per datacenter of one run in the JSON report.
fn placed(run: &Value) -> Vec<(String, u64)> {
    run["datacenters"]
        .as_array()
        .expect("datacenters")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().expect("name").to_string(),
                d["placed_vms"].as_u64().expect("placed_vms"),
            )
        })
        .collect()
}

#[test]
fn parameters_reach_the_plugin_and_change_its_decisions() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_h3ni_energy", "h3ni-energy.so");
    // Paris is 2 ms from the users (the network's base latency), every other site >= 11 ms.
    let capped = "h3ni-energy/placement?max_latency_ms=5&time_limit_s=0.5";
    let out = simulate(&sandbox, &["h3ni-energy/placement", capped]);
    let doc: Value = simulate_report(&out);
    let runs = doc["strategies"].as_array().expect("strategies");
    assert_eq!(runs[1]["strategy"], capped);
    let default_elsewhere: u64 = placed(&runs[0])
        .iter()
        .filter(|(n, _)| n != "paris")
        .map(|(_, v)| v)
        .sum();
    assert!(default_elsewhere > 0, "{:?}", placed(&runs[0]));
    for (name, vms) in placed(&runs[1]) {
        if name == "paris" {
            assert!(vms > 0, "{:?}", placed(&runs[1]));
        } else {
            assert_eq!(
                vms,
                0,
                "{name} beyond max_latency_ms: {:?}",
                placed(&runs[1])
            );
        }
    }
    assert_eq!(runs[1]["totals"]["strategy_errors"], 0);
}

#[test]
fn refused_parameters_stop_the_run_naming_them() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_h3ni_energy", "h3ni-energy.so");
    for (strategy, named) in [
        ("h3ni-energy/placement?bogus=1", "unknown field `bogus`"),
        ("h3ni-energy/placement?w_energy=-1", "w_energy"),
        (
            "h3ni-energy/placement?server_selection=best_fit",
            "`server_selection`: unknown policy \"best_fit\"",
        ),
        (
            "h3ni-energy/placement?w_energy",
            "`w_energy`: expected key=value",
        ),
    ] {
        let out = simulate(&sandbox, &[strategy]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{strategy}: {stderr}");
        assert!(stderr.contains(named), "{strategy}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{strategy}: no report on a refused run"
        );
    }
}

#[test]
fn decisions_are_kept_as_the_records_smo_serve_stores() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    let mut cmd = sandbox.simulate("eu-5dc-24h.yaml");
    cmd.args([
        "--hours",
        "1",
        "--strategy",
        "default-lp/placement",
        "--decisions",
    ]);
    let doc = simulate_report(&cmd.output().expect("smo runs"));
    let run = &doc["strategies"][0];
    let records = run["decisions"].as_array().expect("decisions");
    let calls = run["totals"]["strategy_calls"].as_u64().expect("calls");
    assert_eq!(records.len() as u64, calls, "one record a call");
    let start_ms = 1_728_864_000_000_i64; // 2024-10-14T00:00:00Z, the scenario's start
    for record in records {
        assert_eq!(record["kind"], "placement", "{record}");
        assert_eq!(record["trigger"], "simulate");
        assert_eq!(record["strategy"], "default-lp/placement");
        assert_eq!(record["plugin_version"], "0.1.0");
        assert_eq!(record["outcome"], "ok", "{record}");
        let at = record["started_at_ms"].as_i64().expect("time");
        assert!(
            (start_ms..start_ms + 3_600_000).contains(&at),
            "simulated time: {at}"
        );
        assert!(
            record["decision"]["placement"]["assignments"].is_array(),
            "{record}"
        );
        assert!(!record["reasons"].as_array().expect("reasons").is_empty());
    }
    // Without --decisions the report has none; without --json the flag is refused.
    let mut plain = sandbox.simulate("eu-5dc-24h.yaml");
    plain.args(["--hours", "1", "--strategy", "default-lp/placement"]);
    let doc = simulate_report(&plain.output().expect("smo runs"));
    assert!(doc["strategies"][0].get("decisions").is_none());
    let refused = std::process::Command::new(smo_bin())
        .args(["simulate", "x.yaml", "--decisions"])
        .output()
        .expect("smo runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--json"));
}
