//! The applier's figures: reconciles and retries (counted by its runner under the lock it
//! takes anyway), what runs or backs off now, and the graphs by status and phase (computed
//! at scrape time, as `GET /v1/graphs` does).

use super::{counters, gauges, NO_LABELS};
use crate::engine::applier::phase::Phase;
use crate::engine::inventory::{DELETING, RUNNING, STOPPED};
use crate::engine::lifecycle::Engine;
use prometheus_client::encoding::DescriptorEncoder;
use std::collections::BTreeMap;
use std::sync::Arc;

const PHASES: [Phase; 5] = [
    Phase::Pending,
    Phase::Applying,
    Phase::Ready,
    Phase::Degraded,
    Phase::Failed,
];

/// `smo_applier_*` and `smo_graphs`.
pub struct ApplierCollector {
    pub engine: Arc<Engine>,
}

impl std::fmt::Debug for ApplierCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApplierCollector")
    }
}

impl prometheus_client::collector::Collector for ApplierCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.engine.applier.runner().counts();
        counters(
            &mut encoder,
            "smo_applier_reconciles",
            "Reconciles of a graph's desired state with the backend, finished",
            [(NO_LABELS, counts.reconciles)],
        )?;
        counters(
            &mut encoder,
            "smo_applier_retries",
            "Reconciles that failed and were scheduled again after a backoff",
            [(NO_LABELS, counts.retries)],
        )?;
        gauges(
            &mut encoder,
            "smo_applier_reconciles_running",
            "Reconciles running now",
            [(NO_LABELS, counts.running as f64)],
        )?;
        gauges(
            &mut encoder,
            "smo_applier_graphs_backing_off",
            "Graphs whose last reconcile failed, waiting for their retry",
            [(NO_LABELS, counts.backing_off as f64)],
        )?;
        let graphs = match self.engine.list() {
            Ok(graphs) => graphs,
            Err(error) => {
                // The other families are still worth a scrape.
                tracing::warn!(%error, "/metrics: the graphs could not be read");
                return Ok(());
            }
        };
        let mut by_status: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
        for status in [RUNNING, STOPPED, DELETING] {
            for phase in PHASES {
                by_status.insert((status.to_owned(), phase.as_str()), 0);
            }
        }
        for graph in &graphs {
            *by_status
                .entry((graph.status.clone(), graph.phase.as_str()))
                .or_default() += 1;
        }
        gauges(
            &mut encoder,
            "smo_graphs",
            "Graphs stored, by status (running, stopped, deleting) and phase (pending, applying, ready, degraded, failed)",
            by_status.iter().map(|((status, phase), count)| {
                (
                    [("status", status.as_str()), ("phase", *phase)],
                    *count as f64,
                )
            }),
        )
    }
}
