//! `smo simulate` wiring: the simulator's [`StrategyDriver`] over the real plugin registry and
//! call guard, so strategies run from their compiled `.so` files exactly as in the daemon.
//!
//! The registry starts empty: a plugin is looked for, hashed and probed when a run first names
//! it, so a run pays only for the plugins it calls.

use crate::config::Config;
use smo_plugin_api::{
    MigrationDecision, MigrationRequest, PlacementDecision, PlacementRequest, ScalingDecision,
    ScalingRequest,
};
use smo_plugin_host::{CallError, Dispatcher, StrategyName};
use smo_sim::command::{self, SimulateArgs};
use smo_sim::driver::{DriverError, StrategyDriver};
use smo_sim::strategy_params;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Strategy calls through the dispatcher, without fallback: a failing strategy shows as failing.
pub struct PluginDriver {
    dispatcher: Arc<Dispatcher>,
    runtime: tokio::runtime::Runtime,
}

impl PluginDriver {
    pub fn new(dispatcher: Arc<Dispatcher>, runtime: tokio::runtime::Runtime) -> Self {
        Self {
            dispatcher,
            runtime,
        }
    }

    /// Puts `plugin` in the registry if it is not there yet (outside the timed call, so a
    /// decision's time never includes the probe). When no file provides it, every plugin file
    /// is scanned, so the call's error lists the plugins there are.
    fn find(&self, plugin: &str) -> Result<(), DriverError> {
        let registry = self.dispatcher.registry();
        if registry.entry(plugin).is_ok() {
            return Ok(());
        }
        let _span = tracing::info_span!("find_plugin", plugin).entered();
        match self.runtime.block_on(registry.find_missing(plugin)) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                if let Err(error) = self.runtime.block_on(registry.reload()) {
                    tracing::warn!(%error, "scanning the plugin directories failed");
                }
                for r in registry.status().rejected {
                    eprintln!("warning: {}: {}", r.file.display(), r.error);
                }
                Ok(())
            }
            Err(error) => Err(DriverError::UnknownStrategy(error.to_string())),
        }
    }

    fn timed<T, F, Fut>(&self, strategy: &str, call: F) -> Result<(T, Duration), DriverError>
    where
        F: FnOnce(StrategyName, String) -> Fut,
        Fut: Future<Output = Result<(T, String), CallError>>,
    {
        let (name, params) =
            strategy_params::split(strategy).map_err(DriverError::BadParameters)?;
        let name =
            StrategyName::parse(name).map_err(|e| DriverError::UnknownStrategy(e.to_string()))?;
        self.find(&name.plugin)?;
        let started = Instant::now();
        let result = self.runtime.block_on(call(name, params));
        let elapsed = started.elapsed();
        match result {
            Ok((decision, _version)) => Ok((decision, elapsed)),
            Err(CallError::Unavailable { message, .. }) => {
                Err(DriverError::UnknownStrategy(message))
            }
            Err(CallError::Failed { kind, message, .. }) if kind == "infeasible" => {
                Err(DriverError::Infeasible(message))
            }
            Err(CallError::Failed { kind, message, .. }) if kind == "bad_parameters" => {
                Err(DriverError::BadParameters(message))
            }
            Err(other) => Err(DriverError::Failed(other.to_string())),
        }
    }
}

impl StrategyDriver for PluginDriver {
    fn place(
        &self,
        strategy: &str,
        request: &Arc<PlacementRequest>,
    ) -> Result<(PlacementDecision, Duration), DriverError> {
        let request = Arc::clone(request);
        self.timed(strategy, |name, params| async move {
            self.dispatcher.place_exact(&name, &params, request).await
        })
    }

    fn scale(
        &self,
        strategy: &str,
        request: &Arc<ScalingRequest>,
    ) -> Result<(ScalingDecision, Duration), DriverError> {
        let request = Arc::clone(request);
        self.timed(strategy, |name, params| async move {
            self.dispatcher.scale_exact(&name, &params, request).await
        })
    }

    fn migrate(
        &self,
        strategy: &str,
        request: &Arc<MigrationRequest>,
    ) -> Result<(MigrationDecision, Duration), DriverError> {
        let request = Arc::clone(request);
        self.timed(strategy, |name, params| async move {
            self.dispatcher.migrate_exact(&name, &params, request).await
        })
    }

    /// The version of the loaded plugin that `strategy` (`plugin/name?params`) names.
    fn plugin_version(&self, strategy: &str) -> Option<String> {
        let (name, _) = strategy_params::split(strategy).ok()?;
        let name = StrategyName::parse(name).ok()?;
        let entry = self.dispatcher.registry().entry(&name.plugin).ok()?;
        Some(entry.info.version.clone())
    }
}

/// Runs `smo simulate` with the plugins of `plugin_dir` and the shipped ones of
/// `system_plugin_dir` (those of `plugin_dir` override them by name).
pub fn run(
    args: &SimulateArgs,
    (plugin_dir, system_plugin_dir): (PathBuf, PathBuf),
    state_dir: PathBuf,
    probe_exe: PathBuf,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let config = Config {
        plugin_dir,
        system_plugin_dir,
        state_dir,
        ..Config::default()
    };
    let dispatcher =
        crate::daemon::build_lazy_dispatcher(&config, probe_exe).map_err(|e| e.to_string())?;
    let driver = PluginDriver::new(dispatcher, runtime);
    let args = SimulateArgs {
        cache_dir: Some(config.state_dir.join("cache")),
        ..args.clone()
    };
    command::run(&args, &driver).map_err(|e| e.to_string())
}
