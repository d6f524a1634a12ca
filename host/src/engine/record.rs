//! Decision records in and out of the store: a dispatcher record becomes a history row (what
//! was asked, who decided, how long, why, what it was given), and a row becomes the API's view.

use crate::plugins::dispatch::{DecisionRecord as Made, Kind};
use crate::store::{Decision, DecisionKind, DecisionRecord, Outcome};
use serde::Serialize;
use serde_json::{json, Value};

/// What made the engine ask for a decision (stored in the inputs summary as `trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A new graph.
    Deploy,
    /// A graph replaced by PUT.
    Update,
    /// `POST /v1/graphs/{name}/placement`.
    Replace,
    /// `POST /v1/graphs/{name}/start`.
    Start,
    /// `POST /v1/graphs/{name}/execute_strategy/{strategy}?apply=true`.
    ExecuteStrategy,
    /// A scaling strategy answered "infeasible, re-place".
    Infeasible,
    /// The daemon restarted and found a running graph with services not placed.
    Resume,
    /// A round of the scaling loop.
    ScalingLoop,
    /// An action of the offload loop (its state machine asked the migration strategy).
    OffloadLoop,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Deploy => "deploy",
            Cause::Update => "update",
            Cause::Replace => "replace",
            Cause::Start => "start",
            Cause::ExecuteStrategy => "execute_strategy",
            Cause::Infeasible => "infeasible",
            Cause::Resume => "resume",
            Cause::ScalingLoop => "scaling_loop",
            Cause::OffloadLoop => "offload_loop",
        }
    }
}

fn store_kind(kind: Kind) -> DecisionKind {
    match kind {
        Kind::Placement => DecisionKind::Placement,
        Kind::Scaling => DecisionKind::Scaling,
        Kind::Migration => DecisionKind::Migration,
    }
}

/// The history row of a decision made for `graph`, started at `started_at_ms`; `inputs` is
/// the summary of what the strategy was given (the trigger is added to it).
pub fn to_store<T: Serialize>(
    graph: &str,
    made: &Made<T>,
    started_at_ms: i64,
    trigger: Cause,
    mut inputs: Value,
) -> DecisionRecord {
    let outcome = if made.error.is_some() {
        Outcome::Error
    } else if made.fallback_reason.is_some() {
        Outcome::Fallback
    } else {
        Outcome::Ok
    };
    if let Value::Object(map) = &mut inputs {
        map.insert("trigger".into(), json!(trigger.as_str()));
    }
    let strategy = if made.strategy.is_empty() {
        made.requested.clone()
    } else {
        made.strategy.clone()
    };
    DecisionRecord {
        graph: graph.to_owned(),
        kind: store_kind(made.kind),
        strategy,
        plugin_version: made.plugin_version.clone().unwrap_or_default(),
        started_at_ms,
        duration_ms: if made.duration_ms.is_finite() {
            made.duration_ms.max(0.0)
        } else {
            0.0
        },
        outcome,
        reasons: made.reasons.clone(),
        inputs,
        output: json!({
            "requested": made.requested,
            "fallback_reason": made.fallback_reason,
            "error": made.error,
            "decision": made.decision,
        }),
    }
}

/// A decision as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionView {
    /// History id (absent for a decision that was not recorded, e.g. a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub graph: String,
    pub kind: DecisionKind,
    /// What asked for it: deploy, update, replace, start, execute_strategy, infeasible,
    /// resume, scaling_loop or offload_loop.
    pub trigger: Option<String>,
    /// The strategy the graph asked for.
    pub requested: Option<String>,
    /// The strategy that decided (the default after a fallback).
    pub strategy: String,
    pub plugin_version: Option<String>,
    pub started_at_ms: i64,
    pub duration_ms: f64,
    /// ok, fallback or error.
    pub outcome: Outcome,
    pub reasons: Vec<String>,
    /// Why the requested strategy was not used, if it was not.
    pub fallback_reason: Option<String>,
    /// Why no decision was made, if none was.
    pub error: Option<String>,
    /// The inputs summary (clusters with their free capacity and energy, loads, parameters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    /// The decision itself (placement, replicas or moves).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
    /// The generation of the desired state this decision committed; absent when it changed
    /// nothing (a failure, a dry run, replicas that stayed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Whether the backend took that generation (or a later one); absent without a generation
    /// or once the graph is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
}

impl DecisionView {
    /// The view of a history row; `detail` keeps the inputs and the decision.
    pub fn from_record(id: Option<i64>, record: &DecisionRecord, detail: bool) -> Self {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        let output = &record.output;
        Self {
            id,
            graph: record.graph.clone(),
            kind: record.kind,
            trigger: text(record.inputs.get("trigger")),
            requested: text(output.get("requested")),
            strategy: record.strategy.clone(),
            plugin_version: Some(record.plugin_version.clone()).filter(|v| !v.is_empty()),
            started_at_ms: record.started_at_ms,
            duration_ms: record.duration_ms,
            outcome: record.outcome,
            reasons: record.reasons.clone(),
            fallback_reason: text(output.get("fallback_reason")),
            error: text(output.get("error")),
            inputs: detail.then(|| record.inputs.clone()),
            decision: detail
                .then(|| output.get("decision").cloned())
                .flatten()
                .filter(|d| !d.is_null()),
            generation: None,
            applied: None,
        }
    }

    /// Sets `applied` from the graph's newest applied generation.
    pub fn with_applied(mut self, applied_generation: Option<u64>) -> Self {
        self.applied = self
            .generation
            .map(|g| applied_generation.is_some_and(|a| a >= g));
        self
    }

    /// The view of a stored decision.
    pub fn from_stored(decision: &Decision, detail: bool) -> Self {
        let mut view = Self::from_record(Some(decision.id), &decision.record, detail);
        view.generation = decision.generation;
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(error: Option<&str>, fallback: Option<&str>) -> Made<Vec<u32>> {
        Made {
            kind: Kind::Scaling,
            requested: "p/s".into(),
            strategy: "p/s".into(),
            plugin_version: error.is_none().then(|| "1.2.3".to_owned()),
            fallback_reason: fallback.map(str::to_owned),
            duration_ms: 1.5,
            error: error.map(str::to_owned),
            reasons: vec!["because".into()],
            decision: error.is_none().then(|| vec![3]),
        }
    }

    #[test]
    fn outcome_follows_error_and_fallback() {
        let ok = to_store("g", &made(None, None), 1, Cause::Deploy, json!({}));
        assert_eq!(ok.outcome, Outcome::Ok);
        let fb = to_store("g", &made(None, Some("x")), 1, Cause::Deploy, json!({}));
        assert_eq!(fb.outcome, Outcome::Fallback);
        let err = to_store("g", &made(Some("boom"), None), 1, Cause::Deploy, json!({}));
        assert_eq!(err.outcome, Outcome::Error);
        assert_eq!(err.plugin_version, "");
    }

    #[test]
    fn a_view_round_trips_the_record() {
        let record = to_store(
            "g",
            &made(Some("boom"), Some("first failed")),
            7,
            Cause::ScalingLoop,
            json!({"cluster": "c"}),
        );
        let view = DecisionView::from_record(Some(4), &record, false);
        assert_eq!(view.trigger.as_deref(), Some("scaling_loop"));
        assert_eq!(view.error.as_deref(), Some("boom"));
        assert_eq!(view.fallback_reason.as_deref(), Some("first failed"));
        assert_eq!(view.requested.as_deref(), Some("p/s"));
        assert_eq!(view.plugin_version, None);
        assert!(view.inputs.is_none());
        let detailed = DecisionView::from_record(Some(4), &record, true);
        assert_eq!(detailed.inputs.expect("inputs")["cluster"], "c");
    }
}
