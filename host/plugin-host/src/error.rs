//! Error types of the plugin host: loading and reloading ([`PluginHostError`]) and calling a
//! strategy ([`CallError`]). Each message is one line an operator can act on.

use std::path::PathBuf;
use std::time::Duration;

/// Failure to find, probe, load or build a plugin or strategy.
#[derive(Debug, thiserror::Error)]
pub enum PluginHostError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: rejected by the probe: {message}")]
    Probe { file: PathBuf, message: String },
    #[error("{file}: {message}")]
    Load { file: PathBuf, message: String },
    #[error("{file}: built against smo-plugin-api {plugin_api}, this daemon speaks {host_api} (the major versions must match; rebuild the plugin against smo-plugin-api {host_api})")]
    IncompatibleApi {
        file: PathBuf,
        plugin_api: String,
        host_api: String,
    },
    #[error("two files offer plugin `{name}`: {first} and {second}; remove one")]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "invalid strategy name `{0}`: expected `plugin/strategy`, e.g. `default-lp/placement`"
    )]
    BadName(String),
    #[error(
        "no plugin named `{name}` (loaded: {available}); searched {searched}: pass --plugin-dir \
         DIR (or set plugin_dir) to a directory with its .so file, or install the smo package, \
         which ships its plugins in /usr/lib/smo/plugins"
    )]
    UnknownPlugin {
        name: String,
        available: String,
        /// Each directory scanned, and whether it is missing or empty.
        searched: String,
    },
    #[error("plugin `{plugin}` offers no {kind} strategy `{strategy}` (it offers: {available})")]
    UnknownStrategy {
        plugin: String,
        strategy: String,
        kind: &'static str,
        available: String,
    },
    #[error("strategy `{strategy}` could not be built: {message}")]
    Construct { strategy: String, message: String },
    #[error("reload refused: {images} plugin images are mapped and the limit is {limit}; abi_stable never unloads a library, so restart the daemon to reclaim memory")]
    TooManyImages { images: usize, limit: usize },
    #[error("reload failed, the previous plugin set stays active: {}", .0.join("; "))]
    ReloadFailed(Vec<String>),
}

/// Failure of one strategy call.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum CallError {
    #[error("{strategy} timed out after {after:?}")]
    Timeout { strategy: String, after: Duration },
    #[error("{strategy} panicked: {message}")]
    Panicked { strategy: String, message: String },
    #[error("{strategy} failed ({kind}): {message}")]
    Failed {
        strategy: String,
        kind: String,
        message: String,
    },
    #[error("{strategy} is quarantined: {reason}")]
    Quarantined { strategy: String, reason: String },
    #[error("{strategy}: {message}")]
    Unavailable { strategy: String, message: String },
}

impl CallError {
    /// A short code for logs, metrics and the API.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "timeout",
            CallError::Panicked { .. } => "panic",
            CallError::Failed { .. } => "error",
            CallError::Quarantined { .. } => "quarantined",
            CallError::Unavailable { .. } => "unavailable",
        }
    }
}
