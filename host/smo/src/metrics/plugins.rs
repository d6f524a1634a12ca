//! The plugin host's figures: calls by outcome and their latency per plugin version and
//! strategy (counted by the call guard), quarantines, the plugins loaded, reloads by outcome,
//! the registry's generation, images mapped against `max_images`, and resident memory.
//!
//! Only the versions in the active set are listed: a version replaced by a reload leaves
//! with its series (calls still running on it finish uncounted here).

use super::{counters, gauges, histograms, NO_LABELS};
use prometheus_client::encoding::DescriptorEncoder;
use smo_plugin_host::metrics::{OUTCOMES, RELOAD_OUTCOMES};
use smo_plugin_host::Dispatcher;
use std::sync::Arc;

/// `smo_plugin_*` and `process_resident_memory_bytes`.
pub struct PluginCollector {
    pub dispatcher: Arc<Dispatcher>,
}

impl std::fmt::Debug for PluginCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginCollector")
    }
}

impl prometheus_client::collector::Collector for PluginCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let registry = self.dispatcher.registry();
        let set = registry.active();
        let strategies: Vec<_> = set
            .plugins
            .values()
            .flat_map(|entry| {
                entry.calls.iter().map(move |(strategy, calls)| {
                    let labels = [
                        ("plugin", entry.info.name.as_str()),
                        ("version", entry.info.version.as_str()),
                        ("strategy", strategy),
                    ];
                    (entry, labels, calls)
                })
            })
            .collect();
        counters(
            &mut encoder,
            "smo_plugin_calls",
            "Strategy calls through the guard, by outcome: ok, answered (an error that is an answer: infeasible, bad input), error, panic, timeout",
            strategies.iter().flat_map(|(_, labels, calls)| {
                OUTCOMES
                    .iter()
                    .zip(calls.outcomes())
                    .map(move |(outcome, count)| {
                        let [plugin, version, strategy] = *labels;
                        ([plugin, version, strategy, ("outcome", *outcome)], count)
                    })
            }),
        )?;
        histograms(
            &mut encoder,
            "smo_plugin_call_duration_seconds",
            "Time of a strategy call through the guard (permit, worker thread, the plugin's own time)",
            strategies
                .iter()
                .map(|(_, labels, calls)| (*labels, calls.latency())),
        )?;
        gauges(
            &mut encoder,
            "smo_plugin_strategy_quarantined",
            "1 when the strategy is quarantined after repeated malfunctions, else 0",
            strategies.iter().map(|(entry, labels, _)| {
                let quarantined = entry.stats.quarantined(labels[2].1).is_some();
                (*labels, if quarantined { 1.0 } else { 0.0 })
            }),
        )?;
        let status = registry.status();
        gauges(
            &mut encoder,
            "smo_plugin_info",
            "The plugins of the active set (always 1), with their state: active (mapped), ready (probed, loads on first use), failed, or overridden (a shipped plugin an operators' plugin replaces)",
            status.plugins.iter().chain(&status.overridden).map(|p| {
                (
                    [
                        ("plugin", p.name.as_str()),
                        ("version", p.version.as_str()),
                        ("api_version", p.api_version.as_str()),
                        ("state", p.state.as_str()),
                    ],
                    1.0,
                )
            }),
        )?;
        gauges(
            &mut encoder,
            "smo_plugin_files_rejected",
            "Files of the plugin directory refused (by the probe, their permissions or a duplicate name)",
            [(NO_LABELS, status.rejected.len() as f64)],
        )?;
        counters(
            &mut encoder,
            "smo_plugin_reloads",
            "Reloads of the plugin directory by outcome: ok, partial (the new set is active, some files were refused), failed (nothing changed)",
            RELOAD_OUTCOMES
                .iter()
                .zip(registry.reload_counts().snapshot())
                .map(|(outcome, count)| ([("outcome", *outcome)], count)),
        )?;
        gauges(
            &mut encoder,
            "smo_plugin_registry_generation",
            "The registry's generation (grows with every reload that swapped a set in)",
            [(NO_LABELS, status.generation as f64)],
        )?;
        gauges(
            &mut encoder,
            "smo_plugin_images_mapped",
            "Plugin images mapped into the process (never unmapped: a reload past the limit is refused)",
            [(NO_LABELS, status.images_mapped as f64)],
        )?;
        gauges(
            &mut encoder,
            "smo_plugin_images_max",
            "The limit of images mapped (plugins.max_images)",
            [(NO_LABELS, status.max_images as f64)],
        )?;
        if let Some(bytes) = status.resident_memory_bytes {
            gauges(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory of the smo process",
                [(NO_LABELS, bytes as f64)],
            )?;
        }
        Ok(())
    }
}
