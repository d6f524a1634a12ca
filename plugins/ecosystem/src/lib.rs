//! `ecosystem/satisfy`: the migration strategy of smo's dependency-satisfaction engine (seed
//! 001). The host offers the moves that would change a workload's score (with the scores before
//! and after, the change for the workloads depending on it, and the state to carry over); this
//! strategy weighs each one's gain against its cost and answers the best, within the budget.
//!
//! Gain of a move = `score_after − score_before + dependents_weight × dependents_delta`, plus
//! `violation_bonus` when it meets a required dependency unmet before (and minus it when it
//! breaks one). Cost = the host's `expected_s` (its cost model, learned from the moves it
//! observed) when given, else `downtime_s + state_gib × 8 / bandwidth_gbps` seconds (the state
//! copied over the link). A move is worth making when `gain − score_per_second × cost ≥ min_gain`;
//! one move per service (its best), workloads with an unmet required dependency first, then by
//! net gain, at most `budget` of the host's.

use serde::Deserialize;
use smo_plugin_api::extra::{self, EcosystemMigrationExtra, EcosystemMoveOption};
use smo_plugin_api::prelude::*;
use std::collections::BTreeMap;

/// The strategy's parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Least net gain worth a move.
    pub min_gain: f64,
    /// Score a second of migration (downtime and copy) is worth.
    pub score_per_second: f64,
    /// Downtime of any move, s.
    pub downtime_s: f64,
    /// Weight of the change of the dependents' scores.
    pub dependents_weight: f64,
    /// Bonus for meeting a required dependency that was unmet (malus for breaking one).
    pub violation_bonus: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            min_gain: 0.05,
            score_per_second: 0.01,
            downtime_s: 2.0,
            dependents_weight: 1.0,
            violation_bonus: 0.5,
        }
    }
}

/// A move with its figures.
#[derive(Debug, Clone)]
struct Weighed<'a> {
    option: &'a EcosystemMoveOption,
    gain: f64,
    cost_s: f64,
    net: f64,
}

fn weigh<'a>(option: &'a EcosystemMoveOption, p: &Params) -> Weighed<'a> {
    let mut gain =
        option.score_after - option.score_before + p.dependents_weight * option.dependents_delta;
    if option.violated_before && !option.violated_after {
        gain += p.violation_bonus;
    }
    if !option.violated_before && option.violated_after {
        gain -= p.violation_bonus;
    }
    let copy_s = if option.state_gib > 0.0 && option.bandwidth_gbps > 0.0 {
        option.state_gib * 8.0 / option.bandwidth_gbps
    } else {
        0.0
    };
    // The host's learned estimate when it has one, else this strategy's own model.
    let cost_s = if option.expected_s > 0.0 && option.expected_s.is_finite() {
        option.expected_s
    } else {
        p.downtime_s + copy_s
    };
    Weighed {
        option,
        gain,
        cost_s,
        net: gain - p.score_per_second * cost_s,
    }
}

/// The strategy.
pub struct Satisfy {
    params: Params,
}

impl Satisfy {
    pub fn new(params: &str) -> Result<Self, PluginError> {
        let params = if params.trim().is_empty() {
            Params::default()
        } else {
            serde_json::from_str(params).map_err(|e| {
                PluginError::bad_parameters(format!("ecosystem/satisfy parameters: {e}"))
            })?
        };
        for (name, value) in [
            ("min_gain", params.min_gain),
            ("score_per_second", params.score_per_second),
            ("downtime_s", params.downtime_s),
            ("dependents_weight", params.dependents_weight),
            ("violation_bonus", params.violation_bonus),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(PluginError::bad_parameters(format!(
                    "ecosystem/satisfy parameters: {name} must be a number ≥ 0, got {value}"
                )));
            }
        }
        Ok(Self { params })
    }

    /// The moves chosen among `options` (see the crate documentation).
    pub fn choose(&self, extra: &EcosystemMigrationExtra) -> MigrationDecision {
        let p = &self.params;
        let mut best: BTreeMap<&str, Weighed<'_>> = BTreeMap::new();
        for option in &extra.ecosystem.options {
            let weighed = weigh(option, p);
            if !weighed.net.is_finite() {
                continue;
            }
            match best.get(option.service.as_str()) {
                Some(kept) if kept.net >= weighed.net => {}
                _ => {
                    best.insert(option.service.as_str(), weighed);
                }
            }
        }
        let mut chosen: Vec<Weighed<'_>> =
            best.into_values().filter(|w| w.net >= p.min_gain).collect();
        chosen.sort_by(|a, b| {
            b.option
                .violated_before
                .cmp(&a.option.violated_before)
                .then(b.net.total_cmp(&a.net))
                .then(a.option.service.cmp(&b.option.service))
        });
        let considered = extra.ecosystem.options.len();
        let worth = chosen.len();
        chosen.truncate(extra.ecosystem.budget as usize);
        let mut reasons: Vec<RString> = vec![format!(
            "{considered} option(s) offered, {worth} worth a move (net gain ≥ {}), {} chosen (budget {})",
            p.min_gain,
            chosen.len(),
            extra.ecosystem.budget
        )
        .into()];
        let moves: Vec<Move> = chosen
            .iter()
            .map(|w| {
                let o = w.option;
                let reason = format!(
                    "`{}` {} -> {}: score {:.2} -> {:.2}, dependents {:+.2}, {:.1} s to move{}",
                    o.workload,
                    o.from,
                    o.to,
                    o.score_before,
                    o.score_after,
                    o.dependents_delta,
                    w.cost_s,
                    if o.violated_before && !o.violated_after {
                        ", meets its required dependencies"
                    } else {
                        ""
                    }
                );
                reasons.push(reason.clone().into());
                Move {
                    service: o.service.as_str().into(),
                    from: o.from.as_str().into(),
                    to: o.to.as_str().into(),
                    replicas: o.replicas,
                    reason: reason.into(),
                    expected_gain: w.gain,
                    expected_cost: w.cost_s,
                }
            })
            .collect();
        MigrationDecision {
            moves: RVec::from(moves),
            reasons: RVec::from(reasons),
            extra: "{}".into(),
        }
    }
}

impl Migration for Satisfy {
    fn plan(&self, request: &MigrationRequest) -> Result<MigrationDecision, PluginError> {
        let extra: EcosystemMigrationExtra = extra::read(request.extra.as_str())
            .map_err(|e| PluginError::invalid_input(e.to_string()))?;
        Ok(self.choose(&extra))
    }
}

smo_plugin_api::export_plugin! {
    name: "ecosystem",
    version: env!("CARGO_PKG_VERSION"),
    migration: {
        "satisfy": "raise Dependency Satisfaction Scores: the host's move options weighed by score gain against downtime and state copied, within a move budget"
            => Satisfy::new,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::extra::EcosystemOptions;

    fn option(service: &str, to: &str, before: f64, after: f64) -> EcosystemMoveOption {
        EcosystemMoveOption {
            service: service.into(),
            workload: format!("g/{service}"),
            from: "a".into(),
            to: to.into(),
            replicas: 1,
            score_before: before,
            score_after: after,
            bandwidth_gbps: 10.0,
            ..EcosystemMoveOption::default()
        }
    }

    fn extra(options: Vec<EcosystemMoveOption>, budget: u32) -> EcosystemMigrationExtra {
        EcosystemMigrationExtra {
            ecosystem: EcosystemOptions {
                threshold: 0.8,
                budget,
                options,
            },
        }
    }

    #[test]
    fn the_best_move_of_each_service_within_the_budget_violations_first() {
        let satisfy = Satisfy::new("").expect("defaults");
        let mut fixes = option("db-user", "b", 0.2, 1.0);
        fixes.violated_before = true;
        let decision = satisfy.choose(&extra(
            vec![
                option("web", "b", 0.5, 0.7),
                option("web", "c", 0.5, 0.95),
                option("api", "b", 0.6, 0.9),
                fixes,
                option("tiny", "b", 0.79, 0.8),
            ],
            2,
        ));
        let moves: Vec<(&str, &str)> = decision
            .moves
            .iter()
            .map(|m| (m.service.as_str(), m.to.as_str()))
            .collect();
        assert_eq!(moves, [("db-user", "b"), ("web", "c")]);
        assert!(decision.reasons[0]
            .as_str()
            .contains("5 option(s) offered, 3 worth a move"));
    }

    #[test]
    fn a_large_state_over_a_thin_link_is_not_worth_a_small_gain() {
        let satisfy = Satisfy::new(r#"{"score_per_second": 0.01}"#).expect("params");
        let mut heavy = option("db", "b", 0.5, 0.7);
        heavy.state_gib = 100.0;
        heavy.bandwidth_gbps = 1.0; // 800 s to copy
        assert!(satisfy
            .choose(&extra(vec![heavy.clone()], 5))
            .moves
            .is_empty());
        heavy.bandwidth_gbps = 100.0; // 8 s
        assert_eq!(satisfy.choose(&extra(vec![heavy], 5)).moves.len(), 1);
    }

    #[test]
    fn the_hosts_learned_estimate_replaces_the_own_model() {
        let satisfy = Satisfy::new("").expect("defaults");
        let mut slow = option("db", "b", 0.5, 0.7);
        slow.expected_s = 60.0; // 0.2 - 0.6 < min_gain
        assert!(satisfy
            .choose(&extra(vec![slow.clone()], 5))
            .moves
            .is_empty());
        slow.expected_s = 3.0;
        let decision = satisfy.choose(&extra(vec![slow], 5));
        assert_eq!(decision.moves[0].expected_cost, 3.0);
    }

    #[test]
    fn bad_parameters_are_named() {
        let error = Satisfy::new(r#"{"min_gain": -1}"#).err().expect("refused");
        assert!(error.message.contains("min_gain"), "{}", error.message);
        let error = Satisfy::new(r#"{"speed": 1}"#).err().expect("refused");
        assert!(error.message.contains("speed"), "{}", error.message);
    }
}
