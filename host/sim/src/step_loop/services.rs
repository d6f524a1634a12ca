//! The long-running services: their graph and placement as strategies see them, placement,
//! scaling, the allocation check and re-placement, and serving the step's requests.

use super::*;
use smo_plugin_api::extra::{self, ScalingDecisionExtra};

impl Run<'_> {
    pub(super) fn graph(&self) -> Graph {
        let specs = &self.sc.spec.workload.services;
        Graph {
            name: self
                .sc
                .spec
                .workload
                .graph
                .clone()
                .unwrap_or_else(|| self.sc.spec.name.clone())
                .into(),
            services: self
                .services
                .iter()
                .zip(specs)
                .map(|(s, sp)| Service {
                    name: s.name.clone(),
                    demand: s.demand,
                    replicas: {
                        let r: usize = s.instances.iter().map(|i| i.servers.len()).sum();
                        if r == 0 {
                            sp.replicas
                        } else {
                            r as u32
                        }
                    },
                    scaling: ScalingProfile {
                        alpha: sp.alpha,
                        beta: sp.beta,
                        min_replicas: sp.min_replicas,
                        max_replicas: sp.max_replicas,
                    },
                    dependencies: sp
                        .depends_on
                        .iter()
                        .map(|d| Dependency {
                            service: d.as_str().into(),
                            kind: DependencyKind::Preferred,
                        })
                        .collect(),
                    allowed_clusters: sp
                        .allowed_clusters
                        .iter()
                        .map(|c| RString::from(c.as_str()))
                        .collect(),
                    labels: vec![Label {
                        key: "user".into(),
                        value: self.user_names[s.user].clone(),
                    }]
                    .into(),
                    extra: RString::new(),
                })
                .collect(),
        }
    }

    pub(super) fn placement(&self) -> Placement {
        let mut p = Placement::default();
        for s in &self.services {
            for i in &s.instances {
                p.assignments.push(Assignment {
                    service: s.name.clone(),
                    cluster: self.sc.spec.datacenters[i.dc].name.as_str().into(),
                    replicas: i.servers.len() as u32,
                });
            }
        }
        p
    }

    pub(super) fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name.as_str() == name)
    }

    /// Rate of service `i` at step `k` (the last step's rate past the end).
    pub(super) fn rate(&self, i: usize, k: usize) -> f64 {
        let r = &self.rates[i];
        r.get(k).or(r.last()).copied().unwrap_or(0.0)
    }

    pub(super) fn place_services(&mut self, subset: &[usize]) -> Result<(), SimError> {
        let mut graph = self.graph();
        let keep: Vec<bool> = (0..self.services.len())
            .map(|i| subset.contains(&i))
            .collect();
        let mut i = 0;
        graph.services.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let req = Arc::new(PlacementRequest {
            graph,
            clusters: self.clusters(false),
            current: ROption::RNone,
            telemetry: self.telemetry(self.loads(), false),
            extra: RString::new(),
        });
        match self.call_place(&req)? {
            Ok(decision) => self.apply_service_placement(&decision, false),
            Err(DriverError::Infeasible(_)) if subset.len() > 1 => {
                let (a, b) = subset.split_at(subset.len() / 2);
                self.place_services(a)?;
                self.place_services(b)?;
            }
            Err(DriverError::Infeasible(_)) => {}
            Err(_) => self.acc().strategy_errors += 1,
        }
        Ok(())
    }

    /// Applies a (re-)placement of services; with `moving`, instances not in the decision are
    /// removed and new ones count as migrations.
    pub(super) fn apply_service_placement(&mut self, decision: &PlacementDecision, moving: bool) {
        let hint = self.server_hint(decision);
        let mut wanted: Vec<Vec<(usize, u32)>> = vec![Vec::new(); self.services.len()];
        for a in decision.placement.assignments.iter() {
            let (Some(s), Some(d)) = (
                self.service_index(a.service.as_str()),
                self.dc_index.get(a.cluster.as_str()).copied(),
            ) else {
                self.acc().invalid_decisions += 1;
                continue;
            };
            let sp = &self.sc.spec.workload.services[s];
            let allowed = sp.allowed_clusters.is_empty()
                || sp.allowed_clusters.iter().any(|c| c == a.cluster.as_str());
            if !allowed || wanted[s].iter().any(|w| w.0 == d) {
                self.acc().invalid_decisions += 1;
                continue;
            }
            wanted[s].push((d, a.replicas.clamp(1, sp.max_replicas.max(1))));
        }
        for (s, want) in wanted.into_iter().enumerate() {
            if want.is_empty() {
                continue;
            }
            let had_any = !self.services[s].instances.is_empty();
            if moving {
                let keep: Vec<usize> = want.iter().map(|w| w.0).collect();
                let gone: Vec<usize> = self.services[s]
                    .instances
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| !keep.contains(&i.dc))
                    .map(|(j, _)| j)
                    .collect();
                for j in gone.into_iter().rev() {
                    let inst = self.services[s].instances.remove(j);
                    for server in &inst.servers {
                        self.dcs[inst.dc].release(*server, &self.services[s].demand, inst.load);
                    }
                }
            }
            for (d, replicas) in want {
                let j = match self.services[s].instances.iter().position(|i| i.dc == d) {
                    Some(j) => j,
                    None => {
                        if had_any && moving {
                            self.book_migration(s, None, d, replicas);
                        }
                        self.services[s].instances.push(Inst {
                            dc: d,
                            servers: Vec::new(),
                            load: 0.0,
                            routed_rps: 0.0,
                            response_ms: 0.0,
                            selection: hint,
                        });
                        self.services[s].instances.len() - 1
                    }
                };
                self.services[s].instances[j].selection = hint;
                let _ = self.resize(s, j, replicas);
            }
            self.services[s].instances.retain(|i| !i.servers.is_empty());
        }
    }

    /// Sets instance `j` of service `s` to `replicas`; replicas that do not fit are invalid
    /// (returns `false` then). New replicas go to the servers the copy's `selection` picks
    /// (else the datacenter's own policy).
    pub(super) fn resize(&mut self, s: usize, j: usize, replicas: u32) -> bool {
        let demand = self.services[s].demand;
        let (d, load, selection) = (
            self.services[s].instances[j].dc,
            self.services[s].instances[j].load,
            self.services[s].instances[j].selection,
        );
        while self.services[s].instances[j].servers.len() > replicas as usize {
            if let Some(server) = self.services[s].instances[j].servers.pop() {
                self.dcs[d].release(server, &demand, load);
            }
        }
        while self.services[s].instances[j].servers.len() < replicas as usize {
            match self.dcs[d].place_by(&demand, load, selection) {
                Some(server) => self.services[s].instances[j].servers.push(server),
                None => {
                    self.acc().invalid_decisions += 1;
                    return false;
                }
            }
        }
        true
    }

    pub(super) fn loads(&self) -> RVec<ServiceLoad> {
        let k = self.k;
        self.services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let n = s.instances.len().max(1) as f64;
                ServiceLoad {
                    service: s.name.clone(),
                    current_rps: self.rate(i, k),
                    predicted_rps: self.rate(i, k + 1),
                    cpu_utilisation: s.instances.iter().map(|x| x.load).sum::<f64>() / n,
                    memory_utilisation: 0.0,
                    response_time_ms: s.instances.iter().map(|x| x.response_ms).sum::<f64>() / n,
                }
            })
            .collect()
    }

    pub(super) fn scale_services(&mut self, strategy: &str) -> Result<(), SimError> {
        let k = self.k;
        let mut replace = false;
        for d in 0..self.dcs.len() {
            let here: Vec<(usize, usize)> = self
                .services
                .iter()
                .enumerate()
                .filter_map(|(s, svc)| svc.instances.iter().position(|i| i.dc == d).map(|j| (s, j)))
                .collect();
            if here.is_empty() {
                continue;
            }
            let mut placement = Placement::default();
            let mut loads = RVec::new();
            for &(s, j) in &here {
                let svc = &self.services[s];
                let inst = &svc.instances[j];
                // This instance's share of the service's traffic (last step's routing).
                let prev = if k > 0 { self.rate(s, k - 1) } else { 0.0 };
                let share = if prev > 0.0 {
                    (inst.routed_rps / prev).clamp(0.0, 1.0)
                } else {
                    1.0 / svc.instances.len() as f64
                };
                placement.assignments.push(Assignment {
                    service: svc.name.clone(),
                    cluster: self.sc.spec.datacenters[d].name.as_str().into(),
                    replicas: inst.servers.len() as u32,
                });
                loads.push(ServiceLoad {
                    service: svc.name.clone(),
                    current_rps: self.rate(s, k) * share,
                    predicted_rps: self.rate(s, k + 1) * share,
                    cpu_utilisation: inst.load,
                    memory_utilisation: 0.0,
                    response_time_ms: inst.response_ms,
                });
            }
            let req = Arc::new(ScalingRequest {
                graph: self.graph(),
                cluster: self.cluster(d, false),
                placement,
                telemetry: self.telemetry(loads, false),
                extra: RString::new(),
            });
            let r = self.driver.scale(strategy, &req);
            if let Ok((decision, took)) = &r {
                self.step_scale_time += *took;
                self.record_forecasts(&decision.extra, &req.telemetry.loads);
            }
            let call = Call {
                kind: DecisionKind::Scaling,
                strategy,
                graph: req.graph.name.as_str(),
            };
            let decision = match self.booked(call, r)? {
                Ok(decision) => decision,
                Err(DriverError::Infeasible(_)) => {
                    replace = true;
                    continue;
                }
                Err(_) => {
                    self.acc().strategy_errors += 1;
                    continue;
                }
            };
            replace |= decision.infeasible_replace;
            for choice in decision.replicas.iter() {
                let Some(&(s, j)) = here
                    .iter()
                    .find(|(s, _)| self.services[*s].name == choice.service)
                else {
                    self.acc().invalid_decisions += 1;
                    continue;
                };
                let sp = &self.sc.spec.workload.services[s];
                let (lo, hi) = (sp.min_replicas.max(1), sp.max_replicas.max(1));
                if choice.replicas < lo || choice.replicas > hi {
                    self.acc().invalid_decisions += 1;
                }
                // Upstream SMO re-places the graph when the replicas do not fit.
                replace |= !self.resize(s, j, choice.replicas.clamp(lo, hi));
            }
        }
        if replace {
            self.replace_services()?;
        }
        Ok(())
    }

    /// Books the forecasts a scaling decision reports ([`ScalingDecisionExtra`]) against the
    /// rates the request carried; an `extra` that cannot be read books none.
    pub(super) fn record_forecasts(&mut self, extra: &RString, loads: &RVec<ServiceLoad>) {
        let Ok(reported) = extra::read::<ScalingDecisionExtra>(extra.as_str()) else {
            return;
        };
        for f in &reported.forecasts {
            let (name, Some(pred)) = (f.service.as_str(), f.forecast_rps) else {
                continue;
            };
            let (Some(i), Some(actual)) = (
                self.service_index(name),
                loads
                    .iter()
                    .find(|l| l.service.as_str() == name)
                    .map(|l| l.current_rps),
            ) else {
                continue;
            };
            if actual > 0.0 {
                let a = &mut self.forecast_acc[i];
                *a = (
                    a.0 + 1,
                    a.1 + pred,
                    a.2 + actual,
                    a.3 + (pred - actual).abs() / actual,
                );
            }
        }
    }

    /// Proactive allocation accuracy and elasticity of service `i` at this step, before its
    /// requests are served: capacity `c = Σ max(α·r + β, 0)` against demand λ. An interval
    /// (the period between two scaling calls) is accurate when every step's capacity covered
    /// its demand and the largest capacity is at most 1.2 × the capacity of the fewest
    /// replicas that cover the interval's peak demand.
    pub(super) fn allocation_check(&mut self, i: usize) {
        let k = self.k;
        let sp = &self.sc.spec.workload.services[i];
        let lambda = self.rate(i, k);
        let cap: f64 = self.services[i]
            .instances
            .iter()
            .map(|x| (sp.alpha * x.servers.len() as f64 + sp.beta).max(0.0))
            .sum();
        let covered = cap + 1e-9 >= lambda;
        let iv = &mut self.alloc_interval[i];
        *iv = (iv.0.max(lambda), iv.1.max(cap), iv.2 && covered);
        let closes = (k + 1) % self.scaling_every == 0 || k + 1 == self.steps;
        let interval = closes.then(|| std::mem::replace(iv, (0.0, 0.0, true)));
        // (accurate, accurate within the SLO band)
        let accurate = interval.map(|(peak, cap, covered)| {
            let cap_needed = allocation::capacity_covering(sp, peak);
            let within = covered && cap <= 1.2 * cap_needed + 1e-9;
            let user = self.services[i].user;
            let nearest_ms = self.services[i]
                .instances
                .iter()
                .map(|x| self.net.user_lat[user][x.dc])
                .fold(f64::INFINITY, f64::min);
            let band = allocation::capacity_within_slo(sp, peak, nearest_ms, self.sc.spec.slo_ms)
                .unwrap_or(cap_needed);
            let band = band.max(cap_needed);
            let within_slo = covered && cap + 1e-9 >= band && cap <= 1.2 * band + 1e-9;
            (within, within_slo)
        });
        let rose = k > 0 && lambda > 1.2 * self.rate(i, k - 1);
        let step_s = f64::from(self.step_s);
        let scale_time = self.step_scale_time;
        let pending = &mut self.load_step[i];
        if rose && pending.is_none() {
            *pending = Some(k);
        }
        let resolved = match *pending {
            Some(k0) if covered => {
                *pending = None;
                Some((k - k0) as f64 * step_s)
            }
            _ => None,
        };
        let last = k + 1 == self.steps;
        let unresolved = last && pending.is_some();
        let acc = self.acc();
        if let Some((accurate, within_slo)) = accurate {
            acc.alloc_intervals += 1;
            acc.alloc_accurate += u64::from(accurate);
            acc.alloc_accurate_slo += u64::from(within_slo);
        }
        if let Some(s) = resolved {
            acc.elastic_events += 1;
            acc.elastic_s_max = acc.elastic_s_max.max(s);
            acc.elastic_decision_max = acc.elastic_decision_max.max(scale_time);
        }
        acc.elastic_unresolved += u64::from(unresolved);
    }

    pub(super) fn replace_services(&mut self) -> Result<(), SimError> {
        let req = Arc::new(PlacementRequest {
            graph: self.graph(),
            clusters: self.clusters(false),
            current: ROption::RSome(self.placement()),
            telemetry: self.telemetry(self.loads(), true),
            extra: RString::new(),
        });
        match self.call_place(&req)? {
            Ok(decision) => self.apply_service_placement(&decision, true),
            Err(DriverError::Infeasible(_)) => {}
            Err(_) => self.acc().strategy_errors += 1,
        }
        Ok(())
    }
}
