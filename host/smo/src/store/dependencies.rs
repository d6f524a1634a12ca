//! Dependency declarations in the store (`POST /v1/dependencies`): one per workload name, as
//! the JSON of [`Declaration`], replaced whole.

use rusqlite::params;
use smo_core::ecosystem::Declaration;

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{from_json, now_ms, query_all, to_json, Store};

impl Store {
    /// Stores `declaration`, replacing the workload's previous one; returns whether it is new.
    pub fn put_declaration(&self, declaration: &Declaration) -> Result<bool, StoreError> {
        let name = declaration.vm_name.as_str();
        let json = to_json(declaration, || format!("the declaration of {name:?}"))?;
        let conn = self.lock();
        let existed = conn
            .query_row_cached(
                "SELECT count(*) FROM dependencies WHERE vm_name = ?1",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .during(|| format!("read the declaration of {name:?}"))?
            > 0;
        conn.execute_cached(
            "INSERT INTO dependencies (vm_name, declaration, updated_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (vm_name) DO UPDATE SET declaration = excluded.declaration,
                 updated_at_ms = excluded.updated_at_ms",
            params![name, json, now_ms()],
        )
        .during(|| format!("store the declaration of {name:?}"))?;
        Ok(!existed)
    }

    /// Every stored declaration, by workload name.
    pub fn list_declarations(&self) -> Result<Vec<Declaration>, StoreError> {
        query_all(
            &self.lock(),
            "SELECT vm_name, declaration FROM dependencies ORDER BY vm_name",
            [],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            || "list the dependency declarations".to_owned(),
        )?
        .into_iter()
        .map(|(name, json)| from_json(&json, || format!("the declaration of {name:?}")))
        .collect()
    }
}
