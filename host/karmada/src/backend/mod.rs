//! The Karmada backend: the Continuum port over a Karmada API server. Apply renders the graph
//! and sends it by server-side apply ([`apply`]), observe reads Karmada's ResourceBindings
//! ([`observe`]), inventory is a watch over the member clusters ([`inventory`]).
//!
//! Every request has a deadline; what the API server answers is classified by [`errors`] so that
//! the applier retries what may pass (409, 429, 5xx, timeouts) and not what will not (4xx).

pub mod apply;
pub mod connection;
pub mod errors;
pub mod inventory;
pub mod observe;
pub mod quantity;
pub mod resources;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use smo_core::graphs::GraphSpec;
use smo_core::ports::continuum::{
    ClusterInventory, Continuum, ContinuumError, DesiredState, Observation,
};

use tracing::Instrument;

use crate::render::HelmSettings;
use inventory::Inventory;
use resources::Resources;

/// `[backend.karmada]`: where the Karmada API server is and how graphs are rendered for it.
#[derive(Debug, Clone, PartialEq)]
pub struct KarmadaSettings {
    /// A kubeconfig for the Karmada API server (not a member cluster's); inferred when `None`
    /// (in-cluster, `$KUBECONFIG`, `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; its current context when `None`.
    pub context: Option<String>,
    /// The namespace of every graph's objects.
    pub namespace: String,
    pub helm: HelmSettings,
    /// The deadline of one request to the API server.
    pub request_timeout: Duration,
    /// The member clusters' scheduler (a pod's `schedulerName`) for each server choice a
    /// placement decision may ask for (`extra.server_selection`, e.g.
    /// `least_power_shared_idle`); a choice not listed leaves the default scheduler.
    pub scheduler_names: BTreeMap<String, String>,
}

impl Default for KarmadaSettings {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            namespace: "smo".into(),
            helm: HelmSettings::default(),
            request_timeout: Duration::from_secs(10),
            scheduler_names: BTreeMap::new(),
        }
    }
}

/// The Continuum port over one Karmada control plane.
pub struct KarmadaContinuum {
    settings: KarmadaSettings,
    resources: Resources,
    inventory: Inventory,
    /// Per graph, the kinds of its objects applied since this process started (pruned and
    /// withdrawn besides the usual ones).
    kinds: Mutex<HashMap<String, BTreeSet<(String, String)>>>,
    /// The kubeconfig as read at connect ([`connection::kubeconfig_fingerprint`]).
    kubeconfig_fingerprint: Option<u64>,
}

impl KarmadaContinuum {
    /// Connects to the API server `settings` name and starts watching its clusters.
    pub async fn connect(settings: KarmadaSettings) -> Result<Self, String> {
        let kubeconfig_fingerprint =
            connection::kubeconfig_fingerprint(settings.kubeconfig.as_deref());
        let client =
            connection::connect(settings.kubeconfig.as_deref(), settings.context.as_deref())
                .await?;
        Ok(Self {
            inventory: Inventory::start(client.clone()),
            resources: Resources::new(client),
            settings,
            kinds: Mutex::new(HashMap::new()),
            kubeconfig_fingerprint,
        })
    }

    /// A new connection with `settings` (a configuration reload) that knows what this one
    /// applied, so that the kinds of every graph's objects are still pruned and withdrawn.
    /// This one keeps serving until it is dropped; its cluster watch stops then.
    pub async fn reconnect(&self, settings: KarmadaSettings) -> Result<Self, String> {
        let next = Self::connect(settings).await?;
        let known = self.lock_kinds().clone();
        next.lock_kinds().extend(known);
        Ok(next)
    }

    /// Whether the kubeconfig this connection read has changed since (a rotated token or
    /// certificate written at the same path).
    pub fn kubeconfig_changed(&self) -> bool {
        connection::kubeconfig_fingerprint(self.settings.kubeconfig.as_deref())
            != self.kubeconfig_fingerprint
    }

    pub fn settings(&self) -> &KarmadaSettings {
        &self.settings
    }

    /// `call` under the request deadline; its error classified as request `what`.
    async fn timed<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ContinuumError> {
        let deadline = self.settings.request_timeout;
        match tokio::time::timeout(deadline, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(errors::classify(what, error)),
            Err(_) => Err(errors::timed_out(what, deadline.as_secs_f64())),
        }
    }

    /// [`Self::timed`] with the request's description owned (for futures built in a closure).
    async fn timed_owned<T>(
        &self,
        what: String,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ContinuumError> {
        self.timed(&what, call).await
    }

    fn lock_kinds(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<(String, String)>>> {
        self.kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn applied_kinds(&self, graph: &str) -> BTreeSet<(String, String)> {
        self.lock_kinds().get(graph).cloned().unwrap_or_else(|| {
            apply::MANAGED_KINDS
                .iter()
                .map(|(v, k)| ((*v).to_owned(), (*k).to_owned()))
                .collect()
        })
    }

    fn remember_kinds(&self, graph: &str, kinds: BTreeSet<(String, String)>) {
        self.lock_kinds().insert(graph.to_owned(), kinds);
    }

    fn forget_kinds(&self, graph: &str) {
        self.lock_kinds().remove(graph);
    }
}

#[async_trait::async_trait]
impl Continuum for KarmadaContinuum {
    fn kind(&self) -> &'static str {
        "karmada"
    }

    fn passes_server_choice(&self) -> bool {
        !self.settings.scheduler_names.is_empty()
    }

    async fn inventory(&self) -> Result<Vec<ClusterInventory>, ContinuumError> {
        self.inventory.clusters(self.settings.request_timeout).await
    }

    async fn apply(&self, graph: &GraphSpec, desired: &DesiredState) -> Result<(), ContinuumError> {
        let span = tracing::info_span!(
            "karmada_apply",
            graph = %graph.name,
            generation = desired.generation
        );
        self.apply_graph(graph, desired).instrument(span).await
    }

    async fn observe(&self, graph: &str) -> Result<Observation, ContinuumError> {
        let span = tracing::debug_span!("karmada_observe", graph);
        self.observe_graph(graph).instrument(span).await
    }

    async fn withdraw(&self, graph: &str) -> Result<(), ContinuumError> {
        let span = tracing::info_span!("karmada_withdraw", graph);
        self.withdraw_graph(graph).instrument(span).await
    }
}
