//! Stopping the engine with the daemon: every graph's loops are told to stop after the round
//! they are in, and awaited within a deadline, so that what a round decides is committed.

use super::lifecycle::Engine;
use std::time::Duration;

impl Engine {
    /// Stops the scaling and offload loops after their current round, waiting at most `within`;
    /// returns how many had not ended by then (they end with the process).
    pub async fn shutdown(&self, within: Duration) -> usize {
        let mut tasks = self.loops.stop_all();
        tasks.extend(self.stop_offload_loops());
        let total = tasks.len();
        let deadline = tokio::time::Instant::now() + within;
        let mut late = 0;
        for task in tasks {
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                late += 1;
            }
        }
        if late > 0 {
            tracing::warn!(
                late,
                total,
                "control loops still in a round at the stop deadline"
            );
        } else {
            tracing::info!(loops = total, "control loops stopped");
        }
        late
    }
}
