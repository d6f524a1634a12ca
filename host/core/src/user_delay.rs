//! The users' delay of a graph for its placement and load, as `smo serve` models it without
//! Prometheus: the result type, and the pieces of the model used over the demo sine load when
//! there is no scenario (`smo_sim::backend::sine`).
//!
//! Model without a scenario (the simulator's delay model, [`crate::delay`], with inputs
//! taken from the inventory): users enter at the graph's *edge ingress*, the first cluster of
//! role `edge` (else the first cluster). Each deployed service receives its [`SineLoad`] rate
//! `λ_s(t)` from there. Its copies are its placement rows with replicas; a copy on cluster `c`
//! is `RTT(ingress, c)` away, with `RTT = 2 × (2 ms + 0.02 ms/km × great-circle km)` from the
//! clusters' coordinates (0 at the ingress itself), and serves `alpha × replicas + beta`
//! requests/s. One replica serves `alpha` requests/s, so a request's processing time is
//! `1000 / alpha` ms, inflated by the copy's utilisation. Requests go nearest copy first over a
//! 60 s window ([`crate::delay::route`]). The graph's delay is the request-weighted mean
//! over its services: it rises with load (queueing at saturated copies) and falls when
//! services get a copy at the edge (no RTT to the cloud).

use crate::delay::{self, Copy, Served};
use crate::geo;
use crate::graphs::ServiceSpec;
use crate::placement::PlacementEntry;
use smo_plugin_api::{Cluster, ClusterRole, Link, RVec};

/// One-way network latency base (ms) of the model without a scenario.
pub const BASE_MS: f64 = 2.0;
/// One-way latency per great-circle kilometre (ms) of the model without a scenario.
pub const MS_PER_KM: f64 = 0.02;
/// The routing window of the model without a scenario (s).
pub const WINDOW_S: f64 = 60.0;
/// Bandwidth of the links between clusters of the model without a scenario (Mbit/s).
pub const BANDWIDTH_MBPS: f64 = 1000.0;
/// The pseudo-service naming the users' ingress in `telemetry.calls`.
pub const USERS: &str = "users";

/// The users' mean delay of a graph, and of each of its services.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserDelay {
    /// Request-weighted mean over the graph's services (ms); `None` with no traffic served.
    pub mean_ms: Option<f64>,
    /// Per deployed service (ms); `None` when it served nothing.
    pub services: Vec<(String, Option<f64>)>,
}

impl UserDelay {
    /// The delay of `service`, if known.
    pub fn of(&self, service: &str) -> Option<f64> {
        self.services
            .iter()
            .find(|(name, _)| name == service)
            .and_then(|(_, d)| *d)
    }

    /// Combines per-service routing results into the graph's delay.
    pub fn from_served(per_service: Vec<(String, Vec<Served>)>) -> Self {
        let mean_ms = delay::mean_delay_ms(per_service.iter().flat_map(|(_, s)| s.iter()));
        let services = per_service
            .into_iter()
            .map(|(name, served)| {
                let d = delay::mean_delay_ms(&served);
                (name, d)
            })
            .collect();
        Self { mean_ms, services }
    }
}

/// The cluster where users enter: the first edge cluster, else the first one.
pub fn ingress(clusters: &[Cluster]) -> Option<&Cluster> {
    clusters
        .iter()
        .find(|c| c.role == ClusterRole::Edge)
        .or_else(|| clusters.first())
}

/// Round-trip time between two clusters from their coordinates (ms), 0 for the same cluster.
pub fn rtt_ms(a: &Cluster, b: &Cluster) -> f64 {
    if a.name == b.name {
        return 0.0;
    }
    let km = geo::distance_km(
        (a.location.lat, a.location.lon),
        (b.location.lat, b.location.lon),
    );
    2.0 * geo::latency_ms(km, MS_PER_KM, BASE_MS)
}

/// Links between every two clusters, with [`rtt_ms`] as their latency (what SBMP reads as the
/// cloud–edge RTT) and [`BANDWIDTH_MBPS`].
pub fn links(clusters: &[Cluster]) -> RVec<Link> {
    let mut links = RVec::new();
    for a in clusters {
        for b in clusters.iter().filter(|b| b.name != a.name) {
            links.push(Link {
                from: a.name.clone(),
                to: b.name.clone(),
                latency_ms: rtt_ms(a, b),
                bandwidth_mbps: BANDWIDTH_MBPS,
            });
        }
    }
    links
}

/// A service's copies (placement rows with replicas on known clusters), with the latency
/// `latency(cluster)` from its users.
pub fn copies(
    service: &ServiceSpec,
    placement: &[PlacementEntry],
    clusters: &[Cluster],
    latency: impl Fn(&Cluster) -> f64,
) -> Vec<Copy> {
    placement
        .iter()
        .filter(|e| e.service == service.name && e.replicas > 0)
        .filter_map(|e| {
            let cluster = clusters.iter().find(|c| c.name.as_str() == e.cluster)?;
            Some(Copy {
                latency_ms: latency(cluster),
                capacity_rps: service.scaling.alpha * f64::from(e.replicas) + service.scaling.beta,
            })
        })
        .collect()
}

/// Processing time of one request on an idle replica (ms): `1000 / alpha`.
pub fn processing_ms(service: &ServiceSpec) -> f64 {
    if service.scaling.alpha > 0.0 {
        1000.0 / service.scaling.alpha
    } else {
        0.0
    }
}
