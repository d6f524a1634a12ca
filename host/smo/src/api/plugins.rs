//! Handlers for plugins: list with load state and call counts, reload, and a direct
//! strategy call (`place`) that returns the decision record.

use super::error::{from_json_rejection, ApiError};
use super::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use smo_core::decision::DecisionRecord;
use smo_plugin_api::PlacementRequest;
use smo_plugin_host::StrategyName;
use std::sync::Arc;

/// `GET /healthz`
pub async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let status = state.dispatcher.registry().status();
    Json(serde_json::json!({
        "status": "ok",
        "generation": status.generation,
        "plugins": status.plugins.len(),
    }))
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceBody {
    /// The strategy's JSON parameters (default `{}`).
    #[serde(default)]
    pub params: Option<serde_json::Value>,
    pub request: PlacementRequest,
}

/// `POST /v1/strategies/{plugin}/{strategy}/place`: one placement decision, through the guard
/// (with the fallback to the default strategy), as a decision record with the decision in it.
pub async fn place(
    State(state): State<AppState>,
    Path((plugin, strategy)): Path<(String, String)>,
    body: Result<Json<PlaceBody>, JsonRejection>,
) -> Result<Json<DecisionRecord>, ApiError> {
    let Json(body) = body.map_err(from_json_rejection)?;
    let name = StrategyName::parse(&format!("{plugin}/{strategy}")).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_strategy", e.to_string()).with_field("strategy")
    })?;
    let params = body
        .params
        .map_or_else(|| "{}".to_string(), |p| p.to_string());
    let decided = state
        .dispatcher
        .place(Some(&name), &params, Arc::new(body.request))
        .await;
    Ok(Json(decided.to_record()))
}
