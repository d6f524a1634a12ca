//! API tokens in the store: only a SHA-256 hash of each secret is kept, with its scope and
//! creation time (for the authentication work of a later issue).

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{now_ms, Store};

/// A stored token (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// Lower-case hex SHA-256 of the secret, see [`hash_token`].
    pub hash: String,
    /// What the token may do, e.g. "read" or "admin" (interpreted by the API).
    pub scope: String,
    pub created_at_ms: i64,
}

/// The hash under which a token secret is stored: lower-case hex SHA-256.
pub fn hash_token(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        hash: row.get(0)?,
        scope: row.get(1)?,
        created_at_ms: row.get(2)?,
    })
}

impl Store {
    /// Stores a token by the hash of its secret, or changes the scope of an existing one.
    pub fn put_token(&self, hash: &str, scope: &str) -> Result<ApiToken, StoreError> {
        let operation = || "put an API token".to_owned();
        let conn = self.lock();
        conn.execute_cached(
            "INSERT INTO api_tokens (hash, scope, created_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (hash) DO UPDATE SET scope = excluded.scope",
            params![hash, scope, now_ms()],
        )
        .during(operation)?;
        conn.query_row_cached(
            "SELECT hash, scope, created_at_ms FROM api_tokens WHERE hash = ?1",
            [hash],
            from_row,
        )
        .during(operation)
    }

    /// The token with this hash, if any.
    pub fn find_token(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        self.lock()
            .query_row_cached(
                "SELECT hash, scope, created_at_ms FROM api_tokens WHERE hash = ?1",
                [hash],
                from_row,
            )
            .optional()
            .during(|| "look up an API token".to_owned())
    }

    /// All tokens, oldest first.
    pub fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        super::query_all(
            &self.lock(),
            "SELECT hash, scope, created_at_ms FROM api_tokens ORDER BY created_at_ms, hash",
            [],
            from_row,
            || "list API tokens".to_owned(),
        )
    }

    /// Deletes the token with this hash; returns whether there was one.
    pub fn delete_token(&self, hash: &str) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute_cached("DELETE FROM api_tokens WHERE hash = ?1", [hash])
            .during(|| "delete an API token".to_owned())?;
        Ok(changed > 0)
    }
}
