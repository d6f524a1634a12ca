//! A graph's `offloadPolicy` (the delay band and timing of its offload loop): the one type the
//! descriptor, the engine's offload machine and the simulator share, with its range checks.

use serde::{Deserialize, Serialize};

/// A graph's `offloadPolicy`: the delay band and the timing of the loop.
///
/// The first five members are the graph schema's `offloadPolicy` keys; the last three are
/// engine settings with defaults (unknown keys are refused).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OffloadPolicy {
    /// Offload when the mean user delay at the edge ingress is above this (ms). Default 250.
    pub offload_delay_ms: f64,
    /// Unoffload when the mean user delay is below this (ms); below `offload_delay_ms`.
    /// Default 150.
    pub unoffload_delay_ms: f64,
    /// W: how long an alarm must hold before the machine acts (s). Default 120.
    pub stability_window_s: f64,
    /// Range window of the telemetry rate queries (s), as GMA's `query-period`. Default 120.
    /// Observations should come every [`OffloadPolicy::observe_every_s`].
    pub query_period_s: f64,
    /// Quiet time after an action finished before alarms may start again (s). Default 120
    /// (GMA sleeps W after acting).
    pub cooldown_s: f64,
    /// Cap on the decrease one offload may ask for (ms); `None`: no cap (GMA's
    /// `max-delay-reduction`).
    pub max_decrease_ms: Option<f64>,
    /// Cap on the increase one unoffload may allow (ms); `None`: no cap.
    pub max_increase_ms: Option<f64>,
    /// How long to wait for `OffloadMachine::finish` (engine::offload) before cooling down anyway (s).
    /// Default 600.
    pub action_timeout_s: f64,
}

impl Default for OffloadPolicy {
    fn default() -> Self {
        Self {
            offload_delay_ms: 250.0,
            unoffload_delay_ms: 150.0,
            stability_window_s: 120.0,
            query_period_s: 120.0,
            cooldown_s: 120.0,
            max_decrease_ms: None,
            max_increase_ms: None,
            action_timeout_s: 600.0,
        }
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("offloadPolicy.{field}: {why}")]
    Invalid { field: &'static str, why: String },
}

impl OffloadPolicy {
    /// Checks ranges: finite non-negative numbers, and `unoffloadDelayMs < offloadDelayMs`.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field: &'static str, why: &str| {
            Err(PolicyError::Invalid {
                field,
                why: why.to_owned(),
            })
        };
        let checks: [(&'static str, f64); 6] = [
            ("offloadDelayMs", self.offload_delay_ms),
            ("unoffloadDelayMs", self.unoffload_delay_ms),
            ("stabilityWindowS", self.stability_window_s),
            ("queryPeriodS", self.query_period_s),
            ("cooldownS", self.cooldown_s),
            ("actionTimeoutS", self.action_timeout_s),
        ];
        for (field, v) in checks {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, "must be a finite number >= 0");
            }
        }
        for (field, v) in [
            ("maxDecreaseMs", self.max_decrease_ms),
            ("maxIncreaseMs", self.max_increase_ms),
        ] {
            if v.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                return bad(field, "must be a finite number > 0");
            }
        }
        if self.unoffload_delay_ms >= self.offload_delay_ms {
            return bad(
                "unoffloadDelayMs",
                &format!(
                    "must be below offloadDelayMs ({} >= {})",
                    self.unoffload_delay_ms, self.offload_delay_ms
                ),
            );
        }
        if self.query_period_s <= 0.0 {
            return bad("queryPeriodS", "must be > 0");
        }
        Ok(())
    }

    /// The delay an action aims at: the middle of the band (ms).
    pub fn target_delay_ms(&self) -> f64 {
        (self.offload_delay_ms + self.unoffload_delay_ms) / 2.0
    }

    /// How often the host should observe (s): a quarter of the query window, 1 to 30 s
    /// (GMA: 30 s against a 2 min window).
    pub fn observe_every_s(&self) -> f64 {
        (self.query_period_s / 4.0).clamp(1.0, 30.0)
    }

    /// A gap between observations longer than this restarts an alarm (s).
    pub fn max_gap_s(&self) -> f64 {
        2.0 * self.query_period_s.max(self.observe_every_s())
    }
}
