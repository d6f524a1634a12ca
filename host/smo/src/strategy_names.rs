//! The strategies a descriptor names (`hdaGraphIntent.placementStrategy`, `scalingStrategy`,
//! `migrationStrategy`) checked against the plugins there are, at deploy and update (the daemon's
//! active set, after looking in the plugin directories for a plugin it lacks) and by
//! `smo validate --plugin-dir`: an unknown plugin or strategy, or a strategy of another kind, is
//! an error of that field, listing the strategies of the kind that exist. The default strategies
//! of the configuration are not named by descriptors and are not checked here.

use smo_core::graphs::{GraphSpec, ValidationError, ValidationErrors};
use smo_plugin_api::StrategyKind;
use smo_plugin_host::loader::PluginInfo;
use smo_plugin_host::probe::ProbeConfig;
use smo_plugin_host::{names, Registry, StrategyName};
use std::path::Path;

/// The descriptor fields that name a strategy, with the kind each must be.
pub const FIELDS: [(&str, StrategyKind); 3] = [
    (
        "hdaGraph.hdaGraphIntent.placementStrategy",
        StrategyKind::PLACEMENT,
    ),
    (
        "hdaGraph.hdaGraphIntent.scalingStrategy",
        StrategyKind::SCALING,
    ),
    (
        "hdaGraph.hdaGraphIntent.migrationStrategy",
        StrategyKind::MIGRATION,
    ),
];

/// The strategies `spec` names: field path, kind, name.
fn named(spec: &GraphSpec) -> Vec<(&'static str, StrategyKind, StrategyName)> {
    FIELDS
        .iter()
        .filter_map(|(field, kind)| {
            let named = spec.strategies.get(*kind)?;
            Some((
                *field,
                *kind,
                StrategyName {
                    plugin: named.plugin.clone(),
                    strategy: named.strategy.clone(),
                },
            ))
        })
        .collect()
}

/// Every field of `spec` naming a strategy that `plugins` do not offer for its kind, with the
/// strategies of that kind they do offer.
pub fn check<'a>(
    spec: &GraphSpec,
    plugins: impl IntoIterator<Item = &'a PluginInfo>,
) -> Result<(), ValidationErrors> {
    let plugins: Vec<&PluginInfo> = plugins.into_iter().collect();
    let errors: Vec<ValidationError> = named(spec)
        .into_iter()
        .filter_map(|(field, kind, name)| {
            names::refusal(&name, kind.name(), plugins.iter().copied())
                .map(|why| ValidationError::new(field, why))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

/// [`check`] against the daemon's active set, after asking the registry to look in the plugin
/// directories for each named plugin the set lacks ([`Registry::find_missing`]: a file dropped
/// since the last reload is loaded, alone).
pub async fn check_active(registry: &Registry, spec: &GraphSpec) -> Result<(), ValidationErrors> {
    let mut searched: Vec<String> = Vec::new();
    for (_, _, name) in named(spec) {
        if searched.contains(&name.plugin) || registry.active().plugins.contains_key(&name.plugin) {
            continue;
        }
        searched.push(name.plugin.clone());
        if let Err(error) = registry.find_missing(&name.plugin).await {
            tracing::warn!(plugin = %name.plugin, %error, "cannot look for a plugin a descriptor names");
        }
    }
    let set = registry.active();
    check(spec, set.plugins.values().map(|entry| &entry.info))
}

/// The plugins of `dir` (`smo validate --plugin-dir`), each file probed in a child process as
/// `smo plugin list --dir` does; files that fail the probe are left out (they provide nothing),
/// and of two files with the same plugin name the first (by file name) counts.
pub async fn probe_dir(dir: &Path, probe: &ProbeConfig) -> Result<Vec<PluginInfo>, String> {
    let rows = crate::plugin_list::probe_dirs(dir, None, probe).await?;
    let mut plugins: Vec<PluginInfo> = Vec::new();
    for row in rows {
        let Some(plugin) = row.get("plugin") else {
            continue;
        };
        let info: PluginInfo = serde_json::from_value(plugin.clone())
            .map_err(|e| format!("cannot read the probe of {}: {e}", row["file"]))?;
        if !plugins.iter().any(|p| p.name == info.name) {
            plugins.push(info);
        }
    }
    Ok(plugins)
}
