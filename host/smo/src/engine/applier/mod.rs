//! The applier: makes the backend run each graph's committed desired state, in the shape of
//! kube-runtime's controller. A commit wakes the graph in the [`scheduler`] (which de-duplicates
//! wake-ups), the [`runner`] reconciles due graphs with bounded concurrency and [`backoff`],
//! and [`reconcile`] is one reconcile: observe, compare, apply or withdraw, record the attempt.
//!
//! What it last observed of each graph is kept here for the status ([`phase`] turns it, with
//! the recorded attempts, into a phase); every reconcile's outcome is also broadcast, so that a
//! deletion can wait for its withdrawal.

pub mod backoff;
pub mod phase;
pub mod reconcile;
pub mod runner;
pub mod scheduler;

use backoff::BackoffPolicy;
use runner::Runner;
use scheduler::Scheduler;
use smo_core::ports::Observation;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast;

/// Settings of the applier (`[applier]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplierConfig {
    /// Next look at a graph whose replicas are not all ready yet.
    pub poll: Duration,
    /// Next look at a graph in step, to find drift.
    pub resync: Duration,
    pub backoff: BackoffPolicy,
    /// Graphs reconciled at once.
    pub concurrency: usize,
    /// How long a deletion waits for its withdrawal.
    pub delete_wait: Duration,
}

impl Default for ApplierConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            resync: Duration::from_secs(30),
            backoff: BackoffPolicy::default(),
            concurrency: 16,
            delete_wait: Duration::from_secs(10),
        }
    }
}

/// What the applier last saw of a graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The backend's answer; `None` when it could not be asked (see `error`).
    pub observation: Option<Observation>,
    /// Wall clock of the observation (ms since the Unix epoch).
    pub at_ms: i64,
    /// Why the backend could not be observed, when it could not.
    pub error: Option<String>,
}

/// How one reconcile of a graph ended, as broadcast to those waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// The backend took generation `generation`.
    Applied { graph: String, generation: u64 },
    /// The attempt at `generation` failed.
    Failed {
        graph: String,
        generation: u64,
        error: String,
        retryable: bool,
    },
    /// The graph was withdrawn and its rows removed.
    Removed { graph: String },
}

impl Reconciled {
    pub fn graph(&self) -> &str {
        match self {
            Reconciled::Applied { graph, .. }
            | Reconciled::Failed { graph, .. }
            | Reconciled::Removed { graph } => graph,
        }
    }
}

/// The applier's shared state (see the module documentation).
#[derive(Debug)]
pub struct Applier {
    config: Mutex<ApplierConfig>,
    scheduler: Arc<Scheduler>,
    runner: Arc<Runner>,
    observed: Mutex<HashMap<String, Observed>>,
    /// Graphs to apply again even when the backend runs their desired state: the backend was
    /// replaced by a configuration reload (new credentials, new rendering settings).
    reapply: Mutex<HashSet<String>>,
    outcomes: broadcast::Sender<Reconciled>,
}

impl Applier {
    pub fn new(config: ApplierConfig) -> Self {
        let scheduler = Arc::new(Scheduler::default());
        let runner = Arc::new(Runner::new(
            Arc::clone(&scheduler),
            config.concurrency,
            config.backoff,
        ));
        let (outcomes, _) = broadcast::channel(1024);
        Self {
            config: Mutex::new(config),
            scheduler,
            runner,
            observed: Mutex::new(HashMap::new()),
            reapply: Mutex::new(HashSet::new()),
            outcomes,
        }
    }

    pub fn config(&self) -> ApplierConfig {
        *self.config.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// New settings (a configuration reload): periods and the deletion wait apply from the
    /// next reconcile, the backoff from the next failure; a smaller concurrency takes effect
    /// as running reconciles end.
    pub fn set_config(&self, config: ApplierConfig) {
        let old = std::mem::replace(
            &mut *self.config.lock().unwrap_or_else(PoisonError::into_inner),
            config,
        );
        self.runner.set_backoff(config.backoff);
        if old.concurrency != config.concurrency {
            self.runner.resize(old.concurrency, config.concurrency);
        }
    }

    /// Applies each of `graphs` again at its next reconcile, and wakes them (see `reapply`).
    pub fn reapply_all(&self, graphs: impl IntoIterator<Item = String>) {
        let graphs: Vec<String> = graphs.into_iter().collect();
        self.reapply_set().extend(graphs.iter().cloned());
        for graph in &graphs {
            self.wake(graph);
        }
    }

    /// Whether graph `name` is to be applied again although in step.
    pub fn must_reapply(&self, name: &str) -> bool {
        self.reapply_set().contains(name)
    }

    /// Graph `name` was applied (or withdrawn): no reapply pending.
    pub(crate) fn reapplied(&self, name: &str) {
        self.reapply_set().remove(name);
    }

    fn reapply_set(&self) -> MutexGuard<'_, HashSet<String>> {
        self.reapply.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }

    fn observed_map(&self) -> MutexGuard<'_, HashMap<String, Observed>> {
        self.observed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reconciles graph `name` as soon as possible.
    pub fn wake(&self, name: &str) {
        self.scheduler.schedule_now(name);
    }

    /// What was last observed of graph `name`.
    pub fn observed(&self, name: &str) -> Option<Observed> {
        self.observed_map().get(name).cloned()
    }

    pub(crate) fn set_observed(&self, name: &str, observed: Observed) {
        self.observed_map().insert(name.to_owned(), observed);
    }

    /// Forgets graph `name` (deleted): its observation, schedule and failure count.
    pub fn forget(&self, name: &str) {
        self.observed_map().remove(name);
        self.reapplied(name);
        self.scheduler.cancel(name);
        self.runner.forget(name);
    }

    /// Outcomes of the reconciles from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Reconciled> {
        self.outcomes.subscribe()
    }

    pub(crate) fn publish(&self, outcome: Reconciled) {
        // Nobody listening is the common case.
        let _ = self.outcomes.send(outcome);
    }
}
