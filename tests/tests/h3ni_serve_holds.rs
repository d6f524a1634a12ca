//! `smo serve` with the real h3ni-energy `.so`: the room its placement holds for a scalable
//! graph's growth stands while the graph exists (also after the graph's scaling loop has run
//! and a new graph is placed), and is released once the graph is deleted.

mod api_support;

use api_support::*;
use serde_json::Value;

/// hello-world renamed to `id`, placed and scaled by h3ni-energy, up to 10 replicas.
fn h3ni_graph(id: &str) -> String {
    let yaml = hello_named(id)
        .replace(
            "  hdaGraphIntent:\n",
            "  hdaGraphIntent:\n    placementStrategy: h3ni-energy/placement\n    scalingStrategy: h3ni-energy/predictive\n",
        )
        .replace(
            "          compute:\n",
            "          scaling: {alpha: 10, beta: 0, minReplicas: 1, maxReplicas: 10}\n          compute:\n",
        );
    assert!(
        yaml.contains("maxReplicas: 10"),
        "the fixture changed shape"
    );
    yaml
}

fn placement_reasons(status: &Value) -> Vec<String> {
    let decision = &status["last_decisions"]["placement"];
    assert_eq!(decision["outcome"], "ok", "{decision}");
    assert_eq!(decision["strategy"], "h3ni-energy/placement", "{decision}");
    decision["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r.as_str().expect("a reason is text").to_owned())
        .collect()
}

/// The reason naming the room held for other graphs, if any.
fn held_line(reasons: &[String]) -> Option<&String> {
    reasons
        .iter()
        .find(|r| r.contains("(their growth_reserve)"))
}

#[test]
fn room_held_for_a_graph_lasts_while_it_exists_and_is_released_when_it_is_deleted() {
    let sandbox = sandbox();
    sandbox.install("smo_h3ni_energy", "h3ni-energy.so");
    let api = start(&sandbox, "[engine]\nscaling_period_ms = 100\n");

    api.deploy(&h3ni_graph("shop"));
    // The shop's scaling loop runs through h3ni-energy/predictive, which tells the placement
    // the replicas it set, with the daemon's clock.
    api.wait_for("/v1/graphs/shop", "a scaling decision of the shop", |s| {
        s["last_decisions"]["scaling"]["outcome"] == "ok"
    });

    // A graph placed afterwards (its initial placement) sees the shop's growth held.
    let vms = api.deploy(&h3ni_graph("vms"));
    let reasons = placement_reasons(&vms);
    let held = held_line(&reasons).unwrap_or_else(|| panic!("nothing held: {reasons:?}"));
    assert!(held.contains("held for shop on"), "{held}");

    // Deleted, the shop holds nothing any more: the next placement says so.
    assert_eq!(api.delete("/v1/graphs/shop").status, 204);
    let later = api.deploy(&h3ni_graph("later"));
    let reasons = placement_reasons(&later);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("room held for shop released")),
        "{reasons:?}"
    );
    let held = held_line(&reasons).unwrap_or_else(|| panic!("vms holds nothing: {reasons:?}"));
    assert!(held.contains("held for vms on"), "{held}");
    assert!(!held.contains("shop"), "{held}");
}
