//! Authentication as operators meet it: the admin token created at first start (mode 0600),
//! read and admin tokens from the config file, open health and OpenAPI endpoints, rotation by
//! deleting the token file, and `[auth] enabled = false` (what `--no-auth` sets).

mod api_support;

use api_support::*;

#[test]
fn the_admin_token_is_created_once_with_mode_0600_and_rotates_when_deleted() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = sandbox();
    let api = start(&sandbox, "");
    let path = sandbox.state_dir().join("admin.token");
    let mode = std::fs::metadata(&path)
        .expect("admin.token exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = api.token.clone().expect("token");
    assert_eq!(api.get("/v1/graphs").status, 200);
    assert_eq!(api.post_yaml("/v1/graphs", HELLO).status, 201);

    drop(api);
    let api = start(&sandbox, "");
    assert_eq!(
        api.token.as_deref(),
        Some(first.as_str()),
        "kept across restarts"
    );

    drop(api);
    std::fs::remove_file(&path).expect("delete the token");
    let api = start(&sandbox, "");
    let second = api.token.clone().expect("a new token");
    assert_ne!(second, first);
    assert_eq!(
        api.call("GET", "/v1/graphs", Some(&first), None).status,
        401,
        "the old token is revoked"
    );
    assert_eq!(api.get("/v1/graphs").status, 200);
}

#[test]
fn config_tokens_have_their_scope_and_health_and_openapi_are_open() {
    let sandbox = sandbox();
    let reader = "grafana-reads-only-0001";
    let operator = "ops-can-do-anything-02";
    let digest = smo_host::store::hash_token(reader);
    let config = format!(
        "[[auth.tokens]]\nname = \"grafana\"\nscope = \"read\"\ntoken_sha256 = \"{digest}\"\n\n\
         [[auth.tokens]]\nname = \"ops\"\nscope = \"admin\"\ntoken = \"{operator}\"\n"
    );
    let api = start(&sandbox, &config);
    let yaml = Some(("application/yaml", HELLO.as_bytes().to_vec()));

    assert_eq!(
        api.call("GET", "/v1/graphs", Some(reader), None).status,
        200
    );
    let refused = api.call("POST", "/v1/graphs", Some(reader), yaml.clone());
    assert_eq!(refused.status, 403);
    assert!(refused.body["detail"]
        .as_str()
        .expect("detail")
        .contains("grafana"));
    assert_eq!(
        api.call("POST", "/v1/plugins/reload", Some(reader), None)
            .status,
        403
    );
    assert_eq!(
        api.call("POST", "/v1/graphs", Some(operator), yaml).status,
        201
    );
    assert_eq!(
        api.call("GET", "/v1/graphs/hello-world-graph", Some(reader), None)
            .status,
        200
    );
    // Bearer only, exact secret.
    assert_eq!(
        api.call("GET", "/v1/graphs", Some(&format!("{reader}x")), None)
            .status,
        401
    );

    let health = api.call("GET", "/healthz", None, None);
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let doc = api.call("GET", "/v1/openapi.json", None, None);
    assert_eq!(doc.status, 200);
    let checked_in: serde_json::Value =
        serde_json::from_str(include_str!("../../host/smo/openapi.json")).expect("openapi.json");
    assert_eq!(
        doc.body, checked_in,
        "the served document is the checked-in one"
    );
}

#[test]
fn a_bad_token_in_the_config_stops_the_daemon_with_its_name() {
    let sandbox = sandbox();
    let path = sandbox.root.path().join("smo.toml");
    std::fs::write(
        &path,
        "[[auth.tokens]]\nname = \"broken\"\nscope = \"root\"\ntoken = \"0123456789abcdef\"\n",
    )
    .expect("config");
    let out = std::process::Command::new(smo_tests::smo_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .arg("--plugin-dir")
        .arg(sandbox.plugin_dir())
        .arg("--state-dir")
        .arg(sandbox.state_dir())
        .output()
        .expect("smo runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken") && stderr.contains("scope"),
        "{stderr}"
    );
}

#[test]
fn with_auth_disabled_no_token_is_needed() {
    let sandbox = sandbox();
    let api = start(&sandbox, "[auth]\nenabled = false\n");
    assert!(
        !sandbox.state_dir().join("admin.token").exists(),
        "no token made when auth is off"
    );
    assert_eq!(api.call("GET", "/v1/graphs", None, None).status, 200);
    let yaml = Some(("application/yaml", HELLO.as_bytes().to_vec()));
    assert_eq!(api.call("POST", "/v1/graphs", None, yaml).status, 201);
}

#[test]
fn without_auth_cross_site_writes_and_foreign_host_names_are_refused() {
    let sandbox = smo_tests::Sandbox::with_plugins(&["smo_default_lp"]);
    let daemon = smo_tests::Daemon::start(&sandbox, &["--no-auth"]);
    let descriptor = smo_tests::test_descriptor("csrf", &[("svc", "1Gi")], None, "", "{}");
    let post = |headers: &[(&str, &str)]| {
        let mut request = ureq::http::Request::builder()
            .method("POST")
            .uri(daemon.url("/v1/graphs"))
            .header("content-type", "text/plain");
        for (key, value) in headers {
            request = request.header(*key, *value);
        }
        let request = request
            .body(descriptor.as_bytes().to_vec())
            .expect("request");
        let response = smo_tests::http().run(request).expect("answer");
        let status = response.status().as_u16();
        let body: serde_json::Value =
            serde_json::from_str(&response.into_body().read_to_string().unwrap_or_default())
                .unwrap_or_default();
        (status, body)
    };
    // A page on another site posting a "simple" request (no preflight).
    let (status, body) = post(&[("origin", "http://evil.example")]);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["field"], "origin");
    // DNS rebinding: the browser thinks it talks to evil.example.
    let (status, body) = post(&[("host", "evil.example:8000")]);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["field"], "host");
    let (_, listed) = smo_tests::get_json(&daemon.url("/v1/graphs"));
    assert_eq!(
        listed["graphs"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    // The same request from the API's own origin (or a client sending none) passes.
    let own = format!("http://{}", daemon.addr);
    let (status, body) = post(&[("origin", &own)]);
    assert_eq!(status, 201, "{body}");
}
