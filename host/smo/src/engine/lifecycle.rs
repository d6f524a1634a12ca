//! The life of a graph: deploy (place, then commit graph, placement and decision), update,
//! re-place, start, stop, delete (withdraw from the backend first), and resuming after a
//! restart. Every change of a desired state goes through [`Engine::commit`], which wakes the
//! applier; nothing here talks to the backend.
//!
//! Concurrency ([`super::admission`]): an operation on a graph holds the graph's turn, so the
//! same name is never created twice and a graph's operations happen one after the other; no
//! other lock is held while a strategy runs. A decision is made from a snapshot of the free
//! capacity and committed only if it still fits (else decided again), so two deploys never
//! count the same free CPU twice. The graph's rows are written under its [`GraphLocks`] write
//! lock, which readers take, so nobody sees a graph without its placement. A failed placement
//! stores nothing but its decision record (409).

use super::admission::{Admission, CommitGuard, Snapshot, DECIDE_ATTEMPTS};
use super::applier::{Applier, ApplierConfig, Reconciled};
use super::ecosystem::Ecosystem;
use super::error::EngineError;
use super::graph_names::GraphNames;
use super::inventory::{self, UsageCache, DELETING, RUNNING, STOPPED};
use super::locks::GraphLocks;
use super::offload_loop::OffloadLoops;
use super::placing::{Ask, Placed};
use super::record::Cause;
use super::scaling::Loops;
use crate::store::{
    now_ms, ApplyAction, ApplyAttemptRecord, Commit, PlacementEntry, Store, StoreError, StoredGraph,
};
use smo_core::decision::DecisionRecord;
use smo_core::graphs::GraphSpec;
use smo_core::ports::Continuum;
use smo_core::ports::TelemetrySource;
use smo_plugin_api::Cluster;
use smo_plugin_host::{Dispatcher, StrategyName};
use std::sync::atomic::AtomicU64;
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
    /// The applier's periods, backoff and concurrency.
    pub applier: ApplierConfig,
    /// The Dependency Satisfaction Score's weights and threshold.
    pub ecosystem: smo_core::ecosystem::Weights,
    /// The ecosystem migration strategy (`plugin/strategy`) and its JSON parameters.
    pub ecosystem_strategy: String,
    pub ecosystem_params: String,
    /// How long after an ecosystem move its outcome is measured, ms.
    pub ecosystem_window_ms: u64,
    /// Bandwidth an ecosystem move's state is copied at, Gb/s.
    pub ecosystem_bandwidth_gbps: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            scaling_period: Duration::from_secs(30),
            decision_history: 100_000,
            applier: ApplierConfig::default(),
            ecosystem: smo_core::ecosystem::Weights::default(),
            ecosystem_strategy: super::ecosystem_migrate::DEFAULT_STRATEGY.to_owned(),
            ecosystem_params: "{}".to_owned(),
            ecosystem_window_ms: 300_000,
            ecosystem_bandwidth_gbps: super::ecosystem_migrate::DEFAULT_BANDWIDTH_GBPS,
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
    pub decision: Option<DecisionRecord>,
}

/// The result of `execute_strategy`.
#[derive(Debug)]
pub struct Executed {
    pub applied: bool,
    pub decision: DecisionRecord,
}

/// What a deletion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// The graph was withdrawn from the backend (or forced away) and its rows removed.
    Removed,
    /// The graph is `deleting`: its withdrawal failed or is still running, and the applier
    /// retries it; the rows go once it succeeds.
    Withdrawing {
        /// The withdrawal's error, if it failed.
        error: Option<String>,
    },
}

/// What `resume` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Running graphs whose loop was started.
    pub loops: usize,
    /// Running graphs re-placed because services had no placement.
    pub replaced: usize,
}

/// Where a placement goes besides its rows: the spec (and whether it is created) and a status.
#[derive(Debug, Clone, Copy, Default)]
struct Target<'a> {
    spec: Option<&'a GraphSpec>,
    create: bool,
    status: Option<&'a str>,
}

impl<'a> Target<'a> {
    fn spec(spec: &'a GraphSpec, create: bool, status: Option<&'a str>) -> Self {
        Self {
            spec: Some(spec),
            create,
            status,
        }
    }
}

/// A graph's write lock held (see [`Engine::write_lock`]).
pub(crate) struct GraphWrite<'a> {
    _guard: OwnedRwLockWriteGuard<()>,
    usage: &'a UsageCache,
    ecosystem: &'a Ecosystem,
    name: String,
}

impl Drop for GraphWrite<'_> {
    fn drop(&mut self) {
        self.usage.mark(&self.name);
        self.ecosystem.mark(&self.name);
    }
}

/// The graph lifecycle engine, shared as `Arc<Engine>` by the API and the loops.
pub struct Engine {
    pub(crate) store: Arc<Store>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) telemetry: Arc<dyn TelemetrySource>,
    /// Where desired states are applied (the Continuum port).
    pub(crate) continuum: Arc<dyn Continuum>,
    /// Swapped whole by a configuration reload ([`Engine::set_config`]).
    settings: arc_swap::ArcSwap<EngineConfig>,
    pub(crate) locks: GraphLocks,
    /// Graph turns, the commit lock and the capacity epoch (see the module docs).
    pub(crate) admission: Admission,
    pub(crate) loops: Loops,
    /// The offload loops of running graphs with an `offloadPolicy`.
    pub(crate) offload: OffloadLoops,
    /// The workloads' dependency map (see [`super::ecosystem`]).
    pub(crate) ecosystem: Ecosystem,
    /// Every stored graph's name (placement requests list them).
    pub(crate) names: GraphNames,
    /// What running graphs use, kept between decisions (see [`UsageCache`]).
    pub(crate) usage: UsageCache,
    /// Reconciles desired states with the backend.
    pub(crate) applier: Applier,
    pub(crate) appended: AtomicU64,
    /// The control loops' rounds, for `/metrics`.
    pub(crate) loop_stats: crate::metrics::loops::LoopStats,
    /// The configuration's reloads by outcome (counted by [`crate::reload`]).
    pub(crate) config_reloads: crate::metrics::reloads::ConfigReloads,
}

impl Engine {
    pub fn new(
        store: Arc<Store>,
        dispatcher: Arc<Dispatcher>,
        telemetry: Arc<dyn TelemetrySource>,
        continuum: Arc<dyn Continuum>,
        config: EngineConfig,
    ) -> Arc<Self> {
        let offload = OffloadLoops::default();
        Arc::new(Self {
            offload,
            store,
            dispatcher,
            telemetry,
            continuum,
            applier: Applier::new(config.applier),
            settings: arc_swap::ArcSwap::from_pointee(config),
            locks: GraphLocks::default(),
            admission: Admission::default(),
            loops: Loops::default(),
            usage: UsageCache::default(),
            names: GraphNames::default(),
            ecosystem: Ecosystem::default(),
            appended: AtomicU64::new(0),
            loop_stats: Default::default(),
            config_reloads: Default::default(),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// The settings in force.
    pub fn config(&self) -> Arc<EngineConfig> {
        self.settings.load_full()
    }

    /// Replaces the settings (a configuration reload): the next round of each loop, the next
    /// request and the applier's next reconcile use them.
    pub fn set_config(&self, config: EngineConfig) {
        self.applier.set_config(config.applier);
        self.settings.store(Arc::new(config));
    }

    pub fn continuum(&self) -> &Arc<dyn Continuum> {
        &self.continuum
    }

    pub fn applier(&self) -> &Applier {
        &self.applier
    }

    /// What wakes the ecosystem loop (see [`super::ecosystem_loop`]).
    pub fn ecosystem_waker(&self) -> Arc<tokio::sync::Notify> {
        self.ecosystem.waker()
    }

    /// Starts the applier's runner (it lives as long as the engine).
    pub fn start_applier(self: &Arc<Self>) {
        let runner = Arc::clone(self.applier.runner());
        // The task ends by itself once the engine is dropped.
        drop(runner.spawn(
            Arc::downgrade(self),
            |engine: Arc<Engine>, name: String| async move { engine.reconcile(&name).await },
        ));
    }

    /// Exclusive access to graph `name`'s rows for a write; marks its capacity use for
    /// re-reading when taken and again when dropped (see [`UsageCache`]).
    pub(crate) async fn write_lock(&self, name: &str) -> GraphWrite<'_> {
        let guard = self.locks.write(name).await;
        self.usage.mark(name);
        GraphWrite {
            _guard: guard,
            usage: &self.usage,
            ecosystem: &self.ecosystem,
            name: name.to_owned(),
        }
    }

    /// The clusters with their free capacity for a decision about graph `except`, those the
    /// backend reports ready. Call it holding the commit lock (the guard is the proof), so no
    /// write is half-done.
    pub(crate) async fn decision_clusters(
        &self,
        _held: &CommitGuard<'_>,
        except: &str,
    ) -> Result<Vec<Cluster>, EngineError> {
        let used = self.usage.usage(&self.store, Some(except))?;
        let clusters = inventory::clusters_with(&self.store, &used)?;
        let reported = self.continuum.inventory().await?;
        Ok(inventory::ready_clusters(clusters, &reported))
    }

    /// Tells the backend smo's registered clusters (at start and after each change).
    pub(crate) fn announce_clusters(&self) -> Result<(), StoreError> {
        let clusters: Vec<Cluster> = self
            .store
            .list_clusters::<Cluster>()?
            .into_iter()
            .map(|stored| stored.cluster)
            .collect();
        self.continuum.registered(&clusters);
        Ok(())
    }

    /// Graph `name` as stored, or `GraphNotFound`.
    pub(crate) fn stored_graph(&self, name: &str) -> Result<StoredGraph, EngineError> {
        self.store
            .get_graph(name)?
            .ok_or_else(|| EngineError::GraphNotFound(name.to_owned()))
    }

    /// Appends a decision that changes no desired state (pruning the history now and then);
    /// returns its id.
    pub(crate) fn record(&self, record: &DecisionRecord) -> Result<i64, StoreError> {
        let id = self.store.append_decision(record)?;
        self.note_appended(1)?;
        Ok(id)
    }

    /// The rows of `placed`; when it has none, records its decision and returns
    /// `PlacementFailed` with it.
    fn placed_rows(
        &self,
        graph: &str,
        placed: &Placed,
    ) -> Result<Vec<PlacementEntry>, EngineError> {
        match &placed.entries {
            Some(entries) => Ok(entries.clone()),
            None => {
                let id = self.record(&placed.record)?;
                Err(EngineError::PlacementFailed {
                    graph: graph.to_owned(),
                    reason: placed.failure(),
                    decision: Box::new(placed.view(Some(id))),
                })
            }
        }
    }

    /// Commits `placed`'s rows, decided from `snapshot`, with its decision (and the spec and
    /// `status` of `target`); returns the decision's view with its id. `Stale` when the
    /// clusters no longer have room for it.
    async fn commit_placed(
        &self,
        ask: &Ask<'_>,
        snapshot: &Snapshot,
        placed: &Placed,
        target: Target<'_>,
    ) -> Result<DecisionRecord, EngineError> {
        let name = &ask.spec.name;
        let entries = self.placed_rows(name, placed)?;
        let committed = self
            .commit_checked(
                name,
                ask.spec,
                snapshot,
                &entries,
                Commit {
                    spec: target.spec,
                    create: target.create,
                    placement: Some(&entries),
                    status: target.status,
                    decisions: std::slice::from_ref(&placed.record),
                },
            )
            .await?;
        let mut view = placed.view(committed.decision_ids.first().copied());
        view.generation = Some(committed.generation);
        Ok(view)
    }

    /// Decides `ask` and commits it to `target`, deciding again (up to [`DECIDE_ATTEMPTS`]
    /// times) when the clusters changed meanwhile so that it no longer fits. The caller holds
    /// the graph's turn.
    async fn place(
        &self,
        ask: &Ask<'_>,
        target: Target<'_>,
    ) -> Result<DecisionRecord, EngineError> {
        let mut why = String::new();
        for attempt in 1..=DECIDE_ATTEMPTS {
            let snapshot = self.snapshot(&ask.spec.name).await?;
            let placed = self.decide_placement(&snapshot, ask).await?;
            match self.commit_placed(ask, &snapshot, &placed, target).await {
                Err(EngineError::Stale(stale)) => {
                    tracing::info!(graph = %ask.spec.name, attempt, reason = %stale, "placement decided again");
                    why = stale;
                }
                done => return done,
            }
        }
        Err(EngineError::Conflict(format!(
            "graph {:?}: the clusters changed while deciding its placement, {DECIDE_ATTEMPTS} times \
             (last: {why}); try again",
            ask.spec.name
        )))
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
        let _turn = self.admission.turn(&name).await;
        let existing = self.store.get_graph(&name)?;
        if mode == DeployMode::Create && existing.is_some() {
            return Err(EngineError::GraphExists(name));
        }
        let Some(existing) = existing else {
            let ask = Ask {
                spec: &spec,
                current: None,
                strategy: None,
                params: None,
                running: false,
                initial: false,
                cause: Cause::Deploy,
            };
            let decision = self
                .place(&ask, Target::spec(&spec, true, Some(RUNNING)))
                .await?;
            tracing::info!(graph = %name, "graph deployed");
            self.ensure_loop(&name);
            return Ok(Deployed {
                created: true,
                decision: Some(decision),
            });
        };
        // An update.
        if existing.status == DELETING {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is being deleted: wait for it to go, or DELETE it with ?force=true"
            )));
        }
        let current = self.store.get_placement(&name)?;
        if existing.status != RUNNING {
            self.commit(
                &name,
                Commit {
                    spec: Some(&spec),
                    ..Commit::default()
                },
            )
            .await?;
            tracing::info!(graph = %name, "stopped graph updated");
            return Ok(Deployed {
                created: false,
                decision: None,
            });
        }
        let ask = Ask {
            spec: &spec,
            current: Some(&current),
            strategy: None,
            params: None,
            running: true,
            initial: false,
            cause: Cause::Update,
        };
        let decision = self
            .place(&ask, Target::spec(&spec, false, Some(RUNNING)))
            .await?;
        tracing::info!(graph = %name, "graph updated");
        self.ensure_loop(&name);
        Ok(Deployed {
            created: false,
            decision: Some(decision),
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
    ) -> Result<DecisionRecord, EngineError> {
        let _turn = self.admission.turn(name).await;
        self.replace_in_turn(name, cause, strategy, params).await
    }

    /// [`Engine::replace`] for a caller that holds the graph's turn.
    pub(crate) async fn replace_in_turn(
        &self,
        name: &str,
        cause: Cause,
        strategy: Option<StrategyName>,
        params: Option<String>,
    ) -> Result<DecisionRecord, EngineError> {
        let graph = self.stored_graph(name)?;
        if graph.status != RUNNING {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is {}: start it first",
                graph.status
            )));
        }
        let current = self.store.get_placement(name)?;
        let ask = Ask {
            spec: &graph.spec,
            current: Some(&current),
            strategy,
            params,
            running: true,
            initial: false,
            cause,
        };
        let decision = self.place(&ask, Target::default()).await?;
        tracing::info!(graph = %name, cause = cause.as_str(), "graph re-placed");
        Ok(decision)
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
        let _turn = self.admission.turn(name).await;
        if apply && !initial {
            let decision = self
                .replace_in_turn(name, Cause::ExecuteStrategy, Some(strategy), Some(params))
                .await?;
            return Ok(Executed {
                applied: true,
                decision,
            });
        }
        let graph = self.stored_graph(name)?;
        let running = graph.status == RUNNING;
        if apply && !running {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is {}: start it before applying a placement",
                graph.status
            )));
        }
        let current = self.store.get_placement(name)?;
        let ask = Ask {
            spec: &graph.spec,
            current: Some(&current),
            initial,
            strategy: Some(strategy),
            params: Some(params),
            running,
            cause: Cause::ExecuteStrategy,
        };
        if !apply {
            let snapshot = self.snapshot(name).await?;
            let placed = self.decide_placement(&snapshot, &ask).await?;
            return Ok(Executed {
                applied: false,
                decision: placed.view(None),
            });
        }
        let decision = self.place(&ask, Target::default()).await?;
        Ok(Executed {
            applied: true,
            decision,
        })
    }

    /// Starts a stopped graph: re-places it (its services were undeployed, and the capacity
    /// may have gone to others), marks it running and starts its scaling loop.
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<DecisionRecord, EngineError> {
        let _turn = self.admission.turn(name).await;
        let graph = self.stored_graph(name)?;
        if graph.status != STOPPED {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is {}: only a stopped graph starts",
                graph.status
            )));
        }
        let current = self.store.get_placement(name)?;
        let ask = Ask {
            spec: &graph.spec,
            current: Some(&current),
            strategy: None,
            params: None,
            running: false,
            initial: false,
            cause: Cause::Start,
        };
        let decision = self
            .place(
                &ask,
                Target {
                    status: Some(RUNNING),
                    ..Target::default()
                },
            )
            .await?;
        tracing::info!(graph = %name, "graph started");
        self.ensure_loop(name);
        Ok(decision)
    }

    /// Stops a running graph: its loops end, the applier withdraws it from the backend, and
    /// its services count as undeployed; the placement is kept so that a start moves as little
    /// as possible.
    pub async fn stop(&self, name: &str) -> Result<(), EngineError> {
        let _turn = self.admission.turn(name).await;
        let graph = self.stored_graph(name)?;
        if graph.status != RUNNING {
            return Err(EngineError::Conflict(format!(
                "graph {name:?} is already {}",
                graph.status
            )));
        }
        self.commit(
            name,
            Commit {
                status: Some(STOPPED),
                ..Commit::default()
            },
        )
        .await?;
        self.stop_loop(name);
        tracing::info!(graph = %name, "graph stopped");
        Ok(())
    }

    /// Deletes a graph, as a Kubernetes finalizer would: it becomes `deleting`, its loops end,
    /// the applier withdraws it from the backend and only then are its rows removed (its
    /// decision history and apply attempts are kept). Waits up to the applier's `delete_wait`
    /// for the withdrawal. With `force`, the rows go at once without a withdrawal (recorded as
    /// a `force_delete` attempt); what the backend runs of it is left there.
    pub async fn delete(&self, name: &str, force: bool) -> Result<Deleted, EngineError> {
        let mut outcomes = self.applier.subscribe();
        let generation = {
            let _turn = self.admission.turn(name).await;
            let graph = self.stored_graph(name)?;
            self.stop_loop(name);
            self.forget_offload_loop(name);
            if force {
                let started_at_ms = now_ms();
                {
                    let held = self.admission.commit_lock().await;
                    let _write = self.write_lock(name).await;
                    self.store.delete_graph(name)?;
                    self.names.removed(name);
                    self.admission.bump(&held);
                }
                self.applier.forget(name);
                self.store.append_apply_attempt(&ApplyAttemptRecord {
                    graph: name.to_owned(),
                    generation: graph.generation,
                    action: ApplyAction::ForceDelete,
                    started_at_ms,
                    duration_ms: 0.0,
                    ok: true,
                    retryable: false,
                    error: None,
                })?;
                tracing::warn!(graph = %name, "graph deleted by force, without a withdrawal from the backend");
                return Ok(Deleted::Removed);
            }
            let committed = self
                .commit(
                    name,
                    Commit {
                        status: Some(DELETING),
                        ..Commit::default()
                    },
                )
                .await?;
            committed.generation
        };
        tracing::info!(graph = %name, generation, "graph deleting: withdrawing it from the backend");
        let wait = async {
            loop {
                match outcomes.recv().await {
                    Ok(Reconciled::Removed { graph }) if graph == name => return Deleted::Removed,
                    Ok(Reconciled::Failed {
                        graph,
                        generation: at,
                        error,
                        ..
                    }) if graph == name && at >= generation => {
                        return Deleted::Withdrawing { error: Some(error) }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if matches!(self.store.get_graph(name), Ok(None)) {
                            return Deleted::Removed;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        return Deleted::Withdrawing { error: None }
                    }
                }
            }
        };
        Ok(
            match tokio::time::timeout(self.applier.config().delete_wait, wait).await {
                Ok(deleted) => deleted,
                Err(_) => Deleted::Withdrawing { error: None },
            },
        )
    }

    /// After a restart: wakes the applier for every graph (what the backend runs is compared
    /// with the stored desired state again), re-places running graphs with services left
    /// without a placement (a write interrupted by the stop) and starts the scaling loop of
    /// every running graph.
    pub async fn resume(self: &Arc<Self>) -> Result<Resumed, EngineError> {
        let mut resumed = Resumed::default();
        for graph in self.store.list_graphs()? {
            self.applier.wake(graph.name());
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
