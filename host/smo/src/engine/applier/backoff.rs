//! Exponential backoff with jitter for the applier's retries: the n-th consecutive failure of
//! a graph waits `min(max, base * 2^(n-1))`, of which a random part (up to half) is taken off.
//!
//! "Equal jitter": the wait is never below half its exponential value, so a failing backend is
//! not hammered, and graphs that failed together do not retry together.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The wait after the first failure (before jitter).
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl BackoffPolicy {
    /// The exponential wait after `failures` consecutive failures (1 = the first), no jitter.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The wait after `failures` consecutive failures, with `unit` in [0, 1) taking up to half
    /// of it off.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(failures);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ceiling.mul_f64(1.0 - 0.5 * unit)
    }
}

/// A number in [0, 1) from the process's random hasher keys and a counter: enough to spread
/// retries, and needs no random-number crate.
pub fn jitter_unit(counter: u64) -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(counter);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum() {
        let policy = BackoffPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(policy.ceiling(1), Duration::from_millis(100));
        assert_eq!(policy.ceiling(2), Duration::from_millis(200));
        assert_eq!(policy.ceiling(4), Duration::from_millis(800));
        assert_eq!(policy.ceiling(5), Duration::from_secs(1));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_takes_at_most_half_off() {
        let policy = BackoffPolicy::default();
        for failures in 1..12 {
            let ceiling = policy.ceiling(failures);
            for counter in 0..50 {
                let unit = jitter_unit(counter);
                assert!((0.0..1.0).contains(&unit), "{unit}");
                let delay = policy.delay(failures, unit);
                assert!(
                    delay <= ceiling && delay >= ceiling / 2,
                    "{delay:?} vs {ceiling:?}"
                );
            }
        }
        assert_eq!(policy.delay(1, f64::NAN), policy.ceiling(1));
    }
}
