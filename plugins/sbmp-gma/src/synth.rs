//! Seeded random DAG applications as `MigrationRequest`s, for tests and benchmarks only.
//! The defaults follow the simulation setup of the research note (§6.1), scaled by `services`.

use crate::rng::SplitMix64;
use smo_plugin_api::*;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    pub services: usize,
    pub seed: u64,
    /// User requests per second at the edge ingress.
    pub lambda: f64,
    pub rtt_ms: f64,
    pub bandwidth_mbps: f64,
    /// Range of the call frequencies Fm between services.
    pub fm: (f64, f64),
    /// Range of the mean response sizes, bytes (the entry service uses `entry_bytes`).
    pub response_bytes: (f64, f64),
    pub entry_bytes: f64,
    /// Range of the CPU per service, cores per 10 req/s of user load.
    pub cpu_per_10_rps: (f64, f64),
    /// Probability that a service gets a second caller.
    pub second_caller: f64,
}

impl Spec {
    pub fn new(services: usize, seed: u64) -> Self {
        Self {
            services,
            seed,
            lambda: 50.0,
            rtt_ms: 80.0,
            bandwidth_mbps: 1000.0,
            fm: (0.1, 0.5),
            response_bytes: (0.5e6, 3.5e6),
            entry_bytes: 2e6,
            cpu_per_10_rps: (5.0, 40.0),
            second_caller: 0.3,
        }
    }
}

fn cluster(name: &str, role: ClusterRole, cpu: f64, mem: f64) -> Cluster {
    Cluster {
        name: name.into(),
        role,
        location: Location::default(),
        capacity: Resources::new(1e6, 1e9, 0),
        available: Resources::new(1e6, 1e9, 0),
        energy: EnergyProfile::default(),
        prices: Prices {
            cpu_core_hour: cpu,
            memory_gib_hour: mem,
            gpu_hour: 0.0,
            egress_gb: 0.02,
            energy_kwh: 0.0,
        },
        labels: RVec::new(),
        extra: "{}".into(),
    }
}

/// A service with one-core pods and no memory request, like the research setup.
pub fn service(name: &str, cpu: f64, memory_mib: f64) -> Service {
    Service {
        name: name.into(),
        demand: Resources::new(cpu, memory_mib, 0),
        replicas: 1,
        scaling: ScalingProfile {
            alpha: 10.0,
            beta: 0.0,
            min_replicas: 1,
            max_replicas: 10_000,
        },
        dependencies: RVec::new(),
        allowed_clusters: RVec::new(),
        labels: RVec::new(),
        extra: "{}".into(),
    }
}

/// The clusters `cloud` and `edge` with the research note's prices.
pub fn clusters() -> RVec<Cluster> {
    vec![
        cluster("cloud", ClusterRole::Cloud, 0.0208, 0.0104),
        cluster("edge", ClusterRole::Edge, 0.028, 0.014),
    ]
    .into()
}

/// The cloud <-> edge links.
pub fn links(rtt_ms: f64, bandwidth_mbps: f64) -> RVec<Link> {
    let l = |from: &str, to: &str| Link {
        from: from.into(),
        to: to.into(),
        latency_ms: rtt_ms,
        bandwidth_mbps,
    };
    vec![l("cloud", "edge"), l("edge", "cloud")].into()
}

/// A random DAG application, everything in the cloud, with the telemetry it would produce.
pub fn app(spec: &Spec) -> MigrationRequest {
    let n = spec.services.max(1);
    let mut rng = SplitMix64::new(spec.seed);
    // Preferential attachment: a node is picked as caller in proportion to 1 + its callees.
    let mut pool: Vec<usize> = vec![0];
    let mut parents: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (i, p) in parents.iter_mut().enumerate().skip(1) {
        let count = if rng.next_f64() < spec.second_caller {
            2
        } else {
            1
        };
        for _ in 0..count {
            let c = pool[rng.below(pool.len())];
            if p.iter().all(|(q, _)| *q != c) {
                p.push((c, rng.uniform(spec.fm.0, spec.fm.1)));
                pool.push(c);
            }
        }
        pool.push(i);
    }
    request(spec, &parents, &mut rng)
}

/// A Barabási–Albert application, the simulation setting of the SBMP paper (research note
/// §6.1): heavy-tailed fan-out by preferential attachment and Pareto-distributed call fractions.
#[derive(Clone, Debug)]
pub struct BaSpec {
    /// Sizes, load, network, responses and CPU; `fm` and `second_caller` are not used.
    pub base: Spec,
    /// A node is picked as caller with weight `degree^power + zero_appeal`.
    pub power: f64,
    pub zero_appeal: f64,
    /// The callers of a new service: `⌊Pareto(1, fan_in_shape)⌋`, at least 1.
    pub fan_in_shape: f64,
    /// Call fractions Fm: `min(fm_max, Pareto(fm_scale, fm_shape))`.
    pub fm_scale: f64,
    pub fm_shape: f64,
    pub fm_max: f64,
}

impl BaSpec {
    /// Power 0.9, zero appeal 3.125 and fan-in shape 10 as in the note; Fm from a Pareto of
    /// scale 0.15 and shape 1.5 (mean 0.45, heavy-tailed), capped at 1.
    pub fn new(services: usize, seed: u64) -> Self {
        Self {
            base: Spec::new(services, seed),
            power: 0.9,
            zero_appeal: 3.125,
            fan_in_shape: 10.0,
            fm_scale: 0.15,
            fm_shape: 1.5,
            fm_max: 1.0,
        }
    }
}

/// `Pareto(scale, shape)` by inversion.
fn pareto(rng: &mut SplitMix64, scale: f64, shape: f64) -> f64 {
    scale / (1.0 - rng.next_f64()).powf(1.0 / shape)
}

/// A Barabási–Albert application (see [`BaSpec`]), everything in the cloud.
pub fn ba_app(spec: &BaSpec) -> MigrationRequest {
    let n = spec.base.services.max(1);
    let mut rng = SplitMix64::new(spec.base.seed);
    let mut degree = vec![0usize; n];
    let mut parents: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut weights: Vec<f64> = Vec::with_capacity(n);
    for i in 1..n {
        let want = (pareto(&mut rng, 1.0, spec.fan_in_shape).floor() as usize).clamp(1, i);
        weights.clear();
        weights.extend(
            degree[..i]
                .iter()
                .map(|&d| (d as f64).powf(spec.power) + spec.zero_appeal),
        );
        for _ in 0..want {
            let total: f64 = weights.iter().sum();
            let mut x = rng.next_f64() * total;
            let mut c = i - 1;
            for (k, w) in weights.iter().enumerate() {
                if x < *w {
                    c = k;
                    break;
                }
                x -= w;
            }
            weights[c] = 0.0; // no second call from the same caller
            let fm = pareto(&mut rng, spec.fm_scale, spec.fm_shape).min(spec.fm_max);
            parents[i].push((c, fm));
            degree[c] += 1;
            degree[i] += 1;
        }
    }
    request(&spec.base, &parents, &mut rng)
}

/// The request of an app whose service `i` is called by `parents[i]` (caller, Fm), callers
/// before callees; response sizes and CPU are drawn from `spec`.
fn request(spec: &Spec, parents: &[Vec<(usize, f64)>], rng: &mut SplitMix64) -> MigrationRequest {
    let n = parents.len();
    let name = |i: usize| format!("s{i}");
    let mut rate = vec![0.0; n];
    rate[0] = spec.lambda;
    let mut bytes = vec![spec.entry_bytes; n];
    let mut calls: Vec<CallRate> = vec![CallRate {
        from: "users".into(),
        to: name(0).into(),
        rps: spec.lambda,
        mean_response_bytes: spec.entry_bytes,
    }];
    for i in 1..n {
        bytes[i] = rng.uniform(spec.response_bytes.0, spec.response_bytes.1);
        for &(p, f) in &parents[i] {
            rate[i] += rate[p] * f;
            calls.push(CallRate {
                from: name(p).into(),
                to: name(i).into(),
                rps: rate[p] * f,
                mean_response_bytes: bytes[i],
            });
        }
    }
    let mut services = Vec::with_capacity(n);
    let mut loads = Vec::with_capacity(n);
    let mut assignments = Vec::with_capacity(n);
    for (i, &r) in rate.iter().enumerate() {
        let cpu = rng.uniform(spec.cpu_per_10_rps.0, spec.cpu_per_10_rps.1) * spec.lambda / 10.0;
        let replicas = ((cpu / 0.6).ceil() as u32).max(1);
        let mut s = service(&name(i), 1.0, 0.0);
        s.replicas = replicas;
        services.push(s);
        loads.push(ServiceLoad {
            service: name(i).into(),
            current_rps: r,
            predicted_rps: r,
            cpu_utilisation: cpu / f64::from(replicas),
            memory_utilisation: 0.0,
            response_time_ms: 0.0,
        });
        assignments.push(Assignment {
            service: name(i).into(),
            cluster: "cloud".into(),
            replicas,
        });
    }
    MigrationRequest {
        graph: Graph {
            name: format!("synth-{n}-{}", spec.seed).into(),
            services: services.into(),
        },
        clusters: clusters(),
        current: Placement {
            assignments: assignments.into(),
        },
        telemetry: Telemetry {
            time_unix_s: 0,
            loads: loads.into(),
            links: links(spec.rtt_ms, spec.bandwidth_mbps),
            calls: calls.into(),
        },
        extra: "{}".into(),
    }
}

/// `request` with `request.extra = {"requiredDecreaseMs": ms}`.
pub fn with_required_decrease(mut request: MigrationRequest, ms: f64) -> MigrationRequest {
    request.extra = format!("{{\"requiredDecreaseMs\": {ms}}}").into();
    request
}
