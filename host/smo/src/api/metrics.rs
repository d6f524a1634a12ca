//! `GET /metrics`: smo's own metrics in the Prometheus text format (see `crate::metrics`), on
//! the API to a `read` token, and on a listener of their own without one when `[metrics] listen`.

use super::error::ApiError;
use super::AppState;
use crate::config::HttpSettings;
use crate::metrics::{Metrics, CONTENT_TYPE};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// `GET /metrics` on the API.
pub async fn scrape(State(state): State<AppState>) -> Response {
    render(Arc::clone(&state.metrics)).await
}

/// The exposition, encoded off the async workers (it reads the store).
async fn render(metrics: Arc<Metrics>) -> Response {
    match tokio::task::spawn_blocking(move || metrics.encode()).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(error)) => ApiError::internal(error.to_string()).into_response(),
        Err(error) => {
            ApiError::internal(format!("the metrics task failed: {error}")).into_response()
        }
    }
}

/// The router of the metrics' own listener: `GET /metrics` and nothing else.
pub fn own_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(move || render(Arc::clone(&metrics))))
        .fallback(super::error::not_found)
        .method_not_allowed_fallback(super::error::method_not_allowed)
}

/// Binds `addr` and serves [`own_router`] there, within the API's `[http]` limits, for the
/// rest of the process's life; returns the address bound (`addr` may ask for port 0).
pub async fn spawn_listener(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    http: &HttpSettings,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        tracing::warn!(%bound, "the metrics listener is not on loopback: anyone who can reach it reads smo's metrics without a token");
    }
    let http = http.clone();
    tokio::spawn(async move {
        crate::server::serve(
            listener,
            own_router(metrics),
            &http,
            None,
            std::future::pending(),
        )
        .await;
    });
    tracing::info!(%bound, "serving /metrics without authentication");
    Ok(bound)
}
