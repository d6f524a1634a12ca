//! With authentication off, what keeps a web page from driving the API through the operator's
//! browser: a write whose `Origin` is another site, or any request for a host name that is not
//! loopback or an IP address (DNS rebinding), is refused with 403.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// Refuses cross-site writes and foreign host names when authentication is off.
pub async fn same_site_when_open(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.auth.enabled() {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !host.is_empty() && !local_host(&host) {
        return refuse(
            "host",
            format!(
                "authentication is off, so only loopback names and IP addresses may be used to \
                 reach smo, not {host:?}"
            ),
        );
    }
    let writing = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writing {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .unwrap_or("");
            if authority.is_empty() || authority != host {
                return refuse(
                    "origin",
                    format!(
                        "authentication is off, so writes from another site are refused \
                         (Origin {origin:?}, Host {host:?})"
                    ),
                );
            }
        }
    }
    next.run(request).await
}

fn refuse(field: &str, detail: String) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
        .with_field(field)
        .into_response()
}

/// `localhost`, `127.0.0.1:8000`, `[::1]:8000`, `10.0.0.5`: a name a rebinding attack cannot
/// point elsewhere.
pub fn local_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_ip_addresses_only() {
        for ok in [
            "localhost",
            "localhost:8000",
            "127.0.0.1:8000",
            "[::1]:8000",
            "10.0.0.5",
        ] {
            assert!(local_host(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8000", "127.0.0.1.nip.io:80"] {
            assert!(!local_host(bad), "{bad}");
        }
    }
}
