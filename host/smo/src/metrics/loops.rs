//! The control loops' figures: rounds and failed rounds, each round's duration, how late it
//! started after it was due (lag), the period in force, and how many scaling loops run.
//!
//! Each loop records its round into [`LoopRounds`] (a few atomic additions per round); the
//! engine keeps one per kind of loop in [`LoopStats`].

use super::{counters, gauges, histograms, NO_LABELS};
use crate::engine::lifecycle::Engine;
use prometheus_client::encoding::DescriptorEncoder;
use smo_plugin_host::metrics::LatencyHistogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The rounds of one kind of loop.
#[derive(Debug, Default)]
pub struct LoopRounds {
    rounds: AtomicU64,
    failed: AtomicU64,
    period_us: AtomicU64,
    duration: LatencyHistogram,
    lag: LatencyHistogram,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl LoopRounds {
    /// Counts a round of a loop of period `period` that started `lag` after it was due (none
    /// for a round run on a wake-up rather than a schedule) and took `took`.
    pub fn round(&self, period: Duration, lag: Option<Duration>, took: Duration, ok: bool) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.period_us.store(micros(period), Ordering::Relaxed);
        self.duration.observe(took);
        if let Some(lag) = lag {
            self.lag.observe(lag);
        }
    }

    /// Rounds so far, and how many of them failed.
    pub fn rounds(&self) -> (u64, u64) {
        (
            self.rounds.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// One [`LoopRounds`] per kind of loop.
#[derive(Debug, Default)]
pub struct LoopStats {
    /// Every graph's scaling loop together.
    pub scaling: LoopRounds,
    /// The ecosystem's migration loop.
    pub ecosystem: LoopRounds,
}

impl LoopStats {
    fn each(&self) -> [(&'static str, &LoopRounds); 2] {
        [("scaling", &self.scaling), ("ecosystem", &self.ecosystem)]
    }
}

/// `smo_loop_*` and `smo_scaling_loops_running`.
pub struct LoopCollector {
    pub engine: Arc<Engine>,
}

impl std::fmt::Debug for LoopCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoopCollector")
    }
}

impl prometheus_client::collector::Collector for LoopCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.engine.loop_stats.each();
        counters(
            &mut encoder,
            "smo_loop_rounds",
            "Rounds of the control loops (scaling: every graph's loop together; ecosystem: the migration loop)",
            stats.iter().map(|(name, s)| ([("loop", *name)], s.rounds().0)),
        )?;
        counters(
            &mut encoder,
            "smo_loop_round_failures",
            "Rounds of the control loops that ended with an error",
            stats
                .iter()
                .map(|(name, s)| ([("loop", *name)], s.rounds().1)),
        )?;
        gauges(
            &mut encoder,
            "smo_loop_period_seconds",
            "The period of each loop, as in force at its last round (0 before its first)",
            stats.iter().map(|(name, s)| {
                (
                    [("loop", *name)],
                    s.period_us.load(Ordering::Relaxed) as f64 / 1e6,
                )
            }),
        )?;
        histograms(
            &mut encoder,
            "smo_loop_round_duration_seconds",
            "How long each round of a loop took",
            stats
                .iter()
                .map(|(name, s)| ([("loop", *name)], s.duration.snapshot())),
        )?;
        histograms(
            &mut encoder,
            "smo_loop_lag_seconds",
            "How late each scheduled round started after it was due",
            stats
                .iter()
                .map(|(name, s)| ([("loop", *name)], s.lag.snapshot())),
        )?;
        gauges(
            &mut encoder,
            "smo_scaling_loops_running",
            "Running graphs with a live scaling loop",
            [(NO_LABELS, self.engine.scaling_loops() as f64)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_counts_its_failure_period_duration_and_lag() {
        let r = LoopRounds::default();
        r.round(
            Duration::from_secs(30),
            Some(Duration::from_millis(3)),
            Duration::from_millis(40),
            true,
        );
        r.round(
            Duration::from_secs(60),
            None,
            Duration::from_millis(2),
            false,
        );
        assert_eq!(r.rounds(), (2, 1));
        assert_eq!(r.period_us.load(Ordering::Relaxed), 60_000_000);
        assert_eq!(r.duration.snapshot().count(), 2);
        assert_eq!(r.lag.snapshot().count(), 1, "a wake-up has no lag");
        assert_eq!(r.lag.snapshot().sum_us, 3_000);
    }
}
