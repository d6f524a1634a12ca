//! Every endpoint with missing and wrong tokens, a read token on writes, unknown names,
//! malformed bodies, the wrong content type and oversized bodies: JSON errors
//! `{error, detail, field}` with the right status, and nothing changed.
//!
//! The table below must list every route of the router (checked), so a new endpoint cannot
//! be added without saying how it fails.

mod api_support;

use api_support::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What an endpoint reads from its body.
#[derive(Clone, Copy)]
enum Body {
    /// Nothing.
    None,
    /// A descriptor (YAML or JSON).
    Descriptor,
    /// A JSON document (this is a valid one).
    Json(fn() -> Value),
}

struct Endpoint {
    method: &'static str,
    /// The route as the router declares it.
    route: &'static str,
    /// The route with its parameters filled in for an existing object.
    path: &'static str,
    /// The same for an unknown object (404), if the endpoint has one.
    unknown: Option<&'static str>,
    body: Body,
    open: bool,
}

fn cluster() -> Value {
    json!({"name": "edge-new", "role": "edge", "capacity": {"cpu": 4.0, "memory_mib": 4096.0, "gpu": 0}})
}
fn cluster_update() -> Value {
    json!({"role": "edge", "capacity": {"cpu": 16.0, "memory_mib": 32768.0, "gpu": 0}})
}
fn energy() -> Value {
    json!({"pue": 1.3})
}
fn params() -> Value {
    json!({})
}
fn alerts() -> Value {
    json!({"alerts": []})
}
fn declaration() -> Value {
    json!({"vm_name": "hello-world-graph/hello-world", "provides": {"type": "web"}})
}
fn migrate() -> Value {
    json!({"workload": "hello-world-graph/hello-world"})
}
fn place() -> Value {
    json!({"request": smo_tests::small_request()})
}

const fn ep(
    method: &'static str,
    route: &'static str,
    path: &'static str,
    unknown: Option<&'static str>,
    body: Body,
) -> Endpoint {
    Endpoint {
        method,
        route,
        path,
        unknown,
        body,
        open: false,
    }
}

fn endpoints() -> Vec<Endpoint> {
    let g = "/v1/graphs/hello-world-graph";
    vec![
        Endpoint {
            open: true,
            ..ep("GET", "/healthz", "/healthz", None, Body::None)
        },
        Endpoint {
            open: true,
            ..ep("GET", "/readyz", "/readyz", None, Body::None)
        },
        ep("GET", "/metrics", "/metrics", None, Body::None),
        Endpoint {
            open: true,
            ..ep(
                "GET",
                "/v1/openapi.json",
                "/v1/openapi.json",
                None,
                Body::None,
            )
        },
        Endpoint {
            open: true,
            ..ep(
                "GET",
                "/v1/schemas/dependencies",
                "/v1/schemas/dependencies",
                None,
                Body::None,
            )
        },
        ep("GET", "/v1/plugins", "/v1/plugins", None, Body::None),
        ep(
            "POST",
            "/v1/plugins/reload",
            "/v1/plugins/reload",
            None,
            Body::None,
        ),
        ep(
            "POST",
            "/v1/strategies/{plugin}/{strategy}/place",
            "/v1/strategies/default-lp/placement/place",
            None,
            Body::Json(place),
        ),
        ep("GET", "/v1/graphs", "/v1/graphs", None, Body::None),
        ep("POST", "/v1/graphs", "/v1/graphs", None, Body::Descriptor),
        ep(
            "GET",
            "/v1/graphs/{name}",
            g,
            Some("/v1/graphs/ghost"),
            Body::None,
        ),
        ep("PUT", "/v1/graphs/{name}", g, None, Body::Descriptor),
        ep(
            "DELETE",
            "/v1/graphs/{name}",
            g,
            Some("/v1/graphs/ghost"),
            Body::None,
        ),
        ep(
            "POST",
            "/v1/graphs/{name}/start",
            "/v1/graphs/hello-world-graph/start",
            Some("/v1/graphs/ghost/start"),
            Body::None,
        ),
        ep(
            "POST",
            "/v1/graphs/{name}/stop",
            "/v1/graphs/hello-world-graph/stop",
            Some("/v1/graphs/ghost/stop"),
            Body::None,
        ),
        ep(
            "GET",
            "/v1/graphs/{name}/offload",
            "/v1/graphs/hello-world-graph/offload",
            Some("/v1/graphs/ghost/offload"),
            Body::None,
        ),
        ep(
            "POST",
            "/v1/graphs/{name}/placement",
            "/v1/graphs/hello-world-graph/placement",
            Some("/v1/graphs/ghost/placement"),
            Body::None,
        ),
        ep(
            "POST",
            "/v1/graphs/{name}/execute_strategy/{strategy}",
            "/v1/graphs/hello-world-graph/execute_strategy/default-lp:placement",
            Some("/v1/graphs/ghost/execute_strategy/default-lp:placement"),
            Body::Json(params),
        ),
        ep("GET", "/v1/decisions", "/v1/decisions", None, Body::None),
        ep("GET", "/v1/applies", "/v1/applies", None, Body::None),
        ep("GET", "/v1/clusters", "/v1/clusters", None, Body::None),
        ep(
            "POST",
            "/v1/clusters",
            "/v1/clusters",
            None,
            Body::Json(cluster),
        ),
        ep(
            "GET",
            "/v1/clusters/{name}",
            "/v1/clusters/edge-athens",
            Some("/v1/clusters/ghost"),
            Body::None,
        ),
        ep(
            "PUT",
            "/v1/clusters/{name}",
            "/v1/clusters/edge-athens",
            Some("/v1/clusters/ghost"),
            Body::Json(cluster_update),
        ),
        ep(
            "PUT",
            "/v1/clusters/{name}/energy_profile",
            "/v1/clusters/edge-athens/energy_profile",
            Some("/v1/clusters/ghost/energy_profile"),
            Body::Json(energy),
        ),
        ep(
            "GET",
            "/project/{project}/graphs",
            "/project/test/graphs",
            None,
            Body::None,
        ),
        ep(
            "POST",
            "/project/{project}/graphs",
            "/project/test/graphs",
            None,
            Body::Descriptor,
        ),
        ep("POST", "/alerts", "/alerts", None, Body::Json(alerts)),
        ep(
            "POST",
            "/v1/dependencies",
            "/v1/dependencies",
            None,
            Body::Json(declaration),
        ),
        ep("GET", "/v1/ecosystem", "/v1/ecosystem", None, Body::None),
        ep(
            "GET",
            "/v1/ecosystem/{graph}/{service}",
            "/v1/ecosystem/hello-world-graph/hello-world",
            Some("/v1/ecosystem/ghost/nothing"),
            Body::None,
        ),
        ep(
            "POST",
            "/v1/migrate",
            "/v1/migrate",
            None,
            Body::Json(migrate),
        ),
    ]
}

fn assert_error_body(reply: &Reply, what: &str) {
    let body = reply
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not a JSON object: {:?}", reply.body));
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {:?}",
        reply.body
    );
    assert!(
        body["detail"].as_str().is_some(),
        "{what}: {:?}",
        reply.body
    );
    assert!(body.contains_key("field"), "{what}: {:?}", reply.body);
}

fn valid_body(endpoint: &Endpoint) -> Option<(&'static str, Vec<u8>)> {
    match endpoint.body {
        Body::None => None,
        Body::Descriptor => Some(("application/yaml", HELLO.as_bytes().to_vec())),
        Body::Json(make) => Some(("application/json", make().to_string().into_bytes())),
    }
}

#[test]
fn the_table_lists_every_route() {
    let routed: BTreeSet<(String, String)> = smo_host::api::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_uppercase(), p.to_owned()))
        .collect();
    let tested: BTreeSet<(String, String)> = endpoints()
        .iter()
        .map(|e| (e.method.to_owned(), e.route.to_owned()))
        .collect();
    assert_eq!(routed, tested);
}

#[test]
fn tokens_are_required_and_scoped_on_every_endpoint() {
    let sandbox = sandbox();
    let reader = "reader-secret-0123456789";
    let api = start(
        &sandbox,
        &format!("[[auth.tokens]]\nname = \"grafana\"\nscope = \"read\"\ntoken = \"{reader}\"\n"),
    );
    api.deploy(HELLO);
    // hello-world in the ecosystem map, for the endpoints about one workload.
    assert_eq!(
        api.post_json("/v1/dependencies", &declaration()).status,
        201
    );
    let before = api.get("/v1/graphs").body;
    for e in endpoints() {
        let what = format!("{} {}", e.method, e.path);
        if e.open {
            assert_eq!(api.call(e.method, e.path, None, None).status, 200, "{what}");
            continue;
        }
        for token in [None, Some("wrong-token"), Some("")] {
            let reply = api.call(e.method, e.path, token, valid_body(&e));
            assert_eq!(reply.status, 401, "{what} with {token:?}");
            assert_eq!(reply.body["error"], "unauthorized", "{what}");
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Bearer realm=\"smo\""),
                "{what}"
            );
            assert_error_body(&reply, &what);
        }
        let reply = api.call(e.method, e.path, Some(reader), valid_body(&e));
        if e.method == "GET" {
            assert_eq!(
                reply.status, 200,
                "{what} with a read token: {:?}",
                reply.body
            );
        } else {
            assert_eq!(reply.status, 403, "{what} with a read token");
            assert_eq!(reply.body["error"], "forbidden");
            assert_error_body(&reply, &what);
        }
    }
    assert_eq!(
        api.get("/v1/graphs").body,
        before,
        "refused requests changed nothing"
    );
}

#[test]
fn unknown_names_malformed_bodies_wrong_types_and_oversized_bodies() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    api.deploy(HELLO);
    let token = api.token.clone();
    let token = token.as_deref();
    let big = vec![b' '; smo_host::api::BODY_LIMIT + 1];
    for e in endpoints() {
        let what = format!("{} {}", e.method, e.path);
        if let Some(unknown) = e.unknown {
            let reply = api.call(e.method, unknown, token, valid_body(&e));
            assert_eq!(
                reply.status, 404,
                "{what} on an unknown name: {:?}",
                reply.body
            );
            assert_error_body(&reply, &what);
        }
        if matches!(e.body, Body::None) || e.open {
            continue;
        }
        // Malformed: broken JSON, and JSON of the wrong shape (an array, a string).
        for bad in [
            &b"{\"broken"[..],
            &b"[1, 2, 3]"[..],
            &b"\"just a string\""[..],
        ] {
            let reply = api.call(
                e.method,
                e.path,
                token,
                Some(("application/json", bad.to_vec())),
            );
            assert!(
                [400, 422].contains(&reply.status),
                "{what} with {:?}: {} {:?}",
                String::from_utf8_lossy(bad),
                reply.status,
                reply.body
            );
            assert_error_body(&reply, &what);
        }
        let reply = api.call(
            e.method,
            e.path,
            token,
            Some(("image/png", b"\x89PNG".to_vec())),
        );
        assert_eq!(reply.status, 415, "{what} with image/png: {:?}", reply.body);
        assert_error_body(&reply, &what);
        let reply = api.call(
            e.method,
            e.path,
            token,
            Some(("application/json", big.clone())),
        );
        assert_eq!(reply.status, 413, "{what} with {} bytes", big.len());
        assert_eq!(reply.body["error"], "body_too_large", "{what}");
    }
    // Unknown paths and wrong methods.
    let reply = api.get("/v1/nothing-here");
    assert_eq!(reply.status, 404);
    assert_error_body(&reply, "unknown path");
    let reply = api.call("PATCH", "/v1/graphs/hello-world-graph", token, None);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.body["error"], "method_not_allowed");
    // A bad strategy name and a bad query.
    let reply = api.post_empty("/v1/graphs/hello-world-graph/execute_strategy/no-separator");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["field"], "strategy");
    let reply = api.post_empty("/v1/graphs/hello-world-graph/execute_strategy/a:b?apply=maybe");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["field"], "query");
    // The graph is as it was.
    let status = api.get("/v1/graphs/hello-world-graph").body;
    assert_eq!(status["status"], "running");
}

#[test]
fn an_invalid_descriptor_gets_every_error_with_its_path() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let broken = HELLO
        .replace("cpu: \"small\"", "cpu: \"huge\"")
        .replace("ram: \"small\"", "ram: 12");
    let reply = api.post_yaml("/v1/graphs", &broken);
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_descriptor");
    let errors = reply.body["errors"].as_array().expect("errors");
    assert!(errors.len() >= 2, "every error at once: {errors:?}");
    let paths: Vec<&str> = errors
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with("compute.cpu")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.ends_with("compute.ram")),
        "{paths:?}"
    );
    assert_eq!(reply.body["field"], errors[0]["path"]);
    assert_eq!(
        api.get("/v1/graphs/hello-world-graph").status,
        404,
        "nothing stored"
    );

    let reply = api.post_json(
        "/project/test/graphs",
        &json!({"artifact": "http://registry/test/graph"}),
    );
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"], "unsupported_artifact");
}

#[test]
fn a_deeply_nested_body_is_refused_with_422_naming_the_limit_and_stores_nothing() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let deep = format!(
        "hdaGraph: {{x: {}1{}}}\n",
        "{a: ".repeat(40_000),
        "}".repeat(40_000)
    );
    let reply = api.post_yaml("/v1/graphs", &deep);
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("more than the limit of 64")),
        "{}",
        reply.body
    );
    let listed = api.get("/v1/graphs").body;
    assert_eq!(
        listed["graphs"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    assert_eq!(api.get("/healthz").status, 200);
}

#[test]
fn a_list_limit_past_the_documented_maximum_is_refused_not_capped() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    for path in ["/v1/decisions", "/v1/applies"] {
        let reply = api.get(&format!("{path}?limit=1001"));
        assert_eq!(reply.status, 422, "{path}: {}", reply.body);
        assert_eq!(reply.body["field"], "limit", "{}", reply.body);
        assert_eq!(api.get(&format!("{path}?limit=1000")).status, 200, "{path}");
    }
}

#[test]
fn an_alert_status_outside_firing_and_resolved_is_refused() {
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let reply = api.post_json(
        "/alerts",
        &json!({"alerts": [{"status": "exploded", "labels": {"service": "noise-reduction"}}]}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(reply.body.to_string().contains("status"), "{}", reply.body);
    let reply = api.post_json(
        "/alerts",
        &json!({"alerts": [{"status": "resolved", "labels": {"service": "noise-reduction"}}]}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}
