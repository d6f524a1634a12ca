//! The simulated continuum as `smo serve`'s backend: the [`Continuum`] port over clusters held
//! in memory, where applied replicas become ready after a start-up delay in simulated time.
//!
//! Its clusters are the ones smo has registered ([`Continuum::registered`]), all ready. Applying
//! a graph records what each service should run where: a row whose replica count is unchanged
//! keeps its state (so applying twice is a no-op), a changed row keeps the replicas it had
//! ready (at most the new count) and reaches the new count `ready_after_s` simulated seconds
//! later, a row no longer wanted is gone at once. The first `fail_applies` applies fail with a
//! transient error, so that retries and the `degraded` phase can be tried end to end. What it
//! runs lives in memory: after a restart of the daemon it runs nothing until the applier has
//! applied the stored desired state again.

use smo_core::graphs::GraphSpec;
use smo_core::ports::{
    ClusterInventory, Continuum, ContinuumError, DesiredState, Observation, ObservedReplicas,
};
use smo_plugin_api::{Cluster, Resources};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// How the simulated continuum behaves (`[backend.sim]`, or a scenario's `continuum`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimBehaviour {
    /// Simulated seconds from an apply to its replicas being ready.
    pub ready_after_s: f64,
    /// The first this many applies fail with a transient error.
    pub fail_applies: u64,
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
}

impl Default for SimBehaviour {
    fn default() -> Self {
        Self {
            ready_after_s: 2.0,
            fail_applies: 0,
            speed: 1.0,
        }
    }
}

/// Replicas of one service on one cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Workload {
    desired: u32,
    /// Ready replicas when the count last changed.
    ready_before: u32,
    /// Simulated time of that change (s).
    changed_at_s: f64,
    /// Per-replica demand.
    demand: Resources,
}

impl Workload {
    fn ready(&self, now_s: f64, ready_after_s: f64) -> u32 {
        if now_s - self.changed_at_s >= ready_after_s {
            self.desired
        } else {
            self.ready_before.min(self.desired)
        }
    }
}

/// What one graph runs, by (service, cluster).
#[derive(Debug, Default)]
struct Deployed {
    generation: u64,
    workloads: BTreeMap<(String, String), Workload>,
}

#[derive(Debug, Default)]
struct State {
    clusters: Vec<Cluster>,
    graphs: HashMap<String, Deployed>,
}

/// The simulated continuum (see the module documentation).
#[derive(Debug)]
pub struct SimContinuum {
    behaviour: Mutex<SimBehaviour>,
    origin: Instant,
    applies: AtomicU64,
    state: Mutex<State>,
}

impl SimContinuum {
    pub fn new(behaviour: SimBehaviour) -> Self {
        Self {
            behaviour: Mutex::new(behaviour),
            origin: Instant::now(),
            applies: AtomicU64::new(0),
            state: Mutex::new(State::default()),
        }
    }

    pub fn behaviour(&self) -> SimBehaviour {
        *self
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// New timing and injected failures (a configuration reload): from now on replicas are
    /// ready `ready_after_s` after they last changed, and the next `fail_applies` applies fail. The speed of
    /// simulated time stays what it was.
    pub fn set_timing(&self, ready_after_s: f64, fail_applies: u64) {
        let mut behaviour = self
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        behaviour.ready_after_s = ready_after_s;
        behaviour.fail_applies = fail_applies;
        self.applies.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Simulated seconds since the continuum started.
    fn now_s(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * self.behaviour().speed
    }
}

#[async_trait::async_trait]
impl Continuum for SimContinuum {
    fn kind(&self) -> &'static str {
        "sim"
    }

    async fn inventory(&self) -> Result<Vec<ClusterInventory>, ContinuumError> {
        let state = self.lock();
        let mut allocated: HashMap<&str, Resources> = HashMap::new();
        for deployed in state.graphs.values() {
            for ((_, cluster), w) in &deployed.workloads {
                let used = allocated.entry(cluster.as_str()).or_default();
                let more = w.demand.times(w.desired);
                *used = Resources::new(
                    used.cpu + more.cpu,
                    used.memory_mib + more.memory_mib,
                    used.gpu + more.gpu,
                );
            }
        }
        Ok(state
            .clusters
            .iter()
            .map(|c| ClusterInventory {
                name: c.name.to_string(),
                ready: true,
                reason: None,
                capacity: c.capacity,
                allocatable: c.capacity,
                allocated: allocated.get(c.name.as_str()).copied().unwrap_or_default(),
                labels: c
                    .labels
                    .iter()
                    .map(|l| (l.key.to_string(), l.value.to_string()))
                    .collect(),
            })
            .collect())
    }

    async fn apply(&self, graph: &GraphSpec, desired: &DesiredState) -> Result<(), ContinuumError> {
        let call = self.applies.fetch_add(1, Ordering::Relaxed) + 1;
        let SimBehaviour {
            fail_applies,
            ready_after_s,
            ..
        } = self.behaviour();
        if call <= fail_applies {
            return Err(ContinuumError::Unavailable(format!(
                "simulated failure of apply {call} (the continuum fails the first {})",
                fail_applies
            )));
        }
        let now_s = self.now_s();
        let mut state = self.lock();
        let mut wanted = BTreeMap::new();
        for entry in desired.placement.iter().filter(|e| e.replicas > 0) {
            if !state
                .clusters
                .iter()
                .any(|c| c.name.as_str() == entry.cluster)
            {
                return Err(ContinuumError::Rejected(format!(
                    "cluster `{}` (service `{}`) is not in the simulated continuum",
                    entry.cluster, entry.service
                )));
            }
            let demand = graph
                .service(&entry.service)
                .map(|s| Resources::from(s.demand))
                .ok_or_else(|| {
                    ContinuumError::Rejected(format!(
                        "service `{}` is not in graph `{}`",
                        entry.service, graph.name
                    ))
                })?;
            wanted.insert(
                (entry.service.clone(), entry.cluster.clone()),
                (entry.replicas, demand),
            );
        }
        let deployed = state.graphs.entry(graph.name.clone()).or_default();
        let workloads = wanted
            .into_iter()
            .map(|(key, (replicas, demand))| {
                let workload = match deployed.workloads.get(&key) {
                    Some(w) if w.desired == replicas => Workload { demand, ..*w },
                    Some(w) => Workload {
                        desired: replicas,
                        ready_before: w.ready(now_s, ready_after_s),
                        changed_at_s: now_s,
                        demand,
                    },
                    None => Workload {
                        desired: replicas,
                        ready_before: 0,
                        changed_at_s: now_s,
                        demand,
                    },
                };
                (key, workload)
            })
            .collect();
        deployed.workloads = workloads;
        deployed.generation = desired.generation;
        Ok(())
    }

    async fn observe(&self, graph: &str) -> Result<Observation, ContinuumError> {
        let now_s = self.now_s();
        let ready_after_s = self.behaviour().ready_after_s;
        let state = self.lock();
        let Some(deployed) = state.graphs.get(graph) else {
            return Ok(Observation::default());
        };
        Ok(Observation {
            generation: Some(deployed.generation),
            replicas: deployed
                .workloads
                .iter()
                .map(|((service, cluster), w)| ObservedReplicas {
                    service: service.clone(),
                    cluster: cluster.clone(),
                    desired: w.desired,
                    ready: w.ready(now_s, ready_after_s),
                    last_error: None,
                })
                .collect(),
        })
    }

    async fn withdraw(&self, graph: &str) -> Result<(), ContinuumError> {
        self.lock().graphs.remove(graph);
        Ok(())
    }

    fn registered(&self, clusters: &[Cluster]) {
        self.lock().clusters = clusters.to_vec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_core::placement::PlacementEntry;

    fn spec() -> GraphSpec {
        smo_core::graphs::brussels_demo_spec()
    }

    fn continuum(behaviour: SimBehaviour) -> SimContinuum {
        let sim = SimContinuum::new(behaviour);
        sim.registered(&smo_plugin_api::testing::three_clusters());
        sim
    }

    fn desired(generation: u64, rows: &[(&str, &str, u32)]) -> DesiredState {
        DesiredState {
            server_selection: None,
            generation,
            placement: rows
                .iter()
                .map(|(s, c, r)| PlacementEntry::new(*s, *c, *r))
                .collect(),
        }
    }

    #[tokio::test]
    async fn applied_replicas_are_ready_at_once_without_a_delay_and_applying_twice_changes_nothing()
    {
        let sim = continuum(SimBehaviour {
            ready_after_s: 0.0,
            ..SimBehaviour::default()
        });
        let want = desired(1, &[("noise-reduction", "edge-athens", 2)]);
        sim.apply(&spec(), &want).await.expect("apply");
        let first = sim.observe(&spec().name).await.expect("observe");
        assert_eq!(first.generation, Some(1));
        assert!(first.asked_for(&want.placement) && first.all_ready());
        sim.apply(&spec(), &want).await.expect("again");
        assert_eq!(sim.observe(&spec().name).await.expect("observe"), first);
        let inventory = sim.inventory().await.expect("inventory");
        let athens = inventory
            .iter()
            .find(|c| c.name == "edge-athens")
            .expect("athens");
        let demand = spec().service("noise-reduction").expect("svc").demand.cpu;
        assert_eq!(athens.allocated.cpu, 2.0 * demand);
    }

    #[tokio::test]
    async fn replicas_wait_for_the_start_up_delay_and_scaling_down_is_immediate() {
        let sim = continuum(SimBehaviour {
            ready_after_s: 3600.0,
            ..SimBehaviour::default()
        });
        let name = spec().name;
        sim.apply(
            &spec(),
            &desired(1, &[("noise-reduction", "edge-athens", 2)]),
        )
        .await
        .expect("apply");
        let seen = sim.observe(&name).await.expect("observe");
        assert_eq!(seen.replicas[0].desired, 2);
        assert_eq!(seen.replicas[0].ready, 0, "not ready before the delay");
        sim.withdraw(&name).await.expect("withdraw");
        assert!(sim.observe(&name).await.expect("observe").is_empty());
        sim.withdraw(&name)
            .await
            .expect("withdrawing twice succeeds");
    }

    #[tokio::test]
    async fn the_first_applies_fail_as_told_and_unknown_clusters_are_refused() {
        let sim = continuum(SimBehaviour {
            fail_applies: 2,
            ..SimBehaviour::default()
        });
        let want = desired(1, &[("noise-reduction", "edge-athens", 1)]);
        for _ in 0..2 {
            let error = sim.apply(&spec(), &want).await.expect_err("fails");
            assert!(error.retryable(), "{error}");
        }
        sim.apply(&spec(), &want).await.expect("the third succeeds");
        let error = sim
            .apply(&spec(), &desired(2, &[("noise-reduction", "mars", 1)]))
            .await
            .expect_err("unknown cluster");
        assert!(!error.retryable());
        assert!(error.to_string().contains("mars"), "{error}");
    }

    #[tokio::test]
    async fn new_timing_counts_failures_afresh_and_keeps_what_runs() {
        let sim = continuum(SimBehaviour {
            ready_after_s: 3600.0,
            ..SimBehaviour::default()
        });
        let name = spec().name;
        let want = desired(1, &[("noise-reduction", "edge-athens", 2)]);
        sim.apply(&spec(), &want).await.expect("apply");
        sim.set_timing(0.0, 1);
        let seen = sim.observe(&name).await.expect("observe");
        assert!(seen.asked_for(&want.placement) && seen.all_ready());
        let error = sim
            .apply(&spec(), &want)
            .await
            .expect_err("the next apply fails");
        assert!(error.retryable(), "{error}");
        sim.apply(&spec(), &want).await.expect("then they pass");
        assert_eq!(sim.behaviour().speed, 1.0);
    }
}
