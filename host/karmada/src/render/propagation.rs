//! One PropagationPolicy per service, pinned to the clusters chosen for it, with the replicas
//! divided by static weight exactly as decided (3 on `edge-1` and 2 on `cloud-a`: weights 3 and 2
//! of a template of 5 replicas).

use crate::crd::{
    ClusterAffinity, ClusterPreferences, Placement, PropagationPolicy, PropagationSpec,
    ReplicaSchedulingStrategy, ResourceSelector, StaticClusterWeight,
};

use super::{Labels, PlacedService, RenderOptions};

/// The policy propagating `service`'s Deployment (and Service, when it has ports) to its
/// clusters, each weighted by its replicas.
pub fn workload_policy(
    service: &PlacedService<'_>,
    labels: &Labels,
    options: &RenderOptions,
) -> PropagationPolicy {
    let name = &service.spec.name;
    let mut selectors = vec![selector("apps/v1", "Deployment", name)];
    if service.artifact.is_some_and(|a| !a.ports.is_empty()) {
        selectors.push(selector("v1", "Service", name));
    }
    PropagationPolicy::new(
        labels.metadata(name, &options.namespace),
        PropagationSpec {
            resource_selectors: selectors,
            propagate_deps: Some(true),
            placement: weighted_placement(service),
        },
    )
}

/// `service`'s clusters, its replicas divided among them by static weight (its replicas on
/// each).
pub fn weighted_placement(service: &PlacedService<'_>) -> Placement {
    Placement {
        cluster_affinity: Some(ClusterAffinity {
            cluster_names: service.clusters(),
        }),
        replica_scheduling: Some(weighted_division(service)),
    }
}

/// `Divided`, `Weighted`, each cluster weighted by its replicas.
pub fn weighted_division(service: &PlacedService<'_>) -> ReplicaSchedulingStrategy {
    let weights = service
        .replicas_by_cluster
        .iter()
        .map(|(cluster, replicas)| StaticClusterWeight {
            target_cluster: ClusterAffinity {
                cluster_names: vec![cluster.clone()],
            },
            weight: i64::from(*replicas),
        })
        .collect();
    ReplicaSchedulingStrategy {
        replica_scheduling_type: "Divided".into(),
        replica_division_preference: Some("Weighted".into()),
        weight_preference: Some(ClusterPreferences {
            static_weight_list: weights,
        }),
    }
}

/// A policy named `name` sending the objects `selectors` to `clusters` as they are (objects
/// without replicas: Services, exports, imports).
pub fn object_policy(
    name: &str,
    selectors: Vec<ResourceSelector>,
    clusters: Vec<String>,
    labels: &Labels,
    options: &RenderOptions,
) -> PropagationPolicy {
    PropagationPolicy::new(
        labels.metadata(name, &options.namespace),
        PropagationSpec {
            resource_selectors: selectors,
            propagate_deps: None,
            placement: Placement {
                cluster_affinity: Some(ClusterAffinity {
                    cluster_names: clusters,
                }),
                replica_scheduling: None,
            },
        },
    )
}

/// Selects the object `kind` `name` of `api_version` (in the policy's namespace).
pub fn selector(api_version: &str, kind: &str, name: &str) -> ResourceSelector {
    ResourceSelector {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: None,
        name: Some(name.into()),
    }
}
