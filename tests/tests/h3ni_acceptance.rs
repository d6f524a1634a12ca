//! Issue #8's acceptance, where it holds, from the real `.so` files in `smo simulate`: the
//! h3ni-energy bundle against default-lp on brussels-demo, h3ni-predictive, eu-5dc-24h and
//! eu-5dc-7d (also on two more seeds with the running VMs re-packed by `h3ni-energy/repack`)
//! (energy per request >= 25 % lower, carbon >= 30 % lower, no more SLO violations, at least as
//! many requests served within the SLO; accuracy >= 95 % where there are services to scale).

use serde_json::Value;
use smo_tests::*;

/// Runs `scenario` with default-lp's placement and scaling, then `h3ni`; returns both totals.
fn compare(scenario: &str, h3ni: &str) -> (Value, Value) {
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy", "smo_default_lp"]);
    let baseline = "placement=default-lp/placement,scaling=default-lp/scaling";
    let runs = sandbox.totals(scenario, &[baseline, h3ni]);
    (runs[0].clone(), runs[1].clone())
}

/// Asserts the energy, carbon, SLO and failure targets of the issue for `h3ni` against `base`.
fn assert_acceptance(scenario: &str, base: &Value, h3ni: &Value) {
    let saved = |key: &str| 1.0 - number(h3ni, key) / number(base, key);
    let energy = saved("energy_per_request_wh");
    let carbon = saved("carbon_kg");
    assert!(
        energy >= 0.25,
        "{scenario}: energy/request only {:.1} % lower",
        100.0 * energy
    );
    assert!(
        carbon >= 0.30,
        "{scenario}: carbon only {:.1} % lower",
        100.0 * carbon
    );
    assert!(
        number(h3ni, "slo_violations") <= number(base, "slo_violations"),
        "{scenario}: SLO violations {} vs {}",
        h3ni["slo_violations"],
        base["slo_violations"]
    );
    assert_eq!(h3ni["strategy_errors"], 0, "{scenario}: {h3ni}");
    // Energy is not saved by dropping work: at least as many requests are served within their
    // SLO as the baseline serves (failed ones and slow ones both count against it).
    let within_slo = |run: &Value| number(run, "served") - number(run, "slo_violations");
    assert!(
        within_slo(h3ni) >= within_slo(base),
        "{scenario}: {} requests served within the SLO vs {} (failures {} vs {})",
        within_slo(h3ni),
        within_slo(base),
        h3ni["failure_rate"],
        base["failure_rate"]
    );
}

/// Asserts the proactive allocation accuracy target (services only).
fn assert_accuracy(scenario: &str, h3ni: &Value) {
    let accuracy = number(h3ni, "allocation_accuracy");
    assert!(
        accuracy >= 0.95,
        "{scenario}: accuracy {:.2} %",
        100.0 * accuracy
    );
}

#[test]
fn the_full_bundle_meets_the_targets_on_the_brussels_demo() {
    let bundle = "placement=h3ni-energy/placement,scaling=h3ni-energy/predictive,migration=h3ni-energy/consolidate";
    let (base, h3ni) = compare("brussels-demo.yaml", bundle);
    assert_acceptance("brussels-demo", &base, &h3ni);
    assert_accuracy("brussels-demo", &h3ni);
}

#[test]
fn placement_and_predictive_scaling_meet_the_targets_on_h3ni_predictive() {
    let bundle = "placement=h3ni-energy/placement,scaling=h3ni-energy/predictive";
    let (base, h3ni) = compare("h3ni-predictive.yaml", bundle);
    assert_acceptance("h3ni-predictive", &base, &h3ni);
    assert_accuracy("h3ni-predictive", &h3ni);
    // Elasticity: every load step answered with no simulated control time.
    assert_eq!(h3ni["elasticity_unresolved"], 0, "{h3ni}");
    assert!(number(&h3ni, "elasticity_events") > 0.0, "{h3ni}");
    assert_eq!(number(&h3ni, "elasticity_s_max"), 0.0, "{h3ni}");
}

#[test]
fn placement_meets_the_targets_on_the_seven_day_continuum() {
    // 21,000 Azure VMs over five datacenters (no services, so no accuracy to measure).
    let (base, h3ni) = compare("eu-5dc-7d.yaml", "h3ni-energy/placement");
    assert_acceptance("eu-5dc-7d", &base, &h3ni);
}

#[test]
fn re_packing_the_vms_meets_the_targets_on_seeds_placement_alone_misses() {
    // eu-5dc-7d seed 7: placement alone -24.9 % energy/request; seed 100: carbon -29.3 %.
    // With the running VMs re-packed every hour (h3ni-energy/repack as the VM migration):
    // -31.3 % / -39.1 % and -29.2 % / -34.1 % (2026-12-04).
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy", "smo_default_lp"]);
    let repacking = "placement=h3ni-energy/placement,vm_migration=h3ni-energy/repack";
    for seed in ["7", "100"] {
        let out = sandbox
            .simulate("eu-5dc-7d.yaml")
            .args(["--seed", seed])
            .args([
                "--strategy",
                "default-lp/placement",
                "--strategy",
                repacking,
            ])
            .output()
            .expect("smo runs");
        let doc = simulate_report(&out);
        let runs = doc["strategies"].as_array().expect("strategies");
        let h3ni = &runs[1]["totals"];
        assert!(number(h3ni, "migrations") > 0.0, "{h3ni}");
        assert_acceptance(&format!("eu-5dc-7d seed {seed}"), &runs[0]["totals"], h3ni);
    }
}

#[test]
fn placement_meets_the_targets_on_the_one_day_continuum() {
    // 3,000 Azure VMs; it holds since the plugin asks the host for servers its VMs can share
    // (`server_selection`, default least_power_shared_idle): -24.1 % energy/request without.
    let (base, h3ni) = compare("eu-5dc-24h.yaml", "h3ni-energy/placement");
    assert_acceptance("eu-5dc-24h", &base, &h3ni);
}
