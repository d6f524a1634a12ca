//! From a `MigrationRequest` (graph, clusters, placement, telemetry) plus parameters and
//! `request.extra` to the model's vectors: the one place where names become indices.

use crate::bitset::Set;
use crate::graph::{CallGraph, GraphError};
use crate::model::{invocation_counts, AreaPrices, Model, ModelInput, CLOUD, EDGE};
use crate::params::{Extra, Params};
use smo_plugin_api::{ClusterRole, MigrationRequest, PluginError};
use std::collections::{BTreeMap, HashMap};

/// The pseudo-service naming the user ingress in `telemetry.calls`.
pub const USERS: &str = "users";
const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Prices, rates and sizes at or above this are refused: their products (cost per hour,
/// traffic) would overflow to infinity or NaN, and smo's API bounds a price far below it.
pub const LIMIT: f64 = 1e15;

/// One SBMP problem: the model, the current edge set and the constraints, with names.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Service names by index (the user, index `names.len()`, is not listed).
    pub names: Vec<String>,
    pub cloud: String,
    pub edge: String,
    pub model: Model,
    /// E₀: services with at least one replica on the edge cluster, plus the user.
    pub current: Set,
    /// Pinned services at the edge now: never removed.
    pub keep: Set,
    /// Services that may not go to the edge: pinned in the cloud, or not allowed there.
    pub locked: Set,
    /// Whether a service has an assignment on the cloud cluster now.
    pub has_cloud_copy: Vec<bool>,
    /// `(min, max)` replicas from each service's scaling profile.
    pub replica_bounds: Vec<(u32, u32)>,
    /// Things the caller should know about the inputs (shown as decision reasons).
    pub notes: Vec<String>,
}

impl Problem {
    pub fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or(USERS, String::as_str)
    }
}

/// Builds the problem; malformed input gives `invalid_input` naming the culprit.
pub fn build(
    req: &MigrationRequest,
    params: &Params,
    extra: &Extra,
) -> Result<Problem, PluginError> {
    let invalid = |m: String| PluginError::invalid_input(format!("sbmp-gma/offload: {m}"));
    let mut notes = Vec::new();

    // The cloud–edge pair.
    let pick = |wanted: &Option<String>, role: ClusterRole| {
        let found = match wanted {
            Some(n) => req.clusters.iter().find(|c| c.name.as_str() == n),
            None => req.clusters.iter().find(|c| c.role == role),
        };
        match found {
            Some(c) if c.role == role => Ok(c),
            Some(c) => Err(invalid(format!(
                "cluster `{}` has role {}, not {}",
                c.name,
                c.role.as_str(),
                role.as_str()
            ))),
            None => Err(invalid(match wanted {
                Some(n) => format!("no cluster named `{n}` in the request"),
                None => format!("no cluster with role {} in the request", role.as_str()),
            })),
        }
    };
    let cloud = pick(&params.cloud, ClusterRole::Cloud)?;
    let edge = pick(&params.edge, ClusterRole::Edge)?;

    // Services.
    let n = req.graph.services.len();
    let user = n;
    let m = n + 1;
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in req.graph.services.iter().enumerate() {
        if s.name.as_str() == USERS {
            return Err(invalid(format!(
                "`{USERS}` is reserved for the user ingress"
            )));
        }
        if index.insert(s.name.as_str(), i).is_some() {
            return Err(invalid(format!("service `{}` appears twice", s.name)));
        }
        let d = &s.demand;
        if !(d.cpu.is_finite() && d.cpu >= 0.0 && d.memory_mib.is_finite() && d.memory_mib >= 0.0) {
            return Err(invalid(format!(
                "service `{}` has an invalid demand",
                s.name
            )));
        }
    }
    let names: Vec<String> = req
        .graph
        .services
        .iter()
        .map(|s| s.name.to_string())
        .collect();

    // Current placement.
    let mut current = Set::empty(m);
    current.insert(user);
    let mut replicas_now = vec![[0u32; 2]; n];
    let mut has_cloud_copy = vec![false; n];
    let mut elsewhere = Vec::new();
    for a in req.current.assignments.iter() {
        let Some(&i) = index.get(a.service.as_str()) else {
            return Err(invalid(format!(
                "current placement names unknown service `{}`",
                a.service
            )));
        };
        if a.cluster == edge.name {
            if a.replicas >= 1 {
                current.insert(i);
            }
            replicas_now[i][EDGE] += a.replicas;
        } else if a.cluster == cloud.name {
            has_cloud_copy[i] = true;
            replicas_now[i][CLOUD] += a.replicas;
        } else {
            elsewhere.push(format!("{}@{}", a.service, a.cluster));
        }
    }
    if !elsewhere.is_empty() {
        notes.push(format!(
            "assignments outside the pair {}/{} are ignored: {}",
            cloud.name,
            edge.name,
            elsewhere.join(", ")
        ));
    }

    // Calls: rates, Fm and response sizes.
    let node = |name: &str| -> Result<usize, PluginError> {
        if name == USERS {
            Ok(user)
        } else {
            index
                .get(name)
                .copied()
                .ok_or_else(|| invalid(format!("telemetry.calls names unknown service `{name}`")))
        }
    };
    let mut rate: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let mut in_rate = vec![0.0; m];
    let mut bytes_weighted = vec![0.0; m];
    let mut bytes_plain = vec![(0.0, 0usize); m];
    for c in req.telemetry.calls.iter() {
        let (i, j) = (node(c.from.as_str())?, node(c.to.as_str())?);
        if j == user {
            return Err(invalid(format!(
                "telemetry.calls: `{}` calls `{USERS}`, the user ingress",
                c.from
            )));
        }
        let ok = |v: f64| v.is_finite() && (0.0..LIMIT).contains(&v);
        if !ok(c.rps) || !ok(c.mean_response_bytes) {
            return Err(invalid(format!(
                "telemetry.calls {} -> {}: rps ({:e}) and mean_response_bytes ({:e}) must be \
                 finite, not negative and below {LIMIT:e}",
                c.from, c.to, c.rps, c.mean_response_bytes
            )));
        }
        *rate.entry((i, j)).or_insert(0.0) += c.rps;
        in_rate[j] += c.rps;
        bytes_weighted[j] += c.rps * c.mean_response_bytes;
        bytes_plain[j].0 += c.mean_response_bytes;
        bytes_plain[j].1 += 1;
    }
    let lambda: f64 = rate
        .iter()
        .filter(|((i, _), _)| *i == user)
        .map(|(_, r)| r)
        .sum();
    let mut edges = Vec::with_capacity(rate.len());
    let mut callers_without_rate = Vec::new();
    for (&(i, j), &r) in &rate {
        let caller_rate = if i == user { lambda } else { in_rate[i] };
        if r <= 0.0 {
            continue;
        }
        if caller_rate > 0.0 {
            edges.push((i, j, r / caller_rate));
        } else {
            callers_without_rate.push(names[i].clone());
        }
    }
    if !callers_without_rate.is_empty() {
        callers_without_rate.dedup();
        notes.push(format!(
            "services that call others but receive no calls are left out of Fm: {}",
            callers_without_rate.join(", ")
        ));
    }
    let graph = CallGraph::new(n, &edges).map_err(|e| match e {
        GraphError::Cycle(nodes) => {
            let mut path: Vec<&str> = nodes
                .iter()
                .map(|&k| names.get(k).map_or(USERS, String::as_str))
                .collect();
            if let Some(first) = path.first().copied() {
                path.push(first);
            }
            invalid(format!(
                "the call graph must be a DAG, but it has the cycle {}",
                path.join(" -> ")
            ))
        }
        other => invalid(other.to_string()),
    })?;
    let response_bytes: Vec<f64> = (0..m)
        .map(|j| {
            if in_rate[j] > 0.0 {
                bytes_weighted[j] / in_rate[j]
            } else if bytes_plain[j].1 > 0 {
                bytes_plain[j].0 / bytes_plain[j].1 as f64
            } else {
                0.0
            }
        })
        .collect();

    // The link of the pair: bandwidth cloud -> edge, RTT.
    let link = |from: &str, to: &str| {
        req.telemetry
            .links
            .iter()
            .find(|l| l.from.as_str() == from && l.to.as_str() == to)
    };
    let Some(l) = link(&cloud.name, &edge.name).or_else(|| link(&edge.name, &cloud.name)) else {
        return Err(invalid(format!(
            "telemetry.links has no link between `{}` and `{}`",
            cloud.name, edge.name
        )));
    };
    let bandwidth_ok = l.bandwidth_mbps.is_finite() && l.bandwidth_mbps > 0.0;
    let latency_ok = l.latency_ms.is_finite() && l.latency_ms >= 0.0;
    if !bandwidth_ok || !latency_ok {
        return Err(invalid(format!(
            "telemetry.links {} -> {}: latency_ms must be >= 0 and bandwidth_mbps > 0",
            l.from, l.to
        )));
    }

    // Requests, HPA targets, usage.
    let mut cpu_request = [vec![0.0; m], vec![0.0; m]];
    let mut memory_request = [vec![0.0; m], vec![0.0; m]];
    let mut hpa_target = [
        vec![params.hpa_cpu_target; m],
        vec![params.hpa_cpu_target; m],
    ];
    for (i, s) in req.graph.services.iter().enumerate() {
        for a in [CLOUD, EDGE] {
            cpu_request[a][i] = s.demand.cpu;
            memory_request[a][i] = s.demand.memory_mib * MIB;
            hpa_target[a][i] = params.hpa_target(&names[i], a == EDGE);
        }
    }
    for s in extra.usage.keys() {
        if !index.contains_key(s.as_str()) {
            return Err(invalid(format!(
                "request.extra `usage` names unknown service `{s}`"
            )));
        }
    }
    let shares = invocation_counts(&graph, &current);
    let me = extra.me_resource_scaling.unwrap_or(1.0);
    let mut cpu_usage = [vec![0.0; m], vec![0.0; m]];
    let mut memory_usage = [vec![0.0; m], vec![0.0; m]];
    let mut no_load = Vec::new();
    for (i, s) in req.graph.services.iter().enumerate() {
        let (cpu, mem) = if let Some(u) = extra.usage.get(names[i].as_str()) {
            (
                [u.cloud_cpu, u.edge_cpu],
                [u.cloud_memory_mib * MIB, u.edge_memory_mib * MIB],
            )
        } else {
            // Derived: utilisation of requests times all replicas, split by invocations.
            let load = req
                .telemetry
                .loads
                .iter()
                .find(|l| l.service.as_str() == names[i]);
            let reps = f64::from(replicas_now[i][CLOUD] + replicas_now[i][EDGE]);
            let (cu, mu) = match load {
                Some(l) if l.cpu_utilisation.is_finite() && l.memory_utilisation.is_finite() => (
                    l.cpu_utilisation.max(0.0) * s.demand.cpu * reps,
                    l.memory_utilisation.max(0.0) * s.demand.memory_mib * MIB * reps,
                ),
                _ => {
                    no_load.push(names[i].clone());
                    (0.0, 0.0)
                }
            };
            let total = shares[CLOUD][i] + shares[EDGE][i];
            let edge_share = if total > 0.0 {
                shares[EDGE][i] / total
            } else {
                0.0
            };
            (
                [cu * (1.0 - edge_share), cu * edge_share],
                [mu * (1.0 - edge_share), mu * edge_share],
            )
        };
        cpu_usage[CLOUD][i] = cpu[CLOUD] * me;
        cpu_usage[EDGE][i] = cpu[EDGE];
        memory_usage[CLOUD][i] = mem[CLOUD] * me;
        memory_usage[EDGE][i] = mem[EDGE];
    }
    if !no_load.is_empty() {
        notes.push(format!(
            "no telemetry.loads entry (usage taken as 0): {}",
            no_load.join(", ")
        ));
    }

    // Prices: memory per byte-hour; egress of the cloud cluster (Q2).
    let area = |p: &smo_plugin_api::Prices| AreaPrices {
        cpu_core_hour: p.cpu_core_hour,
        memory_byte_hour: p.memory_gib_hour / GIB,
    };
    let prices = [area(&cloud.prices), area(&edge.prices)];
    let all_prices = [
        (cloud, "prices.cpu_core_hour", cloud.prices.cpu_core_hour),
        (
            cloud,
            "prices.memory_gib_hour",
            cloud.prices.memory_gib_hour,
        ),
        (cloud, "prices.egress_gb", cloud.prices.egress_gb),
        (edge, "prices.cpu_core_hour", edge.prices.cpu_core_hour),
        (edge, "prices.memory_gib_hour", edge.prices.memory_gib_hour),
    ];
    let bad: Vec<String> = all_prices
        .iter()
        .filter(|(_, _, p)| !(p.is_finite() && (0.0..LIMIT).contains(p)))
        .map(|(c, field, p)| format!("cluster `{}`: {field} {p:e}", c.name))
        .collect();
    if !bad.is_empty() {
        return Err(invalid(format!(
            "cluster prices must be finite, not negative and below {LIMIT:e}: {}",
            bad.join("; ")
        )));
    }

    // Pinned and not-allowed services.
    let mut keep = Set::empty(m);
    let mut locked = Set::empty(m);
    for p in &params.pinned {
        let Some(&i) = index.get(p.as_str()) else {
            return Err(invalid(format!(
                "parameter `pinned` names unknown service `{p}`"
            )));
        };
        if current.contains(i) {
            keep.insert(i);
        } else {
            locked.insert(i);
        }
    }
    for (i, s) in req.graph.services.iter().enumerate() {
        if !s.allowed_clusters.is_empty()
            && !s.allowed_clusters.contains(&edge.name)
            && !current.contains(i)
        {
            locked.insert(i);
        }
    }

    let input = ModelInput {
        graph,
        response_bytes,
        lambda,
        rtt_s: l.latency_ms / 1000.0 * params.rtt_multiplier,
        bitrate_bps: l.bandwidth_mbps * 1e6,
        network_price_gb: cloud.prices.egress_gb,
        prices,
        cpu_request,
        memory_request,
        hpa_target,
        cpu_usage,
        memory_usage,
    };
    let replica_bounds = req
        .graph
        .services
        .iter()
        .map(|s| (s.scaling.min_replicas, s.scaling.max_replicas))
        .collect();
    Ok(Problem {
        names,
        cloud: cloud.name.to_string(),
        edge: edge.name.to_string(),
        model: Model::new(input),
        current,
        keep,
        locked,
        has_cloud_copy,
        replica_bounds,
        notes,
    })
}
