//! `[ecosystem]`: the weights of the Dependency Satisfaction Score and the threshold below
//! which a workload is a candidate for migration (see docs/ecosystem.md).

use super::ConfigError;
use serde::Deserialize;
use smo_core::ecosystem::Weights;

/// `[ecosystem]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EcosystemSettings {
    /// Weight of the required dependencies met (> 0).
    pub weight_required: f64,
    /// Weight of the preferred dependencies met (≥ 0).
    pub weight_preferred: f64,
    /// Workloads scoring below it are candidates for migration, in (0, 1].
    pub threshold: f64,
    /// The migration strategy asked for moves (`plugin/strategy`).
    pub strategy: String,
    /// Its parameters, a JSON object.
    pub parameters: String,
    /// Period of the migration loop, ms (0: no loop; `POST /v1/migrate` still works).
    pub period_ms: u64,
    /// Most moves the loop commits in a round.
    pub max_moves_per_period: usize,
    /// How long after a move its outcome (latency, the apply's seconds) is measured, ms.
    pub window_ms: u64,
    /// Bandwidth a workload's state is copied at between two clusters, Gb/s (the cost model's
    /// copy time is `state_gib × 8 / bandwidth_gbps`).
    pub bandwidth_gbps: f64,
}

impl Default for EcosystemSettings {
    fn default() -> Self {
        let weights = Weights::default();
        Self {
            weight_required: weights.required,
            weight_preferred: weights.preferred,
            threshold: weights.threshold,
            strategy: crate::engine::ecosystem_migrate::DEFAULT_STRATEGY.to_owned(),
            parameters: "{}".to_owned(),
            period_ms: 60_000,
            max_moves_per_period: 3,
            window_ms: 300_000,
            bandwidth_gbps: crate::engine::ecosystem_migrate::DEFAULT_BANDWIDTH_GBPS,
        }
    }
}

impl EcosystemSettings {
    /// The score's weights.
    pub fn weights(&self) -> Weights {
        Weights {
            required: self.weight_required,
            preferred: self.weight_preferred,
            threshold: self.threshold,
            ..Weights::default()
        }
    }

    /// Checks the values, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.period_ms > 0 && self.max_moves_per_period == 0 {
            return Err(ConfigError::Invalid {
                field: "ecosystem.max_moves_per_period".into(),
                message: "must be > 0 while the loop runs (period_ms > 0)".into(),
            });
        }
        if !(self.bandwidth_gbps.is_finite() && self.bandwidth_gbps > 0.0) {
            return Err(ConfigError::Invalid {
                field: "ecosystem.bandwidth_gbps".into(),
                message: format!("must be a number > 0, got {}", self.bandwidth_gbps),
            });
        }
        if let Err(e) = smo_plugin_host::StrategyName::parse(&self.strategy) {
            return Err(ConfigError::Invalid {
                field: "ecosystem.strategy".into(),
                message: e.to_string(),
            });
        }
        if !serde_json::from_str::<serde_json::Value>(&self.parameters).is_ok_and(|v| v.is_object())
        {
            return Err(ConfigError::Invalid {
                field: "ecosystem.parameters".into(),
                message: "must be a JSON object".into(),
            });
        }
        self.weights().check().map_err(|message| {
            let key = match message.split(':').next() {
                Some("required") => "weight_required",
                Some("preferred") => "weight_preferred",
                _ => "threshold",
            };
            ConfigError::Invalid {
                field: format!("ecosystem.{key}"),
                message: message
                    .split_once(": ")
                    .map_or(message.clone(), |(_, m)| m.to_owned()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn the_weights_are_read_and_checked() {
        let config = Config::from_toml("[ecosystem]\nweight_required = 0.6\nthreshold = 0.5\n")
            .expect("parses");
        assert_eq!(config.ecosystem.weights().required, 0.6);
        assert_eq!(config.ecosystem.weights().preferred, 0.3);
        assert!(config.validate().is_ok());
        for (toml, field) in [
            ("weight_required = 0", "ecosystem.weight_required"),
            ("weight_preferred = -1", "ecosystem.weight_preferred"),
            ("threshold = 1.5", "ecosystem.threshold"),
            ("bandwidth_gbps = 0", "ecosystem.bandwidth_gbps"),
        ] {
            let config = Config::from_toml(&format!("[ecosystem]\n{toml}\n")).expect("parses");
            match config.validate() {
                Err(super::ConfigError::Invalid { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{toml}: {other:?}"),
            }
        }
    }
}
