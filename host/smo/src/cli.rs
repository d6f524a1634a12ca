//! The `smo` command line (clap): `serve`, `plugin list|check|reload`, `validate`, `simulate`.
//! Each subcommand's `--help` explains it; flags of `serve` mirror the TOML config keys.

use crate::config::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// smo: place and scale application graphs across clusters with hot-reloadable strategy plugins.
#[derive(Debug, Parser)]
#[command(name = "smo", version, about, long_about = None)]
pub struct Cli {
    /// Log format on stderr: human (default) or json. The level comes from RUST_LOG.
    #[arg(long, value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: REST API, plugin registry, control loops (simulated continuum by default).
    Serve(ServeArgs),
    /// Inspect, check and reload strategy plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Compare strategies on a scenario of the simulated continuum: same inputs, same seed,
    /// one table (or --csv / --json), optionally a plot (--plot out.png|svg).
    Simulate(SimulateCommand),
    /// Check an HDAG descriptor (YAML or JSON) without deploying it: prints a summary, or every
    /// error with the path of its field and exits 1. With --plugin-dir, the strategies it names
    /// must exist there, of the right kind, as `smo serve` requires at deploy.
    Validate {
        /// The descriptor file.
        file: PathBuf,
        /// Print the result as JSON (the validated graph, or the list of errors).
        #[arg(long)]
        json: bool,
        /// Also check the strategies the descriptor names (hdaGraphIntent.placementStrategy,
        /// scalingStrategy, migrationStrategy) against the plugin files of DIR, each probed in a
        /// child process as `smo plugin list --dir` does: an unknown plugin or strategy, or one
        /// of another kind, is an error of that field.
        #[arg(long, value_name = "DIR")]
        plugin_dir: Option<PathBuf>,
    },
    /// Ask the running daemon about its clusters.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Check configuration files without a daemon.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the Kubernetes and Karmada objects a descriptor becomes (Deployment, Service,
    /// PropagationPolicy, ServiceExport/ServiceImport), as YAML, without a cluster.
    Render(RenderArgs),
}

/// Options of `smo render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The descriptor file (YAML or JSON).
    pub descriptor: PathBuf,
    /// Render this placement: a YAML or JSON list of {service, cluster, replicas}. Without it,
    /// the placement is decided as `smo serve` would (see --strategy).
    #[arg(long, conflicts_with = "strategy")]
    pub placement: Option<PathBuf>,
    /// Decide the placement with this strategy (plugin/strategy) instead of the one the
    /// descriptor names (or the default).
    #[arg(long)]
    pub strategy: Option<String>,
    /// Directory of the strategy plugins (*.so), when the placement is decided.
    #[arg(long, env = "SMO_PLUGIN_DIR", default_value = "/var/lib/smo/plugins")]
    pub plugin_dir: PathBuf,
    /// The package's shipped plugins, scanned too (a plugin of --plugin-dir overrides a shipped
    /// one of the same name; a directory that does not exist ships nothing).
    #[arg(long, env = "SMO_SYSTEM_PLUGIN_DIR", default_value = crate::config::SYSTEM_PLUGIN_DIR)]
    pub system_plugin_dir: PathBuf,
    /// Decide on this scenario's datacenters instead of the built-in 3-cluster inventory.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// The namespace of the objects (one per project).
    #[arg(long, default_value = "smo")]
    pub namespace: String,
    /// Look for a service's chart `oci://…/<name>` as `<DIR>/<name>` or `<DIR>/<name>-*.tgz`
    /// before helm pulls it (repeatable).
    #[arg(long)]
    pub chart_dir: Vec<PathBuf>,
    /// Set the pods' `schedulerName` on their clusters through an OverridePolicy per workload
    /// (what `smo serve` does when a placement decision asks for a server choice mapped in
    /// `[backend.karmada] scheduler_names`).
    #[arg(long)]
    pub scheduler_name: Option<String>,
    /// The helm binary that renders charts (`helm template`).
    #[arg(long, env = "SMO_HELM", default_value = "helm")]
    pub helm: PathBuf,
    /// Pull charts from an insecure (plain HTTP) registry.
    #[arg(long)]
    pub plain_http: bool,
    /// Write one file per object into this directory (numbered in apply order) instead of one
    /// YAML stream on stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Options of `smo simulate`.
#[derive(Debug, Args)]
pub struct SimulateCommand {
    #[command(flatten)]
    pub sim: smo_sim::command::SimulateArgs,
    /// Directory of the strategy plugins (*.so) to compare.
    #[arg(long, env = "SMO_PLUGIN_DIR", default_value = "/var/lib/smo/plugins")]
    pub plugin_dir: PathBuf,
    /// The package's shipped plugins, scanned too (a plugin of --plugin-dir overrides a shipped
    /// one of the same name; a directory that does not exist ships nothing).
    #[arg(long, env = "SMO_SYSTEM_PLUGIN_DIR", default_value = crate::config::SYSTEM_PLUGIN_DIR)]
    pub system_plugin_dir: PathBuf,
    /// Where private copies of the plugins are staged (must not be a noexec mount).
    /// Default: $TMPDIR/smo-simulate.
    #[arg(long, env = "SMO_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Options of `smo serve`. Each also exists as a key of the TOML config file; flags win.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML config file (keys: plugin_dir, state_dir, listen, log_format, [plugins], [defaults],
    /// [auth], [engine], [sim], [telemetry]).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Directory scanned for strategy plugins (*.so). Default /var/lib/smo/plugins.
    #[arg(long)]
    pub plugin_dir: Option<PathBuf>,
    /// The package's shipped plugins, scanned with --plugin-dir, whose plugins override them by
    /// name. Default /usr/lib/smo/plugins (a directory that does not exist ships nothing).
    /// Config key:
    /// `system_plugin_dir`.
    #[arg(long)]
    pub system_plugin_dir: Option<PathBuf>,
    /// Directory for the database and the private copies of loaded plugins. Default /var/lib/smo.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Address of the REST API. Default 127.0.0.1:8000; port 0 picks a free port (printed on stdout).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Reload plugins when the plugin directory changes (debounced). Off by default.
    #[arg(long)]
    pub watch_plugins: bool,
    /// Run on this scenario of the simulated continuum (its datacenters become the clusters,
    /// with hourly energy data and request rates). Default: a built-in 3-cluster inventory.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Simulated seconds per wall-clock second with --scenario (default 1: real time).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Turn bearer-token authentication of the REST API off (local development only; logged
    /// as a warning). Config key: `[auth] enabled = false`.
    #[arg(long)]
    pub no_auth: bool,
    /// Base URL of the Prometheus server of `[telemetry] source = "prometheus"` (overrides
    /// `[telemetry.prometheus] url`; the source itself is still chosen in the config file).
    #[arg(long, env = "SMO_TELEMETRY_URL")]
    pub telemetry_url: Option<String>,
    /// Where decisions are applied: `sim` (the embedded simulated continuum) or `karmada`.
    /// Config key: `[backend] kind`.
    #[arg(long)]
    pub backend: Option<String>,
    /// A kubeconfig for the Karmada API server (with `--backend karmada`). Config key:
    /// `[backend.karmada] kubeconfig`; not given: in-cluster, `$KUBECONFIG` or `~/.kube/config`.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context. Config key: `[backend.karmada] context`.
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Read and validate a `smo.toml` as `smo serve` and a reload would: prints `FILE: valid`,
    /// or the error naming the key (exit 1). Keys only a restart changes are not compared with
    /// a running daemon's.
    Check {
        /// The configuration file (TOML).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List plugins: from the running daemon, or with --dir by probing the files of a directory.
    List(ListArgs),
    /// Load one plugin file in this process and print its metadata as JSON (exit 1 and one
    /// error line if it is not a loadable smo plugin). The daemon runs this before loading a file.
    Check {
        /// The plugin file (.so).
        file: PathBuf,
    },
    /// Ask the running daemon to reload its plugin directory and print the result: good files
    /// load, refused ones are listed (exit 1), a plugin whose file was refused keeps its version.
    Reload(DaemonArgs),
    /// Serve one plugin over stdin and stdout in this confined process (resource limits, and
    /// Landlock where the kernel has it): what `smo serve` runs for a plugin with
    /// `isolation = "process"`. Not for use by hand: its stdout carries binary messages.
    Host(HostArgs),
}

/// Options of `smo plugin host` (the daemon passes `[plugins.process]`).
#[derive(Debug, Args)]
pub struct HostArgs {
    /// The plugin file (.so, probed).
    pub file: PathBuf,
    /// Memory of the process (heap and private mappings), MiB; 0: unlimited.
    #[arg(long, default_value_t = 2048)]
    pub memory_mib: u64,
    /// CPU time over the process's life, s; 0: unlimited.
    #[arg(long, default_value_t = 0)]
    pub cpu_seconds: u64,
    /// Open files; 0: unlimited.
    #[arg(long, default_value_t = 256)]
    pub open_files: u64,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The registered clusters as the backend's inventory sees them: ready or why not, what is
    /// allocatable and allocated (a table; --json for the API's answer).
    List {
        #[command(flatten)]
        daemon: DaemonArgs,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// How to reach the running daemon.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address of the daemon's REST API, over plain HTTP (--url for HTTPS).
    #[arg(long, default_value = "127.0.0.1:8000", env = "SMO_ADDR")]
    pub listen: SocketAddr,
    /// The daemon's URL instead of --listen: `https://HOST:PORT` for a daemon with `[tls]`, or
    /// `http://HOST:PORT`.
    #[arg(long, env = "SMO_URL")]
    pub url: Option<String>,
    /// PEM file of the CA certificate(s) that signed the daemon's certificate, trusted for an
    /// https:// --url (default: the public web PKI roots).
    #[arg(long, env = "SMO_CACERT")]
    pub cacert: Option<PathBuf>,
    /// Bearer token for the API (default: $SMO_TOKEN, else STATE_DIR/admin.token).
    #[arg(long, env = "SMO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The daemon's state directory, to read its admin.token (default /var/lib/smo).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

impl DaemonArgs {
    /// The URL of `path` (`/v1/...`) on the daemon: under --url, else `http://LISTEN`.
    pub fn url(&self, path: &str) -> Result<String, String> {
        let Some(url) = &self.url else {
            if self.cacert.is_some() {
                return Err(
                    "--cacert is for an HTTPS daemon: give its --url https://HOST:PORT".into(),
                );
            }
            return Ok(format!("http://{}{path}", self.listen));
        };
        let base = url.trim_end_matches('/');
        if base.starts_with("http://") && self.cacert.is_some() {
            return Err(format!(
                "--cacert is for an HTTPS daemon, and --url {url} is http://"
            ));
        }
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!("--url {url}: must start with https:// or http://"));
        }
        Ok(format!("{base}{path}"))
    }

    /// The HTTP agent: error statuses as answers; --cacert's CA as the roots of HTTPS.
    pub fn agent(&self) -> Result<ureq::Agent, String> {
        crate::tls::client_agent(self.cacert.as_deref()).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// Probe the plugin files of this directory (without a value: /var/lib/smo/plugins) and of
    /// --system-plugin-dir instead of asking the daemon; shipped plugins that a file of DIR
    /// overrides are marked `overridden_by`.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "/var/lib/smo/plugins")]
    pub dir: Option<PathBuf>,
    /// The package's shipped plugins, listed with --dir (a directory that does not exist ships
    /// nothing).
    #[arg(long, env = "SMO_SYSTEM_PLUGIN_DIR", default_value = crate::config::SYSTEM_PLUGIN_DIR)]
    pub system_plugin_dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon(args: &[&str]) -> DaemonArgs {
        let mut argv = vec!["smo", "plugin", "reload"];
        argv.extend(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Plugin(PluginCommand::Reload(daemon)) => daemon,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_daemon_url_comes_from_url_or_listen() {
        let d = daemon(&["--listen", "127.0.0.1:9"]);
        assert_eq!(
            d.url("/v1/plugins").unwrap(),
            "http://127.0.0.1:9/v1/plugins"
        );
        let d = daemon(&["--url", "https://smo.example:8443/", "--cacert", "/ca.pem"]);
        assert_eq!(
            d.url("/v1/plugins").unwrap(),
            "https://smo.example:8443/v1/plugins"
        );
        let e = daemon(&["--url", "smo.example:8443"]).url("/").unwrap_err();
        assert!(e.contains("--url") && e.contains("https://"), "{e}");
        let e = daemon(&["--url", "http://h:1", "--cacert", "/ca.pem"])
            .url("/")
            .unwrap_err();
        assert!(e.contains("--cacert"), "{e}");
        let e = daemon(&["--cacert", "/ca.pem"]).url("/").unwrap_err();
        assert!(e.contains("--cacert") && e.contains("--url"), "{e}");
    }
}
