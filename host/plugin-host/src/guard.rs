//! The call guard: every strategy call runs under a per-plugin permit, on a blocking thread,
//! with a deadline; failures are counted and repeated malfunctions quarantine the strategy.

use super::error::CallError;
use super::registry::PluginEntry;
use super::stats::Outcome;
use smo_plugin_api::{ErrorKind, PluginError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits applied to each call.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Deadline of one call, including the wait for a permit.
    pub timeout: Duration,
    /// Consecutive malfunctions (panic, timeout, internal error) before quarantine; 0 = never.
    pub quarantine_after: u32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            quarantine_after: 3,
        }
    }
}

/// Runs strategy calls safely.
#[derive(Debug, Clone)]
pub struct CallGuard {
    config: GuardConfig,
    /// Also count each call per strategy for `/metrics` (see [`CallGuard::with_metrics`]).
    metrics: bool,
}

impl Default for CallGuard {
    fn default() -> Self {
        Self::new(GuardConfig::default())
    }
}

impl CallGuard {
    pub fn new(config: GuardConfig) -> Self {
        Self {
            config,
            metrics: true,
        }
    }

    /// Whether calls are also counted per strategy, by outcome and latency, for `/metrics`
    /// (on by default; off only to measure what that costs, as the `plugin_call` bench does).
    pub fn with_metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// Runs `f` against `entry` for the strategy `strategy` (the name inside the plugin).
    ///
    /// A call that outlives the deadline keeps running on its thread (threads cannot be
    /// cancelled) and keeps its permit, so a hung plugin can only block itself; a plugin in a
    /// process of its own is killed instead, which ends the call.
    pub async fn run<T, F>(
        &self,
        entry: &Arc<PluginEntry>,
        strategy: &str,
        f: F,
    ) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce(&PluginEntry) -> Result<T, PluginError> + Send + 'static,
    {
        let label = format!("{}/{} {}", entry.info.name, strategy, entry.info.version);
        if let Some(reason) = entry.stats.quarantined(strategy) {
            return Err(CallError::Quarantined {
                strategy: label,
                reason,
            });
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let permit =
            match tokio::time::timeout_at(deadline, Arc::clone(&entry.permits).acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => {
                    return Err(CallError::Unavailable {
                        strategy: label,
                        message: "plugin is shutting down".into(),
                    })
                }
                Err(_) => {
                    let error = CallError::Timeout {
                        strategy: label,
                        after: self.config.timeout,
                    };
                    self.record(
                        entry,
                        strategy,
                        Outcome::Timeout,
                        started,
                        &error.to_string(),
                    );
                    return Err(error);
                }
            };
        let worker = Arc::clone(entry);
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(&worker)
        });
        let (result, outcome) = match tokio::time::timeout_at(deadline, handle).await {
            Ok(Ok(Ok(value))) => (Ok(value), Outcome::Ok),
            Ok(Ok(Err(e))) => {
                let outcome = match e.kind {
                    ErrorKind::PANIC => Outcome::Panic,
                    ErrorKind::INFEASIBLE
                    | ErrorKind::INVALID_INPUT
                    | ErrorKind::BAD_PARAMETERS
                    | ErrorKind::TIME_LIMIT => Outcome::Answered,
                    _ => Outcome::Error,
                };
                let error = if outcome == Outcome::Panic {
                    CallError::Panicked {
                        strategy: label,
                        message: e.message.to_string(),
                    }
                } else {
                    CallError::Failed {
                        strategy: label,
                        kind: e.kind.name().to_string(),
                        message: e.message.to_string(),
                    }
                };
                (Err(error), outcome)
            }
            Ok(Err(join)) => (
                Err(CallError::Panicked {
                    strategy: label,
                    message: format!("host-side task failed: {join}"),
                }),
                Outcome::Panic,
            ),
            Err(_) => {
                // A plugin in its own process is killed, which frees the call's thread.
                entry.abandon(&format!(
                    "{label} passed its deadline of {:?}",
                    self.config.timeout
                ));
                (
                    Err(CallError::Timeout {
                        strategy: label,
                        after: self.config.timeout,
                    }),
                    Outcome::Timeout,
                )
            }
        };
        let detail = match &result {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        self.record(entry, strategy, outcome, started, &detail);
        result
    }

    fn record(
        &self,
        entry: &PluginEntry,
        strategy: &str,
        outcome: Outcome,
        started: Instant,
        detail: &str,
    ) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if self.metrics {
            if let Some(calls) = entry.calls.get(strategy) {
                calls.record(outcome, micros);
            }
        }
        if outcome == Outcome::Answered {
            // "infeasible", "bad input": answers, not malfunctions.
            tracing::debug!(plugin = %entry.info.name, version = %entry.info.version, strategy, detail, "strategy answered with an error");
        } else if outcome != Outcome::Ok {
            tracing::warn!(plugin = %entry.info.name, version = %entry.info.version, strategy, ?outcome, detail, "strategy call failed");
        }
        if let Some(reason) = entry.stats.record(
            strategy,
            outcome,
            micros,
            self.config.quarantine_after,
            detail,
        ) {
            tracing::error!(plugin = %entry.info.name, version = %entry.info.version, strategy, %reason, "strategy quarantined");
        }
    }
}
