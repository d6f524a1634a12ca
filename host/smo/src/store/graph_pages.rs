//! One page of the graph list, by name after a cursor: each graph's status, generation, service
//! names, placement and apply summary, read in four range queries under one lock.
//!
//! The specs are not decoded (the service names are stored beside them), so a page costs the
//! same whatever the number of graphs stored.

use std::collections::HashMap;

use super::apply_attempts::{self, ApplyAttempt, ApplySummary};
use super::error::StoreError;
use super::{query_all, PlacementEntry, Store};
use rusqlite::params;

/// A graph as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphListing {
    pub name: String,
    pub status: String,
    pub generation: u64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Its services' names, in the descriptor's order.
    pub services: Vec<String>,
    pub placement: Vec<PlacementEntry>,
    /// The applied generation and the newest attempt (`attempts` and `last_error` are not
    /// read for a list).
    pub apply: ApplySummary,
}

const PAGE: &str = "SELECT name, status, generation, created_at_ms, updated_at_ms, services
    FROM graphs WHERE name > ?1 ORDER BY name LIMIT ?2";

impl Store {
    /// Up to `limit` graphs whose names sort after `after` (from the first without it), by name.
    pub fn graph_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<GraphListing>, StoreError> {
        let operation = || "list a page of graphs".to_owned();
        let after = after.unwrap_or("");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        let mut page = query_all(
            &conn,
            PAGE,
            params![after, limit],
            |row| {
                let services: String = row.get(5)?;
                Ok((
                    GraphListing {
                        name: row.get(0)?,
                        status: row.get(1)?,
                        generation: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        created_at_ms: row.get(3)?,
                        updated_at_ms: row.get(4)?,
                        services: Vec::new(),
                        placement: Vec::new(),
                        apply: ApplySummary::default(),
                    },
                    services,
                ))
            },
            operation,
        )?
        .into_iter()
        .map(|(mut listing, services)| {
            listing.services =
                serde_json::from_str(&services).map_err(|e| StoreError::Corrupt {
                    what: format!("graph {:?}", listing.name),
                    reason: format!("its services: {e}"),
                })?;
            Ok(listing)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let Some(last) = page.last().map(|l| l.name.clone()) else {
            return Ok(page);
        };
        let range = params![after, last];
        let mut placements: HashMap<String, Vec<PlacementEntry>> = HashMap::new();
        for (graph, entry) in query_all(
            &conn,
            "SELECT graph, service, cluster, replicas FROM placements
              WHERE graph > ?1 AND graph <= ?2 ORDER BY graph, position",
            range,
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    PlacementEntry {
                        service: row.get(1)?,
                        cluster: row.get(2)?,
                        replicas: row.get(3)?,
                    },
                ))
            },
            operation,
        )? {
            placements.entry(graph).or_default().push(entry);
        }
        let applied: HashMap<String, i64> = query_all(
            &conn,
            "SELECT graph, max(generation) FROM apply_attempts
              WHERE graph > ?1 AND graph <= ?2 AND outcome = 'ok'
                AND action IN ('apply', 'withdraw')
              GROUP BY graph",
            range,
            |row| Ok((row.get(0)?, row.get(1)?)),
            operation,
        )?
        .into_iter()
        .collect();
        let mut newest: HashMap<String, ApplyAttempt> = HashMap::new();
        for attempt in query_all(
            &conn,
            &format!(
                "{} WHERE id IN (SELECT max(id) FROM apply_attempts
                  WHERE graph > ?1 AND graph <= ?2 GROUP BY graph)",
                apply_attempts::SELECT
            ),
            range,
            apply_attempts::from_row,
            operation,
        )? {
            let attempt = attempt?;
            newest.insert(attempt.record.graph.clone(), attempt);
        }
        for listing in &mut page {
            listing.placement = placements.remove(&listing.name).unwrap_or_default();
            listing.apply = ApplySummary {
                applied_generation: applied
                    .get(&listing.name)
                    .and_then(|g| u64::try_from(*g).ok()),
                attempts: 0,
                last: newest.remove(&listing.name),
                last_error: None,
            };
        }
        Ok(page)
    }
}
