//! The cap on mapped plugin images: abi_stable never unloads, so past the configured number
//! of images a reload is refused with a message that a restart is needed.
//! (Its own test binary, because the image count is per process.)

use smo_plugin_host::StrategyName;
use smo_tests::*;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_past_the_image_cap_are_refused_and_the_old_version_serves() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let mut config = sandbox.registry_config();
    config.max_images = 1;
    let dispatcher = dispatcher(config, Duration::from_secs(30), 3).await;
    let echo = StrategyName::parse("versioned/echo").unwrap();
    let first = dispatcher
        .place(Some(&echo), "{}", Arc::new(small_request()))
        .await;
    assert_eq!(first.record.plugin_version.as_deref(), Some("1.0.0"));
    assert_eq!(dispatcher.registry().status().images_mapped, 1);

    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    let error = dispatcher.registry().reload().await.expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("restart"), "{text}");
    assert!(text.contains("limit is 1"), "{text}");
    let again = dispatcher
        .place(Some(&echo), "{}", Arc::new(small_request()))
        .await;
    assert_eq!(again.record.plugin_version.as_deref(), Some("1.0.0"));
}
