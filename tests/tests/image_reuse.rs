//! Swapping back to a version this process already mapped maps nothing new: its staged copy
//! (named by content hash) is reused. (Its own test binary: the image count is per process.)

use smo_plugin_host::StrategyName;
use smo_tests::*;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_back_to_a_mapped_version_maps_no_new_image() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let mut config = sandbox.registry_config();
    config.max_images = 2;
    let dispatcher = dispatcher(config, Duration::from_secs(30), 3).await;
    let echo = StrategyName::parse("versioned/echo").unwrap();
    let version = |d: &smo_plugin_host::Dispatcher| {
        let d = d.registry().status();
        (d.images_mapped, d.generation)
    };
    let call = || async {
        dispatcher
            .place(Some(&echo), "{}", Arc::new(small_request()))
            .await
            .record
            .plugin_version
    };
    assert_eq!(call().await.as_deref(), Some("1.0.0"));
    assert_eq!(version(&dispatcher).0, 1);
    for (lib, want) in [
        ("smo_fixture_versioned_v2", "2.0.0"),
        ("smo_fixture_versioned", "1.0.0"),
        ("smo_fixture_versioned_v2", "2.0.0"),
    ] {
        sandbox.install(lib, "versioned.so");
        dispatcher
            .registry()
            .reload()
            .await
            .expect("within the cap");
        assert_eq!(call().await.as_deref(), Some(want));
        assert_eq!(version(&dispatcher).0, 2, "only two distinct images ever");
    }
}
