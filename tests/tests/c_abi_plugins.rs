//! Plugins of the plain C ABI (`plugin-api/include/smo_plugin.h`), built by the test with the
//! system compiler and loaded by a real `smo serve`: the example strategy places a graph like a
//! Rust plugin; the misbehaving fixtures (invalid JSON, a cluster that does not exist, a call
//! that never returns, a leak) fail only their own call, counted, and the daemon answers the
//! next one; files that are not complete C plugins are refused at load with their reason.

mod api_support;

use api_support::*;
use serde_json::{json, Value};
use smo_tests::*;
use std::time::Duration;

fn install_c(sandbox: &Sandbox, fixture: &str) {
    sandbox.install_file(
        &c_fixture(fixture),
        &format!("{}.so", fixture.replace('_', "-")),
    );
}

/// The `smo_plugin_calls_total` sample of `plugin`/`strategy` with `outcome` (0 when absent).
fn calls(api: &Api, plugin: &str, outcome: &str) -> u64 {
    let metrics = api.get("/metrics").body;
    let text = metrics.as_str().unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("smo_plugin_calls_total{"))
        .filter(|l| {
            l.contains(&format!("plugin=\"{plugin}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn the_c_example_places_and_misbehaving_c_plugins_fail_only_their_call() {
    let sandbox = sandbox();
    sandbox.install_file(&c_example(), "c-first-fit.so");
    for fixture in [
        "c_invalid_json",
        "c_unknown_cluster",
        "c_hang",
        "c_leak",
        "c_wrong_abi",
        "c_no_free",
        "c_bad_describe",
    ] {
        install_c(&sandbox, fixture);
    }
    let api = start(
        &sandbox,
        "[plugins]\ncall_timeout_ms = 1000\n[engine]\nscaling_period_ms = 3600000\n",
    );

    // Loaded and listed as C plugins; the incomplete ones refused, each with why.
    let plugins = api.get("/v1/plugins").body;
    let listed: Vec<(&str, &str)> = plugins["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["abi"].as_str().unwrap()))
        .collect();
    for name in [
        "c-first-fit",
        "c-invalid-json",
        "c-unknown-cluster",
        "c-hang",
        "c-leak",
    ] {
        assert!(
            listed.contains(&(name, "c")),
            "{name} not listed: {listed:?}"
        );
    }
    assert!(listed.contains(&("default-lp", "rust")), "{listed:?}");
    let rejected = plugins["rejected"].to_string();
    for (file, why) in [
        ("c-wrong-abi.so", "speaks C ABI 999"),
        ("c-no-free.so", "not smo_plugin_free"),
        ("c-bad-describe.so", "smo_plugin_describe returned metadata"),
    ] {
        assert!(
            rejected.contains(file) && rejected.contains(why),
            "{file}: {why} not in {rejected}"
        );
    }

    // The example places the graph as a Rust strategy would: named in the descriptor.
    let descriptor = hello_named("cgraph").replace(
        "  hdaGraphIntent:\n",
        "  hdaGraphIntent:\n    placementStrategy: c-first-fit/placement\n",
    );
    let created = api.deploy(&descriptor);
    let decision = &created["last_decisions"]["placement"];
    assert_eq!(decision["strategy"], "c-first-fit/placement", "{created}");
    assert_eq!(decision["outcome"], "ok", "{decision}");
    assert_eq!(decision["plugin_version"], "0.1.0");
    assert_eq!(placement(&created).len(), 1, "{created}");

    // Invalid JSON from the plugin: that call falls back, counted as an error.
    let answer = api.place_small("c-invalid-json/placement", json!({}));
    let reason = answer["fallback_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not JSON"), "{answer}");
    assert_eq!(calls(&api, "c-invalid-json", "error"), 1);

    // A decision naming a cluster that does not exist is not taken: the default decides.
    let answer = api.place_small("c-unknown-cluster/placement", json!({}));
    let reason = answer["fallback_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("names cluster `no-such-cluster`, which the request does not have"),
        "{answer}"
    );
    assert!(!answer["decision"].to_string().contains("no-such-cluster"));
    assert_eq!(calls(&api, "c-unknown-cluster", "error"), 1);

    // A call that never returns: past the deadline it falls back and counts a timeout.
    let started = sandbox.root.path().join("hang-started");
    let answer = api.place_small("c-hang/placement", json!({"started": started}));
    assert!(started.exists(), "the hung call was entered");
    let reason = answer["fallback_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("timed out") || reason.contains("deadline"),
        "{answer}"
    );
    assert_eq!(calls(&api, "c-hang", "timeout"), 1);

    // A leaking plugin still answers.
    let answer = api.place_small("c-leak/placement", json!({}));
    assert!(answer["fallback_reason"].is_null(), "{answer}");

    // And the daemon answers the next call of every plugin.
    let answer = api.place_small("c-first-fit/placement", json!({}));
    assert!(answer["fallback_reason"].is_null(), "{answer}");
    assert_eq!(answer["strategy"], "c-first-fit/placement");
    assert!(calls(&api, "c-first-fit", "ok") >= 1);
    assert!(eventually(Duration::from_secs(5), || api
        .get("/healthz")
        .status
        == 200));
}

#[test]
fn smo_plugin_check_reads_a_c_plugin_and_names_what_is_wrong_with_one() {
    let checked = std::process::Command::new(smo_bin())
        .args(["plugin", "check"])
        .arg(c_example())
        .output()
        .expect("smo plugin check runs");
    assert!(checked.status.success(), "{checked:?}");
    let info: Value = serde_json::from_slice(&checked.stdout).expect("JSON");
    assert_eq!(info["name"], "c-first-fit");
    assert_eq!(info["abi"], "c");
    assert_eq!(info["api_version"], "c/1");
    assert_eq!(info["strategies"][0]["kind"], "placement");
    for (fixture, why) in [
        (
            "c_wrong_abi",
            "speaks C ABI 999, this daemon speaks C ABI 1",
        ),
        (
            "c_no_free",
            "exports smo_plugin_abi_version but not smo_plugin_free",
        ),
        ("c_bad_describe", "not what smo_plugin.h says"),
    ] {
        let checked = std::process::Command::new(smo_bin())
            .args(["plugin", "check"])
            .arg(c_fixture(fixture))
            .output()
            .expect("smo plugin check runs");
        assert!(!checked.status.success(), "{fixture}");
        let stderr = String::from_utf8_lossy(&checked.stderr);
        assert!(stderr.contains(why), "{fixture}: {stderr}");
    }
}

#[test]
fn smo_simulate_compares_the_c_example_with_a_rust_strategy() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install_file(&c_example(), "c-first-fit.so");
    let output = sandbox
        .simulate("eu-5dc-24h.yaml")
        .args(["--hours", "4", "--decisions"])
        .args(["--strategy", "c-first-fit/placement"])
        .args(["--strategy", "default-lp/placement"])
        .output()
        .expect("smo runs");
    let report = simulate_report(&output);
    let runs = report["strategies"].as_array().expect("strategies");
    assert_eq!(runs.len(), 2);
    for run in runs {
        let decisions = run["decisions"].as_array().expect("decisions");
        let placements: Vec<&Value> = decisions
            .iter()
            .filter(|d| d["kind"] == "placement")
            .collect();
        assert!(!placements.is_empty(), "{}", run["strategy"]);
        for decision in placements {
            // Every placement decided by the strategy named, through its ABI: no fallback.
            assert_eq!(decision["strategy"], run["strategy"], "{decision}");
            assert_eq!(decision["outcome"], "ok", "{decision}");
        }
        assert!(run["totals"]["energy_kwh"].as_f64().expect("energy") > 0.0);
    }
    assert_eq!(runs[0]["strategy"], "c-first-fit/placement");
}
