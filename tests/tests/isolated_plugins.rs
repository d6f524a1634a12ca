//! Plugins in a process of their own (`[plugins] isolation = "process"`) in a real `smo serve`:
//! a C plugin that segfaults fails only its call and its process is started again; a hung call
//! past its deadline kills its process (the daemon keeps no thread in it); a Rust plugin and the
//! C example answer through their processes; and many reloads of an isolated plugin under a
//! steady load lose no call, stop the old processes and leave the daemon's memory flat.

mod api_support;

use api_support::*;
use serde_json::{json, Value};
use smo_tests::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn listing(api: &Api, plugin: &str) -> Value {
    let plugins = api.get("/v1/plugins").body;
    plugins["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == plugin)
        .cloned()
        .unwrap_or_else(|| panic!("{plugin} not listed: {plugins}"))
}

fn alive(pid: u64) -> bool {
    // A reaped process has no /proc entry; a zombie would say so in its status.
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .is_ok_and(|status| !status.contains("State:\tZ"))
}

#[test]
fn a_crash_or_a_hang_costs_one_call_and_the_process_not_the_daemon() {
    let sandbox = sandbox();
    sandbox.install_file(&c_example(), "c-first-fit.so");
    sandbox.install_file(&c_fixture("c_segfault"), "c-segfault.so");
    sandbox.install_file(&c_fixture("c_hang"), "c-hang.so");
    let api = start(
        &sandbox,
        "[plugins]\ncall_timeout_ms = 1000\nisolation = \"process\"\n\
         [engine]\nscaling_period_ms = 3600000\n",
    );
    // Every plugin runs in its own process, Rust ones too.
    for plugin in ["c-first-fit", "default-lp", "ecmr"] {
        assert_eq!(listing(&api, plugin)["isolation"], "process");
    }
    let answer = api.place_small("ecmr/heuristic", json!({}));
    assert!(answer["fallback_reason"].is_null(), "{answer}");

    // A segfault: that call falls back (to default-lp, itself isolated), counted as an error.
    let answer = api.place_small("c-segfault/placement", json!({}));
    let reason = answer["fallback_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("process ended during the call") && reason.contains("SIGSEGV"),
        "{answer}"
    );
    assert_eq!(answer["strategy"], "default-lp/placement", "{answer}");
    let segfault = listing(&api, "c-segfault");
    assert!(segfault["process"]["pid"].is_null(), "{segfault}");
    // The daemon answers the next call.
    let answer = api.place_small("c-first-fit/placement", json!({}));
    assert!(answer["fallback_reason"].is_null(), "{answer}");
    assert_eq!(listing(&api, "c-first-fit")["process"]["starts"], 1);

    // The hang fixture creates the file `started` names when entered: under Landlock (where
    // the kernel has it) its process cannot, and it says so instead of hanging.
    let started = sandbox.root.path().join("hang-started");
    let answer = api.place_small("c-hang/placement", json!({"started": started}));
    let reason = answer["fallback_reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hang = listing(&api, "c-hang");
    let confined = hang["process"]["sandbox"].as_str().unwrap_or_default();
    assert!(confined.contains("memory 2048 MiB"), "{confined}");
    if confined.contains("landlock: read-only filesystem") {
        assert!(reason.contains("cannot create the file"), "{answer}");
        assert!(!started.exists());
    } else {
        assert!(reason.contains("timed out"), "{answer}");
        assert!(started.exists());
    }

    // A hung call: past the deadline its process is killed, the call falls back.
    let answer = api.place_small("c-hang/placement", json!({}));
    let reason = answer["fallback_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("timed out"), "{answer}");
    let hang = listing(&api, "c-hang");
    assert!(hang["process"]["pid"].is_null(), "killed: {hang}");
    // The next call starts a new process; while it hangs, that process is seen, and once the
    // deadline passed it is gone too.
    let api = Arc::new(api);
    let hung = {
        let api = Arc::clone(&api);
        std::thread::spawn(move || api.place_small("c-hang/placement", json!({})))
    };
    let mut pid = None;
    assert!(eventually(Duration::from_secs(10), || {
        let hang = listing(&api, "c-hang");
        pid = hang["process"]["pid"]
            .as_u64()
            .filter(|_| hang["process"]["starts"] == 2);
        pid.is_some()
    }));
    let pid = pid.expect("the hanging process");
    let answer = hung.join().expect("the call returns");
    assert!(answer["fallback_reason"].is_string(), "{answer}");
    assert!(
        eventually(Duration::from_secs(10), || !alive(pid)),
        "the hung process {pid} still runs"
    );
    let metrics = api.get("/metrics").body;
    let text = metrics.as_str().unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.starts_with("smo_plugin_calls_total{")
                && l.contains("plugin=\"c-hang\"")
                && l.contains("outcome=\"timeout\"")
                && l.ends_with(" 2")),
        "{text}"
    );
    assert_eq!(api.get("/healthz").status, 200);
}

/// Resident memory of process `pid`, KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// The daemon's child processes (its plugin processes; probes end at once).
fn children(pid: u32) -> Vec<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn reloads_of_an_isolated_plugin_under_load_lose_no_call_and_keep_memory_flat() {
    const RELOADS: usize = 100;
    // Only the plugin reloaded: each reload hashes every file of the directory.
    let sandbox = Sandbox::new();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let api = Arc::new(start(
        &sandbox,
        "[plugins]\nisolation = \"process\"\n[engine]\nscaling_period_ms = 3600000\n",
    ));
    let daemon_pid = api.daemon.child.id();
    let call = |api: &Api| {
        let answer = api.place_small("versioned/echo", json!({}));
        assert!(
            answer["fallback_reason"].is_null(),
            "a call was lost: {answer}"
        );
    };
    call(&api);
    let reload = |api: &Api, version: &str| {
        let lib = if version == "v2" {
            "smo_fixture_versioned_v2"
        } else {
            "smo_fixture_versioned"
        };
        sandbox.install(lib, "versioned.so");
        let reply = api.post_empty("/v1/plugins/reload");
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    // Warm up: both versions staged once, so the measured reloads stage nothing new.
    reload(&api, "v2");
    reload(&api, "v1");
    let before = resident_kib(daemon_pid);

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let load = {
        let (api, stop, calls) = (Arc::clone(&api), Arc::clone(&stop), Arc::clone(&calls));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                call(&api);
                calls.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    for round in 0..RELOADS {
        reload(&api, if round % 2 == 0 { "v2" } else { "v1" });
    }
    stop.store(true, Ordering::Relaxed);
    load.join().expect("no call was lost");
    assert!(calls.load(Ordering::Relaxed) > 0);
    call(&api);
    let after = resident_kib(daemon_pid);
    // Old versions' processes stop once their last call ended: one serves now.
    assert!(
        eventually(Duration::from_secs(10), || children(daemon_pid).len() <= 1),
        "{:?}",
        children(daemon_pid)
    );
    // Nothing of the plugin is mapped into the daemon: its memory does not grow with reloads
    // (8 MiB of margin for the allocator and the store).
    assert!(
        after <= before + 8 * 1024,
        "resident memory grew from {before} KiB to {after} KiB over {RELOADS} reloads"
    );
}
