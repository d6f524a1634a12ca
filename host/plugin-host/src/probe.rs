//! Runs `smo plugin check` on a file in a child process, so that a plugin whose
//! initialisation crashes or hangs is rejected without touching the daemon.

use super::error::PluginHostError;
use super::loader::PluginInfo;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tracing::Instrument;

/// How to run the probe.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The `smo` executable (the daemon's own binary by default).
    pub exe: PathBuf,
    pub timeout: Duration,
}

/// Probes `file` and returns its metadata, or why it was rejected.
pub async fn probe(config: &ProbeConfig, file: &Path) -> Result<PluginInfo, PluginHostError> {
    probe_inner(config, file)
        .instrument(tracing::info_span!("probe_plugin", file = %file.display()))
        .await
}

async fn probe_inner(config: &ProbeConfig, file: &Path) -> Result<PluginInfo, PluginHostError> {
    let reject = |message: String| PluginHostError::Probe {
        file: file.to_path_buf(),
        message,
    };
    let child = tokio::process::Command::new(&config.exe)
        .arg("plugin")
        .arg("check")
        .arg(file)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| reject(format!("cannot run {}: {e}", config.exe.display())))?;
    let output = match tokio::time::timeout(config.timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(reject(format!("probe process failed: {e}"))),
        Err(_) => {
            return Err(reject(format!(
                "loading did not finish within {:?} (hangs in its initialiser?)",
                config.timeout
            )))
        }
    };
    if output.status.success() {
        return serde_json::from_slice(&output.stdout)
            .map_err(|e| reject(format!("probe printed unreadable metadata: {e}")));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last_line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    match output.status.signal() {
        Some(signal) => Err(reject(format!(
            "crashed while loading (killed by signal {signal}{}){}",
            signal_name(signal),
            if last_line.is_empty() {
                String::new()
            } else {
                format!(": {last_line}")
            }
        ))),
        None => Err(reject(if last_line.is_empty() {
            format!("probe exited with {}", output.status)
        } else {
            last_line
        })),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => ", SIGABRT",
        9 => ", SIGKILL",
        11 => ", SIGSEGV",
        7 => ", SIGBUS",
        4 => ", SIGILL",
        8 => ", SIGFPE",
        _ => "",
    }
}
