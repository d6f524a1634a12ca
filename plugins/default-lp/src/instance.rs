//! A placement request turned into indexed data every placement model shares: services,
//! clusters, co-location units (services that must share a cluster) and preferred pairs.
//!
//! Conventions (see the README): `Cluster.available` is the capacity left for the whole graph,
//! i.e. it excludes this graph's own services, also on re-placement; a service needs
//! `demand × replicas`, with `replicas = max(1, Service.replicas, current assignment's replicas)`.

use smo_plugin_api::prelude::*;
use std::collections::HashMap;

/// One service with its total demand (all replicas).
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub name: String,
    pub replicas: u32,
    pub total: Resources,
    /// Allowed cluster names; empty means any.
    pub allowed: Vec<String>,
}

/// Services that must run on the same cluster (a connected component of `Required`
/// dependencies), placed as one block.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Service indices, in descriptor order.
    pub members: Vec<usize>,
    pub total: Resources,
}

/// Why a unit cannot go to a cluster, as data; [`Instance::explain`] gives the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    /// The cluster is not among the allowed clusters of this service (a member of the unit).
    NotAllowed {
        service: usize,
    },
    /// The unit needs a GPU and the cluster has none.
    NoGpu,
    Cpu {
        need: f64,
        free: f64,
    },
    Memory {
        need: f64,
        free: f64,
    },
    Gpu {
        need: u32,
        free: u32,
    },
    /// The cluster's total has room, but none of its servers for one replica of this demand
    /// (only when the host gives the servers: see [`crate::servers`]).
    NoServer {
        cpu: f64,
        memory_mib: f64,
    },
}

/// Where a service runs before a re-placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// Not in the current placement (or an initial placement): placing it is not a move.
    New,
    /// On the cluster with this index.
    On(usize),
    /// On a cluster that is no longer in the inventory: it must move.
    Vanished(String),
}

/// The indexed placement problem.
#[derive(Debug)]
pub struct Instance<'a> {
    pub graph: &'a str,
    pub services: Vec<ServiceInfo>,
    pub clusters: &'a [Cluster],
    /// Units in the descriptor order of their first member.
    pub units: Vec<Unit>,
    /// For each service, the index of its unit.
    pub unit_of: Vec<usize>,
    /// `Preferred` dependencies between services of different units, deduplicated.
    pub preferred: Vec<(usize, usize)>,
    /// For each service, where it runs now.
    pub current: Vec<Current>,
    /// Whether the request carried a current placement.
    pub is_replacement: bool,
    /// Remarks about the input, to copy into the decision's reasons.
    pub notes: Vec<String>,
}

/// Component-wise sum (GPU saturating).
pub fn add(a: &Resources, b: &Resources) -> Resources {
    Resources {
        cpu: a.cpu + b.cpu,
        memory_mib: a.memory_mib + b.memory_mib,
        gpu: a.gpu.saturating_add(b.gpu),
    }
}

/// CPU, memory and GPUs as numbers, in that order (for loops over the three dimensions).
pub fn dims(r: &Resources) -> [f64; 3] {
    [r.cpu, r.memory_mib, f64::from(r.gpu)]
}

/// A short human description of a demand.
pub fn describe(r: &Resources) -> String {
    format!("{:.2} CPU, {:.0} MiB, {} GPU", r.cpu, r.memory_mib, r.gpu)
}

fn finite_non_negative(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

impl<'a> Instance<'a> {
    /// Validates and indexes `request`, and starts the decision with the instance's notes.
    pub fn with_decision(
        request: &'a PlacementRequest,
    ) -> Result<(Self, PlacementDecision), PluginError> {
        let inst = Self::new(request)?;
        let mut decision = PlacementDecision::default();
        decision
            .reasons
            .extend(inst.notes.iter().map(|n| RString::from(n.as_str())));
        Ok((inst, decision))
    }

    /// Validates and indexes `request`.
    pub fn new(request: &'a PlacementRequest) -> Result<Self, PluginError> {
        let graph = request.graph.name.as_str();
        let clusters: &[Cluster] = &request.clusters;
        let mut cluster_index = HashMap::new();
        for (e, cluster) in clusters.iter().enumerate() {
            if cluster_index.insert(cluster.name.as_str(), e).is_some() {
                return Err(PluginError::invalid_input(format!(
                    "cluster `{}` appears twice in the inventory",
                    cluster.name
                )));
            }
            let a = &cluster.available;
            if !a.cpu.is_finite() || !a.memory_mib.is_finite() {
                return Err(PluginError::invalid_input(format!(
                    "cluster `{}` has a non-finite available CPU or memory",
                    cluster.name
                )));
            }
        }

        let mut service_index = HashMap::new();
        for (s, service) in request.graph.services.iter().enumerate() {
            if service_index.insert(service.name.as_str(), s).is_some() {
                return Err(PluginError::invalid_input(format!(
                    "service `{}` appears twice in graph `{graph}`",
                    service.name
                )));
            }
            let d = &service.demand;
            if !finite_non_negative(d.cpu) || !finite_non_negative(d.memory_mib) {
                return Err(PluginError::invalid_input(format!(
                    "service `{}` has a negative or non-finite CPU or memory demand",
                    service.name
                )));
            }
        }

        let mut notes = Vec::new();
        let n = request.graph.services.len();
        let mut current = vec![Current::New; n];
        let mut current_replicas = vec![0u32; n];
        let is_replacement = request.current.is_some();
        if let ROption::RSome(placement) = &request.current {
            let mut seen = vec![false; n];
            for a in placement.assignments.iter() {
                let Some(&s) = service_index.get(a.service.as_str()) else {
                    notes.push(format!(
                        "the current placement names service `{}`, which is not in the graph; ignored",
                        a.service
                    ));
                    continue;
                };
                if seen[s] {
                    return Err(PluginError::invalid_input(format!(
                        "the current placement assigns service `{}` twice",
                        a.service
                    )));
                }
                seen[s] = true;
                current_replicas[s] = a.replicas;
                match cluster_index.get(a.cluster.as_str()) {
                    Some(&e) => current[s] = Current::On(e),
                    None => {
                        current[s] = Current::Vanished(a.cluster.to_string());
                        notes.push(format!(
                            "service `{}` currently runs on `{}`, which is not in the inventory: it must move",
                            a.service, a.cluster
                        ));
                    }
                }
            }
        }

        let services: Vec<ServiceInfo> = request
            .graph
            .services
            .iter()
            .enumerate()
            .map(|(s, service)| {
                let replicas = service.replicas.max(current_replicas[s]).max(1);
                ServiceInfo {
                    name: service.name.to_string(),
                    replicas,
                    total: service.demand.times(replicas),
                    allowed: service
                        .allowed_clusters
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                }
            })
            .collect();

        // Required dependencies join services into units (union-find); preferred ones are kept
        // as pairs.
        let mut parent: Vec<usize> = (0..n).collect();
        let mut preferred_raw = Vec::new();
        for (s, service) in request.graph.services.iter().enumerate() {
            for dep in service.dependencies.iter() {
                let Some(&t) = service_index.get(dep.service.as_str()) else {
                    return Err(PluginError::invalid_input(format!(
                        "service `{}` depends on `{}`, which is not in graph `{graph}`",
                        service.name, dep.service
                    )));
                };
                if s == t {
                    continue;
                }
                match dep.kind {
                    DependencyKind::Required => {
                        let (rs, rt) = (find(&mut parent, s), find(&mut parent, t));
                        if rs != rt {
                            parent[rs.max(rt)] = rs.min(rt);
                        }
                    }
                    DependencyKind::Preferred => preferred_raw.push((s.min(t), s.max(t))),
                }
            }
        }
        let mut unit_of = vec![usize::MAX; n];
        let mut units: Vec<Unit> = Vec::new();
        let mut unit_of_root = HashMap::new();
        for s in 0..n {
            let root = find(&mut parent, s);
            let u = *unit_of_root.entry(root).or_insert_with(|| {
                units.push(Unit {
                    members: Vec::new(),
                    total: Resources::default(),
                });
                units.len() - 1
            });
            unit_of[s] = u;
            units[u].members.push(s);
            units[u].total = add(&units[u].total, &services[s].total);
        }
        preferred_raw.sort_unstable();
        preferred_raw.dedup();
        let preferred = preferred_raw
            .into_iter()
            .filter(|&(a, b)| unit_of[a] != unit_of[b])
            .collect();

        Ok(Self {
            graph,
            services,
            clusters,
            units,
            unit_of,
            preferred,
            current,
            is_replacement,
            notes,
        })
    }

    /// Names of a unit's members, for messages.
    pub fn unit_label(&self, u: usize) -> String {
        let names: Vec<&str> = self.units[u]
            .members
            .iter()
            .map(|&s| self.services[s].name.as_str())
            .collect();
        match names.as_slice() {
            [one] => format!("service `{one}`"),
            many => format!("co-located services `{}`", many.join("`, `")),
        }
    }

    /// Why unit `u` cannot go to cluster `e` given `free` resources there, or `None` if it fits.
    /// The answer is plain data: [`Instance::explain`] turns it into text only when a reason is
    /// read (most rejections are counted or discarded, and formatting numbers was most of the cost
    /// of a re-placement).
    pub fn why_not(&self, u: usize, e: usize, free: &Resources) -> Option<Why> {
        let cluster = &self.clusters[e];
        for &s in &self.units[u].members {
            let allowed = &self.services[s].allowed;
            if !allowed.is_empty() && !allowed.iter().any(|c| c == cluster.name.as_str()) {
                return Some(Why::NotAllowed { service: s });
            }
        }
        let need = &self.units[u].total;
        if need.gpu > 0 && cluster.capacity.gpu == 0 {
            return Some(Why::NoGpu);
        }
        if need.cpu > free.cpu + 1e-9 {
            return Some(Why::Cpu {
                need: need.cpu,
                free: free.cpu,
            });
        }
        if need.memory_mib > free.memory_mib + 1e-9 {
            return Some(Why::Memory {
                need: need.memory_mib,
                free: free.memory_mib,
            });
        }
        if need.gpu > free.gpu {
            return Some(Why::Gpu {
                need: need.gpu,
                free: free.gpu,
            });
        }
        None
    }

    /// Whether unit `u` fits cluster `e` given `free` resources there (no reason is built).
    pub fn fits(&self, u: usize, e: usize, free: &Resources) -> bool {
        self.why_not(u, e, free).is_none()
    }

    /// The text of a rejection, e.g. "needs 2.00 CPU, 1.50 free".
    pub fn explain(&self, why: Why) -> String {
        match why {
            Why::NotAllowed { service } => format!(
                "not in the allowed clusters of `{}`",
                self.services[service].name
            ),
            Why::NoGpu => "needs a GPU and the cluster has none".to_string(),
            Why::Cpu { need, free } => format!("needs {need:.2} CPU, {free:.2} free"),
            Why::Memory { need, free } => format!("needs {need:.0} MiB memory, {free:.0} free"),
            Why::Gpu { need, free } => format!("needs {need} GPU, {free} free"),
            Why::NoServer { cpu, memory_mib } => format!(
                "no server has room for one replica ({cpu:.2} CPU, {memory_mib:.0} MiB), \
                 though the cluster has in all"
            ),
        }
    }

    /// Sum of every service's demand.
    pub fn total_demand(&self) -> Resources {
        self.units
            .iter()
            .fold(Resources::default(), |acc, u| add(&acc, &u.total))
    }

    /// Sum of every cluster's available resources (negative availability counts as 0).
    pub fn total_available(&self) -> Resources {
        self.clusters.iter().fold(Resources::default(), |acc, c| {
            let a = Resources {
                cpu: c.available.cpu.max(0.0),
                memory_mib: c.available.memory_mib.max(0.0),
                gpu: c.available.gpu,
            };
            add(&acc, &a)
        })
    }

    /// Checks the fixed pre-conditions of upstream's first-fit: every unit fits, on its own, into
    /// at least one cluster (upstream compared with the *smallest* cluster), and the graph's total
    /// demand fits into the total available resources.
    pub fn precheck(&self) -> Result<(), PluginError> {
        for u in 0..self.units.len() {
            // The common case, a unit that fits somewhere, builds no text at all.
            if (0..self.clusters.len()).any(|e| self.fits(u, e, &self.clusters[e].available)) {
                continue;
            }
            let reasons: Vec<String> = (0..self.clusters.len())
                .filter_map(|e| {
                    self.why_not(u, e, &self.clusters[e].available)
                        .map(|why| format!("{}: {}", self.clusters[e].name, self.explain(why)))
                })
                .collect();
            let detail = if reasons.is_empty() {
                "the inventory is empty".to_string()
            } else {
                reasons.join("; ")
            };
            return Err(PluginError::infeasible(format!(
                "{} ({}) fits no cluster even on its own: {detail}",
                self.unit_label(u),
                describe(&self.units[u].total)
            )));
        }
        let need = self.total_demand();
        let have = self.total_available();
        let short = [
            ("CPU", need.cpu > have.cpu + 1e-9, need.cpu, have.cpu),
            (
                "MiB memory",
                need.memory_mib > have.memory_mib + 1e-9,
                need.memory_mib,
                have.memory_mib,
            ),
            (
                "GPU",
                need.gpu > have.gpu,
                f64::from(need.gpu),
                f64::from(have.gpu),
            ),
        ];
        for (what, is_short, need, have) in short {
            if is_short {
                return Err(PluginError::infeasible(format!(
                    "graph `{}` needs {need:.2} {what} in total, only {have:.2} available across all clusters",
                    self.graph
                )));
            }
        }
        Ok(())
    }
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// The answer for a graph without services: `decision` says so (with `objective`, if any).
pub fn nothing_to_place(
    mut decision: PlacementDecision,
    objective: Option<f64>,
) -> PlacementDecision {
    decision
        .reasons
        .push("the graph has no services: nothing to place".into());
    if let Some(value) = objective {
        decision.objective = ROption::RSome(value);
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::testing::*;

    #[test]
    fn required_dependencies_form_units_and_preferred_stay_pairs() {
        let graph = graph_of(vec![
            service("a", 1.0, 100.0, 0).requires("b"),
            service("b", 1.0, 100.0, 0),
            service("c", 2.0, 100.0, 0).requires("b").prefers("d"),
            service("d", 1.0, 100.0, 0).prefers("c"),
            service("e", 1.0, 100.0, 0).prefers("a"),
        ]);
        let request = placement_request(graph, vec![cluster("x", 8.0, 1000.0, 0)], None);
        let inst = Instance::new(&request).expect("valid");
        assert_eq!(inst.units.len(), 3);
        assert_eq!(inst.units[0].members, vec![0, 1, 2]);
        assert_eq!(inst.units[0].total.cpu, 4.0);
        assert_eq!(inst.units[1].members, vec![3]);
        assert_eq!(inst.units[2].members, vec![4]);
        // c-d counted once although declared on both sides; e-a kept.
        assert_eq!(inst.preferred, vec![(0, 4), (2, 3)]);
    }

    #[test]
    fn replicas_multiply_demand_and_take_the_larger_count() {
        let mut s = service("a", 0.5, 100.0, 1);
        s.replicas = 2;
        let request = placement_request(
            graph_of(vec![s]),
            vec![cluster("x", 8.0, 1000.0, 4)],
            Some(vec![("a", "x", 3)]),
        );
        let inst = Instance::new(&request).expect("valid");
        assert_eq!(inst.services[0].replicas, 3);
        assert_eq!(inst.services[0].total, Resources::new(1.5, 300.0, 3));
        assert_eq!(inst.current, vec![Current::On(0)]);
    }

    #[test]
    fn unknown_dependency_and_duplicates_are_invalid_input() {
        let graph = graph_of(vec![service("a", 1.0, 1.0, 0).requires("ghost")]);
        let request = placement_request(graph, vec![cluster("x", 8.0, 1000.0, 0)], None);
        let err = Instance::new(&request).expect_err("unknown dep");
        assert_eq!(err.kind, ErrorKind::INVALID_INPUT);
        assert!(err.message.contains("ghost"));

        let graph = graph_of(vec![service("a", 1.0, 1.0, 0), service("a", 1.0, 1.0, 0)]);
        let request = placement_request(graph, vec![cluster("x", 8.0, 1000.0, 0)], None);
        assert_eq!(
            Instance::new(&request).expect_err("dup").kind,
            ErrorKind::INVALID_INPUT
        );
    }

    #[test]
    fn current_on_a_vanished_cluster_is_noted() {
        let request = placement_request(
            graph_of(vec![service("a", 1.0, 1.0, 0)]),
            vec![cluster("x", 8.0, 1000.0, 0)],
            Some(vec![("a", "gone", 1)]),
        );
        let inst = Instance::new(&request).expect("valid");
        assert_eq!(inst.current, vec![Current::Vanished("gone".into())]);
        assert!(inst.notes[0].contains("gone"));
    }

    #[test]
    fn precheck_uses_the_largest_cluster_not_the_smallest() {
        // Upstream rejected this graph: 4 CPU > min(2, 8). It fits the 8-CPU cluster.
        let request = placement_request(
            graph_of(vec![service("big", 4.0, 100.0, 0)]),
            vec![
                cluster("small", 2.0, 1000.0, 0),
                cluster("large", 8.0, 1000.0, 0),
            ],
            None,
        );
        let inst = Instance::new(&request).expect("valid");
        assert!(inst.precheck().is_ok());
    }

    #[test]
    fn precheck_reports_a_service_that_fits_nowhere_and_a_total_shortfall() {
        let request = placement_request(
            graph_of(vec![service("huge", 16.0, 100.0, 0)]),
            vec![
                cluster("small", 2.0, 1000.0, 0),
                cluster("large", 8.0, 1000.0, 0),
            ],
            None,
        );
        let err = Instance::new(&request)
            .expect("valid")
            .precheck()
            .expect_err("too big");
        assert_eq!(err.kind, ErrorKind::INFEASIBLE);
        assert!(err.message.contains("`huge`"), "{}", err.message);
        assert!(
            err.message.contains("large: needs 16.00 CPU"),
            "{}",
            err.message
        );

        let request = placement_request(
            graph_of(vec![
                service("a", 3.0, 100.0, 0),
                service("b", 3.0, 100.0, 0),
                service("c", 3.0, 100.0, 0),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let err = Instance::new(&request)
            .expect("valid")
            .precheck()
            .expect_err("total");
        assert!(err.message.contains("9.00 CPU in total"), "{}", err.message);
    }
}
