//! The `smo` binary: parses the command line and hands over to the `smo_host` library.
//! Exit codes: 0 success, 1 failure (one error line on stderr), 2 usage error.

use clap::Parser;
use smo_host::cli::{Cli, ClusterCommand, Command, ConfigCommand, PluginCommand, ServeArgs};
use smo_host::config::source::{ConfigSource, Overrides};
use smo_host::config::{Config, LogFormat};
use smo_plugin_host::{check, probe};
use std::process::ExitCode;

/// How long, after the server stopped, blocking work (a strategy call) may take to end before the
/// process exits without it.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let log_format = cli.log_format.unwrap_or_default();
    match cli.command {
        Command::Plugin(PluginCommand::Check { file }) => {
            let info = check::check(&file).map_err(|e| e.to_string())?;
            print_json(&info)
        }
        Command::Plugin(PluginCommand::Host(args)) => {
            smo_host::logging::init_with_default(log_format, "warn");
            let limits = smo_plugin_host::isolation::Limits {
                memory_mib: args.memory_mib,
                cpu_seconds: args.cpu_seconds,
                open_files: args.open_files,
            };
            smo_plugin_host::isolation::child::serve(&args.file, &limits)
        }
        Command::Validate {
            file,
            json,
            plugin_dir,
        } => match validate(&file, plugin_dir.as_deref())? {
            Ok(spec) if json => print_json(&spec.to_plugin_graph()),
            Ok(spec) => {
                println!("{}: valid", file.display());
                println!("{}", spec.summary());
                Ok(())
            }
            Err(errors) if json => {
                print_json(&errors)?;
                Err(format!("{}: {} error(s)", file.display(), errors.len()))
            }
            Err(errors) => {
                eprintln!("{errors}");
                Err(format!("{}: {} error(s)", file.display(), errors.len()))
            }
        },
        Command::Render(args) => {
            smo_host::logging::init_with_default(log_format, "warn");
            smo_host::render::run(&args, own_exe()?)
        }
        Command::Simulate(cmd) => {
            smo_host::logging::init_with_default(log_format, "warn");
            let state_dir = cmd
                .state_dir
                .unwrap_or_else(|| std::env::temp_dir().join("smo-simulate"));
            let plugin_dirs = (cmd.plugin_dir, cmd.system_plugin_dir);
            smo_host::simulate::run(&cmd.sim, plugin_dirs, state_dir, own_exe()?)
        }
        Command::Serve(args) => {
            let source = serve_source(args, cli.log_format);
            let config = source.load().map_err(|e| e.to_string())?;
            smo_host::logging::init(config.log_format);
            let runtime = runtime()?;
            let served = runtime.block_on(smo_host::daemon::serve(config, source, own_exe()?));
            // A strategy call past its deadline keeps its blocking thread forever (threads cannot
            // be cancelled): do not wait for it, or the process would never end.
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
            served.map_err(|e| e.to_string())
        }
        Command::Config(ConfigCommand::Check { file }) => {
            let config = Config::from_file(&file).map_err(|e| e.to_string())?;
            config.validate().map_err(|e| e.to_string())?;
            println!("{}: valid", file.display());
            Ok(())
        }
        Command::Cluster(ClusterCommand::List { daemon, json }) => {
            let body = http_json("GET", &daemon, "/v1/clusters")?;
            if json {
                print_json(&body)
            } else {
                print!("{}", smo_host::cluster_table::render(&body)?);
                Ok(())
            }
        }
        Command::Plugin(PluginCommand::Reload(daemon)) => {
            let body = http_json("POST", &daemon, "/v1/plugins/reload")?;
            print_json(&body)?;
            let failed: Vec<&str> = body["failed"]
                .as_array()
                .map(|lines| lines.iter().filter_map(|l| l.as_str()).collect())
                .unwrap_or_default();
            if failed.is_empty() {
                return Ok(());
            }
            for line in &failed {
                eprintln!("refused: {line}");
            }
            Err(format!(
                "{} file(s) refused; the good ones were loaded, and a plugin whose file was \
                 refused keeps its active version",
                failed.len()
            ))
        }
        Command::Plugin(PluginCommand::List(args)) => match args.dir {
            None => print_json(&http_json("GET", &args.daemon, "/v1/plugins")?),
            Some(dir) => {
                smo_host::logging::init(log_format);
                let exe = own_exe()?;
                runtime()?.block_on(async move {
                    let config = probe::ProbeConfig {
                        exe,
                        timeout: std::time::Duration::from_secs(10),
                    };
                    let shipped = Config {
                        system_plugin_dir: args.system_plugin_dir,
                        ..Config::default()
                    };
                    let rows = smo_host::plugin_list::probe_dirs(
                        &dir,
                        shipped.shipped_plugin_dir(),
                        &config,
                    )
                    .await?;
                    print_json(&rows)
                })
            }
        },
    }
}

/// `smo validate`: the descriptor's errors, then (with `--plugin-dir`) those of the strategies
/// it names, against the plugins of that directory. `Err` only when the directory cannot be
/// probed.
fn validate(
    file: &std::path::Path,
    plugin_dir: Option<&std::path::Path>,
) -> Result<Result<smo_core::graphs::GraphSpec, smo_core::graphs::ValidationErrors>, String> {
    let spec = match smo_core::graphs::validate_file(file) {
        Ok(spec) => spec,
        Err(errors) => return Ok(Err(errors)),
    };
    let Some(dir) = plugin_dir else {
        return Ok(Ok(spec));
    };
    let config = probe::ProbeConfig {
        exe: own_exe()?,
        timeout: std::time::Duration::from_secs(10),
    };
    let plugins = runtime()?
        .block_on(smo_host::strategy_names::probe_dir(dir, &config))
        .map_err(|e| format!("--plugin-dir {}: {e}", dir.display()))?;
    Ok(smo_host::strategy_names::check(&spec, &plugins).map(|()| spec))
}

/// Where `smo serve`'s configuration comes from: the file and the flags over it.
fn serve_source(args: ServeArgs, log_format: Option<LogFormat>) -> ConfigSource {
    ConfigSource::new(
        args.config,
        Overrides {
            plugin_dir: args.plugin_dir,
            system_plugin_dir: args.system_plugin_dir,
            state_dir: args.state_dir,
            listen: args.listen,
            watch_plugins: args.watch_plugins,
            no_auth: args.no_auth,
            scenario: args.scenario,
            speed: args.speed,
            log_format,
            telemetry_url: args.telemetry_url,
            backend: args.backend,
            kubeconfig: args.kubeconfig,
            context: args.context,
        },
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn own_exe() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot locate the smo executable: {e}"))
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// The API token for a CLI call: --token, then $SMO_TOKEN, then STATE_DIR/admin.token.
fn token_for(daemon: &smo_host::cli::DaemonArgs) -> Option<String> {
    let default_state = Config::default().state_dir;
    smo_host::api::auth::client_token(
        daemon.token.clone(),
        Some(
            daemon
                .state_dir
                .as_deref()
                .unwrap_or(default_state.as_path()),
        ),
    )
}

/// `method` on the daemon's `path` with the CLI's token; the JSON answer, or an error line.
fn http_json(
    method: &str,
    daemon: &smo_host::cli::DaemonArgs,
    path: &str,
) -> Result<serde_json::Value, String> {
    let url = &daemon.url(path)?;
    let agent = daemon.agent()?;
    let bearer = token_for(daemon).map(|t| format!("Bearer {t}"));
    let response = match (method, &bearer) {
        ("POST", Some(b)) => agent.post(url).header("Authorization", b).send_empty(),
        ("POST", None) => agent.post(url).send_empty(),
        (_, Some(b)) => agent.get(url).header("Authorization", b).call(),
        (_, None) => agent.get(url).call(),
    }
    .map_err(|e| {
        let hint = if url.starts_with("https://") {
            "is `smo serve` running there? --cacert FILE names the CA of its certificate"
        } else {
            "is `smo serve` running? use --listen ADDR, or --url https://HOST:PORT for HTTPS"
        };
        format!("cannot reach the daemon at {url}: {e} ({hint})")
    })?;
    let status = response.status();
    let body: serde_json::Value = response
        .into_body()
        .read_json()
        .map_err(|e| format!("daemon answered {status} with an unreadable body: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        let detail = body.get("detail").and_then(|d| d.as_str()).unwrap_or("");
        Err(format!("daemon answered {status}: {detail}"))
    }
}
