//! Reading the Telemetry port from the async engine: a source may block (HTTP to Prometheus),
//! so every read runs on tokio's blocking pool, and a failed task is a telemetry error.

use super::lifecycle::Engine;
use smo_core::ports::{TelemetryError, TelemetrySource};
use std::sync::Arc;

impl Engine {
    /// Runs `read` against the telemetry source off the async workers; `graph` names the graph
    /// in the error if the task fails.
    pub(crate) async fn measure<T, F>(&self, graph: &str, read: F) -> Result<T, TelemetryError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn TelemetrySource) -> Result<T, TelemetryError> + Send + 'static,
    {
        let source = Arc::clone(&self.telemetry);
        match tokio::task::spawn_blocking(move || read(source.as_ref())).await {
            Ok(result) => result,
            Err(error) => Err(TelemetryError::new(
                graph,
                format!("the telemetry task failed: {error}"),
            )),
        }
    }
}
