//! The REST API (axum) under `/v1`: plugins, strategy calls, health.
//! Errors are JSON objects `{error, detail, field}` with the matching status code.

pub mod error;
pub mod plugins;

use crate::plugins::Dispatcher;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub dispatcher: Arc<Dispatcher>,
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(plugins::health))
        .route("/v1/plugins", get(plugins::list))
        .route("/v1/plugins/reload", post(plugins::reload))
        .route(
            "/v1/strategies/{plugin}/{strategy}/place",
            post(plugins::place),
        )
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
