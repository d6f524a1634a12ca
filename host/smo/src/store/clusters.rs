//! Clusters in the store: each kept as the JSON of whatever cluster type the caller serialises
//! (capacity, location, energy profile, prices, ...), keyed by name.

use rusqlite::{params, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{SqlContext, StoreError};
use super::Cached;
use super::{from_json, now_ms, to_json, Store};

/// A stored cluster: `cluster` is the caller's type (a `serde_json::Value` by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCluster<T = Value> {
    pub name: String,
    pub cluster: T,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const SELECT: &str = "SELECT name, cluster, created_at_ms, updated_at_ms FROM clusters";

fn from_row<T: DeserializeOwned>(
    row: &Row<'_>,
) -> rusqlite::Result<Result<StoredCluster<T>, StoreError>> {
    let name: String = row.get(0)?;
    let json: String = row.get(1)?;
    let created_at_ms: i64 = row.get(2)?;
    let updated_at_ms: i64 = row.get(3)?;
    Ok(
        from_json(&json, || format!("cluster {name:?}")).map(|cluster| StoredCluster {
            name,
            cluster,
            created_at_ms,
            updated_at_ms,
        }),
    )
}

impl Store {
    /// Inserts or replaces cluster `name` (its creation time is kept on replace).
    pub fn upsert_cluster<T: Serialize + ?Sized>(
        &self,
        name: &str,
        cluster: &T,
    ) -> Result<(), StoreError> {
        let json = to_json(cluster, || format!("cluster {name:?}"))?;
        self.lock()
            .execute_cached(
                "INSERT INTO clusters (name, cluster, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET cluster = excluded.cluster,
                     updated_at_ms = excluded.updated_at_ms",
                params![name, json, now_ms()],
            )
            .during(|| format!("upsert cluster {name:?}"))?;
        Ok(())
    }

    /// Cluster `name`, if stored.
    pub fn get_cluster<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<StoredCluster<T>>, StoreError> {
        self.lock()
            .query_row_cached(&format!("{SELECT} WHERE name = ?1"), [name], from_row)
            .optional()
            .during(|| format!("get cluster {name:?}"))?
            .transpose()
    }

    /// All clusters, by name.
    pub fn list_clusters<T: DeserializeOwned>(&self) -> Result<Vec<StoredCluster<T>>, StoreError> {
        let sql = format!("{SELECT} ORDER BY name");
        super::query_all(&self.lock(), &sql, [], from_row, || {
            "list clusters".to_owned()
        })?
        .into_iter()
        .collect()
    }

    /// Deletes cluster `name`; returns whether there was one. Placements naming it are left to
    /// the engine to re-place.
    pub fn delete_cluster(&self, name: &str) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute_cached("DELETE FROM clusters WHERE name = ?1", [name])
            .during(|| format!("delete cluster {name:?}"))?;
        Ok(changed > 0)
    }
}
