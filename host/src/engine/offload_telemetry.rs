//! The daemon's built-in [`OffloadTelemetry`]: observations of a graph from the store (its
//! placement, the clusters' roles) and the engine's [`TelemetrySource`] (its users' delay).
//!
//! `delay_ms` is [`TelemetrySource::user_delay`]'s mean (NaN with no traffic); `can_offload`:
//! some deployed service has no copy on an `edge` cluster; `can_unoffload`: some has one. The
//! autoscaler flag is left to the offload loop, which knows the scaling loop's activity.

use super::inventory;
use super::offload::{Observation, OffloadTelemetry, TelemetryError};
use super::telemetry::TelemetrySource;
use crate::store::Store;
use smo_plugin_api::ClusterRole;
use std::sync::Arc;
use std::time::Duration;

/// Observations from the store and a [`TelemetrySource`].
pub struct StoreTelemetry {
    store: Arc<Store>,
    source: Arc<dyn TelemetrySource>,
}

impl StoreTelemetry {
    pub fn new(store: Arc<Store>, source: Arc<dyn TelemetrySource>) -> Self {
        Self { store, source }
    }
}

impl OffloadTelemetry for StoreTelemetry {
    fn observe(&mut self, graph: &str, now: Duration) -> Result<Observation, TelemetryError> {
        let fail = |message: String| TelemetryError {
            graph: graph.to_owned(),
            message,
        };
        let stored = self
            .store
            .get_graph(graph)
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail("no such graph".into()))?;
        let placement = self
            .store
            .get_placement(graph)
            .map_err(|e| fail(e.to_string()))?;
        let clusters =
            inventory::clusters_for(&self.store, None).map_err(|e| fail(e.to_string()))?;
        let is_edge = |name: &str| {
            clusters
                .iter()
                .any(|c| c.name.as_str() == name && c.role == ClusterRole::Edge)
        };
        let (mut can_offload, mut can_unoffload) = (false, false);
        for service in &stored.spec.services {
            let rows: Vec<_> = placement
                .iter()
                .filter(|e| e.service == service.name && e.replicas > 0)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let at_edge = rows.iter().any(|e| is_edge(&e.cluster));
            can_offload |= !at_edge;
            can_unoffload |= at_edge;
        }
        let delay = self
            .source
            .user_delay(&stored.spec, &placement, &clusters, now.as_secs_f64());
        Ok(Observation {
            delay_ms: delay.mean_ms.unwrap_or(f64::NAN),
            autoscaler_active: false,
            can_offload,
            can_unoffload,
        })
    }
}
