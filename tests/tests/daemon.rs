//! The daemon as operators run it: `smo serve` in a child process on 127.0.0.1, reloaded by
//! SIGHUP, by `smo plugin reload` and by the opt-in file watch, answering over HTTP.
//!
//! Most of these daemons run with `--no-auth`: they are about reloading and error bodies
//! (`api_auth.rs` covers the tokens); the last test checks the CLI's token handling.

use smo_tests::*;
use std::process::Command;
use std::time::Duration;

fn start(sandbox: &Sandbox, extra: &[&str]) -> Daemon {
    let mut args = vec!["--no-auth"];
    args.extend_from_slice(extra);
    Daemon::start(sandbox, &args)
}

fn place_version(daemon: &Daemon) -> String {
    let body = serde_json::json!({ "request": small_request() });
    let (status, record) = post_json(&daemon.url("/v1/strategies/versioned/echo/place"), &body);
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["error"], serde_json::Value::Null, "{record}");
    assert_eq!(
        record["fallback_reason"],
        serde_json::Value::Null,
        "{record}"
    );
    record["plugin_version"]
        .as_str()
        .expect("version")
        .to_string()
}

fn generation(daemon: &Daemon) -> u64 {
    get_json(&daemon.url("/v1/plugins")).1["generation"]
        .as_u64()
        .unwrap()
}

#[test]
fn reload_by_sighup_and_by_the_cli_while_serving() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let daemon = start(&sandbox, &[]);

    let (status, health) = get_json(&daemon.url("/healthz"));
    assert_eq!(status, 200);
    assert_eq!(health["plugins"], 2);
    let (_, plugins) = get_json(&daemon.url("/v1/plugins"));
    let names: Vec<&str> = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default-lp", "versioned"]);
    assert_eq!(place_version(&daemon), "1.0.0");

    // SIGHUP: the generation moves on and the new version answers.
    let before = generation(&daemon);
    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    daemon.signal("HUP");
    assert!(eventually(Duration::from_secs(30), || generation(&daemon) > before));
    assert_eq!(place_version(&daemon), "2.0.0");

    // `smo plugin reload` talks to the daemon and prints what changed.
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let out = Command::new(smo_bin())
        .args(["plugin", "reload", "--listen", &daemon.addr])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["updated"][0], "versioned 2.0.0 -> 1.0.0");
    assert_eq!(place_version(&daemon), "1.0.0");

    // A broken replacement: the CLI exits non-zero with the reason, the old version serves.
    sandbox.install("smo_fixture_wrong_abi", "versioned.so");
    let out = Command::new(smo_bin())
        .args(["plugin", "reload", "--listen", &daemon.addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2.0.0"), "{stderr}");
    assert_eq!(place_version(&daemon), "1.0.0");

    // `smo plugin list` reads the daemon.
    let out = Command::new(smo_bin())
        .args(["plugin", "list", "--listen", &daemon.addr])
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let versioned = listed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "versioned")
        .unwrap()
        .clone();
    assert_eq!(versioned["state"], "active");
    assert!(versioned["stats"]["calls"].as_u64().unwrap() >= 1);
}

#[test]
fn bad_requests_get_json_errors_and_the_daemon_stops_on_sigterm() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    let mut daemon = start(&sandbox, &[]);

    let (status, error) = post_json(
        &daemon.url("/v1/strategies/default-lp/placement/place"),
        &serde_json::json!({"request": {"graph": 5}}),
    );
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"], "bad_request");
    assert!(
        error["detail"].as_str().unwrap().contains("graph"),
        "{error}"
    );

    let (status, error) = post_json(
        &daemon.url("/v1/strategies/default-lp/placement/place"),
        &serde_json::json!({"request": small_request(), "bogus": 1}),
    );
    assert_eq!(status, 422);
    assert!(
        error["detail"].as_str().unwrap().contains("bogus"),
        "{error}"
    );

    let big = "x".repeat(smo_host::api::BODY_LIMIT + 1);
    let response = http()
        .post(&daemon.url("/v1/strategies/default-lp/placement/place"))
        .header("content-type", "application/json")
        .send(big.as_bytes())
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    let (status, error) = get_json(&daemon.url("/v1/nothing-here"));
    assert_eq!(status, 404);
    assert_eq!(error["error"], "not_found");

    daemon.signal("TERM");
    let exit = daemon.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_opt_in_file_watch_reloads_after_a_rename() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let daemon = start(&sandbox, &["--watch-plugins"]);
    assert_eq!(place_version(&daemon), "1.0.0");
    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    assert!(
        eventually(Duration::from_secs(30), || place_version(&daemon)
            == "2.0.0"),
        "the watch never picked up version 2"
    );
}

#[test]
fn the_plugin_cli_authenticates_with_the_admin_token() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    let daemon = Daemon::start(&sandbox, &[]);
    // Without a token the daemon refuses, and the CLI says so in one line.
    let refused = Command::new(smo_bin())
        .args(["plugin", "list", "--listen", &daemon.addr])
        .env_remove("SMO_TOKEN")
        .args(["--state-dir", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    // With the state directory, the CLI reads STATE_DIR/admin.token.
    let state = sandbox.state_dir();
    for args in [["plugin", "list"], ["plugin", "reload"]] {
        let out = Command::new(smo_bin())
            .args(args)
            .args(["--listen", &daemon.addr])
            .arg("--state-dir")
            .arg(&state)
            .env_remove("SMO_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // And from $SMO_TOKEN.
    let token = std::fs::read_to_string(state.join("admin.token")).unwrap();
    let out = Command::new(smo_bin())
        .args(["plugin", "list", "--listen", &daemon.addr])
        .args(["--state-dir", "/nonexistent"])
        .env("SMO_TOKEN", token.trim())
        .output()
        .unwrap();
    assert!(out.status.success());
}
