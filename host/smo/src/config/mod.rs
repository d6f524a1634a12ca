//! Daemon configuration: a TOML file with the same keys as the `smo serve` flags.
//! Flags override the file; unknown keys are errors that name the key and its line.

mod backend;
mod ecosystem;
mod http;
mod metrics;
pub mod source;
mod telemetry;
mod tls;

pub use backend::{ApplierSettings, BackendKind, BackendSettings, SimBackendSettings};
pub use ecosystem::EcosystemSettings;
pub use http::HttpSettings;
pub use metrics::MetricsSettings;
pub use telemetry::{
    PromGraphSettings, PrometheusSettings, TelemetrySettings, TelemetrySourceKind,
};
pub use tls::TlsSettings;

use serde::Deserialize;
use smo_plugin_host::isolation::{Isolation, IsolationPolicy, Limits};
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
    /// Load plugin files other users may write (or in a directory they may write), with a
    /// warning; refused by default.
    pub allow_insecure_permissions: bool,
    /// Where plugins run: `in_process` (loaded into the daemon) or `process` (each in a
    /// confined process of its own, for plugins you do not trust).
    pub isolation: Isolation,
    /// Per plugin name, where it runs instead (`[plugins.isolate] my-plugin = "process"`).
    pub isolate: std::collections::BTreeMap<String, Isolation>,
    /// `[plugins.process]`: the limits of a plugin's own process.
    pub process: Limits,
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
            allow_insecure_permissions: false,
            isolation: Isolation::InProcess,
            isolate: std::collections::BTreeMap::new(),
            process: Limits::default(),
        }
    }
}

impl PluginSettings {
    /// The registry's isolation policy.
    pub fn isolation_policy(&self) -> IsolationPolicy {
        IsolationPolicy {
            default: self.isolation,
            plugins: self.isolate.clone(),
            limits: self.process.clone(),
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
    /// The package's plugins (read-only, replaced by upgrades), scanned with `plugin_dir`, whose
    /// plugins override shipped ones of the same name. A directory that does not exist ships
    /// nothing; `""` ignores it.
    pub system_plugin_dir: PathBuf,
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
    /// `[telemetry]`: where the offload loops' observations come from.
    pub telemetry: TelemetrySettings,
    /// `[backend]`: the continuum decisions are applied to.
    pub backend: BackendSettings,
    /// `[applier]`: how desired states are reconciled with what the backend runs.
    pub applier: ApplierSettings,
    /// `[http]`: timeouts and the connection cap of the API's server.
    pub http: HttpSettings,
    /// `[ecosystem]`: the Dependency Satisfaction Score's weights and threshold.
    pub ecosystem: EcosystemSettings,
    /// `[metrics]`: an unauthenticated listener of its own for `/metrics`, if any.
    pub metrics: MetricsSettings,
    /// `[tls]`: the certificate and key of HTTPS (plain HTTP without).
    pub tls: TlsSettings,
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
            system_plugin_dir: PathBuf::from(SYSTEM_PLUGIN_DIR),
            state_dir: PathBuf::from("/var/lib/smo"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            log_format: LogFormat::Human,
            plugins: PluginSettings::default(),
            defaults: DefaultSettings::default(),
            auth: AuthSettings::default(),
            engine: EngineSettings::default(),
            sim: SimSettings::default(),
            telemetry: TelemetrySettings::default(),
            backend: BackendSettings::default(),
            applier: ApplierSettings::default(),
            http: HttpSettings::default(),
            ecosystem: EcosystemSettings::default(),
            metrics: MetricsSettings::default(),
            tls: TlsSettings::default(),
        }
    }
}

/// Where the Debian package installs its plugins (`system_plugin_dir`'s default).
pub const SYSTEM_PLUGIN_DIR: &str = "/usr/lib/smo/plugins";

/// Every `(key, value)` of section `section` must be above 0; the error names the first that is not.
pub(crate) fn require_positive(section: &str, values: &[(&str, u64)]) -> Result<(), ConfigError> {
    match values.iter().find(|(_, value)| *value == 0) {
        Some((key, _)) => Err(ConfigError::Invalid {
            field: format!("{section}.{key}"),
            message: "must be > 0".into(),
        }),
        None => Ok(()),
    }
}

impl Config {
    /// The call guard's limits of `[plugins]`.
    pub fn guard_config(&self) -> smo_plugin_host::GuardConfig {
        smo_plugin_host::GuardConfig {
            timeout: std::time::Duration::from_millis(self.plugins.call_timeout_ms),
            quarantine_after: self.plugins.quarantine_after,
        }
    }

    /// The strategies of `[defaults]`, or the key that does not name one.
    pub fn default_strategies(
        &self,
    ) -> Result<smo_plugin_host::dispatch::DefaultStrategies, ConfigError> {
        let parse = |field: &str, name: &str| {
            smo_plugin_host::StrategyName::parse(name).map_err(|e| ConfigError::Invalid {
                field: field.into(),
                message: e.to_string(),
            })
        };
        Ok(smo_plugin_host::dispatch::DefaultStrategies {
            placement: parse("defaults.placement", &self.defaults.placement)?,
            scaling: parse("defaults.scaling", &self.defaults.scaling)?,
            migration: self
                .defaults
                .migration
                .as_deref()
                .map(|name| parse("defaults.migration", name))
                .transpose()?,
        })
    }

    /// `system_plugin_dir`, unless it is `""`.
    pub fn shipped_plugin_dir(&self) -> Option<&Path> {
        let dir = self.system_plugin_dir.as_path();
        (!dir.as_os_str().is_empty()).then_some(dir)
    }

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
        self.http.validate()?;
        self.tls.validate()?;
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
        self.default_strategies()?;
        self.telemetry.validate()?;
        self.ecosystem.validate()?;
        self.metrics.validate(self.listen)?;
        self.backend.validate()?;
        self.applier.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_plugin_dir_defaults_to_the_packages_and_can_be_turned_off() {
        let c = Config::default();
        assert_eq!(
            c.shipped_plugin_dir(),
            Some(Path::new("/usr/lib/smo/plugins"))
        );
        let c = Config::from_toml("system_plugin_dir = \"/opt/smo/plugins\"\n").unwrap();
        assert_eq!(c.shipped_plugin_dir(), Some(Path::new("/opt/smo/plugins")));
        let c = Config::from_toml("system_plugin_dir = \"\"\n").unwrap();
        assert_eq!(c.shipped_plugin_dir(), None);
    }

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
    fn isolation_and_its_limits_are_read_per_plugin() {
        let c = Config::from_toml(
            "[plugins]\nisolation = \"process\"\n[plugins.isolate]\ntrusted = \"in_process\"\n\
             [plugins.process]\nmemory_mib = 512\n",
        )
        .unwrap();
        let policy = c.plugins.isolation_policy();
        assert_eq!(policy.of("any"), Isolation::Process);
        assert_eq!(policy.of("trusted"), Isolation::InProcess);
        assert_eq!(policy.limits.memory_mib, 512);
        assert_eq!(policy.limits.open_files, Limits::default().open_files);
        for (bad, named) in [
            ("[plugins]\nisolation = \"container\"\n", "container"),
            ("[plugins.process]\nmemory = 1\n", "memory"),
        ] {
            let e = Config::from_toml(bad).unwrap_err();
            assert!(e.contains(named), "{e}");
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml("[plugins]\nquarantine_afterr = 2\n").unwrap_err();
        assert!(e.contains("quarantine_afterr"), "{e}");
    }

    #[test]
    fn the_backend_defaults_to_sim_and_an_unknown_kind_is_named() {
        let c = Config::default();
        assert_eq!(c.backend.kind().unwrap(), BackendKind::Sim);
        let c = Config::from_toml("[backend]\nkind = \"karmada\"\n").unwrap();
        assert_eq!(c.backend.kind().unwrap(), BackendKind::Karmada);
        c.validate().unwrap();
        let c = Config::from_toml("[backend]\nkind = \"nomad\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("backend.kind") && e.contains("nomad"), "{e}");
        let c = Config::from_toml("[backend.karmada]\nnamespace = \"Shop_NS\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("backend.karmada.namespace"), "{e}");
        let c = Config::from_toml("[backend.karmada]\nrequest_timeout_ms = 0\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("backend.karmada.request_timeout_ms"), "{e}");
        let e = Config::from_toml("[backend.karmada]\nkubecfg = \"x\"\n").unwrap_err();
        assert!(e.contains("kubecfg"), "{e}");
        let c = Config::from_toml("[backend.sim]\nready_after_s = -1\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("backend.sim.ready_after_s"), "{e}");
        let e = Config::from_toml("[backend.sim]\nready_after = 1\n").unwrap_err();
        assert!(e.contains("ready_after"), "{e}");
    }

    #[test]
    fn http_limits_must_be_positive() {
        let c = Config::from_toml("[http]\nmax_connections = 0\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("http.max_connections"), "{e}");
        let c = Config::from_toml("[http]\nheader_read_timeout_ms = 5000\n").unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn applier_periods_must_be_positive() {
        let c = Config::from_toml("[applier]\npoll_ms = 0\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("applier.poll_ms"), "{e}");
        let c = Config::from_toml("[applier]\nbackoff_base_ms = 10\nbackoff_max_ms = 5\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("applier.backoff_max_ms"), "{e}");
    }

    #[test]
    fn bad_default_strategy_is_named() {
        let mut c = Config::default();
        c.defaults.scaling = "nonsense".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("defaults.scaling"), "{e}");
    }
    /// The `[telemetry]` part of the configuration documentation, verbatim.
    const TELEMETRY_EXAMPLE: &str = r#"
[telemetry]
source = "prometheus"           # or "builtin" (default): the daemon's own delay model

[telemetry.prometheus]
url        = "http://prometheus.istio-system:9090"   # http:// or https://
timeout_ms = 5000               # deadline of one query

[telemetry.prometheus.graphs.shop]       # one table per graph, by graph name
namespace           = "shop"             # the application's namespace
services            = ["frontend", "cart", "db"]   # Istio `app` labels
cloud_cluster       = "cloud"            # `cluster` label of each area ("" = no label)
edge_cluster        = "edge1"
ingress_app         = "istio-ingressgateway"       # the edge ingress gateway's `app` label
ingress_namespace   = "istio-system"               # and namespace
edge_pod_cidr_regex = "^10\\.244\\..*"   # ingress `instance` (pod IP) regex of the edge (default ".*")
pod_regexes         = ["frontend-.*", "cart-.*", "db-.*"]   # one a service, in order
window_s            = 60                 # rate window, seconds (default 60)
# service_pods = { frontend = ["frontend-.*", "web-.*"] }   # instead of pod_regexes' order
# delay_quantile = 0.9                   # also read this quantile of the delay in full refreshes
"#;

    #[test]
    fn telemetry_defaults_to_builtin() {
        let c = Config::default();
        assert_eq!(
            c.telemetry.source_kind().unwrap(),
            TelemetrySourceKind::Builtin
        );
        c.validate().unwrap();
    }

    #[test]
    fn the_documented_telemetry_example_converts_to_a_prometheus_config() {
        let c = Config::from_toml(TELEMETRY_EXAMPLE).unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.telemetry.source_kind().unwrap(),
            TelemetrySourceKind::Prometheus
        );
        let p = c.telemetry.prometheus.to_prometheus_config();
        assert_eq!(p.url, "http://prometheus.istio-system:9090");
        assert_eq!(p.timeout_ms, 5000);
        let g = &p.graphs["shop"];
        assert_eq!(g.queries.services, ["frontend", "cart", "db"]);
        assert_eq!(g.queries.cloud_cluster, "cloud");
        assert_eq!(g.queries.edge_cluster, "edge1");
        assert_eq!(g.queries.ingress_app, "istio-ingressgateway");
        assert_eq!(g.queries.ingress_namespace, "istio-system");
        assert_eq!(g.queries.edge_pod_cidr_regex, "^10\\.244\\..*");
        assert_eq!(g.queries.pod_regexes.len(), 3);
        assert_eq!(g.queries.window_s, 60);
        assert!(g.service_pods.is_empty());
        assert_eq!(g.delay_quantile, None);
    }

    #[test]
    fn graph_keys_have_defaults_and_optional_ones_map() {
        let c = Config::from_toml(
            "[telemetry]\nsource = \"prometheus\"\n[telemetry.prometheus]\nurl = \"https://p/\"\n\
             [telemetry.prometheus.graphs.g]\nnamespace = \"n\"\nservices = [\"a\"]\n\
             ingress_app = \"gw\"\ningress_namespace = \"gwns\"\n\
             service_pods = { a = [\"a-.*\"] }\ndelay_quantile = 0.9\n",
        )
        .unwrap();
        c.validate().unwrap();
        let p = c.telemetry.prometheus.to_prometheus_config();
        let g = &p.graphs["g"];
        assert_eq!(g.queries.edge_pod_cidr_regex, ".*");
        assert_eq!(g.queries.window_s, 60);
        assert_eq!(g.queries.edge_cluster, "");
        assert_eq!(g.service_pods["a"], ["a-.*"]);
        assert_eq!(g.delay_quantile, Some(0.9));
    }

    /// A valid Prometheus configuration with `edit` applied to its TOML text.
    fn prometheus_toml(edit: impl Fn(&str) -> String) -> String {
        edit(
            "[telemetry]\nsource = \"prometheus\"\n[telemetry.prometheus]\nurl = \"http://127.0.0.1:9090\"\n\
             [telemetry.prometheus.graphs.shop]\nnamespace = \"shop\"\nservices = [\"a\", \"b\"]\n\
             ingress_app = \"gw\"\ningress_namespace = \"gwns\"\nwindow_s = 5\n",
        )
    }

    #[test]
    fn bad_telemetry_settings_are_named() {
        let cases: [(&str, &str, &str); 10] = [
            (
                "source = \"prometheus\"",
                "source = \"carrier-pigeon\"",
                "telemetry.source",
            ),
            (
                "http://127.0.0.1:9090",
                "ftp://127.0.0.1:9090",
                "telemetry.prometheus.url",
            ),
            (
                "http://127.0.0.1:9090",
                "127.0.0.1:9090",
                "telemetry.prometheus.url",
            ),
            (
                "url = \"http://127.0.0.1:9090\"",
                "timeout_ms = 1000",
                "telemetry.prometheus.url",
            ),
            (
                "url = \"http://127.0.0.1:9090\"",
                "url = \"http://h\"\ntimeout_ms = 0",
                "telemetry.prometheus.timeout_ms",
            ),
            (
                "window_s = 5",
                "window_s = 0",
                "telemetry.prometheus.graphs.shop.window_s",
            ),
            (
                "[\"a\", \"b\"]",
                "[]",
                "telemetry.prometheus.graphs.shop.services",
            ),
            (
                "namespace = \"shop\"",
                "namespace = \"\"",
                "telemetry.prometheus.graphs.shop.namespace",
            ),
            (
                "window_s = 5",
                "delay_quantile = 1.5",
                "telemetry.prometheus.graphs.shop.delay_quantile",
            ),
            (
                "window_s = 5",
                "service_pods = { c = [\"c-.*\"] }",
                "telemetry.prometheus.graphs.shop.service_pods",
            ),
        ];
        Config::from_toml(&prometheus_toml(str::to_owned))
            .unwrap()
            .validate()
            .unwrap();
        for (from, to, field) in cases {
            let text = prometheus_toml(|t| t.replacen(from, to, 1));
            assert_ne!(text, prometheus_toml(str::to_owned), "{from}");
            let c = Config::from_toml(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let e = c.validate().expect_err(&text).to_string();
            assert!(e.contains(&format!("config: {field}: ")), "{field}: {e}");
        }
        // A key that does not exist is a parse error naming it.
        let e = Config::from_toml(&prometheus_toml(|t| t.replace("window_s", "windows_s")))
            .unwrap_err();
        assert!(e.contains("windows_s"), "{e}");
    }

    #[test]
    fn a_prometheus_section_is_checked_even_with_the_builtin_source() {
        let c = Config::from_toml(&prometheus_toml(|t| {
            t.replace("source = \"prometheus\"", "source = \"builtin\"")
                .replace("window_s = 5", "window_s = 0")
        }))
        .unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("window_s"), "{e}");
    }
}
