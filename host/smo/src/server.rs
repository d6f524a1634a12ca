//! The API's HTTP/1 server, over TLS when `[tls]` is set: hyper with a header-read timeout (which
//! also bounds the TLS handshake and ends idle kept-alive connections), a deadline per request
//! (408), and a cap on open connections; graceful on stop.

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
use hyper_util::server::graceful::Watcher;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::api::error::ApiError;
use crate::config::HttpSettings;
use crate::tls::TlsReloader;

/// How long requests in flight may take to finish once the server stops accepting.
const DRAIN: Duration = Duration::from_secs(10);

/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Serves `router` on `listener` until `stop` completes, within `settings`' limits; over TLS
/// with the certificate `tls` holds when each connection is accepted, when given.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &HttpSettings,
    tls: Option<Arc<TlsReloader>>,
    stop: impl Future<Output = ()>,
) {
    let request_timeout = Duration::from_millis(settings.request_timeout_ms);
    let router = router.layer(axum::middleware::from_fn(move |request, next| {
        deadline(request_timeout, request, next)
    }));
    let header_timeout = Duration::from_millis(settings.header_read_timeout_ms);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = GracefulShutdown::new();
    // Handshakes still running when the server stops are abandoned, not drained.
    let (stopping, stopped) = watch::channel(false);
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
        let connection = Connection {
            router: router.clone(),
            header_timeout,
            watcher: graceful.watcher(),
            peer,
        };
        match &tls {
            None => {
                tokio::spawn(async move {
                    connection.serve(stream).await;
                    drop(slot);
                });
            }
            Some(tls) => {
                let acceptor = tls.acceptor();
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    connection.serve_tls(acceptor, stream, stopped).await;
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    stopping.send_replace(true);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("requests still in flight after {} s; stopping anyway", DRAIN.as_secs());
        }
    }
}

/// One accepted connection, before its protocol is known.
struct Connection {
    router: Router,
    header_timeout: Duration,
    watcher: Watcher,
    peer: std::net::SocketAddr,
}

impl Connection {
    /// Serves HTTP/1 on `io` until the client leaves or the server has drained.
    async fn serve<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = TowerToHyperService::new(self.router);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .keep_alive(true);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(peer = %self.peer, %error, "connection ended");
        }
    }

    /// The TLS handshake within the header-read timeout (abandoned when the server stops),
    /// then HTTP/1 over it. A client speaking plain HTTP gets a 400 saying to use https://; a
    /// failed handshake is logged at debug.
    async fn serve_tls(
        self,
        acceptor: tokio_rustls::TlsAcceptor,
        stream: TcpStream,
        mut stopped: watch::Receiver<bool>,
    ) {
        let peer = self.peer;
        let handshake = async {
            let mut first = [0u8; 1];
            if stream.peek(&mut first).await? == 0 {
                return Ok(Handshake::Closed);
            }
            if first[0] != TLS_HANDSHAKE_RECORD {
                return Ok(Handshake::PlainHttp(stream));
            }
            acceptor
                .accept(stream)
                .await
                .map(|tls| Handshake::Done(Box::new(tls)))
        };
        let handshake = tokio::select! {
            handshake = tokio::time::timeout(self.header_timeout, handshake) => handshake,
            _ = stopped.wait_for(|stopped| *stopped) => return,
        };
        match handshake {
            Ok(Ok(Handshake::Done(tls))) => self.serve(tls).await,
            Ok(Ok(Handshake::PlainHttp(plain))) => refuse_plain_http(plain, peer).await,
            Ok(Ok(Handshake::Closed)) => tracing::debug!(%peer, "closed before the TLS handshake"),
            Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
            Err(_) => tracing::debug!(
                %peer,
                timeout_ms = self.header_timeout.as_millis() as u64,
                "TLS handshake timed out (http.header_read_timeout_ms)"
            ),
        }
    }
}

/// How a TLS connection's start ended.
enum Handshake {
    Done(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    PlainHttp(TcpStream),
    Closed,
}

/// Answers a plain-HTTP request on the HTTPS port with 400 and closes the connection.
async fn refuse_plain_http(mut stream: TcpStream, peer: std::net::SocketAddr) {
    tracing::debug!(%peer, "plain HTTP on the HTTPS port");
    // Read what the client sent (its headers, usually), so that closing does not reset the
    // connection before the client has read the answer.
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request).await;
    let body = serde_json::to_string(&ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "this port serves HTTPS ([tls] is set): use https://",
    ))
    .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(answer.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
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
