//! One decision record from the strategy call to the store, the API, the logs and `smo
//! simulate`: which strategy decided what for which graph, when, how long it took, and why.
//!
//! The dispatcher fills what it knows (strategy, version, timing, outcome, reasons, errors) and
//! hands back the typed decision next to it ([`Decided`]); the engine adds the graph, the
//! trigger, the inputs summary and the decision as JSON before storing it; the store adds the
//! id and the generation its commit made; the API shows it as it is.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use smo_plugin_api::{MigrationDecision, PlacementDecision, ScalingDecision};
use std::fmt;
use std::str::FromStr;

/// Which kind of strategy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    Placement,
    Scaling,
    Migration,
}

/// How a strategy call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The named strategy decided.
    Ok,
    /// No decision was made (the error says why).
    Error,
    /// The named strategy failed and the default strategy decided instead.
    Fallback,
}

macro_rules! text_enum {
    ($type:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $text),+ }
            }
        }
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $type {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($type::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", stringify!($type), " {:?}"), other
                    )),
                }
            }
        }
    };
}

text_enum!(DecisionKind { Placement => "placement", Scaling => "scaling", Migration => "migration" });
text_enum!(Outcome { Ok => "ok", Error => "error", Fallback => "fallback" });

impl DecisionKind {
    /// The plugin ABI's code of the kind.
    pub fn code(self) -> u8 {
        match self {
            DecisionKind::Placement => 1,
            DecisionKind::Scaling => 2,
            DecisionKind::Migration => 3,
        }
    }
}

/// A decision, with who made it and why (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DecisionRecord {
    /// History id, once stored (absent for a dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub graph: String,
    pub kind: DecisionKind,
    /// What asked for it: deploy, update, replace, start, execute_strategy, infeasible,
    /// resume, scaling_loop, offload_loop, or a step of `smo simulate`.
    pub trigger: Option<String>,
    /// The strategy that was asked for.
    pub requested: Option<String>,
    /// The strategy that decided (the default after a fallback).
    pub strategy: String,
    pub plugin_version: Option<String>,
    /// When the call started (ms since the Unix epoch; simulated time in `smo simulate`).
    pub started_at_ms: i64,
    /// Wall time of the call, through the guard (ms).
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub reasons: Vec<String>,
    /// Why the requested strategy was not used, if it was not.
    pub fallback_reason: Option<String>,
    /// Why no decision was made, if none was.
    pub error: Option<String>,
    /// A summary of what the strategy was given (clusters, loads, parameters, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    /// The decision itself (placement, replicas or moves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
    /// The generation of the desired state this decision committed; absent when it changed
    /// nothing (a failure, a dry run, replicas that stayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Whether the backend took that generation (or a later one); absent without a generation
    /// or once the graph is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
}

impl DecisionRecord {
    /// An empty record of `kind` started at `started_at_ms`, with outcome `ok`.
    pub fn new(kind: DecisionKind, started_at_ms: i64) -> Self {
        Self {
            id: None,
            graph: String::new(),
            kind,
            trigger: None,
            requested: None,
            strategy: String::new(),
            plugin_version: None,
            started_at_ms,
            duration_ms: 0.0,
            outcome: Outcome::Ok,
            reasons: Vec::new(),
            fallback_reason: None,
            error: None,
            inputs: None,
            decision: None,
            generation: None,
            applied: None,
        }
    }

    /// The record without its inputs and decision (for lists and statuses).
    pub fn summary(&self) -> Self {
        Self {
            inputs: None,
            decision: None,
            ..self.clone()
        }
    }

    /// Sets `applied` from the graph's newest applied generation.
    pub fn with_applied(mut self, applied_generation: Option<u64>) -> Self {
        self.applied = self
            .generation
            .map(|g| applied_generation.is_some_and(|a| a >= g));
        self
    }

    /// Why it failed: the error, else "no decision".
    pub fn failure(&self) -> String {
        self.error
            .clone()
            .unwrap_or_else(|| "the strategy returned no decision".to_owned())
    }

    /// Logs the record at info (warn when it failed or fell back).
    pub fn log(&self) {
        let trigger = self.trigger.as_deref().unwrap_or("");
        match self.outcome {
            Outcome::Ok => tracing::info!(
                graph = %self.graph, kind = %self.kind, trigger, strategy = %self.strategy,
                duration_ms = self.duration_ms, "decision made"
            ),
            outcome => tracing::warn!(
                graph = %self.graph, kind = %self.kind, trigger, strategy = %self.strategy,
                %outcome, error = ?self.error, fallback = ?self.fallback_reason,
                "decision failed or fell back"
            ),
        }
    }
}

/// A strategy's answer: its record and, when it decided, the typed decision.
#[derive(Debug, Clone)]
pub struct Decided<T> {
    pub record: DecisionRecord,
    pub decision: Option<T>,
}

impl<T: Serialize> Decided<T> {
    /// The record with the decision in it as JSON.
    pub fn to_record(&self) -> DecisionRecord {
        let mut record = self.record.clone();
        record.decision = self
            .decision
            .as_ref()
            .and_then(|d| serde_json::to_value(d).ok());
        record
    }
}

/// Decisions that carry human-readable reasons.
pub trait Reasons {
    fn reasons(&self) -> Vec<String>;
}

impl Reasons for PlacementDecision {
    fn reasons(&self) -> Vec<String> {
        self.reasons.iter().map(|r| r.to_string()).collect()
    }
}

impl Reasons for ScalingDecision {
    fn reasons(&self) -> Vec<String> {
        self.reasons
            .iter()
            .map(|r| r.to_string())
            .chain(
                self.replicas
                    .iter()
                    .map(|c| format!("{}: {} replicas ({})", c.service, c.replicas, c.reason)),
            )
            .collect()
    }
}

impl Reasons for MigrationDecision {
    fn reasons(&self) -> Vec<String> {
        self.reasons
            .iter()
            .map(|r| r.to_string())
            .chain(
                self.moves
                    .iter()
                    .map(|m| format!("move {} {} -> {}: {}", m.service, m.from, m.to, m.reason)),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_outcomes_round_trip_through_text() {
        for kind in [
            DecisionKind::Placement,
            DecisionKind::Scaling,
            DecisionKind::Migration,
        ] {
            assert_eq!(kind.as_str().parse::<DecisionKind>(), Ok(kind));
        }
        assert_eq!("fallback".parse::<Outcome>(), Ok(Outcome::Fallback));
        assert!("maybe".parse::<Outcome>().is_err());
    }

    #[test]
    fn a_summary_drops_inputs_and_decision_and_applied_follows_the_generation() {
        let mut record = DecisionRecord::new(DecisionKind::Placement, 5);
        record.inputs = Some(serde_json::json!({"clusters": 3}));
        record.decision = Some(serde_json::json!({"placement": []}));
        record.generation = Some(7);
        let summary = record.summary();
        assert!(summary.inputs.is_none() && summary.decision.is_none());
        assert_eq!(record.clone().with_applied(Some(6)).applied, Some(false));
        assert_eq!(record.clone().with_applied(Some(9)).applied, Some(true));
        assert_eq!(record.with_applied(None).applied, Some(false));
        let json = serde_json::to_value(&summary).expect("json");
        assert!(
            json.get("inputs").is_none() && json.get("id").is_none(),
            "{json}"
        );
    }
}
