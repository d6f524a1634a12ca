//! Reloading `smo serve` (SIGHUP, `systemctl reload`): the configuration is read again the way
//! it was at start, checked whole, and only then put in force; then the plugins are reloaded.
//!
//! In force at once: `[plugins]` call limits, `[defaults]`, `[auth]` tokens, `[engine]`,
//! `[applier]`, `[ecosystem]` (its loop restarted when its period or budget changed), the
//! Prometheus settings of `[telemetry]`, the `[tls]` certificate, and `[backend]` (see
//! [`backend`]: the simulated continuum retimed, or a new Karmada connection once it lists the
//! member clusters, every graph then applied again). What only a restart can change
//! ([`restart_only_changes`]) refuses the reload with a line naming each key; a file that does
//! not parse or validate changes nothing and says why. Either way the old configuration stays.

pub mod backend;
pub mod telemetry;

use crate::api::auth::{Auth, AuthError};
use crate::config::source::{restart_only_changes, ConfigSource};
use crate::config::BackendKind;
use crate::config::{Config, ConfigError, TelemetrySourceKind};
use crate::engine::lifecycle::Engine;
use crate::systemd::Notifier;
use backend::{BackendChange, BackendReloadError, SwappableContinuum};
use smo_plugin_host::{Dispatcher, ReloadReport};
use smo_prometheus::PrometheusTelemetry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use telemetry::SwappableTelemetry;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}", restart_lines(.0))]
    RestartOnly(Vec<&'static str>),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("config: {0}")]
    Tls(String),
    #[error("plugins: {0}")]
    Plugins(#[from] smo_plugin_host::PluginHostError),
    #[error("config: {0}")]
    Backend(#[from] BackendReloadError),
    #[error("config: the graphs to apply again could not be read: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn restart_lines(keys: &[&'static str]) -> String {
    keys.iter()
        .map(|k| format!("config: {k}: changed, but only a restart applies it"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq)]
pub struct Reloaded {
    /// The sections whose values changed.
    pub changed: Vec<&'static str>,
    /// The plugins' reload.
    pub plugins: ReloadReport,
}

impl Reloaded {
    /// One line for logs and systemd's status.
    pub fn summary(&self) -> String {
        let p = &self.plugins;
        format!(
            "configuration reloaded ({}); plugins generation {}: {} added, {} updated, {} removed, {} refused",
            if self.changed.is_empty() {
                "no change".to_owned()
            } else {
                format!("changed: {}", self.changed.join(", "))
            },
            p.generation,
            p.added.len(),
            p.updated.len(),
            p.removed.len(),
            p.failed.len()
        )
    }
}

/// Everything a reload changes.
pub struct Reloader {
    source: ConfigSource,
    /// The configuration in force; held across a reload, so reloads run one at a time.
    current: tokio::sync::Mutex<Config>,
    dispatcher: Arc<Dispatcher>,
    engine: Arc<Engine>,
    auth: Arc<Auth>,
    telemetry: Arc<SwappableTelemetry>,
    /// The server's certificate, when it serves HTTPS.
    tls: Option<Arc<crate::tls::TlsReloader>>,
    ecosystem_loop: Mutex<Option<tokio::task::JoinHandle<()>>>,
    backend: Arc<SwappableContinuum>,
    adopt_loop: Mutex<Option<tokio::task::JoinHandle<()>>>,
    notifier: Notifier,
}

/// The parts of a running daemon a reload reaches.
pub struct Parts {
    pub dispatcher: Arc<Dispatcher>,
    pub engine: Arc<Engine>,
    pub auth: Arc<Auth>,
    pub telemetry: Arc<SwappableTelemetry>,
    pub ecosystem_loop: Option<tokio::task::JoinHandle<()>>,
    pub backend: Arc<SwappableContinuum>,
    /// The loop adopting Karmada's member clusters, when it runs.
    pub adopt_loop: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the loop adopting the backend's member clusters, when `config` (validated) asks for
/// it: a Karmada backend with `adopt_clusters`. The loop ends by itself with the engine.
pub fn spawn_adopt_loop(
    engine: &Arc<Engine>,
    config: &Config,
) -> Option<tokio::task::JoinHandle<()>> {
    let karmada = &config.backend.karmada;
    let adopts = config.backend.kind().ok() == Some(BackendKind::Karmada) && karmada.adopt_clusters;
    adopts.then(|| {
        crate::engine::backend_clusters::spawn_adopting(
            Arc::downgrade(engine),
            Duration::from_millis(karmada.adopt_period_ms),
        )
    })
}

/// Replaces the loop in `slot` with `next` (the old one aborted).
fn respawn(
    slot: &Mutex<Option<tokio::task::JoinHandle<()>>>,
    next: Option<tokio::task::JoinHandle<()>>,
) {
    let mut running = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(old) = running.take() {
        old.abort();
    }
    *running = next;
}

/// Starts the ecosystem loop of `config` (none when its period is 0).
pub fn spawn_ecosystem_loop(
    engine: &Arc<Engine>,
    config: &Config,
) -> Option<tokio::task::JoinHandle<()>> {
    (config.ecosystem.period_ms > 0).then(|| {
        crate::engine::ecosystem_loop::spawn(
            Arc::downgrade(engine),
            engine.ecosystem_waker(),
            Duration::from_millis(config.ecosystem.period_ms),
            config.ecosystem.max_moves_per_period,
        )
    })
}

/// The sections of `new` that differ from `old`.
fn changed_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    [
        ("plugins", old.plugins != new.plugins),
        ("defaults", old.defaults != new.defaults),
        ("auth", old.auth != new.auth),
        ("engine", old.engine != new.engine),
        ("applier", old.applier != new.applier),
        ("backend", old.backend != new.backend),
        ("ecosystem", old.ecosystem != new.ecosystem),
        ("telemetry", old.telemetry != new.telemetry),
        ("tls", old.tls != new.tls),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

impl Reloader {
    pub fn new(
        source: ConfigSource,
        config: Config,
        parts: Parts,
        tls: Option<Arc<crate::tls::TlsReloader>>,
        notifier: Notifier,
    ) -> Self {
        Self {
            source,
            current: tokio::sync::Mutex::new(config),
            dispatcher: parts.dispatcher,
            engine: parts.engine,
            auth: parts.auth,
            telemetry: parts.telemetry,
            tls,
            ecosystem_loop: Mutex::new(parts.ecosystem_loop),
            backend: parts.backend,
            adopt_loop: Mutex::new(parts.adopt_loop),
            notifier,
        }
    }

    /// One reload, told to the service manager (`RELOADING=1` … `READY=1` with its outcome).
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let span = tracing::info_span!("reload", file = ?self.source.file());
        let _entered = span.enter();
        self.notifier
            .reloading("reloading the configuration and the plugins");
        let outcome = self.apply().await;
        self.engine.config_reloads.count(outcome.is_ok());
        match &outcome {
            Ok(done) => {
                let line = done.summary();
                tracing::info!("{line}");
                self.notifier.ready(&line);
            }
            Err(error) => {
                tracing::error!(%error, "reload refused: the previous configuration stays in force");
                self.notifier.ready(&format!(
                    "reload refused, previous configuration in force: {error}"
                ));
            }
        }
        outcome
    }

    async fn apply(&self) -> Result<Reloaded, ReloadError> {
        let new = self.source.load()?;
        let mut current = self.current.lock().await;
        let restart = restart_only_changes(&current, &new);
        if !restart.is_empty() {
            return Err(ReloadError::RestartOnly(restart));
        }
        // Everything that can fail is built before anything is replaced.
        let defaults = new.default_strategies()?;
        let auth = if new.auth != current.auth {
            Some(Auth::from_config(
                &new.auth,
                &new.state_dir,
                self.engine.store(),
            )?)
        } else {
            None
        };
        // Every reload re-reads the certificate: a renewal rewrites the files at the same paths.
        crate::tls::reload(self.tls.as_deref(), &new.tls)
            .map_err(|e| ReloadError::Tls(e.to_string()))?;
        let backend = BackendChange::prepare(&self.backend.current(), &current, &new).await?;
        let reapply = if backend.replaces_backend() {
            self.engine.store().graph_names()?
        } else {
            Vec::new()
        };
        let mut changed = changed_sections(&current, &new);
        if backend.replaces_backend() && !changed.contains(&"backend") {
            // The kubeconfig file changed under the same settings.
            changed.push("backend");
        }
        self.dispatcher.set_guard(new.guard_config());
        self.dispatcher.set_defaults(defaults);
        if let Some(auth) = auth {
            self.auth.replace(auth);
        }
        if new.telemetry != current.telemetry
            && new.telemetry.source_kind()? == TelemetrySourceKind::Prometheus
        {
            self.telemetry.replace(Arc::new(PrometheusTelemetry::new(
                new.telemetry.prometheus.to_prometheus_config(),
            )));
        }
        self.engine.set_config(crate::daemon::engine_config(&new));
        backend.commit(&self.backend);
        // Through the new connection, even the graphs it already runs (empty otherwise).
        self.engine.applier().reapply_all(reapply);
        if new.ecosystem.period_ms != current.ecosystem.period_ms
            || new.ecosystem.max_moves_per_period != current.ecosystem.max_moves_per_period
        {
            respawn(
                &self.ecosystem_loop,
                spawn_ecosystem_loop(&self.engine, &new),
            );
        }
        let (old_adopt, new_adopt) = (&current.backend.karmada, &new.backend.karmada);
        if old_adopt.adopt_clusters != new_adopt.adopt_clusters
            || old_adopt.adopt_period_ms != new_adopt.adopt_period_ms
        {
            respawn(&self.adopt_loop, spawn_adopt_loop(&self.engine, &new));
        }
        *current = new;
        drop(current);
        let plugins = self.dispatcher.registry().reload().await?;
        Ok(Reloaded { changed, plugins })
    }

    /// Reloads on every SIGHUP until the process ends.
    pub fn spawn_sighup(self: Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received: reloading the configuration and the plugins");
                // The outcome is logged and told to systemd by `reload`.
                let _ = self.reload().await;
            }
        }))
    }
}
