//! Per-graph read/write locks: a writer holds a graph's lock while it writes the graph's rows,
//! so a reader (status, list) never sees a graph half-written (e.g. without its placement).
//!
//! Writers that use capacity are serialised by the engine's commit lock ([`super::admission`]);
//! these locks only keep readers out of a write in progress. Unused entries are pruned, so unknown names looked up by
//! clients cannot grow the map without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// Entries kept before unused ones are pruned.
const PRUNE_ABOVE: usize = 256;

/// The lock of every graph name in use.
#[derive(Debug, Default)]
pub struct GraphLocks {
    locks: Mutex<HashMap<String, Arc<RwLock<()>>>>,
}

impl GraphLocks {
    fn lock_of(&self, name: &str) -> Arc<RwLock<()>> {
        let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() > PRUNE_ABOVE {
            // An entry only the map holds is not locked and nobody waits on it.
            map.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(map.entry(name.to_owned()).or_default())
    }

    /// Shared access to graph `name` for a consistent multi-row read.
    pub async fn read(&self, name: &str) -> OwnedRwLockReadGuard<()> {
        self.lock_of(name).read_owned().await
    }

    /// Exclusive access to graph `name` while its rows are written.
    pub async fn write(&self, name: &str) -> OwnedRwLockWriteGuard<()> {
        self.lock_of(name).write_owned().await
    }

    /// Number of entries (for tests).
    pub fn len(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_waits_for_the_writer() {
        let locks = Arc::new(GraphLocks::default());
        let write = locks.write("g").await;
        let other = Arc::clone(&locks);
        let reader = tokio::spawn(async move {
            let _read = other.read("g").await;
        });
        tokio::task::yield_now().await;
        assert!(!reader.is_finished());
        drop(write);
        reader.await.expect("reader finishes");
    }

    #[tokio::test]
    async fn unused_entries_are_pruned() {
        let locks = GraphLocks::default();
        for i in 0..(PRUNE_ABOVE * 3) {
            let _read = locks.read(&format!("g{i}")).await;
        }
        assert!(locks.len() <= PRUNE_ABOVE + 1, "{}", locks.len());
    }
}
