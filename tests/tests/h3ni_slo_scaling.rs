//! `h3ni-energy/predictive?slo_margin=1` from its real `.so`: provisioning for the SLO as well
//! as the forecast (the processing time read back from the measured responses) removes nearly
//! all late requests at the same energy on h3ni-predictive, staying >= 95 % accurate, and on
//! cloud-edge keeps >= 95 % of the intervals in the band that starts at the SLO.

use serde_json::Value;
use smo_tests::*;

#[test]
fn provisioning_for_the_slo_removes_late_requests_at_the_same_energy() {
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy"]);
    let plain = "placement=h3ni-energy/placement,scaling=h3ni-energy/predictive";
    let slo_aware = format!("{plain}?slo_margin=1");
    let runs = sandbox.totals("h3ni-predictive.yaml", &[plain, &slo_aware]);
    let (forecast, slo) = (&runs[0], &runs[1]);
    assert_eq!(slo["strategy_errors"], 0, "{slo}");
    let late = |t: &Value| number(t, "slo_violations");
    assert_below(
        "late requests, against 10 % of the default's",
        late(slo),
        0.1 * late(forecast),
    );
    let energy = |t: &Value| number(t, "energy_kwh");
    assert_below(
        "energy, against the default's + 1 %",
        energy(slo),
        1.01 * energy(forecast),
    );
    // Extra replicas count as over-provisioning in the accuracy KPI, so it falls, but not
    // below the target.
    let accuracy = |t: &Value| number(t, "allocation_accuracy");
    assert_below(
        "accuracy, against the default's",
        accuracy(slo),
        accuracy(forecast),
    );
    assert!(accuracy(slo) >= 0.95, "accuracy {}", accuracy(slo));
    assert!(number(slo, "failure_rate") <= number(forecast, "failure_rate") + 1e-12);
}

#[test]
fn on_cloud_edge_slo_first_scaling_stays_in_the_slo_band() {
    // cloud-edge's scaling calls see the rate of the step they provision, so small forecast
    // margins suffice; the plain accuracy KPI cannot be met there with the SLO kept (see the
    // h3ni README), the band counted from the SLO's capacity can.
    // sbmp-gma: the scenario's offloader.
    let sandbox = Sandbox::with_plugins(&["smo_h3ni_energy", "smo_default_lp", "smo_sbmp_gma"]);
    let baseline = "placement=default-lp/placement,scaling=default-lp/scaling";
    let slo_first = "placement=h3ni-energy/placement,scaling=h3ni-energy/predictive?slo_margin=1&min_margin=0.01&max_margin=0.03";
    let runs = sandbox.totals("cloud-edge.yaml", &[baseline, slo_first]);
    let (base, h3ni) = (&runs[0], &runs[1]);
    assert_eq!(h3ni["strategy_errors"], 0, "{h3ni}");
    assert_eq!(h3ni["service_slo_violations"], 0, "{h3ni}");
    let band = |t: &Value| number(t, "slo_allocation_accuracy");
    assert!(band(h3ni) >= 0.95, "SLO band {}", band(h3ni));
    assert_below(
        "default-lp's SLO band, against h3ni's",
        band(base),
        band(h3ni),
    );
    assert_below(
        "energy per request, against default-lp's",
        number(h3ni, "energy_per_request_wh"),
        number(base, "energy_per_request_wh"),
    );
}
