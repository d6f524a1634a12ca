//! `[backend]` and `[applier]`: the continuum decisions are applied to, and how the applier
//! reconciles desired states with it.

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// The backends `[backend] kind` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The embedded simulated continuum.
    Sim,
    /// Kubernetes clusters federated by a Karmada control plane.
    Karmada,
}

/// `[backend]`: where decisions are applied.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BackendSettings {
    /// `"sim"` (default): the embedded simulated continuum, with or without `[sim] scenario`.
    pub kind: String,
    /// `[backend.sim]`: how the simulated continuum behaves.
    pub sim: SimBackendSettings,
    /// `[backend.karmada]`: where the Karmada API server is and how graphs are rendered for it.
    pub karmada: KarmadaBackendSettings,
}

impl Default for BackendSettings {
    fn default() -> Self {
        Self {
            kind: "sim".into(),
            sim: SimBackendSettings::default(),
            karmada: KarmadaBackendSettings::default(),
        }
    }
}

impl BackendSettings {
    /// The parsed `kind`; the error names `backend.kind`.
    pub fn kind(&self) -> Result<BackendKind, ConfigError> {
        match self.kind.as_str() {
            "sim" => Ok(BackendKind::Sim),
            "karmada" => Ok(BackendKind::Karmada),
            other => Err(ConfigError::Invalid {
                field: "backend.kind".into(),
                message: format!(
                    "unknown backend `{other}` (this release has `sim`, the embedded simulated \
                     continuum, and `karmada`)"
                ),
            }),
        }
    }

    /// Checks the kind and its section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.kind()?;
        let ready = self.sim.ready_after_s;
        if !(ready.is_finite() && ready >= 0.0) {
            return Err(ConfigError::Invalid {
                field: "backend.sim.ready_after_s".into(),
                message: format!("{ready} is not a number of seconds >= 0"),
            });
        }
        self.karmada.validate()
    }
}

/// `[backend.karmada]`: the Karmada control plane smo applies graphs to.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KarmadaBackendSettings {
    /// A kubeconfig for the Karmada API server (not a member cluster's). Not given: in-cluster
    /// when smo runs as a pod, else `$KUBECONFIG` or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (its current context when not given).
    pub context: Option<String>,
    /// The namespace of every graph's objects.
    pub namespace: String,
    /// The helm binary that renders services whose artifact is a chart.
    pub helm: PathBuf,
    /// Directories searched for a chart `oci://…/<name>` (as `<dir>/<name>` or
    /// `<dir>/<name>-*.tgz`) before helm pulls it.
    pub chart_dirs: Vec<PathBuf>,
    /// Pull charts from a plain-HTTP registry.
    pub plain_http: bool,
    /// The deadline of one request to the API server (ms).
    pub request_timeout_ms: u64,
    /// Register the member clusters the inventory reports that smo does not know yet (with
    /// their allocatable resources, labels, and the default energy profile).
    pub adopt_clusters: bool,
    /// How often the inventory is checked for clusters to adopt (ms).
    pub adopt_period_ms: u64,
    /// For each server choice a placement decision may ask for (`least_power_shared_idle`,
    /// ...), the member clusters' scheduler that makes it (set as the pods' `schedulerName`).
    pub scheduler_names: std::collections::BTreeMap<String, String>,
}

impl Default for KarmadaBackendSettings {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            namespace: "smo".into(),
            helm: PathBuf::from("helm"),
            chart_dirs: Vec::new(),
            plain_http: false,
            request_timeout_ms: 10_000,
            adopt_clusters: true,
            adopt_period_ms: 5_000,
            scheduler_names: std::collections::BTreeMap::new(),
        }
    }
}

impl KarmadaBackendSettings {
    /// Checks the namespace and the periods; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        smo_karmada::render::names::check_dns_label("namespace", &self.namespace).map_err(
            |error| ConfigError::Invalid {
                field: "backend.karmada.namespace".into(),
                message: error.to_string(),
            },
        )?;
        super::require_positive(
            "backend.karmada",
            &[
                ("request_timeout_ms", self.request_timeout_ms),
                ("adopt_period_ms", self.adopt_period_ms),
            ],
        )
    }

    /// The backend's own settings.
    pub fn to_settings(&self) -> smo_karmada::KarmadaSettings {
        smo_karmada::KarmadaSettings {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            helm: smo_karmada::render::HelmSettings {
                helm: self.helm.clone(),
                chart_dirs: self.chart_dirs.clone(),
                plain_http: self.plain_http,
                ..smo_karmada::render::HelmSettings::default()
            },
            request_timeout: std::time::Duration::from_millis(self.request_timeout_ms),
            scheduler_names: self.scheduler_names.clone(),
        }
    }
}

/// `[backend.sim]`: the simulated continuum's timing and injected failures. A scenario's
/// `continuum` section, when it has one, wins over these.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimBackendSettings {
    /// Simulated seconds from an apply to its replicas being ready.
    pub ready_after_s: f64,
    /// The first this many applies fail with a transient error (to try retries).
    pub fail_applies: u64,
}

impl Default for SimBackendSettings {
    fn default() -> Self {
        Self {
            ready_after_s: 2.0,
            fail_applies: 0,
        }
    }
}

/// `[applier]`: the loop that makes the backend run each graph's desired state.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApplierSettings {
    /// How often a graph whose replicas are not all ready yet is observed again (ms).
    pub poll_ms: u64,
    /// How often a graph in step is observed again, to find drift (ms).
    pub resync_ms: u64,
    /// The wait after a first failure; it doubles with each failure in a row (ms).
    pub backoff_base_ms: u64,
    /// The longest wait between two attempts (ms).
    pub backoff_max_ms: u64,
    /// Graphs reconciled at the same time.
    pub concurrency: usize,
    /// How long `DELETE /v1/graphs/{name}` waits for the withdrawal before answering 202 (ms).
    pub delete_wait_ms: u64,
}

impl Default for ApplierSettings {
    fn default() -> Self {
        Self {
            poll_ms: 500,
            resync_ms: 30_000,
            backoff_base_ms: 500,
            backoff_max_ms: 60_000,
            concurrency: 16,
            delete_wait_ms: 10_000,
        }
    }
}

impl ApplierSettings {
    /// Checks that every period is positive; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        super::require_positive(
            "applier",
            &[
                ("poll_ms", self.poll_ms),
                ("resync_ms", self.resync_ms),
                ("backoff_base_ms", self.backoff_base_ms),
                ("backoff_max_ms", self.backoff_max_ms),
                ("concurrency", self.concurrency as u64),
            ],
        )?;
        if self.backoff_max_ms < self.backoff_base_ms {
            return Err(ConfigError::Invalid {
                field: "applier.backoff_max_ms".into(),
                message: format!(
                    "{} is below applier.backoff_base_ms ({})",
                    self.backoff_max_ms, self.backoff_base_ms
                ),
            });
        }
        Ok(())
    }
}
