//! The backend behind a swap: the engine calls the Continuum port through it, and a
//! configuration reload retimes the simulated continuum or puts in a reconnected Karmada client.
//!
//! A Karmada reload connects anew when `[backend.karmada]` changed or the kubeconfig file did
//! (a rotated token or certificate at the same path), and swaps only once the new connection has
//! listed the member clusters; then every graph is applied again through it. Until then, and
//! when it cannot, the connection in force keeps serving.

use arc_swap::ArcSwap;
use smo_core::graphs::GraphSpec;
use smo_core::ports::continuum::{
    ClusterInventory, Continuum, ContinuumError, DesiredState, Observation,
};
use smo_karmada::KarmadaContinuum;
use smo_plugin_api::Cluster;
use smo_sim::backend::SimContinuum;
use std::sync::Arc;

use crate::config::Config;

/// The backend in force.
#[derive(Clone)]
pub enum Backend {
    /// The simulated continuum; `timed_by_config` is false when a scenario's `continuum`
    /// section times it (then `[backend.sim]` does not).
    Sim {
        continuum: Arc<SimContinuum>,
        timed_by_config: bool,
    },
    Karmada(Arc<KarmadaContinuum>),
}

impl Backend {
    fn port(&self) -> &dyn Continuum {
        match self {
            Backend::Sim { continuum, .. } => continuum.as_ref(),
            Backend::Karmada(continuum) => continuum.as_ref(),
        }
    }
}

/// The Continuum port over the backend in force, replaceable.
pub struct SwappableContinuum {
    current: ArcSwap<Backend>,
}

impl SwappableContinuum {
    pub fn new(backend: Backend) -> Self {
        Self {
            current: ArcSwap::from_pointee(backend),
        }
    }

    /// The backend in force now.
    pub fn current(&self) -> Arc<Backend> {
        self.current.load_full()
    }

    /// Puts `backend` in force; calls in progress finish with the old one, which is dropped
    /// (and its cluster watch stopped) after the last of them.
    pub fn replace(&self, backend: Backend) {
        self.current.store(Arc::new(backend));
    }
}

#[async_trait::async_trait]
impl Continuum for SwappableContinuum {
    fn kind(&self) -> &'static str {
        self.current().port().kind()
    }

    async fn inventory(&self) -> Result<Vec<ClusterInventory>, ContinuumError> {
        self.current().port().inventory().await
    }

    async fn apply(&self, graph: &GraphSpec, desired: &DesiredState) -> Result<(), ContinuumError> {
        self.current().port().apply(graph, desired).await
    }

    async fn observe(&self, graph: &str) -> Result<Observation, ContinuumError> {
        self.current().port().observe(graph).await
    }

    async fn withdraw(&self, graph: &str) -> Result<(), ContinuumError> {
        self.current().port().withdraw(graph).await
    }

    fn passes_server_choice(&self) -> bool {
        self.current().port().passes_server_choice()
    }

    fn registered(&self, clusters: &[Cluster]) {
        self.current().port().registered(clusters);
    }
}

/// Why the new backend settings could not be put in force.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}; the backend in force keeps serving")]
pub struct BackendReloadError {
    pub key: &'static str,
    pub message: String,
}

/// What a reload does to the backend, prepared before anything is replaced.
pub enum BackendChange {
    /// Nothing to do.
    Unchanged,
    /// New timing and injected failures for the simulated continuum.
    Retime {
        continuum: Arc<SimContinuum>,
        ready_after_s: f64,
        fail_applies: u64,
    },
    /// A new Karmada connection that has listed the member clusters.
    Reconnect(Arc<KarmadaContinuum>),
}

impl BackendChange {
    /// Prepares the change from `old` to `new` for the backend in force; a Karmada connection
    /// is made and its first list of member clusters awaited (up to the request deadline).
    /// Changes of kind and of namespace never reach here (only a restart applies them).
    pub async fn prepare(
        backend: &Backend,
        old: &Config,
        new: &Config,
    ) -> Result<Self, BackendReloadError> {
        match backend {
            Backend::Sim {
                continuum,
                timed_by_config,
            } => Ok(if *timed_by_config && old.backend.sim != new.backend.sim {
                BackendChange::Retime {
                    continuum: Arc::clone(continuum),
                    ready_after_s: new.backend.sim.ready_after_s,
                    fail_applies: new.backend.sim.fail_applies,
                }
            } else {
                BackendChange::Unchanged
            }),
            Backend::Karmada(continuum) => {
                let settings = new.backend.karmada.to_settings();
                if settings == *continuum.settings() && !continuum.kubeconfig_changed() {
                    return Ok(BackendChange::Unchanged);
                }
                let span =
                    tracing::info_span!("backend_reconnect", kubeconfig = ?settings.kubeconfig);
                let _entered = span.enter();
                let next =
                    continuum
                        .reconnect(settings)
                        .await
                        .map_err(|message| BackendReloadError {
                            key: "backend.karmada",
                            message,
                        })?;
                let clusters = next.inventory().await.map_err(|error| BackendReloadError {
                    key: "backend.karmada",
                    message: format!("the new connection failed: {error}"),
                })?;
                tracing::info!(
                    clusters = clusters.len(),
                    "the new Karmada connection lists the member clusters"
                );
                Ok(BackendChange::Reconnect(Arc::new(next)))
            }
        }
    }

    /// Whether the graphs are to be applied again through the backend (it was replaced).
    pub fn replaces_backend(&self) -> bool {
        matches!(self, BackendChange::Reconnect(_))
    }

    /// Puts the change in force.
    pub fn commit(self, swappable: &SwappableContinuum) {
        match self {
            BackendChange::Unchanged => {}
            BackendChange::Retime {
                continuum,
                ready_after_s,
                fail_applies,
            } => continuum.set_timing(ready_after_s, fail_applies),
            BackendChange::Reconnect(continuum) => {
                swappable.replace(Backend::Karmada(continuum));
            }
        }
    }
}
