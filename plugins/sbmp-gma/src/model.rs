//! The SBMP system model: invocation counts on the 2M instance-sets, the edge–cloud delay
//! (research note §1.2), and the resource shift, replicas and hourly cost (§1.3).

use crate::bitset::{Set, SetTable};
use crate::graph::CallGraph;
use crate::incremental::RoundEval;

/// Index of the cloud area in the per-area arrays.
pub const CLOUD: usize = 0;
/// Index of the edge area in the per-area arrays.
pub const EDGE: usize = 1;

/// Cap on a per-call delay and on the total delay, in seconds (as in the reference model).
const DELAY_CAP_S: f64 = 1e5;
/// Tolerance under which a replica count above an integer is rounding noise (decision N2).
const CEIL_TOLERANCE: f64 = 1e-9;

/// Prices of one area: per CPU core-hour and per byte-hour of memory request.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AreaPrices {
    pub cpu_core_hour: f64,
    pub memory_byte_hour: f64,
}

/// Everything the model needs; vectors are indexed by node (services, then the user at M−1).
#[derive(Clone, Debug)]
pub struct ModelInput {
    pub graph: CallGraph,
    /// L: mean response size per node, bytes.
    pub response_bytes: Vec<f64>,
    /// λ: user requests per second at the edge ingress.
    pub lambda: f64,
    /// The effective round-trip time used by the model, seconds (one multiplier applied, Q1).
    pub rtt_s: f64,
    /// B: cloud-to-edge bitrate, bit/s.
    pub bitrate_bps: f64,
    /// Egress price of the cloud-to-edge traffic, per GB (10⁹ bytes) (Q2).
    pub network_price_gb: f64,
    /// Prices per area, `[CLOUD]` and `[EDGE]`.
    pub prices: [AreaPrices; 2],
    /// CPU request per pod (cores), per area and node.
    pub cpu_request: [Vec<f64>; 2],
    /// Memory request per pod (bytes), per area and node.
    pub memory_request: [Vec<f64>; 2],
    /// HPA CPU utilisation target h, per area and node (Q3).
    pub hpa_target: [Vec<f64>; 2],
    /// Measured CPU usage (cores), per area and node.
    pub cpu_usage: [Vec<f64>; 2],
    /// Measured memory usage (bytes), per area and node (reported, not priced).
    pub memory_usage: [Vec<f64>; 2],
}

/// Hourly cost, split as in the reference model.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    pub edge: f64,
    pub cloud: f64,
    pub traffic: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.edge + self.cloud + self.traffic
    }
}

/// The model's view of one edge set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Eval {
    /// D: average edge–cloud network delay per user request, seconds.
    pub delay_s: f64,
    /// T: cloud-to-edge response traffic, bit/s.
    pub traffic_bps: f64,
    /// ρ: link utilisation, 0..1.
    pub rho: f64,
    pub cost: Cost,
}

/// Per-node details of one edge set, for reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detail {
    pub eval: Eval,
    /// Replicas per node, `[cloud, edge]`.
    pub replicas: Vec<[u32; 2]>,
    /// CPU usage per node after the shift, `[cloud, edge]`, cores.
    pub cpu: Vec<[f64; 2]>,
    /// Memory usage per node after the shift, `[cloud, edge]`, bytes.
    pub memory: Vec<[f64; 2]>,
}

/// Which usage a cost evaluation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageMode {
    /// The measured per-area usage, as given (only meaningful for the current edge set).
    Measured,
    /// The total usage redistributed in proportion to invocation counts (§1.3).
    Shifted,
}

/// The model with its precomputed constants: invocation totals and replica prices.
#[derive(Clone, Debug)]
pub struct Model {
    input: ModelInput,
    /// Total invocations per user request of each node (cloud + edge copies): the same for
    /// every edge set, since each call goes to exactly one copy. The user's is 1.
    n_total: Vec<f64>,
    cpu_total: Vec<f64>,
    memory_total: Vec<f64>,
    /// Price of one replica per hour, per area and node.
    replica_price: [Vec<f64>; 2],
    /// Cost per hour of each node's cloud replicas when all its usage is in the cloud.
    all_cloud_cost: Vec<f64>,
    all_cloud_total: f64,
}

/// Reusable buffers of one evaluation pass.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) n_edge: Vec<f64>,
    pub(crate) crossings: Vec<f64>,
    /// The nodes with a non-zero `crossings` entry, in the order they were first crossed to.
    pub(crate) crossed: Vec<usize>,
    /// For each entry of `crossed`, the topological rank of the caller that first crossed to it.
    pub(crate) first_caller: Vec<usize>,
    /// A call whose invocations per request rounded to 0 (only with absurdly small figures).
    pub(crate) underflow: bool,
    pub(crate) memo: TermMemo,
}

/// The last cost terms ([`Model::shifted_terms`]) computed per node, with the invocations they
/// were computed for: a node's terms depend on nothing else, and most evaluations in a search
/// give most nodes the invocations they had in the previous one.
#[derive(Clone, Debug, Default)]
pub(crate) struct TermMemo {
    n_edge: Vec<Option<u64>>,
    terms: Vec<Option<(f64, f64)>>,
}

impl Model {
    pub fn new(input: ModelInput) -> Self {
        let m = input.graph.m();
        let n_total = total_invocations(&input.graph);
        let sum = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<_>>();
        let cpu_total = sum(&input.cpu_usage[CLOUD], &input.cpu_usage[EDGE]);
        let memory_total = sum(&input.memory_usage[CLOUD], &input.memory_usage[EDGE]);
        let replica_price: [Vec<f64>; 2] = [CLOUD, EDGE].map(|a| {
            (0..m)
                .map(|j| {
                    input.prices[a].cpu_core_hour * input.cpu_request[a][j]
                        + input.prices[a].memory_byte_hour * input.memory_request[a][j]
                })
                .collect()
        });
        let all_cloud_cost: Vec<f64> = (0..m)
            .map(|j| {
                replicas(
                    cpu_total[j],
                    input.hpa_target[CLOUD][j],
                    input.cpu_request[CLOUD][j],
                    1,
                ) * replica_price[CLOUD][j]
            })
            .collect();
        let all_cloud_total = all_cloud_cost.iter().sum();
        Self {
            input,
            n_total,
            cpu_total,
            memory_total,
            replica_price,
            all_cloud_cost,
            all_cloud_total,
        }
    }

    pub fn graph(&self) -> &CallGraph {
        &self.input.graph
    }

    pub fn input(&self) -> &ModelInput {
        &self.input
    }

    /// Number of nodes M (services + the user).
    pub fn m(&self) -> usize {
        self.input.graph.m()
    }

    /// Invocations per user request of each node's cloud copy on the cloud-only deployment
    /// (the user's is 0: it sits at the edge).
    pub fn cloud_only_invocations(&self) -> Vec<f64> {
        let mut n = self.n_total.clone();
        n[self.input.graph.user()] = 0.0;
        n
    }

    /// The edge set containing only the user.
    pub fn void_set(&self) -> Set {
        let mut s = Set::empty(self.m());
        s.insert(self.input.graph.user());
        s
    }

    /// Delay, traffic and cost of `edge` (the user is always treated as at the edge).
    pub fn evaluate(&self, edge: &Set, usage: UsageMode) -> Eval {
        let mut scratch = Scratch::default();
        self.evaluate_into(edge, usage, &mut scratch, None)
    }

    /// [`Model::evaluate`] with per-node replicas and usage.
    pub fn detail(&self, edge: &Set, usage: UsageMode) -> Detail {
        let mut scratch = Scratch::default();
        let mut detail = Detail::default();
        detail.eval = self.evaluate_into(edge, usage, &mut scratch, Some(&mut detail));
        detail
    }

    fn evaluate_into(
        &self,
        edge: &Set,
        usage: UsageMode,
        scratch: &mut Scratch,
        detail: Option<&mut Detail>,
    ) -> Eval {
        edge_pass(&self.input.graph, edge, scratch);
        let crossed = scratch.crossed.iter().map(|&j| (j, scratch.crossings[j]));
        let (net, traffic) = self.network(crossed);
        let cost = match (usage, detail) {
            (UsageMode::Shifted, None) => {
                let mut memo = std::mem::take(&mut scratch.memo);
                let cost = self.shifted_cost_fast(edge, scratch, &mut memo, traffic);
                scratch.memo = memo;
                cost
            }
            (usage, detail) => self.cost_full(usage, scratch, traffic, detail),
        };
        Eval { cost, ..net }
    }

    /// Delay, traffic and utilisation (the cost left at zero) and the hourly traffic cost of
    /// the calls per user request that cross edge -> cloud: `(callee, calls)`, in the order of
    /// [`Scratch::crossed`], which the sums follow.
    pub(crate) fn network(
        &self,
        crossed: impl Iterator<Item = (usize, f64)> + Clone,
    ) -> (Eval, f64) {
        let inp = &self.input;
        // §1.2: cross traffic, utilisation, load spread and per-call delays.
        let crossing_bytes: f64 = crossed
            .clone()
            .map(|(j, c)| c * inp.response_bytes[j])
            .sum();
        let traffic_bps = 8.0 * inp.lambda * crossing_bytes + 0.0;
        let load = traffic_bps / inp.bitrate_bps;
        let rho = load.min(1.0);
        let spread = if load < 1.0 {
            1.0 / (1.0 - load)
        } else {
            1e6 * load
        };
        let delay_s = if inp.lambda == 0.0 {
            0.0
        } else {
            let d: f64 = crossed
                .map(|(j, c)| {
                    let per_call = (8.0 * inp.response_bytes[j] / inp.bitrate_bps * spread)
                        .min(DELAY_CAP_S)
                        + inp.rtt_s;
                    c * per_call
                })
                .sum();
            // `+ 0.0` turns the -0.0 of an empty sum into 0.0.
            (d + 0.0).min(DELAY_CAP_S)
        };

        // §1.3: the traffic part of the cost.
        let traffic = inp.network_price_gb * traffic_bps * 3600.0 / 8.0 / 1e9;
        let eval = Eval {
            delay_s,
            traffic_bps,
            rho,
            cost: Cost::default(),
        };
        (eval, traffic)
    }

    /// The change, from the all-cloud cost, of node `j`'s cloud and edge cost when its edge
    /// copies get `n_edge` invocations per request; `None` when there is none to add.
    pub(crate) fn shifted_terms(&self, j: usize, n_edge: f64) -> Option<(f64, f64)> {
        if n_edge == 0.0 || self.n_total[j] <= 0.0 {
            return None;
        }
        let (cpu, _) = self.shifted(j, n_edge);
        let r = self.replicas_of(j, cpu);
        Some((
            r[CLOUD] * self.replica_price[CLOUD][j] - self.all_cloud_cost[j],
            r[EDGE] * self.replica_price[EDGE][j],
        ))
    }

    /// [`Model::shifted_terms`] through `memo`.
    pub(crate) fn shifted_terms_memo(
        &self,
        j: usize,
        n_edge: f64,
        memo: &mut TermMemo,
    ) -> Option<(f64, f64)> {
        if memo.n_edge.len() != self.m() {
            memo.n_edge = vec![None; self.m()];
            memo.terms = vec![None; self.m()];
        }
        if memo.n_edge[j] == Some(n_edge.to_bits()) {
            return memo.terms[j];
        }
        let terms = self.shifted_terms(j, n_edge);
        memo.n_edge[j] = Some(n_edge.to_bits());
        memo.terms[j] = terms;
        terms
    }

    /// The all-cloud cost per hour, the start of every shifted cost sum.
    pub(crate) fn all_cloud_total(&self) -> f64 {
        self.all_cloud_total
    }

    /// Usage `[cloud, edge]` of node `j` after the shift, and memory likewise.
    fn shifted(&self, j: usize, n_edge: f64) -> ([f64; 2], [f64; 2]) {
        let n = self.n_total[j];
        if n > 0.0 {
            let share = [(n - n_edge) / n, n_edge / n];
            (
                share.map(|s| self.cpu_total[j] * s),
                share.map(|s| self.memory_total[j] * s),
            )
        } else {
            // Never invoked (decision N1): everything stays in the cloud.
            ([self.cpu_total[j], 0.0], [self.memory_total[j], 0.0])
        }
    }

    fn replicas_of(&self, j: usize, cpu: [f64; 2]) -> [f64; 2] {
        let inp = &self.input;
        [
            replicas(
                cpu[CLOUD],
                inp.hpa_target[CLOUD][j],
                inp.cpu_request[CLOUD][j],
                1,
            ),
            replicas(
                cpu[EDGE],
                inp.hpa_target[EDGE][j],
                inp.cpu_request[EDGE][j],
                0,
            ),
        ]
    }

    /// Only edge nodes with edge invocations differ from the all-cloud cost.
    fn shifted_cost_fast(
        &self,
        edge: &Set,
        s: &Scratch,
        memo: &mut TermMemo,
        traffic: f64,
    ) -> Cost {
        let mut cost = Cost {
            edge: 0.0,
            cloud: self.all_cloud_total,
            traffic,
        };
        for j in edge.iter() {
            let ne = s.n_edge.get(j).copied().unwrap_or(0.0);
            if let Some((cloud, edge)) = self.shifted_terms_memo(j, ne, memo) {
                cost.cloud += cloud;
                cost.edge += edge;
            }
        }
        cost
    }

    fn cost_full(
        &self,
        usage: UsageMode,
        s: &Scratch,
        traffic: f64,
        mut detail: Option<&mut Detail>,
    ) -> Cost {
        let inp = &self.input;
        let mut cost = Cost {
            traffic,
            ..Cost::default()
        };
        for j in 0..self.m() {
            let (cpu, memory) = match usage {
                UsageMode::Measured => (
                    [inp.cpu_usage[CLOUD][j], inp.cpu_usage[EDGE][j]],
                    [inp.memory_usage[CLOUD][j], inp.memory_usage[EDGE][j]],
                ),
                UsageMode::Shifted => self.shifted(j, s.n_edge[j]),
            };
            let r = self.replicas_of(j, cpu);
            cost.cloud += r[CLOUD] * self.replica_price[CLOUD][j];
            cost.edge += r[EDGE] * self.replica_price[EDGE][j];
            if let Some(d) = detail.as_deref_mut() {
                d.replicas.push([to_u32(r[CLOUD]), to_u32(r[EDGE])]);
                d.cpu.push(cpu);
                d.memory.push(memory);
            }
        }
        cost
    }
}

/// `max(min, ⌈(u / h) / q⌉)`, dividing by h first as the reference does. A zero request or
/// target gives one replica when there is usage, none otherwise.
fn replicas(usage: f64, target: f64, request: f64, min: u32) -> f64 {
    let r = if request > 0.0 && target > 0.0 {
        ceil((usage / target) / request - CEIL_TOLERANCE).max(0.0)
    } else if usage > 0.0 {
        1.0
    } else {
        0.0
    };
    r.max(f64::from(min))
}

/// `x.ceil()`, without the library call for the usual positive values below 2⁵²: the
/// truncation is exact there, so the result is the same.
fn ceil(x: f64) -> f64 {
    if x > 0.0 && x < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        if t < x {
            t + 1.0
        } else {
            t
        }
    } else {
        x.ceil()
    }
}

fn to_u32(x: f64) -> u32 {
    if x.is_finite() && x >= 0.0 {
        x.min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Total invocations per user request of every node, whatever the placement (user: 1).
fn total_invocations(graph: &CallGraph) -> Vec<f64> {
    let mut n = vec![0.0; graph.m()];
    n[graph.user()] = 1.0;
    for &i in graph.topo() {
        let ni = n[i];
        if ni == 0.0 {
            continue;
        }
        for &(j, f) in graph.children(i) {
            n[j] += ni * f;
        }
    }
    n
}

/// N per node for `[CLOUD]` and `[EDGE]` copies when `edge` is at the edge (with the user).
pub fn invocation_counts(graph: &CallGraph, edge: &Set) -> [Vec<f64>; 2] {
    let mut s = Scratch::default();
    edge_pass(graph, edge, &mut s);
    let mut cloud: Vec<f64> = total_invocations(graph)
        .iter()
        .zip(&s.n_edge)
        .map(|(t, e)| t - e)
        .collect();
    cloud[graph.user()] = 0.0;
    [cloud, s.n_edge]
}

/// N of the edge copies, and the calls per user request that cross edge -> cloud, per callee.
/// One topological pass over the edge nodes of the DAG (research note §1.1, §8); the cloud
/// copies get the rest of each node's total.
pub(crate) fn edge_pass(graph: &CallGraph, edge: &Set, s: &mut Scratch) {
    let m = graph.m();
    let user = graph.user();
    s.n_edge.clear();
    s.n_edge.resize(m, 0.0);
    s.crossings.clear();
    s.crossings.resize(m, 0.0);
    s.crossed.clear();
    s.first_caller.clear();
    s.underflow = false;
    s.n_edge[user] = 1.0;
    for &i in graph.topo() {
        if i != user && !edge.contains(i) {
            continue;
        }
        let ne = s.n_edge[i];
        if ne == 0.0 {
            continue;
        }
        for &(j, f) in graph.children(i) {
            s.underflow |= ne * f == 0.0;
            if edge.contains(j) {
                s.n_edge[j] += ne * f;
            } else {
                if s.crossings[j] == 0.0 {
                    s.crossed.push(j);
                    s.first_caller.push(graph.rank(i));
                }
                s.crossings[j] += ne * f;
            }
        }
    }
}

/// A model with a cache of evaluated edge sets (shifted usage) and reusable buffers.
#[derive(Debug)]
pub struct Evaluator<'a> {
    model: &'a Model,
    scratch: Scratch,
    cache: SetTable<Eval>,
    evaluations: usize,
    /// The set [`Evaluator::eval_union`] evaluates.
    next: Set,
    /// Whether [`Evaluator::eval_union`] evaluates incrementally from one pass per base set.
    incremental: bool,
    round: Option<RoundEval>,
}

impl<'a> Evaluator<'a> {
    /// The evaluator of decisions: candidates are evaluated incrementally.
    pub fn new(model: &'a Model) -> Self {
        Self {
            model,
            scratch: Scratch::default(),
            cache: SetTable::default(),
            evaluations: 0,
            next: Set::default(),
            incremental: true,
            round: None,
        }
    }

    /// An evaluator that runs the full pass for every edge set: the reference the incremental
    /// evaluation is tested against (it gives bit-identical results).
    pub fn straightforward(model: &'a Model) -> Self {
        Self {
            incremental: false,
            ..Self::new(model)
        }
    }

    pub fn model(&self) -> &'a Model {
        self.model
    }

    /// Evaluates `edge` with shifted usage, from the cache when already seen.
    pub fn eval(&mut self, edge: &Set) -> Eval {
        if let Some(e) = self.cache.get(edge) {
            return *e;
        }
        let e = self
            .model
            .evaluate_into(edge, UsageMode::Shifted, &mut self.scratch, None);
        self.evaluations += 1;
        self.cache.insert(edge, e);
        e
    }

    /// The evaluation of `edge ∪ adds`, as [`Evaluator::eval`] gives it; the candidates of
    /// one round share one pass over `edge`.
    pub fn eval_union(&mut self, edge: &Set, adds: &Set) -> Eval {
        let mut next = std::mem::take(&mut self.next);
        edge.union_into(adds, &mut next);
        let e = self.eval_near(edge, &next);
        self.next = next;
        e
    }

    /// The evaluation of `next`, as [`Evaluator::eval`] gives it, computed from a pass over
    /// `base` (kept for the following calls with the same base): cheap when the two are close.
    pub fn eval_near(&mut self, base: &Set, next: &Set) -> Eval {
        // One probe of the cache: the entry is made now and filled below.
        let before = self.cache.len();
        let slot = self.cache.index_or_insert(next, Eval::default());
        if let Some(k) = slot.filter(|_| self.cache.len() == before) {
            return self.cache.values()[k];
        }
        let mut fast = None;
        if self.incremental {
            let memo = &mut self.scratch.memo;
            if self.round.as_ref().is_none_or(|r| r.base() != base) {
                self.round = Some(RoundEval::new(self.model, base, memo));
            }
            fast = self
                .round
                .as_mut()
                .and_then(|r| r.eval(self.model, next, memo));
        }
        let e = fast.unwrap_or_else(|| {
            self.model
                .evaluate_into(next, UsageMode::Shifted, &mut self.scratch, None)
        });
        self.evaluations += 1;
        if let Some(k) = slot {
            self.cache.values_mut()[k] = e;
        }
        e
    }

    /// Distinct edge sets evaluated so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ceil_is_ceil() {
        let mut x: f64 = 1e-300;
        let mut values = vec![0.0, -0.0, -1e-9, -2.5, 1.0, 2.0, 2.5, 4.5e15, 9.1e15, 1e300];
        values.extend([
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
        ]);
        while x < 1e17 {
            // Positive floats order as their bits: ±1 is the next one up or down.
            let step = |v: f64, d: i64| f64::from_bits(v.to_bits().wrapping_add_signed(d));
            values.extend([x, step(x, 1), step(x, -1), x.round(), step(x.round(), 1)]);
            x *= 1.37;
        }
        for v in values {
            assert_eq!(ceil(v).to_bits(), v.ceil().to_bits(), "ceil({v:e})");
        }
    }
}
