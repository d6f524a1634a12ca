//! `[tls]`: the PEM certificate chain and private key the API is served with over HTTPS.
//! Both keys or neither; checking the settings reads the files (`crate::tls` loads them).

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// `[tls]`: HTTPS for the REST API (plain HTTP when absent).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// The server's certificate chain (PEM: its certificate first, then any intermediates).
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: Option<PathBuf>,
}

impl TlsSettings {
    /// Whether `[tls]` asks for HTTPS (one key set is enough; `validate` wants both).
    pub fn enabled(&self) -> bool {
        self.cert.is_some() || self.key.is_some()
    }

    /// Both keys or neither, and the files make a usable certificate and key; the error names
    /// `tls.cert` or `tls.key` and the path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        crate::tls::server_config(self)
            .map(drop)
            .map_err(|e| ConfigError::Invalid {
                field: e.field().into(),
                message: e.message(),
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn absent_means_plain_http() {
        let c = Config::from_toml("").unwrap();
        assert!(!c.tls.enabled());
        c.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_half_settings_are_named() {
        let e = Config::from_toml("[tls]\ncertificate = \"/x.pem\"\n").unwrap_err();
        assert!(e.contains("certificate"), "{e}");
        let c = Config::from_toml("[tls]\ncert = \"/nonexistent/cert.pem\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("config: tls.key: "), "{e}");
        let c = Config::from_toml("[tls]\nkey = \"/nonexistent/key.pem\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("config: tls.cert: "), "{e}");
    }

    #[test]
    fn a_missing_file_is_named_with_its_path() {
        let c = Config::from_toml(
            "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
        )
        .unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("config: tls.cert: cannot read /nonexistent/cert.pem: "),
            "{e}"
        );
    }
}
