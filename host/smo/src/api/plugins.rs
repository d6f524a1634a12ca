//! Handlers for plugins: list with load state and call counts, reload, and a direct
//! strategy call (`place`) that returns the decision record.

use super::error::ApiError;
use super::wire::{self, json_object, JsonObject, PlacementRequest};
use super::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use smo_core::decision::DecisionRecord;
use smo_plugin_host::StrategyName;
use std::sync::Arc;

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// Always `ok`.
    #[schemars(extend("const" = "ok"))]
    pub status: &'static str,
    /// The plugin registry's generation (grows with each reload, and when a deploy adds a plugin).
    pub generation: u64,
    /// How many plugins are loaded.
    pub plugins: usize,
}

/// `GET /healthz`
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let status = state.dispatcher.registry().status();
    Json(Health {
        status: "ok",
        generation: status.generation,
        plugins: status.plugins.len(),
    })
}

/// `GET /v1/plugins`
pub async fn list(
    State(state): State<AppState>,
) -> Json<smo_plugin_host::registry::RegistryStatus> {
    Json(state.dispatcher.registry().status())
}

/// `POST /v1/plugins/reload`: 200 with what changed and what was refused (`failed`, `kept`),
/// or 409 with why nothing could change (too many images mapped, an unreadable directory).
pub async fn reload(
    State(state): State<AppState>,
) -> Result<Json<smo_plugin_host::ReloadReport>, ApiError> {
    state
        .dispatcher
        .registry()
        .reload()
        .await
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "reload_failed", e.to_string()))
}

/// Body of a direct placement call.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceBody {
    /// The strategy's JSON parameters (`null` or not given: `{}`).
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    /// The input of the placement strategy.
    #[serde(deserialize_with = "wire::object")]
    pub request: PlacementRequest,
}

/// `POST /v1/strategies/{plugin}/{strategy}/place`: one placement decision, through the guard
/// (with the fallback to the default strategy), as a decision record with the decision in it.
pub async fn place(
    State(state): State<AppState>,
    Path((plugin, strategy)): Path<(String, String)>,
    body: JsonObject,
) -> Result<Json<DecisionRecord>, ApiError> {
    let body: PlaceBody = json_object(body)?;
    let name = StrategyName::parse(&format!("{plugin}/{strategy}")).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_strategy", e.to_string()).with_field("strategy")
    })?;
    let params = Value::Object(body.params.unwrap_or_default()).to_string();
    let request = smo_plugin_api::PlacementRequest::from(body.request);
    let decided = state
        .dispatcher
        .place(Some(&name), &params, Arc::new(request))
        .await;
    Ok(Json(decided.to_record()))
}
