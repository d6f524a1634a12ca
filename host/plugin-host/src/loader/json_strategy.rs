//! A strategy called with JSON (a C plugin, or a plugin in its own process) as the host's
//! strategy objects: the request sent as JSON, the decision read back leniently (top-level
//! members left out take their empty value), so that the guard and the dispatcher treat every
//! plugin alike.

use crate::registry::Instance;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RResult;
use serde::de::DeserializeOwned;
use serde::Serialize;
use smo_plugin_api::strategy::{
    MigrationStrategy, MigrationStrategy_TO, PlacementStrategy, PlacementStrategy_TO,
    ScalingStrategy, ScalingStrategy_TO,
};
use smo_plugin_api::{
    MigrationDecision, MigrationRequest, PlacementDecision, PlacementRequest, PluginError,
    ScalingDecision, ScalingRequest,
};
use std::sync::Arc;

/// A plugin whose strategies are called with JSON.
pub trait JsonCalls: Send + Sync + 'static {
    /// The plugin's name.
    fn name(&self) -> &str;
    /// Whether it offers a strategy `name` of kind `kind` ("placement", ...).
    fn offers(&self, kind: &str, name: &str) -> bool;
    /// The decision of strategy `strategy` of `kind` with `params` on `request`, as JSON text.
    fn call(
        &self,
        kind: &str,
        strategy: &str,
        params: &str,
        request: &str,
    ) -> Result<String, PluginError>;
}

/// The strategy `strategy` of `kind` (1 placement, 2 scaling, 3 migration) of `plugin`, with
/// `params` (a JSON object; empty means `{}`).
pub fn instance(
    plugin: &Arc<dyn JsonCalls>,
    kind: u8,
    strategy: &str,
    params: &str,
) -> Result<Instance, PluginError> {
    let kind_name = match kind {
        1 => "placement",
        2 => "scaling",
        _ => "migration",
    };
    if !plugin.offers(kind_name, strategy) {
        return Err(PluginError::bad_parameters(format!(
            "plugin `{}` offers no {kind_name} strategy named `{strategy}`",
            plugin.name()
        )));
    }
    let params = if params.trim().is_empty() {
        "{}"
    } else {
        params
    };
    if let Err(error) = serde_json::from_str::<serde_json::Value>(params) {
        return Err(PluginError::bad_parameters(format!(
            "the parameters of {}/{strategy} are not JSON: {error}",
            plugin.name()
        )));
    }
    let object = JsonStrategy {
        plugin: Arc::clone(plugin),
        kind: kind_name,
        strategy: strategy.to_owned(),
        params: params.to_owned(),
    };
    Ok(match kind {
        1 => Instance::Placement(Arc::new(PlacementStrategy_TO::from_value(
            object, TD_Opaque,
        ))),
        2 => Instance::Scaling(Arc::new(ScalingStrategy_TO::from_value(object, TD_Opaque))),
        _ => Instance::Migration(Arc::new(MigrationStrategy_TO::from_value(
            object, TD_Opaque,
        ))),
    })
}

/// One strategy of a JSON-called plugin with its parameters.
struct JsonStrategy {
    plugin: Arc<dyn JsonCalls>,
    kind: &'static str,
    strategy: String,
    params: String,
}

impl JsonStrategy {
    fn decide<Request: Serialize, Decision: Serialize + DeserializeOwned + Default>(
        &self,
        request: &Request,
    ) -> RResult<Decision, PluginError> {
        let run = || {
            let request = serde_json::to_string(request).map_err(|e| {
                PluginError::internal(format!("the request could not be written as JSON: {e}"))
            })?;
            let answer = self
                .plugin
                .call(self.kind, &self.strategy, &self.params, &request)?;
            decode(&answer, self.kind)
        };
        run().into()
    }
}

/// Reads a decision the plugin returned: a JSON object whose top-level members, when left out,
/// take their value in `Decision::default()`; anything else is an internal error of the plugin,
/// saying where it went wrong.
pub fn decode<Decision: Serialize + DeserializeOwned + Default>(
    text: &str,
    kind: &str,
) -> Result<Decision, PluginError> {
    let excerpt = || super::truncate(text.to_owned(), 120);
    let given: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        PluginError::internal(format!(
            "returned a {kind} decision that is not JSON ({e}): {}",
            excerpt()
        ))
    })?;
    let serde_json::Value::Object(members) = given else {
        return Err(PluginError::internal(format!(
            "returned a {kind} decision that is not a JSON object: {}",
            excerpt()
        )));
    };
    let mut whole = serde_json::to_value(Decision::default())
        .map_err(|e| PluginError::internal(e.to_string()))?;
    if let serde_json::Value::Object(defaults) = &mut whole {
        defaults.extend(members);
    }
    serde_path_to_error::deserialize(whole).map_err(|e| {
        PluginError::internal(format!(
            "returned a {kind} decision that the plugin API does not allow: {}: {}",
            e.path(),
            e.inner()
        ))
    })
}

impl PlacementStrategy for JsonStrategy {
    fn place(&self, request: &PlacementRequest) -> RResult<PlacementDecision, PluginError> {
        self.decide(request)
    }

    fn replace(&self, request: &PlacementRequest) -> RResult<PlacementDecision, PluginError> {
        self.decide(request)
    }
}

impl ScalingStrategy for JsonStrategy {
    fn scale(&self, request: &ScalingRequest) -> RResult<ScalingDecision, PluginError> {
        self.decide(request)
    }
}

impl MigrationStrategy for JsonStrategy {
    fn plan(&self, request: &MigrationRequest) -> RResult<MigrationDecision, PluginError> {
        self.decide(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_may_leave_out_its_optional_members() {
        let decision: PlacementDecision = decode(
            r#"{"placement":{"assignments":[{"service":"a","cluster":"edge-1","replicas":2}]}}"#,
            "placement",
        )
        .expect("decodes");
        assert_eq!(decision.placement.cluster_of("a"), Some("edge-1"));
        assert!(decision.reasons.is_empty() && decision.objective.is_none());
    }

    #[test]
    fn a_bad_decision_says_where() {
        let not_json =
            decode::<PlacementDecision>(r#"{"placement": ["#, "placement").expect_err("not JSON");
        assert!(not_json.message.contains("not JSON"), "{not_json}");
        let wrong = decode::<ScalingDecision>(
            r#"{"replicas":[{"service":"a","replicas":"two","reason":""}]}"#,
            "scaling",
        )
        .expect_err("a string for a number");
        assert!(wrong.message.contains("replicas[0].replicas"), "{wrong}");
        let array = decode::<MigrationDecision>("[]", "migration").expect_err("not an object");
        assert!(array.message.contains("not a JSON object"), "{array}");
    }
}
