//! The simulated continuum's demo load without a scenario: [`SineLoad`], a deterministic load
//! from the clock (delay: [`user_delay`]), as a [`TelemetrySource`]. Never used with
//! `[telemetry] source = "prometheus"`.
//!
//! `SineLoad`: service `s` with scaling profile (alpha, beta) and `min` replicas receives
//! `rps(t) = base * (1 + a * sin(2 pi t / P + phi_s))` requests/s, with
//! `base = 1.5 * (alpha * max(min, 1) + beta)`, amplitude `a = 0.6`, period `P` (default 600 s),
//! and a phase `phi_s` fixed by the service's name, so services peak at different times and the
//! same instant always gives the same load. The prediction is `rps(t + horizon)`.

use smo_core::delay;
use smo_core::graphs::{GraphSpec, ServiceSpec};
use smo_core::placement::PlacementEntry;
use smo_core::ports::{TelemetryError, TelemetrySource};
use smo_core::user_delay::{self, UserDelay};
use smo_plugin_api::{Cluster, RVec, ServiceLoad, Telemetry};
use std::f64::consts::TAU;

/// A deterministic sinusoidal load, see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SineLoad {
    /// Period of the load cycle, in seconds.
    pub period_s: f64,
    /// Relative amplitude (0..1).
    pub amplitude: f64,
    /// How far ahead the prediction looks, in seconds.
    pub horizon_s: f64,
}

impl Default for SineLoad {
    fn default() -> Self {
        Self {
            period_s: 600.0,
            amplitude: 0.6,
            horizon_s: 30.0,
        }
    }
}

/// A phase in [0, 2 pi) derived from `name` (FNV-1a), stable across runs and platforms.
fn phase(name: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % 10_000) as f64 / 10_000.0 * TAU
}

impl SineLoad {
    /// Requests/s of `service` at `t_s`, from its scaling profile (see the module docs).
    pub fn service_rate(&self, service: &ServiceSpec, t_s: f64) -> f64 {
        let profile = service.scaling;
        let base = 1.5 * (profile.alpha * f64::from(profile.min_replicas.max(1)) + profile.beta);
        self.rate(&service.name, base, t_s)
    }

    /// Requests/s of a service with base rate `base` at time `t_s`.
    pub fn rate(&self, service: &str, base: f64, t_s: f64) -> f64 {
        let angle = TAU * t_s / self.period_s + phase(service);
        (base * (1.0 + self.amplitude * angle.sin())).max(0.0)
    }
}

impl SineLoad {
    /// The load of `graph`'s deployed services at `now_s` (see the module documentation).
    pub fn telemetry(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        now_s: f64,
    ) -> Telemetry {
        let loads = graph
            .services
            .iter()
            .filter_map(|service| {
                let replicas: u32 = PlacementEntry::replicas_of(placement, &service.name);
                if replicas == 0 {
                    return None;
                }
                let profile = service.scaling;
                let current = self.service_rate(service, now_s);
                let served = profile.alpha * f64::from(replicas) + profile.beta;
                Some(ServiceLoad {
                    service: service.name.as_str().into(),
                    current_rps: current,
                    predicted_rps: self.service_rate(service, now_s + self.horizon_s),
                    cpu_utilisation: if served > 0.0 {
                        (current / served).clamp(0.0, 1.0)
                    } else {
                        1.0
                    },
                    memory_utilisation: 0.5,
                    response_time_ms: 0.0,
                })
            })
            .collect::<Vec<_>>();
        Telemetry {
            // Whole seconds are enough for strategies; the float keeps sub-second loops smooth.
            time_unix_s: now_s.floor() as i64,
            loads: RVec::from(loads),
            links: RVec::new(),
            calls: RVec::new(),
        }
    }
}

/// The model without a scenario (see the module documentation).
pub fn sine_model(
    load: &SineLoad,
    graph: &GraphSpec,
    placement: &[PlacementEntry],
    clusters: &[Cluster],
    now_s: f64,
) -> UserDelay {
    let Some(entry) = user_delay::ingress(clusters) else {
        return UserDelay::default();
    };
    let per_service = graph
        .services
        .iter()
        .filter_map(|service| {
            let copies = user_delay::copies(service, placement, clusters, |c| {
                user_delay::rtt_ms(entry, c)
            });
            if copies.is_empty() {
                return None;
            }
            let rps = load.service_rate(service, now_s);
            let requests = (rps * user_delay::WINDOW_S).round() as u64;
            let (served, _) = delay::route(
                requests,
                user_delay::WINDOW_S,
                user_delay::processing_ms(service),
                &copies,
            );
            Some((service.name.clone(), served))
        })
        .collect();
    UserDelay::from_served(per_service)
}

impl TelemetrySource for SineLoad {
    fn loads(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError> {
        Ok(self.telemetry(graph, placement, now_s))
    }

    fn user_delay(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<UserDelay, TelemetryError> {
        Ok(sine_model(self, graph, placement, clusters, now_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_is_deterministic_and_bounded() {
        let load = SineLoad::default();
        for t in [0.0, 17.0, 299.5, 1e9] {
            let a = load.rate("api", 100.0, t);
            assert_eq!(a, load.rate("api", 100.0, t));
            assert!((40.0 - 1e-9..=160.0 + 1e-9).contains(&a), "{a}");
        }
        assert_ne!(phase("api"), phase("db"));
    }

    #[test]
    fn only_deployed_services_get_a_load() {
        let spec = smo_core::graphs::brussels_demo_spec();
        let placement = vec![
            PlacementEntry::new("noise-reduction", "c", 2),
            PlacementEntry::new("image-compression-vo", "c", 0),
        ];
        let t = SineLoad::default().telemetry(&spec, &placement, 1000.0);
        assert_eq!(t.loads.len(), 1);
        assert_eq!(t.loads[0].service.as_str(), "noise-reduction");
        assert_eq!(t.time_unix_s, 1000);
    }

    #[test]
    fn the_delay_rises_with_load_and_falls_at_the_edge() {
        let spec = smo_core::graphs::brussels_demo_spec();
        let clusters = smo_plugin_api::testing::three_clusters();
        let edge = user_delay::ingress(&clusters)
            .expect("an edge")
            .name
            .to_string();
        let cloud = clusters
            .iter()
            .filter(|c| c.role == smo_plugin_api::ClusterRole::Cloud)
            .max_by(|a, b| {
                user_delay::rtt_ms(&clusters[0], a).total_cmp(&user_delay::rtt_ms(&clusters[0], b))
            })
            .expect("a cloud")
            .name
            .to_string();
        let placed = |cluster: &str| -> Vec<PlacementEntry> {
            spec.services
                .iter()
                .map(|s| PlacementEntry::new(s.name.clone(), cluster, 1))
                .collect()
        };
        let load = SineLoad::default();
        let in_cloud = placed(&cloud);
        let at_edge = placed(&edge);
        // Find a low and a high instant of the sine for comparison.
        let samples: Vec<f64> = (0..60)
            .map(|k| {
                sine_model(&load, &spec, &in_cloud, &clusters, f64::from(k) * 10.0)
                    .mean_ms
                    .expect("traffic")
            })
            .collect();
        let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = samples.iter().copied().fold(0.0, f64::max);
        assert!(hi > lo, "{lo} {hi}");
        for k in 0..60 {
            let t = f64::from(k) * 10.0;
            let cloud_d = sine_model(&load, &spec, &in_cloud, &clusters, t);
            let edge_d = sine_model(&load, &spec, &at_edge, &clusters, t);
            assert!(
                edge_d.mean_ms.expect("edge") < cloud_d.mean_ms.expect("cloud"),
                "at {t}"
            );
        }
    }
}
