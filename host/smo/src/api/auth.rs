//! Bearer-token authentication: `Authorization: Bearer <token>`, scope `read` for GET and
//! `admin` for everything; tokens are kept as SHA-256 hashes and compared in constant time.
//!
//! Tokens come from `STATE_DIR/admin.token` (scope admin; created at first start with mode
//! 0600, its path logged; delete it and restart to rotate), from `[[auth.tokens]]` in the
//! config file (`name`, `scope`, and `token_sha256` = hex SHA-256 of the secret, or `token` in
//! clear), and from the store's token table. A presented token is hashed and compared with
//! every known hash without stopping at the first match, so timing says nothing about how
//! close a guess was. Missing or unknown token: 401; a read token on a write: 403.
//! `--no-auth` (`[auth] enabled = false`) lets every request through, with a warning logged.

use super::error::ApiError;
use super::AppState;
use crate::config::{AuthSettings, TokenSettings};
use crate::store::Store;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The admin token's file name in the state directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The environment variable the CLI reads a token from.
pub const TOKEN_ENV: &str = "SMO_TOKEN";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// GET (and HEAD) requests.
    Read,
    /// Every request.
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// Why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("auth.tokens {name:?}: {message}")]
    BadToken { name: String, message: String },
    #[error("cannot {action} the admin token file {path}: {source}")]
    TokenFile {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the admin token file {0} is empty: delete it and restart to make a new one")]
    EmptyTokenFile(PathBuf),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[derive(Debug, Clone)]
struct Known {
    name: String,
    scope: Scope,
    hash: [u8; 32],
}

/// The tokens the API accepts (or none needed, when disabled).
#[derive(Debug)]
pub struct Auth {
    /// Replaced whole when the configuration is reloaded ([`Auth::replace`]).
    current: arc_swap::ArcSwap<TokenSet>,
}

/// The tokens in force.
#[derive(Debug)]
struct TokenSet {
    enabled: bool,
    tokens: Vec<Known>,
}

fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// `a == b` in time independent of where they differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

fn parse_hex_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Auth {
    /// Every request allowed.
    pub fn disabled() -> Self {
        Self::from_set(TokenSet {
            enabled: false,
            tokens: Vec::new(),
        })
    }

    fn from_set(set: TokenSet) -> Self {
        Self {
            current: arc_swap::ArcSwap::from_pointee(set),
        }
    }

    /// Takes `other`'s tokens (a configuration reload); requests in flight keep the old ones.
    pub fn replace(&self, other: Auth) {
        self.current.store(other.current.load_full());
    }

    /// Accepts exactly `tokens` (name, scope, secret).
    pub fn with_tokens<'a>(tokens: impl IntoIterator<Item = (&'a str, Scope, &'a str)>) -> Self {
        Self::from_set(token_set(tokens))
    }

    pub fn enabled(&self) -> bool {
        self.current.load().enabled
    }

    /// Sets up authentication for a daemon: the admin token file (created if missing), the
    /// configured tokens and the store's. Logs where the admin token is, or warns when off.
    pub fn from_config(
        settings: &AuthSettings,
        state_dir: &Path,
        store: &Store,
    ) -> Result<Self, AuthError> {
        if !settings.enabled {
            tracing::warn!("authentication is OFF (--no-auth): anyone who can reach the API can change graphs and reload plugins; use it for local development only");
            return Ok(Self::disabled());
        }
        let (admin, path, created) = ensure_admin_token(state_dir)?;
        if created {
            tracing::info!(path = %path.display(), "created the admin API token; send it as `Authorization: Bearer <token>` (the CLI reads it with --state-dir or SMO_TOKEN)");
        } else {
            tracing::info!(path = %path.display(), "admin API token");
        }
        let mut auth = token_set([("admin.token", Scope::Admin, admin.as_str())]);
        for token in &settings.tokens {
            auth.tokens.push(configured(token)?);
        }
        for stored in store.list_tokens()? {
            let (Some(scope), Some(hash)) =
                (Scope::parse(&stored.scope), parse_hex_hash(&stored.hash))
            else {
                tracing::warn!(scope = %stored.scope, "ignoring a stored API token with an unknown scope or hash");
                continue;
            };
            auth.tokens.push(Known {
                name: format!("store:{}", &stored.hash[..8.min(stored.hash.len())]),
                scope,
                hash,
            });
        }
        Ok(Self::from_set(auth))
    }

    /// The scope of the request's `Authorization` header, or the 401 to answer.
    pub fn check(&self, header: Option<&HeaderValue>) -> Result<(Scope, String), ApiError> {
        let set = self.current.load();
        if !set.enabled {
            return Ok((Scope::Admin, "anonymous".to_owned()));
        }
        let unauthorized = |detail: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
                .with_field("authorization")
        };
        let header =
            header.ok_or_else(|| unauthorized("missing `Authorization: Bearer <token>` header"))?;
        let value = header
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not text"))?;
        let secret = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthorized("expected `Authorization: Bearer <token>`"))?;
        let presented = sha256(secret);
        let mut found: Option<&Known> = None;
        for known in &set.tokens {
            // No early exit: every hash is compared.
            if ct_eq(&known.hash, &presented) {
                found = Some(known);
            }
        }
        found
            .map(|k| (k.scope, k.name.clone()))
            .ok_or_else(|| unauthorized("unknown token"))
    }
}

fn token_set<'a>(tokens: impl IntoIterator<Item = (&'a str, Scope, &'a str)>) -> TokenSet {
    TokenSet {
        enabled: true,
        tokens: tokens
            .into_iter()
            .map(|(name, scope, secret)| Known {
                name: name.to_owned(),
                scope,
                hash: sha256(secret),
            })
            .collect(),
    }
}

fn configured(token: &TokenSettings) -> Result<Known, AuthError> {
    let bad = |message: &str| AuthError::BadToken {
        name: token.name.clone(),
        message: message.to_owned(),
    };
    let scope =
        Scope::parse(&token.scope).ok_or_else(|| bad("scope must be \"read\" or \"admin\""))?;
    let hash = match (&token.token_sha256, &token.token) {
        (Some(hex), None) => parse_hex_hash(&hex.to_ascii_lowercase())
            .ok_or_else(|| bad("token_sha256 must be 64 hex digits (sha256sum of the secret)"))?,
        (None, Some(secret)) if secret.len() >= 16 => sha256(secret),
        (None, Some(_)) => return Err(bad("token must be at least 16 characters")),
        _ => return Err(bad("give exactly one of token_sha256 and token")),
    };
    Ok(Known {
        name: token.name.clone(),
        scope,
        hash,
    })
}

fn random_secret() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("smo_{}", hex(&bytes)))
}

/// Reads `state_dir/admin.token`, creating it (mode 0600) with a new random secret when it
/// does not exist. Returns the secret, the path, and whether it was created.
pub fn ensure_admin_token(state_dir: &Path) -> Result<(String, PathBuf, bool), AuthError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = state_dir.join(ADMIN_TOKEN_FILE);
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| AuthError::TokenFile {
            action,
            path,
            source,
        }
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            let secret = random_secret().map_err(io("generate", &path))?;
            file.write_all(format!("{secret}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io("write", &path))?;
            Ok((secret, path, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
            let secret = text.trim().to_owned();
            if secret.is_empty() {
                return Err(AuthError::EmptyTokenFile(path));
            }
            if let Ok(meta) = std::fs::metadata(&path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "the admin token file is readable by other users: chmod 600 it");
                }
            }
            Ok((secret, path, false))
        }
        Err(e) => Err(io("create", &path)(e)),
    }
}

/// The token a CLI command sends: `explicit` (a flag or `SMO_TOKEN`), else the admin token
/// file of `state_dir` if it can be read, else none.
pub fn client_token(explicit: Option<String>, state_dir: Option<&Path>) -> Option<String> {
    explicit
        .or_else(|| std::env::var(TOKEN_ENV).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| {
            let dir = state_dir?;
            std::fs::read_to_string(dir.join(ADMIN_TOKEN_FILE))
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        })
}

/// The middleware: 401 without a known token, 403 for a read token on anything but GET/HEAD.
pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (scope, name) = match state
        .auth
        .check(request.headers().get(header::AUTHORIZATION))
    {
        Ok(found) => found,
        Err(error) => {
            let mut response = error.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"smo\""),
            );
            return response;
        }
    };
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reading && scope < Scope::Admin {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token {name:?} has the read scope; {} needs an admin token",
                request.method()
            ),
        )
        .with_field("authorization")
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header")
    }

    #[test]
    fn tokens_map_to_their_scope() {
        let auth = Auth::with_tokens([
            ("r", Scope::Read, "reader-secret"),
            ("a", Scope::Admin, "admin-secret"),
        ]);
        assert_eq!(
            auth.check(Some(&bearer("reader-secret"))).expect("ok").0,
            Scope::Read
        );
        assert_eq!(
            auth.check(Some(&bearer("admin-secret"))).expect("ok").0,
            Scope::Admin
        );
        assert_eq!(
            auth.check(Some(&bearer("nope"))).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            auth.check(None).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let basic = HeaderValue::from_static("Basic YTpi");
        assert_eq!(
            auth.check(Some(&basic)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn disabled_auth_lets_everything_through() {
        assert_eq!(Auth::disabled().check(None).expect("ok").0, Scope::Admin);
    }

    #[test]
    fn constant_time_equality_is_equality() {
        let a = sha256("x");
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
    }

    #[test]
    fn configured_tokens_are_checked() {
        let token = |sha: Option<&str>, clear: Option<&str>, scope: &str| TokenSettings {
            name: "t".into(),
            scope: scope.into(),
            token_sha256: sha.map(str::to_owned),
            token: clear.map(str::to_owned),
        };
        let digest = hex(&sha256("a-long-enough-secret"));
        let known = configured(&token(Some(&digest), None, "read")).expect("hash form");
        assert_eq!(known.hash, sha256("a-long-enough-secret"));
        assert!(configured(&token(None, Some("a-long-enough-secret"), "admin")).is_ok());
        assert!(configured(&token(None, Some("short"), "admin")).is_err());
        assert!(configured(&token(Some("zz"), None, "read")).is_err());
        assert!(configured(&token(Some(&digest), Some("x"), "read")).is_err());
        assert!(configured(&token(Some(&digest), None, "root")).is_err());
    }

    #[test]
    fn the_admin_token_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, path, created) = ensure_admin_token(dir.path()).expect("created");
        assert!(created);
        assert!(
            first.starts_with("smo_") && first.len() == 4 + 64,
            "{first}"
        );
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, _, created) = ensure_admin_token(dir.path()).expect("read back");
        assert!(!created);
        assert_eq!(again, first);
        assert_eq!(
            client_token(None, Some(dir.path())).as_deref(),
            Some(first.as_str())
        );
    }
}
