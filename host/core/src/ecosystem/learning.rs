//! What the ecosystem learns from its migrations: the cost model (the downtime of a move and
//! the scale of its copy time, by least squares) and the benefit weight of each dependency type
//! (from the improvement measured after the moves that met one), each pulled toward its prior
//! while few migrations are known.
//!
//! Cost: a move's observed seconds ≈ `downtime_s + copy_scale × copy_s`, where `copy_s` is the
//! model's copy time (state × 8 / bandwidth). The fit minimises the squared error plus
//! `w(downtime_s − 2)² + w·mean(copy_s²)(copy_scale − 1)²`, w = [`PRIOR_WEIGHT`] (on each
//! term the prior counts as that many migrations of average size). Benefit: with `r_t` the mean improvement of the moves that
//! met a dependency of type `t` over the mean improvement of all moves, its weight is
//! `(n_t·r_t + m)/(n_t + m)` with `m` = [`PRIOR_MOVES`], in [0, 3].

use nalgebra::{Matrix2, Vector2};
use serde::Serialize;
use std::collections::BTreeMap;

/// The prior: 2 s of downtime a move, copy time as modelled.
pub const PRIOR_DOWNTIME_S: f64 = 2.0;
pub const PRIOR_COPY_SCALE: f64 = 1.0;
/// Strength of the cost model's prior, in migrations.
pub const PRIOR_WEIGHT: f64 = 1.0;
/// Strength of a type weight's prior (1), in migrations.
pub const PRIOR_MOVES: f64 = 2.0;

/// One migration's prediction and what was measured after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The model's copy time, s.
    pub copy_s: f64,
    /// Seconds the move took (the apply's duration).
    pub observed_s: f64,
    /// The dependency types it met that were unmet.
    pub types_met: Vec<String>,
    /// Relative improvement of the measured latency, (before − after) / before.
    pub improvement: f64,
}

/// The learned cost model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostModel {
    pub downtime_s: f64,
    pub copy_scale: f64,
    /// Migrations it was fitted on.
    pub samples: usize,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            downtime_s: PRIOR_DOWNTIME_S,
            copy_scale: PRIOR_COPY_SCALE,
            samples: 0,
        }
    }
}

impl CostModel {
    /// The ridge least-squares fit of `outcomes` (see the module documentation).
    pub fn fit(outcomes: &[Outcome]) -> Self {
        let usable: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.copy_s.is_finite() && o.observed_s.is_finite() && o.copy_s >= 0.0)
            .collect();
        if usable.is_empty() {
            return Self::default();
        }
        // Features (1, copy_s); the prior weighs, on each, as PRIOR_WEIGHT average migrations.
        let n = usable.len() as f64;
        let copy_square = usable.iter().map(|o| o.copy_s * o.copy_s).sum::<f64>() / n;
        let lambda = Vector2::new(PRIOR_WEIGHT, PRIOR_WEIGHT * copy_square.max(1e-9));
        let mut ata = Matrix2::from_diagonal(&lambda);
        let mut atb = Vector2::new(lambda[0] * PRIOR_DOWNTIME_S, lambda[1] * PRIOR_COPY_SCALE);
        for o in &usable {
            let x = Vector2::new(1.0, o.copy_s);
            ata += x * x.transpose();
            atb += x * o.observed_s;
        }
        match ata.lu().solve(&atb) {
            Some(solution) if solution.iter().all(|v| v.is_finite()) => Self {
                downtime_s: solution[0].max(0.0),
                copy_scale: solution[1].max(0.0),
                samples: usable.len(),
            },
            _ => Self::default(),
        }
    }

    /// The seconds a move with copy time `copy_s` is expected to take.
    pub fn predict(&self, copy_s: f64) -> f64 {
        self.downtime_s + self.copy_scale * copy_s
    }
}

/// The benefit weight of each dependency type met by at least one migration.
pub fn type_weights(outcomes: &[Outcome]) -> BTreeMap<String, f64> {
    let usable: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.improvement.is_finite())
        .collect();
    let overall = usable.iter().map(|o| o.improvement).sum::<f64>() / usable.len().max(1) as f64;
    let mut per_type: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for o in &usable {
        for kind in &o.types_met {
            let slot = per_type.entry(kind.to_lowercase()).or_default();
            slot.0 += o.improvement;
            slot.1 += 1.0;
        }
    }
    per_type
        .into_iter()
        .map(|(kind, (sum, n))| {
            let ratio = if overall > 0.0 {
                (sum / n) / overall
            } else {
                1.0
            };
            let weight = (n * ratio + PRIOR_MOVES) / (n + PRIOR_MOVES);
            (kind, weight.clamp(0.0, 3.0))
        })
        .collect()
}

/// Everything learned from `outcomes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Learned {
    pub cost_model: CostModel,
    pub type_weights: BTreeMap<String, f64>,
}

pub fn learn(outcomes: &[Outcome]) -> Learned {
    Learned {
        cost_model: CostModel::fit(outcomes),
        type_weights: type_weights(outcomes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(copy_s: f64, observed_s: f64, types: &[&str], improvement: f64) -> Outcome {
        Outcome {
            copy_s,
            observed_s,
            types_met: types.iter().map(|t| t.to_string()).collect(),
            improvement,
        }
    }

    #[test]
    fn with_nothing_learned_the_prior_holds() {
        assert_eq!(learn(&[]), Learned::default());
        assert_eq!(CostModel::default().predict(3.0), 5.0);
    }

    #[test]
    fn migrations_costing_twice_the_estimate_correct_the_model() {
        // Each move takes twice what the prior predicts: 2 × (2 s + copy).
        let mut outcomes = Vec::new();
        let mut errors = Vec::new();
        for i in 0..20 {
            let copy_s = (i % 7) as f64 * 1.5;
            outcomes.push(outcome(
                copy_s,
                2.0 * CostModel::default().predict(copy_s),
                &[],
                0.0,
            ));
            let model = CostModel::fit(&outcomes);
            errors.push((model.predict(6.0) - 16.0).abs());
        }
        let model = CostModel::fit(&outcomes);
        assert!((model.downtime_s - 4.0).abs() < 0.3, "{model:?}");
        assert!((model.copy_scale - 2.0).abs() < 0.1, "{model:?}");
        assert_eq!(model.samples, 20);
        // The error of the prediction falls as migrations are observed.
        assert!(errors[19] < errors[2] && errors[2] < 8.0, "{errors:?}");
    }

    #[test]
    fn a_dependency_type_that_brings_no_benefit_loses_weight() {
        let mut outcomes = Vec::new();
        let mut analytics = Vec::new();
        for _ in 0..10 {
            outcomes.push(outcome(1.0, 3.0, &["caching"], 0.3));
            outcomes.push(outcome(1.0, 3.0, &["analytics"], 0.0));
            analytics.push(type_weights(&outcomes)["analytics"]);
        }
        let weights = type_weights(&outcomes);
        assert!(weights["analytics"] < 0.2, "{weights:?}");
        assert!(weights["caching"] > 1.7, "{weights:?}");
        // Falling with every migration that shows no benefit.
        assert!(analytics.windows(2).all(|w| w[1] < w[0]), "{analytics:?}");
    }
}
