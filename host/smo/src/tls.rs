//! HTTPS for the API: the `[tls]` PEM files made into a rustls server configuration that a reload
//! swaps for new connections ([`TlsReloader`]), and the `smo` commands' client side (`--cacert`).

use crate::config::TlsSettings;
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Why a certificate, a key or a CA file cannot be used; each names its setting and its file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("{field}: cannot read {}: {source}", path.display())]
    Read {
        field: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is read but holds no usable PEM item of the kind wanted.
    #[error("{field}: {}: {message}", path.display())]
    Invalid {
        field: &'static str,
        path: PathBuf,
        message: String,
    },
    /// rustls refuses the pair (e.g. the key is not the certificate's).
    #[error("tls.key: {} and the certificate {}: {message}", key.display(), cert.display())]
    Rejected {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    /// One of the two settings is missing, or a reload would turn TLS on or off.
    #[error("{field}: {message}")]
    Settings {
        field: &'static str,
        message: String,
    },
}

impl TlsError {
    /// The setting at fault: `tls.cert`, `tls.key` or `--cacert`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Read { field, .. }
            | Self::Invalid { field, .. }
            | Self::Settings { field, .. } => field,
            Self::Rejected { .. } => "tls.key",
        }
    }

    /// What is wrong, without the setting's name.
    pub fn message(&self) -> String {
        let text = self.to_string();
        text.strip_prefix(&format!("{}: ", self.field()))
            .unwrap_or(&text)
            .to_owned()
    }
}

/// The rustls server configuration of `settings`' certificate chain and key (HTTP/1.1 only).
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let (cert, key) = match (&settings.cert, &settings.key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, _) => {
            return Err(TlsError::Settings {
                field: "tls.cert",
                message: "missing: [tls] needs both cert and key".into(),
            })
        }
        (Some(_), None) => {
            return Err(TlsError::Settings {
                field: "tls.key",
                message: "missing: [tls] needs both cert and key".into(),
            })
        }
    };
    let chain = read_certificates("tls.cert", cert)?;
    let private_key = read_key(key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(chain, private_key)
        })
        .map_err(|e| TlsError::Rejected {
            cert: cert.clone(),
            key: key.clone(),
            message: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The crypto provider: *ring*, which the workspace already builds (kube, ureq). rustls 0.23.48
/// deprecates it for its lack of post-quantum key exchange; aws-lc-rs has it but needs a cmake
/// build of aws-lc.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM file (at least one).
fn read_certificates(
    field: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(field, path)?;
    let invalid = |message: String| TlsError::Invalid {
        field,
        path: path.to_path_buf(),
        message,
    };
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not a PEM file: {e}")))?;
    if certificates.is_empty() {
        return Err(invalid(
            "no certificate in it (a PEM `BEGIN CERTIFICATE` block)".into(),
        ));
    }
    Ok(certificates)
}

/// The private key of a PEM file; warns when anyone may read it.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("tls.key", path)?;
    warn_if_world_readable(path);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Invalid {
        field: "tls.key",
        path: path.to_path_buf(),
        message: match e {
            pem::Error::NoItemsFound => {
                "no private key in it (a PEM `BEGIN PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or \
                 `BEGIN EC PRIVATE KEY` block)"
                    .into()
            }
            other => format!("not a PEM file: {other}"),
        },
    })
}

fn read(field: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        field,
        path: path.to_path_buf(),
        source,
    })
}

fn warn_if_world_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o004 != 0 {
            tracing::warn!(
                path = %path.display(),
                "tls.key: the private key file is readable by every user (chmod o-r)"
            );
        }
    }
}

/// The server's TLS configuration, swapped by a reload: connections accepted afterwards use the
/// new certificate, open ones keep the one they were accepted with.
pub struct TlsReloader {
    current: ArcSwap<ServerConfig>,
}

impl std::fmt::Debug for TlsReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsReloader").finish_non_exhaustive()
    }
}

impl TlsReloader {
    /// Loads `settings`' files (both must be set).
    pub fn new(settings: &TlsSettings) -> Result<Self, TlsError> {
        Ok(Self {
            current: ArcSwap::from_pointee(server_config(settings)?),
        })
    }

    /// Re-reads `settings`' files and uses them for new connections; on an error the
    /// certificate in use stays. `[tls]` removed is refused: TLS cannot be turned off live.
    pub fn reload(&self, settings: &TlsSettings) -> Result<(), TlsError> {
        if !settings.enabled() {
            return Err(TlsError::Settings {
                field: "tls.cert",
                message: "[tls] was removed, but turning TLS off needs a restart; the \
                          certificate in use stays"
                    .into(),
            });
        }
        self.current.store(Arc::new(server_config(settings)?));
        tracing::info!(
            cert = %settings.cert.as_deref().unwrap_or(Path::new("")).display(),
            "TLS certificate reloaded; new connections use it"
        );
        Ok(())
    }

    /// An acceptor for the next connection, with the certificate in use now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }
}

/// What a configuration reload does with `[tls]`: reloads the certificate of a daemon serving
/// HTTPS (`current`); refuses to turn TLS on or off, which needs a restart.
pub fn reload(current: Option<&TlsReloader>, settings: &TlsSettings) -> Result<(), TlsError> {
    match current {
        Some(tls) => tls.reload(settings),
        None if settings.enabled() => Err(TlsError::Settings {
            field: "tls.cert",
            message: "[tls] was added, but turning TLS on needs a restart".into(),
        }),
        None => Ok(()),
    }
}

/// At start: loads `[tls]` when set; without it, warns when `listen` is not a loopback address
/// (the API and its tokens would travel in clear).
pub fn start(
    settings: &TlsSettings,
    listen: SocketAddr,
) -> Result<Option<Arc<TlsReloader>>, TlsError> {
    if settings.enabled() {
        let tls = TlsReloader::new(settings)?;
        tracing::info!(
            cert = %settings.cert.as_deref().unwrap_or(Path::new("")).display(),
            "serving HTTPS"
        );
        return Ok(Some(Arc::new(tls)));
    }
    if !listen.ip().is_loopback() {
        tracing::warn!(
            %listen,
            "plain HTTP on a non-loopback address: requests and API tokens travel unencrypted; \
             set [tls] cert and key"
        );
    }
    Ok(None)
}

/// The HTTP agent of the `smo` client commands: error statuses as answers, and for `https://`
/// the CA certificates of `cacert` (PEM) as the only roots, else the public web PKI roots.
pub fn client_agent(cacert: Option<&Path>) -> Result<ureq::Agent, TlsError> {
    let mut config = ureq::Agent::config_builder().http_status_as_error(false);
    if let Some(path) = cacert {
        let roots = read_certificates("--cacert", path)?
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
            .collect::<Vec<_>>();
        config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                .build(),
        );
    }
    Ok(config.build().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A CA and a certificate it signed for `localhost` and 127.0.0.1, as PEM files in `dir`
    /// named `NAME.crt`, `NAME.key` and `NAME-ca.crt`.
    fn issue(dir: &Path, name: &str) -> TlsSettings {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let write = |file: &str, text: &str| {
            let path = dir.join(file);
            std::fs::File::create(&path)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            path
        };
        write(&format!("{name}-ca.crt"), &ca.pem());
        TlsSettings {
            cert: Some(write(&format!("{name}.crt"), &cert.pem())),
            key: Some(write(&format!("{name}.key"), &key.serialize_pem())),
        }
    }

    /// The end-entity certificate `acceptor` presents to a client trusting the CA `ca` (PEM),
    /// through a real handshake over an in-memory pipe; an error when the client rejects it.
    async fn presented(acceptor: TlsAcceptor, ca: &Path) -> Result<Vec<u8>, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certificates("ca", ca).unwrap() {
            roots.add(cert).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move { acceptor.accept(server_io).await.map(drop) });
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let connected = connector.connect(name, client_io).await;
        let _ = server.await;
        let stream = connected.map_err(|e| e.to_string())?;
        let (_, session) = stream.get_ref();
        Ok(session.peer_certificates().unwrap()[0].to_vec())
    }

    #[test]
    fn errors_name_the_setting_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = issue(dir.path(), "a");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello\n").unwrap();
        let cases = [
            (
                TlsSettings {
                    cert: Some(dir.path().join("missing.crt")),
                    ..good.clone()
                },
                "tls.cert: cannot read ",
                "missing.crt",
            ),
            (
                TlsSettings {
                    cert: Some(junk.clone()),
                    ..good.clone()
                },
                "tls.cert: ",
                "no certificate",
            ),
            (
                TlsSettings {
                    key: Some(junk.clone()),
                    ..good.clone()
                },
                "tls.key: ",
                "no private key",
            ),
            (
                TlsSettings {
                    key: good.cert.clone(),
                    ..good.clone()
                },
                "tls.key: ",
                "no private key",
            ),
        ];
        for (settings, prefix, inside) in cases {
            let e = server_config(&settings).unwrap_err().to_string();
            assert!(e.starts_with(prefix) && e.contains(inside), "{e}");
        }
        server_config(&good).unwrap();
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = issue(dir.path(), "a");
        let b = issue(dir.path(), "b");
        let e = server_config(&TlsSettings {
            cert: a.cert,
            key: b.key,
        })
        .unwrap_err();
        assert_eq!(e.field(), "tls.key");
        assert!(e.to_string().contains("b.key"), "{e}");
    }

    #[tokio::test]
    async fn a_reload_swaps_the_certificate_and_a_bad_one_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let a = issue(dir.path(), "a");
        let b = issue(dir.path(), "b");
        let (ca_a, ca_b) = (dir.path().join("a-ca.crt"), dir.path().join("b-ca.crt"));
        let tls = TlsReloader::new(&a).unwrap();
        let open = tls.acceptor();
        let first = presented(tls.acceptor(), &ca_a).await.unwrap();
        assert!(presented(tls.acceptor(), &ca_b).await.is_err());

        tls.reload(&b).unwrap();
        let second = presented(tls.acceptor(), &ca_b).await.unwrap();
        assert_ne!(first, second);
        assert!(presented(tls.acceptor(), &ca_a).await.is_err());
        // An acceptor taken before the reload (an open connection's) keeps the old certificate.
        assert_eq!(presented(open, &ca_a).await.unwrap(), first);

        let broken = TlsSettings {
            key: a.key.clone(),
            ..b.clone()
        };
        let e = tls.reload(&broken).unwrap_err();
        assert_eq!(e.field(), "tls.key");
        assert_eq!(presented(tls.acceptor(), &ca_b).await.unwrap(), second);

        let missing = TlsSettings {
            cert: Some(dir.path().join("gone.crt")),
            ..b.clone()
        };
        let e = tls.reload(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with("tls.cert: cannot read ") && e.contains("gone.crt"),
            "{e}"
        );
        assert_eq!(presented(tls.acceptor(), &ca_b).await.unwrap(), second);

        let e = tls.reload(&TlsSettings::default()).unwrap_err();
        assert!(e.to_string().contains("restart"), "{e}");
        assert_eq!(presented(tls.acceptor(), &ca_b).await.unwrap(), second);
    }

    #[test]
    fn a_reload_cannot_turn_tls_on() {
        let dir = tempfile::tempdir().unwrap();
        let a = issue(dir.path(), "a");
        let e = reload(None, &a).unwrap_err();
        assert!(e.to_string().contains("restart"), "{e}");
        reload(None, &TlsSettings::default()).unwrap();
    }

    #[test]
    fn the_client_agent_wants_a_ca_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = client_agent(Some(&dir.path().join("none.pem"))).unwrap_err();
        assert!(e.to_string().starts_with("--cacert: cannot read "), "{e}");
        let a = issue(dir.path(), "a");
        client_agent(Some(&dir.path().join("a-ca.crt"))).unwrap();
        let e = client_agent(a.key.as_deref()).unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        client_agent(None).unwrap();
    }
}
