//! A host of the next minor version — `PluginModule` with one more field, as the
//! `testing-next-minor` feature declares it — loads the example plugin built against
//! smo-plugin-api 1.0.0 (`tests/compat`) through `loading::init_root_module`: its fields work,
//! and the field it predates reads as absent. abi_stable's own loader refuses it. Run with `cargo test -p smo-plugin-api --features
//! testing-next-minor --test next_minor` after building `tests/compat` (scripts/test.sh does).
#![cfg(feature = "testing-next-minor")]

use abi_stable::library::{lib_header_from_path, LibHeader, LibraryError};
use smo_plugin_api::{loading, PluginModule_Ref, StrategyKind};
use std::path::PathBuf;

/// `<target>/compat/debug/libhello_strategy_api_1_0_0.so` (this test runs from
/// `<target>/<profile>/deps`).
fn old_build() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf();
    let path = target.join("compat/debug/libhello_strategy_api_1_0_0.so");
    assert!(
        path.is_file(),
        "{} is missing: build tests/compat first (scripts/test.sh does)",
        path.display()
    );
    path
}

#[test]
fn a_next_minor_host_loads_a_plugin_built_against_1_0_0() {
    let header: &LibHeader = lib_header_from_path(&old_build()).expect("the library opens");
    // abi_stable's own check takes the host's module as the interface and counts its fields.
    match header.init_root_module::<PluginModule_Ref>() {
        Err(LibraryError::AbiInstability(report)) => {
            assert!(report.to_string().contains("too many fields"), "{report}")
        }
        other => panic!(
            "abi_stable's loader was expected to refuse: {:?}",
            other.err()
        ),
    }
    let module = loading::init_root_module(header).expect("its layout and version are accepted");
    let metadata = (module.metadata())();
    assert_eq!(metadata.api_version.as_str(), "1.0.0");
    assert_eq!(metadata.name.as_str(), "hello");
    let most_free = metadata
        .strategies
        .iter()
        .find(|s| s.name.as_str() == "most-free")
        .expect("its strategy");
    assert_eq!(most_free.kind, StrategyKind::PLACEMENT);
    // The field appended after 1.0.0 is absent, and says so.
    assert!(module.next_minor_probe().is_none());
    // The fields it has still build strategies.
    let built = (module.new_placement())("most-free".into(), r#"{"role": "edge"}"#.into());
    assert!(built.is_ok(), "the placement strategy builds");
    let refused = (module.new_placement())("nothing".into(), "{}".into());
    assert!(refused.is_err(), "an unknown strategy is refused");
}
