//! The Telemetry port: what every control loop reads of the continuum, and the one trait a
//! telemetry source (the simulated continuum, Prometheus) implements.
//!
//! The contract, for a source author:
//!
//! - [`TelemetrySource::loads`]: per deployed service of a graph, the request rate (now and
//!   predicted), the response time, and the CPU and memory utilisation. The scaling loop scales
//!   on it; a placement of a running graph is given it. An error (the source cannot measure
//!   the graph) skips the scaling round with the error in the graph's status: no loop decides
//!   on figures the source did not measure.
//! - [`TelemetrySource::user_delay`]: the users' mean delay of the graph and of each service.
//! - [`TelemetrySource::offload_observation`]: the offload loop's light observation (the delay
//!   and which directions are possible); by default from `user_delay` and the clusters' roles.
//! - [`TelemetrySource::migration_inputs`]: what a migration strategy is given when the offload
//!   loop acts (measured loads, calls, sizes), by default the host's own figures.
//! - A clock ([`TelemetrySource::now_s`], [`TelemetrySource::speed`]): a simulated continuum
//!   runs faster than the wall clock, and the loops follow it.
//!
//! Every method may block (a source may query over HTTP): the engine calls them off its async
//! workers.

use crate::graphs::GraphSpec;
use crate::offload::Observation;
use crate::user_delay::{self, UserDelay};
use crate::{clock::now_ms, placement::PlacementEntry};
use smo_plugin_api::{Cluster, ClusterRole, Link, RVec, Telemetry};

/// A telemetry source could not answer for a graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("telemetry for graph `{graph}`: {message}")]
pub struct TelemetryError {
    pub graph: String,
    pub message: String,
}

impl TelemetryError {
    pub fn new(graph: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            graph: graph.into(),
            message: message.into(),
        }
    }
}

/// The telemetry side of an offload action's `MigrationRequest`
/// ([`TelemetrySource::migration_inputs`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MigrationInputs {
    /// `request.telemetry`.
    pub telemetry: Telemetry,
    /// Members added to `request.extra` (next to the action's `requiredDecreaseMs`), e.g. the
    /// measured `usage` and `meResourceScaling` that `sbmp-gma/offload` reads.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl From<Telemetry> for MigrationInputs {
    fn from(telemetry: Telemetry) -> Self {
        Self {
            telemetry,
            extra: serde_json::Map::new(),
        }
    }
}

/// What the loops read (see the module documentation for the contract).
pub trait TelemetrySource: Send + Sync {
    /// The loads of `graph`'s services placed as `placement` (rows with replicas are deployed)
    /// at `now_s` (seconds since the Unix epoch, on [`Self::now_s`]'s clock).
    fn loads(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError>;

    /// The users' delay of `graph` placed as `placement` on `clusters` at `now_s`; unknown by
    /// default.
    fn user_delay(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<UserDelay, TelemetryError> {
        let _ = (graph, placement, clusters, now_s);
        Ok(UserDelay::default())
    }

    /// [`Self::loads`] with each service's `response_time_ms` set from [`Self::user_delay`]
    /// where that knows it.
    fn loads_with_delay(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError> {
        let mut telemetry = self.loads(graph, placement, now_s)?;
        let delay = self.user_delay(graph, placement, clusters, now_s)?;
        for load in telemetry.loads.iter_mut() {
            if let Some(ms) = delay.of(load.service.as_str()) {
                load.response_time_ms = ms;
            }
        }
        Ok(telemetry)
    }

    /// The offload loop's observation of `graph` placed as `placement` on `clusters`: the
    /// users' mean delay ([`Self::user_delay`]; NaN with no traffic), `can_offload` when some
    /// deployed service has no copy on an `edge` cluster, `can_unoffload` when some has one.
    /// The autoscaler flag is left to the loop, which knows the scaling loop's activity.
    fn offload_observation(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<Observation, TelemetryError> {
        let delay = self.user_delay(graph, placement, clusters, now_s)?;
        let (can_offload, can_unoffload) = directions(graph, placement, clusters);
        Ok(Observation {
            delay_ms: delay.mean_ms.unwrap_or(f64::NAN),
            autoscaler_active: false,
            can_offload,
            can_unoffload,
        })
    }

    /// What the migration strategy of an offload action on `graph` is given: `base` (the
    /// host's figures: loads, calls from the descriptor's dependencies, links from the
    /// clusters' coordinates) with what this source measures in its place, and members to add
    /// to `request.extra`. The default changes nothing. An error fails the action: the strategy
    /// is not asked on inputs the source could not measure.
    fn migration_inputs(
        &self,
        graph: &str,
        base: Telemetry,
    ) -> Result<MigrationInputs, TelemetryError> {
        let _ = graph;
        Ok(MigrationInputs::from(base))
    }

    /// The time strategies are told it is at `now_s`, in whole seconds since the Unix epoch.
    fn clock_s(&self, now_s: f64) -> i64 {
        now_s.floor() as i64
    }

    /// The telemetry clock now (s since the Unix epoch): the wall clock by default.
    fn now_s(&self) -> f64 {
        now_ms() as f64 / 1e3
    }

    /// Telemetry seconds per wall-clock second (1 by default).
    fn speed(&self) -> f64 {
        1.0
    }

    /// Links between `clusters` for a migration strategy: RTT from the coordinates by default.
    fn links(&self, clusters: &[Cluster]) -> RVec<Link> {
        user_delay::links(clusters)
    }

    /// The mean response size of `service` (bytes); 20 kB by default.
    fn response_bytes(&self, service: &str) -> f64 {
        let _ = service;
        20.0 * 1024.0
    }
}

/// Whether some deployed service of `graph` could move to an `edge` cluster, and whether some
/// has a copy there.
pub fn directions(
    graph: &GraphSpec,
    placement: &[PlacementEntry],
    clusters: &[Cluster],
) -> (bool, bool) {
    let is_edge = |name: &str| {
        clusters
            .iter()
            .any(|c| c.name.as_str() == name && c.role == ClusterRole::Edge)
    };
    let (mut can_offload, mut can_unoffload) = (false, false);
    for service in &graph.services {
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
    (can_offload, can_unoffload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::ServiceLoad;

    /// A source that knows only loads and a fixed delay of 42 ms for every service.
    struct Fixed;

    impl TelemetrySource for Fixed {
        fn loads(
            &self,
            graph: &GraphSpec,
            _: &[PlacementEntry],
            now_s: f64,
        ) -> Result<Telemetry, TelemetryError> {
            Ok(Telemetry {
                time_unix_s: now_s as i64,
                loads: graph
                    .services
                    .iter()
                    .map(|s| ServiceLoad {
                        service: s.name.as_str().into(),
                        current_rps: 1.0,
                        predicted_rps: 1.0,
                        cpu_utilisation: 0.5,
                        memory_utilisation: 0.5,
                        response_time_ms: 0.0,
                    })
                    .collect(),
                ..Telemetry::default()
            })
        }

        fn user_delay(
            &self,
            graph: &GraphSpec,
            _: &[PlacementEntry],
            _: &[Cluster],
            _: f64,
        ) -> Result<UserDelay, TelemetryError> {
            Ok(UserDelay {
                mean_ms: Some(42.0),
                services: graph
                    .services
                    .iter()
                    .map(|s| (s.name.clone(), Some(42.0)))
                    .collect(),
            })
        }
    }

    #[test]
    fn the_defaults_build_on_loads_and_user_delay() {
        let spec = crate::graphs::brussels_demo_spec();
        let clusters = smo_plugin_api::testing::three_clusters();
        let placed = [PlacementEntry::new("noise-reduction", "edge-athens", 1)];
        let with_delay = Fixed
            .loads_with_delay(&spec, &placed, &clusters, 7.0)
            .expect("loads");
        assert!(with_delay.loads.iter().all(|l| l.response_time_ms == 42.0));
        let observed = Fixed
            .offload_observation(&spec, &placed, &clusters, 7.0)
            .expect("observation");
        assert_eq!(observed.delay_ms, 42.0);
        assert!(!observed.can_offload && observed.can_unoffload);
        let base = Fixed.loads(&spec, &placed, 7.0).expect("loads");
        let inputs = Fixed.migration_inputs("g", base.clone()).expect("inputs");
        assert_eq!(inputs, MigrationInputs::from(base));
        assert_eq!(Fixed.clock_s(7.9), 7);
    }

    #[test]
    fn directions_follow_the_copies_at_the_edge() {
        let spec = crate::graphs::brussels_demo_spec();
        let clusters = smo_plugin_api::testing::three_clusters();
        let cloud = [PlacementEntry::new("noise-reduction", "cloud-frankfurt", 1)];
        assert_eq!(directions(&spec, &cloud, &clusters), (true, false));
        let both = [
            PlacementEntry::new("noise-reduction", "edge-athens", 1),
            PlacementEntry::new("image-detection", "cloud-frankfurt", 1),
        ];
        assert_eq!(directions(&spec, &both, &clusters), (true, true));
        let pending = [PlacementEntry::new("noise-reduction", "edge-athens", 0)];
        assert_eq!(directions(&spec, &pending, &clusters), (false, false));
    }
}
