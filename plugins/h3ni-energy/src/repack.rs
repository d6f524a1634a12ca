//! `h3ni-energy/repack`: re-packs the running VMs inside each cluster so that lightly used
//! servers empty and switch off, when the idle power saved pays back the copy energy.
//!
//! Online placement never revisits a VM: when VMs end they leave holes, and a server stays on
//! for the last VM on it. Each call takes the servers from the least used up, and tries to move
//! every VM of one onto the other servers that are on (where each VM's draw rises least). The
//! server is emptied only when the energy saved over the VMs' remaining time (capped at
//! `horizon_h`) is at least `payback` times the energy of copying their memory. Servers that
//! received VMs are not emptied in the same call, so no VM moves twice. Then (`shift`) single
//! VMs move to a server that draws less for them, under the same payback rule.

use crate::energy::{fits, ClusterModel, ServerState};
use serde::Deserialize;
use smo_plugin_api::extra::{self, VmExtra, VmMigrationRequestExtra, VmMovesExtra};
use smo_plugin_api::prelude::*;
use std::collections::HashMap;

/// `h3ni-energy/repack` parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepackParams {
    /// Hours of saving counted at most (a VM's remaining time beyond is not counted: later
    /// arrivals may need the server again).
    pub horizon_h: f64,
    /// Energy saved over copying energy a server's emptying must reach.
    pub payback: f64,
    /// Copy energy per GiB of memory moved, Wh, when the host does not say
    /// (`copy_wh_per_gib` in the request's `extra`).
    pub copy_wh_per_gib: f64,
    /// Most VMs moved per call.
    pub max_moves: usize,
    /// Also move single VMs from a server to one that draws less for them, when that pays
    /// back alone (without emptying the server).
    pub shift: bool,
}

impl Default for RepackParams {
    fn default() -> Self {
        Self {
            horizon_h: 4.0,
            payback: 2.0,
            copy_wh_per_gib: 10.0,
            max_moves: 500,
            shift: true,
        }
    }
}

impl RepackParams {
    pub fn check(self) -> Result<Self, PluginError> {
        let finite = |v: f64| v.is_finite();
        let checks = [
            (
                "horizon_h",
                "> 0",
                finite(self.horizon_h) && self.horizon_h > 0.0,
            ),
            (
                "payback",
                ">= 0",
                finite(self.payback) && self.payback >= 0.0,
            ),
            (
                "copy_wh_per_gib",
                ">= 0",
                finite(self.copy_wh_per_gib) && self.copy_wh_per_gib >= 0.0,
            ),
        ];
        match checks.iter().find(|(_, _, ok)| !ok) {
            Some((name, rule, _)) => Err(PluginError::bad_parameters(format!(
                "`{name}` must be {rule}"
            ))),
            None => Ok(self),
        }
    }
}

/// One running VM as the plan sees it.
#[derive(Debug, Clone)]
struct Vm {
    name: RString,
    demand: Resources,
    remaining_h: f64,
}

/// A server's VMs moved to the servers that receive them, and what that is worth.
struct Drain {
    targets: Vec<(usize, usize)>,
    states: Vec<ServerState>,
    saved_wh: f64,
    copy_wh: f64,
}

/// One VM's planned move inside its cluster: the target server, the energy it saves (its
/// share of an emptied server's saving) and the energy its copy costs, Wh.
struct Planned {
    vm: Vm,
    to: usize,
    gain_wh: f64,
    copy_wh: f64,
}

/// What one cluster's re-packing plans.
#[derive(Default)]
struct ClusterPlan {
    moves: Vec<Planned>,
    emptied: usize,
    shifted: usize,
}

impl ClusterPlan {
    fn saved_wh(&self) -> f64 {
        self.moves.iter().map(|m| m.gain_wh).sum()
    }
    fn copy_wh(&self) -> f64 {
        self.moves.iter().map(|m| m.copy_wh).sum()
    }
}

/// Which servers took part in this call: emptied ones receive nothing, receivers are neither
/// emptied nor shift VMs away, and servers that shifted VMs away receive none back.
struct Roles {
    emptied: Vec<bool>,
    received: Vec<bool>,
    gave: Vec<bool>,
}

/// The re-packing migration strategy.
pub struct Repack {
    params: RepackParams,
}

impl Repack {
    pub fn new(params: RepackParams) -> Self {
        Self { params }
    }
}

impl Migration for Repack {
    fn plan(&self, req: &MigrationRequest) -> Result<MigrationDecision, PluginError> {
        let extra: VmMigrationRequestExtra = extra::read(req.extra.as_str()).unwrap_or_default();
        let mut d = MigrationDecision::default();
        if !extra.vms {
            d.reasons.push(
                "no VMs offered: repack moves running VMs (run it as the host's vm_migration)"
                    .into(),
            );
            return Ok(d);
        }
        let copy_wh = extra.copy_wh_per_gib.unwrap_or(self.params.copy_wh_per_gib);
        let on: HashMap<&str, &str> = req
            .current
            .assignments
            .iter()
            .map(|a| (a.service.as_str(), a.cluster.as_str()))
            .collect();
        let mut by_cluster: HashMap<&str, Vec<(usize, Vm)>> = HashMap::new();
        for s in req.graph.services.iter() {
            let Some(cluster) = on.get(s.name.as_str()) else {
                continue;
            };
            let vm = extra::read::<VmExtra>(s.extra.as_str());
            let (Some(remaining_s), Some(server)) = vm
                .as_ref()
                .map_or((None, None), |x| (x.remaining_s, x.server))
            else {
                return Err(PluginError::invalid_input(format!(
                    "VM `{}`: extra needs `remaining_s` and `server`",
                    s.name
                )));
            };
            by_cluster.entry(cluster).or_default().push((
                usize::try_from(server).unwrap_or(usize::MAX),
                Vm {
                    name: s.name.clone(),
                    demand: s.demand,
                    remaining_h: remaining_s.max(0.0) / 3600.0,
                },
            ));
        }
        let mut moved = VmMovesExtra::default();
        let mut budget = self.params.max_moves;
        for c in req.clusters.iter() {
            let Some(vms) = by_cluster.remove(c.name.as_str()) else {
                continue;
            };
            let model = ClusterModel::new(c, 1.0);
            let plan = self.repack(&model, vms, copy_wh, &mut budget);
            for m in &plan.moves {
                moved.servers.insert(
                    m.vm.name.to_string(),
                    u32::try_from(m.to).unwrap_or(u32::MAX),
                );
                d.moves.push(Move {
                    service: m.vm.name.clone(),
                    from: c.name.clone(),
                    to: c.name.clone(),
                    replicas: 1,
                    reason: format!("re-pack in {}: to server {}", c.name, m.to).into(),
                    expected_gain: m.gain_wh,
                    expected_cost: m.copy_wh,
                });
            }
            if !plan.moves.is_empty() {
                d.reasons.push(
                    format!(
                        "{}: {} server(s) emptied, {} VM(s) shifted to servers that draw less \
                         for them; about {:.0} Wh saved within {} h for {:.0} Wh of copying",
                        c.name,
                        plan.emptied,
                        plan.shifted,
                        plan.saved_wh(),
                        self.params.horizon_h,
                        plan.copy_wh()
                    )
                    .into(),
                );
            }
        }
        if d.moves.is_empty() {
            d.reasons
                .push("every VM stays: no server's emptying pays back its copies".into());
        }
        d.extra = extra::write(&moved);
        Ok(d)
    }
}

impl Repack {
    /// One cluster's plan: first the servers to empty, least used first; then, with `shift`,
    /// single VMs to servers that draw less for them.
    fn repack(
        &self,
        model: &ClusterModel,
        vms: Vec<(usize, Vm)>,
        copy_wh: f64,
        budget: &mut usize,
    ) -> ClusterPlan {
        let mut states = model.server_states();
        let mut on_server: Vec<Vec<Vm>> = vec![Vec::new(); states.len()];
        for (server, vm) in vms {
            if let Some(list) = on_server.get_mut(server) {
                list.push(vm);
            }
        }
        let n = states.len();
        let mut roles = Roles {
            emptied: vec![false; n],
            received: vec![false; n],
            gave: vec![false; n],
        };
        let mut order: Vec<usize> = (0..n).filter(|&i| !on_server[i].is_empty()).collect();
        let used = |s: &ServerState| model.server_w(s) - model.server_idle_w(s);
        order.sort_by(|&a, &b| used(&states[a]).total_cmp(&used(&states[b])));
        let mut plan = ClusterPlan::default();
        for donor in order {
            if roles.received[donor] || on_server[donor].len() > *budget {
                continue;
            }
            let Some(drain) = self.drain(
                model,
                &states,
                &on_server[donor],
                &roles.emptied,
                donor,
                copy_wh,
            ) else {
                continue;
            };
            if drain.saved_wh <= 0.0 || drain.saved_wh < self.params.payback * drain.copy_wh {
                continue;
            }
            for &(_, to) in &drain.targets {
                roles.received[to] = true;
            }
            roles.emptied[donor] = true;
            *budget -= drain.targets.len();
            states.clone_from(&drain.states);
            let vms = std::mem::take(&mut on_server[donor]);
            plan.emptied += 1;
            for (i, to) in drain.targets {
                let cost = vms[i].demand.memory_mib / 1024.0 * copy_wh;
                plan.moves.push(Planned {
                    vm: vms[i].clone(),
                    to,
                    gain_wh: drain.saved_wh * cost / drain.copy_wh.max(1e-9),
                    copy_wh: cost,
                });
            }
        }
        if self.params.shift {
            self.shift(
                model,
                &mut states,
                &mut on_server,
                &mut roles,
                copy_wh,
                budget,
                &mut plan,
            );
        }
        plan
    }

    /// Moves single VMs, largest first, from servers that neither received nor were emptied
    /// to the server (on, not one that gave VMs away) whose draw rises least, when what the
    /// source stops drawing for it, less that rise, over its remaining time pays back.
    #[allow(clippy::too_many_arguments)]
    fn shift(
        &self,
        model: &ClusterModel,
        states: &mut [ServerState],
        on_server: &mut [Vec<Vm>],
        roles: &mut Roles,
        copy_wh: f64,
        budget: &mut usize,
        plan: &mut ClusterPlan,
    ) {
        let h = self.params.horizon_h;
        for src in 0..states.len() {
            if roles.received[src] || roles.emptied[src] || on_server[src].len() < 2 {
                continue;
            }
            let mut vms = std::mem::take(&mut on_server[src]);
            vms.sort_by(|a, b| b.demand.cpu.total_cmp(&a.demand.cpu));
            let mut kept = Vec::with_capacity(vms.len());
            for vm in vms {
                if *budget == 0 {
                    kept.push(vm);
                    continue;
                }
                let mut lighter = states[src].clone();
                model.unbook(&mut lighter, &vm.demand, false);
                let freed_w = model.server_w(&states[src]) - model.server_w(&lighter);
                let best = receiver(model, states, &vm.demand, |j| {
                    j == src || roles.emptied[j] || roles.gave[j]
                });
                let copy = vm.demand.memory_mib / 1024.0 * copy_wh;
                let gain = best.map_or(0.0, |(_, w)| (freed_w - w) * vm.remaining_h.min(h));
                match best {
                    Some((to, _)) if gain > 0.0 && gain >= self.params.payback * copy => {
                        model.book(&mut states[to], &vm.demand);
                        states[src] = lighter;
                        roles.received[to] = true;
                        roles.gave[src] = true;
                        *budget -= 1;
                        plan.shifted += 1;
                        plan.moves.push(Planned {
                            vm,
                            to,
                            gain_wh: gain,
                            copy_wh: copy,
                        });
                    }
                    _ => kept.push(vm),
                }
            }
            on_server[src] = kept;
        }
    }

    /// Where every VM of `donor` would go (the server whose draw rises least, among the
    /// others that are on) and the energy that saves; `None` when one has nowhere to go.
    fn drain(
        &self,
        model: &ClusterModel,
        states: &[ServerState],
        vms: &[Vm],
        emptied: &[bool],
        donor: usize,
        copy_wh: f64,
    ) -> Option<Drain> {
        let mut states = states.to_vec();
        let h = self.params.horizon_h;
        let donor_w = model.server_w(&states[donor]);
        let idle_w = model.server_idle_w(&states[donor]);
        let busy: f64 = vms.iter().map(|v| v.demand.cpu).sum();
        let last_h = vms.iter().map(|v| v.remaining_h.min(h)).fold(0.0, f64::max);
        let mut emptied_state = states[donor].clone();
        for vm in vms {
            model.unbook(&mut emptied_state, &vm.demand, false);
        }
        model.unbook(&mut emptied_state, &Resources::default(), true);
        // The donor's idle power (if it switches off) for as long as its last VM would have
        // kept it on.
        let mut saved_wh = (idle_w - model.server_w(&emptied_state)).max(0.0) * last_h;
        let mut copy = 0.0;
        let mut order: Vec<usize> = (0..vms.len()).collect();
        order.sort_by(|&a, &b| vms[b].demand.cpu.total_cmp(&vms[a].demand.cpu));
        let mut targets = Vec::with_capacity(vms.len());
        for i in order {
            let vm = &vms[i];
            let (to, rise_w) = receiver(model, &states, &vm.demand, |j| j == donor || emptied[j])?;
            model.book(&mut states[to], &vm.demand);
            // The VM's share of the donor's dynamic power, against what it adds where it goes.
            let share_w = if busy > 0.0 {
                (donor_w - idle_w) * vm.demand.cpu / busy
            } else {
                0.0
            };
            saved_wh += (share_w - rise_w) * vm.remaining_h.min(h);
            copy += vm.demand.memory_mib / 1024.0 * copy_wh;
            targets.push((i, to));
        }
        states[donor] = emptied_state;
        Some(Drain {
            targets,
            states,
            saved_wh,
            copy_wh: copy,
        })
    }
}

/// The server that is on, not `excluded`, with room for `d`, whose draw rises least for it
/// (the first of equals), and that rise in W.
fn receiver(
    model: &ClusterModel,
    states: &[ServerState],
    d: &Resources,
    excluded: impl Fn(usize) -> bool,
) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (j, s) in states.iter().enumerate() {
        if excluded(j) || model.server_w(s) <= 0.0 || !fits(&s.room, d) {
            continue;
        }
        let w = model.booking_w(s, d, false);
        if best.is_none_or(|(_, b)| w < b) {
            best = Some((j, w));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::tests::{cluster, service};

    /// A VM of `cpu` cores and 1 GiB on `server`, `remaining_h` hours from its end.
    fn vm(name: &str, cpu: f64, server: usize, remaining_h: f64) -> Service {
        let mut s = service(name, cpu);
        s.extra = format!(
            r#"{{"duration_s": 86400, "remaining_s": {}, "server": {server}}}"#,
            remaining_h * 3600.0
        )
        .into();
        s
    }

    /// One cluster `dc` whose servers are `(type, VMs on it)`, of the server types
    /// `(cores, curve_w)` (memory 4 GiB per core), with the VMs' busy cores booked.
    fn request(types: &[(f64, [f64; 2])], servers: &[(usize, &[&Service])]) -> MigrationRequest {
        let curve = |c: &[f64; 2], u: f64| c[0] + (c[1] - c[0]) * u;
        let rows: Vec<String> = servers
            .iter()
            .map(|(t, vms)| {
                let (cores, c) = types[*t];
                let cpu: f64 = vms.iter().map(|v| v.demand.cpu).sum();
                let mem: f64 = vms.iter().map(|v| v.demand.memory_mib).sum();
                let w = if vms.is_empty() {
                    0.0
                } else {
                    curve(&c, cpu / cores)
                };
                format!("[{t}, {cpu}, {mem}, 0, {cpu}, {w}]")
            })
            .collect();
        let types_json: Vec<String> = types
            .iter()
            .map(|(cores, c)| {
                format!(
                    r#"{{"cores": {cores}, "memory_mib": {}, "curve_w": [{}, {}]}}"#,
                    cores * 4096.0,
                    c[0],
                    c[1]
                )
            })
            .collect();
        let mut dc = cluster("dc", 64.0, 1.2, 100.0, 0.0);
        dc.extra = format!(
            r#"{{"server_detail": {{"idle_on": false, "types": [{}], "servers": [{}]}}}}"#,
            types_json.join(","),
            rows.join(",")
        )
        .into();
        let all: Vec<Service> = servers
            .iter()
            .flat_map(|(_, vms)| vms.iter().map(|v| (*v).clone()))
            .collect();
        MigrationRequest {
            current: smo_plugin_api::Placement {
                assignments: all
                    .iter()
                    .map(|v| Assignment {
                        service: v.name.clone(),
                        cluster: "dc".into(),
                        replicas: 1,
                    })
                    .collect(),
            },
            graph: Graph {
                name: "vms".into(),
                services: all.into(),
            },
            clusters: vec![dc].into(),
            telemetry: Telemetry::default(),
            extra: r#"{"vms": true, "copy_wh_per_gib": 10}"#.into(),
        }
    }

    fn plan(req: &MigrationRequest) -> MigrationDecision {
        Repack::new(RepackParams::default())
            .plan(req)
            .expect("planned")
    }

    fn moved(d: &MigrationDecision) -> Vec<(String, u64)> {
        let extra: serde_json::Value = serde_json::from_str(d.extra.as_str()).expect("json");
        d.moves
            .iter()
            .map(|m| {
                assert_eq!((m.from.as_str(), m.to.as_str()), ("dc", "dc"));
                let server = extra["servers"][m.service.as_str()]
                    .as_u64()
                    .expect("server");
                (m.service.to_string(), server)
            })
            .collect()
    }

    const PLAIN: (f64, [f64; 2]) = (8.0, [100.0, 200.0]);

    #[test]
    fn a_lightly_used_server_is_emptied_when_its_idle_power_pays_the_copy_back() {
        // a alone on server 0 for 3 more hours: switching it off saves 100 W x 3 h = 300 Wh
        // (a's 25 W of dynamic power moves along), against 10 Wh of copying.
        let (a, b) = (vm("a", 2.0, 0, 3.0), vm("b", 4.0, 1, 10.0));
        let d = plan(&request(&[PLAIN], &[(0, &[&a]), (0, &[&b])]));
        assert_eq!(moved(&d), vec![("a".to_string(), 1)]);
        assert!((d.moves[0].expected_gain - 300.0).abs() < 1e-6);
        assert!((d.moves[0].expected_cost - 10.0).abs() < 1e-9);
        assert!(
            d.reasons[0].contains("1 server(s) emptied"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn no_vm_moves_when_it_ends_before_the_copy_pays_back() {
        // 100 W x 0.1 h = 10 Wh saved, below 2 x 10 Wh of copying; b (7 cores) fits nowhere.
        let (a, b) = (vm("a", 2.0, 0, 0.1), vm("b", 7.0, 1, 10.0));
        let d = plan(&request(&[PLAIN], &[(0, &[&a]), (0, &[&b])]));
        assert!(d.moves.is_empty());
        assert!(d.reasons[0].contains("every VM stays"), "{:?}", d.reasons);
    }

    #[test]
    fn a_vm_shifts_to_a_server_that_draws_less_for_it() {
        // Server 0 (old: 50 W a core) keeps x, too large for server 1's 4 free cores, but
        // y (1 core) saves 50 - 3.75 W there for 4 h: 185 Wh for 10 Wh of copying.
        let old = (8.0, [50.0, 450.0]);
        let new = (16.0, [60.0, 120.0]);
        let (x, y, z) = (
            vm("x", 6.0, 0, 10.0),
            vm("y", 1.0, 0, 10.0),
            vm("z", 12.0, 1, 10.0),
        );
        let req = request(&[old, new], &[(0, &[&x, &y]), (1, &[&z])]);
        let d = plan(&req);
        assert_eq!(moved(&d), vec![("y".to_string(), 1)]);
        assert!((d.moves[0].expected_gain - 46.25 * 4.0).abs() < 1e-6);
        assert!(d.reasons[0].contains("1 VM(s) shifted"), "{:?}", d.reasons);
        let no_shift = RepackParams {
            shift: false,
            ..RepackParams::default()
        };
        assert!(Repack::new(no_shift)
            .plan(&req)
            .expect("planned")
            .moves
            .is_empty());
    }

    #[test]
    fn a_server_that_receives_keeps_its_own_vms() {
        // a (server 0) and c (server 2) both empty onto server 1, the least loaded that is
        // on once a has left; b, on a server that receives, stays.
        let (a, b, c) = (
            vm("a", 1.0, 0, 5.0),
            vm("b", 2.0, 1, 5.0),
            vm("c", 4.0, 2, 5.0),
        );
        let d = plan(&request(&[PLAIN], &[(0, &[&a]), (0, &[&b]), (0, &[&c])]));
        let m = moved(&d);
        assert_eq!(m, vec![("a".to_string(), 1), ("c".to_string(), 1)]);
        assert!(
            d.reasons[0].contains("2 server(s) emptied"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn a_request_without_vms_plans_nothing() {
        let mut req = request(&[PLAIN], &[(0, &[&vm("a", 2.0, 0, 3.0)]), (0, &[])]);
        req.extra = RString::new();
        let d = plan(&req);
        assert!(d.moves.is_empty());
        assert!(d.reasons[0].contains("vm_migration"), "{:?}", d.reasons);
    }

    #[test]
    fn a_vm_without_its_server_is_a_clear_error() {
        let mut req = request(&[PLAIN], &[(0, &[&vm("a", 2.0, 0, 3.0)]), (0, &[])]);
        req.graph.services[0].extra = r#"{"duration_s": 60}"#.into();
        let e = Repack::new(RepackParams::default()).plan(&req).unwrap_err();
        assert!(
            e.message.contains("`a`") && e.message.contains("server"),
            "{e:?}"
        );
    }

    #[test]
    fn parameters_out_of_range_are_refused_by_name() {
        let bad = RepackParams {
            horizon_h: 0.0,
            ..RepackParams::default()
        };
        let e = bad.check().unwrap_err();
        assert!(e.message.contains("`horizon_h` must be > 0"), "{e:?}");
        let bad = RepackParams {
            payback: -1.0,
            ..RepackParams::default()
        };
        assert!(bad.check().unwrap_err().message.contains("`payback`"));
        assert!(RepackParams::default().check().is_ok());
    }
}
