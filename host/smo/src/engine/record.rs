//! What made the engine ask for a decision ([`Cause`]), and how a dispatcher's answer becomes
//! the record the engine stores: the graph, the trigger and the inputs summary added.

use serde::Serialize;
use serde_json::{json, Value};
use smo_core::decision::{Decided, DecisionRecord};

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
    /// A migration for the ecosystem (`POST /v1/migrate`, or the ecosystem loop).
    Ecosystem,
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
            Cause::Ecosystem => "ecosystem",
        }
    }
}

/// The record of `decided`, a decision made for `graph` because of `trigger`, completed with
/// what the engine knows: the graph, the trigger, the inputs summary (the trigger goes in it
/// too, as stored rows have always had it) and the decision as JSON.
pub fn complete<T: Serialize>(
    graph: &str,
    decided: &Decided<T>,
    trigger: Cause,
    mut inputs: Value,
) -> DecisionRecord {
    if let Value::Object(map) = &mut inputs {
        map.insert("trigger".into(), json!(trigger.as_str()));
    }
    let mut record = decided.to_record();
    record.graph = graph.to_owned();
    record.trigger = Some(trigger.as_str().to_owned());
    record.inputs = Some(inputs);
    if record.strategy.is_empty() {
        record.strategy = record.requested.clone().unwrap_or_default();
    }
    if !record.duration_ms.is_finite() || record.duration_ms < 0.0 {
        record.duration_ms = 0.0;
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_core::decision::{DecisionKind, Outcome};

    fn decided(error: Option<&str>) -> Decided<Vec<u32>> {
        let mut record = DecisionRecord::new(DecisionKind::Scaling, 7);
        record.requested = Some("p/s".into());
        record.error = error.map(str::to_owned);
        if error.is_some() {
            record.outcome = Outcome::Error;
        }
        record.duration_ms = f64::NAN;
        Decided {
            record,
            decision: error.is_none().then(|| vec![3]),
        }
    }

    #[test]
    fn a_completed_record_names_graph_trigger_inputs_and_decision() {
        let record = complete(
            "g",
            &decided(None),
            Cause::ScalingLoop,
            json!({"cluster": "c"}),
        );
        assert_eq!(record.graph, "g");
        assert_eq!(record.trigger.as_deref(), Some("scaling_loop"));
        let inputs = record.inputs.expect("inputs");
        assert_eq!(inputs["cluster"], "c");
        assert_eq!(inputs["trigger"], "scaling_loop");
        assert_eq!(record.decision, Some(json!([3])));
        assert_eq!(
            record.strategy, "p/s",
            "the requested name when none decided"
        );
        assert_eq!(record.duration_ms, 0.0);
        let failed = complete("g", &decided(Some("boom")), Cause::Deploy, json!({}));
        assert_eq!(failed.outcome, Outcome::Error);
        assert_eq!(failed.decision, None);
    }
}
