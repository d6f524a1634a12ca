//! Plugins in a process of their own (`isolation = "process"`), for plugins the operator does
//! not trust: [`parent`] is the daemon's side, [`child`] the process (`smo plugin host FILE`),
//! [`protocol`] the messages between them, [`sandbox`] what confines the process.
//!
//! A crash fails only the calls in flight and the process is started again (with backoff); a
//! call past its deadline kills the process, which frees its thread, memory and image; a reload
//! starts a new process and the old one stops when the old version's last call ends.

pub mod child;
pub mod parent;
pub mod protocol;
pub mod sandbox;

pub use parent::IsolatedPlugin;

use crate::error::PluginHostError;
use crate::loader::{self, LoadedImage, PluginInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a plugin runs (`[plugins] isolation`: `in_process` or `process`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Isolation {
    /// Loaded into the daemon (the fastest; a crash in it ends the daemon).
    #[default]
    InProcess,
    /// In a process of its own, confined ([`sandbox`]).
    Process,
}

/// Resource limits of a plugin's process (`[plugins.process]`); 0 leaves one unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Heap and private mappings (RLIMIT_DATA), MiB.
    pub memory_mib: u64,
    /// CPU time over the process's life (RLIMIT_CPU), s: past it the process is killed and
    /// started again at the next call.
    pub cpu_seconds: u64,
    /// Open files (RLIMIT_NOFILE).
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mib: 2048,
            cpu_seconds: 0,
            open_files: 256,
        }
    }
}

impl Limits {
    /// The flags of `smo plugin host` that carry them.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--memory-mib".into(),
            self.memory_mib.to_string(),
            "--cpu-seconds".into(),
            self.cpu_seconds.to_string(),
            "--open-files".into(),
            self.open_files.to_string(),
        ]
    }
}

/// Which plugins run in their own process, and with what limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsolationPolicy {
    /// For every plugin not named in `plugins`.
    pub default: Isolation,
    /// By plugin name.
    pub plugins: BTreeMap<String, Isolation>,
    pub limits: Limits,
}

impl IsolationPolicy {
    /// Where plugin `name` runs.
    pub fn of(&self, name: &str) -> Isolation {
        self.plugins.get(name).copied().unwrap_or(self.default)
    }
}

/// Loads the probed plugin `name` from `file`: into this process, or in a process of its own
/// started from `exe` (the `smo` binary), as `policy` says.
pub fn load(
    file: &Path,
    name: &str,
    policy: &IsolationPolicy,
    exe: &Path,
) -> Result<(LoadedImage, PluginInfo), PluginHostError> {
    match policy.of(name) {
        Isolation::InProcess => loader::load(file),
        Isolation::Process => {
            let plugin = IsolatedPlugin::start(
                exe.to_path_buf(),
                PathBuf::from(file),
                policy.limits.clone(),
            )
            .map_err(|message| PluginHostError::Load {
                file: file.to_path_buf(),
                message,
            })?;
            let info = plugin.info().clone();
            Ok((LoadedImage::Isolated(plugin), info))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_named_overrides_the_default() {
        let policy = IsolationPolicy {
            default: Isolation::InProcess,
            plugins: [("untrusted".to_owned(), Isolation::Process)].into(),
            limits: Limits::default(),
        };
        assert_eq!(policy.of("untrusted"), Isolation::Process);
        assert_eq!(policy.of("default-lp"), Isolation::InProcess);
        assert_eq!(
            Limits::default().to_args(),
            [
                "--memory-mib",
                "2048",
                "--cpu-seconds",
                "0",
                "--open-files",
                "256"
            ]
        );
    }
}
