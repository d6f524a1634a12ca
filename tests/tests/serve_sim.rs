//! `smo serve --scenario`: the simulated continuum as the daemon's backend. Its datacenters are
//! the clusters, their energy profiles follow the scenario's hours, and a deployed graph whose
//! services the scenario knows is scaled on the scenario's request rates.

use smo_tests::*;
use std::time::Duration;

fn carbon_by_cluster(daemon: &Daemon) -> Vec<(String, f64)> {
    let (status, body) = get_json(&daemon.url("/v1/clusters"));
    assert_eq!(status, 200, "{body}");
    let list = body["clusters"].as_array().expect("clusters").clone();
    list.iter()
        .map(|c| {
            let c = if c.get("cluster").is_some() {
                &c["cluster"]
            } else {
                c
            };
            (
                c["name"].as_str().expect("name").to_string(),
                c["energy"]["carbon_intensity_g_per_kwh"]
                    .as_f64()
                    .expect("carbon"),
            )
        })
        .collect()
}

#[test]
fn clusters_come_from_the_scenario_and_follow_its_hours() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    // One simulated hour per wall-clock second.
    let daemon = Daemon::on_scenario(&sandbox, None, &scenario("eu-5dc-24h.yaml"), 3600);
    let first = carbon_by_cluster(&daemon);
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("edge-athens")),
        "built-in inventory seeded too"
    );
    assert!(
        eventually(Duration::from_secs(30), || carbon_by_cluster(&daemon)
            != first),
        "carbon intensity never moved with simulated time"
    );
}

#[test]
fn a_graph_the_scenario_knows_is_placed_on_its_clusters_and_scaled_on_its_rates() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    let config = sandbox.config("[engine]\nscaling_period_ms = 200\n");
    let daemon = Daemon::on_scenario(
        &sandbox,
        Some(&config),
        &scenario("brussels-demo.yaml"),
        600,
    );
    let descriptor = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hdag/brussels-demo.yaml"),
    )
    .unwrap();
    let response = http()
        .post(&daemon.url("/v1/graphs"))
        .header("content-type", "application/yaml")
        .send(descriptor.as_bytes())
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let status: serde_json::Value = response.into_body().read_json().unwrap();
    let text = status.to_string();
    assert!(text.contains("netmode-cluster"), "{text}");
    // The scaling loop reads the scenario's request rates for noise-reduction.
    let mut seen = None;
    assert!(
        eventually(Duration::from_secs(30), || {
            let (_, history) =
                get_json(&daemon.url("/v1/decisions?graph=image-detection-graph&limit=20"));
            seen = history["decisions"]
                .as_array()
                .and_then(|ds| ds.iter().find(|d| d["kind"] == "scaling").cloned());
            seen.is_some()
        }),
        "no scaling decision"
    );
    let decision = seen.unwrap();
    let loads = decision["inputs"]["loads"]
        .as_array()
        .expect("loads")
        .clone();
    assert!(
        loads.iter().any(|l| l["service"] == "noise-reduction"),
        "{decision}"
    );
}
