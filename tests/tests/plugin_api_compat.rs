//! `plugin-api` is a public contract: a plugin built against its first release (1.0.0, frozen in
//! `tests/compat/plugin-api-1.0.0`) must still load into this daemon and answer as the same
//! source built against the current crate does. The old build is `examples/hello-strategy`
//! compiled in `tests/compat` (its own workspace, built by `scripts/test.sh`).

use smo_plugin_host::StrategyName;
use smo_tests::*;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The example plugin built against smo-plugin-api 1.0.0.
fn old_api_build() -> PathBuf {
    let target = artifact_dir()
        .parent()
        .expect("target/<profile> has a parent")
        .to_path_buf();
    let path = target.join("compat/debug/libhello_strategy_api_1_0_0.so");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --locked --manifest-path tests/compat/Cargo.toml --target-dir <cargo target dir>/compat` (scripts/test.sh does)",
        path.display()
    );
    path
}

#[test]
fn the_old_build_reports_the_first_api_version() {
    let out = std::process::Command::new(smo_bin())
        .args(["plugin", "check"])
        .arg(old_api_build())
        .output()
        .expect("smo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    assert_eq!(meta["api_version"], "1.0.0", "{meta}");
    assert_eq!(meta["strategies"][0]["name"], "most-free", "{meta}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_against_plugin_api_1_0_0_answers_like_a_current_build() {
    let old = Sandbox::new();
    old.install_file(&old_api_build(), "hello.so");
    let current = Sandbox::new();
    current.install("hello_strategy", "hello.so");
    let name = StrategyName::parse("hello/most-free").expect("name");
    let request = Arc::new(small_request_without_gpu());
    let mut decisions = Vec::new();
    for sandbox in [&old, &current] {
        let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
        let record = dispatcher
            .place(Some(&name), r#"{"role": "edge"}"#, Arc::clone(&request))
            .await;
        assert_eq!(record.record.error, None);
        assert_eq!(
            record.record.fallback_reason, None,
            "the plugin itself answered"
        );
        decisions.push(record.decision.expect("a decision"));
        // Bad parameters are refused by the old build as by the new one.
        let record = dispatcher
            .place(Some(&name), r#"{"role": "moon"}"#, Arc::clone(&request))
            .await;
        let reason = record.record.fallback_reason.expect("refused");
        assert!(reason.contains("moon"), "{reason}");
    }
    assert!(!decisions[0].placement.assignments.is_empty());
    assert_eq!(decisions[0], decisions[1]);
}
