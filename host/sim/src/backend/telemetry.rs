//! `smo serve --scenario FILE`: the scenario's clusters, energy and loads as the daemon's
//! telemetry. Clusters come from the scenario, their energy profiles follow its hourly data,
//! and loads its rate series.
//!
//! Simulated time starts at the scenario's `start` when the daemon starts and runs `speed` times
//! faster than the wall clock (1 = real time), wrapping around the scenario's horizon. The
//! clusters' energy profiles follow the hour ([`ScenarioTelemetry::clusters_now`]: carbon
//! intensity, on-site renewable supply, grid renewable share, energy price); the daemon writes
//! them to its store every simulated hour, so strategies see them change.
//! Services named in the scenario's workload get its request rates (per step, seeded noise);
//! other services get the deterministic [`SineLoad`]. The users' delay is the simulator's model
//! ([`smo_core::delay`]) with the scenario's users, network and per-service processing times.

use super::sine::{sine_model, SineLoad};
use crate::environment::Environment;
use crate::scenario::{DatacenterSpec, Role, Scenario};
use crate::step_loop::{network, Net};
use smo_core::delay;
use smo_core::geo;
use smo_core::graphs::GraphSpec;
use smo_core::placement::PlacementEntry;
use smo_core::ports::{TelemetryError, TelemetrySource};
use smo_core::user_delay::{self, UserDelay};
use smo_plugin_api::{
    Cluster, ClusterRole, EnergyProfile, Label, Link, Location, Prices, RVec, Resources, Telemetry,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The scenario-driven continuum behind `smo serve --scenario`.
pub struct ScenarioTelemetry {
    scenario: Scenario,
    speed: f64,
    origin: Instant,
    env: Environment,
    rates: HashMap<String, Vec<f64>>,
    net: Net,
    fallback: SineLoad,
}

impl ScenarioTelemetry {
    /// Prepares the series of `scenario`; `speed` > 0 is simulated seconds per wall second.
    pub fn new(scenario: Scenario, speed: f64) -> Result<Self, String> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(format!("speed must be a positive number, got {speed}"));
        }
        let env = Environment::new(&scenario)?;
        let rates = crate::workload::service_rates(&scenario)?;
        let rates = scenario
            .spec
            .workload
            .services
            .iter()
            .map(|s| s.name.clone())
            .zip(rates)
            .collect();
        let net = network(&scenario);
        Ok(Self {
            scenario,
            speed,
            origin: Instant::now(),
            env,
            rates,
            net,
            fallback: SineLoad::default(),
        })
    }

    /// Simulated seconds since the scenario's start, wrapped to its horizon.
    pub fn elapsed_s(&self) -> f64 {
        let horizon = f64::from(self.scenario.spec.hours.max(1)) * 3600.0;
        (self.origin.elapsed().as_secs_f64() * self.speed) % horizon
    }

    /// The scenario's current request rate of `service`, if the scenario names it.
    fn scenario_rate(&self, service: &str) -> Option<f64> {
        let series = self.rates.get(service).filter(|s| !s.is_empty())?;
        Some(series[self.step() % series.len()])
    }

    /// One-way latency from user population `user` to `cluster` (ms): the simulator's for a
    /// scenario datacenter, else the scenario's distance model from the coordinates.
    fn latency_ms(&self, user: usize, cluster: &Cluster) -> f64 {
        let spec = &self.scenario.spec;
        if let Some(d) = spec
            .datacenters
            .iter()
            .position(|d| d.name == cluster.name.as_str())
        {
            return self.net.user_lat[user][d];
        }
        let u = &spec.users[user];
        let km = geo::distance_km((u.lat, u.lon), (cluster.location.lat, cluster.location.lon));
        geo::latency_ms(km, spec.network.ms_per_km, spec.network.base_ms)
    }

    /// The simulated hour (0-based) now.
    pub fn hour(&self) -> usize {
        (self.elapsed_s() / 3600.0) as usize
    }

    fn step(&self) -> usize {
        (self.elapsed_s() / f64::from(self.scenario.step_s().max(1))) as usize
    }

    /// The scenario's datacenters as clusters, with the energy profile of simulated hour `hour`.
    pub fn clusters_at(&self, hour: usize) -> Vec<Cluster> {
        self.scenario
            .spec
            .datacenters
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let last = self.env.ci[i].len().saturating_sub(1);
                cluster(d, &self.env, i, hour.min(last))
            })
            .collect()
    }

    /// The scenario's clusters for the current simulated hour.
    pub fn clusters_now(&self) -> Vec<Cluster> {
        self.clusters_at(self.hour())
    }

    /// The wall-clock length of a simulated hour (at least 50 ms).
    pub fn hour_period(&self) -> Duration {
        Duration::from_secs_f64((3600.0 / self.speed).max(0.05))
    }
}

fn cluster(d: &DatacenterSpec, env: &Environment, i: usize, hour: usize) -> Cluster {
    let mut capacity = Resources::default();
    let (mut idle_w, mut peak_w) = (0.0, 0.0);
    for s in &d.servers {
        let n = f64::from(s.count);
        capacity.cpu += s.cores * n;
        capacity.memory_mib += s.memory_gib * 1024.0 * n;
        capacity.gpu += s.gpus * s.count;
        let curve = s.power_curve_w.as_deref().unwrap_or(&[]);
        idle_w += n * s.idle_w.or(curve.first().copied()).unwrap_or(0.0);
        peak_w += n * s.peak_w.or(curve.last().copied()).unwrap_or(0.0);
    }
    Cluster {
        name: d.name.as_str().into(),
        role: match d.role {
            Role::Cloud => ClusterRole::Cloud,
            Role::Edge => ClusterRole::Edge,
            Role::Iot => ClusterRole::Iot,
        },
        location: Location {
            lat: d.lat,
            lon: d.lon,
            region: d.region.as_str().into(),
        },
        capacity,
        available: capacity,
        energy: EnergyProfile {
            source: env.source[i].clone(),
            pue: d.pue,
            carbon_intensity_g_per_kwh: env.ci[i][hour],
            renewable_supply_kw: env.renew_kw[i][hour],
            renewable_share: env.grid_share[i][hour],
            idle_power_w: idle_w,
            peak_power_w: peak_w,
            preferred_for_saving: d.preferred_for_saving,
        },
        prices: Prices {
            cpu_core_hour: d.prices.cpu_core_hour,
            memory_gib_hour: d.prices.memory_gib_hour,
            gpu_hour: d.prices.gpu_hour,
            egress_gb: d.prices.egress_gb,
            energy_kwh: env.price[i][hour],
        },
        labels: d
            .labels
            .iter()
            .map(|(k, v)| Label {
                key: k.as_str().into(),
                value: v.as_str().into(),
            })
            .collect::<RVec<_>>(),
        extra: "{}".into(),
    }
}

impl TelemetrySource for ScenarioTelemetry {
    fn user_delay(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        clusters: &[Cluster],
        now_s: f64,
    ) -> Result<UserDelay, TelemetryError> {
        let spec = &self.scenario.spec;
        if spec.users.is_empty() {
            return Ok(sine_model(
                &self.fallback,
                graph,
                placement,
                clusters,
                now_s,
            ));
        }
        let step_s = f64::from(self.scenario.step_s());
        let per_service = graph
            .services
            .iter()
            .filter_map(|service| {
                let named = spec
                    .workload
                    .services
                    .iter()
                    .find(|s| s.name == service.name);
                let user = named
                    .and_then(|s| s.user.as_ref())
                    .and_then(|u| spec.users.iter().position(|x| &x.name == u))
                    .unwrap_or(0);
                let copies =
                    user_delay::copies(service, placement, clusters, |c| self.latency_ms(user, c));
                if copies.is_empty() {
                    return None;
                }
                let processing =
                    named.map_or_else(|| user_delay::processing_ms(service), |s| s.processing_ms);
                let rps = self
                    .scenario_rate(&service.name)
                    .unwrap_or_else(|| self.fallback.service_rate(service, now_s));
                let requests = (rps * step_s).round() as u64;
                let (served, _) = delay::route(requests, step_s, processing, &copies);
                Some((service.name.clone(), served))
            })
            .collect();
        Ok(UserDelay::from_served(per_service))
    }

    /// Simulated time, not wrapped at the horizon (so the offload machine's clock never goes
    /// back).
    fn now_s(&self) -> f64 {
        self.scenario.start_unix() as f64 + self.origin.elapsed().as_secs_f64() * self.speed
    }

    fn speed(&self) -> f64 {
        self.speed
    }

    /// The simulator's links: users to datacenters and between datacenters (one-way latency,
    /// the scenario's bandwidths); clusters outside the scenario by the default model.
    fn links(&self, clusters: &[Cluster]) -> RVec<Link> {
        let known = |name: &str| {
            self.scenario
                .spec
                .datacenters
                .iter()
                .any(|d| d.name == name)
        };
        let mut links = self.net.user_links.clone();
        links.extend(self.net.dc_links.iter().cloned());
        links.extend(
            user_delay::links(clusters)
                .into_iter()
                .filter(|l| !(known(l.from.as_str()) && known(l.to.as_str()))),
        );
        links
    }

    fn response_bytes(&self, service: &str) -> f64 {
        self.scenario
            .spec
            .workload
            .services
            .iter()
            .find(|s| s.name == service)
            .map_or(20.0 * 1024.0, |s| s.response_kb * 1024.0)
    }

    fn loads(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError> {
        let mut telemetry = self.fallback.telemetry(graph, placement, now_s);
        let step = self.step();
        for load in telemetry.loads.iter_mut() {
            if let Some(series) = self.rates.get(load.service.as_str()) {
                if series.is_empty() {
                    continue;
                }
                let now = series[step % series.len()];
                let next = series[(step + 1) % series.len()];
                // Keep utilisation consistent with the new rate.
                if load.current_rps > 0.0 {
                    load.cpu_utilisation *= now / load.current_rps;
                }
                load.current_rps = now;
                load.predicted_rps = next;
            }
        }
        telemetry.time_unix_s = self.clock_s(now_s);
        Ok(telemetry)
    }

    fn clock_s(&self, _now_s: f64) -> i64 {
        self.scenario.start_unix() + self.elapsed_s() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(name);
        Scenario::load(&path).expect("scenario loads")
    }

    #[test]
    fn clusters_follow_the_hourly_carbon_of_the_scenario() {
        let sim = ScenarioTelemetry::new(scenario("eu-5dc-24h.yaml"), 1.0).unwrap();
        let at0 = sim.clusters_at(0);
        assert_eq!(at0.len(), 5);
        let changed = (1..24).any(|h| {
            sim.clusters_at(h).iter().zip(&at0).any(|(a, b)| {
                a.energy.carbon_intensity_g_per_kwh != b.energy.carbon_intensity_g_per_kwh
            })
        });
        assert!(changed, "hourly carbon intensity never changes");
        for c in &at0 {
            assert!(
                c.capacity.cpu > 0.0 && c.capacity.memory_mib > 0.0,
                "{}",
                c.name
            );
            assert!(c.energy.peak_power_w >= c.energy.idle_power_w);
            assert_eq!(c.available, c.capacity);
        }
    }

    #[test]
    fn scenario_services_get_the_scenario_rates() {
        let sim = ScenarioTelemetry::new(scenario("brussels-demo.yaml"), 1.0).unwrap();
        let rates = &sim.rates["noise-reduction"];
        assert!(!rates.is_empty());
        assert!(rates.iter().all(|r| *r >= 0.0));
        assert!(ScenarioTelemetry::new(scenario("brussels-demo.yaml"), 0.0).is_err());
    }
}
