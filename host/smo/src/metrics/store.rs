//! The store's figures: how long each store call holds the connection (waiting for it
//! included), and the decisions recorded by kind and outcome.
//!
//! [`StoreMetrics`] lives in the [`Store`](crate::store::Store); its connection guard
//! ([`Timed`]) observes the latency when a call lets the connection go, and the two places
//! that write decision rows count them once written.

use super::{counters, histograms, NO_LABELS};
use crate::store::{DecisionKind, Outcome, Store};
use prometheus_client::encoding::DescriptorEncoder;
use smo_plugin_host::metrics::LatencyHistogram;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

const KINDS: [DecisionKind; 3] = [
    DecisionKind::Placement,
    DecisionKind::Scaling,
    DecisionKind::Migration,
];
const OUTCOMES: [Outcome; 3] = [Outcome::Ok, Outcome::Fallback, Outcome::Error];

fn kind_index(kind: DecisionKind) -> usize {
    match kind {
        DecisionKind::Placement => 0,
        DecisionKind::Scaling => 1,
        DecisionKind::Migration => 2,
    }
}

fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Fallback => 1,
        Outcome::Error => 2,
    }
}

/// What the store counts (see the module documentation).
#[derive(Debug, Default)]
pub struct StoreMetrics {
    latency: LatencyHistogram,
    decisions: [[AtomicU64; OUTCOMES.len()]; KINDS.len()],
}

impl StoreMetrics {
    /// Counts a decision row written (once its transaction committed).
    pub fn decision_recorded(&self, kind: DecisionKind, outcome: Outcome) {
        self.decisions[kind_index(kind)][outcome_index(outcome)].fetch_add(1, Ordering::Relaxed);
    }

    /// Decisions recorded of `kind` that ended with `outcome`.
    pub fn decisions(&self, kind: DecisionKind, outcome: Outcome) -> u64 {
        self.decisions[kind_index(kind)][outcome_index(outcome)].load(Ordering::Relaxed)
    }

    /// Wraps the connection's guard so that the time until it is let go is observed.
    pub fn timed<'a, T>(&'a self, started: Instant, guard: MutexGuard<'a, T>) -> Timed<'a, T> {
        Timed {
            guard,
            started,
            latency: &self.latency,
        }
    }

    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }
}

/// A held connection: derefs to it, and observes how long it was asked for and held on drop.
pub struct Timed<'a, T> {
    guard: MutexGuard<'a, T>,
    started: Instant,
    latency: &'a LatencyHistogram,
}

impl<T> Deref for Timed<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for Timed<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for Timed<'_, T> {
    fn drop(&mut self) {
        self.latency.observe(self.started.elapsed());
    }
}

/// `smo_store_call_duration_seconds` and `smo_decisions_total`.
#[derive(Debug)]
pub struct StoreCollector {
    pub store: Arc<Store>,
}

impl prometheus_client::collector::Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let metrics = self.store.metrics();
        histograms(
            &mut encoder,
            "smo_store_call_duration_seconds",
            "Time a store call waited for the SQLite connection and held it",
            [(NO_LABELS, metrics.latency().snapshot())],
        )?;
        let rows = KINDS.iter().flat_map(|kind| {
            OUTCOMES.iter().map(move |outcome| {
                (
                    [("kind", kind.as_str()), ("outcome", outcome.as_str())],
                    metrics.decisions(*kind, *outcome),
                )
            })
        });
        counters(
            &mut encoder,
            "smo_decisions",
            "Decisions recorded in the history, by kind and outcome (ok, fallback, error)",
            rows,
        )
    }
}
