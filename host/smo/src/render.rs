//! `smo render`: the Kubernetes and Karmada objects a graph becomes, without a cluster, for review
//! and for GitOps. The placement comes from a file, or is decided as `smo serve` would decide it.
//!
//! Without `--placement`, the descriptor is deployed on a throw-away `smo serve` engine (its
//! embedded continuum, or `--scenario`'s datacenters) with the strategy it names, `--strategy`,
//! or the default, and the placement that engine commits is rendered.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use smo_core::graphs::{GraphSpec, StrategyRef};
use smo_core::placement::PlacementEntry;
use smo_karmada::manifest::to_yaml_stream;
use smo_karmada::render::HelmSettings;
use smo_karmada::{render_graph, Manifest, RenderOptions};

use crate::cli::RenderArgs;
use crate::config::Config;
use crate::daemon::build_app;
use crate::engine::lifecycle::DeployMode;

/// Runs `smo render` with `args`; `probe_exe` is this binary (plugins are probed with it).
pub fn run(args: &RenderArgs, probe_exe: PathBuf) -> Result<(), String> {
    let spec = smo_core::graphs::validate_file(&args.descriptor).map_err(|errors| {
        format!(
            "{}: {} error(s)\n{errors}",
            args.descriptor.display(),
            errors.len()
        )
    })?;
    let placement = match &args.placement {
        Some(path) => read_placement(path)?,
        None => decide(spec.clone(), args, probe_exe)?,
    };
    let options = RenderOptions {
        namespace: args.namespace.clone(),
        helm: Some(HelmSettings {
            helm: args.helm.clone(),
            chart_dirs: args.chart_dir.clone(),
            plain_http: args.plain_http,
            kube_version: None,
        }),
        scheduler_name: args.scheduler_name.clone(),
    };
    let manifests = render_graph(&spec, &placement, &options).map_err(|e| e.to_string())?;
    match &args.out {
        None => print!("{}", to_yaml_stream(&manifests).map_err(|e| e.to_string())?),
        Some(dir) => write_files(dir, &manifests)?,
    }
    eprintln!(
        "rendered {} objects for graph {:?} ({})",
        manifests.len(),
        spec.name,
        describe(&placement)
    );
    Ok(())
}

/// A placement file: a list of `{service, cluster, replicas}`, or a mapping whose `placement`
/// member is that list (as `GET /v1/graphs/{name}` shows it).
fn read_placement(path: &Path) -> Result<Vec<PlacementEntry>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        List(Vec<serde_norway::Value>),
        Wrapped { placement: Vec<serde_norway::Value> },
    }
    let what = || format!("placement file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", what()))?;
    let rows = match serde_norway::from_str::<File>(&text) {
        Ok(File::List(rows) | File::Wrapped { placement: rows }) => rows,
        Err(_) => {
            return Err(format!(
                "{}: expected a list of {{service, cluster, replicas}} (or a mapping with such a \
                 list under `placement`)",
                what()
            ))
        }
    };
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            serde_path_to_error::deserialize::<_, PlacementEntry>(row).map_err(|error| {
                let inner = error.path().to_string();
                let at = if inner == "." {
                    format!("[{i}]")
                } else {
                    format!("[{i}].{inner}")
                };
                format!("{}: placement{at}: {}", what(), error.inner())
            })
        })
        .collect()
}

/// Deploys `spec` on a temporary engine, as `smo serve` would, and returns what it committed.
fn decide(
    mut spec: GraphSpec,
    args: &RenderArgs,
    probe_exe: PathBuf,
) -> Result<Vec<PlacementEntry>, String> {
    if let Some(strategy) = &args.strategy {
        spec.strategies.placement =
            Some(StrategyRef::parse(strategy).map_err(|e| format!("--strategy: {e}"))?);
    }
    let state_dir = std::env::temp_dir().join(format!("smo-render-{}", std::process::id()));
    let mut config = Config {
        plugin_dir: args.plugin_dir.clone(),
        system_plugin_dir: args.system_plugin_dir.clone(),
        state_dir: state_dir.clone(),
        ..Config::default()
    };
    config.sim.scenario.clone_from(&args.scenario);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let name = spec.name.clone();
    let decided = runtime.block_on(async {
        let app = build_app(&config, probe_exe)
            .await
            .map_err(|e| e.to_string())?;
        let deployed = app
            .engine
            .deploy(spec, DeployMode::Create)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(reason) = deployed.decision.and_then(|d| d.fallback_reason) {
            eprintln!("warning: {reason}");
        }
        app.engine
            .store()
            .get_placement(&name)
            .map_err(|e| e.to_string())
    });
    runtime.shutdown_background();
    let _ = std::fs::remove_dir_all(&state_dir);
    decided
}

/// Writes one file per object into `dir`, numbered in apply order (`00-namespace-smo.yaml`).
fn write_files(dir: &Path, manifests: &[Manifest]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (i, manifest) in manifests.iter().enumerate() {
        let path = dir.join(format!("{i:02}-{}", manifest.file_name()));
        let yaml = manifest.to_yaml().map_err(|e| e.to_string())?;
        std::fs::write(&path, yaml).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `frontend: edge-1 x3, cloud-a x2; catalog: cloud-a x2`.
fn describe(placement: &[PlacementEntry]) -> String {
    let mut services: Vec<(&str, Vec<String>)> = Vec::new();
    for entry in placement.iter().filter(|e| e.replicas > 0) {
        let at = format!("{} x{}", entry.cluster, entry.replicas);
        match services.iter_mut().find(|(s, _)| *s == entry.service) {
            Some((_, list)) => list.push(at),
            None => services.push((&entry.service, vec![at])),
        }
    }
    if services.is_empty() {
        return "nothing placed".into();
    }
    services
        .iter()
        .map(|(service, at)| format!("{service}: {}", at.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
