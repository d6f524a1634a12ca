//! The servers of each cluster, when the host gives them (`server_detail` in the cluster's
//! `extra`, as the simulator does): a replica runs on one server, which `available` hides.

use smo_plugin_api::extra::{self, ClusterExtra};
use smo_plugin_api::prelude::*;

/// Free room of every server of every cluster, taken as replicas are placed. A cluster's
/// servers are read from its `extra` the first time a placement looks at them.
#[derive(Debug)]
pub struct Servers<'a> {
    clusters: &'a [Cluster],
    /// Per cluster: not read yet (`None`), or each server's free CPU, memory and GPUs (`Some`
    /// of an empty list when the host gave no server detail: only `available` counts then).
    free: Vec<Option<Vec<Resources>>>,
}

impl<'a> Servers<'a> {
    pub fn new(clusters: &'a [Cluster]) -> Self {
        Self {
            clusters,
            free: vec![None; clusters.len()],
        }
    }

    /// Books each of `replicas` (a demand, and how many of it) on the first server of cluster
    /// `e` with room. When one does not fit any server, nothing is booked and that demand is
    /// the error. A cluster without server detail takes everything (its `available` was
    /// checked by the caller).
    pub fn take(
        &mut self,
        e: usize,
        replicas: impl IntoIterator<Item = (Resources, u32)>,
    ) -> Result<(), Resources> {
        let Some(slot) = self.free.get_mut(e) else {
            return Ok(());
        };
        let servers = slot.get_or_insert_with(|| read(&self.clusters[e]));
        if servers.is_empty() {
            return Ok(());
        }
        let mut after = servers.clone();
        for (demand, n) in replicas {
            for _ in 0..n {
                let Some(room) = after.iter_mut().find(|room| fits(room, &demand)) else {
                    return Err(demand);
                };
                *room = room.minus(&demand);
            }
        }
        *servers = after;
        Ok(())
    }
}

/// Whether `demand` fits in `room`.
fn fits(room: &Resources, demand: &Resources) -> bool {
    demand.cpu <= room.cpu + 1e-9
        && demand.memory_mib <= room.memory_mib + 1e-9
        && demand.gpu <= room.gpu
}

/// The free room of each server of `cluster`; empty without (readable) server detail.
fn read(cluster: &Cluster) -> Vec<Resources> {
    let detail = extra::read::<ClusterExtra>(cluster.extra.as_str())
        .ok()
        .and_then(|x| x.server_detail);
    let Some(detail) = detail else {
        return Vec::new();
    };
    detail
        .servers
        .iter()
        .map(|&[kind, cpu, memory_mib, gpu, ..]| {
            // A server of an unknown model has no room (the host would not book it either).
            let Some(t) = detail.types.get(kind as usize) else {
                return Resources::default();
            };
            Resources {
                cpu: (t.cores - cpu).max(0.0),
                memory_mib: (t.memory_mib - memory_mib).max(0.0),
                gpu: (t.gpus - gpu).max(0.0) as u32,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::testing::*;

    /// A cluster of a 16-core / 24 GiB server (12 cores and 20 GiB used) and a 40-core / 64 GiB
    /// one (8 cores and 60 GiB used): 36 cores and 8 GiB free in all, at most 4 GiB on one.
    pub fn two_servers(name: &str) -> Cluster {
        let mut c = cluster(name, 36.0, 8192.0, 0);
        c.extra = r#"{"server_detail": {"types": [
            {"cores": 16, "memory_mib": 24576, "gpus": 0, "curve_w": [50, 240]},
            {"cores": 40, "memory_mib": 65536, "gpus": 0, "curve_w": [40, 330]}],
            "servers": [[0, 12, 20480, 0, 12, 200], [1, 32, 61440, 0, 32, 300]]}}"#
            .into();
        c
    }

    #[test]
    fn a_replica_must_fit_one_server_not_the_sum() {
        let clusters = [two_servers("a")];
        let mut s = Servers::new(&clusters);
        let big = Resources::new(1.0, 6144.0, 0);
        assert_eq!(
            s.take(0, [(big, 1)]),
            Err(big),
            "8 GiB free in all, 4 on each"
        );
        let small = Resources::new(2.0, 3072.0, 0);
        assert_eq!(s.take(0, [(small, 2)]), Ok(()), "one on each server");
        assert_eq!(s.take(0, [(small, 1)]), Err(small), "both servers taken");
    }

    #[test]
    fn a_refused_unit_books_nothing_and_no_detail_takes_everything() {
        let clusters = [two_servers("a"), cluster("plain", 4.0, 1024.0, 0)];
        let mut s = Servers::new(&clusters);
        let small = Resources::new(2.0, 3072.0, 0);
        assert!(s.take(0, [(small, 3)]).is_err());
        assert_eq!(
            s.take(0, [(small, 2)]),
            Ok(()),
            "the refused unit took no room"
        );
        // No server detail: the caller's check of `available` is all there is.
        assert_eq!(s.take(1, [(Resources::new(64.0, 1e6, 0), 1)]), Ok(()));
        assert_eq!(s.take(7, [(small, 1)]), Ok(()));
    }
}
