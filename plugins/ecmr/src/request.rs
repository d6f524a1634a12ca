//! What a placement request asks for, in ECMR's terms: the VMs of the batch (demand, user,
//! duration) and the network latency from each VM's users to each datacenter.

use crate::check;
use crate::site::Site;
use smo_plugin_api::extra::{self, VmExtra};
use smo_plugin_api::{PlacementRequest, PluginError, Resources};

/// One VM request `w_r`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vm {
    pub name: String,
    pub demand: Resources,
    /// The `user` label (the request source), empty when none.
    pub user: String,
    pub duration_s: f64,
}

/// The batch, the datacenters, and latency[vm][site] in ms (`None`: no link known).
#[derive(Debug, Clone)]
pub struct Batch {
    pub vms: Vec<Vm>,
    pub sites: Vec<Site>,
    pub latency_ms: Vec<Vec<Option<f64>>>,
}

impl Batch {
    /// Reads `request`: every replica of a service is one VM (the simulator sends one replica).
    /// A cluster, VM or latency with a figure ecmr cannot compute with (not finite, or too
    /// large: see [`crate::check`]) is invalid input, and the error names each.
    pub fn from_request(request: &PlacementRequest) -> Result<Batch, PluginError> {
        let mut bad = Vec::new();
        let mut sites = Vec::with_capacity(request.clusters.len());
        for c in request.clusters.iter() {
            match Site::read(c) {
                Ok(site) => sites.push(site),
                Err(figure) => bad.push(figure),
            }
        }
        let mut vms = Vec::new();
        for s in request.graph.services.iter() {
            let user = s
                .labels
                .iter()
                .find(|l| l.key.as_str() == "user")
                .map(|l| l.value.to_string())
                .unwrap_or_default();
            let duration_s = extra::read::<VmExtra>(s.extra.as_str())
                .ok()
                .and_then(|x| x.duration_s)
                .unwrap_or(0.0);
            let demand = s.demand.times(s.replicas.max(1));
            vms.push(Vm {
                name: s.name.to_string(),
                demand,
                user,
                duration_s,
            });
        }
        let links = &request.telemetry.links;
        let latency_ms = vms
            .iter()
            .map(|vm| {
                let specific = format!("users/{}", vm.user);
                sites
                    .iter()
                    .map(|site| {
                        let to = |from: &str| {
                            links
                                .iter()
                                .find(|l| l.from.as_str() == from && l.to.as_str() == site.name)
                                .map(|l| l.latency_ms)
                        };
                        to(&specific).or_else(|| to("users"))
                    })
                    .collect()
            })
            .collect();
        let batch = Batch {
            vms,
            sites,
            latency_ms,
        };
        bad.extend(check::vms_and_links(&batch));
        if bad.is_empty() {
            Ok(batch)
        } else {
            Err(check::error(&bad))
        }
    }

    /// Latency of VM `r` to site `j`; unknown counts as 0 ms.
    pub fn latency(&self, r: usize, j: usize) -> f64 {
        self.latency_ms
            .get(r)
            .and_then(|row| row.get(j))
            .copied()
            .flatten()
            .unwrap_or(0.0)
    }
}
