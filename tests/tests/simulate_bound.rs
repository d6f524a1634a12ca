//! `smo simulate --lower-bound` with the real plugins: every run's energy is at or above the
//! hourly LP bound for the work it served (VMs; on cloud-edge also services' busy replicas),
//! and the bound's figures match the run's own.

use serde_json::Value;
use smo_tests::*;

/// Six hours of `scenario`, default-lp against h3ni-energy, with `--lower-bound`.
fn bounded_run_of(sandbox: &Sandbox, scenario: &str) -> Value {
    let out = sandbox
        .simulate(scenario)
        .args(["--hours", "6", "--lower-bound"])
        .args(["--strategy", "default-lp/placement"])
        .args(["--strategy", "h3ni-energy/placement"])
        .output()
        .expect("smo runs");
    simulate_report(&out)
}

fn bounded_run(sandbox: &Sandbox) -> Value {
    bounded_run_of(sandbox, "eu-5dc-24h.yaml")
}

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.install("smo_h3ni_energy", "h3ni-energy.so");
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    sandbox
}

#[test]
fn every_run_is_at_or_above_its_energy_lower_bound() {
    let sandbox = sandbox();
    let doc = bounded_run(&sandbox);
    check_bounds(&doc);
    // The same seed gives the same bound.
    assert_eq!(bounded_run(&sandbox)["lower_bounds"], doc["lower_bounds"]);
}

#[test]
fn the_bound_covers_the_services_of_cloud_edge() {
    // cloud-edge places and scales a three-service shop beside its VMs (default-lp's scaling,
    // sbmp-gma's offload): the bound carries the services' busy core-hours as well.
    let doc = bounded_run_of(&sandbox(), "cloud-edge.yaml");
    let services = doc["strategies"][0]["totals"]["service_requests"]
        .as_u64()
        .expect("service_requests");
    assert!(
        services > 0,
        "no service requests: {}",
        doc["strategies"][0]["totals"]
    );
    check_bounds(&doc);
}

/// Each run's bound: below its energy, its figures those of the run, carrying the core-hours
/// the run's servers were busy.
fn check_bounds(doc: &Value) {
    let runs = doc["strategies"].as_array().expect("strategies");
    let bounds = doc["lower_bounds"].as_array().expect("lower_bounds");
    assert_eq!(bounds.len(), 2);
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    for (run, b) in runs.iter().zip(bounds) {
        assert_eq!(run["strategy"], b["strategy"]);
        let totals = &run["totals"];
        assert_eq!(num(totals, "energy_kwh"), num(b, "energy_kwh"));
        assert_eq!(totals["served"], b["served"]);
        let bound = num(b, "bound_kwh");
        assert!(bound > 0.0, "{b}");
        assert!(bound <= num(b, "energy_kwh"), "{b}");
        let served = num(b, "served");
        let epr = num(b, "bound_energy_per_request_wh");
        assert!((epr - bound * 1000.0 / served).abs() < 1e-9 * epr, "{b}");
        // The bound's optimum carries the core-hours the run's servers were busy (VMs keep
        // their cores busy), over the same datacenters and server models, and draws less.
        let sum = |list: &Value, k: &str| -> f64 {
            list.as_array()
                .expect("server_types")
                .iter()
                .map(|t| num(t, k))
                .sum()
        };
        let run_busy: f64 = run["datacenters"]
            .as_array()
            .expect("datacenters")
            .iter()
            .map(|d| sum(&d["server_types"], "busy_core_hours"))
            .sum();
        let bound_busy = sum(&b["server_types"], "busy_core_hours");
        assert!(run_busy > 0.0);
        assert!(
            (bound_busy - run_busy).abs() < 1e-6 * run_busy,
            "{bound_busy} vs {run_busy}"
        );
        let it = sum(&b["server_types"], "it_energy_kwh");
        assert!(it > 0.0 && it <= bound, "{it} vs {bound}");
        let models = b["server_types"].as_array().expect("server_types").len();
        let run_models: usize = run["datacenters"]
            .as_array()
            .expect("datacenters")
            .iter()
            .map(|d| d["server_types"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(models, run_models);
    }
    // The baseline's own bound is below its energy per request, so its change is negative.
    assert!(num(&bounds[0], "bound_change") < 0.0, "{}", bounds[0]);
}
