//! Handlers for graphs: deploy (POST), update (PUT), list, status, delete, start/stop,
//! re-place now, `execute_strategy`, the offload loop, and the decision history.

use super::body;
use super::error::{from_query_rejection, ApiError};
use super::views::{ApplyAttempt, GraphSummary, GraphView, OffloadAnswer};
use super::AppState;
use crate::engine::lifecycle::{Deleted, DeployMode};
use crate::engine::record::Cause;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use smo_core::decision::DecisionRecord;
use smo_plugin_host::StrategyName;

/// `201 Created` with a `Location` header and the graph's status.
fn created(view: GraphView) -> Response {
    let location = format!("/v1/graphs/{}", view.name);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `POST /v1/graphs`: validate, place, store; 201 with the status, 409 if the name exists or
/// no placement could be made (nothing stored), 422 with every descriptor error, also a
/// strategy named in `hdaGraphIntent` that no plugin offers for its kind (a plugin file dropped
/// since the last reload is found and loaded first).
pub async fn deploy(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let spec = body::descriptor(&headers, body).await?;
    body::check_strategies(state.engine.dispatcher.registry(), &spec).await?;
    let name = spec.name.clone();
    state.engine.deploy(spec, DeployMode::Create).await?;
    Ok(created(state.engine.status(&name).await?.into()))
}

/// `PUT /v1/graphs/{name}`: create (201) or update (200) the graph; the descriptor's
/// `hdaGraph.id` must be `name`, and the strategies it names must exist (as for `POST`).
pub async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let spec = body::descriptor(&headers, body).await?;
    if spec.name != name {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!(
                "the descriptor's id {:?} differs from the graph in the path, {name:?}",
                spec.name
            ),
        )
        .with_field("hdaGraph.id"));
    }
    body::check_strategies(state.engine.dispatcher.registry(), &spec).await?;
    let deployed = state.engine.deploy(spec, DeployMode::Upsert).await?;
    let view = GraphView::from(state.engine.status(&name).await?);
    Ok(if deployed.created {
        created(view)
    } else {
        Json(view).into_response()
    })
}

/// The list body.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GraphList {
    pub graphs: Vec<GraphSummary>,
    /// When more graphs follow: the `after` of the next page (absent on the last page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Query of the graph list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphsQuery {
    /// At most this many graphs, by name (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Only the graphs whose names sort after this one (the previous page's `next`).
    pub after: Option<String>,
}

/// `GET /v1/graphs?limit=&after=`: a page of the graphs, by name, each with its status, phase,
/// services and placement; `next` is the cursor of the following page.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<GraphsQuery>, QueryRejection>,
) -> Result<Json<GraphList>, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    let limit = match query.limit {
        None => 100,
        limit => page_limit(limit)?,
    };
    let (graphs, next) = state.engine.list_page(query.after.as_deref(), limit)?;
    Ok(Json(GraphList {
        graphs: graphs.into_iter().map(Into::into).collect(),
        next,
    }))
}

/// `GET /v1/graphs/{name}`: descriptor summary, status, placement, strategies, last
/// decisions, per-service status.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<GraphView>, ApiError> {
    Ok(Json(state.engine.status(&name).await?.into()))
}

/// `GET /v1/graphs/{name}/offload`: the offload loop's state, policy, last observation,
/// recent transitions and last action (`{"enabled": false}` without an `offloadPolicy`).
pub async fn offload(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<OffloadAnswer>, ApiError> {
    Ok(Json(state.engine.offload_status(&name).await?.into()))
}

/// Query of `DELETE /v1/graphs/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Remove the graph's rows without withdrawing it from the backend (recorded).
    #[serde(default)]
    pub force: bool,
}

/// Answer of a deletion still waiting for its withdrawal.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Withdrawing {
    pub name: String,
    /// Always `deleting`.
    #[schemars(extend("const" = "deleting"))]
    pub status: &'static str,
    /// The withdrawal's error, if it failed (it is retried).
    pub error: Option<String>,
    pub detail: String,
}

/// `DELETE /v1/graphs/{name}?force=`: withdraws the graph from the backend, then removes it
/// (204); 202 with `status: deleting` when the withdrawal failed or is still running (the
/// applier retries it, the graph goes once it succeeds); `force=true` removes it at once.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    Ok(match state.engine.delete(&name, query.force).await? {
        Deleted::Removed => StatusCode::NO_CONTENT.into_response(),
        Deleted::Withdrawing { error } => (
            StatusCode::ACCEPTED,
            Json(Withdrawing {
                detail: format!(
                    "graph {name:?} is being withdrawn from the backend and goes once that \
                     succeeds; DELETE /v1/graphs/{name}?force=true removes it without a \
                     withdrawal"
                ),
                name,
                status: "deleting",
                error,
            }),
        )
            .into_response(),
    })
}

/// `POST /v1/graphs/{name}/start`: re-place and run a stopped graph; 409 if running.
pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<GraphView>, ApiError> {
    state.engine.start(&name).await?;
    Ok(Json(state.engine.status(&name).await?.into()))
}

/// `POST /v1/graphs/{name}/stop`: 409 if already stopped.
pub async fn stop(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<GraphView>, ApiError> {
    state.engine.stop(&name).await?;
    Ok(Json(state.engine.status(&name).await?.into()))
}

/// `POST /v1/graphs/{name}/placement`: re-place now with the graph's strategy; answers the
/// decision record (409 `placement_failed` with it when no placement could be made; the
/// previous placement stays).
pub async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DecisionRecord>, ApiError> {
    Ok(Json(
        state
            .engine
            .replace(&name, Cause::Replace, None, None)
            .await?,
    ))
}

/// Query of `execute_strategy`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteQuery {
    /// Apply the placement (the graph must be running); default: a dry run.
    #[serde(default)]
    pub apply: bool,
    /// Place from scratch instead of from the current placement.
    #[serde(default)]
    pub initial: bool,
}

/// Answer of `execute_strategy`: whether the placement was applied, and the decision.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Executed {
    pub applied: bool,
    pub decision: DecisionRecord,
}

/// `plugin/strategy` (sent as `plugin%2Fstrategy`) or `plugin:strategy`.
fn strategy_name(text: &str) -> Result<StrategyName, ApiError> {
    let normalised = if text.contains('/') {
        text.to_owned()
    } else {
        text.replacen(':', "/", 1)
    };
    StrategyName::parse(&normalised).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_strategy",
            format!("{e} (write plugin%2Fstrategy or plugin:strategy)"),
        )
        .with_field("strategy")
    })
}

/// `POST /v1/graphs/{name}/execute_strategy/{strategy}?apply=&initial=`: runs the placement
/// strategy with the JSON object of the body as its parameters (an empty body = `{}`), and
/// answers `{applied, decision}`.
pub async fn execute_strategy(
    State(state): State<AppState>,
    Path((name, strategy)): Path<(String, String)>,
    query: Result<Query<ExecuteQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Executed>, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    let strategy = strategy_name(&strategy)?;
    let body = body.map_err(super::error::from_bytes_rejection)?;
    let params = if body.iter().all(u8::is_ascii_whitespace) {
        "{}".to_owned()
    } else {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the strategy parameters must be a JSON object (Content-Type: application/json)",
            )
            .with_field("content-type"));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value @ Value::Object(_)) => value.to_string(),
            Ok(_) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_request",
                    "the strategy parameters must be a JSON object",
                )
                .with_field("params"))
            }
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("invalid JSON: {e}"),
                )
                .with_field("params"))
            }
        }
    };
    let executed = state
        .engine
        .execute_strategy(&name, strategy, params, query.apply, query.initial)
        .await?;
    Ok(Json(Executed {
        applied: executed.applied,
        decision: executed.decision,
    }))
}

/// Query of the decision history.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsQuery {
    pub graph: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// The history body.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DecisionList {
    pub decisions: Vec<DecisionRecord>,
}

/// Query of the apply attempts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesQuery {
    pub graph: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// The attempts body.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ApplyList {
    pub applies: Vec<ApplyAttempt>,
}

/// Most rows one list request may ask for (`limit`), as the OpenAPI document says.
pub const MAX_PAGE: usize = 1000;

/// `limit` of a list request: 50 when not given; more than [`MAX_PAGE`] is refused, not capped.
fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(50),
        Some(limit) if limit <= MAX_PAGE => Ok(limit),
        Some(limit) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("limit: at most {MAX_PAGE}, got {limit}"),
        )
        .with_field("limit")),
    }
}

/// `GET /v1/applies?graph=&limit=`: the applier's attempts (apply, withdraw, forced delete)
/// with their outcome and error, newest first; a deleted graph's too.
pub async fn applies(
    State(state): State<AppState>,
    query: Result<Query<AppliesQuery>, QueryRejection>,
) -> Result<Json<ApplyList>, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    let limit = page_limit(query.limit)?;
    Ok(Json(ApplyList {
        applies: state
            .engine
            .store()
            .list_apply_attempts(query.graph.as_deref(), limit)
            .map_err(crate::engine::error::EngineError::from)?
            .into_iter()
            .map(Into::into)
            .collect(),
    }))
}

/// `GET /v1/decisions?graph=&limit=`: the decision history with inputs and outputs, newest
/// first (also the decisions of refused deploys).
pub async fn decisions(
    State(state): State<AppState>,
    query: Result<Query<DecisionsQuery>, QueryRejection>,
) -> Result<Json<DecisionList>, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    let limit = page_limit(query.limit)?;
    Ok(Json(DecisionList {
        decisions: state.engine.decisions(query.graph.as_deref(), limit)?,
    }))
}
