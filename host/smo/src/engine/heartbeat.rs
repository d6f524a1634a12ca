//! The engine's heartbeat: proof that it can still make a decision, for the watchdog — its
//! commit lock can be taken and its store answers, both within a deadline.

use super::lifecycle::Engine;
use std::sync::Arc;
use std::time::Duration;

impl Engine {
    /// Takes and releases the commit lock, then reads the store, within `within`; says which
    /// part did not answer in time, or the store's error.
    pub async fn heartbeat(&self, within: Duration) -> Result<(), String> {
        let started = tokio::time::Instant::now();
        let held = tokio::time::timeout(within, self.admission.commit_lock())
            .await
            .map_err(|_| format!("the commit lock was not free within {within:?}"))?;
        drop(held);
        let left = within.saturating_sub(started.elapsed());
        let store = Arc::clone(&self.store);
        let read = tokio::task::spawn_blocking(move || store.schema_version());
        match tokio::time::timeout(left, read).await {
            Err(_) => Err(format!("the store did not answer within {within:?}")),
            Ok(Err(error)) => Err(format!("the store read failed: {error}")),
            Ok(Ok(Err(error))) => Err(format!("the store read failed: {error}")),
            Ok(Ok(Ok(_))) => Ok(()),
        }
    }
}
