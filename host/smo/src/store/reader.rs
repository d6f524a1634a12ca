//! Several reads in one read transaction under one lock: the rows come from one committed
//! state, and the database file is locked once rather than once a statement.

use rusqlite::{Connection, TransactionBehavior};

use super::apply_attempts::{apply_summary_in, ApplySummary};
use super::decisions::{newest_decision_in, DecisionKind, DecisionRecord};
use super::error::{SqlContext, StoreError};
use super::graphs::{get_graph_in, StoredGraph};
use super::placements::get_placement_in;
use super::{PlacementEntry, Store};

/// The reads [`Store::read`] offers, as the store's methods of the same names.
pub struct Reader<'a> {
    conn: &'a Connection,
}

impl Reader<'_> {
    pub fn get_graph(&self, name: &str) -> Result<Option<StoredGraph>, StoreError> {
        get_graph_in(self.conn, name)
    }

    pub fn get_placement(&self, graph: &str) -> Result<Vec<PlacementEntry>, StoreError> {
        get_placement_in(self.conn, graph)
    }

    pub fn last_decision(
        &self,
        graph: &str,
        kind: DecisionKind,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        newest_decision_in(self.conn, graph, kind, "")
    }

    pub fn apply_summary(&self, graph: &str, generation: u64) -> Result<ApplySummary, StoreError> {
        apply_summary_in(self.conn, graph, generation)
    }
}

impl Store {
    /// Runs `read` in one read transaction (see the module documentation).
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Reader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .during(|| "begin a read".to_owned())?;
        let out = read(&Reader { conn: &tx })?;
        tx.finish().during(|| "end a read".to_owned())?;
        Ok(out)
    }
}
