//! VM arrivals: asking the placement strategy for a batch, honouring its server choice, and
//! booking each VM on a server of the datacenter it chose.

use super::*;
use smo_plugin_api::extra::{self, VmExtra};

impl Run<'_> {
    /// Asks for a placement of `batch`. A VM whose datacenter had aggregate room but no server
    /// for it is asked for once more (`retry`), with every cluster's largest free slot.
    pub(super) fn place_vms(&mut self, batch: &[u32], retry: bool) -> Result<(), SimError> {
        let services: RVec<Service> = batch
            .iter()
            .map(|&id| {
                let vm = &self.vms[id as usize];
                self.vm_service(
                    id as usize,
                    extra::write(&VmExtra {
                        duration_s: Some(f64::from(vm.duration_s)),
                        ..VmExtra::default()
                    }),
                )
            })
            .collect();
        let req = Arc::new(PlacementRequest {
            graph: Graph {
                name: format!("{}-step-{}", self.sc.spec.name, self.k).into(),
                services,
            },
            clusters: self.clusters(retry),
            current: ROption::RNone,
            telemetry: self.telemetry(RVec::new(), false),
            extra: RString::new(),
        });
        match self.call_place(&req)? {
            Ok(decision) => {
                let refused = self.apply_vm_placement(batch, &decision, retry);
                if !refused.is_empty() {
                    self.place_vms(&refused, true)?;
                }
            }
            Err(DriverError::Infeasible(_)) if batch.len() > 1 => {
                let (a, b) = batch.split_at(batch.len() / 2);
                self.place_vms(a, retry)?;
                self.place_vms(b, retry)?;
            }
            Err(DriverError::Infeasible(_)) => self.acc().vm.failed += 1,
            Err(_) => {
                let acc = self.acc();
                acc.strategy_errors += 1;
                acc.vm.failed += batch.len() as u64;
            }
        }
        Ok(())
    }

    /// VM `id` as strategies see it: service `vm-<id>`, one replica, its user as a label.
    pub(super) fn vm_service(&self, id: usize, extra: RString) -> Service {
        let vm = &self.vms[id];
        Service {
            name: format!("vm-{id}").into(),
            demand: vm_demand(vm),
            replicas: 1,
            scaling: ScalingProfile {
                alpha: 0.0,
                beta: 0.0,
                min_replicas: 1,
                max_replicas: 1,
            },
            dependencies: RVec::new(),
            allowed_clusters: RVec::new(),
            labels: vec![Label {
                key: "user".into(),
                value: self.user_names[vm.user as usize].clone(),
            }]
            .into(),
            extra,
        }
    }

    /// The server selection a placement decision asks for (`extra.server_selection`); one
    /// that cannot be read is counted and the datacenters' own policies apply.
    pub(super) fn server_hint(&mut self, decision: &PlacementDecision) -> Option<ServerSelection> {
        match server_hint::requested(decision.extra.as_str()) {
            Ok(hint) => hint,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the decision's server selection");
                self.acc().invalid_server_hints += 1;
                None
            }
        }
    }

    /// Applies a decision; returns the VMs refused for lack of a server in a known datacenter
    /// (not counted as failed yet unless this is the `retry`).
    pub(super) fn apply_vm_placement(
        &mut self,
        batch: &[u32],
        decision: &PlacementDecision,
        retry: bool,
    ) -> Vec<u32> {
        let mut refused = Vec::new();
        let pos: HashMap<u32, usize> = batch.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let mut done = vec![false; batch.len()];
        let slo = self.sc.spec.slo_ms;
        let h = self.hour();
        let hint = self.server_hint(decision);
        for a in decision.placement.assignments.iter() {
            let Some(i) = vm_id(&a.service).and_then(|id| pos.get(&(id as u32)).copied()) else {
                self.hours[h].invalid_decisions += 1;
                continue;
            };
            if done[i] {
                self.hours[h].invalid_decisions += 1;
                continue;
            }
            done[i] = true;
            let id = batch[i];
            let vm = self.vms[id as usize];
            let Some(d) = self.dc_index.get(a.cluster.as_str()).copied() else {
                self.hours[h].invalid_decisions += 1;
                self.hours[h].vm.failed += 1;
                continue;
            };
            let Some(server) = self.dcs[d].place_by(&vm_demand(&vm), 1.0, hint) else {
                self.hours[h].invalid_decisions += 1;
                if retry {
                    self.hours[h].vm.failed += 1;
                } else {
                    refused.push(id);
                }
                continue;
            };
            self.vm_placed[id as usize] = true;
            let util = self.dcs[d].utilisation();
            let resp = self.net.user_lat[vm.user as usize][d]
                + processing(self.sc.spec.datacenters[d].processing_ms, util);
            let acc = &mut self.hours[h];
            acc.vm.served += 1;
            acc.placed_vms += 1;
            acc.vm.samples.push((resp, 1.0));
            if resp > slo {
                acc.vm.slo_violations += 1;
            }
            self.vm_mix.start(id as usize, &vm, resp > slo);
            self.dc_acc[d].placed_vms += 1;
            let end = self.k + (vm.duration_s.div_ceil(self.step_s)).max(1) as usize;
            let run_h = (end.min(self.steps) - self.k) as f64 * f64::from(self.step_s) / 3600.0;
            self.hours[h].vm_core_hours += vm.cpu * run_h;
            self.vm_at[id as usize] = Some(VmAt {
                dc: d as u16,
                server,
                end,
                late: resp > slo,
            });
            if end < self.steps {
                self.releases[end].push(id);
            }
            self.running += 1;
        }
        let missing = done.iter().filter(|d| !**d).count() as u64;
        self.hours[h].vm.failed += missing;
        refused
    }
}
