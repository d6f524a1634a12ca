//! Synthetic request traces and the "expanding sub-graph" candidates built from them each round
//! (research note §1.4 steps 1 and 2b), ranked by true trace frequency (Q5).

use crate::bitset::{Set, SetMap, SetTable};
use crate::graph::CallGraph;
use crate::rng::SplitMix64;

/// How candidates are ordered before the `max_sgs` cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Ranking {
    /// Most frequent first, counted over all traces before de-duplication (Q5 fixed).
    Frequency,
    /// Every count equal, reverse-lexicographic order: close to what HEAD does (Q5 kept).
    Unranked,
}

/// Sampled traces, de-duplicated with their multiplicities (so counts stay true, Q5).
#[derive(Clone, Debug, Default)]
pub struct Traces {
    /// Distinct traces, in first-sampled order.
    pub sets: Vec<Set>,
    /// How many times each was sampled.
    pub counts: Vec<usize>,
}

impl Traces {
    /// Traces sampled in total (the all-nodes trace included).
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    fn add(&mut self, index: &mut SetMap<usize>, t: Set) {
        match index.get(&t) {
            Some(&k) => self.counts[k] += 1,
            None => {
                index.insert(t.clone(), self.sets.len());
                self.sets.push(t);
                self.counts.push(1);
            }
        }
    }
}

/// `count` random traces plus one trace holding every node. A trace starts at the user; each
/// node in it calls each callee `j` with probability `Fm[i][j]` (always when `Fm ≥ 1`),
/// visiting nodes in topological order (decision N3: bounded, one draw per caller and callee).
pub fn sample(graph: &CallGraph, count: usize, rng: &mut SplitMix64) -> Traces {
    let m = graph.m();
    let mut traces = Traces::default();
    let mut index = SetMap::default();
    for _ in 0..count {
        let mut t = Set::empty(m);
        t.insert(graph.user());
        for &i in graph.topo() {
            if !t.contains(i) {
                continue;
            }
            for &(j, f) in graph.children(i) {
                if !t.contains(j) && (f >= 1.0 || rng.next_f64() < f) {
                    t.insert(j);
                }
            }
        }
        traces.add(&mut index, t);
    }
    traces.add(&mut index, Set::full(m));
    traces
}

/// One candidate: the services it adds to the edge and how many traces produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub adds: Set,
    pub count: usize,
}

/// Settings of the candidate builder.
#[derive(Clone, Copy, Debug)]
pub struct CandidateRules {
    /// k: the hop distance from an edge gateway a candidate service may have.
    pub depth: usize,
    /// The cap on candidates per round.
    pub max_sgs: usize,
    pub ranking: Ranking,
}

/// The candidates of one greedy round for the edge set `edge` (which holds the user).
///
/// Each trace is cut to the `depth`-hop ball around the gateways (edge nodes calling the
/// cloud), cleared of `locked` nodes, and cut again to what the user reaches through edge
/// and trace nodes (Q7: from the real user node, for every trace). What remains beyond `edge`
/// is a candidate; identical candidates are merged and their trace counts summed.
pub fn candidates(
    graph: &CallGraph,
    edge: &Set,
    traces: &Traces,
    locked: &Set,
    rules: CandidateRules,
) -> Vec<Candidate> {
    CandidateBuilder::default().build(graph, edge, traces, locked, rules)
}

/// [`candidates`] with buffers kept across the rounds of a search, so that a round does not
/// allocate per trace.
#[derive(Debug, Default)]
pub struct CandidateBuilder {
    /// Distinct cut traces, in first-seen order, with their trace counts.
    cuts: SetTable<usize>,
    /// Distinct candidates, in first-seen order, with their trace counts.
    subs: SetTable<usize>,
    cut: Set,
    adds: Set,
    stack: Vec<usize>,
    order: Vec<usize>,
}

impl CandidateBuilder {
    /// The candidates of one round (see [`candidates`]).
    pub fn build(
        &mut self,
        graph: &CallGraph,
        edge: &Set,
        traces: &Traces,
        locked: &Set,
        rules: CandidateRules,
    ) -> Vec<Candidate> {
        let m = graph.m();
        let user = graph.user();
        let mut gateways = Set::empty(m);
        for i in edge.iter().chain(std::iter::once(user)) {
            if graph.children(i).iter().any(|&(j, _)| !edge.contains(j)) {
                gateways.insert(i);
            }
        }
        // The nodes a candidate may hold: the edge nodes of a cut trace change nothing below.
        let open = graph
            .hop_ball(&gateways, rules.depth)
            .difference(locked)
            .difference(edge);

        // Count each cut trace (with multiplicities: true frequencies).
        self.cuts.clear();
        for (t, &n) in traces.sets.iter().zip(&traces.counts) {
            t.intersect_into(&open, &mut self.cut);
            if self.cut.is_empty() {
                continue;
            }
            if let Some(k) = self.cuts.index_or_insert(&self.cut, 0) {
                self.cuts.values_mut()[k] += n;
            }
        }

        // Keep what the user reaches through edge ∪ trace nodes; merge equal results.
        let reached_edge = graph.reachable_within(edge);
        let mut frontier = Set::empty(m);
        for i in reached_edge.iter() {
            for &(j, _) in graph.children(i) {
                if !edge.contains(j) {
                    frontier.insert(j);
                }
            }
        }
        self.subs.clear();
        for k in 0..self.cuts.len() {
            self.cuts.key_into(k, &mut self.cut);
            let count = self.cuts.values()[k];
            reach_into(
                graph,
                &self.cut,
                &frontier,
                edge,
                &mut self.adds,
                &mut self.stack,
            );
            if self.adds.is_empty() {
                continue;
            }
            if let Some(e) = self.subs.index_or_insert(&self.adds, 0) {
                self.subs.values_mut()[e] += count;
            }
        }
        self.order.clear();
        self.order.extend(0..self.subs.len());
        let key = |k: usize| {
            let mut s = Set::empty(0);
            self.subs.key_into(k, &mut s);
            s
        };
        match rules.ranking {
            // Stable: equal counts keep their first-seen order.
            Ranking::Frequency => {
                let counts = self.subs.values();
                self.order.sort_by_key(|&k| std::cmp::Reverse(counts[k]));
            }
            Ranking::Unranked => {
                let keys: Vec<Set> = (0..self.subs.len()).map(key).collect();
                self.order
                    .sort_by(|&a, &b| keys[b].cmp_lexicographic(&keys[a]));
            }
        }
        self.order.truncate(rules.max_sgs);
        self.order
            .iter()
            .map(|&k| Candidate {
                adds: key(k),
                count: self.subs.values()[k],
            })
            .collect()
    }
}

/// Writes into `seen` the nodes of `trace ∖ edge` reachable from `frontier ∩ trace` through
/// trace nodes (`stack` is a reusable buffer).
fn reach_into(
    graph: &CallGraph,
    trace: &Set,
    frontier: &Set,
    edge: &Set,
    seen: &mut Set,
    stack: &mut Vec<usize>,
) {
    frontier.intersect_into(trace, seen);
    let start = seen.difference(edge);
    *seen = start;
    stack.clear();
    stack.extend(seen.iter());
    while let Some(i) = stack.pop() {
        for &(j, _) in graph.children(i) {
            if trace.contains(j) && !edge.contains(j) && !seen.contains(j) {
                seen.insert(j);
                stack.push(j);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> CallGraph {
        // user 6 -> 0; 0 -> 1, 0 -> 2 (x2); 1 -> 3; 2 -> 4, 2 -> 5 (research note §7.3)
        CallGraph::new(
            6,
            &[
                (6, 0, 1.0),
                (0, 1, 1.0),
                (0, 2, 2.0),
                (1, 3, 1.0),
                (2, 4, 1.0),
                (2, 5, 1.0),
            ],
        )
        .unwrap()
    }

    #[test]
    fn all_ones_traces_are_the_whole_graph() {
        let g = toy();
        let traces = sample(&g, 10, &mut SplitMix64::new(1));
        assert_eq!(traces.sets.len(), 1);
        assert_eq!(traces.total(), 11);
        assert!(traces.sets.iter().all(|t| t.len() == 7));
    }

    #[test]
    fn first_round_is_the_two_hop_ball() {
        let g = toy();
        let traces = sample(&g, 10, &mut SplitMix64::new(1));
        let mut edge = Set::empty(7);
        edge.insert(6);
        let rules = CandidateRules {
            depth: 2,
            max_sgs: 256,
            ranking: Ranking::Frequency,
        };
        let c = candidates(&g, &edge, &traces, &Set::empty(7), rules);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].adds.iter().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(c[0].count, 11);
        // Locking 0 cuts everything below it: no candidate is left.
        let mut locked = Set::empty(7);
        locked.insert(0);
        assert!(candidates(&g, &edge, &traces, &locked, rules).is_empty());
    }

    #[test]
    fn frequencies_are_counted() {
        // user 3 -> 0 (1.0), 0 -> 1 (0.5), 0 -> 2 (0.1)
        let g = CallGraph::new(3, &[(3, 0, 1.0), (0, 1, 0.5), (0, 2, 0.1)]).unwrap();
        let traces = sample(&g, 2000, &mut SplitMix64::new(42));
        let mut edge = Set::empty(4);
        edge.insert(3);
        edge.insert(0);
        let rules = CandidateRules {
            depth: 2,
            max_sgs: 256,
            ranking: Ranking::Frequency,
        };
        let c = candidates(&g, &edge, &traces, &Set::empty(4), rules);
        let sets: Vec<Vec<usize>> = c.iter().map(|c| c.adds.iter().collect()).collect();
        // {1} ≈ 45%, {2} ≈ 5%, {1,2} ≈ 5% (+1 full trace); 45% never leave the edge.
        assert_eq!(sets[0], vec![1]);
        assert!(c[0].count > 800 && c[0].count < 1000, "{c:?}");
        assert!(c.iter().map(|c| c.count).sum::<usize>() < 1200);
    }
}
