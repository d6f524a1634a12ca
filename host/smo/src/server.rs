//! The API's HTTP/1 server: hyper with a header-read timeout (which also ends idle kept-alive
//! connections), a deadline per request (408), and a cap on open connections; graceful on stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::api::error::ApiError;
use crate::config::HttpSettings;

/// How long requests in flight may take to finish once the server stops accepting.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop` completes, within `settings`' limits.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &HttpSettings,
    stop: impl Future<Output = ()>,
) {
    let request_timeout = Duration::from_millis(settings.request_timeout_ms);
    let router = router.layer(axum::middleware::from_fn(move |request, next| {
        deadline(request_timeout, request, next)
    }));
    let header_timeout = Duration::from_millis(settings.header_read_timeout_ms);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    let mut refused = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    %peer,
                    refused,
                    limit = settings.max_connections,
                    "connection refused: http.max_connections are open"
                );
            }
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("requests still in flight after {} s; stopping anyway", DRAIN.as_secs());
        }
    }
}

/// A request that takes longer than `limit` (a slow body, a stuck handler) is answered 408.
async fn deadline(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} ms (http.request_timeout_ms)",
                limit.as_millis()
            ),
        )
        .into_response(),
    }
}
