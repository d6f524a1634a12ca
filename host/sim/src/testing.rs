//! Test helpers: a tiny scenario, the shipped scenarios' folder, and a driver running small
//! in-process Rust strategies (the end-to-end tests with real `.so` files live in `tests/`).

use super::driver::{DriverError, StrategyDriver};
use smo_plugin_api::capacity::FreeCapacity;
use smo_plugin_api::{
    Assignment, Cluster, MigrationDecision, MigrationRequest, Move, PlacementDecision,
    PlacementRequest, ReplicaChoice, ScalingDecision, ScalingRequest,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The repository's `scenarios/` folder.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// One datacenter with one 4-core server (100 W idle, 200 W peak, PUE 1.5, 300 g/kWh), two
/// 30-minute steps, one 2-core VM arriving at 0 for 30 minutes.
pub fn minimal_yaml() -> String {
    r#"name: tiny
data_source: hand-written test case
seed: 7
start: 2024-01-01T00:00:00Z
hours: 1
step_minutes: 30
slo_ms: 100
users:
  - name: paris
    lat: 48.8566
    lon: 2.3522
datacenters:
  - name: dc
    lat: 48.8566
    lon: 2.3522
    pue: 1.5
    carbon_intensity: 300
    servers:
      - count: 1
        cores: 4
        memory_gib: 16
        idle_w: 100
        peak_w: 200
workload:
  vms:
    kind: list
    requests:
      - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 1800}
"#
    .to_string()
}

/// In-process strategies, by name:
/// - `test/first-fit`: each service on the first cluster with room; skips what fits nowhere;
/// - `test/greenest`: the lowest carbon intensity with room;
/// - `test/nearest`: the lowest user latency (from the telemetry links) with room;
/// - `test/first-fit-shared-idle`: like first-fit, asking the host for
///   `least_power_shared_idle` servers; `test/first-fit-bad-hint` asks for a policy that
///   does not exist;
/// - `test/all-or-nothing`: like first-fit, but `Infeasible` when one service fits nowhere;
/// - `test/bogus`: every service on a cluster that does not exist;
/// - `test/overfill`: every service on the first cluster, room or not;
/// - `test/broken`: always fails;
/// - scaling `test/alpha-beta`: the least `r` with `alpha * r + beta >= predicted`;
/// - migration `test/to-edge`: moves every cloud copy to the first edge cluster;
/// - VM migration `test/vms-to-last-server`: moves every VM to the last server of its
///   cluster (named in the decision's `extra`); `test/vms-to-last-cluster`: to the last
///   cluster, server left to the host; `test/vms-stay`: to the server each VM is on;
///   `test/vms-bad-extra`: a decision whose `extra` names servers wrongly.
#[derive(Default)]
pub struct TestDriver;

fn room<'a>(
    free: &FreeCapacity,
    s: &smo_plugin_api::Service,
    order: impl Iterator<Item = &'a Cluster>,
) -> Option<&'a Cluster> {
    order.into_iter().find(|c| free.fits(s, c))
}

impl StrategyDriver for TestDriver {
    fn place(
        &self,
        strategy: &str,
        req: &Arc<PlacementRequest>,
    ) -> Result<(PlacementDecision, Duration), DriverError> {
        let mut free = FreeCapacity::new(&req.clusters);
        let mut decision = PlacementDecision::default();
        let latency = |c: &Cluster| {
            req.telemetry
                .links
                .iter()
                .filter(|l| l.to == c.name && l.from.starts_with("users"))
                .map(|l| l.latency_ms)
                .fold(f64::INFINITY, f64::min)
        };
        for s in req.graph.services.iter() {
            let mut order: Vec<&Cluster> = req.clusters.iter().collect();
            let chosen = match strategy {
                "test/first-fit" | "test/all-or-nothing" => room(&free, s, order.into_iter()),
                "test/first-fit-shared-idle" | "test/first-fit-bad-hint" => {
                    decision.extra = if strategy.ends_with("bad-hint") {
                        r#"{"server_selection": "best_fit"}"#.into()
                    } else {
                        r#"{"server_selection": "least_power_shared_idle"}"#.into()
                    };
                    room(&free, s, order.into_iter())
                }
                "test/greenest" => {
                    order.sort_by(|a, b| {
                        a.energy
                            .carbon_intensity_g_per_kwh
                            .total_cmp(&b.energy.carbon_intensity_g_per_kwh)
                    });
                    room(&free, s, order.into_iter())
                }
                "test/nearest" => {
                    order.sort_by(|a, b| latency(a).total_cmp(&latency(b)));
                    room(&free, s, order.into_iter())
                }
                "test/overfill" => req.clusters.first(),
                "test/bogus" => {
                    decision.placement.assignments.push(Assignment {
                        service: s.name.clone(),
                        cluster: "nowhere".into(),
                        replicas: 1,
                    });
                    continue;
                }
                "test/broken" => return Err(DriverError::Failed("boom".into())),
                other => return Err(DriverError::UnknownStrategy(other.into())),
            };
            match chosen {
                Some(c) => {
                    free.reserve(s, c.name.as_str());
                    decision.placement.assignments.push(Assignment {
                        service: s.name.clone(),
                        cluster: c.name.clone(),
                        replicas: s.replicas.max(1),
                    });
                }
                None if strategy == "test/all-or-nothing" => {
                    return Err(DriverError::Infeasible(format!(
                        "`{}` fits nowhere",
                        s.name
                    )))
                }
                None => {}
            }
        }
        Ok((decision, Duration::from_micros(10)))
    }

    fn scale(
        &self,
        strategy: &str,
        req: &Arc<ScalingRequest>,
    ) -> Result<(ScalingDecision, Duration), DriverError> {
        if strategy != "test/alpha-beta" {
            return Err(DriverError::UnknownStrategy(strategy.into()));
        }
        let mut d = ScalingDecision::default();
        for a in req.placement.assignments.iter() {
            let Some(s) = req.graph.services.iter().find(|s| s.name == a.service) else {
                continue;
            };
            let load = req
                .telemetry
                .loads
                .iter()
                .find(|l| l.service == a.service)
                .map_or(0.0, |l| l.predicted_rps.max(l.current_rps));
            let p = s.scaling;
            let r = if p.alpha > 0.0 {
                ((load - p.beta) / p.alpha).ceil().max(1.0) as u32
            } else {
                p.min_replicas
            };
            d.replicas.push(ReplicaChoice {
                service: a.service.clone(),
                replicas: r.clamp(p.min_replicas, p.max_replicas),
                reason: "".into(),
            });
        }
        Ok((d, Duration::from_micros(5)))
    }

    fn migrate(
        &self,
        strategy: &str,
        req: &Arc<MigrationRequest>,
    ) -> Result<(MigrationDecision, Duration), DriverError> {
        if strategy.starts_with("test/vms-") {
            return vm_moves(strategy, req).map(|d| (d, Duration::from_micros(5)));
        }
        if strategy == "test/ecosystem-best" {
            return Ok((ecosystem_best(req), Duration::from_micros(5)));
        }
        if strategy != "test/to-edge" {
            return Err(DriverError::UnknownStrategy(strategy.into()));
        }
        let mut d = MigrationDecision::default();
        let Some(edge) = req
            .clusters
            .iter()
            .find(|c| c.role == smo_plugin_api::ClusterRole::Edge)
        else {
            return Ok((d, Duration::ZERO));
        };
        for a in req.current.assignments.iter() {
            let cloud = req
                .clusters
                .iter()
                .any(|c| c.name == a.cluster && c.role == smo_plugin_api::ClusterRole::Cloud);
            if cloud {
                d.moves.push(Move {
                    service: a.service.clone(),
                    from: a.cluster.clone(),
                    to: edge.name.clone(),
                    replicas: 0,
                    reason: "".into(),
                    expected_gain: 0.0,
                    expected_cost: 0.0,
                });
            }
        }
        Ok((d, Duration::from_micros(5)))
    }
}

/// The `test/vms-*` VM migration strategies (see [`TestDriver`]).
fn vm_moves(strategy: &str, req: &MigrationRequest) -> Result<MigrationDecision, DriverError> {
    let mut d = MigrationDecision::default();
    let mut servers = serde_json::Map::new();
    for vm in req.graph.services.iter() {
        let extra: serde_json::Value = serde_json::from_str(vm.extra.as_str())
            .map_err(|e| DriverError::Failed(e.to_string()))?;
        let on = extra["server"].as_u64().unwrap_or(0);
        let Some(from) = req.current.cluster_of(vm.name.as_str()) else {
            continue;
        };
        let cluster = |name: &str| req.clusters.iter().find(|c| c.name == name);
        let last_server = cluster(from).map_or(0, |c| {
            let x: serde_json::Value = serde_json::from_str(c.extra.as_str()).unwrap_or_default();
            (x["server_detail"]["servers"]
                .as_array()
                .map_or(0, |a| a.len()) as u64)
                .saturating_sub(1)
        });
        let to = match strategy {
            "test/vms-to-last-server" if on != last_server => {
                servers.insert(vm.name.to_string(), last_server.into());
                from.to_string()
            }
            "test/vms-to-last-cluster" => match req.clusters.last() {
                Some(c) if c.name != from => c.name.to_string(),
                _ => continue,
            },
            "test/vms-stay" => {
                servers.insert(vm.name.to_string(), on.into());
                from.to_string()
            }
            "test/vms-bad-extra" => from.to_string(),
            "test/vms-to-last-server" => continue,
            other => return Err(DriverError::UnknownStrategy(other.into())),
        };
        d.moves.push(Move {
            service: vm.name.clone(),
            from: from.into(),
            to: to.into(),
            replicas: 1,
            reason: "".into(),
            expected_gain: 0.0,
            expected_cost: 0.0,
        });
    }
    d.extra = if strategy == "test/vms-bad-extra" {
        r#"{"servers": ["vm-0"]}"#.into()
    } else {
        serde_json::json!({ "servers": servers }).to_string().into()
    };
    Ok(d)
}

/// `test/ecosystem-best`: the offered move with the largest gain (own score change plus the
/// dependents'), when it gains anything.
fn ecosystem_best(req: &MigrationRequest) -> MigrationDecision {
    let mut d = MigrationDecision::default();
    let Ok(extra) = smo_plugin_api::extra::read::<smo_plugin_api::extra::EcosystemMigrationExtra>(
        req.extra.as_str(),
    ) else {
        return d;
    };
    let gain = |o: &smo_plugin_api::extra::EcosystemMoveOption| {
        o.score_after - o.score_before + o.dependents_delta
    };
    if let Some(best) = extra
        .ecosystem
        .options
        .iter()
        .filter(|o| gain(o) > 1e-9)
        .max_by(|a, b| gain(a).total_cmp(&gain(b)))
    {
        d.moves.push(Move {
            service: best.service.as_str().into(),
            from: best.from.as_str().into(),
            to: best.to.as_str().into(),
            replicas: best.replicas,
            reason: "best gain".into(),
            expected_gain: gain(best),
            expected_cost: 0.0,
        });
    }
    d
}
