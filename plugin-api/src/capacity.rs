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
        self.refusal(service, cluster).map(|r| r.to_string())
    }

    /// Whether `service` (all its replicas) fits `cluster`: [`FreeCapacity::why_not`] without
    /// writing the reason, for hot loops.
    pub fn fits(&self, service: &Service, cluster: &Cluster) -> bool {
        self.refusal(service, cluster).is_none()
    }

    fn refusal(&self, service: &Service, cluster: &Cluster) -> Option<Refusal> {
        if !service.allowed_clusters.is_empty()
            && !service
                .allowed_clusters
                .iter()
                .any(|c| c.as_str() == cluster.name.as_str())
        {
            return Some(Refusal::NotAllowed);
        }
        let free = self.free.get(cluster.name.as_str())?;
        let need = service.demand.times(service.replicas.max(1));
        if need.gpu > 0 && cluster.capacity.gpu == 0 {
            return Some(Refusal::NoGpu);
        }
        if need.cpu > free.cpu + 1e-9 {
            return Some(Refusal::Cpu(need.cpu, free.cpu));
        }
        if need.memory_mib > free.memory_mib + 1e-9 {
            return Some(Refusal::Memory(need.memory_mib, free.memory_mib));
        }
        if need.gpu > free.gpu {
            return Some(Refusal::Gpu(need.gpu, free.gpu));
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

/// Why a service does not fit a cluster (needed, free), written out only when asked for.
enum Refusal {
    NotAllowed,
    NoGpu,
    Cpu(f64, f64),
    Memory(f64, f64),
    Gpu(u32, u32),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotAllowed => write!(f, "not in the service's allowed clusters"),
            Refusal::NoGpu => write!(f, "service needs a GPU and the cluster has none"),
            Refusal::Cpu(need, free) => write!(f, "needs {need:.2} CPU, {free:.2} free"),
            Refusal::Memory(need, free) => {
                write!(f, "needs {need:.0} MiB memory, {free:.0} free")
            }
            Refusal::Gpu(need, free) => write!(f, "needs {need} GPU, {free} free"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClusterRole, EnergyProfile, Location, Prices, ScalingProfile};

    fn cluster(name: &str, cpu: f64, memory_mib: f64) -> Cluster {
        Cluster {
            name: name.into(),
            role: ClusterRole::Cloud,
            location: Location::default(),
            capacity: Resources::new(cpu, memory_mib, 0),
            available: Resources::new(cpu, memory_mib, 0),
            energy: EnergyProfile::default(),
            prices: Prices::default(),
            labels: Default::default(),
            extra: Default::default(),
        }
    }

    fn service(cpu: f64, memory_mib: f64, replicas: u32) -> Service {
        Service {
            name: "s".into(),
            demand: Resources::new(cpu, memory_mib, 0),
            replicas,
            scaling: ScalingProfile {
                alpha: 0.0,
                beta: 0.0,
                min_replicas: 1,
                max_replicas: 1,
            },
            dependencies: Default::default(),
            allowed_clusters: Default::default(),
            labels: Default::default(),
            extra: Default::default(),
        }
    }

    #[test]
    fn fits_agrees_with_why_not_and_reservations_count() {
        let c = cluster("c", 4.0, 4096.0);
        let mut free = FreeCapacity::new(std::slice::from_ref(&c));
        let two = service(1.0, 1024.0, 2);
        assert!(free.fits(&two, &c));
        assert_eq!(free.why_not(&two, &c), None);
        free.reserve(&two, "c");
        assert!(free.fits(&two, &c), "2 of 4 cores left");
        free.reserve(&two, "c");
        assert!(!free.fits(&two, &c));
        assert_eq!(
            free.why_not(&two, &c).as_deref(),
            Some("needs 2.00 CPU, 0.00 free")
        );
        let big = service(0.5, 8192.0, 1);
        let fresh = FreeCapacity::new(std::slice::from_ref(&c));
        assert!(!fresh.fits(&big, &c));
        assert_eq!(
            fresh.why_not(&big, &c).as_deref(),
            Some("needs 8192 MiB memory, 4096 free")
        );
        let mut elsewhere = service(0.5, 10.0, 1);
        elsewhere.allowed_clusters = vec!["other".into()].into();
        assert!(!fresh.fits(&elsewhere, &c));
        assert_eq!(
            fresh.why_not(&elsewhere, &c).as_deref(),
            Some("not in the service's allowed clusters")
        );
    }
}
