//! What `/metrics` reads of the plugin host: per-strategy call counters and latency histograms
//! (atomics, resolved once per plugin version), and the outcomes of reloads.
//!
//! The guard records each call with a lookup in a short immutable list of the plugin's
//! strategies and a few relaxed atomic additions: no lock, no allocation, no formatting. The
//! daemon's `/metrics` reads them at scrape time ([`CallMetrics::iter`],
//! [`ReloadCounts::snapshot`]).

use super::stats::Outcome;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in microseconds (100 µs to 30 s; `+Inf` is implicit).
pub const LATENCY_BOUNDS_US: [u64; 17] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
];

const BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

/// A latency histogram over [`LATENCY_BOUNDS_US`]: one atomic per bucket, the sum and count.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

/// A copy of a [`LatencyHistogram`]: per-bucket (not cumulative) counts, the last one `+Inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub buckets: [u64; BUCKETS],
    pub sum_us: u64,
}

impl HistogramSnapshot {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// `(upper bound in seconds, count in that bucket)` for each finite bound, then `+Inf`.
    pub fn seconds(&self) -> Vec<(f64, u64)> {
        LATENCY_BOUNDS_US
            .iter()
            .map(|b| *b as f64 / 1e6)
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.buckets.iter().copied())
            .collect()
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_us as f64 / 1e6
    }
}

impl LatencyHistogram {
    /// Counts one observation of `micros`.
    pub fn observe_us(&self, micros: u64) {
        let bucket = LATENCY_BOUNDS_US.partition_point(|bound| *bound < micros);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts one observation of `elapsed`.
    pub fn observe(&self, elapsed: std::time::Duration) {
        self.observe_us(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// How a call ended, as the `outcome` label says it.
pub const OUTCOMES: [&str; 5] = ["ok", "answered", "error", "panic", "timeout"];

fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Answered => 1,
        Outcome::Error => 2,
        Outcome::Panic => 3,
        Outcome::Timeout => 4,
    }
}

/// The calls of one strategy of one plugin version.
#[derive(Debug, Default)]
pub struct StrategyCalls {
    by_outcome: [AtomicU64; OUTCOMES.len()],
    latency: LatencyHistogram,
}

impl StrategyCalls {
    /// Counts a finished call.
    pub fn record(&self, outcome: Outcome, micros: u64) {
        self.by_outcome[outcome_index(outcome)].fetch_add(1, Ordering::Relaxed);
        self.latency.observe_us(micros);
    }

    /// Calls by outcome, in the order of [`OUTCOMES`].
    pub fn outcomes(&self) -> [u64; OUTCOMES.len()] {
        std::array::from_fn(|i| self.by_outcome[i].load(Ordering::Relaxed))
    }

    pub fn latency(&self) -> HistogramSnapshot {
        self.latency.snapshot()
    }
}

/// The per-strategy counters of one plugin version, made once from the strategies it declares.
#[derive(Debug, Default)]
pub struct CallMetrics {
    strategies: Box<[(String, StrategyCalls)]>,
}

impl CallMetrics {
    /// Counters for each distinct name of `strategies` (a name declared for two kinds shares).
    pub fn new<'a>(strategies: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<&str> = strategies.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        Self {
            strategies: names
                .into_iter()
                .map(|name| (name.to_owned(), StrategyCalls::default()))
                .collect(),
        }
    }

    /// The counters of `strategy`, if the plugin declares it.
    pub fn get(&self, strategy: &str) -> Option<&StrategyCalls> {
        self.strategies
            .iter()
            .find(|(name, _)| name == strategy)
            .map(|(_, calls)| calls)
    }

    /// Every strategy with its counters, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StrategyCalls)> {
        self.strategies
            .iter()
            .map(|(name, calls)| (name.as_str(), calls))
    }
}

/// How a reload ended, as the `outcome` label says it.
pub const RELOAD_OUTCOMES: [&str; 3] = ["ok", "partial", "failed"];

/// Reloads by outcome: `ok` (every file loaded), `partial` (the new set is active, some files
/// were refused), `failed` (nothing changed).
#[derive(Debug, Default)]
pub struct ReloadCounts {
    by_outcome: [AtomicU64; RELOAD_OUTCOMES.len()],
}

impl ReloadCounts {
    /// Counts a reload that swapped a new set in, with `refused` files refused in it.
    pub fn swapped(&self, refused: usize) {
        let index = if refused == 0 { 0 } else { 1 };
        self.by_outcome[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reload that changed nothing.
    pub fn failed(&self) {
        self.by_outcome[2].fetch_add(1, Ordering::Relaxed);
    }

    /// Reloads by outcome, in the order of [`RELOAD_OUTCOMES`].
    pub fn snapshot(&self) -> [u64; RELOAD_OUTCOMES.len()] {
        std::array::from_fn(|i| self.by_outcome[i].load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = LatencyHistogram::default();
        for micros in [0, 100, 101, 999_999, 30_000_000, 30_000_001] {
            h.observe_us(micros);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets[0], 2, "0 and 100 µs are <= 100 µs");
        assert_eq!(s.buckets[1], 1, "101 µs is <= 250 µs");
        assert_eq!(s.buckets[12], 1, "999,999 µs is <= 1 s");
        assert_eq!(s.buckets[16], 1, "30 s is <= 30 s");
        assert_eq!(s.buckets[17], 1, "past 30 s is +Inf");
        assert_eq!(s.count(), 6);
        assert_eq!(s.sum_us, 100 + 101 + 999_999 + 30_000_000 + 30_000_001);
        let seconds = s.seconds();
        assert_eq!(seconds[0], (0.0001, 2));
        assert_eq!(seconds[17], (f64::INFINITY, 1));
    }

    #[test]
    fn calls_are_counted_per_declared_strategy_and_outcome() {
        let m = CallMetrics::new(["place", "scale", "place"]);
        assert_eq!(m.iter().count(), 2, "a name declared twice has one set");
        let place = m.get("place").expect("declared");
        place.record(Outcome::Ok, 10);
        place.record(Outcome::Panic, 20);
        place.record(Outcome::Panic, 30);
        assert!(m.get("unknown").is_none());
        assert_eq!(place.outcomes(), [1, 0, 0, 2, 0]);
        assert_eq!(place.latency().count(), 3);
        assert_eq!(m.get("scale").expect("declared").outcomes(), [0; 5]);
    }

    #[test]
    fn reloads_are_counted_by_outcome() {
        let r = ReloadCounts::default();
        r.swapped(0);
        r.swapped(2);
        r.swapped(0);
        r.failed();
        assert_eq!(r.snapshot(), [2, 1, 1]);
    }
}
