//! `[metrics]`: where Prometheus scrapes smo's own metrics. Always `GET /metrics` on the API
//! (a `read` token); optionally also a listener of its own that serves only them, unauthenticated.

use super::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;

/// `[metrics]`: the metrics' own listener.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// A second address serving only `GET /metrics`, without authentication (for example
    /// `"127.0.0.1:9100"`). Absent: `/metrics` is served on the API only, to a `read` token.
    pub listen: Option<SocketAddr>,
}

impl MetricsSettings {
    /// The metrics' listener must not be the API's own (`api_listen`); the error names the key.
    pub fn validate(&self, api_listen: SocketAddr) -> Result<(), ConfigError> {
        match self.listen {
            Some(listen) if listen == api_listen && listen.port() != 0 => {
                Err(ConfigError::Invalid {
                    field: "metrics.listen".into(),
                    message: format!(
                        "{listen} is the API's own address (`listen`): give another port"
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_means_no_listener_and_the_api_address_is_refused() {
        let api: SocketAddr = "127.0.0.1:8000".parse().expect("address");
        assert_eq!(MetricsSettings::default().listen, None);
        MetricsSettings::default()
            .validate(api)
            .expect("no listener");
        let own = MetricsSettings {
            listen: Some("127.0.0.1:9100".parse().expect("address")),
        };
        own.validate(api).expect("another port");
        let same = MetricsSettings { listen: Some(api) };
        let e = same.validate(api).expect_err("the API's address");
        assert!(e.to_string().contains("metrics.listen"), "{e}");
    }
}
