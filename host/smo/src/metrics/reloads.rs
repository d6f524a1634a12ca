//! The configuration's reloads (SIGHUP, `systemctl reload`) by outcome: put in force, or refused
//! (a bad file, a key only a restart applies) with the previous configuration kept.

use super::counters;
use crate::engine::lifecycle::Engine;
use prometheus_client::encoding::DescriptorEncoder;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Reloads counted by the reload path.
#[derive(Debug, Default)]
pub struct ConfigReloads {
    applied: AtomicU64,
    refused: AtomicU64,
}

impl ConfigReloads {
    /// Counts one reload.
    pub fn count(&self, applied: bool) {
        let counter = if applied {
            &self.applied
        } else {
            &self.refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reloads applied and refused so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.applied.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

/// `smo_config_reloads_total{outcome}`.
pub struct ReloadCollector {
    pub engine: Arc<Engine>,
}

impl std::fmt::Debug for ReloadCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadCollector")
    }
}

impl prometheus_client::collector::Collector for ReloadCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (applied, refused) = self.engine.config_reloads.counts();
        counters(
            &mut encoder,
            "smo_config_reloads",
            "Reloads of the configuration file (SIGHUP): applied, or refused with the previous configuration kept",
            [
                ([("outcome", "applied")], applied),
                ([("outcome", "refused")], refused),
            ],
        )
    }
}
