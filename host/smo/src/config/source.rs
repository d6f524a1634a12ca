//! Where `smo serve`'s configuration comes from — the file and the command line's overrides —
//! so that a reload reads it again the same way, and which keys only a restart can change.

use super::{Config, ConfigError, LogFormat};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The command line's settings, applied over the file (each `None` keeps the file's value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub plugin_dir: Option<PathBuf>,
    pub system_plugin_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub watch_plugins: bool,
    pub no_auth: bool,
    pub scenario: Option<PathBuf>,
    pub speed: Option<f64>,
    pub log_format: Option<LogFormat>,
    pub telemetry_url: Option<String>,
    pub backend: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl Overrides {
    /// Sets what the command line gave.
    pub fn apply(&self, config: &mut Config) {
        if let Some(d) = &self.plugin_dir {
            config.plugin_dir = d.clone();
        }
        if let Some(d) = &self.system_plugin_dir {
            config.system_plugin_dir = d.clone();
        }
        if let Some(d) = &self.state_dir {
            config.state_dir = d.clone();
        }
        if let Some(l) = self.listen {
            config.listen = l;
        }
        if self.watch_plugins {
            config.plugins.watch = true;
        }
        if self.no_auth {
            config.auth.enabled = false;
        }
        if let Some(scenario) = &self.scenario {
            config.sim.scenario = Some(scenario.clone());
        }
        if let Some(speed) = self.speed {
            config.sim.speed = speed;
        }
        if let Some(f) = self.log_format {
            config.log_format = f;
        }
        if let Some(url) = &self.telemetry_url {
            config.telemetry.prometheus.url = url.clone();
        }
        if let Some(kind) = &self.backend {
            config.backend.kind = kind.clone();
        }
        if let Some(kubeconfig) = &self.kubeconfig {
            config.backend.karmada.kubeconfig = Some(kubeconfig.clone());
        }
        if let Some(context) = &self.context {
            config.backend.karmada.context = Some(context.clone());
        }
    }
}

/// The configuration file (if any) and the overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigSource {
    pub file: Option<PathBuf>,
    pub overrides: Overrides,
}

impl ConfigSource {
    pub fn new(file: Option<PathBuf>, overrides: Overrides) -> Self {
        Self { file, overrides }
    }

    /// Reads the file (defaults without one), applies the overrides and validates the result.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.file {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        self.overrides.apply(&mut config);
        config.validate()?;
        Ok(config)
    }

    /// The file, for messages.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// The keys whose new value only a restart can apply, that differ between `old` and `new`:
/// what the process was started with (its address, directories, log format, the backend's kind
/// and the Karmada namespace its graphs live in, the simulated continuum, the HTTP server's
/// limits, the metrics listener, the plugin registry's limits and watcher, the telemetry
/// source's kind, HTTPS on or off).
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let checks: [(&'static str, bool); 18] = [
        ("listen", old.listen != new.listen),
        ("state_dir", old.state_dir != new.state_dir),
        ("plugin_dir", old.plugin_dir != new.plugin_dir),
        (
            "system_plugin_dir",
            old.system_plugin_dir != new.system_plugin_dir,
        ),
        ("log_format", old.log_format != new.log_format),
        (
            "plugins.max_images",
            old.plugins.max_images != new.plugins.max_images,
        ),
        (
            "plugins.max_concurrent_calls",
            old.plugins.max_concurrent_calls != new.plugins.max_concurrent_calls,
        ),
        (
            "plugins.isolation",
            old.plugins.isolation != new.plugins.isolation
                || old.plugins.isolate != new.plugins.isolate
                || old.plugins.process != new.plugins.process,
        ),
        (
            "plugins.allow_insecure_permissions",
            old.plugins.allow_insecure_permissions != new.plugins.allow_insecure_permissions,
        ),
        (
            "plugins.watch",
            old.plugins.watch != new.plugins.watch
                || old.plugins.watch_debounce_ms != new.plugins.watch_debounce_ms,
        ),
        ("sim", old.sim != new.sim),
        ("backend.kind", old.backend.kind != new.backend.kind),
        (
            "backend.karmada.namespace",
            old.backend.karmada.namespace != new.backend.karmada.namespace,
        ),
        ("http", old.http != new.http),
        ("metrics", old.metrics != new.metrics),
        (
            "telemetry.source",
            old.telemetry.source != new.telemetry.source,
        ),
        ("tls", old.tls.enabled() != new.tls.enabled()),
        ("auth.enabled", old.auth.enabled != new.auth.enabled),
    ];
    checks
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_over_the_file_and_restart_only_keys_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("smo.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9001\"\n[defaults]\nplacement = \"a/b\"\n",
        )
        .expect("write");
        let source = ConfigSource::new(
            Some(file.clone()),
            Overrides {
                listen: Some(SocketAddr::from(([127, 0, 0, 1], 9002))),
                ..Overrides::default()
            },
        );
        let first = source.load().expect("loads");
        assert_eq!(first.listen.port(), 9002);
        assert_eq!(first.defaults.placement, "a/b");
        // The file changes a live key and a restart-only one; the override still holds.
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9003\"\nstate_dir = \"/elsewhere\"\n[defaults]\nplacement = \"c/d\"\n",
        )
        .expect("write");
        let second = source.load().expect("loads");
        assert_eq!(second.listen.port(), 9002);
        assert_eq!(second.defaults.placement, "c/d");
        assert_eq!(restart_only_changes(&first, &second), ["state_dir"]);
        assert!(restart_only_changes(&first, &first).is_empty());
    }
}
