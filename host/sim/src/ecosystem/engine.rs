//! One round of the proactive migration engine in the simulation, as `smo serve` runs it: the
//! workloads below the threshold (critical first, then the least satisfied) are offered their
//! moves and their neighbours' (see [`offer`]) one at a time, and the moves the strategy
//! answers are carried out until the budget; a workload still below after a move is asked
//! once more.

use super::world::World;
use crate::driver::{DriverError, StrategyDriver};
use crate::step_loop::SimError;
use smo_core::ecosystem::learning::CostModel;
use smo_core::ecosystem::options::{candidates, move_options, unmet_neighbours, Found, Moving};
use smo_plugin_api::extra::{self, EcosystemMigrationExtra, EcosystemOptions};
use smo_plugin_api::{Graph, MigrationRequest, Placement, RVec, Resources, Telemetry};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Round {
    /// Workloads below the threshold.
    pub below: usize,
    /// Strategy calls (workloads that had a move to offer).
    pub asked: usize,
    pub moved: usize,
    /// Seconds of downtime and copy of the moves.
    pub seconds: f64,
    pub gib: f64,
    /// Calls that failed (the round goes on).
    pub failed: usize,
    pub decide: Duration,
}

/// Runs one round with `strategy` (`plugin/name?params`) and a budget of `budget` moves.
pub fn round(
    world: &mut World<'_>,
    strategy: &str,
    driver: &dyn StrategyDriver,
    budget: usize,
) -> Result<Round, SimError> {
    let ordered = candidates(&world.map, &world.weights);
    let mut out = Round {
        below: ordered.len(),
        ..Round::default()
    };
    let mut queue: VecDeque<(usize, String, bool)> =
        ordered.into_iter().map(|c| (c.id, c.name, false)).collect();
    while let Some((id, name, again)) = queue.pop_front() {
        if out.moved >= budget {
            break;
        }
        let found = offer(world, id, &name);
        if found.options.is_empty() {
            continue;
        }
        let request = Arc::new(MigrationRequest {
            graph: Graph {
                name: name.split('/').next().unwrap_or_default().into(),
                services: RVec::new(),
            },
            clusters: world.clusters(),
            current: Placement::default(),
            telemetry: Telemetry::default(),
            extra: extra::write(&EcosystemMigrationExtra {
                ecosystem: EcosystemOptions {
                    threshold: world.weights.threshold,
                    budget: 1,
                    options: found.options.clone(),
                },
            }),
        });
        out.asked += 1;
        let decision = match driver.migrate(strategy, &request) {
            Ok((decision, took)) => {
                out.decide += took;
                decision
            }
            Err(e @ (DriverError::UnknownStrategy(_) | DriverError::BadParameters(_))) => {
                return Err(SimError::Strategy {
                    strategy: strategy.to_owned(),
                    message: e.to_string(),
                })
            }
            Err(error) => {
                tracing::warn!(workload = %name, %error, "ecosystem migration failed");
                out.failed += 1;
                continue;
            }
        };
        let mut moved_here = false;
        for mv in decision.moves.iter() {
            let offered = found.options.iter().any(|o| {
                o.service == mv.service.as_str()
                    && o.from == mv.from.as_str()
                    && o.to == mv.to.as_str()
            });
            if !offered || out.moved >= budget {
                continue;
            }
            if let Some(moved) = world.relocate(mv.service.as_str(), mv.to.as_str()) {
                tracing::debug!(workload = %mv.service, to = %mv.to, reason = %mv.reason, "moved");
                out.moved += 1;
                out.seconds += moved.seconds;
                out.gib += moved.gib;
                moved_here = true;
            }
        }
        let still_below = world
            .map
            .score(id, &world.weights)
            .is_some_and(|s| s.violated || s.score < world.weights.threshold);
        if moved_here && still_below && !again {
            queue.push_front((id, name, true));
        }
    }
    Ok(out)
}

/// Whether `demand` fits datacenter `d`'s free capacity.
fn fits(world: &World<'_>, d: usize, demand: &Resources) -> bool {
    world.dcs[d].free().fits(demand)
}

/// The moves offered for workload `id` (`name`): its own to each datacenter with room, and
/// those of its neighbours in the same application that could meet one of its unmet
/// requirements by joining it on its datacenter.
fn offer(world: &mut World<'_>, id: usize, name: &str) -> Found {
    let cost_model = CostModel::default();
    let bandwidth = world.bandwidth_gbps();
    let Some(workload) = world.workloads.get(name).cloned() else {
        return Found::default();
    };
    let names: Vec<String> = world
        .sc
        .spec
        .datacenters
        .iter()
        .map(|d| d.name.clone())
        .collect();
    let home = names[workload.dc].clone();
    let targets: Vec<&str> = (0..names.len())
        .filter(|&d| d != workload.dc && fits(world, d, &workload.demand))
        .map(|d| names[d].as_str())
        .collect();
    let mut found = move_options(
        &mut world.map,
        Moving {
            id,
            name,
            service: name,
            home: &home,
            replicas: 1,
        },
        &targets,
        &world.weights,
        &cost_model,
        bandwidth,
    );
    for neighbour in unmet_neighbours(&world.map, id) {
        let Some((neighbour_name, _, _)) = world.map.describe(neighbour) else {
            continue;
        };
        let neighbour_name = neighbour_name.to_owned();
        let Some(n) = world.workloads.get(&neighbour_name).cloned() else {
            continue;
        };
        if n.instance != workload.instance || n.dc == workload.dc {
            continue;
        }
        if !fits(world, workload.dc, &n.demand) {
            continue;
        }
        let joined = move_options(
            &mut world.map,
            Moving {
                id: neighbour,
                name: &neighbour_name,
                service: &neighbour_name,
                home: &names[n.dc],
                replicas: 1,
            },
            &[home.as_str()],
            &world.weights,
            &cost_model,
            bandwidth,
        );
        found.options.extend(joined.options);
    }
    found
}
