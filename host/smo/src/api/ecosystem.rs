//! The ecosystem endpoints: `POST /v1/dependencies` (a workload's declaration), `GET
//! /v1/ecosystem` (the map, JSON or DOT), `POST /v1/migrate` (moves that raise a workload's
//! score) and `GET /v1/schemas/dependencies` (the declaration's JSON Schema).

use super::body::is_json;
use super::error::{from_bytes_rejection, from_query_rejection, ApiError};
use super::wire::{json_object, JsonObject};
use super::AppState;
use crate::engine::ecosystem::{to_dot, EcosystemView, Registered, WorkloadDetail};
use crate::engine::ecosystem_migrate::MigrationView;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use smo_core::ecosystem::declaration;

/// The JSON Schema of a declaration, as checked into `schemas/`.
pub const DEPENDENCIES_SCHEMA: &str = include_str!("../../../../schemas/dependencies.schema.json");

/// `GET /v1/schemas/dependencies`
pub async fn schema() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        DEPENDENCIES_SCHEMA,
    )
}

/// Runs `work` (store reads, the map brought up to date) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::engine::error::EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// The declaration of a request body: JSON or YAML, checked whole.
fn read_declaration(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<declaration::Declaration, ApiError> {
    let json = is_json(headers, "a declaration")?;
    let body = body.map_err(from_bytes_rejection)?;
    let value: Value = if json {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("not JSON: {e}"),
            )
        })?
    } else {
        serde_norway::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("not YAML: {e}"),
            )
        })?
    };
    declaration::from_value(&value).map_err(|errors| {
        let first = errors.0.first().map(|e| e.path.clone()).unwrap_or_default();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_declaration",
            errors.to_string(),
        )
        .with_field(first)
        .with("errors", &errors.0)
    })
}

/// `POST /v1/dependencies`: registers (201) or replaces (200) a workload's declaration; the
/// answer says whether it runs and, if so, its score.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let declaration = read_declaration(&headers, body)?;
    let engine = std::sync::Arc::clone(&state.engine);
    let registered: Registered = blocking(move || engine.register_declaration(declaration)).await?;
    let status = if registered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(registered)).into_response())
}

/// Query of `GET /v1/ecosystem`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcosystemQuery {
    /// Only this graph's workloads.
    pub graph: Option<String>,
    /// Only the workloads on this cluster.
    pub cluster: Option<String>,
    /// `json` (default) or `dot` (Graphviz).
    pub format: Option<String>,
}

/// `GET /v1/ecosystem?graph=&cluster=&format=json|dot`: the workloads with their scores, the
/// dependency edges and the unmet requirements with why.
pub async fn map(
    State(state): State<AppState>,
    query: Result<Query<EcosystemQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    let dot = match query.format.as_deref() {
        None | Some("json") => false,
        Some("dot") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                format!("format: `json` or `dot`, got `{other}`"),
            )
            .with_field("format"))
        }
    };
    let engine = std::sync::Arc::clone(&state.engine);
    let view: EcosystemView =
        blocking(move || engine.ecosystem_view(query.graph.as_deref(), query.cluster.as_deref()))
            .await?;
    Ok(if dot {
        (
            [(header::CONTENT_TYPE, "text/vnd.graphviz; charset=utf-8")],
            to_dot(&view),
        )
            .into_response()
    } else {
        Json(view).into_response()
    })
}

/// Body of `POST /v1/migrate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateBody {
    /// The workload, `<graph>/<service>`.
    #[schemars(length(min = 3))]
    pub workload: String,
}

/// Query of `POST /v1/migrate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateQuery {
    /// Commit the moves (default: a dry run).
    #[serde(default)]
    pub apply: bool,
}

/// `POST /v1/migrate?apply=`: asks the ecosystem migration strategy for moves that raise the
/// workload's score (and its dependents'), offered with their cost; a dry run unless `apply`.
pub async fn migrate(
    State(state): State<AppState>,
    query: Result<Query<MigrateQuery>, QueryRejection>,
    body: JsonObject,
) -> Result<Json<MigrationView>, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    let body: MigrateBody = json_object(body)?;
    Ok(Json(
        state
            .engine
            .migrate_workload(&body.workload, query.apply)
            .await?,
    ))
}

/// Query of `GET /v1/ecosystem/{graph}/{service}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadQuery {
    /// A cluster: also say what moving the workload there would break.
    pub move_to: Option<String>,
}

/// `GET /v1/ecosystem/{graph}/{service}?move_to=`: what the workload depends on, what depends
/// on it, what of its requirements is unmet and why, and what a move would break.
pub async fn workload(
    State(state): State<AppState>,
    Path((graph, service)): Path<(String, String)>,
    query: Result<Query<WorkloadQuery>, QueryRejection>,
) -> Result<Json<WorkloadDetail>, ApiError> {
    let Query(query) = query.map_err(from_query_rejection)?;
    let engine = std::sync::Arc::clone(&state.engine);
    let detail = blocking(move || {
        engine.workload_detail(&format!("{graph}/{service}"), query.move_to.as_deref())
    })
    .await?;
    Ok(Json(detail))
}
