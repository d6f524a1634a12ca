//! The greedy plan: items in booking order, each where it costs least given the servers, room
//! and renewables the batch's earlier items took; also replays another plan on those terms.

use super::{Instance, UNPLACED};
use crate::packing::Slots;
use crate::params::PlacementParams;
use smo_plugin_api::Resources;

impl Instance {
    /// Energy-cost weight of one facility watt for an hour on cluster `j`.
    fn energy_weight(&self, p: &PlacementParams, j: usize) -> f64 {
        let discount = if self.clusters[j].preferred {
            1.0 - p.preferred_discount
        } else {
            1.0
        };
        p.w_energy * discount
    }

    /// Cost and facility watts of putting item `i` on cluster `j` after what `plan` booked:
    /// with `slot_costs`, the power of its replicas on the servers the host would pick (a
    /// server switched on charged its idle power by the replica's dominant share), else the
    /// pair's static power; `None` when it does not fit.
    fn step(&self, p: &PlacementParams, plan: &Plan, i: usize, j: usize) -> Option<(f64, f64)> {
        let it = &self.items[i];
        let q = self.pairs_of(i).iter().find(|q| q.cluster == j)?;
        let staying = it.current == Some(j);
        if !plan.room[j].fits(&it.total)
            || (!staying && !plan.slots.fits(j, &it.replica, it.replicas))
        {
            return None;
        }
        let c = &self.clusters[j];
        let (mut w, mut cost) = (q.facility_w, q.cost);
        if p.slot_costs && !staying && plan.slots.detailed(j) {
            // A cluster with no server on pays its first server's whole idle power.
            let amortise = p.amortise_idle && (plan.opened[j] || c.keep_w > 0.0);
            w = plan
                .slots
                .marginal_w(j, &it.replica, it.replicas, amortise)?
                * c.pue;
            cost += self.energy_weight(p, j) * (w - q.facility_w);
            if !plan.opened[j] && c.keep_w > 0.0 {
                // The first item on a cluster only this graph uses keeps its servers on.
                w += c.keep_w * c.pue;
                cost += self.energy_weight(p, j) * c.keep_w * c.pue;
            }
        } else if !plan.opened[j] {
            w += self.fixed_w(j);
            cost += self.open_cost(p, j);
        }
        cost += (w - plan.headroom[j]).max(0.0) * self.carbon_per_w(p, j);
        Some((cost, w))
    }

    /// Books item `i` on cluster `j` (facility watts `w`) in `plan`.
    fn commit(&self, plan: &mut Plan, i: usize, j: usize, w: f64) {
        let it = &self.items[i];
        plan.headroom[j] = (plan.headroom[j] - w).max(0.0);
        plan.opened[j] = true;
        if it.current != Some(j) {
            plan.slots.take(j, &it.replica, it.replicas);
        }
        plan.room[j] = plan.room[j].minus(&it.total);
    }

    fn empty_plan(&self) -> Plan {
        Plan {
            room: self.room.clone(),
            slots: Slots::new(&self.clusters),
            headroom: self.clusters.iter().map(|c| c.green_headroom_w).collect(),
            opened: self
                .clusters
                .iter()
                .map(|c| c.open_w + c.keep_w <= 0.0)
                .collect(),
        }
    }

    /// The booking order: memory of a replica x expected hours, then CPU, then total CPU,
    /// largest first; the decision lists its assignments in this order, and the host books
    /// them in the order listed.
    pub(super) fn order(&self) -> Vec<usize> {
        let size = |i: usize| {
            let it = &self.items[i];
            (
                it.replica.memory_mib * it.hours,
                it.replica.cpu,
                it.total.cpu,
            )
        };
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by(|a, b| {
            size(*b)
                .partial_cmp(&size(*a))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        order
    }

    /// In booking order, each on the cheapest cluster with room left (servers booked and
    /// renewables used up as they are taken).
    pub(super) fn solve_greedy(&self, p: &PlacementParams) -> (Vec<Option<usize>>, f64) {
        let mut plan = self.empty_plan();
        let mut choice = vec![None; self.items.len()];
        let mut total = 0.0;
        for i in self.order() {
            let best = self
                .pairs_of(i)
                .iter()
                .filter_map(|q| {
                    self.step(p, &plan, i, q.cluster)
                        .map(|(c, w)| (c, w, q.cluster))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((cost, w, j)) => {
                    self.commit(&mut plan, i, j, w);
                    choice[i] = Some(j);
                    total += cost;
                }
                None => total += UNPLACED * (1.0 + self.items[i].total.cpu),
            }
        }
        (choice, total)
    }

    /// The cost of `choice` booked as the greedy books (an item that no longer fits counts
    /// as unplaced), to compare the MILP's answer with the greedy's on the same terms.
    pub(super) fn replay_cost(&self, p: &PlacementParams, choice: &[Option<usize>]) -> f64 {
        let mut plan = self.empty_plan();
        let mut total = 0.0;
        for i in self.order() {
            match choice[i].and_then(|j| self.step(p, &plan, i, j).map(|(c, w)| (c, w, j))) {
                Some((cost, w, j)) => {
                    self.commit(&mut plan, i, j, w);
                    total += cost;
                }
                None => total += UNPLACED * (1.0 + self.items[i].total.cpu),
            }
        }
        total
    }
}

/// What a plan has taken so far: cluster room, servers, renewable headroom, clusters on.
struct Plan {
    room: Vec<Resources>,
    slots: Slots,
    headroom: Vec<f64>,
    opened: Vec<bool>,
}

#[cfg(test)]
mod tests {
    use super::super::tests::{cluster, params, request, service};
    use super::super::EnergyPlacement;
    use crate::params::PlacementParams;
    use smo_plugin_api::prelude::*;

    const GIB: f64 = 1024.0;

    /// A cluster of 8-core / 32 GiB servers drawing 10 W idle and 90 W at full load, each
    /// `(used cores, used GiB)` (busy cores = used cores; unused servers are off).
    fn servers(name: &str, pue: f64, used: &[(f64, f64)]) -> Cluster {
        let mut c = cluster(name, 8.0 * used.len() as f64, pue, 100.0, 0.0);
        let rows: Vec<String> = used
            .iter()
            .map(|(cpu, gib)| {
                let w = if *cpu > 0.0 { 10.0 + 10.0 * cpu } else { 0.0 };
                format!("[0, {cpu}, {}, 0, {cpu}, {w}]", gib * GIB)
            })
            .collect();
        let on = used.iter().filter(|(cpu, _)| *cpu > 0.0).count();
        let (cpu, gib): (f64, f64) = used
            .iter()
            .fold((0.0, 0.0), |(a, b), (c, g)| (a + c, b + g));
        let cores = 8.0 * used.len() as f64;
        c.capacity = Resources::new(cores, 32.0 * GIB * used.len() as f64, 0);
        c.available = Resources::new(cores - cpu, c.capacity.memory_mib - gib * GIB, 0);
        c.extra = format!(
            r#"{{"utilisation": {}, "servers_on": {on}, "server_detail": {{"types": [{{"cores": 8,
            "memory_mib": 32768, "curve_w": [10, 90]}}], "servers": [{}]}}}}"#,
            cpu / cores,
            rows.join(",")
        )
        .into();
        c
    }

    fn vm(name: &str, cpu: f64, gib: f64, duration_s: Option<f64>) -> Service {
        let mut s = service(name, cpu);
        s.demand = Resources::new(cpu, gib * GIB, 0);
        if let Some(d) = duration_s {
            s.extra = format!(r#"{{"duration_s": {d}}}"#).into();
        }
        s
    }

    #[test]
    fn a_memory_heavy_vm_takes_the_busy_server_with_free_memory() {
        // busy (PUE 1.2): a server at 6 of 8 cores with 28 GiB free: the 2-core / 24 GiB VM
        // adds 90 - 70 = 20 W IT, 24 W facility. lean (PUE 1.0): its server on has cores but
        // 2 GiB free, so the host switches an empty server on: 10 + 20 = 30 W, of which only
        // the idle power beyond the VM's dominant share (memory, 24/32) is left to later
        // VMs: 30 - 10 x 0.25 = 27.5 W. Charged by cores alone (90 / 8 x 2 = 22.5 W) it
        // would look cheaper than busy, though the server it switches on is 3/4 full.
        let busy = servers("busy", 1.2, &[(6.0, 4.0)]);
        let lean = servers("lean", 1.0, &[(2.0, 30.0), (0.0, 0.0)]);
        let req = request(vec![lean, busy], vec![vm("vm", 2.0, 24.0, None)]);
        let full = PlacementParams {
            max_utilisation: 1.0,
            ..params()
        };
        let d = EnergyPlacement::new(full).place(&req).expect("placed");
        assert_eq!(
            d.placement.cluster_of("vm"),
            Some("busy"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn the_batch_sees_the_servers_its_earlier_vms_took() {
        // busy has room for one 2-core / 24 GiB VM on its server on (24 W); the second would
        // switch on its empty server (27.5 x 1.2 = 33 W) where lean does it for 27.5 W.
        let busy = servers("busy", 1.2, &[(6.0, 4.0), (0.0, 0.0)]);
        let lean = servers("lean", 1.0, &[(2.0, 30.0), (0.0, 0.0)]);
        let req = request(
            vec![lean, busy],
            vec![vm("a", 2.0, 24.0, None), vm("b", 2.0, 24.0, None)],
        );
        let d = EnergyPlacement::new(params()).place(&req).expect("placed");
        let on = |c: &str| {
            d.placement
                .assignments
                .iter()
                .filter(|a| a.cluster.as_str() == c)
                .count()
        };
        assert_eq!((on("busy"), on("lean")), (1, 1), "{:?}", d.reasons);
    }

    #[test]
    fn long_memory_heavy_vms_are_listed_first() {
        // Memory x expected hours: 24 GiB x 10 h = 240, then 24 GiB x 0.5 h = 12, then 4 GiB
        // x 1 h (no duration given) = 4, so the host books the VM that holds most memory
        // longest while the room is there.
        let c = servers("c", 1.0, &[(0.0, 0.0), (0.0, 0.0), (0.0, 0.0)]);
        let req = request(
            vec![c],
            vec![
                vm("short", 2.0, 24.0, Some(1800.0)),
                vm("small", 1.0, 4.0, None),
                vm("long", 2.0, 24.0, Some(36000.0)),
            ],
        );
        let d = EnergyPlacement::new(params()).place(&req).expect("placed");
        let names: Vec<&str> = d
            .placement
            .assignments
            .iter()
            .map(|a| a.service.as_str())
            .collect();
        assert_eq!(names, ["long", "short", "small"]);
    }

    #[test]
    fn switching_a_cluster_on_pays_its_first_servers_whole_idle_power() {
        // Two clusters with nothing on: a 4-core server (30 W idle, 90 W peak) and a 6-core
        // one (40 W, 120 W). A 0.5-core service costs 30 + 7.5 = 37.5 W on the first and
        // 40 + 6.7 = 46.7 W on the second. Sharing the idle power by the service's dominant
        // share (as for a further server of a cluster already on) would give 11.25 W and
        // 10 W and pick the larger server, whose idle power nobody else shares.
        let one = |name: &str, cores: f64, idle: f64, peak: f64| {
            let mut c = cluster(name, cores, 1.0, 100.0, 0.0);
            c.capacity = Resources::new(cores, cores * 2.0 * GIB, 0);
            c.available = c.capacity;
            c.extra = format!(
                r#"{{"servers_on": 0, "server_detail": {{"types": [{{"cores": {cores},
                "memory_mib": {}, "curve_w": [{idle}, {peak}]}}], "servers": [[0, 0, 0, 0, 0, 0]]}}}}"#,
                cores * 2.0 * GIB
            )
            .into();
            c
        };
        let req = request(
            vec![one("six", 6.0, 40.0, 120.0), one("four", 4.0, 30.0, 90.0)],
            vec![vm("s", 0.5, 0.5, None)],
        );
        let d = EnergyPlacement::new(params()).place(&req).expect("placed");
        assert_eq!(d.placement.cluster_of("s"), Some("four"), "{:?}", d.reasons);
    }
}
