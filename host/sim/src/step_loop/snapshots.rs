//! What strategies are given of the run: each datacenter as a cluster (with its servers in
//! `extra`), and the telemetry of the step.

use super::*;

/// A cluster as strategies saw it last, kept while its datacenter and the hour stay the same:
/// building it (above all its `extra`, every server as JSON) was a third of a step.
pub(super) struct View {
    /// The datacenter's [`Datacenter::version`](crate::continuum::Datacenter::version) and the
    /// hour the view was built at.
    version: u64,
    hour: usize,
    /// `available` is the datacenter's free room.
    cluster: Cluster,
    /// The free room of its emptiest server (what a retry offers as `available`).
    slot: Resources,
}

impl Run<'_> {
    /// Cluster `d` as strategies see it now. With `slot_only`, `available` is the free room of
    /// its emptiest server (a retry after the datacenter refused a VM for lack of one).
    /// Built again only when the datacenter changed or the hour turned since the last view.
    pub(super) fn cluster(&mut self, d: usize, slot_only: bool) -> Cluster {
        let (version, hour) = (self.dcs[d].version(), self.hour());
        let view = match self.views[d].take() {
            Some(v) if v.version == version && v.hour == hour => v,
            _ => self.build_view(d),
        };
        let cluster = if slot_only {
            Cluster {
                available: view.slot,
                ..view.cluster.clone()
            }
        } else {
            view.cluster.clone()
        };
        self.views[d] = Some(view);
        cluster
    }

    /// Cluster `d` built from the datacenter's state and the hour's environment.
    fn build_view(&mut self, d: usize) -> View {
        let h = self.hour();
        let spec = &self.sc.spec.datacenters[d];
        let version = self.dcs[d].version();
        let detail = self.dcs[d].detail_json();
        let dc = &self.dcs[d];
        let it_w = dc.it_power_w();
        let slot = dc.largest_free();
        let cluster = Cluster {
            name: spec.name.as_str().into(),
            role: match spec.role {
                Role::Cloud => ClusterRole::Cloud,
                Role::Edge => ClusterRole::Edge,
                Role::Iot => ClusterRole::Iot,
            },
            location: Location {
                lat: spec.lat,
                lon: spec.lon,
                region: spec.region.as_str().into(),
            },
            capacity: dc.capacity,
            available: dc.free(),
            energy: EnergyProfile {
                source: self.env.source[d].clone(),
                pue: spec.pue,
                carbon_intensity_g_per_kwh: self.env.ci[d][h],
                renewable_supply_kw: self.env.renew_kw[d][h],
                renewable_share: self.env.grid_share[d][h],
                idle_power_w: self.idle_peak[d].0,
                peak_power_w: self.idle_peak[d].1,
                preferred_for_saving: spec.preferred_for_saving,
            },
            prices: Prices {
                cpu_core_hour: spec.prices.cpu_core_hour,
                memory_gib_hour: spec.prices.memory_gib_hour,
                gpu_hour: spec.prices.gpu_hour,
                egress_gb: spec.prices.egress_gb,
                energy_kwh: self.env.price[d][h],
            },
            labels: spec
                .labels
                .iter()
                .map(|(k, v)| Label {
                    key: k.as_str().into(),
                    value: v.as_str().into(),
                })
                .collect(),
            extra: format!(
                "{{\"it_power_w\":{it_w:.3},\"facility_power_w\":{:.3},\"servers\":{},\
                 \"servers_on\":{},\"utilisation\":{:.6},\"largest_free_cpu\":{},\
                 \"largest_free_memory_mib\":{},\"server_detail\":{},\"processing_ms\":{},\
                 \"slo_ms\":{}}}",
                it_w * spec.pue,
                dc.servers.len(),
                dc.servers_on(),
                dc.utilisation(),
                slot.cpu,
                slot.memory_mib,
                detail,
                spec.processing_ms,
                self.sc.spec.slo_ms,
            )
            .into(),
        };
        View {
            version,
            hour: h,
            cluster,
            slot,
        }
    }

    pub(super) fn clusters(&mut self, slot_only: bool) -> RVec<Cluster> {
        (0..self.dcs.len())
            .map(|d| self.cluster(d, slot_only))
            .collect()
    }

    pub(super) fn telemetry(&self, loads: RVec<ServiceLoad>, with_dc_links: bool) -> Telemetry {
        let mut links = self.net.user_links.clone();
        if with_dc_links {
            links.extend(self.net.dc_links.iter().cloned());
        }
        Telemetry {
            time_unix_s: self.now_unix(),
            loads,
            links,
            calls: RVec::new(),
        }
    }
}
