//! Daemon configuration: a TOML file with the same keys as the `smo serve` flags.
//! Flags override the file; unknown keys are errors that name the key and its line.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: {field}: {message}")]
    Invalid { field: String, message: String },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Limits of the plugin host.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// Deadline of one strategy call, in milliseconds.
    pub call_timeout_ms: u64,
    /// Concurrent calls into one plugin version.
    pub max_concurrent_calls: usize,
    /// Consecutive malfunctions before a strategy is quarantined (0 = never).
    pub quarantine_after: u32,
    /// Plugin images the process may map before reloads are refused.
    pub max_images: usize,
    /// Deadline of the `smo plugin check` child process, in milliseconds.
    pub probe_timeout_ms: u64,
    /// Reload when the plugin directory changes (opt-in).
    pub watch: bool,
    /// Quiet period before a file change triggers a reload, in milliseconds.
    pub watch_debounce_ms: u64,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            call_timeout_ms: 10_000,
            max_concurrent_calls: 4,
            quarantine_after: 3,
            max_images: 64,
            probe_timeout_ms: 10_000,
            watch: false,
            watch_debounce_ms: 500,
        }
    }
}

/// Strategies used when a graph names none (and as the fallback).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultSettings {
    pub placement: String,
    pub scaling: String,
    pub migration: Option<String>,
}

impl Default for DefaultSettings {
    fn default() -> Self {
        Self {
            placement: "default-lp/placement".into(),
            scaling: "default-lp/scaling".into(),
            migration: None,
        }
    }
}

/// `[auth]`: bearer-token authentication of the REST API (on by default).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// `false` turns authentication off (local development only; `smo serve --no-auth`).
    pub enabled: bool,
    /// Tokens besides `STATE_DIR/admin.token`, as `[[auth.tokens]]` tables.
    pub tokens: Vec<TokenSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            tokens: Vec::new(),
        }
    }
}

/// One `[[auth.tokens]]` entry: a name for the logs, a scope (`read` or `admin`), and the
/// secret as its lower-case hex SHA-256 (`token_sha256`, preferred) or in clear (`token`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub name: String,
    pub scope: String,
    #[serde(default)]
    pub token_sha256: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

/// `[engine]`: the per-graph control loops.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// Period of each running graph's scaling loop, in milliseconds.
    pub scaling_period_ms: u64,
    /// Decisions kept in the history (older ones are pruned; 0 = keep all).
    pub decision_history: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            scaling_period_ms: 30_000,
            decision_history: 100_000,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub plugin_dir: PathBuf,
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    pub plugins: PluginSettings,
    pub defaults: DefaultSettings,
    /// `[auth]`: bearer tokens of the REST API.
    pub auth: AuthSettings,
    /// `[engine]`: the per-graph control loops.
    pub engine: EngineSettings,
    /// `[sim]`: the simulated continuum backend.
    pub sim: SimSettings,
}

/// `[sim]`: run `smo serve` on a scenario of the simulated continuum.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// A scenario file (see scenarios/README.md): its datacenters become the clusters, their
    /// energy profiles follow its hourly data, its services' loads its rate series. Without one,
    /// a built-in inventory of three clusters is used.
    pub scenario: Option<PathBuf>,
    /// Simulated seconds per wall-clock second (1 = real time).
    pub speed: f64,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            scenario: None,
            speed: 1.0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            plugin_dir: PathBuf::from("/var/lib/smo/plugins"),
            state_dir: PathBuf::from("/var/lib/smo"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            log_format: LogFormat::Human,
            plugins: PluginSettings::default(),
            defaults: DefaultSettings::default(),
            auth: AuthSettings::default(),
            engine: EngineSettings::default(),
            sim: SimSettings::default(),
        }
    }
}

impl Config {
    /// Reads a TOML file; every key is optional.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses TOML text; the error names the offending key and its position.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: &str| {
            Err(ConfigError::Invalid {
                field: field.into(),
                message: message.into(),
            })
        };
        if self.plugins.call_timeout_ms == 0 {
            return invalid("plugins.call_timeout_ms", "must be > 0");
        }
        if self.plugins.max_concurrent_calls == 0 {
            return invalid("plugins.max_concurrent_calls", "must be > 0");
        }
        if self.plugins.max_images == 0 {
            return invalid("plugins.max_images", "must be > 0");
        }
        for (field, name) in [
            ("defaults.placement", Some(&self.defaults.placement)),
            ("defaults.scaling", Some(&self.defaults.scaling)),
            ("defaults.migration", self.defaults.migration.as_ref()),
        ] {
            if let Some(name) = name {
                if let Err(e) = crate::plugins::StrategyName::parse(name) {
                    return invalid(field, &e.to_string());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn keys_override_defaults() {
        let c = Config::from_toml(
            "plugin_dir = \"/p\"\nlisten = \"127.0.0.1:9\"\n[plugins]\nquarantine_after = 7\nwatch = true\n",
        )
        .unwrap();
        assert_eq!(c.plugin_dir, PathBuf::from("/p"));
        assert_eq!(c.listen.port(), 9);
        assert_eq!(c.plugins.quarantine_after, 7);
        assert!(c.plugins.watch);
        assert_eq!(c.plugins.max_images, 64);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml("[plugins]\nquarantine_afterr = 2\n").unwrap_err();
        assert!(e.contains("quarantine_afterr"), "{e}");
    }

    #[test]
    fn bad_default_strategy_is_named() {
        let mut c = Config::default();
        c.defaults.scaling = "nonsense".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("defaults.scaling"), "{e}");
    }
}
