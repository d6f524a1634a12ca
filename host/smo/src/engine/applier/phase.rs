//! Where a graph, or one of its services, stands between its desired state and what the
//! backend runs: the phase the status shows, from the desired rows, the last observation and
//! the recorded attempts.
//!
//! - `pending`: the desired state is committed and no attempt at its generation was made yet;
//! - `applying`: the backend took it and its replicas are not all ready yet;
//! - `ready`: the backend runs exactly the desired replicas, all ready;
//! - `degraded`: the last attempt failed and is retried, or the backend runs something else
//!   than it took (drift);
//! - `failed`: the last attempt failed in a way a retry will not mend; it stays so until the
//!   desired state changes.

use crate::store::{ApplySummary, PlacementEntry};
use serde::Serialize;
use smo_core::ports::Observation;

/// See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Pending,
    Applying,
    Ready,
    Degraded,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Applying => "applying",
            Phase::Ready => "ready",
            Phase::Degraded => "degraded",
            Phase::Failed => "failed",
        }
    }
}

/// What a phase is computed from.
#[derive(Debug, Clone, Copy)]
pub struct PhaseInputs<'a> {
    /// The generation of the desired state.
    pub generation: u64,
    pub summary: &'a ApplySummary,
    /// The last observation, if the backend answered one.
    pub observed: Option<&'a Observation>,
}

impl PhaseInputs<'_> {
    fn applied(&self) -> bool {
        self.summary
            .applied_generation
            .is_some_and(|g| g >= self.generation)
    }

    /// The newest attempt at the current generation failed: whether a retry may help.
    fn failing(&self) -> Option<bool> {
        self.summary
            .last
            .as_ref()
            .filter(|a| a.record.generation == self.generation && !a.record.ok)
            .map(|a| a.record.retryable)
    }

    /// The phase of the rows `desired` (rows with 0 replicas count as absent), observed as the
    /// rows of `observed` that `keep` selects (a service's, or all).
    pub fn phase_of(&self, desired: &[PlacementEntry], keep: impl Fn(&str) -> bool) -> Phase {
        let desired: Vec<&PlacementEntry> = desired
            .iter()
            .filter(|e| e.replicas > 0 && keep(&e.service))
            .collect();
        let in_step = self.observed.map(|o| {
            let rows: Vec<_> = o
                .replicas
                .iter()
                .filter(|r| keep(&r.service) && (r.desired > 0 || r.ready > 0))
                .collect();
            let asked = rows.len() == desired.len()
                && desired.iter().all(|d| {
                    rows.iter().any(|r| {
                        r.service == d.service && r.cluster == d.cluster && r.desired == d.replicas
                    })
                });
            let ready = asked && rows.iter().all(|r| r.ready >= r.desired);
            (asked, ready)
        });
        match (self.failing(), in_step) {
            (_, Some((true, true))) if self.applied() || desired.is_empty() => Phase::Ready,
            (Some(true), _) => Phase::Degraded,
            (Some(false), _) => Phase::Failed,
            (None, _) if !self.applied() => Phase::Pending,
            (None, Some((true, _))) | (None, None) => Phase::Applying,
            (None, Some((false, _))) => Phase::Degraded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ApplyAction, ApplyAttempt, ApplyAttemptRecord};
    use smo_core::ports::ObservedReplicas;

    fn attempt(generation: u64, ok: bool, retryable: bool) -> ApplyAttempt {
        ApplyAttempt {
            id: 1,
            record: ApplyAttemptRecord {
                graph: "g".into(),
                generation,
                action: ApplyAction::Apply,
                started_at_ms: 0,
                duration_ms: 0.0,
                ok,
                retryable,
                error: (!ok).then(|| "boom".into()),
            },
        }
    }

    fn summary(applied: Option<u64>, last: Option<ApplyAttempt>) -> ApplySummary {
        ApplySummary {
            applied_generation: applied,
            attempts: 1,
            last_error: last.clone().filter(|a| !a.record.ok),
            last,
        }
    }

    fn observed(rows: &[(&str, u32, u32)]) -> Observation {
        Observation {
            generation: Some(2),
            replicas: rows
                .iter()
                .map(|(s, d, r)| ObservedReplicas {
                    service: (*s).into(),
                    cluster: "c".into(),
                    desired: *d,
                    ready: *r,
                    last_error: None,
                })
                .collect(),
        }
    }

    fn phase(summary: &ApplySummary, seen: Option<&Observation>) -> Phase {
        let desired = [
            PlacementEntry::new("a", "c", 2),
            PlacementEntry::new("b", "c", 1),
        ];
        PhaseInputs {
            generation: 2,
            summary,
            observed: seen,
        }
        .phase_of(&desired, |_| true)
    }

    #[test]
    fn the_phases_follow_attempts_and_observations() {
        let none = summary(None, None);
        assert_eq!(phase(&none, None), Phase::Pending);
        let retrying = summary(None, Some(attempt(2, false, true)));
        assert_eq!(phase(&retrying, Some(&observed(&[]))), Phase::Degraded);
        let refused = summary(None, Some(attempt(2, false, false)));
        assert_eq!(phase(&refused, Some(&observed(&[]))), Phase::Failed);
        let taken = summary(Some(2), Some(attempt(2, true, false)));
        let starting = observed(&[("a", 2, 1), ("b", 1, 0)]);
        assert_eq!(phase(&taken, Some(&starting)), Phase::Applying);
        let running = observed(&[("a", 2, 2), ("b", 1, 1)]);
        assert_eq!(phase(&taken, Some(&running)), Phase::Ready);
        let drifted = observed(&[("a", 1, 1), ("b", 1, 1)]);
        assert_eq!(phase(&taken, Some(&drifted)), Phase::Degraded);
        let older = summary(Some(1), Some(attempt(1, true, false)));
        assert_eq!(phase(&older, Some(&running)), Phase::Pending);
    }

    #[test]
    fn a_service_in_step_is_ready_while_another_is_not() {
        let taken = summary(Some(2), Some(attempt(2, true, false)));
        let seen = observed(&[("a", 2, 2), ("b", 1, 0)]);
        let inputs = PhaseInputs {
            generation: 2,
            summary: &taken,
            observed: Some(&seen),
        };
        let desired = [
            PlacementEntry::new("a", "c", 2),
            PlacementEntry::new("b", "c", 1),
        ];
        assert_eq!(inputs.phase_of(&desired, |s| s == "a"), Phase::Ready);
        assert_eq!(inputs.phase_of(&desired, |s| s == "b"), Phase::Applying);
        assert_eq!(inputs.phase_of(&[], |_| true), Phase::Degraded);
    }
}
