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

/// [`candidates`] with buffers kept across the rounds of one search (one set of traces).
///
/// All traces are cut at once: for each trace, the nodes its cut reaches from the frontier are
/// found in one topological pass over the open nodes, with one bit per trace.
#[derive(Debug, Default)]
pub struct CandidateBuilder {
    /// Distinct candidates, in first-seen order, with their trace counts.
    subs: SetTable<usize>,
    /// Words per node in `holders` and `reached`: one bit per trace.
    width: usize,
    /// The traces holding each node (`width` words per node).
    holders: Vec<u64>,
    /// The traces whose cut reaches each node this round (`width` words per node).
    reached: Vec<u64>,
    row: Vec<u64>,
    /// A random key per node: the hash of a set is the xor of its members' keys.
    keys: Vec<u64>,
    /// Per trace: its candidate this round (`set_width` words per trace) and the candidate's
    /// hash; the traces with one.
    set_width: usize,
    adds: Vec<u64>,
    hashes: Vec<u64>,
    touched: Vec<usize>,
    live: Vec<bool>,
    scratch: Set,
    order: Vec<usize>,
}

impl CandidateBuilder {
    /// Lays out `traces` one bit per trace, at the first round.
    fn prepare(&mut self, m: usize, traces: &Traces) {
        let n = traces.sets.len();
        let width = n.div_ceil(64).max(1);
        let set_width = m.div_ceil(64);
        if self.width == width && self.holders.len() == m * width && self.live.len() == n {
            return;
        }
        self.set_width = set_width;
        self.width = width;
        self.holders = vec![0; m * width];
        for (t, set) in traces.sets.iter().enumerate() {
            for i in set.iter().filter(|&i| i < m) {
                self.holders[i * width + t / 64] |= 1 << (t % 64);
            }
        }
        self.reached = vec![0; m * width];
        self.row = vec![0; width];
        let mut rng = SplitMix64::new(0x5EED_CA4D);
        self.keys = (0..m).map(|_| rng.next_u64()).collect();
        self.adds = vec![0; n * set_width];
        self.hashes = vec![0; n];
        self.live = vec![false; n];
        self.touched.clear();
        self.scratch = Set::empty(m);
    }

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
        self.prepare(m, traces);
        let w = self.width;
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
        // The user reaches the frontier through the edge.
        let reached_edge = graph.reachable_within(edge);
        let mut frontier = Set::empty(m);
        for i in reached_edge.iter() {
            for &(j, _) in graph.children(i) {
                if !edge.contains(j) {
                    frontier.insert(j);
                }
            }
        }

        // Per open node, the traces whose cut reaches it: from the frontier, or from a reached
        // open caller, and only in traces holding the node.
        for &i in graph.topo() {
            if !open.contains(i) {
                continue;
            }
            let row = i * w..(i + 1) * w;
            if frontier.contains(i) {
                self.row.copy_from_slice(&self.holders[row.clone()]);
            } else {
                self.row.fill(0);
                for &(p, _) in graph.parents(i).iter().filter(|&&(p, _)| open.contains(p)) {
                    let from = &self.reached[p * w..(p + 1) * w];
                    self.row.iter_mut().zip(from).for_each(|(r, f)| *r |= f);
                }
                let holders = &self.holders[row.clone()];
                self.row.iter_mut().zip(holders).for_each(|(r, h)| *r &= h);
            }
            self.reached[row].copy_from_slice(&self.row);
        }

        // Back to one set per trace; equal sets merge, in trace order (first seen first).
        let sw = self.set_width;
        for &t in &self.touched {
            self.adds[t * sw..(t + 1) * sw].fill(0);
            self.hashes[t] = 0;
            self.live[t] = false;
        }
        self.touched.clear();
        for i in open.iter() {
            for k in 0..w {
                let mut bits = self.reached[i * w + k];
                while bits != 0 {
                    let t = k * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if !self.live[t] {
                        self.live[t] = true;
                        self.touched.push(t);
                    }
                    self.adds[t * sw + i / 64] |= 1 << (i % 64);
                    self.hashes[t] ^= self.keys[i];
                }
            }
        }
        self.touched.sort_unstable();
        self.subs.clear();
        for &t in &self.touched {
            self.scratch.set_words(&self.adds[t * sw..(t + 1) * sw]);
            if let Some(e) = self
                .subs
                .index_or_insert_hashed(&self.scratch, self.hashes[t], 0)
            {
                self.subs.values_mut()[e] += traces.counts[t];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidate builder as first written (a reach search per distinct cut trace): the
    /// reference [`CandidateBuilder`] must agree with.
    fn reference(
        graph: &CallGraph,
        edge: &Set,
        traces: &Traces,
        locked: &Set,
        rules: CandidateRules,
    ) -> Vec<Candidate> {
        let m = graph.m();
        let mut gateways = Set::empty(m);
        for i in edge.iter().chain(std::iter::once(graph.user())) {
            if graph.children(i).iter().any(|&(j, _)| !edge.contains(j)) {
                gateways.insert(i);
            }
        }
        let allowed = graph.hop_ball(&gateways, rules.depth).difference(locked);
        let mut first: SetMap<usize> = SetMap::default();
        let mut cut: Vec<(Set, usize)> = Vec::new();
        for (t, &n) in traces.sets.iter().zip(&traces.counts) {
            let c = t.intersection(&allowed);
            if !c.has_outside(edge) {
                continue;
            }
            match first.get(&c) {
                Some(&k) => cut[k].1 += n,
                None => {
                    first.insert(c.clone(), cut.len());
                    cut.push((c, n));
                }
            }
        }
        let reached_edge = graph.reachable_within(edge);
        let mut frontier = Set::empty(m);
        for i in reached_edge.iter() {
            for &(j, _) in graph.children(i) {
                if !edge.contains(j) {
                    frontier.insert(j);
                }
            }
        }
        let mut index: SetMap<usize> = SetMap::default();
        let mut out: Vec<Candidate> = Vec::new();
        for (c, count) in cut {
            let trace = c.difference(edge);
            let mut seen = frontier.intersection(&trace);
            let mut stack: Vec<usize> = seen.iter().collect();
            while let Some(i) = stack.pop() {
                for &(j, _) in graph.children(i) {
                    if trace.contains(j) && !seen.contains(j) {
                        seen.insert(j);
                        stack.push(j);
                    }
                }
            }
            if seen.is_empty() {
                continue;
            }
            match index.get(&seen) {
                Some(&k) => out[k].count += count,
                None => {
                    index.insert(seen.clone(), out.len());
                    out.push(Candidate { adds: seen, count });
                }
            }
        }
        match rules.ranking {
            Ranking::Frequency => out.sort_by_key(|c| std::cmp::Reverse(c.count)),
            Ranking::Unranked => out.sort_by(|a, b| b.adds.cmp_lexicographic(&a.adds)),
        }
        out.truncate(rules.max_sgs);
        out
    }

    /// Rounds of random searches on random DAG and BA apps: the builder gives exactly the
    /// reference's candidates, counts and order.
    #[test]
    fn builder_agrees_with_the_reference() {
        use crate::params::{Extra, Params};
        use crate::synth::{self, BaSpec, Spec};
        let mut rng = SplitMix64::new(3);
        let mut rounds = 0;
        for seed in 0..12u64 {
            let app = if seed % 2 == 0 {
                synth::app(&Spec::new(30 + 10 * seed as usize, seed))
            } else {
                synth::ba_app(&BaSpec::new(150, seed))
            };
            let params = Params::parse("{}").unwrap();
            let extra = Extra::parse(&app.extra).unwrap();
            let problem = crate::problem::build(&app, &params, &extra).unwrap();
            let g = problem.model.graph();
            let traces = sample(g, 100 + 50 * seed as usize, &mut rng);
            let mut locked = Set::empty(g.m());
            (0..g.m() - 1)
                .filter(|_| rng.next_f64() < 0.05)
                .for_each(|i| locked.insert(i));
            for (depth, ranking, max_sgs) in [
                (2, Ranking::Frequency, 256),
                (1, Ranking::Unranked, 8),
                (3, Ranking::Frequency, 16),
            ] {
                let rules = CandidateRules {
                    depth,
                    max_sgs,
                    ranking,
                };
                let mut builder = CandidateBuilder::default();
                let mut edge = problem.model.void_set();
                loop {
                    let fast = builder.build(g, &edge, &traces, &locked, rules);
                    assert_eq!(fast, reference(g, &edge, &traces, &locked, rules));
                    rounds += 1;
                    let Some(c) = fast.get(rng.below(fast.len().max(1))) else {
                        break;
                    };
                    edge = edge.union(&c.adds);
                    // Now and then an edge node the user does not reach through the edge.
                    if rng.next_f64() < 0.2 {
                        edge.insert(rng.below(g.m() - 1));
                    }
                }
            }
        }
        assert!(rounds > 500, "{rounds} rounds");
    }

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
