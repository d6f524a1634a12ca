//! What the benches of `smo` share: where the build put the plugins and the `smo` binary, and a
//! daemon built in-process on the simulated continuum with the default-lp plugin installed.
#![allow(dead_code)]

pub mod load;
pub mod request;

use smo_host::config::Config;
use smo_host::daemon::{build_app, App};
use std::path::{Path, PathBuf};

/// `target/<profile>`, where the bench's profile built the plugins and `smo`.
pub fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().expect("bench executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// The compiled cdylib `lib<lib>.so`.
pub fn so(lib: &str) -> PathBuf {
    let path = artifacts().join(format!("lib{lib}.so"));
    assert!(
        path.is_file(),
        "{} missing: build the workspace in this profile first",
        path.display()
    );
    path
}

/// A daemon's parts, in-process, on a temporary state directory.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
    pub app: App,
}

/// Builds `smo serve`'s app with default-lp installed, after `configure` adjusted the config.
pub fn daemon(configure: impl FnOnce(&mut Config)) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    std::fs::copy(so("smo_default_lp"), plugins.join("default-lp.so")).expect("copy plugin");
    let mut config = Config {
        plugin_dir: plugins,
        state_dir: dir.path().join("state"),
        ..Config::default()
    };
    configure(&mut config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime
        .block_on(build_app(&config, artifacts().join("smo")))
        .expect("app builds");
    Daemon { dir, runtime, app }
}
