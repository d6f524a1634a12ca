//! The plugin's parameters: one JSON object shared by its three strategies, with defaults.
//! Parsed with serde (unknown keys rejected) and validated field by field.

use serde::Deserialize;
use smo_plugin_api::PluginError;
use thiserror::Error;

/// Which load figure the scaler sizes replicas for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    /// The larger of the current and the predicted request rate (default).
    #[default]
    Max,
    /// Only the measured request rate.
    Current,
    /// Only the predicted request rate.
    Predicted,
}

impl LoadMode {
    /// The load to size for, given the current and predicted request rates.
    pub fn pick(self, current_rps: f64, predicted_rps: f64) -> f64 {
        match self {
            LoadMode::Max => current_rps.max(predicted_rps),
            LoadMode::Current => current_rps,
            LoadMode::Predicted => predicted_rps,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Max => "max",
            LoadMode::Current => "current",
            LoadMode::Predicted => "predicted",
        }
    }
}

/// What the scaler does for a service without load telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MissingLoad {
    /// Keep the current replicas (clamped to the service's bounds): no data, no change (default).
    #[default]
    Hold,
    /// Treat the load as 0 requests/s, as upstream does with a NaN rate.
    Zero,
}

/// Which services the min-migration re-placement may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReplaceScope {
    /// First solve with only the affected services movable (residents of overfull clusters,
    /// new, orphaned or split services); keep that result when it meets the lower bound on moves,
    /// otherwise solve the full model (default).
    #[default]
    Affected,
    /// Always solve the full model (every service may move), starting from the affected result.
    All,
}

/// All parameters of default-lp. Every strategy accepts every key and reads the ones it uses,
/// so a single global `default-lp` block can configure placement and scaling together.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Re-placement: cost of migrating one service.
    pub w_re: f64,
    /// Placement: cost of one split `Preferred` dependency (the two services on different clusters).
    pub w_dep: f64,
    /// Re-placement: which services may move.
    pub replace_scope: ReplaceScope,
    /// default-lp/milp: weight of the peak CPU/memory utilisation over clusters (0..1).
    pub w_balance: f64,
    /// default-lp/milp: weight of the hourly price, normalised to 0..1.
    pub w_cost: f64,
    /// Scaling: weight of allocated replicas, per service normalised by its max replicas.
    pub w_util: f64,
    /// Scaling: weight of a change in replicas, per service normalised by its max replicas.
    pub w_trans: f64,
    /// Scaling: which load to size for.
    pub load: LoadMode,
    /// Scaling: after a scale-down the replicas must still cover `(1 + h) * load` (hysteresis).
    pub scale_down_headroom: f64,
    /// Scaling: what to do for a service without telemetry.
    pub missing_load: MissingLoad,
    /// Solver: wall-clock limit of one HiGHS solve, in seconds.
    pub time_limit_s: f64,
    /// Solver: relative MIP gap at which HiGHS may stop and call the solution optimal.
    pub mip_rel_gap: f64,
    /// Solver: on a time limit, return HiGHS's best feasible solution instead of an error.
    pub use_incumbent_on_time_limit: bool,
    /// Decisions: at most this many rejections are listed (a reason says how many were left out).
    pub max_rejections: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            w_re: 1.0,
            w_dep: 0.1,
            replace_scope: ReplaceScope::Affected,
            w_balance: 1.0,
            w_cost: 0.5,
            w_util: 1.0,
            w_trans: 0.25,
            load: LoadMode::Max,
            scale_down_headroom: 0.2,
            missing_load: MissingLoad::Hold,
            time_limit_s: 30.0,
            mip_rel_gap: 1e-4,
            use_incumbent_on_time_limit: false,
            max_rejections: 1000,
        }
    }
}

/// Why a parameter object was refused.
#[derive(Debug, Error, PartialEq)]
pub enum ParamError {
    #[error("{0}")]
    Json(String),
    #[error("parameter `{field}` must be {expected}, got {value}")]
    Range {
        field: &'static str,
        expected: &'static str,
        value: f64,
    },
}

impl Params {
    /// Parses and validates a JSON object (an empty string means all defaults).
    pub fn parse(json: &str) -> Result<Self, ParamError> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let params: Params =
            serde_json::from_str(json).map_err(|e| ParamError::Json(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// Parses for the strategy `strategy`, turning a refusal into `bad_parameters`.
    pub fn for_strategy(strategy: &str, json: &str) -> Result<Self, PluginError> {
        Self::parse(json).map_err(|e| {
            PluginError::bad_parameters(format!("default-lp/{strategy} parameters: {e}"))
        })
    }

    fn validate(&self) -> Result<(), ParamError> {
        let non_negative = [
            ("w_re", self.w_re),
            ("w_dep", self.w_dep),
            ("w_balance", self.w_balance),
            ("w_cost", self.w_cost),
            ("w_util", self.w_util),
            ("w_trans", self.w_trans),
            ("scale_down_headroom", self.scale_down_headroom),
        ];
        for (field, value) in non_negative {
            if !value.is_finite() || value < 0.0 {
                return Err(ParamError::Range {
                    field,
                    expected: "a finite number >= 0",
                    value,
                });
            }
        }
        if !self.time_limit_s.is_finite() || self.time_limit_s <= 0.0 {
            return Err(ParamError::Range {
                field: "time_limit_s",
                expected: "a finite number of seconds > 0",
                value: self.time_limit_s,
            });
        }
        if !self.mip_rel_gap.is_finite() || !(0.0..1.0).contains(&self.mip_rel_gap) {
            return Err(ParamError::Range {
                field: "mip_rel_gap",
                expected: "a number in [0, 1)",
                value: self.mip_rel_gap,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::ErrorKind;

    #[test]
    fn empty_object_and_empty_string_give_defaults() {
        assert_eq!(Params::parse("{}"), Ok(Params::default()));
        assert_eq!(Params::parse("  "), Ok(Params::default()));
    }

    #[test]
    fn fields_are_read() {
        let p = Params::parse(
            r#"{"w_re": 2, "w_dep": 0.5, "load": "predicted", "missing_load": "zero",
                "time_limit_s": 1.5, "use_incumbent_on_time_limit": true, "replace_scope": "all"}"#,
        )
        .expect("valid");
        assert_eq!(p.w_re, 2.0);
        assert_eq!(p.w_dep, 0.5);
        assert_eq!(p.load, LoadMode::Predicted);
        assert_eq!(p.missing_load, MissingLoad::Zero);
        assert_eq!(p.time_limit_s, 1.5);
        assert!(p.use_incumbent_on_time_limit);
        assert_eq!(p.replace_scope, ReplaceScope::All);
        assert_eq!(p.w_util, Params::default().w_util);
    }

    #[test]
    fn unknown_field_is_named() {
        let err = Params::for_strategy("placement", r#"{"w_rre": 1}"#).expect_err("typo");
        assert_eq!(err.kind, ErrorKind::BAD_PARAMETERS);
        assert!(err.message.contains("w_rre"), "{}", err.message);
        assert!(
            err.message.contains("default-lp/placement"),
            "{}",
            err.message
        );
    }

    #[test]
    fn out_of_range_field_is_named() {
        let err = Params::for_strategy("scaling", r#"{"w_trans": -1}"#).expect_err("negative");
        assert!(err.message.contains("`w_trans`"), "{}", err.message);
        let err = Params::for_strategy("milp", r#"{"time_limit_s": 0}"#).expect_err("zero");
        assert!(err.message.contains("`time_limit_s`"), "{}", err.message);
        let err = Params::for_strategy("milp", r#"{"mip_rel_gap": 1.0}"#).expect_err("gap");
        assert!(err.message.contains("`mip_rel_gap`"), "{}", err.message);
    }

    #[test]
    fn wrong_type_and_bad_enum_are_refused() {
        let err = Params::for_strategy("scaling", r#"{"load": "average"}"#).expect_err("enum");
        assert!(err.message.contains("average"), "{}", err.message);
        let err = Params::for_strategy("scaling", r#"{"w_util": "high"}"#).expect_err("type");
        assert_eq!(err.kind, ErrorKind::BAD_PARAMETERS);
    }

    #[test]
    fn load_modes_pick_the_right_figure() {
        assert_eq!(LoadMode::Max.pick(3.0, 5.0), 5.0);
        assert_eq!(LoadMode::Max.pick(7.0, 5.0), 7.0);
        assert_eq!(LoadMode::Current.pick(3.0, 5.0), 3.0);
        assert_eq!(LoadMode::Predicted.pick(3.0, 5.0), 5.0);
    }
}
