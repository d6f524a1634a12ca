//! The offload loop in `smo serve`: a graph with an `offloadPolicy` gets its state machine
//! stepped on the daemon's user-delay telemetry, and its migration strategy (the real
//! `sbmp-gma` plugin, or a panicking fixture) called when the machine acts.

use serde_json::Value;
use smo_tests::*;
use std::time::Duration;

/// A graph of `services` (name, memory) with 2 fixed replicas each (alpha 50), pinned to
/// `pinned` when given, with `intent` lines added under `hdaGraphIntent`.
fn descriptor(id: &str, services: &[(&str, &str)], pinned: Option<&str>, intent: &str) -> String {
    test_descriptor(id, services, pinned, intent, FIXED_TWO)
}

fn send_yaml(method: &str, url: &str, body: &str) -> (u16, Value) {
    let agent = http();
    let response = match method {
        "PUT" => agent
            .put(url)
            .header("content-type", "application/yaml")
            .send(body.as_bytes()),
        _ => agent
            .post(url)
            .header("content-type", "application/yaml")
            .send(body.as_bytes()),
    }
    .expect("request");
    let status = response.status().as_u16();
    (status, response.into_body().read_json().expect("JSON body"))
}

/// The offload view, and the graph's placement as (service, cluster, replicas).
fn offload(daemon: &Daemon, graph: &str) -> (Value, Vec<(String, String, u64)>) {
    let (status, view) = get_json(&daemon.url(&format!("/v1/graphs/{graph}")));
    assert_eq!(status, 200, "{view}");
    (view["offload_loop"].clone(), placement_of(&view))
}

fn states(view: &Value) -> Vec<String> {
    view["transitions"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| t["to"]["state"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn at_edge(placement: &[(String, String, u64)]) -> usize {
    placement
        .iter()
        .filter(|(_, c, r)| c == "milan-edge" && *r > 0)
        .count()
}

fn delay(view: &Value) -> Option<f64> {
    view["lastObservation"][1]["delayMs"].as_f64()
}

#[test]
fn the_offload_loop_moves_services_to_the_edge_and_back_in_smo_serve() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    let config = sandbox.config("[engine]\nscaling_period_ms = 200\n");
    // One simulated hour per wall-clock second: the demo's day in 24 s. The offload policy is
    // the demo's (band 25..50 ms, W 30 min, cool-down 30 min, query window 5 min).
    let daemon = Daemon::on_scenario(
        &sandbox,
        Some(&config),
        &scenario("offload-demo.yaml"),
        3600,
    );
    let services = [("frontend", "1Gi"), ("catalog", "2Gi"), ("cart", "1Gi")];
    let intent = "    migrationStrategy: sbmp-gma/offload\n    offloadPolicy: {offloadDelayMs: 50, \
                  unoffloadDelayMs: 25, stabilityWindowS: 1800, queryPeriodS: 300, cooldownS: 1800}\n";
    // Deployed pinned to the cloud (the placement strategy would take the edge, first in
    // inventory order), then released: the update keeps the placement, and the services may
    // now move.
    let pinned = descriptor("shop", &services, Some("stockholm-cloud"), intent);
    let (status, body) = send_yaml("POST", &daemon.url("/v1/graphs"), &pinned);
    assert_eq!(status, 201, "{body}");
    let free = descriptor("shop", &services, None, intent);
    let (status, body) = send_yaml("PUT", &daemon.url("/v1/graphs/shop"), &free);
    assert_eq!(status, 200, "{body}");
    let (view, placement) = offload(&daemon, "shop");
    assert_eq!(at_edge(&placement), 0, "{placement:?}");
    assert_eq!(view["active"], true, "{view}");
    let (status, direct) = get_json(&daemon.url("/v1/graphs/shop/offload"));
    assert_eq!(status, 200, "{direct}");
    assert_eq!(direct["enabled"], true, "{direct}");
    assert_eq!(direct["policy"]["offloadDelayMs"], 50.0);

    // Midday: the cloud copies saturate, the alarm holds for W, the machine offloads once.
    let mut peak_edge = 0;
    let mut seen = (Value::Null, Vec::new());
    let offloaded = eventually(Duration::from_secs(20), || {
        seen = offload(&daemon, "shop");
        peak_edge = peak_edge.max(at_edge(&seen.1));
        seen.0["lastActionReport"]["outcome"]["outcome"] == "applied" && at_edge(&seen.1) > 0
    });
    assert!(offloaded, "no service moved to the edge: {}", seen.0);
    let (view, _) = &seen;
    let names = states(view);
    let alarm = names.iter().position(|s| s == "offloadAlarm");
    let acting = names.iter().position(|s| s == "offloading");
    assert!(
        alarm.is_some() && acting.is_some() && alarm < acting,
        "{names:?}"
    );
    assert_eq!(
        view["transitions"][0]["from"]["state"], "camping",
        "{names:?}"
    );
    assert_eq!(view["lastActionReport"]["action"]["action"], "offload");
    assert!(view["lastActionReport"]["decisionId"].is_i64(), "{view}");
    // One action per alarm: every offloading follows its own alarm.
    let alarms = names.iter().filter(|s| *s == "offloadAlarm").count();
    let actions = names.iter().filter(|s| *s == "offloading").count();
    assert!(actions >= 1 && actions <= alarms, "{names:?}");

    // With copies at the edge the delay comes back within the band.
    let mut last = None;
    let in_band = eventually(Duration::from_secs(15), || {
        let (view, placement) = offload(&daemon, "shop");
        peak_edge = peak_edge.max(at_edge(&placement));
        last = delay(&view);
        at_edge(&placement) > 0 && last.is_some_and(|d| (25.0..=50.0).contains(&d))
    });
    assert!(
        in_band,
        "delay never in the band with services at the edge: {last:?}"
    );

    // Evening: the delay falls below 25 ms, the machine unoffloads, services move back.
    let mut seen = (Value::Null, Vec::new());
    let back = eventually(Duration::from_secs(20), || {
        seen = offload(&daemon, "shop");
        peak_edge = peak_edge.max(at_edge(&seen.1));
        let report = &seen.0["lastActionReport"];
        report["action"]["action"] == "unoffload"
            && report["outcome"]["outcome"] == "applied"
            && at_edge(&seen.1) < peak_edge
    });
    assert!(back, "no service moved back: {} {:?}", seen.0, seen.1);
    assert!(states(&seen.0).iter().any(|s| s == "unoffloadAlarm"));
    // The decisions are in the history with their trigger.
    let (_, history) = get_json(&daemon.url("/v1/decisions?graph=shop&limit=1000"));
    let migrations: Vec<&Value> = history["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|d| d["kind"] == "migration")
        .collect();
    assert!(migrations.len() >= 2, "{migrations:?}");
    assert!(migrations.iter().all(|d| d["trigger"] == "offload_loop"));
    assert!(migrations
        .iter()
        .all(|d| d["strategy"] == "sbmp-gma/offload"));
    // Deleting the graph ends its loop.
    let response = http()
        .delete(&daemon.url("/v1/graphs/shop"))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let (status, _) = get_json(&daemon.url("/v1/graphs/shop/offload"));
    assert_eq!(status, 404);
}

#[test]
fn a_panicking_offload_strategy_is_a_failed_outcome_and_the_loop_resumes_after_a_restart() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_panicky", "panicky.so");
    // The built-in inventory and load model; a band so low that the delay is always above it,
    // observed every second (wall clock), acting after 1 s.
    let intent =
        "    migrationStrategy: panicky/boom-migration\n    offloadPolicy: {offloadDelayMs: 2, \
                  unoffloadDelayMs: 1, stabilityWindowS: 1, queryPeriodS: 4, cooldownS: 1}\n";
    let graph = descriptor(
        "boom",
        &[("api", "1Gi"), ("db", "1Gi")],
        Some("cloud-frankfurt"),
        intent,
    );
    let failed = |daemon: &Daemon| {
        let (status, view) = get_json(&daemon.url("/v1/graphs/boom/offload"));
        assert_eq!(status, 200, "{view}");
        view
    };
    let is_failed = |view: &Value| view["lastActionReport"]["outcome"]["outcome"] == "failed";
    let before_restart: Vec<Value>;
    {
        let daemon = Daemon::start(&sandbox, &["--no-auth"]);
        let (status, body) = send_yaml("POST", &daemon.url("/v1/graphs"), &graph);
        assert_eq!(status, 201, "{body}");
        let mut view = Value::Null;
        assert!(
            eventually(Duration::from_secs(20), || {
                view = failed(&daemon);
                is_failed(&view)
            }),
            "no failed outcome: {view}"
        );
        let error = view["lastActionReport"]["outcome"]["error"]
            .as_str()
            .unwrap_or_default();
        assert!(error.contains("panicked"), "{view}");
        assert_eq!(view["lastOutcome"][1]["outcome"], "failed", "{view}");
        // The delay is reported, the daemon is up, the loop goes on.
        assert!(delay(&view).is_some_and(|d| d > 2.0), "{view}");
        let (status, _) = get_json(&daemon.url("/healthz"));
        assert_eq!(status, 200);
        let (_, graph_view) = get_json(&daemon.url("/v1/graphs/boom"));
        assert_eq!(graph_view["offload_loop"]["active"], true, "{graph_view}");
        assert_eq!(
            graph_view["last_decisions"]["migration"]["outcome"], "error",
            "{graph_view}"
        );
        before_restart = failed(&daemon)["transitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            before_restart.len() >= 3,
            "alarm, offloading, cooldown: {before_restart:?}"
        );
    }
    // After a restart the running graph's offload loop starts again (from camping), and the
    // transitions recorded before the restart are still listed, before a "resumed" one.
    let daemon = Daemon::start(&sandbox, &["--no-auth"]);
    let mut view = Value::Null;
    assert!(
        eventually(Duration::from_secs(20), || {
            view = failed(&daemon);
            view["active"] == true && is_failed(&view)
        }),
        "the loop did not resume: {view}"
    );
    let after_restart = view["transitions"].as_array().cloned().unwrap_or_default();
    assert!(
        after_restart.len() > before_restart.len(),
        "{before_restart:?} then {view}"
    );
    assert_eq!(
        after_restart[..before_restart.len()],
        before_restart[..],
        "the transitions before the restart are kept: {view}"
    );
    let resumed = after_restart[before_restart.len()..]
        .iter()
        .find(|t| {
            t["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("resumed after restart"))
        })
        .unwrap_or_else(|| panic!("no resumed transition: {view}"));
    assert_eq!(resumed["to"]["state"], "camping", "{view}");
    // A graph without a policy has no offload loop.
    let plain = descriptor("plain", &[("web", "1Gi")], None, "");
    let (status, body) = send_yaml("POST", &daemon.url("/v1/graphs"), &plain);
    assert_eq!(status, 201, "{body}");
    assert!(body["offload_loop"].is_null(), "{body}");
    let (status, body) = get_json(&daemon.url("/v1/graphs/plain/offload"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::json!({"enabled": false}));
}

#[test]
fn an_active_autoscaler_blocks_offload_action_until_it_settles() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_fixture_panicky", "panicky.so");
    let config = sandbox.config("[engine]\nscaling_period_ms = 100\n");
    let daemon = Daemon::start(&sandbox, &["--no-auth", "--config", &config]);
    // The delay is always above the 2 ms threshold (observed every second, acting after 1 s),
    // but `panicky/flap` changes the replicas on every scaling round (every 100 ms).
    let graph = |scaling: &str| {
        let intent = format!(
            "    scalingStrategy: panicky/{scaling}\n    migrationStrategy: panicky/boom-migration\n    \
             offloadPolicy: {{offloadDelayMs: 2, unoffloadDelayMs: 1, stabilityWindowS: 1, \
             queryPeriodS: 4, cooldownS: 60}}\n"
        );
        descriptor(
            "flappy",
            &[("api", "1Gi"), ("db", "1Gi")],
            Some("cloud-frankfurt"),
            &intent,
        )
        .replace("minReplicas: 2", "minReplicas: 1")
    };
    let (status, body) = send_yaml("POST", &daemon.url("/v1/graphs"), &graph("flap"));
    assert_eq!(status, 201, "{body}");
    let view = || {
        let (status, view) = get_json(&daemon.url("/v1/graphs/flappy/offload"));
        assert_eq!(status, 200, "{view}");
        view
    };
    let observed_at = |view: &Value| view["lastObservation"][0].as_f64();
    let decisions = || {
        let (status, history) = get_json(&daemon.url("/v1/decisions?graph=flappy&limit=1000"));
        assert_eq!(status, 200, "{history}");
        history["decisions"].as_array().expect("decisions").clone()
    };
    let by_offload_loop = |ds: &[Value]| {
        ds.iter()
            .filter(|d| d["trigger"] == "offload_loop" || d["kind"] == "migration")
            .count()
    };

    // The first round sees the scaling loop's changes and waits.
    let mut seen = Value::Null;
    assert!(
        eventually(Duration::from_secs(10), || {
            seen = view();
            seen["stateName"] == "waitingForAutoscaler"
        }),
        "the machine never waited for the autoscaler: {seen}"
    );
    let since = observed_at(&seen).expect("an observation");
    // For four more rounds (the window W is 1 s) the machine keeps waiting and never acts,
    // though the delay stays above the threshold, while the scaling loop keeps deciding.
    assert!(
        eventually(Duration::from_secs(10), || {
            seen = view();
            assert_eq!(seen["stateName"], "waitingForAutoscaler", "{seen}");
            assert_eq!(seen["actions"], 0, "{seen}");
            assert!(seen["lastActionReport"].is_null(), "{seen}");
            observed_at(&seen).is_some_and(|t| t >= since + 4.0)
        }),
        "the offload loop stopped observing: {seen}"
    );
    let observation = &seen["lastObservation"][1];
    assert_eq!(observation["autoscalerActive"], true, "{seen}");
    assert!(delay(&seen).is_some_and(|d| d > 2.0), "{seen}");
    assert_eq!(
        states(&seen),
        ["waitingForAutoscaler"],
        "{}",
        seen["transitions"]
    );
    assert_eq!(
        seen["transitions"][0]["reason"], "an autoscaler is acting",
        "{seen}"
    );
    let history = decisions();
    let scalings: Vec<&Value> = history
        .iter()
        .filter(|d| d["kind"] == "scaling" && d["trigger"] == "scaling_loop")
        .collect();
    assert!(scalings.len() >= 10, "{history:?}");
    assert_eq!(by_offload_loop(&history), 0, "{history:?}");

    // The autoscaler settles (`panicky/hold` keeps the replicas): the machine camps, raises
    // its alarm and acts (the migration strategy panics: a failed outcome, recorded).
    let (status, body) = send_yaml("PUT", &daemon.url("/v1/graphs/flappy"), &graph("hold"));
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(Duration::from_secs(10), || {
            seen = view();
            seen["lastActionReport"]["outcome"]["outcome"] == "failed"
        }),
        "the machine never acted once the autoscaler settled: {seen}"
    );
    let names = states(&seen);
    let settled = names.iter().position(|s| s == "camping");
    let acting = names.iter().position(|s| s == "offloading");
    assert!(
        names[0] == "waitingForAutoscaler" && settled.is_some() && settled < acting,
        "{names:?}"
    );
    assert_eq!(seen["lastActionReport"]["action"]["action"], "offload");
    let history = decisions();
    let migrations: Vec<&Value> = history
        .iter()
        .filter(|d| d["trigger"] == "offload_loop")
        .collect();
    assert_eq!(migrations.len(), 1, "{history:?}");
    assert_eq!(migrations[0]["kind"], "migration");
}
