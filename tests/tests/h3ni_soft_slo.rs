//! `h3ni-energy/placement?w_slo=...` from its real `.so` on cloud-edge: with a price on late
//! requests, VMs go to the clean distant cloud past the SLO while the services, whose every
//! request would be late, stay on the edge.

use serde_json::Value;
use smo_tests::*;

#[test]
fn a_price_on_late_requests_buys_energy_and_carbon_with_vm_lateness() {
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy", "smo_default_lp", "smo_sbmp_gma"]);
    let runs = sandbox.totals(
        "cloud-edge.yaml",
        &[
            "default-lp/placement",
            "h3ni-energy/placement",
            "h3ni-energy/placement?w_slo=5",
        ],
    );
    let (base, hard, soft) = (&runs[0], &runs[1], &runs[2]);
    assert_eq!(soft["strategy_errors"], 0, "{soft}");
    let energy = |t: &Value| number(t, "energy_kwh");
    let carbon = |t: &Value| number(t, "carbon_kg");
    assert!(
        energy(soft) < 0.95 * energy(hard),
        "energy {} vs {}",
        energy(soft),
        energy(hard)
    );
    assert!(
        carbon(soft) < 0.7 * carbon(hard),
        "carbon {} vs {}",
        carbon(soft),
        carbon(hard)
    );
    // The price: more VMs answered late, but the services keep their SLO.
    assert!(
        number(soft, "vm_slo_violations") > number(hard, "vm_slo_violations"),
        "VM violations {} vs {}",
        soft["vm_slo_violations"],
        hard["vm_slo_violations"]
    );
    assert!(
        number(soft, "service_slo_violations") <= number(hard, "service_slo_violations"),
        "service violations {} vs {}",
        soft["service_slo_violations"],
        hard["service_slo_violations"]
    );
    assert!(number(soft, "slo_violations") <= number(base, "slo_violations"));
    assert!(number(soft, "failure_rate") <= number(hard, "failure_rate") + 1e-12);
}
