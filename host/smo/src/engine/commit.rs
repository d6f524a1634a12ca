//! The one commit path: every change of a graph's desired state (its placement, its status,
//! its spec) is stored with the decisions that made it in one transaction, then the applier
//! is woken to make the backend follow.

use super::admission::{CommitGuard, Snapshot};
use super::error::EngineError;
use super::lifecycle::Engine;
use crate::store::{Commit, Committed, PlacementEntry, StoreError};
use smo_core::graphs::GraphSpec;
use std::sync::atomic::Ordering;

/// Decisions appended between two prunes of the history.
pub(crate) const PRUNE_EVERY: u64 = 512;

impl Engine {
    /// Commits `commit` to graph `name` under the commit lock (see [`super::admission`]) and
    /// the graph's write lock (readers never see half of it), then wakes the applier.
    pub(crate) async fn commit(
        &self,
        name: &str,
        commit: Commit<'_>,
    ) -> Result<Committed, EngineError> {
        let held = self.admission.commit_lock().await;
        self.commit_held(&held, name, commit).await
    }

    /// Commits `proposed`, rows decided from `snapshot`, with the rest of `commit`, if the
    /// clusters still have room for them; `Stale` (nothing written) when not.
    pub(crate) async fn commit_checked(
        &self,
        name: &str,
        spec: &GraphSpec,
        snapshot: &Snapshot,
        proposed: &[PlacementEntry],
        commit: Commit<'_>,
    ) -> Result<Committed, EngineError> {
        let held = self.admission.commit_lock().await;
        self.recheck(&held, name, spec, snapshot, proposed).await?;
        self.commit_held(&held, name, commit).await
    }

    async fn commit_held(
        &self,
        held: &CommitGuard<'_>,
        name: &str,
        commit: Commit<'_>,
    ) -> Result<Committed, EngineError> {
        let committed = {
            let _write = self.write_lock(name).await;
            let committed = self.store.commit(name, &commit).map_err(|e| match e {
                StoreError::GraphExists(n) => EngineError::GraphExists(n),
                other => other.into(),
            })?;
            self.admission.bump(held);
            if commit.create {
                self.names.created(name);
            }
            committed
        };
        self.note_appended(commit.decisions.len() as u64)?;
        tracing::debug!(graph = %name, generation = committed.generation, "desired state committed");
        self.applier.wake(name);
        Ok(committed)
    }

    /// Counts `n` decisions appended, pruning the history now and then.
    pub(crate) fn note_appended(&self, n: u64) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let before = self.appended.fetch_add(n, Ordering::Relaxed);
        let crossed = (before + n) / PRUNE_EVERY > before / PRUNE_EVERY;
        if self.config().decision_history > 0 && crossed {
            let pruned = self.store.prune_decisions(self.config().decision_history)?;
            tracing::debug!(pruned, "decision history pruned");
        }
        Ok(())
    }
}
