//! The Dependency Satisfaction Score, and the queries on what is met, what is not and why.
//!
//! A requirement is *met* when one of its candidates runs close enough (within its latency
//! bound, or on the same cluster without one). With R the met share of the required ones and P
//! of the preferred ones (each weighted by its type's benefit weight, 1 unless learned; a side
//! with nothing declared counts as met), the score is `w_r·R + w_p·P` (weights normalised to sum
//! to 1), the seed's formula. A workload with an unmet required dependency scores that times the
//! threshold, which is always below it (`w_r·R + w_p·P < 1` when `R < 1`), so it is always a
//! candidate for migration, and among such workloads the less satisfied rank lower.
//!
//! Example (`w_r = 0.7`, `w_p = 0.3`, threshold 0.8): a web tier requiring a database and
//! preferring a cache and an analytics node. Database and cache met, analytics not: R = 1,
//! P = 1/2, score 0.7 + 0.15 = 0.85, above the threshold. Database not met, both preferred met:
//! R = 0, P = 1, raw 0.3, score 0.3 × 0.8 = 0.24.

use super::map::{EcosystemMap, Side, Slot, WorkloadId};
use serde::Serialize;
use std::collections::HashMap;

/// The score's weights and threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weights {
    pub required: f64,
    pub preferred: f64,
    /// Workloads scoring below it are candidates for migration.
    pub threshold: f64,
    /// Benefit weight of a dependency type (lower case), 1 when absent.
    pub per_type: HashMap<String, f64>,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            required: 0.7,
            preferred: 0.3,
            threshold: 0.8,
            per_type: HashMap::new(),
        }
    }
}

impl Weights {
    /// Checks the weights: `required` > 0 (so an unmet required dependency lowers the score),
    /// `preferred` ≥ 0, threshold in (0, 1], type weights ≥ 0; all finite.
    pub fn check(&self) -> Result<(), String> {
        let finite = |x: f64| x.is_finite();
        if !(finite(self.required) && self.required > 0.0) {
            return Err(format!("required: must be > 0, got {}", self.required));
        }
        if !(finite(self.preferred) && self.preferred >= 0.0) {
            return Err(format!("preferred: must be ≥ 0, got {}", self.preferred));
        }
        if !(finite(self.threshold) && self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(format!(
                "threshold: must be in (0, 1], got {}",
                self.threshold
            ));
        }
        for (kind, w) in &self.per_type {
            if !(finite(*w) && *w >= 0.0) {
                return Err(format!("per_type.{kind}: must be ≥ 0, got {w}"));
            }
        }
        Ok(())
    }

    fn of_type(&self, slot: &Slot) -> f64 {
        slot.compiled
            .kind()
            .and_then(|k| self.per_type.get(&k).copied())
            .unwrap_or(1.0)
    }
}

/// A workload's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub workload: WorkloadId,
    pub score: f64,
    pub required_met: usize,
    pub required: usize,
    pub preferred_met: usize,
    pub preferred: usize,
    /// A required dependency is not met.
    pub violated: bool,
}

/// A dependency edge as it stands now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    pub side: Side,
    /// The requirement's index in its list.
    pub index: usize,
    pub to: WorkloadId,
    /// The two ends run close enough for the requirement.
    pub met: bool,
    pub latency_ms: f64,
}

/// Why a requirement is not met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmet {
    pub workload: WorkloadId,
    pub side: Side,
    pub index: usize,
    pub reason: String,
}

impl EcosystemMap {
    fn met(&self, slot: &Slot, cluster: usize) -> bool {
        slot.candidates
            .iter()
            .any(|c| self.satisfies(slot, cluster, *c).is_some())
    }

    /// The score of workload `id` as it runs now (`None` when it is not in the map).
    pub fn score(&self, id: WorkloadId, weights: &Weights) -> Option<Score> {
        let entry = self.entry(id)?;
        let side = |slots: &[Slot]| -> (usize, f64, f64) {
            let (mut met, mut got, mut total) = (0, 0.0, 0.0);
            for slot in slots {
                let w = weights.of_type(slot);
                total += w;
                if self.met(slot, entry.cluster) {
                    met += 1;
                    got += w;
                }
            }
            (met, got, total)
        };
        let (required_met, r_got, r_total) = side(&entry.required);
        let (preferred_met, p_got, p_total) = side(&entry.preferred);
        let share = |got: f64, total: f64| if total > 0.0 { got / total } else { 1.0 };
        let (r, p) = (share(r_got, r_total), share(p_got, p_total));
        let sum = weights.required + weights.preferred;
        let raw = (weights.required * r + weights.preferred * p) / sum;
        let violated = required_met < entry.required.len();
        Some(Score {
            workload: id,
            score: if violated {
                raw * weights.threshold
            } else {
                raw
            },
            required_met,
            required: entry.required.len(),
            preferred_met,
            preferred: entry.preferred.len(),
            violated,
        })
    }

    /// Every workload's score.
    pub fn scores(&self, weights: &Weights) -> Vec<Score> {
        self.ids()
            .filter_map(|id| self.score(id, weights))
            .collect()
    }

    /// Workload `id`'s edges: each requirement's candidates, and whether each is placed well.
    pub fn edges_from(&self, id: WorkloadId) -> Vec<Edge> {
        let Some(entry) = self.entry(id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for side in [Side::Required, Side::Preferred] {
            for (index, slot) in entry.slots(side).iter().enumerate() {
                for &to in &slot.candidates {
                    let Some(other) = self.entry(to) else {
                        continue;
                    };
                    let latency_ms = self.topology.latency_ms(entry.cluster, other.cluster);
                    out.push(Edge {
                        side,
                        index,
                        to,
                        met: self.satisfies(slot, entry.cluster, to).is_some(),
                        latency_ms,
                    });
                }
            }
        }
        out
    }

    /// The workloads below the threshold, the least satisfied first.
    pub fn below_threshold(&self, weights: &Weights) -> Vec<Score> {
        let mut low: Vec<Score> = self
            .scores(weights)
            .into_iter()
            .filter(|s| s.violated || s.score < weights.threshold)
            .collect();
        low.sort_by(|a, b| {
            a.score
                .total_cmp(&b.score)
                .then(a.workload.cmp(&b.workload))
        });
        low
    }

    /// Every requirement not met now, with why.
    pub fn unmet(&self) -> Vec<Unmet> {
        let mut out = Vec::new();
        for id in self.ids() {
            let Some(entry) = self.entry(id) else {
                continue;
            };
            for side in [Side::Required, Side::Preferred] {
                for (index, slot) in entry.slots(side).iter().enumerate() {
                    if self.met(slot, entry.cluster) {
                        continue;
                    }
                    out.push(Unmet {
                        workload: id,
                        side,
                        index,
                        reason: self.why_unmet(slot, entry.cluster),
                    });
                }
            }
        }
        out
    }

    /// The types of workload `id`'s requirements not met now (those that name one), required
    /// first, in declaration order. Only its own requirements are looked at.
    pub fn unmet_kinds(&self, id: WorkloadId) -> Vec<String> {
        let Some(entry) = self.entry(id) else {
            return Vec::new();
        };
        [Side::Required, Side::Preferred]
            .into_iter()
            .flat_map(|side| entry.slots(side))
            .filter(|slot| !self.met(slot, entry.cluster))
            .filter_map(|slot| slot.compiled.requirement.kind.clone())
            .collect()
    }

    fn why_unmet(&self, slot: &Slot, cluster: usize) -> String {
        let nearest = slot
            .candidates
            .iter()
            .filter_map(|c| {
                let e = self.entry(*c)?;
                Some((self.topology.latency_ms(cluster, e.cluster), *c))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let wanted = match slot.compiled.latency {
            Some(bound) => format!(
                "within {}{} ms",
                if bound.strict { "< " } else { "<= " },
                bound.ms
            ),
            None => "on the same cluster".to_owned(),
        };
        match nearest {
            None => "no workload has the characteristics asked for".to_owned(),
            Some((ms, c)) => format!(
                "{} workload(s) have the characteristics, none {wanted}: the nearest, `{}` on `{}`, is {:.2} ms away",
                slot.candidates.len(),
                self.describe(c).map_or("", |d| d.0),
                self.describe(c).map_or("", |d| d.2),
                ms
            ),
        }
    }

    /// The requirements met now that would not be if workload `id` ran on `cluster`: its own,
    /// and those of the workloads depending on it.
    pub fn breaks_if_moved(&self, id: WorkloadId, cluster: &str) -> Vec<Unmet> {
        let Some(entry) = self.entry(id) else {
            return Vec::new();
        };
        let Some(to) = self.topology.find(cluster) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for side in [Side::Required, Side::Preferred] {
            for (index, slot) in entry.slots(side).iter().enumerate() {
                if self.met(slot, entry.cluster) && !self.met(slot, to) {
                    out.push(Unmet {
                        workload: id,
                        side,
                        index,
                        reason: format!("no neighbour of it is close enough from `{cluster}`"),
                    });
                }
            }
        }
        for dependent in &entry.dependents {
            let Some(declarer) = self.entry(dependent.workload) else {
                continue;
            };
            let slot = &declarer.slots(dependent.side)[dependent.index];
            let still = |moved_to: usize| {
                slot.candidates.iter().any(|c| {
                    let at = if *c == id {
                        moved_to
                    } else {
                        match self.entry(*c) {
                            Some(e) => e.cluster,
                            None => return false,
                        }
                    };
                    slot.compiled.placed_well(
                        at == declarer.cluster,
                        self.topology.latency_ms(declarer.cluster, at),
                    )
                })
            };
            if still(entry.cluster) && !still(to) {
                out.push(Unmet {
                    workload: dependent.workload,
                    side: dependent.side,
                    index: dependent.index,
                    reason: format!(
                        "`{}` is its only neighbour close enough",
                        entry.declaration.vm_name
                    ),
                });
            }
        }
        out
    }
}
