//! What can go wrong in the store, each variant naming the operation or object that failed, so
//! a log line or an API error says what to look at.

use std::path::PathBuf;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the database {location} has schema version {found}, newer than this smo knows \
         ({supported}); run a newer smo or restore a backup"
    )]
    SchemaTooNew {
        location: String,
        found: u32,
        supported: u32,
    },
    #[error("cannot migrate the database {location} to schema version {version}: {source}")]
    Migration {
        location: String,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    /// A statement failed; `operation` says what the store was doing, e.g. `put graph "shop"`.
    #[error("{operation} failed: {source}")]
    Sql {
        operation: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("graph {0:?} already exists")]
    GraphExists(String),
    #[error("graph {0:?} not found")]
    GraphNotFound(String),
    /// A value could not be written as JSON.
    #[error("cannot encode {what} as JSON: {source}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A commit that cannot be carried out as asked (a caller's mistake, not the data's).
    #[error("cannot commit to graph {graph:?}: {reason}")]
    InvalidCommit { graph: String, reason: String },
    /// A stored row could not be read back (written by another version, or edited by hand).
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: String, reason: String },
}

/// Attaches the operation's name to a rusqlite error.
pub(crate) trait SqlContext<T> {
    fn during(self, operation: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn during(self, operation: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql {
            operation: operation(),
            source,
        })
    }
}
