//! A telemetry source a configuration reload can replace (new Prometheus queries, a new
//! server): every method is answered by the source in force when it is called.

use arc_swap::ArcSwap;
use smo_core::graphs::GraphSpec;
use smo_core::offload::Observation;
use smo_core::placement::PlacementEntry;
use smo_core::ports::telemetry::{MigrationInputs, TelemetryError};
use smo_core::ports::TelemetrySource;
use smo_core::user_delay::UserDelay;
use smo_plugin_api::{Cluster, Link, RVec, Telemetry};
use std::sync::Arc;

/// The source in force, replaceable.
pub struct SwappableTelemetry {
    current: ArcSwap<Arc<dyn TelemetrySource>>,
}

impl SwappableTelemetry {
    pub fn new(source: Arc<dyn TelemetrySource>) -> Self {
        Self {
            current: ArcSwap::from_pointee(source),
        }
    }

    /// Replaces the source; calls in progress finish with the old one.
    pub fn replace(&self, source: Arc<dyn TelemetrySource>) {
        self.current.store(Arc::new(source));
    }

    fn source(&self) -> Arc<dyn TelemetrySource> {
        Arc::clone(&self.current.load())
    }
}

impl TelemetrySource for SwappableTelemetry {
    fn loads(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError> {
        self.source().loads(graph, placement, now_s)
    }

    fn user_delay(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<UserDelay, TelemetryError> {
        self.source().user_delay(graph, placement, clusters, now_s)
    }

    fn loads_with_delay(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError> {
        self.source()
            .loads_with_delay(graph, placement, clusters, now_s)
    }

    fn offload_observation(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<Observation, TelemetryError> {
        self.source()
            .offload_observation(graph, placement, clusters, now_s)
    }

    fn migration_inputs(
        &self,
        graph: &str,
        base: Telemetry,
    ) -> Result<MigrationInputs, TelemetryError> {
        self.source().migration_inputs(graph, base)
    }

    fn clock_s(&self, now_s: f64) -> i64 {
        self.source().clock_s(now_s)
    }

    fn now_s(&self) -> f64 {
        self.source().now_s()
    }

    fn speed(&self) -> f64 {
        self.source().speed()
    }

    fn links(&self, clusters: &[Cluster]) -> RVec<Link> {
        self.source().links(clusters)
    }

    fn response_bytes(&self, service: &str) -> f64 {
        self.source().response_bytes(service)
    }
}
