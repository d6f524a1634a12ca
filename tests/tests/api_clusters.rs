//! Clusters over HTTP: the seeded default inventory, register, update, energy profiles, and
//! capacity accounting (`available` = capacity minus what running graphs use).

mod api_support;

use api_support::*;
use serde_json::json;

fn cluster_body(name: &str, cpu: f64) -> serde_json::Value {
    json!({
        "name": name,
        "role": "edge",
        "location": {"lat": 48.85, "lon": 2.35, "region": "fr-idf"},
        "capacity": {"cpu": cpu, "memory_mib": 8192.0, "gpu": 0},
        "energy": {"source": "wind", "pue": 1.2, "carbon_intensity_g_per_kwh": 20.0},
        "labels": {"site": "paris"}
    })
}

#[test]
fn the_default_inventory_is_an_edge_a_gpu_cloud_and_a_cloud() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let clusters = api.get("/v1/clusters").body;
    let clusters = clusters["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 3);
    assert!(clusters
        .iter()
        .any(|c| c["role"] == "edge" && c["capacity"]["gpu"] == 0));
    assert!(clusters
        .iter()
        .any(|c| c["role"] == "cloud" && c["capacity"]["gpu"].as_u64() > Some(0)));
    assert!(clusters
        .iter()
        .any(|c| c["role"] == "cloud" && c["capacity"]["gpu"] == 0));
    for c in clusters {
        assert_eq!(c["available"], c["capacity"], "nothing deployed yet");
        // The simulated continuum reports every registered cluster ready, all of it allocatable.
        assert_eq!(c["backend"]["ready"], true, "{c}");
        assert_eq!(c["backend"]["allocatable"], c["capacity"], "{c}");
        assert_eq!(c["backend"]["allocated"]["cpu"], 0.0, "{c}");
        assert!(c["energy"]["pue"].as_f64() >= Some(1.0));
    }
}

#[test]
fn register_update_and_energy_profile() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");

    let reply = api.post_json("/v1/clusters", &cluster_body("edge-paris", 8.0));
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/v1/clusters/edge-paris"));
    assert_eq!(reply.body["energy"]["source"], "wind");
    assert_eq!(reply.body["energy"]["pue"], 1.2);
    assert_eq!(reply.body["labels"]["site"], "paris");
    assert_eq!(
        reply.body["backend"]["ready"], true,
        "announced to the backend"
    );
    assert_eq!(reply.body["backend"]["allocatable"]["cpu"], 8.0);
    assert_eq!(
        api.post_json("/v1/clusters", &cluster_body("edge-paris", 8.0))
            .status,
        409
    );

    // Update: capacity replaced, energy profile kept when not given.
    let mut body = cluster_body("edge-paris", 12.0);
    body.as_object_mut().expect("object").remove("energy");
    body["slo_ms"] = json!(30.0);
    let reply = api.put_json("/v1/clusters/edge-paris", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["capacity"]["cpu"], 12.0);
    assert_eq!(reply.body["energy"]["source"], "wind");
    assert_eq!(reply.body["slo_ms"], 30.0);
    // The SLO is kept when not given; a bad one is refused naming it, and changes nothing.
    body.as_object_mut().expect("object").remove("slo_ms");
    let reply = api.put_json("/v1/clusters/edge-paris", &body);
    assert_eq!(reply.body["slo_ms"], 30.0, "{}", reply.body);
    body["slo_ms"] = json!(-5);
    let bad = api.put_json("/v1/clusters/edge-paris", &body);
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.body["field"], "slo_ms");
    assert_eq!(api.get("/v1/clusters/edge-paris").body["slo_ms"], 30.0);
    assert_eq!(
        api.put_json("/v1/clusters/nowhere", &cluster_body("nowhere", 1.0))
            .status,
        404
    );
    let mismatch = api.put_json("/v1/clusters/edge-paris", &cluster_body("edge-lyon", 1.0));
    assert_eq!(mismatch.status, 422);
    assert_eq!(mismatch.body["field"], "name");

    // Energy profile: every field of the issue, partial updates keep the rest.
    let reply = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"source": "solar", "pue": 1.4, "carbon_intensity_g_per_kwh": 55.5,
                "renewable_supply_kw": 7.5, "preferred_for_saving": true}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let energy = &reply.body["energy"];
    assert_eq!(energy["source"], "solar");
    assert_eq!(energy["pue"], 1.4);
    assert_eq!(energy["carbon_intensity_g_per_kwh"], 55.5);
    assert_eq!(energy["renewable_supply_kw"], 7.5);
    assert_eq!(energy["preferred_for_saving"], true);
    let reply = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"pue": 1.1}),
    );
    assert_eq!(reply.body["energy"]["source"], "solar");
    assert_eq!(reply.body["energy"]["pue"], 1.1);

    let bad = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"pue": 0.5}),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["field"], "pue");
    let bad = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"renewable_share": 2}),
    );
    assert_eq!(bad.body["field"], "renewable_share");
    let bad = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"pue": "high"}),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["field"], "pue");
    let bad = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"colour": "green"}),
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body["detail"]
        .as_str()
        .expect("detail")
        .contains("colour"));
    assert_eq!(
        api.get("/v1/clusters/edge-paris").body["energy"]["pue"],
        1.1,
        "refused updates change nothing"
    );
    assert_eq!(
        api.put_json("/v1/clusters/nowhere/energy_profile", &json!({"pue": 1.1}))
            .status,
        404
    );

    // Survives a restart.
    drop(api);
    let api = start(&sandbox, "");
    let cluster = api.get("/v1/clusters/edge-paris").body;
    assert_eq!(cluster["energy"]["carbon_intensity_g_per_kwh"], 55.5);
    assert_eq!(
        api.get("/v1/clusters").body["clusters"]
            .as_array()
            .expect("list")
            .len(),
        4
    );
}

#[test]
fn available_capacity_is_capacity_minus_what_running_graphs_use() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    // One small cluster only has room for two one-CPU graphs.
    for name in ["cloud-frankfurt", "cloud-gpu-stockholm", "edge-athens"] {
        let mut body = api.get(&format!("/v1/clusters/{name}")).body;
        body["capacity"]["cpu"] = json!(if name == "edge-athens" { 2.0 } else { 0.0 });
        let body = json!({"role": body["role"], "capacity": body["capacity"]});
        assert_eq!(
            api.put_json(&format!("/v1/clusters/{name}"), &body).status,
            200
        );
    }
    api.deploy(&hello_named("one"));
    let edge = api.get("/v1/clusters/edge-athens").body;
    assert_eq!(edge["used"]["cpu"], 1.0);
    assert_eq!(edge["available"]["cpu"], 1.0);
    api.deploy(&hello_named("two"));
    let third = api.post_yaml("/v1/graphs", &hello_named("three"));
    assert_eq!(third.status, 409, "no room left: {}", third.body);
    assert_eq!(third.body["error"], "placement_failed");
    // Stopping a graph frees its share.
    api.post_empty("/v1/graphs/one/stop");
    assert_eq!(
        api.get("/v1/clusters/edge-athens").body["available"]["cpu"],
        1.0
    );
    api.deploy(&hello_named("three"));
    // ... and the stopped graph cannot start while there is no room.
    let start = api.post_empty("/v1/graphs/one/start");
    assert_eq!(start.status, 409, "{}", start.body);
    assert_eq!(api.get("/v1/graphs/one").body["status"], "stopped");
}

#[test]
fn absurd_but_finite_numbers_are_refused_naming_the_field_and_nothing_changes() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let reply = api.post_json("/v1/clusters", &cluster_body("edge-paris", 8.0));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let before = api.get("/v1/clusters/edge-paris").body;
    let cases = [
        ("/energy/pue", json!(1e308), "energy.pue"),
        ("/energy/pue", json!(5.5), "energy.pue"),
        (
            "/energy/carbon_intensity_g_per_kwh",
            json!(2500.0),
            "energy.carbon_intensity_g_per_kwh",
        ),
        ("/energy/peak_power_w", json!(1e308), "energy.peak_power_w"),
        (
            "/energy/renewable_supply_kw",
            json!(1e300),
            "energy.renewable_supply_kw",
        ),
        ("/capacity/cpu", json!(1e308), "capacity.cpu"),
        ("/capacity/memory_mib", json!(1e300), "capacity.memory_mib"),
        ("/capacity/gpu", json!(4_000_000_000u64), "capacity.gpu"),
        ("/slo_ms", json!(1e12), "slo_ms"),
    ];
    for (pointer, value, field) in cases {
        let mut body = cluster_body("edge-paris", 8.0);
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent).unwrap()[key] = value.clone();
        let reply = api.put_json("/v1/clusters/edge-paris", &body);
        assert_eq!(reply.status, 422, "{pointer} = {value}: {}", reply.body);
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    // Through the energy profile endpoint too.
    let reply = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"pue": 1e308}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["field"], "pue");
    let mut after = api.get("/v1/clusters/edge-paris").body;
    let mut before = before;
    for view in [&mut after, &mut before] {
        view.as_object_mut().unwrap().remove("backend");
    }
    assert_eq!(after, before, "nothing stored changed");
}

/// The document says which members are objects, numbers or strings and that none is `null`;
/// the server refuses the same (issue 27, defect 9: `prices: null` and `prices: [..]` were
/// taken, serde reading a struct from an array).
#[test]
fn wrong_typed_and_null_members_are_refused_naming_them() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let reply = api.post_json("/v1/clusters", &cluster_body("edge-paris", 8.0));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let before = api.get("/v1/clusters/edge-paris").body;
    let cases = [
        ("/prices", json!(null), "prices"),
        ("/prices", json!([0.1, 0.1, 0.1, 0.1, 0.1]), "prices"),
        ("/prices", json!("cheap"), "prices"),
        (
            "/prices",
            json!({"cpu_core_hour": "1", "memory_gib_hour": 0, "gpu_hour": 0, "egress_gb": 0, "energy_kwh": 0}),
            "prices.cpu_core_hour",
        ),
        ("/capacity", json!([8.0, 8192.0, 0]), "capacity"),
        ("/location", json!(null), "location"),
        ("/location", json!([1.0, 2.0, "x"]), "location"),
        ("/energy", json!(null), "energy"),
        (
            "/energy/preferred_for_saving",
            json!(null),
            "energy.preferred_for_saving",
        ),
        ("/labels", json!(["a", "b"]), "labels"),
        ("/slo_ms", json!(null), "slo_ms"),
        ("/slo_ms", json!("200"), "slo_ms"),
        ("/name", json!(null), "name"),
        ("/location/altitude", json!(3.0), "location.altitude"),
    ];
    for (pointer, value, field) in cases {
        let mut body = cluster_body("edge-paris", 8.0);
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent).unwrap()[key] = value.clone();
        let reply = api.put_json("/v1/clusters/edge-paris", &body);
        assert_eq!(reply.status, 422, "{pointer} = {value}: {}", reply.body);
        assert_eq!(
            reply.body["field"], field,
            "{pointer} = {value}: {}",
            reply.body
        );
        assert_eq!(reply.body["error"], "bad_request", "{}", reply.body);
    }
    // A body that is not an object, and the energy profile's members.
    let reply = api.put_json("/v1/clusters/edge-paris", &json!(["edge-paris", "edge"]));
    assert_eq!(reply.status, 422, "{}", reply.body);
    let reply = api.put_json(
        "/v1/clusters/edge-paris/energy_profile",
        &json!({"pue": null}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["field"], "pue");
    // POST needs a name that is a DNS label, as the document's pattern says.
    let mut body = cluster_body("Edge_Paris", 8.0);
    let reply = api.post_json("/v1/clusters", &body);
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["field"], "name");
    body.as_object_mut().unwrap().remove("name");
    let reply = api.post_json("/v1/clusters", &body);
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["field"], "name");
    let mut after = api.get("/v1/clusters/edge-paris").body;
    let mut before = before;
    for view in [&mut after, &mut before] {
        view.as_object_mut().unwrap().remove("backend");
    }
    assert_eq!(after, before, "nothing stored changed");
}

/// The place body: `params` an object (or null), `request` the plugin API's request with
/// every member, strictly typed.
#[test]
fn a_direct_placement_call_reads_its_body_strictly() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let path = "/v1/strategies/default-lp/placement/place";
    let request = smo_tests::small_request();
    let reply = api.post_json(path, &json!({"request": request, "params": null}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = api.post_json(path, &json!({"request": request, "params": [1]}));
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["field"], "params");
    let mut wrong = serde_json::to_value(&request).unwrap();
    wrong["clusters"][0]["capacity"] = json!([1.0, 2.0, 0]);
    let reply = api.post_json(path, &json!({"request": wrong}));
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["field"], "request.clusters[0].capacity",
        "{}",
        reply.body
    );
    // JSON Schema's integer: 1.0 is 1; 1.5 is not.
    let mut whole = serde_json::to_value(&request).unwrap();
    whole["graph"]["services"][0]["replicas"] = json!(1.0);
    let reply = api.post_json(path, &json!({"request": whole}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    whole["graph"]["services"][0]["replicas"] = json!(1.5);
    let reply = api.post_json(path, &json!({"request": whole}));
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["field"], "request.graph.services[0].replicas",
        "{}",
        reply.body
    );
    let mut missing = serde_json::to_value(&request).unwrap();
    missing.as_object_mut().unwrap().remove("current");
    let reply = api.post_json(path, &json!({"request": missing}));
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["field"], "request.current", "{}", reply.body);
}
