//! The API's error body and its mapping from status codes and domain errors.
//! Every error is `{error, detail, field}`; `field` names the offending input when known.
//!
//! Codes: 400 `bad_request` (unreadable input), 401 `unauthorized`, 403 `forbidden`,
//! 404 `not_found`, 405 `method_not_allowed`, 409 `conflict` / `already_exists` /
//! `placement_failed` / `reload_failed`, 413 `body_too_large`, 415 `unsupported_media_type`,
//! 422 `bad_request` (well-formed JSON of the wrong shape) / `invalid_descriptor` /
//! `invalid_value`, 500 `internal`. Some errors carry more members (e.g. `errors`, `decision`).

use crate::engine::error::EngineError;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};

/// An API error.
#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub error: String,
    pub detail: String,
    pub field: Option<String>,
    /// Further members of the body (e.g. `errors` of an invalid descriptor).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_string(),
            detail: detail.into(),
            field: None,
            extra: Map::new(),
        }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// Adds the member `key` to the body.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extra.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }
    /// 500 with a detail for the operator (logged).
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let detail = error.to_string();
        match error {
            EngineError::GraphNotFound(name) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", detail).with("graph", name)
            }
            EngineError::ClusterNotFound(name) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", detail).with("cluster", name)
            }
            EngineError::WorkloadNotFound(name) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", detail).with("workload", name)
            }
            EngineError::GraphExists(_) | EngineError::ClusterExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", detail).with_field("name")
            }
            EngineError::Conflict(_) | EngineError::Stale(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", detail)
            }
            EngineError::Invalid { field, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message)
                    .with_field(field)
            }
            EngineError::PlacementFailed { decision, .. } => {
                ApiError::new(StatusCode::CONFLICT, "placement_failed", detail)
                    .with("decision", decision)
            }
            EngineError::Backend(e) if e.retryable() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "backend_unavailable",
                detail,
            ),
            EngineError::Backend(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "backend_refused", detail)
            }
            EngineError::Store(e) => ApiError::internal(e.to_string()),
        }
    }
}

/// Unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// A known path with a method it does not take.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method (see GET /v1/openapi.json)",
    )
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_request",
    }
}

/// A JSON body that failed to parse: 400/422 (413 when too large, 415 without a JSON content
/// type), naming the field if serde did.
pub fn from_json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let detail = rejection.body_text();
    let field = detail
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(path, _)| path.to_string())
        .filter(|p| !p.contains(' '));
    let mut error = ApiError::new(status, code_for(status), detail);
    error.field = field;
    error
}

/// A raw body that could not be read (413 when too large).
pub fn from_bytes_rejection(rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    ApiError::new(status, code_for(status), rejection.body_text())
}

/// A query string of the wrong shape: 400.
pub fn from_query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        rejection.body_text(),
    )
    .with_field("query")
}

/// A typed JSON body, or the JSON error for why it could not be read.
pub fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(from_json_rejection)
}
