//! SBMP offload: grow the edge set by the candidate sub-graph with the least cost per millisecond
//! saved until the stop threshold is met, then prune edge leaves (research note §1.4).

use crate::bitset::Set;
use crate::graph::CallGraph;
use crate::model::{Eval, Evaluator};
use crate::traces::{CandidateBuilder, CandidateRules, Traces};

/// Weight floor of a delay decrease, in ms, and of a delay increase when pruning, in s.
const MIN_DECREASE_MS: f64 = 1e-3;
const MIN_INCREASE_S: f64 = 1e-3;

/// What one search is asked to do.
#[derive(Clone, Debug)]
pub struct Search<'a> {
    /// The edge set to start from (it holds the user).
    pub start: Set,
    /// The delay the decreases are measured from (D_old), seconds.
    pub base_delay_s: f64,
    /// Δ*: the required decrease; pruning keeps `base − D > Δ*`, seconds.
    pub target_s: f64,
    /// Δ_stop: the greedy rounds stop once `base − D ≥ Δ_stop`, seconds.
    pub stop_s: f64,
    /// Services that must not be added to the edge.
    pub locked: &'a Set,
    /// Services that must not be removed from the edge by pruning.
    pub keep: &'a Set,
    pub rules: CandidateRules,
    /// Decision N9: also consider the cheapest candidate that reaches the stop threshold.
    pub cheapest_finisher: bool,
    /// Decision N10: evaluations allowed to the final exchange search (0: none).
    pub refine_budget: usize,
}

/// One accepted change of the edge set, with its effect at the time it was made.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A candidate sub-graph was added.
    Add {
        services: Vec<usize>,
        delay_decrease_s: f64,
        cost_increase: f64,
        /// How many traces produced this candidate.
        frequency: usize,
    },
    /// A leaf was pruned.
    Remove {
        service: usize,
        delay_decrease_s: f64,
        cost_increase: f64,
    },
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub edge: Set,
    pub eval: Eval,
    pub steps: Vec<Step>,
    /// Greedy rounds that added a candidate.
    pub rounds: usize,
    /// Candidates evaluated over all rounds.
    pub candidates_seen: usize,
}

/// Runs the greedy expansion and the pruning from `search.start`.
///
/// Decision N9 (`cheapestFinisher`, on by default): every candidate that alone reaches the
/// stop threshold is a possible end state; the cheapest one seen is pruned too, and wins over
/// the greedy end state when it costs less. It needs no extra evaluation and never costs more.
pub fn offload(ev: &mut Evaluator<'_>, traces: &Traces, search: &Search<'_>) -> Outcome {
    let graph = ev.model().graph();
    let mut edge = search.start.clone();
    edge.insert(graph.user());
    let mut cur = ev.eval(&edge);
    let mut steps = Vec::new();
    let mut rounds = 0;
    let mut seen = 0;
    // The cheapest finisher: (edge set, eval, steps before it, its step).
    let mut finisher: Option<(Set, Eval, usize, Step)> = None;

    let mut builder = CandidateBuilder::default();

    // Greedy rounds (§1.4 step 2).
    while search.base_delay_s - cur.delay_s < search.stop_s {
        let cands = builder.build(graph, &edge, traces, search.locked, search.rules);
        // Key: (does not reduce delay, weight); smaller is better, the first one wins ties.
        let mut best: Option<((bool, f64), usize, Eval)> = None;
        for (k, c) in cands.iter().enumerate() {
            let e = ev.eval_union(&edge, &c.adds);
            seen += 1;
            let dd = cur.delay_s - e.delay_s;
            let dc = e.cost.total() - cur.cost.total();
            if search.cheapest_finisher
                && search.base_delay_s - e.delay_s >= search.stop_s
                && finisher
                    .as_ref()
                    .is_none_or(|(_, f, ..)| e.cost.total() < f.cost.total())
            {
                let step = Step::Add {
                    services: c.adds.iter().collect(),
                    delay_decrease_s: dd,
                    cost_increase: dc,
                    frequency: c.count,
                };
                finisher = Some((edge.union(&c.adds), e, steps.len(), step));
            }
            // Decision N4: any candidate that reduces delay beats any that does not.
            let key = if dd > 0.0 {
                (false, dc / (1000.0 * dd).max(MIN_DECREASE_MS))
            } else {
                (true, 1e6 + dc * 1000.0 * dd.abs())
            };
            if best.as_ref().is_none_or(|(b, ..)| key < *b) {
                best = Some((key, k, e));
            }
        }
        let Some((_, k, e)) = best else { break };
        let next = edge.union(&cands[k].adds);
        steps.push(Step::Add {
            services: cands[k].adds.iter().collect(),
            delay_decrease_s: cur.delay_s - e.delay_s,
            cost_increase: e.cost.total() - cur.cost.total(),
            frequency: cands[k].count,
        });
        edge = next;
        cur = e;
        rounds += 1;
    }

    let (edge, cur) = prune(ev, search, edge, cur, &mut steps);
    let mut out = Outcome {
        edge,
        eval: cur,
        steps,
        rounds,
        candidates_seen: seen,
    };
    if let Some((f_edge, f_eval, before, step)) = finisher {
        let mut f_steps = out.steps[..before].to_vec();
        f_steps.push(step);
        let (f_edge, f_eval) = prune(ev, search, f_edge, f_eval, &mut f_steps);
        if f_eval.cost.total() < out.eval.cost.total() {
            out.rounds = before + 1;
            out.edge = f_edge;
            out.eval = f_eval;
            out.steps = f_steps;
        }
    }
    if search.refine_budget > 0 && search.base_delay_s - out.eval.delay_s >= search.stop_s {
        let (e, c) = refine(
            ev,
            &mut builder,
            traces,
            search,
            out.edge.clone(),
            out.eval,
            &mut out.steps,
        );
        out.edge = e;
        out.eval = c;
    }
    out
}

/// Decision N10: a bounded local search after the greedy. It first adds candidate sub-graphs
/// while one lowers the cost within the delay bound; then each pass looks at every single
/// removal, single addition (a callee of the edge) and removal+addition swap, and applies the
/// cheapest one that keeps `base − D ≥ Δ_stop`; services the user no longer reaches through
/// the edge leave with the removed one. It stops when nothing is cheaper or the budget is spent.
fn refine(
    ev: &mut Evaluator<'_>,
    builder: &mut CandidateBuilder,
    traces: &Traces,
    search: &Search<'_>,
    mut edge: Set,
    mut cur: Eval,
    steps: &mut Vec<Step>,
) -> (Set, Eval) {
    let graph = ev.model().graph();
    let user = graph.user();
    let mut budget = search.refine_budget;
    let feasible = |e: &Eval| search.base_delay_s - e.delay_s >= search.stop_s;

    // First, keep adding candidate sub-graphs while one lowers the cost (the greedy stops at
    // the delay target even when going further would save money, e.g. on egress).
    while budget > 0 {
        let cands = builder.build(graph, &edge, traces, search.locked, search.rules);
        let mut best: Option<(usize, Eval)> = None;
        for (k, c) in cands.iter().enumerate() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let e = ev.eval_union(&edge, &c.adds);
            let bar = best
                .as_ref()
                .map_or(cur.cost.total(), |(_, b)| b.cost.total());
            if feasible(&e) && e.cost.total() < bar - 1e-12 * bar.abs() {
                best = Some((k, e));
            }
        }
        let Some((k, e)) = best else { break };
        let next = edge.union(&cands[k].adds);
        steps.push(Step::Add {
            services: cands[k].adds.iter().collect(),
            delay_decrease_s: cur.delay_s - e.delay_s,
            cost_increase: e.cost.total() - cur.cost.total(),
            frequency: cands[k].count,
        });
        edge = next;
        cur = e;
    }
    // Drops edge services the user cannot reach through the edge (they would serve nobody).
    // `reach`: what the user reaches through `e`, or a superset agreeing with it on `e`.
    let tidy = |e: Set, reach: Set| -> Set {
        let mut out = reach.intersection(&e);
        out.insert(user);
        for k in search.keep.iter() {
            if e.contains(k) {
                out.insert(k);
            }
        }
        out
    };
    loop {
        let reach_edge = graph.reachable_within(&edge);
        let removable: Vec<usize> = edge
            .iter()
            .filter(|&s| s != user && !search.keep.contains(s))
            .collect();
        let mut addable = Set::empty(graph.m());
        for i in edge.iter() {
            for &(j, _) in graph.children(i) {
                if !edge.contains(j) && !search.locked.contains(j) {
                    addable.insert(j);
                }
            }
        }
        let addable: Vec<usize> = addable.iter().collect();
        let mut moves: Vec<(Option<usize>, Option<usize>)> = Vec::new();
        moves.extend(removable.iter().map(|&r| (Some(r), None)));
        moves.extend(addable.iter().map(|&a| (None, Some(a))));
        for &r in &removable {
            moves.extend(addable.iter().map(|&a| (Some(r), Some(a))));
        }
        let mut best: Option<(Set, Eval)> = None;
        for (r, a) in moves {
            if budget == 0 {
                break;
            }
            let mut next = edge.clone();
            if let Some(a) = a {
                next.insert(a);
            }
            if let Some(r) = r {
                // Removing a node that calls no other edge node strands nothing else: what the
                // user reaches is what it reached before, less that node.
                let strands = graph.children(r).iter().any(|&(j, _)| next.contains(j));
                let shortcut = (!strands).then(|| reach_adding(graph, &reach_edge, &next, a));
                next.remove(r);
                let reach = shortcut.unwrap_or_else(|| graph.reachable_within(&next));
                next = tidy(next, reach);
            }
            budget -= 1;
            let e = ev.eval_near(&edge, &next);
            let bar = best
                .as_ref()
                .map_or(cur.cost.total(), |(_, b)| b.cost.total());
            if feasible(&e) && e.cost.total() < bar - 1e-12 * bar.abs() {
                best = Some((next, e));
            }
        }
        let Some((next, e)) = best else { break };
        let added: Vec<usize> = next.difference(&edge).iter().collect();
        let removed: Vec<usize> = edge.difference(&next).iter().collect();
        let (dd, dc) = (cur.delay_s - e.delay_s, e.cost.total() - cur.cost.total());
        for r in removed {
            steps.push(Step::Remove {
                service: r,
                delay_decrease_s: dd,
                cost_increase: dc,
            });
        }
        if !added.is_empty() {
            steps.push(Step::Add {
                services: added,
                delay_decrease_s: dd,
                cost_increase: dc,
                frequency: 0,
            });
        }
        edge = next;
        cur = e;
        if budget == 0 {
            break;
        }
    }
    (edge, cur)
}

/// What the user reaches through `within`, given `reach`, what it reaches through `within`
/// without `added` (when `Some`).
fn reach_adding(graph: &CallGraph, reach: &Set, within: &Set, added: Option<usize>) -> Set {
    let mut out = reach.clone();
    let Some(a) = added else { return out };
    if !graph.parents(a).iter().any(|&(p, _)| out.contains(p)) {
        return out; // not reached, so nothing is reached through it
    }
    out.insert(a);
    let mut stack = vec![a];
    while let Some(i) = stack.pop() {
        for &(j, _) in graph.children(i) {
            if within.contains(j) && !out.contains(j) {
                out.insert(j);
                stack.push(j);
            }
        }
    }
    out
}

/// Pruning of edge leaves (§1.4 step 3), keeping the full target met.
fn prune(
    ev: &mut Evaluator<'_>,
    search: &Search<'_>,
    mut edge: Set,
    mut cur: Eval,
    steps: &mut Vec<Step>,
) -> (Set, Eval) {
    let graph = ev.model().graph();
    loop {
        let mut best: Option<(f64, usize, Eval)> = None;
        for l in edge.iter() {
            if l == graph.user() || search.keep.contains(l) {
                continue;
            }
            if graph.children(l).iter().any(|&(j, _)| edge.contains(j)) {
                continue; // not a leaf: it calls another edge service
            }
            let mut next = edge.clone();
            next.remove(l);
            let e = ev.eval_near(&edge, &next);
            if search.base_delay_s - e.delay_s <= search.target_s {
                continue;
            }
            let saving = cur.cost.total() - e.cost.total();
            let w = saving / (e.delay_s - cur.delay_s).max(MIN_INCREASE_S);
            // Decision N5: only removals that do not raise the cost.
            if w >= 0.0 && best.as_ref().is_none_or(|(bw, ..)| w > *bw) {
                best = Some((w, l, e));
            }
        }
        let Some((_, l, e)) = best else { break };
        steps.push(Step::Remove {
            service: l,
            delay_decrease_s: cur.delay_s - e.delay_s,
            cost_increase: e.cost.total() - cur.cost.total(),
        });
        edge.remove(l);
        cur = e;
    }
    (edge, cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::synth::{self, BaSpec};

    /// The shortcut of the exchange search: what the user reaches after adding `a` and
    /// removing a node that calls no other edge node, from the reach before the move.
    #[test]
    fn reach_after_a_move_matches_a_fresh_search() {
        let mut rng = SplitMix64::new(5);
        let mut checked = 0;
        for seed in 0..10 {
            let app = synth::ba_app(&BaSpec::new(80, seed));
            let params = crate::params::Params::parse("{}").unwrap();
            let extra = crate::params::Extra::parse(&app.extra).unwrap();
            let problem = crate::problem::build(&app, &params, &extra).unwrap();
            let g = problem.model.graph();
            for density in [0.1, 0.4, 0.8] {
                let mut edge = problem.model.void_set();
                (0..g.m() - 1)
                    .filter(|_| rng.next_f64() < density)
                    .for_each(|i| edge.insert(i));
                let reach = g.reachable_within(&edge);
                for r in edge.iter().filter(|&r| r != g.user()) {
                    let a = rng.below(g.m() - 1);
                    let mut next = edge.clone();
                    let added = (!edge.contains(a)).then(|| {
                        next.insert(a);
                        a
                    });
                    if g.children(r).iter().any(|&(j, _)| next.contains(j)) {
                        continue;
                    }
                    let fast = reach_adding(g, &reach, &next, added);
                    next.remove(r);
                    let full = g.reachable_within(&next);
                    assert_eq!(fast.intersection(&next), full.intersection(&next));
                    checked += 1;
                }
            }
        }
        assert!(checked > 500, "{checked}");
    }
}
