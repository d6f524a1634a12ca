//! The life of a graph: deploy (place, then store graph, placement and decision), update,
//! re-place, start, stop, delete, and resuming the running graphs after a restart.
//!
//! Concurrency: every operation that decides or changes placements holds the engine's
//! *decision lock* from reading the free capacity to writing the result, so two deploys never
//! count the same free CPU twice and the same name can never be created twice. The graph's rows
//! are written under its [`GraphLocks`] write lock, which readers take, so nobody sees a graph
//! without its placement. A failed placement stores nothing but its decision record (409).

use super::error::EngineError;
use super::inventory::{self, UsageCache, RUNNING, STOPPED};
use super::locks::GraphLocks;
use super::offload_loop::OffloadLoops;
use super::offload_telemetry::StoreTelemetry;
use super::placing::{Ask, Placed};
use super::record::{Cause, DecisionView};
use super::scaling::Loops;
use super::telemetry::TelemetrySource;
use crate::graphs::GraphSpec;
use crate::plugins::{Dispatcher, StrategyName};
use crate::store::{DecisionRecord, PlacementEntry, Store, StoreError};
use smo_plugin_api::Cluster;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedRwLockWriteGuard;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Period of each running graph's scaling loop.
    pub scaling_period: Duration,
    /// Decisions kept in the history (0 = all).
    pub decision_history: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            scaling_period: Duration::from_secs(30),
            decision_history: 100_000,
        }
    }
}

/// Create a new graph, or create-or-replace one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployMode {
    /// `POST`: 409 if the name exists.
    Create,
    /// `PUT`: replace the graph of that name, or create it.
    Upsert,
}

/// The result of a deploy or update.
#[derive(Debug)]
pub struct Deployed {
    /// A new graph (not an update).
    pub created: bool,
    /// The placement decision (absent when a stopped graph was updated without one).
    pub decision: Option<DecisionView>,
}

/// The result of `execute_strategy`.
#[derive(Debug)]
pub struct Executed {
    pub applied: bool,
    pub decision: DecisionView,
}

/// What `resume` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Running graphs whose loop was started.
    pub loops: usize,
    /// Running graphs re-placed because services had no placement.
    pub replaced: usize,
}

/// The graph lifecycle engine, shared as `Arc<Engine>` by the API and the loops.
pub struct Engine {
    pub(crate) store: Arc<Store>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) telemetry: Arc<dyn TelemetrySource>,
    pub(crate) config: EngineConfig,
    pub(crate) locks: GraphLocks,
    /// Held while deciding and applying anything that uses capacity (see the module docs).
    pub(crate) decision_lock: tokio::sync::Mutex<()>,
    pub(crate) loops: Loops,
    /// The offload loops of running graphs with an `offloadPolicy`.
    pub(crate) offload: OffloadLoops,
    /// What running graphs use, kept between decisions (see [`UsageCache`]).
    pub(crate) usage: UsageCache,
    appended: AtomicU64,
}

/// Decisions appended between two prunes of the history.
const PRUNE_EVERY: u64 = 512;

impl Engine {
    pub fn new(
        store: Arc<Store>,
        dispatcher: Arc<Dispatcher>,
        telemetry: Arc<dyn TelemetrySource>,
        config: EngineConfig,
    ) -> Arc<Self> {
        let offload = OffloadLoops::new(Box::new(StoreTelemetry::new(
            Arc::clone(&store),
            Arc::clone(&telemetry),
        )));
        Arc::new(Self {
            offload,
            store,
            dispatcher,
            telemetry,
            config,
            locks: GraphLocks::default(),
            decision_lock: tokio::sync::Mutex::new(()),
            loops: Loops::default(),
            usage: UsageCache::default(),
            appended: AtomicU64::new(0),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Exclusive access to graph `name`'s rows for a write (by a holder of the decision lock);
    /// marks its capacity use for re-reading.
    pub(crate) async fn write_lock(&self, name: &str) -> OwnedRwLockWriteGuard<()> {
        let guard = self.locks.write(name).await;
        self.usage.mark(name);
        guard
    }

    /// The clusters with their free capacity for a decision about graph `except`. Call it
    /// holding the decision lock (the guard is the proof), so no write is half-done.
    pub(crate) fn decision_clusters(
        &self,
        _decision_lock: &tokio::sync::MutexGuard<'_, ()>,
        except: &str,
    ) -> Result<Vec<Cluster>, StoreError> {
        let used = self.usage.usage(&self.store, Some(except))?;
        inventory::clusters_with(&self.store, &used)
    }

    /// Appends a decision to the history (pruning it now and then); returns its id.
    pub(crate) fn record(&self, record: &DecisionRecord) -> Result<i64, StoreError> {
        let id = self.store.append_decision(record)?;
        let n = self.appended.fetch_add(1, Ordering::Relaxed) + 1;
        if self.config.decision_history > 0 && n % PRUNE_EVERY == 0 {
            let pruned = self.store.prune_decisions(self.config.decision_history)?;
            tracing::debug!(pruned, "decision history pruned");
        }
        Ok(id)
    }

    /// Appends the decision of `placed`; on failure returns `PlacementFailed` with it.
    fn record_placed(
        &self,
        graph: &str,
        placed: &Placed,
    ) -> Result<(i64, Vec<PlacementEntry>), EngineError> {
        let id = self.record(&placed.record)?;
        match &placed.entries {
            Some(entries) => Ok((id, entries.clone())),
            None => Err(EngineError::PlacementFailed {
                graph: graph.to_owned(),
                reason: placed.failure(),
                decision: Box::new(placed.view(Some(id))),
            }),
        }
    }

    /// Deploys a validated graph: places it with its strategy (or the default), then stores the
    /// graph, its placement and the decision, and starts its scaling loop. With
    /// [`DeployMode::Upsert`] an existing graph of that name is updated instead (re-placed from
    /// its current placement, keeping its status; a stopped graph is only re-placed at start).
    pub async fn deploy(
        self: &Arc<Self>,
        spec: GraphSpec,
        mode: DeployMode,
    ) -> Result<Deployed, EngineError> {
        let name = spec.name.clone();
        let decided = self.decision_lock.lock().await;
        let existing = self.store.get_graph(&name)?;
        if mode == DeployMode::Create && existing.is_some() {
            return Err(EngineError::GraphExists(name));
        }
        let Some(existing) = existing else {
            let placed = self
                .decide_placement(Ask {
                    decided: &decided,
                    spec: &spec,
                    current: None,
                    strategy: None,
                    params: None,
                    running: false,
                    initial: false,
                    cause: Cause::Deploy,
                })
                .await?;
            let (id, entries) = self.record_placed(&name, &placed)?;
            {
                let _write = self.write_lock(&name).await;
                self.store
                    .create_graph(&spec, RUNNING)
                    .map_err(|e| match e {
                        StoreError::GraphExists(n) => EngineError::GraphExists(n),
                        other => other.into(),
                    })?;
                if let Err(e) = self.store.set_placement(&name, &entries) {
                    // Leave nothing half-written: the graph goes with its failed placement.
                    if let Err(undo) = self.store.delete_graph(&name) {
                        tracing::error!(graph = %name, error = %undo, "cannot undo a half-written deploy");
                    }
                    return Err(e.into());
                }
            }
            tracing::info!(graph = %name, "graph deployed");
            self.ensure_loop(&name);
            return Ok(Deployed {
                created: true,
                decision: Some(placed.view(Some(id))),
            });
        };
        // An update.
        let current = self.store.get_placement(&name)?;
        if existing.status != RUNNING {
            let _write = self.write_lock(&name).await;
            self.store.put_graph(&spec, &existing.status)?;
            tracing::info!(graph = %name, "stopped graph updated");
            return Ok(Deployed {
                created: false,
                decision: None,
            });
        }
        let placed = self
            .decide_placement(Ask {
                decided: &decided,
                spec: &spec,
                current: Some(&current),
                strategy: None,
                params: None,
                running: true,
                initial: false,
                cause: Cause::Update,
            })
            .await?;
        let (id, entries) = self.record_placed(&name, &placed)?;
        {
            let _write = self.write_lock(&name).await;
            self.store.put_graph(&spec, RUNNING)?;
            if let Err(e) = self.store.set_placement(&name, &entries) {
                // Put the previous graph back rather than leave the new one half-placed.
                if let Err(undo) = self
                    .store
                    .put_graph(&existing.spec, &existing.status)
                    .and_then(|_| self.store.set_placement(&name, &current))
                {
                    tracing::error!(graph = %name, error = %undo, "cannot undo a half-written update");
                }
                return Err(e.into());
            }
        }
        tracing::info!(graph = %name, "graph updated");
        self.ensure_loop(&name);
        Ok(Deployed {
            created: false,
            decision: Some(placed.view(Some(id))),
        })
    }

    /// Re-places a running graph now, from its current placement (`POST .../placement`), with
    /// its own strategy or `strategy`/`params` (`execute_strategy?apply=true`).
    pub async fn replace(
        &self,
        name: &str,
        cause: Cause,
        strategy: Option<StrategyName>,
        params: Option<String>,
    ) -> Result<DecisionView, EngineError> {
        let decided = self.decision_lock.lock().await;
        self.replace_locked(&decided, name, cause, strategy, params)
            .await
    }

    /// [`Engine::replace`] for a caller that holds the decision lock.
    pub(crate) async fn replace_locked(
        &self,
        decided: &tokio::sync::MutexGuard<'_, ()>,
        name: &str,
        cause: Cause,
        strategy: Option<StrategyName>,
        params: Option<String>,
    ) -> Result<DecisionView, EngineError> {
        let graph = self
            .store
            .get_graph(name)?
            .ok_or_else(|| EngineError::GraphNotFound(name.to_owned()))?;
        if graph.status != RUNNING {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is {}: start it first",
                graph.status
            )));
        }
        let current = self.store.get_placement(name)?;
        let placed = self
            .decide_placement(Ask {
                decided,
                spec: &graph.spec,
                current: Some(&current),
                strategy,
                params,
                running: true,
                initial: false,
                cause,
            })
            .await?;
        let (id, entries) = self.record_placed(name, &placed)?;
        {
            let _write = self.write_lock(name).await;
            self.store.set_placement(name, &entries)?;
        }
        tracing::info!(graph = %name, cause = cause.as_str(), "graph re-placed");
        Ok(placed.view(Some(id)))
    }

    /// Runs placement strategy `strategy` with `params` on graph `name`: from its current
    /// placement (or from scratch with `initial`), applied only with `apply` (which needs the
    /// graph running). A dry run is not recorded in the history.
    pub async fn execute_strategy(
        &self,
        name: &str,
        strategy: StrategyName,
        params: String,
        apply: bool,
        initial: bool,
    ) -> Result<Executed, EngineError> {
        let decided = self.decision_lock.lock().await;
        if apply && !initial {
            let decision = self
                .replace_locked(
                    &decided,
                    name,
                    Cause::ExecuteStrategy,
                    Some(strategy),
                    Some(params),
                )
                .await?;
            return Ok(Executed {
                applied: true,
                decision,
            });
        }
        let graph = self
            .store
            .get_graph(name)?
            .ok_or_else(|| EngineError::GraphNotFound(name.to_owned()))?;
        let running = graph.status == RUNNING;
        if apply && !running {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is {}: start it before applying a placement",
                graph.status
            )));
        }
        let current = self.store.get_placement(name)?;
        let placed = self
            .decide_placement(Ask {
                decided: &decided,
                spec: &graph.spec,
                current: Some(&current),
                initial,
                strategy: Some(strategy),
                params: Some(params),
                running,
                cause: Cause::ExecuteStrategy,
            })
            .await?;
        if !apply {
            return Ok(Executed {
                applied: false,
                decision: placed.view(None),
            });
        }
        let (id, entries) = self.record_placed(name, &placed)?;
        {
            let _write = self.write_lock(name).await;
            self.store.set_placement(name, &entries)?;
        }
        Ok(Executed {
            applied: true,
            decision: placed.view(Some(id)),
        })
    }

    /// Starts a stopped graph: re-places it (its services were undeployed, and the capacity
    /// may have gone to others), marks it running and starts its scaling loop.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<DecisionView, EngineError> {
        let decided = self.decision_lock.lock().await;
        let graph = self
            .store
            .get_graph(name)?
            .ok_or_else(|| EngineError::GraphNotFound(name.to_owned()))?;
        if graph.status == RUNNING {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is already running"
            )));
        }
        let current = self.store.get_placement(name)?;
        let placed = self
            .decide_placement(Ask {
                decided: &decided,
                spec: &graph.spec,
                current: Some(&current),
                strategy: None,
                params: None,
                running: false,
                initial: false,
                cause: Cause::Start,
            })
            .await?;
        let (id, entries) = self.record_placed(name, &placed)?;
        {
            let _write = self.write_lock(name).await;
            self.store.set_placement(name, &entries)?;
            self.store.set_graph_status(name, RUNNING)?;
        }
        tracing::info!(graph = %name, "graph started");
        self.ensure_loop(name);
        Ok(placed.view(Some(id)))
    }

    /// Stops a running graph: its loop ends and its services count as undeployed; the
    /// placement is kept so that a start moves as little as possible.
    pub async fn stop(&self, name: &str) -> Result<(), EngineError> {
        let _decided = self.decision_lock.lock().await;
        let graph = self
            .store
            .get_graph(name)?
            .ok_or_else(|| EngineError::GraphNotFound(name.to_owned()))?;
        if graph.status != RUNNING {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is already {}",
                graph.status
            )));
        }
        {
            let _write = self.write_lock(name).await;
            self.store.set_graph_status(name, STOPPED)?;
        }
        self.stop_loop(name);
        tracing::info!(graph = %name, "graph stopped");
        Ok(())
    }

    /// Deletes a graph, its placement and its loop (its decision history is kept).
    pub async fn delete(&self, name: &str) -> Result<(), EngineError> {
        let _decided = self.decision_lock.lock().await;
        let deleted = {
            let _write = self.write_lock(name).await;
            self.store.delete_graph(name)?
        };
        self.stop_loop(name);
        self.forget_offload_loop(name);
        if !deleted {
            return Err(EngineError::GraphNotFound(name.to_owned()));
        }
        tracing::info!(graph = %name, "graph deleted");
        Ok(())
    }

    /// After a restart: re-places running graphs with services left without a placement (a
    /// write interrupted by the stop) and starts the scaling loop of every running graph.
    pub async fn resume(self: &Arc<Self>) -> Result<Resumed, EngineError> {
        let mut resumed = Resumed::default();
        for graph in self.store.list_graphs()? {
            if graph.status != RUNNING {
                continue;
            }
            let name = graph.name().to_owned();
            let placement = self.store.get_placement(&name)?;
            let unplaced = graph
                .spec
                .services
                .iter()
                .any(|s| !placement.iter().any(|e| e.service == s.name));
            if unplaced {
                match self.replace(&name, Cause::Resume, None, None).await {
                    Ok(_) => resumed.replaced += 1,
                    Err(e) => {
                        tracing::warn!(graph = %name, error = %e, "cannot complete the placement of a resumed graph")
                    }
                }
            }
            self.ensure_loop(&name);
            resumed.loops += 1;
        }
        Ok(resumed)
    }
}
