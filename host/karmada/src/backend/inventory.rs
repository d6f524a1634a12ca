//! The member clusters, from a reflector over `clusters.cluster.karmada.io` (a watch, not
//! polling): readiness from the `Ready` condition, capacity from `status.resourceSummary`
//! (allocatable; allocated plus allocating is what runs), region, zone, provider and labels.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::reflector::{self, store::Writer, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use serde_json::Value;
use smo_core::ports::continuum::{ClusterInventory, ContinuumError};
use smo_plugin_api::Resources;

use super::quantity;
use super::resources::gvk;
use crate::render::workload::GPU_RESOURCE;

/// The cluster cache and the task keeping it current.
pub struct Inventory {
    store: Store<DynamicObject>,
    task: tokio::task::JoinHandle<()>,
}

impl Inventory {
    /// Starts watching the clusters of the API server `client` talks to.
    pub fn start(client: Client) -> Self {
        let resource = ApiResource::from_gvk_with_plural(
            &gvk("cluster.karmada.io/v1alpha1", "Cluster"),
            "clusters",
        );
        let api: Api<DynamicObject> = Api::all_with(client, &resource);
        let writer = Writer::new(resource);
        let store = writer.as_reader();
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .touched_objects();
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(cluster) => {
                        let seen = cluster_inventory(&cluster);
                        tracing::debug!(cluster = %seen.name, ready = seen.ready, "cluster seen");
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the cluster watch failed; it restarts with backoff");
                    }
                }
            }
        });
        Self { store, task }
    }

    /// The clusters as last seen; waits up to `wait` for the first list.
    pub async fn clusters(&self, wait: Duration) -> Result<Vec<ClusterInventory>, ContinuumError> {
        match tokio::time::timeout(wait, self.store.wait_until_ready()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                return Err(ContinuumError::Unavailable(format!(
                    "the member clusters (clusters.cluster.karmada.io) could not be listed \
                     within {} s",
                    wait.as_secs_f64()
                )))
            }
        }
        let mut clusters: Vec<ClusterInventory> = self
            .store
            .state()
            .iter()
            .map(|cluster| cluster_inventory(cluster))
            .collect();
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(clusters)
    }
}

impl Drop for Inventory {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One Karmada `Cluster` as smo's inventory row. Quantities that do not parse count as 0 (and
/// are logged): a cluster is never dropped for its summary.
pub fn cluster_inventory(cluster: &DynamicObject) -> ClusterInventory {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let status = &cluster.data["status"];
    let ready_condition = status["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"));
    let ready = ready_condition.is_some_and(|c| c["status"] == "True");
    let reason = if ready {
        None
    } else {
        Some(match ready_condition {
            None => "the cluster reports no Ready condition yet".to_owned(),
            Some(condition) => format!(
                "{}: {}",
                condition["reason"].as_str().unwrap_or("NotReady"),
                condition["message"].as_str().unwrap_or("")
            )
            .trim_end_matches(": ")
            .to_owned(),
        })
    };
    let summary = &status["resourceSummary"];
    let allocatable = resources(&name, &summary["allocatable"]);
    let allocated = resources(&name, &summary["allocated"]);
    let allocating = resources(&name, &summary["allocating"]);
    let mut labels: BTreeMap<String, String> = cluster
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    for key in ["region", "zone", "provider"] {
        if let Some(value) = cluster.data["spec"][key].as_str() {
            labels.insert(key.to_owned(), value.to_owned());
        }
    }
    ClusterInventory {
        name,
        ready,
        reason,
        capacity: allocatable,
        allocatable,
        allocated: Resources::new(
            allocated.cpu + allocating.cpu,
            allocated.memory_mib + allocating.memory_mib,
            allocated.gpu + allocating.gpu,
        ),
        labels,
    }
}

/// `{cpu, memory, nvidia.com/gpu}` quantities as resources.
fn resources(cluster: &str, list: &Value) -> Resources {
    let read = |key: &str, parse: fn(&str) -> Result<f64, String>| -> f64 {
        let Some(text) = list[key].as_str() else {
            return 0.0;
        };
        parse(text).unwrap_or_else(|error| {
            tracing::warn!(cluster, key, %error, "a resource summary quantity does not parse");
            0.0
        })
    };
    let gpu = read(GPU_RESOURCE, quantity::parse);
    Resources::new(
        read("cpu", quantity::parse),
        read("memory", quantity::mebibytes),
        gpu.round().clamp(0.0, f64::from(u32::MAX)) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster(value: Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_ready_cluster_with_its_summary_region_and_labels() {
        let seen = cluster_inventory(&cluster(json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "edge-1", "labels": {"tier": "edge"}},
            "spec": {"region": "eu-west", "zone": "a", "provider": "ovh"},
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady"}],
                "resourceSummary": {
                    "allocatable": {"cpu": "8", "memory": "16Gi", "nvidia.com/gpu": "1", "pods": "110"},
                    "allocated": {"cpu": "2500m", "memory": "4Gi"},
                    "allocating": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}
                }
            }
        })));
        assert_eq!(seen.name, "edge-1");
        assert!(seen.ready && seen.reason.is_none());
        assert_eq!(seen.allocatable, Resources::new(8.0, 16384.0, 1));
        assert_eq!(seen.allocated, Resources::new(3.0, 5120.0, 1));
        assert_eq!(seen.labels["tier"], "edge");
        assert_eq!(seen.labels["region"], "eu-west");
        assert_eq!(seen.labels["provider"], "ovh");
    }

    #[test]
    fn a_not_ready_cluster_says_why() {
        let seen = cluster_inventory(&cluster(json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "edge-2"},
            "status": {"conditions": [{"type": "Ready", "status": "False",
                "reason": "ClusterNotReachable", "message": "cluster is not reachable"}]}
        })));
        assert!(!seen.ready);
        assert_eq!(
            seen.reason.as_deref(),
            Some("ClusterNotReachable: cluster is not reachable")
        );
        assert_eq!(seen.allocatable, Resources::default());
        let fresh = cluster_inventory(&cluster(json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "new"}
        })));
        assert!(!fresh.ready);
        assert!(fresh.reason.unwrap().contains("no Ready condition"));
    }
}
