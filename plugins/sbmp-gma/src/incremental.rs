//! Incremental evaluation of edge sets near a base set (a round's candidates, pruned leaves):
//! only the services below the changed ones are recomputed, with the full pass's arithmetic.

use crate::bitset::Set;
use crate::graph::CallGraph;
use crate::model::{edge_pass, Cost, Eval, Model, Scratch, TermMemo};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The model's pass over one base edge set, and buffers to evaluate sets near it from it.
///
/// Every result is bit-identical to [`Model::evaluate`] with shifted usage: a node's invocation
/// sum is rebuilt over its callers in topological order, as the full pass adds them; the
/// crossing calls are summed in the full pass's order (by the rank of the first caller, then
/// by callee); the cost terms are added in node order.
#[derive(Debug)]
pub struct RoundEval {
    base: Set,
    pass: Scratch,
    /// The nodes of `base` with cost terms ([`Model::shifted_terms`]): `(node, cloud, edge)`,
    /// in node order, and the running `(cloud, edge)` cost sums before each of them.
    terms: Vec<(usize, f64, f64)>,
    prefix: Vec<(f64, f64)>,
    /// Per node `j`: how many entries of `terms` are for nodes below `j`.
    terms_below: Vec<usize>,
    /// The entries of `pass.crossed` as `(first caller rank, callee)`, in order; the same as
    /// `(callee, calls)`; and the position of each node in that list (`u32::MAX`: none).
    crossed: Vec<(usize, usize)>,
    crossed_calls: Vec<(usize, f64)>,
    crossed_at: Vec<u32>,
    /// Positions of `crossed` left out, and where each fresh entry goes.
    skip: Vec<usize>,
    insert_at: Vec<usize>,
    /// Stamps: a node was recomputed (`done`), queued or marked as a crossed callee to redo,
    /// in the evaluation numbered `epoch`.
    epoch: u32,
    done: Vec<u32>,
    queued: Vec<u32>,
    redo: Vec<u32>,
    n_edge: Vec<f64>,
    heap: BinaryHeap<Reverse<(usize, usize)>>,
    redo_list: Vec<usize>,
    /// Nodes whose invocations differ from the base's, that join it or leave it.
    changed: Vec<usize>,
    /// Recomputed crossed callees: `(first caller rank, callee, calls)`.
    fresh: Vec<(usize, usize, f64)>,
    merged: Vec<(usize, f64)>,
}

impl RoundEval {
    /// The pass over `base` (which holds the user); `memo` caches cost terms.
    pub(crate) fn new(model: &Model, base: &Set, memo: &mut TermMemo) -> Self {
        let m = model.m();
        let mut pass = Scratch::default();
        edge_pass(model.graph(), base, &mut pass);
        let terms: Vec<(usize, f64, f64)> = base
            .iter()
            .filter_map(|j| {
                let (cloud, edge) = model.shifted_terms_memo(j, pass.n_edge[j], memo)?;
                Some((j, cloud, edge))
            })
            .collect();
        let mut terms_below = vec![0; m];
        let mut below = 0;
        for (j, slot) in terms_below.iter_mut().enumerate() {
            *slot = below;
            if terms.get(below).is_some_and(|t| t.0 == j) {
                below += 1;
            }
        }
        let mut prefix = Vec::with_capacity(terms.len() + 1);
        let mut sum = (model.all_cloud_total(), 0.0);
        prefix.push(sum);
        for &(_, cloud, edge) in &terms {
            sum.0 += cloud;
            sum.1 += edge;
            prefix.push(sum);
        }
        let crossed: Vec<(usize, usize)> = pass
            .first_caller
            .iter()
            .copied()
            .zip(pass.crossed.iter().copied())
            .collect();
        let crossed_calls = pass
            .crossed
            .iter()
            .map(|&j| (j, pass.crossings[j]))
            .collect();
        let mut crossed_at = vec![u32::MAX; m];
        for (k, &j) in pass.crossed.iter().enumerate() {
            crossed_at[j] = k as u32;
        }
        Self {
            base: base.clone(),
            pass,
            terms,
            prefix,
            terms_below,
            crossed,
            crossed_calls,
            crossed_at,
            skip: Vec::new(),
            insert_at: Vec::new(),
            epoch: 0,
            done: vec![0; m],
            queued: vec![0; m],
            redo: vec![0; m],
            n_edge: vec![0.0; m],
            heap: BinaryHeap::new(),
            redo_list: Vec::new(),
            changed: Vec::new(),
            fresh: Vec::new(),
            merged: Vec::new(),
        }
    }

    /// The base edge set.
    pub fn base(&self) -> &Set {
        &self.base
    }

    /// The callees of `i`: those in `next` queued for recomputation (in topological order),
    /// the others (in the cloud) marked to have their calls from the edge redone.
    fn mark_callees(&mut self, graph: &CallGraph, next: &Set, i: usize, epoch: u32) {
        for &(j, _) in graph.children(i) {
            if next.contains(j) {
                if self.queued[j] != epoch {
                    self.queued[j] = epoch;
                    self.heap.push(Reverse((graph.rank(j), j)));
                }
            } else if self.redo[j] != epoch {
                self.redo[j] = epoch;
                self.redo_list.push(j);
            }
        }
    }

    /// The evaluation of `next` (any set; cheap when close to the base), or `None` when a
    /// call's invocations round to zero and only the full pass gives the exact result.
    pub(crate) fn eval(&mut self, model: &Model, next: &Set, memo: &mut TermMemo) -> Option<Eval> {
        if self.pass.underflow {
            return None;
        }
        let graph = model.graph();
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.done.fill(0);
            self.queued.fill(0);
            self.redo.fill(0);
            self.epoch = 1;
        }
        let epoch = self.epoch;
        self.heap.clear();
        self.redo_list.clear();
        self.changed.clear();
        for c in next.iter_minus(&self.base) {
            self.queued[c] = epoch;
            self.heap.push(Reverse((graph.rank(c), c)));
        }
        // A removed node leaves its cost terms, and its callees their calls from it (the base
        // is set aside while its nodes are marked: no copy).
        let base = std::mem::take(&mut self.base);
        for r in base.iter_minus(next) {
            self.changed.push(r);
            if self.redo[r] != epoch {
                self.redo[r] = epoch;
                self.redo_list.push(r);
            }
            self.mark_callees(graph, next, r, epoch);
        }
        self.base = base;
        // The nodes of `next` below the changed ones, in topological order.
        while let Some(Reverse((_, i))) = self.heap.pop() {
            let v = self.calls_into(model, next, i)?.1;
            self.n_edge[i] = v;
            self.done[i] = epoch;
            if self.base.contains(i) && v.to_bits() == self.pass.n_edge[i].to_bits() {
                continue; // unchanged: nothing below it changes through it
            }
            self.changed.push(i);
            self.mark_callees(graph, next, i, epoch);
        }
        // Callees in the cloud whose callers changed.
        self.fresh.clear();
        for k in 0..self.redo_list.len() {
            let j = self.redo_list[k];
            if let (Some(rank), calls) = self.calls_into(model, next, j)? {
                self.fresh.push((rank, j, calls));
            }
        }
        self.fresh.sort_unstable_by_key(|&(rank, j, _)| (rank, j));
        // The crossed callees in the full pass's order: the base's list without the callees
        // that joined the edge or were recomputed, with the recomputed ones at their places.
        self.skip.clear();
        let gone = next
            .iter_minus(&self.base)
            .chain(self.redo_list.iter().copied());
        for x in gone {
            if let Some(&k) = self.crossed_at.get(x).filter(|&&k| k != u32::MAX) {
                self.skip.push(k as usize);
            }
        }
        self.skip.sort_unstable();
        self.insert_at.clear();
        for &(r, j, _) in &self.fresh {
            // Mostly a callee crossed to before, from the same first caller: its own place.
            let own = self.crossed_at[j] as usize;
            let at = if self.crossed.get(own) == Some(&(r, j)) {
                own
            } else {
                self.crossed.partition_point(|&key| key < (r, j))
            };
            self.insert_at.push(at);
        }
        self.merged.clear();
        let (mut at, mut fi, mut si) = (0, 0, 0);
        loop {
            let ins = self.insert_at.get(fi).copied().unwrap_or(usize::MAX);
            let skip = self.skip.get(si).copied().unwrap_or(usize::MAX);
            let stop = ins.min(skip).min(self.crossed_calls.len());
            self.merged.extend_from_slice(&self.crossed_calls[at..stop]);
            at = stop;
            if ins == stop {
                let (_, j, c) = self.fresh[fi];
                self.merged.push((j, c));
                fi += 1;
            } else if skip == stop {
                at += 1;
                si += 1;
            } else {
                break;
            }
        }
        let (net, traffic) = model.network(self.merged.iter().copied());

        // The cost terms in node order: the base's running sums up to the first changed node,
        // then the base's terms merged with the changed nodes' new ones.
        self.changed.sort_unstable();
        let first = self.changed.first().copied().unwrap_or(usize::MAX);
        let below = |j: usize| self.terms_below.get(j).copied().unwrap_or(self.terms.len());
        let mut k = below(first);
        let (mut cloud, mut edge) = self.prefix[k];
        for &j in &self.changed {
            let upto = below(j).max(k);
            for &(_, c, e) in &self.terms[k..upto] {
                cloud += c;
                edge += e;
            }
            k = upto;
            if self.terms.get(k).is_some_and(|t| t.0 == j) {
                k += 1; // replaced
            }
            if !next.contains(j) {
                continue; // removed
            }
            if let Some((c, e)) = model.shifted_terms_memo(j, self.n_edge[j], memo) {
                cloud += c;
                edge += e;
            }
        }
        for &(_, c, e) in &self.terms[k..] {
            cloud += c;
            edge += e;
        }
        let cost = Cost {
            edge,
            cloud,
            traffic,
        };
        Some(Eval { cost, ..net })
    }

    /// The invocations per request into `j` from its callers in `next`, summed in topological
    /// order as the full pass does, with the rank of the first caller; `None` on underflow.
    fn calls_into(&self, model: &Model, next: &Set, j: usize) -> Option<(Option<usize>, f64)> {
        let graph = model.graph();
        let user = graph.user();
        let mut first = None;
        let mut sum = 0.0;
        for &(p, f) in graph.parents(j) {
            if p != user && !next.contains(p) {
                continue;
            }
            let ne = if self.done[p] == self.epoch {
                self.n_edge[p]
            } else {
                self.pass.n_edge[p]
            };
            if ne == 0.0 {
                continue;
            }
            let x = ne * f;
            if x == 0.0 {
                return None;
            }
            first.get_or_insert(graph.rank(p));
            sum += x;
        }
        Some((first, sum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UsageMode;
    use crate::params::{Extra, Params};
    use crate::rng::SplitMix64;
    use crate::synth::{self, BaSpec, Spec};

    fn bits(e: &Eval) -> [u64; 6] {
        [
            e.delay_s,
            e.traffic_bps,
            e.rho,
            e.cost.edge,
            e.cost.cloud,
            e.cost.traffic,
        ]
        .map(f64::to_bits)
    }

    /// Random bases and random additions (connected or not) against the full pass, bit by bit.
    fn check(app: &smo_plugin_api::MigrationRequest, rng: &mut SplitMix64) -> usize {
        let params = Params::parse("{}").unwrap();
        let extra = Extra::parse(&app.extra).unwrap();
        let problem = crate::problem::build(app, &params, &extra).unwrap();
        let model = &problem.model;
        let m = model.m();
        let mut compared = 0;
        for density in [0.05, 0.3, 0.7] {
            let mut base = model.void_set();
            (0..m - 1)
                .filter(|_| rng.next_f64() < density)
                .for_each(|i| base.insert(i));
            let mut memo = TermMemo::default();
            let mut round = RoundEval::new(model, &base, &mut memo);
            for size in [1, 2, 5, 20] {
                let mut adds = Set::empty(m);
                while adds.len() < size.min(m - base.len()) {
                    let i = rng.below(m - 1);
                    if !base.contains(i) {
                        adds.insert(i);
                    }
                }
                let mut next = base.union(&adds);
                let fast = round.eval(model, &next, &mut memo).unwrap();
                let full = model.evaluate(&next, UsageMode::Shifted);
                assert_eq!(bits(&fast), bits(&full), "{fast:?} != {full:?}");
                // Removals too (never the user), with and without additions.
                for (k, i) in base.iter().enumerate() {
                    if k % 3 == 0 && i != model.graph().user() {
                        next.remove(i);
                    }
                }
                for next in [next.clone(), next.intersection(&base)] {
                    let fast = round.eval(model, &next, &mut memo).unwrap();
                    let full = model.evaluate(&next, UsageMode::Shifted);
                    assert_eq!(bits(&fast), bits(&full), "{fast:?} != {full:?}");
                }
                compared += 1;
            }
        }
        compared
    }

    #[test]
    fn incremental_evaluation_is_bit_identical_to_the_full_pass() {
        let mut rng = SplitMix64::new(7);
        let mut compared = 0;
        for seed in 0..30 {
            compared += check(&synth::app(&Spec::new(40, seed)), &mut rng);
            compared += check(&synth::ba_app(&BaSpec::new(120, seed)), &mut rng);
        }
        assert_eq!(compared, 30 * 2 * 3 * 4);
    }
}
