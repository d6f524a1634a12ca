//! `[http]`: how long a client may take and how many may be connected, so that idle, slow-header
//! and slow-body connections cannot pile up.

use super::ConfigError;
use serde::Deserialize;

/// `[http]`: limits of the API's HTTP server.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Time to send a request's headers, and the longest a kept-alive connection may sit idle
    /// between requests (ms).
    pub header_read_timeout_ms: u64,
    /// Time for a whole request, its body included (ms); past it the answer is 408.
    pub request_timeout_ms: u64,
    /// Connections open at once; more are closed as they arrive (and logged).
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 60_000,
            max_connections: 512,
        }
    }
}

impl HttpSettings {
    /// Every limit must be positive; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        super::require_positive(
            "http",
            &[
                ("header_read_timeout_ms", self.header_read_timeout_ms),
                ("request_timeout_ms", self.request_timeout_ms),
                ("max_connections", self.max_connections as u64),
            ],
        )
    }
}
