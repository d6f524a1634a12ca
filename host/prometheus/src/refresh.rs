//! The full refresh of research note §5 before an offload action, and how it becomes the
//! migration strategy's inputs: measured loads and calls ([`apply_refresh`]) and the members of
//! `request.extra` ([`refresh_extra`]).

use serde::{Deserialize, Serialize};
use smo_plugin_api::{RVec, ServiceLoad, Telemetry};
use std::collections::BTreeMap;

/// CPU and memory of one area (cloud or edge).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AreaUsage {
    /// CPU cores used, per pod (rate over the window).
    pub cpu_cores_by_pod: BTreeMap<String, f64>,
    /// Memory bytes used, per pod (instant).
    pub memory_bytes_by_pod: BTreeMap<String, f64>,
    /// CPU cores per service (its pods summed); empty when the pods of services are unknown.
    pub cpu_cores: BTreeMap<String, f64>,
    /// Memory bytes per service; empty when the pods of services are unknown.
    pub memory_bytes: BTreeMap<String, f64>,
}

/// One edge of the measured call graph: `rate` calls per second from `source` to
/// `destination` (the ingress app is a source like the services).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRate {
    pub source: String,
    pub destination: String,
    pub rate: f64,
}

/// The full refresh of research note §5, before an offload or unoffload. Services without
/// traffic in the window are absent from the maps; unknown delays are NaN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SbmpRefresh {
    /// The ingress app (the user node of the call graph).
    pub ingress_app: String,
    /// The services, in the order of [`PromQueries::services`] (node `i` of the call graph).
    pub services: Vec<String>,
    /// Mean user delay at the edge ingress (ms).
    pub user_delay_ms: f64,
    /// The configured quantile and the rate-weighted user delay at it (ms), if configured.
    pub user_delay_quantile_ms: Option<(f64, f64)>,
    /// λ: user requests per second entering at this edge.
    pub user_rate: f64,
    /// λ over all edges.
    pub user_rate_all_edges: f64,
    /// Requests per second received by each service (both areas).
    pub service_rates: BTreeMap<String, f64>,
    /// Calls per second between apps (both areas), sorted by source then destination.
    pub call_rates: Vec<CallRate>,
    /// Mean response size per service (bytes).
    pub response_bytes: BTreeMap<String, f64>,
    pub cloud: AreaUsage,
    pub edge: AreaUsage,
}

impl SbmpRefresh {
    /// GMA's multi-edge resource scaling `λ / λ_all` (1 when there is no traffic at all).
    pub fn resource_scaling(&self) -> f64 {
        if self.user_rate_all_edges > 0.0 {
            self.user_rate / self.user_rate_all_edges
        } else {
            1.0
        }
    }

    /// The call frequencies Fm as `(i, j, Fm[i][j])`, nodes numbered as
    /// [`SbmpRefresh::services`] with the user last: `Fm[i][j] = rate(i→j) / rate into i`, and
    /// for the user row `rate(ingress→j) / λ` (research note §5). Edges whose divisor is not
    /// positive, or naming unknown apps, are left out.
    pub fn call_frequencies(&self) -> Vec<(usize, usize, f64)> {
        let index = |app: &str| self.services.iter().position(|s| s == app);
        let user = self.services.len();
        self.call_rates
            .iter()
            .filter_map(|c| {
                let j = index(&c.destination)?;
                let (i, divisor) = if c.source == self.ingress_app {
                    (user, self.user_rate)
                } else {
                    let i = index(&c.source)?;
                    (i, self.service_rates.get(&c.source).copied().unwrap_or(0.0))
                };
                (divisor > 0.0).then(|| (i, j, c.rate / divisor))
            })
            .collect()
    }
}

/// A measured quantity usable as a rate, a size or a usage: finite and not negative, else 0
/// (absent: no traffic or no pod in the window; NaN: Prometheus's 0/0).
pub(super) fn measured(v: Option<&f64>) -> f64 {
    v.copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0)
}

/// `base` with the measurements of `refresh` in place of the host's own figures (research note
/// §2: what GMA gives its strategy connector):
///
/// - `loads`: one a service of `base.loads`, then one for each service of the refresh that
///   `base` lacks; `current_rps` = `predicted_rps` = the measured rate into the service (0
///   without traffic), `response_time_ms` = the measured mean user delay (0 when unknown).
///   `cpu_utilisation` and `memory_utilisation` stay `base`'s: they are fractions of the
///   requests, which Prometheus does not know; the measured cores and bytes go in
///   `request.extra` instead ([`refresh_extra`]).
/// - `calls`: the measured call rates (Fm × λ), the ingress app renamed `users_node` (the user
///   node of the strategies, [`user_delay::USERS`]); calls from or to an app that is neither a
///   service nor the ingress, calls to the ingress, and rates that are not positive are left
///   out. `mean_response_bytes` is the callee's measured response size (0 when unknown).
/// - `links` and `time_unix_s` stay `base`'s.
pub fn apply_refresh(base: Telemetry, refresh: &SbmpRefresh, users_node: &str) -> Telemetry {
    let delay = measured(Some(&refresh.user_delay_ms));
    let mut names: Vec<String> = base.loads.iter().map(|l| l.service.to_string()).collect();
    for s in &refresh.services {
        if !names.contains(s) {
            names.push(s.clone());
        }
    }
    let loads: Vec<ServiceLoad> = names
        .iter()
        .map(|name| {
            let rps = measured(refresh.service_rates.get(name));
            let before = base.loads.iter().find(|l| l.service.as_str() == name);
            ServiceLoad {
                service: name.as_str().into(),
                current_rps: rps,
                predicted_rps: rps,
                cpu_utilisation: before.map_or(0.0, |l| l.cpu_utilisation),
                memory_utilisation: before.map_or(0.0, |l| l.memory_utilisation),
                response_time_ms: delay,
            }
        })
        .collect();
    let service = |app: &str| refresh.services.iter().any(|s| s == app);
    let calls: Vec<smo_plugin_api::CallRate> = refresh
        .call_rates
        .iter()
        .filter(|c| c.rate.is_finite() && c.rate > 0.0 && service(&c.destination))
        .filter_map(|c| {
            let from = if c.source == refresh.ingress_app {
                users_node
            } else if service(&c.source) {
                c.source.as_str()
            } else {
                return None;
            };
            Some(smo_plugin_api::CallRate {
                from: from.into(),
                to: c.destination.as_str().into(),
                rps: c.rate,
                mean_response_bytes: measured(refresh.response_bytes.get(&c.destination)),
            })
        })
        .collect();
    Telemetry {
        time_unix_s: base.time_unix_s,
        loads: RVec::from(loads),
        links: base.links,
        calls: RVec::from(calls),
    }
}

/// The members of `request.extra` a refresh gives (those `sbmp-gma/offload` reads):
/// `meResourceScaling` = λ / λ over all edges (when positive), and `usage` = the measured CPU
/// cores and memory (MiB) of each service of the refresh in the cloud and at the edge
/// (`cloudCpu`, `edgeCpu`, `cloudMemoryMib`, `edgeMemoryMib`; 0 where it has no pod). `usage`
/// is left out when the pods of services are unknown (no per-service sums at all), so that the
/// strategy derives usage from the loads.
pub fn refresh_extra(refresh: &SbmpRefresh) -> serde_json::Map<String, serde_json::Value> {
    const MIB: f64 = 1024.0 * 1024.0;
    let mut extra = serde_json::Map::new();
    let scaling = refresh.resource_scaling();
    if scaling.is_finite() && scaling > 0.0 {
        extra.insert("meResourceScaling".into(), scaling.into());
    }
    let (cloud, edge) = (&refresh.cloud, &refresh.edge);
    let known = [
        &cloud.cpu_cores,
        &cloud.memory_bytes,
        &edge.cpu_cores,
        &edge.memory_bytes,
    ]
    .iter()
    .any(|m| !m.is_empty());
    if known {
        let usage: serde_json::Map<String, serde_json::Value> = refresh
            .services
            .iter()
            .map(|s| {
                let v = serde_json::json!({
                    "cloudCpu": measured(cloud.cpu_cores.get(s)),
                    "edgeCpu": measured(edge.cpu_cores.get(s)),
                    "cloudMemoryMib": measured(cloud.memory_bytes.get(s)) / MIB,
                    "edgeMemoryMib": measured(edge.memory_bytes.get(s)) / MIB,
                });
                (s.clone(), v)
            })
            .collect();
        extra.insert("usage".into(), usage.into());
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_frequencies_divide_by_the_callers_rate() {
        let r = SbmpRefresh {
            ingress_app: "gw".into(),
            services: vec!["s0".into(), "s1".into()],
            user_delay_ms: 1.0,
            user_delay_quantile_ms: None,
            user_rate: 10.0,
            user_rate_all_edges: 40.0,
            service_rates: [("s0".to_owned(), 10.0), ("s1".to_owned(), 5.0)].into(),
            call_rates: vec![
                CallRate {
                    source: "gw".into(),
                    destination: "s0".into(),
                    rate: 10.0,
                },
                CallRate {
                    source: "s0".into(),
                    destination: "s1".into(),
                    rate: 5.0,
                },
                CallRate {
                    source: "other".into(),
                    destination: "s1".into(),
                    rate: 5.0,
                },
            ],
            response_bytes: BTreeMap::new(),
            cloud: AreaUsage::default(),
            edge: AreaUsage::default(),
        };
        assert_eq!(r.call_frequencies(), vec![(2, 0, 1.0), (0, 1, 0.5)]);
        assert_eq!(r.resource_scaling(), 0.25);
    }

    fn call(source: &str, destination: &str, rate: f64) -> CallRate {
        CallRate {
            source: source.into(),
            destination: destination.into(),
            rate,
        }
    }

    /// gw → s0 (10/s), s0 → s1 (5/s), plus calls the mapping must drop.
    fn shop_refresh() -> SbmpRefresh {
        let map = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
        };
        SbmpRefresh {
            ingress_app: "gw".into(),
            services: vec!["s0".into(), "s1".into()],
            user_delay_ms: 87.5,
            user_delay_quantile_ms: None,
            user_rate: 10.0,
            user_rate_all_edges: 40.0,
            service_rates: map(&[("s0", 10.0), ("s1", 5.0)]),
            call_rates: vec![
                call("gw", "s0", 10.0),
                call("loadgen", "s1", 3.0),
                call("s0", "gw", 1.0),
                call("s0", "s1", 5.0),
                call("s1", "s0", 0.0),
                call("s1", "s1", f64::NAN),
            ],
            response_bytes: map(&[("s0", 2000.0), ("s1", f64::NAN)]),
            cloud: AreaUsage {
                cpu_cores: map(&[("s0", 0.5), ("s1", 2.0)]),
                memory_bytes: map(&[("s0", 2.0 * 1024.0 * 1024.0), ("s1", 1024.0 * 1024.0)]),
                ..AreaUsage::default()
            },
            edge: AreaUsage {
                cpu_cores: map(&[("s0", 0.25)]),
                memory_bytes: map(&[("s0", 512.0 * 1024.0)]),
                ..AreaUsage::default()
            },
        }
    }

    fn load(service: &str, rps: f64, cpu: f64) -> ServiceLoad {
        ServiceLoad {
            service: service.into(),
            current_rps: rps,
            predicted_rps: rps * 2.0,
            cpu_utilisation: cpu,
            memory_utilisation: cpu / 2.0,
            response_time_ms: 3.0,
        }
    }

    fn base() -> Telemetry {
        Telemetry {
            time_unix_s: 1_700_000_000,
            loads: RVec::from(vec![load("s1", 99.0, 0.8), load("old", 7.0, 0.1)]),
            links: RVec::from(vec![smo_plugin_api::Link {
                from: "cloud".into(),
                to: "edge".into(),
                latency_ms: 30.0,
                bandwidth_mbps: 100.0,
            }]),
            calls: RVec::from(vec![smo_plugin_api::CallRate {
                from: "users".into(),
                to: "s1".into(),
                rps: 99.0,
                mean_response_bytes: 20480.0,
            }]),
        }
    }

    #[test]
    fn a_refresh_replaces_the_loads_and_calls_and_keeps_the_links() {
        let base = base();
        let t = apply_refresh(base.clone(), &shop_refresh(), "users");
        assert_eq!(t.time_unix_s, base.time_unix_s);
        assert_eq!(t.links, base.links);
        // Base order first, then the refresh's services it lacked; utilisation kept.
        let loads: Vec<(&str, f64, f64, f64, f64, f64)> = t
            .loads
            .iter()
            .map(|l| {
                (
                    l.service.as_str(),
                    l.current_rps,
                    l.predicted_rps,
                    l.cpu_utilisation,
                    l.memory_utilisation,
                    l.response_time_ms,
                )
            })
            .collect();
        assert_eq!(
            loads,
            [
                ("s1", 5.0, 5.0, 0.8, 0.4, 87.5),
                ("old", 0.0, 0.0, 0.1, 0.05, 87.5),
                ("s0", 10.0, 10.0, 0.0, 0.0, 87.5),
            ]
        );
        // The ingress becomes the user node; loadgen, calls to the ingress, zero and NaN
        // rates are dropped; sizes are the callee's (NaN: 0).
        let calls: Vec<(&str, &str, f64, f64)> = t
            .calls
            .iter()
            .map(|c| (c.from.as_str(), c.to.as_str(), c.rps, c.mean_response_bytes))
            .collect();
        assert_eq!(
            calls,
            [("users", "s0", 10.0, 2000.0), ("s0", "s1", 5.0, 0.0)]
        );
        // Another user node name is used as given.
        let t = apply_refresh(base, &shop_refresh(), "ingress");
        assert_eq!(t.calls[0].from.as_str(), "ingress");
    }

    #[test]
    fn an_unknown_delay_is_a_zero_response_time() {
        let mut r = shop_refresh();
        r.user_delay_ms = f64::NAN;
        r.service_rates.insert("s0".into(), f64::NAN);
        let t = apply_refresh(Telemetry::default(), &r, "users");
        assert!(t.loads.iter().all(|l| l.response_time_ms == 0.0));
        assert_eq!(t.loads[0].service.as_str(), "s0");
        assert_eq!(t.loads[0].current_rps, 0.0);
    }

    #[test]
    fn the_extra_gives_usage_in_mib_and_the_resource_scaling() {
        let extra = refresh_extra(&shop_refresh());
        assert_eq!(
            serde_json::Value::Object(extra),
            serde_json::json!({
                "meResourceScaling": 0.25,
                "usage": {
                    "s0": {"cloudCpu": 0.5, "edgeCpu": 0.25, "cloudMemoryMib": 2.0, "edgeMemoryMib": 0.5},
                    "s1": {"cloudCpu": 2.0, "edgeCpu": 0.0, "cloudMemoryMib": 1.0, "edgeMemoryMib": 0.0},
                }
            })
        );
        // Pods of services unknown: no usage. No user traffic here but some elsewhere: a
        // scaling of 0 is left out (the strategy's default is 1).
        let mut r = shop_refresh();
        r.cloud = AreaUsage::default();
        r.edge = AreaUsage::default();
        r.user_rate = 0.0;
        assert!(refresh_extra(&r).is_empty(), "{:?}", refresh_extra(&r));
    }
}
