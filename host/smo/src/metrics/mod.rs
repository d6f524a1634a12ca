//! smo's own metrics in the Prometheus text format (`GET /metrics`, docs/metrics.md), read at
//! scrape time from state the daemon keeps anyway: one collector per family of figures.
//!
//! [`plugins`]: calls, outcomes and latency per plugin version and strategy (counted by the
//! call guard with atomics), the registry (generation, reloads, images mapped, memory);
//! [`store`]: the latency of store calls and the decisions recorded by kind and outcome;
//! [`applier`]: reconciles, retries, graphs by status and phase; [`loops`]: the control loops'
//! rounds, periods, durations and lag. Where a figure needs a hook on a hot path it is an
//! atomic increment; everything else (graphs by phase, quarantines, images) is computed when
//! Prometheus asks.

pub mod applier;
pub mod loops;
pub mod plugins;
pub mod reloads;
pub mod store;

use crate::engine::lifecycle::Engine;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use smo_plugin_host::metrics::HistogramSnapshot;
use std::sync::Arc;

/// The `Content-Type` of the answer: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Why the metrics could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot encode the metrics in the text format")]
    Encode(#[from] std::fmt::Error),
}

/// Every collector of a daemon, ready to be encoded on each scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// The collectors of `engine` (and of its dispatcher and store).
    pub fn new(engine: &Arc<Engine>) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(BuildInfo));
        registry.register_collector(Box::new(plugins::PluginCollector {
            dispatcher: Arc::clone(engine.dispatcher()),
        }));
        registry.register_collector(Box::new(store::StoreCollector {
            store: Arc::clone(&engine.store),
        }));
        registry.register_collector(Box::new(applier::ApplierCollector {
            engine: Arc::clone(engine),
        }));
        registry.register_collector(Box::new(loops::LoopCollector {
            engine: Arc::clone(engine),
        }));
        registry.register_collector(Box::new(reloads::ReloadCollector {
            engine: Arc::clone(engine),
        }));
        Self { registry }
    }

    /// The text exposition of every metric. Blocking (it reads the store): call it off the
    /// async workers.
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// `smo_build_info{version}`: always 1.
#[derive(Debug)]
struct BuildInfo;

impl prometheus_client::collector::Collector for BuildInfo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauges(
            &mut encoder,
            "smo_build_info",
            "The smo build serving (always 1)",
            [([("version", env!("CARGO_PKG_VERSION"))], 1.0)],
        )
    }
}

/// A counter family: its descriptor, then one sample per label set.
pub(crate) fn counters<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge family: its descriptor, then one sample per label set.
pub(crate) fn gauges<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A histogram family (in seconds): its descriptor, then one histogram per label set.
pub(crate) fn histograms<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, HistogramSnapshot)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, snapshot) in rows {
        let buckets = snapshot.seconds();
        family
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(
                snapshot.sum_seconds(),
                snapshot.count(),
                &buckets,
                None,
            )?;
    }
    Ok(())
}

/// No labels.
pub(crate) const NO_LABELS: [(&str, &str); 0] = [];

#[cfg(test)]
mod tests;
