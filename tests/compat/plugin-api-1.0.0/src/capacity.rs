//! A helper for strategies that place services greedily: free capacity per cluster, by name.
//! It applies the rules every placement must respect (CPU, memory, GPU, allowed clusters).

use crate::types::{Cluster, Resources, Service};
use std::collections::HashMap;

/// Free resources per cluster, updated as services are reserved.
#[derive(Debug, Clone)]
pub struct FreeCapacity {
    free: HashMap<String, Resources>,
}

impl FreeCapacity {
    /// Starts from each cluster's `available` resources.
    pub fn new(clusters: &[Cluster]) -> Self {
        Self {
            free: clusters
                .iter()
                .map(|c| (c.name.to_string(), c.available))
                .collect(),
        }
    }

    /// Why `service` (all its replicas) cannot go to `cluster`, or `None` when it fits.
    pub fn why_not(&self, service: &Service, cluster: &Cluster) -> Option<String> {
        if !service.allowed_clusters.is_empty()
            && !service
                .allowed_clusters
                .iter()
                .any(|c| c.as_str() == cluster.name.as_str())
        {
            return Some("not in the service's allowed clusters".to_string());
        }
        let free = self.free.get(cluster.name.as_str())?;
        let need = service.demand.times(service.replicas.max(1));
        if need.gpu > 0 && cluster.capacity.gpu == 0 {
            return Some("service needs a GPU and the cluster has none".to_string());
        }
        if need.cpu > free.cpu + 1e-9 {
            return Some(format!("needs {:.2} CPU, {:.2} free", need.cpu, free.cpu));
        }
        if need.memory_mib > free.memory_mib + 1e-9 {
            return Some(format!(
                "needs {:.0} MiB memory, {:.0} free",
                need.memory_mib, free.memory_mib
            ));
        }
        if need.gpu > free.gpu {
            return Some(format!("needs {} GPU, {} free", need.gpu, free.gpu));
        }
        None
    }

    /// Takes the resources of `service` (all replicas) from `cluster`.
    pub fn reserve(&mut self, service: &Service, cluster: &str) {
        if let Some(free) = self.free.get_mut(cluster) {
            *free = free.minus(&service.demand.times(service.replicas.max(1)));
        }
    }

    /// Free resources left on `cluster`.
    pub fn free(&self, cluster: &str) -> Option<Resources> {
        self.free.get(cluster).copied()
    }
}
