//! A strategy that hangs delays only its own graph: while a placement call on one graph never
//! returns, writes on others (clusters, energy profiles, deploys, deletes, re-placements) are
//! answered, and the hung graph's own operations wait for it.

mod api_support;

use api_support::*;
use serde_json::json;
use smo_tests::eventually;
use std::time::Duration;

/// hello-world renamed to `id`, placed by the fixture strategy that creates `entered` and
/// then never returns.
fn hung_graph(id: &str, entered: &std::path::Path) -> String {
    hello_named(id).replace(
        "  hdaGraphIntent:\n",
        &format!(
            "  hdaGraphIntent:\n    placementStrategy: hangs/signalling\n    strategyParameters:\n      \
             placement: {{\"entered\": \"{}\"}}\n",
            entered.display()
        ),
    )
}

#[test]
fn a_hung_strategy_on_one_graph_does_not_hold_writes_on_others() {
    let sandbox = sandbox();
    sandbox.install("smo_fixture_hangs", "hangs.so");
    // The call deadline is far beyond the test: every write below must be answered while the
    // hung call is still in progress, not once it has timed out.
    let api = start(&sandbox, "[plugins]\ncall_timeout_ms = 600000\n");
    assert_eq!(
        api.post_yaml("/v1/graphs", &hello_named("other")).status,
        201
    );

    let entered = sandbox.root.path().join("entered");
    // Ends when the daemon is killed at the end of the test (or, before the fix, when the call
    // times out): either way it is finished.
    let hung = api.post_yaml_in_background("/v1/graphs", hung_graph("stuck", &entered));
    assert!(
        eventually(Duration::from_secs(60), || entered.exists()),
        "the hung strategy was never called"
    );

    // Writes on everything else are answered while the call hangs.
    let cluster = json!({
        "name": "edge-paris",
        "role": "edge",
        "location": {"lat": 48.85, "lon": 2.35, "region": "fr-idf"},
        "capacity": {"cpu": 8.0, "memory_mib": 8192.0, "gpu": 0},
        "energy": {"source": "wind", "pue": 1.2, "carbon_intensity_g_per_kwh": 20.0}
    });
    let reply = api.post_json("/v1/clusters", &cluster);
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"carbon_intensity_g_per_kwh": 25.0}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = api.post_yaml("/v1/graphs", &hello_named("fresh"));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = api.post_empty("/v1/graphs/other/placement");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = api.delete("/v1/graphs/fresh");
    assert!(
        reply.status == 200 || reply.status == 202 || reply.status == 204,
        "{} {}",
        reply.status,
        reply.body
    );
    // Readers are not held either.
    assert_eq!(api.get("/v1/graphs/other").status, 200);
    assert_eq!(api.get("/healthz").status, 200);

    // All of that happened inside the hung call: it has not returned, and the graph it was
    // deciding for was not stored.
    assert!(
        !hung.is_finished(),
        "the writes waited until the hung call timed out"
    );
    assert_eq!(api.get("/v1/graphs/stuck").status, 404);
    drop(api);
    let _ = hung
        .join()
        .expect("the hung request's thread ends with the daemon");
}
