//! The applier end to end in `smo serve` on the simulated continuum: a graph goes through
//! deploy -> scale -> re-place -> offload -> delete, and at each step what is desired, what the
//! backend reports ready and the phase are checked; the first applies fail (the scenario's
//! `continuum.fail_applies`), and a daemon killed mid-apply converges after its restart.

use serde_json::Value;
use smo_tests::*;

const SERVICES: [(&str, &str); 3] = [("frontend", "1Gi"), ("catalog", "2Gi"), ("cart", "1Gi")];

/// The offload demo scenario (its data by absolute path) with a `continuum` section added.
fn scenario_with(sandbox: &Sandbox, continuum: &str) -> String {
    let demo = std::path::PathBuf::from(scenario("offload-demo.yaml"));
    let dir = demo.parent().expect("scenarios/");
    let text = std::fs::read_to_string(&demo).expect("scenario");
    let data = format!("csv: {}/data/", dir.display());
    let text = format!(
        "{}\ncontinuum: {continuum}\n",
        text.replace("csv: data/", &data)
    );
    let path = sandbox.root.path().join("offload-demo-continuum.yaml");
    std::fs::write(&path, text).expect("write scenario");
    path.display().to_string()
}

fn desired_on(view: &Value, cluster: &str) -> u64 {
    view["placement"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter(|r| r["cluster"] == cluster)
                .map(|r| r["replicas"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

fn applies(daemon: &Daemon, graph: &str) -> Vec<Value> {
    let (status, body) = get_json(&daemon.url(&format!("/v1/applies?graph={graph}&limit=1000")));
    assert_eq!(status, 200, "{body}");
    body["applies"].as_array().expect("applies").clone()
}

#[test]
fn a_graph_is_deployed_scaled_replaced_offloaded_and_deleted_with_desired_and_observed_in_step() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    // 600 simulated s until ready (1/3 s at 1800x); the first two applies fail.
    let scenario = scenario_with(&sandbox, "{ready_after_s: 600, fail_applies: 2}");
    let config = sandbox.config(
        "[engine]\nscaling_period_ms = 200\n[applier]\npoll_ms = 50\nbackoff_base_ms = 1000\n\
         backoff_max_ms = 2000\n",
    );
    // Half a simulated hour per wall-clock second: the demo's day in 48 s.
    let daemon = Daemon::on_scenario(&sandbox, Some(&config), &scenario, 1800);
    let intent = "    migrationStrategy: sbmp-gma/offload\n    offloadPolicy: {offloadDelayMs: 50, \
                  unoffloadDelayMs: 25, stabilityWindowS: 1800, queryPeriodS: 300, cooldownS: 1800}\n";
    // One replica at the night's load, two from the morning on (alpha 50 rps a replica).
    let scaling = "{alpha: 50, beta: 0, minReplicas: 1, maxReplicas: 2}";

    // Deploy, pinned to the cloud: committed at once, not deployed before the backend runs it.
    let pinned = test_descriptor("shop", &SERVICES, Some("stockholm-cloud"), intent, scaling);
    let (status, created) = send("POST", &daemon.url("/v1/graphs"), &pinned);
    assert_eq!(status, 201, "{created}");
    let generation = created["apply"]["generation"].as_u64().expect("generation");
    assert!(created["services"]
        .as_array()
        .expect("services")
        .iter()
        .all(|s| s["observed"] == 0 && s["status"] == "deploying"));
    // The first apply fails: degraded, with the error and its time.
    let degraded = wait(&daemon, "shop", 20, "phase degraded", |v| {
        v["phase"] == "degraded"
    });
    let error = &degraded["apply"]["last_error"];
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("simulated failure")),
        "{degraded}"
    );
    assert_eq!(error["retryable"], true);
    assert!(error["at_ms"].as_i64().is_some_and(|t| t > 0));
    assert_eq!(degraded["services"][0]["phase"], "degraded");
    assert_eq!(degraded["services"][0]["observed"], 0);
    // The third attempt succeeds: ready, desired and observed in step, three attempts.
    let deployed = wait(&daemon, "shop", 30, "ready after the retries", ready);
    assert_eq!(deployed["apply"]["generation"].as_u64(), Some(generation));
    assert_eq!(
        deployed["apply"]["applied_generation"].as_u64(),
        Some(generation)
    );
    assert_eq!(deployed["apply"]["attempts"], 3, "{}", deployed["apply"]);
    assert!(deployed["services"]
        .as_array()
        .expect("services")
        .iter()
        .all(|s| s["status"] == "deployed" && s["phase"] == "ready" && s["attempts"] == 3));
    let attempts = applies(&daemon, "shop");
    let outcomes: Vec<bool> = attempts
        .iter()
        .rev()
        .map(|a| a["ok"].as_bool().expect("ok"))
        .collect();
    assert_eq!(outcomes, [false, false, true], "{attempts:?}");
    assert!(attempts.iter().all(|a| a["action"] == "apply"));
    assert_eq!(deployed["last_decisions"]["placement"]["applied"], true);

    // Scale: the morning's load takes every service to two replicas; the backend follows.
    let scaled = wait(&daemon, "shop", 30, "two replicas everywhere, ready", |v| {
        ready(v)
            && v["services"]
                .as_array()
                .is_some_and(|ss| ss.iter().all(|s| s["desired"] == 2))
    });
    assert!(scaled["apply"]["generation"].as_u64() > Some(generation));
    assert_eq!(
        scaled["last_decisions"]["scaling"]["trigger"],
        "scaling_loop"
    );

    // Re-place: released from the pin, the update re-places from the current placement.
    let free = test_descriptor("shop", &SERVICES, None, intent, scaling);
    let (status, updated) = send("PUT", &daemon.url("/v1/graphs/shop"), &free);
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["last_decisions"]["placement"]["trigger"], "update");
    let replaced_at = updated["apply"]["generation"].as_u64().expect("generation");
    let replaced = wait(&daemon, "shop", 30, "the update applied", |v| {
        ready(v) && v["apply"]["applied_generation"].as_u64() >= Some(replaced_at)
    });
    assert_eq!(desired_on(&replaced, "milan-edge"), 0, "{replaced}");

    // Offload: at midday the offload loop moves copies to the edge; the backend runs them.
    let offloaded = wait(&daemon, "shop", 40, "copies ready at the edge", |v| {
        desired_on(v, "milan-edge") > 0 && ready(v)
    });
    let migration = &offloaded["last_decisions"]["migration"];
    assert_eq!(migration["trigger"], "offload_loop", "{migration}");
    let at = migration["generation"].as_u64().expect("a committed move");
    assert!(at > replaced_at);
    let (_, history) = get_json(&daemon.url("/v1/decisions?graph=shop&limit=1000"));
    let recorded = history["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["generation"].as_u64() == Some(at))
        .expect("the move in the history");
    assert_eq!(recorded["applied"], true, "{recorded}");

    // Delete: withdrawn first, then gone; the withdrawal is recorded.
    let response = http()
        .delete(&daemon.url("/v1/graphs/shop"))
        .call()
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 204);
    let (status, _) = get_json(&daemon.url("/v1/graphs/shop"));
    assert_eq!(status, 404);
    let newest = &applies(&daemon, "shop")[0];
    assert_eq!(newest["action"], "withdraw", "{newest}");
    assert_eq!(newest["ok"], true);
}

#[test]
fn a_daemon_killed_mid_apply_converges_after_its_restart() {
    let sandbox = Sandbox::with_plugins(&["smo_default_lp"]);
    // Replicas are never ready in the first daemon's life: it dies mid-apply.
    let config = sandbox.config("[backend.sim]\nready_after_s = 86400\n[applier]\npoll_ms = 50\n");
    let args = ["--no-auth", "--config", &config];
    let graph = test_descriptor("mid", &[("api", "1Gi")], None, "", FIXED_TWO);
    let generation = {
        let daemon = Daemon::start(&sandbox, &args);
        let (status, body) = send("POST", &daemon.url("/v1/graphs"), &graph);
        assert_eq!(status, 201, "{body}");
        let applying = wait(&daemon, "mid", 20, "phase applying", |v| {
            v["phase"] == "applying"
        });
        assert_eq!(applying["services"][0]["desired"], 2);
        assert_eq!(applying["services"][0]["observed"], 0);
        assert_eq!(applying["services"][0]["status"], "deploying");
        applying["apply"]["generation"]
            .as_u64()
            .expect("generation")
        // Dropping the daemon kills it (SIGKILL).
    };
    std::fs::write(
        &config,
        "[backend.sim]\nready_after_s = 0\n[applier]\npoll_ms = 50\n",
    )
    .expect("config");
    let daemon = Daemon::start(&sandbox, &args);
    let converged = wait(&daemon, "mid", 20, "ready after the restart", ready);
    assert_eq!(converged["apply"]["generation"].as_u64(), Some(generation));
    assert_eq!(converged["services"][0]["observed"], 2);
    // The restarted backend ran nothing: the stored state was applied again.
    let attempts = applies(&daemon, "mid");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(attempts
        .iter()
        .all(|a| a["ok"] == true && a["generation"].as_u64() == Some(generation)));
}
