//! Call counters and health per plugin version, and per-strategy quarantine.
//! Shared by the guard (which writes) and the API (which reads a snapshot).

use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters of one loaded plugin version.
#[derive(Debug, Default)]
pub struct PluginStats {
    calls: AtomicU64,
    errors: AtomicU64,
    panics: AtomicU64,
    timeouts: AtomicU64,
    total_micros: AtomicU64,
    health: Mutex<HashMap<String, StrategyHealth>>,
}

/// Health of one strategy of a plugin version.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct StrategyHealth {
    pub consecutive_failures: u32,
    pub quarantined: Option<String>,
}

/// A copy of the counters for display.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatsSnapshot {
    pub calls: u64,
    pub errors: u64,
    pub panics: u64,
    pub timeouts: u64,
    pub mean_call_us: f64,
    pub quarantined: Vec<QuarantineEntry>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QuarantineEntry {
    pub strategy: String,
    pub reason: String,
}

/// How a call ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The strategy answered with an error that is a legitimate answer (infeasible, bad input).
    Answered,
    /// A malfunction: internal error, counted toward quarantine.
    Error,
    Panic,
    Timeout,
}

impl PluginStats {
    /// Records a finished call; returns the quarantine reason if this call tripped it.
    pub fn record(
        &self,
        strategy: &str,
        outcome: Outcome,
        micros: u64,
        quarantine_after: u32,
        detail: &str,
    ) -> Option<String> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.total_micros.fetch_add(micros, Ordering::Relaxed);
        match outcome {
            Outcome::Ok => {}
            Outcome::Answered | Outcome::Error => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Panic => {
                self.panics.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Timeout => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let h = health.entry(strategy.to_string()).or_default();
        match outcome {
            Outcome::Ok | Outcome::Answered => {
                h.consecutive_failures = 0;
                None
            }
            Outcome::Error | Outcome::Panic | Outcome::Timeout => {
                h.consecutive_failures += 1;
                if h.quarantined.is_none()
                    && quarantine_after > 0
                    && h.consecutive_failures >= quarantine_after
                {
                    let reason = format!(
                        "{} consecutive failures, the last: {detail}",
                        h.consecutive_failures
                    );
                    h.quarantined = Some(reason.clone());
                    Some(reason)
                } else {
                    None
                }
            }
        }
    }

    /// The quarantine reason of `strategy`, if it is quarantined.
    pub fn quarantined(&self, strategy: &str) -> Option<String> {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        health.get(strategy).and_then(|h| h.quarantined.clone())
    }

    /// Lifts the quarantine of `strategy` (operator action).
    pub fn release(&self, strategy: &str) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        health.remove(strategy);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let calls = self.calls.load(Ordering::Relaxed);
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let mut quarantined: Vec<QuarantineEntry> = health
            .iter()
            .filter_map(|(s, h)| {
                h.quarantined.as_ref().map(|r| QuarantineEntry {
                    strategy: s.clone(),
                    reason: r.clone(),
                })
            })
            .collect();
        quarantined.sort_by(|a, b| a.strategy.cmp(&b.strategy));
        StatsSnapshot {
            calls,
            errors: self.errors.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            mean_call_us: if calls == 0 {
                0.0
            } else {
                self.total_micros.load(Ordering::Relaxed) as f64 / calls as f64
            },
            quarantined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_after_consecutive_failures_only() {
        let s = PluginStats::default();
        assert_eq!(s.record("a", Outcome::Panic, 1, 3, "boom"), None);
        assert_eq!(s.record("a", Outcome::Ok, 1, 3, ""), None);
        assert_eq!(s.record("a", Outcome::Timeout, 1, 3, "t"), None);
        assert_eq!(s.record("a", Outcome::Answered, 1, 3, "infeasible"), None);
        assert_eq!(s.record("a", Outcome::Panic, 1, 3, "p1"), None);
        assert_eq!(s.record("a", Outcome::Panic, 1, 3, "p2"), None);
        let tripped = s.record("a", Outcome::Error, 1, 3, "last");
        assert!(tripped.unwrap().contains("last"));
        assert!(s.quarantined("a").is_some());
        assert!(s.quarantined("b").is_none());
        let snap = s.snapshot();
        assert_eq!(snap.calls, 7);
        assert_eq!(snap.panics, 3);
        assert_eq!(snap.timeouts, 1);
        assert_eq!(snap.errors, 2);
        s.release("a");
        assert!(s.quarantined("a").is_none());
    }
}
