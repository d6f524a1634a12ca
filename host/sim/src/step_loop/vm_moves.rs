//! VM migration: offers the running VMs to a `vm_migration` strategy and applies the moves it
//! plans, inside a datacenter (re-packing servers) or between datacenters, at their copy cost.
//!
//! The request's graph is the running VMs (`vm-<id>`, one replica each) with, in each VM's
//! `extra`, `{"duration_s", "remaining_s", "server"}`; `current` says which datacenter runs each;
//! the clusters carry their `server_detail` as for placements; `extra` is `{"vms": true,
//! "copy_wh_per_gib": <the scenario's migration.energy_wh_per_gib>}`. A
//! decision's `extra` may name each moved VM's target server, `{"servers": {"vm-12": 3}}`
//! (an index into the target datacenter's `server_detail.servers`). A move without one goes
//! to the server the datacenter's own policy picks, and must then change datacenter.
//!
//! A move is refused, and counted as an invalid decision, when its VM is not running on
//! `from`, its target server has no room or is where the VM already is, or it would make a VM
//! that answers in time answer late. Each applied move costs `migration.energy_wh_per_gib` per
//! GiB of the VM's memory (charged to the target), a downtime of its memory over the link's
//! bandwidth, and egress between datacenters.

use super::{vm_demand, vm_id, Run, SimError, VmAt};
use crate::driver::DriverError;
use smo_core::delay::processing;
use smo_plugin_api::extra::{self, VmExtra, VmMigrationRequestExtra, VmMovesExtra};
use smo_plugin_api::{Assignment, Graph, MigrationRequest, Move, Placement, RVec};
use std::collections::HashMap;
use std::sync::Arc;

/// The target servers a decision names ([`VmMovesExtra`]); an `extra` that is empty or `{}`
/// names none.
fn target_servers(extra: &str) -> Result<HashMap<String, u32>, String> {
    extra::read::<VmMovesExtra>(extra)
        .map(|e| e.servers.into_iter().collect())
        .map_err(|e| {
            format!("the decision's {e} (expected {{\"servers\": {{\"vm-<id>\": <server>}}}})")
        })
}

impl Run<'_> {
    /// Calls the VM migration strategy `strategy` with the running VMs and applies its moves.
    pub(super) fn migrate_vms(&mut self, strategy: &str) -> Result<(), SimError> {
        let span = tracing::debug_span!("vm_migration", strategy, step = self.k);
        let _enter = span.enter();
        let req = Arc::new(self.vm_request());
        let r = self.driver.migrate(strategy, &req);
        let call = super::Call {
            kind: smo_core::decision::DecisionKind::Migration,
            strategy,
            graph: req.graph.name.as_str(),
        };
        let decision = match self.booked(call, r)? {
            Ok(d) => d,
            Err(DriverError::Infeasible(_)) => return Ok(()),
            Err(_) => {
                self.acc().strategy_errors += 1;
                return Ok(());
            }
        };
        let servers = match target_servers(decision.extra.as_str()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the VM migration decision");
                self.acc().invalid_decisions += 1;
                return Ok(());
            }
        };
        let mut applied = 0usize;
        for mv in decision.moves.iter() {
            let server = servers.get(mv.service.as_str()).copied();
            if self.move_vm(mv, server) {
                applied += 1;
            } else {
                let acc = self.acc();
                acc.invalid_decisions += 1;
                acc.refused_vm_moves += 1;
            }
        }
        tracing::debug!(asked = decision.moves.len(), applied, "VM moves applied");
        Ok(())
    }

    /// The running VMs as a migration request.
    fn vm_request(&mut self) -> MigrationRequest {
        let now_s = self.k as u64 * u64::from(self.step_s);
        let mut services = RVec::new();
        let mut current = Placement::default();
        for (id, at) in self.vm_at.iter().enumerate() {
            let Some(at) = at else { continue };
            let vm = &self.vms[id];
            let end_s = (at.end as u64 * u64::from(self.step_s)).max(now_s);
            let service = self.vm_service(
                id,
                extra::write(&VmExtra {
                    duration_s: Some(f64::from(vm.duration_s)),
                    remaining_s: Some((end_s - now_s) as f64),
                    server: Some(u64::from(at.server)),
                }),
            );
            current.assignments.push(Assignment {
                service: service.name.clone(),
                cluster: self.sc.spec.datacenters[at.dc as usize]
                    .name
                    .as_str()
                    .into(),
                replicas: 1,
            });
            services.push(service);
        }
        MigrationRequest {
            graph: Graph {
                name: format!("{}-vms-step-{}", self.sc.spec.name, self.k).into(),
                services,
            },
            clusters: self.clusters(false),
            current,
            telemetry: self.telemetry(RVec::new(), true),
            extra: extra::write(&VmMigrationRequestExtra {
                vms: true,
                copy_wh_per_gib: Some(self.sc.spec.migration.energy_wh_per_gib),
            }),
        }
    }

    /// Applies one move to `server` of its target (or the target's own pick); `false` when it
    /// is refused (see the module documentation).
    fn move_vm(&mut self, mv: &Move, server: Option<u32>) -> bool {
        let id = vm_id(&mv.service);
        let Some((id, at)) = id.and_then(|id| Some((id, self.vm_at.get(id).copied()??))) else {
            return false;
        };
        let from = at.dc as usize;
        if self.dc_index.get(mv.from.as_str()) != Some(&from) {
            return false;
        }
        let Some(to) = self.dc_index.get(mv.to.as_str()).copied() else {
            return false;
        };
        let vm = self.vms[id];
        let demand = vm_demand(&vm);
        if to != from && !at.late {
            let util = self.dcs[to].utilisation();
            let resp = self.net.user_lat[vm.user as usize][to]
                + processing(self.sc.spec.datacenters[to].processing_ms, util);
            if resp > self.sc.spec.slo_ms {
                return false;
            }
        }
        let placed = match server {
            Some(s) if to == from && s == at.server => None,
            Some(s) => self.dcs[to].place_on(s, &demand, 1.0).then_some(s),
            None if to != from => self.dcs[to].place(&demand, 1.0),
            None => None,
        };
        let Some(s) = placed else {
            return false;
        };
        self.dcs[from].release(at.server, &demand, 1.0);
        self.vm_at[id] = Some(VmAt {
            dc: to as u16,
            server: s,
            ..at
        });
        self.book_vm_move(&demand, from, to);
        true
    }

    /// Books the copy of a VM with `demand` from datacenter `from` to `to` (no egress
    /// inside a datacenter).
    fn book_vm_move(&mut self, demand: &smo_plugin_api::Resources, from: usize, to: usize) {
        let downtime = demand.memory_mib * 8.0 / self.net.dc_bw[from][to].max(1e-9);
        let egress_from = (from != to).then_some(from);
        self.book_copy(demand.memory_mib / 1024.0, to, downtime, egress_from);
    }
}

#[cfg(test)]
mod tests {
    use super::target_servers;

    #[test]
    fn target_servers_read_the_decision_extra_and_name_what_is_wrong() {
        assert!(target_servers("").unwrap().is_empty());
        assert!(target_servers("{}").unwrap().is_empty());
        let s = target_servers(r#"{"servers": {"vm-3": 7}}"#).unwrap();
        assert_eq!(s.get("vm-3"), Some(&7));
        let e = target_servers(r#"{"servers": {"vm-3": -1}}"#).unwrap_err();
        assert!(e.contains("extra") && e.contains("servers"), "{e}");
        let e = target_servers(r#"{"servers": [3]}"#).unwrap_err();
        assert!(e.contains("servers"), "{e}");
    }
}
