//! Log setup: human-readable by default, JSON lines with `--log-format json`.
//! The level comes from `RUST_LOG` (default `info`); logs go to stderr.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber at level `info` (once; later calls are ignored).
pub fn init(format: LogFormat) {
    init_with_default(format, "info");
}

/// Installs the global subscriber; `default` is the filter used when `RUST_LOG` is unset.
pub fn init_with_default(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
