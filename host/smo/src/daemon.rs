//! `smo serve`: builds the plugin registry, the dispatcher, the store, the engine and the API,
//! resumes the control loops of running graphs, installs the reload triggers, and serves until
//! SIGTERM or Ctrl-C.

use crate::api::auth::{Auth, AuthError};
use crate::api::{self, AppState};
use crate::config::source::ConfigSource;
use crate::config::{ApplierSettings, BackendKind, Config, TelemetrySourceKind};
use crate::engine::applier::backoff::BackoffPolicy;
use crate::engine::applier::ApplierConfig;
use crate::engine::lifecycle::{Engine, EngineConfig};
use crate::engine::{backend_clusters, inventory, scenario_clusters};
use crate::reload::backend::{Backend, SwappableContinuum};
use crate::reload::telemetry::SwappableTelemetry;
use crate::reload::{Parts, Reloader};
use crate::store::{Store, StoreError};
use crate::systemd::{watchdog, Notifier};
use smo_core::ports::TelemetrySource;
use smo_karmada::KarmadaContinuum;
use smo_plugin_host::{triggers, CallGuard, Dispatcher, Registry, RegistryConfig};
use smo_prometheus::PrometheusTelemetry;
use smo_sim::backend::SineLoad;
use smo_sim::backend::{ScenarioTelemetry, SimBehaviour, SimContinuum};
use smo_sim::scenario::{ContinuumSpec, Scenario};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Plugins(#[from] smo_plugin_host::PluginHostError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Engine(#[from] crate::engine::error::EngineError),
    #[error("{0}")]
    Other(String),
}

/// Builds the registry and dispatcher from the configuration.
pub async fn build_dispatcher(
    config: &Config,
    probe_exe: PathBuf,
) -> Result<Arc<Dispatcher>, DaemonError> {
    let registry = Registry::open(registry_config(config, probe_exe)?).await?;
    dispatcher_over(config, registry)
}

/// [`build_dispatcher`] over a registry that has probed no plugin yet ([`Registry::empty`]):
/// each is looked for when first named ([`Registry::find_missing`]). `smo simulate` uses it, so
/// a run hashes and probes only the plugins it calls.
pub fn build_lazy_dispatcher(
    config: &Config,
    probe_exe: PathBuf,
) -> Result<Arc<Dispatcher>, DaemonError> {
    let registry = Registry::empty(registry_config(config, probe_exe)?);
    dispatcher_over(config, registry)
}

/// The registry settings of `config`, with its state and plugin directories made.
fn registry_config(config: &Config, probe_exe: PathBuf) -> Result<RegistryConfig, DaemonError> {
    config.validate()?;
    crate::store::private_dir(&config.state_dir).map_err(|source| DaemonError::Dir {
        path: config.state_dir.clone(),
        source,
    })?;
    std::fs::create_dir_all(&config.plugin_dir).map_err(|source| DaemonError::Dir {
        path: config.plugin_dir.clone(),
        source,
    })?;
    let mut rc = RegistryConfig::new(&config.plugin_dir, &config.state_dir, probe_exe);
    rc.system_plugin_dir = config.shipped_plugin_dir().map(PathBuf::from);
    rc.max_images = config.plugins.max_images;
    rc.max_concurrent_calls = config.plugins.max_concurrent_calls;
    rc.allow_insecure_permissions = config.plugins.allow_insecure_permissions;
    rc.isolation = config.plugins.isolation_policy();
    rc.probe.timeout = Duration::from_millis(config.plugins.probe_timeout_ms);
    Ok(rc)
}

/// The dispatcher over `registry`, with the call limits and default strategies of `config`.
fn dispatcher_over(config: &Config, registry: Registry) -> Result<Arc<Dispatcher>, DaemonError> {
    let registry = Arc::new(registry);
    let guard = CallGuard::new(config.guard_config());
    let defaults = config.default_strategies()?;
    Ok(Arc::new(Dispatcher::new(registry, guard, defaults)))
}

/// The daemon's parts, ready to serve: the router and the engine behind it.
pub struct App {
    pub router: axum::Router,
    pub engine: Arc<Engine>,
    pub dispatcher: Arc<Dispatcher>,
    /// What a configuration reload replaces.
    pub auth: Arc<Auth>,
    pub telemetry: Arc<SwappableTelemetry>,
    pub ecosystem_loop: Option<tokio::task::JoinHandle<()>>,
    pub backend: Arc<SwappableContinuum>,
    pub adopt_loop: Option<tokio::task::JoinHandle<()>>,
}

/// Builds everything `smo serve` runs: registry and dispatcher, the store in the state
/// directory (seeded with the default inventory at first start), authentication, the engine
/// with the running graphs' loops resumed, and the router.
pub async fn build_app(config: &Config, probe_exe: PathBuf) -> Result<App, DaemonError> {
    if config.engine.scaling_period_ms == 0 {
        return Err(crate::config::ConfigError::Invalid {
            field: "engine.scaling_period_ms".into(),
            message: "must be > 0".into(),
        }
        .into());
    }
    let dispatcher = build_dispatcher(config, probe_exe).await?;
    let store = Arc::new(Store::open(&config.state_dir)?);
    let mut scenario_behaviour = None;
    let simulated: Arc<dyn TelemetrySource> = match &config.sim.scenario {
        Some(path) => {
            let scenario = Scenario::load(path).map_err(|e| DaemonError::Other(e.to_string()))?;
            scenario_behaviour = scenario.spec.continuum;
            let sim = Arc::new(
                ScenarioTelemetry::new(scenario, config.sim.speed)
                    .map_err(|e| DaemonError::Other(format!("{}: {e}", path.display())))?,
            );
            let clusters = scenario_clusters::sync(&sim, &store)?;
            tracing::info!(
                scenario = %path.display(),
                clusters,
                speed = config.sim.speed,
                "simulated continuum: clusters from the scenario"
            );
            // The task lives as long as the runtime: the daemon's whole life.
            drop(scenario_clusters::spawn_hourly(
                Arc::clone(&sim),
                Arc::clone(&store),
            ));
            sim
        }
        None if config.backend.kind()? != BackendKind::Sim => Arc::new(SineLoad::default()),
        None => {
            let seeded = inventory::seed_if_empty(&store)?;
            if seeded > 0 {
                tracing::info!(
                    clusters = seeded,
                    "seeded the default cluster inventory (edge, GPU cloud, cloud)"
                );
            }
            Arc::new(SineLoad::default())
        }
    };
    let telemetry = Arc::new(SwappableTelemetry::new(choose_telemetry(
        config, simulated,
    )?));
    let backend = Arc::new(SwappableContinuum::new(
        build_backend(config, scenario_behaviour).await?,
    ));
    let auth = Arc::new(Auth::from_config(&config.auth, &config.state_dir, &store)?);
    let engine = Engine::new(
        store,
        Arc::clone(&dispatcher),
        Arc::clone(&telemetry) as Arc<dyn TelemetrySource>,
        Arc::clone(&backend) as Arc<dyn smo_core::ports::Continuum>,
        engine_config(config),
    );
    engine.announce_clusters()?;
    let karmada = &config.backend.karmada;
    if config.backend.kind()? == BackendKind::Karmada && karmada.adopt_clusters {
        if let Err(error) = backend_clusters::adopt_once(&engine).await {
            tracing::warn!(
                %error,
                "the member clusters could not be read at start; retried every {} ms",
                karmada.adopt_period_ms
            );
        }
    }
    // The task ends by itself once the engine is dropped (a reload may replace it).
    let adopt_loop = crate::reload::spawn_adopt_loop(&engine, config);
    // The task ends by itself once the engine is dropped (a reload may replace it).
    let ecosystem_loop = crate::reload::spawn_ecosystem_loop(&engine, config);
    engine.start_applier();
    let resumed = engine.resume().await?;
    if resumed.loops > 0 {
        tracing::info!(
            loops = resumed.loops,
            replaced = resumed.replaced,
            "resumed the control loops of running graphs"
        );
    }
    let metrics = Arc::new(crate::metrics::Metrics::new(&engine));
    if let Some(addr) = config.metrics.listen {
        api::metrics::spawn_listener(addr, Arc::clone(&metrics), &config.http)
            .await
            .map_err(|source| DaemonError::Listen { addr, source })?;
    }
    let router = api::router(AppState {
        dispatcher: Arc::clone(&dispatcher),
        engine: Arc::clone(&engine),
        auth: Arc::clone(&auth),
        metrics,
    });
    Ok(App {
        router,
        engine,
        dispatcher,
        auth,
        telemetry,
        ecosystem_loop,
        backend,
        adopt_loop,
    })
}

/// The engine's settings from `[engine]`, `[applier]` and `[ecosystem]`.
pub fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        scaling_period: Duration::from_millis(config.engine.scaling_period_ms),
        decision_history: config.engine.decision_history,
        applier: applier_config(&config.applier),
        ecosystem: config.ecosystem.weights(),
        ecosystem_strategy: config.ecosystem.strategy.clone(),
        ecosystem_params: config.ecosystem.parameters.clone(),
        ecosystem_window_ms: config.ecosystem.window_ms,
        ecosystem_bandwidth_gbps: config.ecosystem.bandwidth_gbps,
    }
}

/// The applier's settings from `[applier]`.
fn applier_config(settings: &ApplierSettings) -> ApplierConfig {
    ApplierConfig {
        poll: Duration::from_millis(settings.poll_ms),
        resync: Duration::from_millis(settings.resync_ms),
        backoff: BackoffPolicy {
            base: Duration::from_millis(settings.backoff_base_ms),
            max: Duration::from_millis(settings.backoff_max_ms),
        },
        concurrency: settings.concurrency,
        delete_wait: Duration::from_millis(settings.delete_wait_ms),
    }
}

/// The backend of `[backend] kind`: the simulated continuum, timed by `[backend.sim]` unless
/// the scenario has a `continuum` section, or a Karmada control plane (`[backend.karmada]`).
async fn build_backend(
    config: &Config,
    scenario: Option<ContinuumSpec>,
) -> Result<Backend, DaemonError> {
    match config.backend.kind()? {
        BackendKind::Sim => {
            let settings = &config.backend.sim;
            let timed_by_config = scenario.is_none();
            let behaviour = match scenario {
                Some(spec) => SimBehaviour {
                    ready_after_s: spec.ready_after_s,
                    fail_applies: spec.fail_applies,
                    speed: config.sim.speed,
                },
                None => SimBehaviour {
                    ready_after_s: settings.ready_after_s,
                    fail_applies: settings.fail_applies,
                    speed: config.sim.speed,
                },
            };
            tracing::info!(
                ready_after_s = behaviour.ready_after_s,
                fail_applies = behaviour.fail_applies,
                "backend: the simulated continuum"
            );
            Ok(Backend::Sim {
                continuum: Arc::new(SimContinuum::new(behaviour)),
                timed_by_config,
            })
        }
        BackendKind::Karmada => {
            let settings = config.backend.karmada.to_settings();
            let continuum = KarmadaContinuum::connect(settings)
                .await
                .map_err(DaemonError::Other)?;
            let settings = continuum.settings();
            tracing::info!(
                kubeconfig = ?settings.kubeconfig,
                context = ?settings.context,
                namespace = %settings.namespace,
                "backend: Karmada"
            );
            Ok(Backend::Karmada(Arc::new(continuum)))
        }
    }
}

/// The telemetry every loop reads, from `[telemetry] source`: the simulated continuum's own
/// (`builtin`: the scenario's, or the demo sine load without one), or Prometheus. With
/// `prometheus`, a graph absent from `[telemetry.prometheus.graphs]` is not given the built-in
/// model instead: its scaling rounds are skipped and its offload rounds fail, each with a
/// telemetry error naming the graph (logged, counted in its status), so that no loop acts on
/// simulated figures.
fn choose_telemetry(
    config: &Config,
    simulated: Arc<dyn TelemetrySource>,
) -> Result<Arc<dyn TelemetrySource>, DaemonError> {
    let settings = &config.telemetry;
    let _span = tracing::info_span!("telemetry", source = %settings.source).entered();
    match settings.source_kind()? {
        TelemetrySourceKind::Builtin => {
            if settings.prometheus != Default::default() {
                tracing::warn!(
                    "[telemetry.prometheus] is configured but telemetry.source is \"builtin\": \
                     the loops use the simulated continuum's loads and delay"
                );
            }
            Ok(simulated)
        }
        TelemetrySourceKind::Prometheus => {
            let prometheus = &settings.prometheus;
            let graphs: Vec<&str> = prometheus.graphs.keys().map(String::as_str).collect();
            if graphs.is_empty() {
                tracing::warn!(
                    url = %prometheus.url,
                    "telemetry.source is \"prometheus\" but no [telemetry.prometheus.graphs.<graph>] \
                     is configured: every loop will report a telemetry error"
                );
            }
            tracing::info!(
                url = %prometheus.url,
                timeout_ms = prometheus.timeout_ms,
                graphs = ?graphs,
                "the loops read Prometheus"
            );
            Ok(Arc::new(PrometheusTelemetry::new(
                prometheus.to_prometheus_config(),
            )))
        }
    }
}

/// How long the control loops may take to end the round they are in once the server stopped.
const LOOPS_DEADLINE: Duration = Duration::from_secs(10);

/// Runs the daemon until it is told to stop. `source` is where `config` came from: a reload
/// (SIGHUP, `systemctl reload`) reads it again.
pub async fn serve(
    config: Config,
    source: ConfigSource,
    probe_exe: PathBuf,
) -> Result<(), DaemonError> {
    let notifier = Notifier::from_env();
    let App {
        router,
        dispatcher,
        engine,
        auth,
        telemetry,
        ecosystem_loop,
        backend,
        adopt_loop,
    } = build_app(&config, probe_exe).await?;
    let registry = Arc::clone(dispatcher.registry());
    let _watch = if config.plugins.watch {
        let watch = triggers::spawn_watch(
            Arc::clone(&registry),
            Duration::from_millis(config.plugins.watch_debounce_ms),
        )
        .map_err(DaemonError::Other)?;
        tracing::info!(dir = %config.plugin_dir.display(), "watching the plugin directory");
        Some(watch)
    } else {
        None
    };
    // `[tls]` loaded before listening; a configuration reload reloads its certificate.
    let tls = crate::tls::start(&config.tls, config.listen)
        .map_err(|e| DaemonError::Other(format!("config: {e}")))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| DaemonError::Other(e.to_string()))?;
    let reloader = Arc::new(Reloader::new(
        source,
        config.clone(),
        Parts {
            dispatcher: Arc::clone(&dispatcher),
            engine: Arc::clone(&engine),
            auth,
            telemetry,
            ecosystem_loop,
            backend,
            adopt_loop,
        },
        tls.clone(),
        notifier,
    ));
    Arc::clone(&reloader)
        .spawn_sighup()
        .map_err(|e| DaemonError::Other(format!("cannot install SIGHUP handler: {e}")))?;
    let _watchdog = watchdog::interval().map(|every| {
        tracing::info!(
            ?every,
            "systemd watchdog: pings follow the engine's heartbeat"
        );
        watchdog::spawn(Arc::downgrade(&engine), notifier, every)
    });
    // The first line on stdout is the address, for scripts and tests that listen on port 0.
    println!("listening on {addr}");
    tracing::info!(%addr, plugin_dir = %config.plugin_dir.display(), state_dir = %config.state_dir.display(), "smo serving");
    notifier.ready(&serving_status(addr, &engine, &registry));
    crate::server::serve(
        listener,
        router,
        &config.http,
        tls,
        shutdown_signal(notifier),
    )
    .await;
    notifier.status("stopping: the API is closed, the control loops end their round");
    engine.shutdown(LOOPS_DEADLINE).await;
    tracing::info!("smo stopped");
    Ok(())
}

/// The status line systemd shows once serving.
fn serving_status(
    addr: std::net::SocketAddr,
    engine: &Engine,
    registry: &smo_plugin_host::Registry,
) -> String {
    let graphs = engine
        .store()
        .graph_names()
        .map_or_else(|_| "?".to_owned(), |names| names.len().to_string());
    let status = registry.status();
    format!(
        "serving on {addr}: {graphs} graph(s), {} plugin(s) loaded, {} refused",
        status.plugins.len(),
        status.rejected.len()
    )
}

/// Completes on SIGTERM or Ctrl-C, after telling systemd the service stops.
async fn shutdown_signal(notifier: Notifier) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
    notifier.stopping("stopping: requests in flight finish, no new ones are accepted");
}
