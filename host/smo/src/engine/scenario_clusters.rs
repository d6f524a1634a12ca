//! `smo serve --scenario`: the scenario's clusters in the store, written at start and refreshed
//! every simulated hour, so that strategies see their energy profiles follow the scenario's data.

use crate::store::{Store, StoreError};
use smo_sim::backend::ScenarioTelemetry;
use std::sync::Arc;

/// Writes the scenario's clusters for the current simulated hour into the store (other
/// registered clusters are left alone). Returns how many were written.
pub fn sync(scenario: &ScenarioTelemetry, store: &Store) -> Result<usize, StoreError> {
    let clusters = scenario.clusters_now();
    for c in &clusters {
        store.upsert_cluster(c.name.as_str(), c)?;
    }
    Ok(clusters.len())
}

/// Refreshes the clusters in the store at every simulated hour, until the task is dropped.
pub fn spawn_hourly(
    scenario: Arc<ScenarioTelemetry>,
    store: Arc<Store>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(scenario.hour_period());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let hour = scenario.hour();
            match sync(&scenario, &store) {
                Ok(n) => tracing::debug!(
                    hour,
                    clusters = n,
                    "simulated hour: energy profiles updated"
                ),
                Err(error) => tracing::warn!(%error, "cannot update simulated clusters"),
            }
        }
    })
}
