//! `[backend]` and `[applier]`: the continuum decisions are applied to, and how the applier
//! reconciles desired states with it.

use super::ConfigError;
use serde::Deserialize;

/// The backends `[backend] kind` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded simulated continuum.
    Sim,
}

/// `[backend]`: where decisions are applied.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BackendSettings {
    /// `"sim"` (default): the embedded simulated continuum, with or without `[sim] scenario`.
    pub kind: String,
    /// `[backend.sim]`: how the simulated continuum behaves.
    pub sim: SimBackendSettings,
}

impl Default for BackendSettings {
    fn default() -> Self {
        Self {
            kind: "sim".into(),
            sim: SimBackendSettings::default(),
        }
    }
}

impl BackendSettings {
    /// The parsed `kind`; the error names `backend.kind`.
    pub fn kind(&self) -> Result<BackendKind, ConfigError> {
        match self.kind.as_str() {
            "sim" => Ok(BackendKind::Sim),
            other => Err(ConfigError::Invalid {
                field: "backend.kind".into(),
                message: format!(
                    "unknown backend `{other}` (this release has `sim`, the embedded simulated \
                     continuum)"
                ),
            }),
        }
    }

    /// Checks the kind and its section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.kind()?;
        let ready = self.sim.ready_after_s;
        if !(ready.is_finite() && ready >= 0.0) {
            return Err(ConfigError::Invalid {
                field: "backend.sim.ready_after_s".into(),
                message: format!("{ready} is not a number of seconds >= 0"),
            });
        }
        Ok(())
    }
}

/// `[backend.sim]`: the simulated continuum's timing and injected failures. A scenario's
/// `continuum` section, when it has one, wins over these.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimBackendSettings {
    /// Simulated seconds from an apply to its replicas being ready.
    pub ready_after_s: f64,
    /// The first this many applies fail with a transient error (to try retries).
    pub fail_applies: u64,
}

impl Default for SimBackendSettings {
    fn default() -> Self {
        Self {
            ready_after_s: 2.0,
            fail_applies: 0,
        }
    }
}

/// `[applier]`: the loop that makes the backend run each graph's desired state.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApplierSettings {
    /// How often a graph whose replicas are not all ready yet is observed again (ms).
    pub poll_ms: u64,
    /// How often a graph in step is observed again, to find drift (ms).
    pub resync_ms: u64,
    /// The wait after a first failure; it doubles with each failure in a row (ms).
    pub backoff_base_ms: u64,
    /// The longest wait between two attempts (ms).
    pub backoff_max_ms: u64,
    /// Graphs reconciled at the same time.
    pub concurrency: usize,
    /// How long `DELETE /v1/graphs/{name}` waits for the withdrawal before answering 202 (ms).
    pub delete_wait_ms: u64,
}

impl Default for ApplierSettings {
    fn default() -> Self {
        Self {
            poll_ms: 500,
            resync_ms: 30_000,
            backoff_base_ms: 500,
            backoff_max_ms: 60_000,
            concurrency: 16,
            delete_wait_ms: 10_000,
        }
    }
}

impl ApplierSettings {
    /// Checks that every period is positive; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("poll_ms", self.poll_ms),
            ("resync_ms", self.resync_ms),
            ("backoff_base_ms", self.backoff_base_ms),
            ("backoff_max_ms", self.backoff_max_ms),
            ("concurrency", self.concurrency as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    field: format!("applier.{key}"),
                    message: "must be > 0".into(),
                });
            }
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            return Err(ConfigError::Invalid {
                field: "applier.backoff_max_ms".into(),
                message: format!(
                    "{} is below applier.backoff_base_ms ({})",
                    self.backoff_max_ms, self.backoff_base_ms
                ),
            });
        }
        Ok(())
    }
}
