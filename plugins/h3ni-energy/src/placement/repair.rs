//! After the optimiser: replicas are packed onto real servers (a service whose planned server
//! room was taken by a larger one of the batch moves on), then leftovers go wherever they fit.

use super::{user_of, Instance};
use crate::energy::latency;
use crate::packing::Slots;
use crate::params::PlacementParams;
use smo_plugin_api::prelude::*;

impl Instance {
    /// The replicas of every item that moves are packed, largest first, onto its chosen
    /// cluster's servers; an item that no longer fits goes to the cheapest other feasible
    /// cluster with room (server and SLO cap), else is left out. Returns the servers' room
    /// left and how many items moved.
    pub(super) fn repair(
        &self,
        p: &PlacementParams,
        choice: &mut [Option<usize>],
    ) -> (Slots, usize) {
        let mut slots = Slots::new(&self.clusters);
        let mut room = self.room.clone();
        let mut order: Vec<usize> = Vec::new();
        for (i, c) in choice.iter().enumerate() {
            match *c {
                Some(j) if self.items[i].current == Some(j) => {
                    room[j] = room[j].minus(&self.items[i].total);
                }
                Some(_) => order.push(i),
                None => {}
            }
        }
        let size = |i: usize| {
            let r = &self.items[i].replica;
            (r.memory_mib, r.cpu)
        };
        order.sort_by(|a, b| {
            size(*b)
                .partial_cmp(&size(*a))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut moved = 0;
        for i in order {
            let it = &self.items[i];
            let Some(j) = choice[i] else { continue };
            if room[j].fits(&it.total) && slots.take(j, &it.replica, it.replicas) {
                room[j] = room[j].minus(&it.total);
                continue;
            }
            let next = self
                .pairs_of(i)
                .iter()
                .filter(|q| q.cluster != j)
                .filter(|q| {
                    room[q.cluster].fits(&it.total)
                        && slots.fits(q.cluster, &it.replica, it.replicas)
                })
                .map(|q| {
                    (
                        q.cost + q.facility_w * self.carbon_per_w(p, q.cluster),
                        q.cluster,
                    )
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            choice[i] = next.map(|(_, k)| k);
            if let Some((_, k)) = next {
                slots.take(k, &it.replica, it.replicas);
                room[k] = room[k].minus(&it.total);
                moved += 1;
            }
        }
        (slots, moved)
    }

    /// Items the optimiser left out go, cheapest first, to any cluster with room (CPU,
    /// memory, GPU, a server for each replica, allowed clusters, `max_latency_ms`), ignoring
    /// the SLO caps and reservations: a slower answer beats a failure. Returns how many were
    /// placed this way.
    pub(super) fn place_relaxed(
        &self,
        req: &PlacementRequest,
        p: &PlacementParams,
        choice: &mut [Option<usize>],
        slots: &mut Slots,
    ) -> usize {
        let mut free: Vec<Resources> = self.clusters.iter().map(|c| c.available).collect();
        for (i, c) in choice.iter().enumerate() {
            if let Some(j) = *c {
                if self.items[i].current != Some(j) {
                    free[j] = free[j].minus(&self.items[i].total);
                }
            }
        }
        let mut placed = 0;
        for (i, s) in req.graph.services.iter().enumerate() {
            if choice[i].is_some() {
                continue;
            }
            let it = &self.items[i];
            let lat = |j: usize| {
                latency(&req.telemetry, user_of(s), &self.clusters[j].name).unwrap_or(0.0)
            };
            let best = (0..self.clusters.len())
                .filter(|&j| {
                    let c = &self.clusters[j];
                    // Only the SLO's utilisation cap is relaxed: a hard latency cap holds.
                    p.max_latency_ms.is_none_or(|m| lat(j) <= m)
                        && (s.allowed_clusters.is_empty()
                            || s.allowed_clusters.iter().any(|a| a.as_str() == c.name))
                        && (it.total.gpu == 0 || c.capacity.gpu > 0)
                        && free[j].fits(&it.total)
                        && c.fits_a_server(&it.replica)
                        && slots.fits(j, &it.replica, it.replicas)
                })
                .map(|j| {
                    let c = &self.clusters[j];
                    let w = c.replica_w(&it.replica) * f64::from(it.replicas) * c.pue;
                    (
                        w * (p.w_energy + self.carbon_per_w(p, j)) + p.w_latency * lat(j),
                        j,
                    )
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, j)) = best {
                free[j] = free[j].minus(&it.total);
                slots.take(j, &it.replica, it.replicas);
                choice[i] = Some(j);
                placed += 1;
            }
        }
        placed
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{cluster, params, request, service};
    use super::super::EnergyPlacement;
    use crate::params::PlacementParams;
    use smo_plugin_api::prelude::*;

    /// Servers of 8 cores / 32 GiB drawing 10 W idle and 90 W at full load, with
    /// `[used cores, busy cores]` each.
    fn with_servers(mut c: Cluster, used: &[f64]) -> Cluster {
        let servers: Vec<String> = used
            .iter()
            .map(|u| {
                let w = if *u > 0.0 { 10.0 + 80.0 * u / 8.0 } else { 0.0 };
                format!("[0, {u}, {}, 0, {u}, {w}]", u * 1024.0)
            })
            .collect();
        let cores = 8.0 * used.len() as f64;
        let free: f64 = used.iter().map(|u| 8.0 - u).sum();
        c.capacity = Resources::new(cores, cores * 4096.0, 0);
        c.available = Resources::new(free, free * 4096.0, 0);
        c.extra = format!(
            r#"{{"utilisation": {}, "server_detail": {{"types": [{{"cores": 8, "memory_mib": 32768, "curve_w": [10, 90]}}],
            "servers": [{}]}}}}"#,
            1.0 - free / cores,
            servers.join(",")
        )
        .into();
        c
    }

    #[test]
    fn two_services_planning_on_one_server_room_are_spread() {
        // cheap: two servers on, 4 and 2 cores free (6 in all): both 3-core services fit the
        // totals, but only the first server takes a 3-core replica. dear: an empty cluster on
        // a dirtier grid. The second service must go there, not be refused by the host.
        let full = PlacementParams {
            max_utilisation: 1.0,
            ..params()
        };
        let cheap = with_servers(cluster("cheap", 16.0, 1.0, 10.0, 0.0), &[4.0, 6.0]);
        let dear = with_servers(cluster("dear", 16.0, 1.5, 500.0, 0.0), &[0.0, 0.0]);
        let req = request(
            vec![cheap, dear],
            vec![service("a", 3.0), service("b", 3.0)],
        );
        let d = EnergyPlacement::new(full.clone())
            .place(&req)
            .expect("placed");
        let on = |c: &str| {
            d.placement
                .assignments
                .iter()
                .filter(|a| a.cluster.as_str() == c)
                .count()
        };
        assert_eq!((on("cheap"), on("dear")), (1, 1), "{:?}", d.reasons);
        // With a third server of room on the cheap cluster both stay there.
        let cheap = with_servers(cluster("cheap", 24.0, 1.0, 10.0, 0.0), &[4.0, 6.0, 4.0]);
        let dear = with_servers(cluster("dear", 16.0, 1.5, 500.0, 0.0), &[0.0, 0.0]);
        let req = request(
            vec![cheap, dear],
            vec![service("a", 3.0), service("b", 3.0)],
        );
        let d = EnergyPlacement::new(full).place(&req).expect("placed");
        assert!(d
            .placement
            .assignments
            .iter()
            .all(|a| a.cluster.as_str() == "cheap"));
    }

    #[test]
    fn a_retry_with_only_the_emptiest_server_as_available_still_has_room() {
        // On a retry the host reports `available` = the emptiest server (8 cores here) while
        // the cluster is 6/32 used: the room within the 90 % cap is that server's 8 cores, not
        // 0.9 x 32 - (32 - 8) = 4.8 as capacity - available would say.
        let mut c = with_servers(cluster("c", 32.0, 1.0, 10.0, 0.0), &[2.0, 0.0, 2.0, 2.0]);
        c.available = Resources::new(8.0, 32768.0, 0);
        let req = request(vec![c], vec![service("vm", 6.0)]);
        let d = EnergyPlacement::new(params()).place(&req).expect("placed");
        assert_eq!(d.placement.cluster_of("vm"), Some("c"));
        assert!(
            !d.reasons.iter().any(|r| r.contains("past their SLO")),
            "{:?}",
            d.reasons
        );
    }
}
