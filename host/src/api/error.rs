//! The API's error body and its mapping from status codes and domain errors.
//! Every error is `{error, detail, field}`; `field` names the offending input when known.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// An API error.
#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub error: String,
    pub detail: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_string(),
            detail: detail.into(),
            field: None,
        }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

/// Unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// A JSON body that failed to parse: 400 (or 413 when too large), naming the field if serde did.
pub fn from_json_rejection(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    let status = rejection.status();
    let detail = rejection.body_text();
    let field = detail
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(path, _)| path.to_string())
        .filter(|p| !p.contains(' '));
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else {
        "bad_request"
    };
    let mut error = ApiError::new(status, code, detail);
    error.field = field;
    error
}
