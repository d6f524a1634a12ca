//! Moving services: the offload machine's steps, the migration strategy's moves, and what a
//! copy costs (energy, downtime, egress).

use super::*;

impl Run<'_> {
    pub(super) fn is_edge(&self, d: usize) -> bool {
        self.sc.spec.datacenters[d].role == Role::Edge
    }

    /// One observation of the offload machine at this step: the users' mean delay over the
    /// services' copies (each copy's response time of the last served step, weighted by the
    /// requests it took; NaN before any traffic). When the machine acts, the migration
    /// strategy is called with `extra = action.request_extra_json()` (the machine asks for
    /// `delay − target`, the target being the middle of the band), its moves are applied and
    /// the machine is told the outcome at once (a simulated move takes effect in the step).
    pub(super) fn offload_step(&mut self, strategy: &str) -> Result<(), SimError> {
        let (mut w, mut sum) = (0.0, 0.0);
        let (mut can_offload, mut can_unoffload) = (false, false);
        for s in &self.services {
            let mut at_edge = false;
            for inst in &s.instances {
                w += inst.routed_rps;
                sum += inst.routed_rps * inst.response_ms;
                at_edge |= self.is_edge(inst.dc);
            }
            can_offload |= !at_edge;
            can_unoffload |= at_edge;
        }
        let obs = Observation {
            delay_ms: if w > 0.0 { sum / w } else { f64::NAN },
            autoscaler_active: false,
            can_offload,
            can_unoffload,
        };
        let at_s = self.k as f64 * f64::from(self.step_s);
        let now = Duration::from_secs_f64(at_s);
        let Some(machine) = self.offload.as_mut() else {
            return Ok(());
        };
        let Some(action) = machine.step(now, &obs) else {
            return Ok(());
        };
        let moved = self.migrate_services(strategy, action.request_extra_json().into())?;
        let outcome = match moved {
            Some((to, from)) if to + from > 0 => ActionOutcome::Applied {
                moves: (to + from) as usize,
            },
            Some(_) => ActionOutcome::NoChange {
                reason: "no move applied".into(),
            },
            None => ActionOutcome::Failed {
                error: "the migration strategy failed or found nothing feasible".into(),
            },
        };
        if let Some(machine) = self.offload.as_mut() {
            machine.finish(now, outcome);
        }
        let (to_edge, from_edge) = moved.unwrap_or((0, 0));
        self.offload_events.push(metrics::OffloadEvent {
            hour: self.hour() as u32,
            at_s,
            action: match action {
                Action::Offload { .. } => "offload".into(),
                Action::Unoffload { .. } => "unoffload".into(),
            },
            measured_delay_ms: obs.delay_ms,
            required_decrease_ms: action.required_decrease_ms(),
            moves_to_edge: to_edge,
            moves_from_edge: from_edge,
        });
        Ok(())
    }

    /// Calls the migration strategy with `extra` and applies its moves; returns the moves
    /// applied onto and off edge datacenters (`None` when the call failed or was infeasible).
    pub(super) fn migrate_services(
        &mut self,
        strategy: &str,
        extra: RString,
    ) -> Result<Option<(u64, u64)>, SimError> {
        let mut telemetry = self.telemetry(self.loads(), true);
        let k = self.k;
        for (i, (s, sp)) in self
            .services
            .iter()
            .zip(&self.sc.spec.workload.services)
            .enumerate()
        {
            let rps = self.rate(i, k);
            telemetry.calls.push(CallRate {
                from: "users".into(),
                to: s.name.clone(),
                rps,
                mean_response_bytes: sp.response_kb * 1024.0,
            });
            for dep in &sp.depends_on {
                let bytes = self
                    .sc
                    .spec
                    .workload
                    .services
                    .iter()
                    .find(|x| &x.name == dep)
                    .map_or(0.0, |x| x.response_kb * 1024.0);
                telemetry.calls.push(CallRate {
                    from: s.name.clone(),
                    to: dep.as_str().into(),
                    rps,
                    mean_response_bytes: bytes,
                });
            }
        }
        let req = Arc::new(MigrationRequest {
            graph: self.graph(),
            clusters: self.clusters(false),
            current: self.placement(),
            telemetry,
            extra,
        });
        let r = self.driver.migrate(strategy, &req);
        let call = Call {
            kind: DecisionKind::Migration,
            strategy,
            graph: req.graph.name.as_str(),
        };
        let decision = match self.booked(call, r)? {
            Ok(d) => d,
            Err(DriverError::Infeasible(_)) => return Ok(None),
            Err(_) => {
                self.acc().strategy_errors += 1;
                return Ok(None);
            }
        };
        let (mut to_edge, mut from_edge) = (0, 0);
        for mv in decision.moves.iter() {
            let s = self.service_index(mv.service.as_str());
            let from = self.dc_index.get(mv.from.as_str()).copied();
            let to = self.dc_index.get(mv.to.as_str()).copied();
            let known = |name: &RString, idx: Option<usize>| name.is_empty() || idx.is_some();
            let (Some(s), true, true) = (s, known(&mv.from, from), known(&mv.to, to)) else {
                self.acc().invalid_decisions += 1;
                continue;
            };
            if !self.apply_move(s, from, to, mv.replicas) {
                self.acc().invalid_decisions += 1;
                continue;
            }
            to_edge += u64::from(to.is_some_and(|t| self.is_edge(t)));
            from_edge += u64::from(from.is_some_and(|f| self.is_edge(f)));
        }
        Ok(Some((to_edge, from_edge)))
    }

    /// One move of a migration decision; `false` when it cannot be applied.
    pub(super) fn apply_move(
        &mut self,
        s: usize,
        from: Option<usize>,
        to: Option<usize>,
        n: u32,
    ) -> bool {
        let find = |svc: &Svc, d: usize| svc.instances.iter().position(|i| i.dc == d);
        let sp = &self.sc.spec.workload.services[s];
        if to.is_some_and(|t| {
            !sp.allowed_clusters.is_empty()
                && !sp
                    .allowed_clusters
                    .iter()
                    .any(|c| c == &self.sc.spec.datacenters[t].name)
        }) {
            return false;
        }
        match (from, to) {
            (Some(f), Some(t)) if f != t => {
                let Some(jf) = find(&self.services[s], f) else {
                    return false;
                };
                let have = self.services[s].instances[jf].servers.len() as u32;
                let n = if n == 0 { have } else { n.min(have) };
                let load = self.services[s].instances[jf].load;
                let selection = self.services[s].instances[jf].selection;
                let jt = match find(&self.services[s], t) {
                    Some(j) => j,
                    None => {
                        self.services[s].instances.push(Inst {
                            dc: t,
                            servers: Vec::new(),
                            load,
                            routed_rps: 0.0,
                            response_ms: 0.0,
                            selection,
                        });
                        self.services[s].instances.len() - 1
                    }
                };
                let before = self.services[s].instances[jt].servers.len() as u32;
                let _ = self.resize(s, jt, before + n);
                let moved = self.services[s].instances[jt].servers.len() as u32 - before;
                let _ = self.resize(s, jf, have - moved);
                if moved > 0 {
                    self.book_migration(s, Some(f), t, moved);
                }
                self.services[s].instances.retain(|i| !i.servers.is_empty());
                moved > 0
            }
            (None, Some(t)) => {
                let jt = match find(&self.services[s], t) {
                    Some(j) => j,
                    None => {
                        self.services[s].instances.push(Inst {
                            dc: t,
                            servers: Vec::new(),
                            load: 0.0,
                            routed_rps: 0.0,
                            response_ms: 0.0,
                            selection: None,
                        });
                        self.services[s].instances.len() - 1
                    }
                };
                let before = self.services[s].instances[jt].servers.len() as u32;
                let _ = self.resize(s, jt, before + n.max(1));
                let added = self.services[s].instances[jt].servers.len() as u32 - before;
                if added > 0 {
                    self.book_migration(s, None, t, added);
                }
                self.services[s].instances.retain(|i| !i.servers.is_empty());
                added > 0
            }
            (Some(f), None) => {
                let Some(jf) = find(&self.services[s], f) else {
                    return false;
                };
                let have = self.services[s].instances[jf].servers.len() as u32;
                let n = if n == 0 { have } else { n.min(have) };
                let others = self.services[s].instances.len() > 1;
                if n == have && !others {
                    return false; // never stop the last copy of a service
                }
                let _ = self.resize(s, jf, have - n);
                self.services[s].instances.retain(|i| !i.servers.is_empty());
                true
            }
            _ => false,
        }
    }

    /// Counts a migration of `replicas` replicas of service `s` to `to` (from `from`, or a new
    /// copy) with its energy, downtime and egress cost.
    pub(super) fn book_migration(
        &mut self,
        s: usize,
        from: Option<usize>,
        to: usize,
        replicas: u32,
    ) {
        let gib = self.services[s].demand.memory_mib / 1024.0 * f64::from(replicas);
        let downtime = match from {
            Some(f) => self.services[s].demand.memory_mib * 8.0 / self.net.dc_bw[f][to].max(1e-9),
            None => 0.0,
        };
        self.book_copy(gib, to, downtime, Some(from.unwrap_or(to)));
    }

    /// Books one migration: `gib` copied to `to` (the copy energy charged there), its
    /// downtime, and egress of those GiB at `egress_from`'s price (`None`: none).
    pub(super) fn book_copy(
        &mut self,
        gib: f64,
        to: usize,
        downtime_s: f64,
        egress_from: Option<usize>,
    ) {
        let kwh = gib * self.sc.spec.migration.energy_wh_per_gib / 1000.0;
        self.pending_kwh[to] += kwh;
        let egress =
            egress_from.map_or(0.0, |d| gib * self.sc.spec.datacenters[d].prices.egress_gb);
        let acc = self.acc();
        acc.migrations += 1;
        acc.migration_kwh += kwh;
        acc.migration_downtime_s += downtime_s;
        acc.migration_cost += egress;
    }
}
