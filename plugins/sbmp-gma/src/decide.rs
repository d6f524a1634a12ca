//! One decision: runs offload or unoffload on a [`Problem`], applies the unoffload cost check,
//! attributes the predicted change to each move, and writes the `MigrationDecision`.

use crate::bitset::Set;
use crate::model::{Detail, Eval, Evaluator, UsageMode, CLOUD, EDGE};
use crate::offload::{offload, Search, Step};
use crate::params::Params;
use crate::problem::Problem;
use crate::rng::SplitMix64;
use crate::traces::{sample, CandidateRules};
use crate::unoffload::{unoffload, Unoffload};
use serde_json::json;
use smo_plugin_api::{MigrationDecision, Move, RString};

/// What was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Offload,
    Unoffload,
    None,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Offload => "offload",
            Action::Unoffload => "unoffload",
            Action::None => "none",
        }
    }
}

/// A decided plan with everything needed for the report.
#[derive(Clone, Debug)]
pub struct Plan {
    pub action: Action,
    pub required_decrease_ms: f64,
    /// The edge set the plan leads to (equal to the current one when nothing moves).
    pub edge: Set,
    /// The edge set the search found, even when rejected.
    pub proposed: Set,
    pub before: Detail,
    pub before_measured: Eval,
    pub after: Detail,
    /// Services to start at the edge, in decision order.
    pub to_apply: Vec<usize>,
    /// Services to stop at the edge, in decision order.
    pub to_delete: Vec<usize>,
    /// Per moved service: (delay decrease ms, cost increase per hour, reason).
    pub attribution: Vec<(usize, f64, f64, String)>,
    pub target_met: bool,
    pub rejected: Option<String>,
    pub reasons: Vec<String>,
    pub rounds: usize,
    pub candidates_seen: usize,
    pub evaluations: usize,
    pub traces: usize,
}

/// Decides for `required_decrease_ms` (positive: offload; negative: unoffload; zero: nothing).
pub fn decide(problem: &Problem, params: &Params, required_decrease_ms: f64) -> Plan {
    decide_with(
        problem,
        params,
        required_decrease_ms,
        Evaluator::new(&problem.model),
    )
}

/// [`decide`] with the evaluator `ev` of `problem.model` (tests compare the incremental
/// evaluator with [`Evaluator::straightforward`]).
pub fn decide_with<'a>(
    problem: &'a Problem,
    params: &Params,
    required_decrease_ms: f64,
    mut ev: Evaluator<'a>,
) -> Plan {
    let model = &problem.model;
    let current = problem.current.clone();
    let before = model.detail(&current, UsageMode::Shifted);
    let before_measured = model.evaluate(&current, UsageMode::Measured);
    let mut plan = Plan {
        action: Action::None,
        required_decrease_ms,
        edge: current.clone(),
        proposed: current.clone(),
        after: before.clone(),
        before,
        before_measured,
        to_apply: Vec::new(),
        to_delete: Vec::new(),
        attribution: Vec::new(),
        target_met: true,
        rejected: None,
        reasons: problem.notes.clone(),
        rounds: 0,
        candidates_seen: 0,
        evaluations: 0,
        traces: 0,
    };
    if required_decrease_ms == 0.0 {
        plan.reasons.push(
            "no delay change requested (requiredDecreaseMs is 0 or missing): nothing moves".into(),
        );
        return plan;
    }
    if model.input().lambda <= 0.0 {
        plan.reasons.push(
            "no user traffic at the edge ingress (no `users` calls): the model predicts no delay to change, nothing moves"
                .into(),
        );
        plan.target_met = false;
        return plan;
    }

    let mut rng = SplitMix64::new(params.seed);
    let traces = sample(model.graph(), params.max_traces, &mut rng);
    plan.traces = traces.total();
    let d_old = plan.before.eval.delay_s;
    let outcome;
    if required_decrease_ms > 0.0 {
        plan.action = Action::Offload;
        let target_s = required_decrease_ms / 1000.0;
        let search = Search {
            start: current.clone(),
            base_delay_s: d_old,
            target_s,
            stop_s: params.stop_multiplier * target_s,
            locked: &problem.locked,
            keep: &problem.keep,
            rules: CandidateRules {
                depth: params.expanding_depth,
                max_sgs: params.max_sgs,
                ranking: params.ranking,
            },
            cheapest_finisher: params.cheapest_finisher,
            refine_budget: params.refine_budget,
        };
        plan.reasons.push(format!(
            "offload {} -> {}: required delay decrease {:.3} ms, search stops at {:.3} ms (stopMultiplier {})",
            problem.cloud,
            problem.edge,
            required_decrease_ms,
            required_decrease_ms * params.stop_multiplier,
            params.stop_multiplier
        ));
        outcome = offload(&mut ev, &traces, &search);
        let achieved = d_old - outcome.eval.delay_s;
        plan.target_met = achieved >= target_s * (1.0 - 1e-12);
        if !plan.target_met {
            plan.reasons.push(format!(
                "the predicted decrease {:.3} ms is below the {:.3} ms required{}",
                achieved * 1000.0,
                required_decrease_ms,
                if params.stop_multiplier < 1.0 {
                    " (expected with stopMultiplier < 1: the control loop iterates)"
                } else {
                    " (no candidate left)"
                }
            ));
        }
    } else {
        plan.action = Action::Unoffload;
        let allowed_s = -required_decrease_ms / 1000.0;
        let u = Unoffload {
            current: current.clone(),
            allowed_increase_s: allowed_s,
            stop_multiplier: params.stop_multiplier,
            keep: &problem.keep,
            locked: &problem.locked,
            rules: CandidateRules {
                depth: params
                    .unoffload_expanding_depth
                    .unwrap_or(params.expanding_depth),
                max_sgs: params.max_sgs,
                ranking: params.ranking,
            },
            cheapest_finisher: params.cheapest_finisher,
            refine_budget: params.refine_budget,
        };
        plan.reasons.push(format!(
            "unoffload {} -> {}: allowed delay increase {:.3} ms (search keeps within {:.3} ms)",
            problem.edge,
            problem.cloud,
            -required_decrease_ms,
            -required_decrease_ms * params.stop_multiplier
        ));
        let r = unoffload(&mut ev, &traces, &u);
        outcome = r.outcome;
        plan.target_met = outcome.eval.delay_s <= d_old + allowed_s * (1.0 + 1e-12);
        plan.reasons.push(format!(
            "re-offload from an edge without unpinned services: void delay {:.3} ms, decrease needed from it {:.3} ms",
            r.void_delay_s * 1000.0,
            r.required_from_void_s * 1000.0
        ));
    }
    plan.rounds = outcome.rounds;
    plan.candidates_seen = outcome.candidates_seen;
    plan.proposed = outcome.edge.clone();
    plan.to_apply = ordered_changes(&outcome.steps, &outcome.edge.difference(&current), true);
    let mut to_delete = ordered_changes(&outcome.steps, &current.difference(&outcome.edge), false);
    if plan.action == Action::Unoffload {
        // Leaves first: the order in which stopping them keeps callers served.
        let topo = model.graph().topo();
        let rank = |s: usize| topo.iter().position(|&t| t == s).unwrap_or(0);
        to_delete.sort_by_key(|&s| std::cmp::Reverse(rank(s)));
    }
    plan.to_delete = to_delete;

    let after = model.detail(&outcome.edge, UsageMode::Shifted);
    let before_cost = plan.before.eval.cost.total();
    let after_cost = after.eval.cost.total();
    if plan.action == Action::Unoffload
        && params.unoffload_cost_check
        && outcome.edge != current
        && after_cost >= before_cost
    {
        plan.rejected = Some(format!(
            "unoffload rejected: predicted cost {after_cost:.6}/h is not lower than {before_cost:.6}/h now (unoffloadCostCheck)"
        ));
    }

    plan.attribution = attribute(&mut ev, problem, &plan, &outcome.steps);
    plan.evaluations = ev.evaluations();
    if let Some(why) = plan.rejected.clone() {
        plan.reasons.push(why);
        plan.to_apply.clear();
        plan.to_delete.clear();
        plan.attribution.clear();
    } else {
        plan.edge = outcome.edge.clone();
        plan.after = after;
    }
    let (b, a) = (&plan.before.eval, &plan.after.eval);
    let report_after = if plan.rejected.is_some() {
        model.evaluate(&plan.proposed, UsageMode::Shifted)
    } else {
        *a
    };
    plan.reasons.push(format!(
        "predicted{}: network delay {:.3} -> {:.3} ms, cost {:.6} -> {:.6}/h, link utilisation {:.4} -> {:.4}; {} to start, {} to stop at {}",
        if plan.rejected.is_some() { " (rejected plan)" } else { "" },
        b.delay_s * 1000.0,
        report_after.delay_s * 1000.0,
        b.cost.total(),
        report_after.cost.total(),
        b.rho,
        report_after.rho,
        plan.to_apply.len(),
        plan.to_delete.len(),
        problem.edge
    ));
    plan
}

/// The services of `changed` in the order the search touched them.
fn ordered_changes(steps: &[Step], changed: &Set, adds: bool) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let push = |s: usize, out: &mut Vec<usize>| {
        if changed.contains(s) && !out.contains(&s) {
            out.push(s);
        }
    };
    for st in steps {
        match st {
            Step::Add { services, .. } if adds => services.iter().for_each(|&s| push(s, &mut out)),
            Step::Remove { service, .. } if !adds => push(*service, &mut out),
            _ => {}
        }
    }
    for s in changed.iter() {
        push(s, &mut out);
    }
    out
}

/// Splits the predicted change into a telescoping chain from the current edge set: services
/// added together by one greedy step share its effect equally; every stop is its own link.
fn attribute(
    ev: &mut Evaluator<'_>,
    problem: &Problem,
    plan: &Plan,
    steps: &[Step],
) -> Vec<(usize, f64, f64, String)> {
    let mut groups: Vec<(Vec<usize>, bool, String)> = Vec::new();
    let mut placed = Set::empty(problem.model.m());
    for (k, st) in steps.iter().enumerate() {
        if let Step::Add {
            services,
            frequency,
            ..
        } = st
        {
            let g: Vec<usize> = services
                .iter()
                .copied()
                .filter(|s| plan.to_apply.contains(s) && !placed.contains(*s))
                .collect();
            if g.is_empty() {
                continue;
            }
            g.iter().for_each(|&s| placed.insert(s));
            let names: Vec<&str> = services.iter().map(|&s| problem.name(s)).collect();
            let why = if *frequency == 0 {
                format!(
                    "added with {{{}}} by the final exchange search (lower cost, delay bound kept)",
                    names.join(", ")
                )
            } else {
                format!(
                    "offloaded with sub-graph {{{}}} (step {}, seen in {frequency} of {} traces)",
                    names.join(", "),
                    k + 1,
                    plan.traces
                )
            };
            groups.push((g, true, why));
        }
    }
    for &s in &plan.to_apply {
        if !placed.contains(s) {
            placed.insert(s);
            groups.push((vec![s], true, "offloaded".into()));
        }
    }
    for &s in &plan.to_delete {
        let why = match plan.action {
            Action::Unoffload => "unoffloaded: not needed at the edge for the allowed delay",
            _ => "removed from the edge: the target is still met without it, at no higher cost",
        };
        groups.push((vec![s], false, why.into()));
    }

    let mut out = Vec::new();
    let mut edge = problem.current.clone();
    let mut prev = ev.eval(&edge);
    for (g, add, why) in groups {
        for &s in &g {
            if add {
                edge.insert(s);
            } else {
                edge.remove(s);
            }
        }
        let next = ev.eval(&edge);
        let k = g.len() as f64;
        let dd = (prev.delay_s - next.delay_s) * 1000.0 / k;
        let dc = (next.cost.total() - prev.cost.total()) / k;
        for &s in &g {
            out.push((s, dd, dc, why.clone()));
        }
        prev = next;
    }
    out
}

/// The `MigrationDecision` of a plan: moves with reasons, and the predictions in `extra`.
pub fn to_decision(problem: &Problem, plan: &Plan) -> MigrationDecision {
    let mut decision = MigrationDecision::default();
    let after = &plan.after;
    for &(s, gain, cost, ref why) in &plan.attribution {
        let name = problem.name(s);
        let (min, max) = problem.replica_bounds.get(s).copied().unwrap_or((1, 1));
        let model_edge = after.replicas.get(s).map_or(0, |r| r[EDGE]);
        let model_cloud = after.replicas.get(s).map_or(1, |r| r[CLOUD]);
        let mv = if plan.to_apply.contains(&s) {
            let lo = min.max(1);
            let replicas = if max >= lo {
                model_edge.clamp(lo, max)
            } else {
                model_edge.max(lo)
            };
            let clamp_note = if replicas != model_edge {
                format!(" (model: {model_edge}, clamped to replicas {lo}..={max})")
            } else {
                String::new()
            };
            Move {
                service: name.into(),
                from: RString::new(),
                to: problem.edge.as_str().into(),
                replicas,
                reason: format!(
                    "start at {}: {why}; its share: delay {:+.3} ms, cost {cost:+.6}/h; {replicas} edge replicas{clamp_note}",
                    problem.edge, -gain
                )
                .into(),
                expected_gain: gain,
                expected_cost: cost,
            }
        } else if problem.has_cloud_copy.get(s).copied().unwrap_or(false) {
            Move {
                service: name.into(),
                from: problem.edge.as_str().into(),
                to: RString::new(),
                replicas: 0,
                reason: format!(
                    "stop at {}: {why}; its share: delay {:+.3} ms, cost {cost:+.6}/h; the cloud copy takes the load ({model_cloud} replicas predicted)",
                    problem.edge, -gain
                )
                .into(),
                expected_gain: gain,
                expected_cost: cost,
            }
        } else {
            Move {
                service: name.into(),
                from: problem.edge.as_str().into(),
                to: problem.cloud.as_str().into(),
                replicas: model_cloud.max(1),
                reason: format!(
                    "move {} -> {}: {why}; no cloud copy runs now, so it is started with {} replicas; its share: delay {:+.3} ms, cost {cost:+.6}/h",
                    problem.edge, problem.cloud, model_cloud.max(1), -gain
                )
                .into(),
                expected_gain: gain,
                expected_cost: cost,
            }
        };
        decision.moves.push(mv);
    }
    decision.reasons = plan
        .reasons
        .iter()
        .map(|r| RString::from(r.as_str()))
        .collect();
    decision.extra = report(problem, plan).to_string().into();
    decision
}

fn eval_json(e: &Eval) -> serde_json::Value {
    json!({
        "delayMs": e.delay_s * 1000.0,
        "trafficMbps": e.traffic_bps / 1e6,
        "linkUtilisation": e.rho,
        "cost": {
            "total": e.cost.total(),
            "edge": e.cost.edge,
            "cloud": e.cost.cloud,
            "traffic": e.cost.traffic,
        },
    })
}

/// The JSON written to `MigrationDecision.extra`.
pub fn report(problem: &Problem, plan: &Plan) -> serde_json::Value {
    let names = |v: &[usize]| v.iter().map(|&s| problem.name(s)).collect::<Vec<_>>();
    let edge_services: Vec<&str> = plan
        .edge
        .iter()
        .filter(|&s| s < problem.names.len())
        .map(|s| problem.name(s))
        .collect();
    let mut replicas = serde_json::Map::new();
    for (s, name) in problem.names.iter().enumerate() {
        let r = plan.after.replicas.get(s).copied().unwrap_or([1, 0]);
        replicas.insert(name.clone(), json!({ "cloud": r[CLOUD], "edge": r[EDGE] }));
    }
    let mut before = eval_json(&plan.before.eval);
    before["measuredCost"] = eval_json(&plan.before_measured)["cost"].clone();
    let proposed = if plan.rejected.is_some() {
        let e = problem.model.evaluate(&plan.proposed, UsageMode::Shifted);
        let services: Vec<&str> = plan
            .proposed
            .iter()
            .filter(|&s| s < problem.names.len())
            .map(|s| problem.name(s))
            .collect();
        json!({ "edgeServices": services, "predicted": eval_json(&e) })
    } else {
        serde_json::Value::Null
    };
    json!({
        "strategy": "sbmp-gma/offload",
        "action": plan.action.as_str(),
        "cloud": problem.cloud,
        "edge": problem.edge,
        "requiredDecreaseMs": plan.required_decrease_ms,
        "targetMet": plan.target_met,
        "rejected": plan.rejected.is_some(),
        "rejectedPlan": proposed,
        "before": before,
        "after": eval_json(&plan.after.eval),
        "delayDecreaseMs": (plan.before.eval.delay_s - plan.after.eval.delay_s) * 1000.0,
        "costIncreasePerHour": plan.after.eval.cost.total() - plan.before.eval.cost.total(),
        "edgeServices": edge_services,
        "toApply": names(&plan.to_apply),
        "toDelete": names(&plan.to_delete),
        "replicas": replicas,
        "search": {
            "rounds": plan.rounds,
            "candidatesEvaluated": plan.candidates_seen,
            "distinctEdgeSets": plan.evaluations,
            "traces": plan.traces,
        },
    })
}
