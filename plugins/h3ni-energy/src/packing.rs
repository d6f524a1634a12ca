//! Server-level check of a plan: the replicas planned on a cluster are booked on its servers
//! as the host's least-power-increase choice would, so two never count on the same headroom.

use crate::energy::{ClusterModel, ServerState};
use smo_plugin_api::Resources;

/// Every server of every cluster, consumed as replicas are planned.
#[derive(Debug, Clone)]
pub struct Slots {
    models: Vec<ClusterModel>,
    /// Per cluster: its servers, or `None` when the host gave no server detail (then only
    /// the cluster totals are checked, elsewhere).
    clusters: Vec<Option<Vec<ServerState>>>,
}

impl Slots {
    pub fn new(clusters: &[ClusterModel]) -> Self {
        Self {
            models: clusters.to_vec(),
            clusters: clusters
                .iter()
                .map(|c| {
                    let states = c.server_states();
                    (!states.is_empty()).then_some(states)
                })
                .collect(),
        }
    }

    /// The servers' states after `n` replicas of `d` on cluster `j`, each on the server the
    /// host would pick; `None` when they do not all fit, `Some(None)` without server detail.
    fn plan(&self, j: usize, d: &Resources, n: u32) -> Option<Option<Vec<ServerState>>> {
        let (Some(model), Some(servers)) = (self.models.get(j), self.clusters.get(j)) else {
            return Some(None);
        };
        let Some(servers) = servers else {
            return Some(None);
        };
        let mut states = servers.clone();
        for _ in 0..n {
            let k = model.pick_server(&states, d)?;
            model.book(&mut states[k], d);
        }
        Some(Some(states))
    }

    /// IT watts of `n` replicas of `d` on cluster `j` booked where the host would put them
    /// (each [`ClusterModel::booking_w`]), given what is booked already; `None` when they do
    /// not all fit. Without server detail: the cluster's static marginal power.
    pub fn marginal_w(&self, j: usize, d: &Resources, n: u32, amortise: bool) -> Option<f64> {
        let model = self.models.get(j)?;
        let Some(Some(servers)) = self.clusters.get(j) else {
            return Some(model.replica_w_with(d, amortise) * f64::from(n));
        };
        let mut states = servers.clone();
        let mut w = 0.0;
        for _ in 0..n {
            let k = model.pick_server(&states, d)?;
            w += model.booking_w(&states[k], d, amortise);
            model.book(&mut states[k], d);
        }
        Some(w)
    }

    /// Whether the host gave server detail for cluster `j`.
    pub fn detailed(&self, j: usize) -> bool {
        matches!(self.clusters.get(j), Some(Some(_)))
    }

    /// Whether `n` replicas of `d` fit the servers of cluster `j` now.
    pub fn fits(&self, j: usize, d: &Resources, n: u32) -> bool {
        self.plan(j, d, n).is_some()
    }

    /// Books `n` replicas of `d` on cluster `j`; `false` (and nothing booked) when they do
    /// not fit.
    pub fn take(&mut self, j: usize, d: &Resources, n: u32) -> bool {
        match self.plan(j, d, n) {
            None => false,
            Some(None) => true,
            Some(Some(states)) => {
                if let Some(slot) = self.clusters.get_mut(j) {
                    *slot = Some(states);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::ServerPick;
    use smo_plugin_api::{Cluster, ClusterRole, EnergyProfile, Location, Prices, RString, RVec};

    /// A cluster of two 8-core / 16 GiB servers, the first with 6 cores and 12 GiB used.
    pub fn two_servers() -> ClusterModel {
        let extra = r#"{"server_detail": {"types": [{"cores": 8, "memory_mib": 16384, "curve_w": [10, 20]}],
            "servers": [[0, 6, 12288, 0, 6, 18], [0, 0, 0, 0, 0, 0]]}}"#;
        model(
            Resources::new(16.0, 32768.0, 0),
            Resources::new(10.0, 20480.0, 0),
            extra,
        )
    }

    /// The model of cluster `c` with this capacity, free room and `extra`.
    fn model(capacity: Resources, available: Resources, extra: &str) -> ClusterModel {
        let c = Cluster {
            name: "c".into(),
            role: ClusterRole::Cloud,
            location: Location::default(),
            capacity,
            available,
            energy: EnergyProfile::default(),
            prices: Prices::default(),
            labels: RVec::new(),
            extra: RString::from(extra),
        };
        ClusterModel::new(&c, 0.9)
    }

    #[test]
    fn replicas_consume_the_room_of_one_server_at_a_time() {
        let mut slots = Slots::new(&[two_servers()]);
        let big = Resources::new(6.0, 12288.0, 0);
        // Only the empty server takes a 6-core replica, and only once.
        assert!(slots.fits(0, &big, 1));
        assert!(!slots.fits(0, &big, 2));
        assert!(slots.take(0, &big, 1));
        assert!(
            !slots.take(0, &big, 1),
            "the empty server's room is already booked"
        );
        // 2 + 2 cores are left, on two servers: a 2-core replica fits twice, not three times.
        let small = Resources::new(2.0, 2048.0, 0);
        assert!(slots.fits(0, &small, 2));
        assert!(!slots.fits(0, &small, 3));
    }

    #[test]
    fn replicas_go_where_the_host_would_put_them() {
        let mut slots = Slots::new(&[two_servers()]);
        // As the host's least-power-increase choice: the server already on (+2.5 W) rather
        // than switching the empty one on (+12.5 W), which stays whole for a large replica.
        assert!(slots.take(0, &Resources::new(2.0, 2048.0, 0), 1));
        assert!(slots.fits(0, &Resources::new(8.0, 16384.0, 0), 1));
    }

    /// Three small servers (8 cores, 64 GiB, 40-80 W) and a large one (32 cores, 192 GiB,
    /// 90-250 W), all off; the host picks by least power increase and offers `offered`.
    fn small_and_large(offered: &str) -> ClusterModel {
        let extra = format!(
            r#"{{"server_detail": {{"idle_on": false, "selection": "least_power_increase",
            "selectable": [{offered}],
            "types": [{{"cores": 8, "memory_mib": 65536, "curve_w": [40, 80]}},
                      {{"cores": 32, "memory_mib": 196608, "curve_w": [90, 250]}}],
            "servers": [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0],
                        [1, 0, 0, 0, 0, 0]]}}}}"#
        );
        let all = Resources::new(56.0, 393216.0, 0);
        model(all, all, &extra)
    }

    #[test]
    fn the_plan_follows_the_server_choice_asked_of_the_host() {
        // 2 cores / 56 GiB: by least power increase each takes a small server (+50 W each,
        // 150 W for three); with shared idle the three share the large one (+100, +10, +10 W:
        // 120 W), as the host's `least_power_shared_idle` books them.
        let d = Resources::new(2.0, 57344.0, 0);
        let own = small_and_large(r#""least_power_increase""#);
        let w = Slots::new(std::slice::from_ref(&own)).marginal_w(0, &d, 3, false);
        assert!(w.is_some_and(|w| (w - 150.0).abs() < 1e-9), "{w:?}");
        let mut shared = small_and_large(r#""least_power_increase", "least_power_shared_idle""#);
        assert!(shared.request_pick(ServerPick::LeastPowerSharedIdle));
        let w = Slots::new(std::slice::from_ref(&shared)).marginal_w(0, &d, 3, false);
        assert!(w.is_some_and(|w| (w - 120.0).abs() < 1e-9), "{w:?}");
        // Four do not fit the large server: the fourth goes to a small one.
        let mut slots = Slots::new(std::slice::from_ref(&shared));
        assert!(slots.take(0, &d, 3));
        let w = slots.marginal_w(0, &d, 1, false);
        assert!(w.is_some_and(|w| (w - 50.0).abs() < 1e-9), "{w:?}");
        // A host that does not offer it keeps its own choice, and the plan follows the host.
        let mut not_offered = small_and_large(r#""least_power_increase""#);
        assert!(!not_offered.request_pick(ServerPick::LeastPowerSharedIdle));
        let w = Slots::new(std::slice::from_ref(&not_offered)).marginal_w(0, &d, 3, false);
        assert!(w.is_some_and(|w| (w - 150.0).abs() < 1e-9), "{w:?}");
    }

    #[test]
    fn the_server_with_most_memory_counts_not_only_the_emptiest_by_cpu() {
        // The host's "largest free" slot is the server with most free CPU (8 cores / 4 GiB
        // here); a 12 GiB replica still fits the other server (2 cores / 14 GiB).
        let extra = r#"{"largest_free_cpu": 8, "largest_free_memory_mib": 4096,
            "server_detail": {"types": [{"cores": 8, "memory_mib": 16384, "curve_w": [10, 20]}],
            "servers": [[0, 0, 12288, 0, 0, 10], [0, 6, 2048, 0, 6, 18]]}}"#;
        let mut c = Cluster {
            name: "c".into(),
            role: ClusterRole::Cloud,
            location: Location::default(),
            capacity: Resources::new(16.0, 32768.0, 0),
            available: Resources::new(10.0, 18432.0, 0),
            energy: EnergyProfile::default(),
            prices: Prices::default(),
            labels: RVec::new(),
            extra: RString::from(extra),
        };
        let m = ClusterModel::new(&c, 0.9);
        assert!(m.fits_a_server(&Resources::new(2.0, 12288.0, 0)));
        assert!(!m.fits_a_server(&Resources::new(4.0, 12288.0, 0)));
        c.extra = RString::from(r#"{"largest_free_cpu": 8, "largest_free_memory_mib": 4096}"#);
        // Without the detail only the reported slot is known.
        assert!(!ClusterModel::new(&c, 0.9).fits_a_server(&Resources::new(2.0, 12288.0, 0)));
    }
}
