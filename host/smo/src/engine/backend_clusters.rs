//! Clusters a real backend reports (Karmada's members) that smo does not know yet, registered
//! with their allocatable resources and labels; energy profile and prices stay smo's own.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use smo_core::ports::continuum::ClusterInventory;
use smo_plugin_api::{Cluster, ClusterRole, EnergyProfile, Location, Prices};

use super::error::EngineError;
use super::lifecycle::Engine;
use crate::store::StoreError;

/// The label of a member cluster that gives its role in smo (`edge`, `cloud`, `iot`); a cluster
/// without it is a cloud.
pub const ROLE_LABEL: &str = "smo.io/role";

/// The clusters of `reported` that are not in `known`, as smo registers them: capacity the
/// allocatable resources, region from the cluster's `region`, labels as reported, the default
/// energy profile and prices. A name smo cannot use as a cluster id is skipped (and logged).
pub fn adoptable(known: &HashSet<String>, reported: &[ClusterInventory]) -> Vec<Cluster> {
    reported
        .iter()
        .filter(|seen| !known.contains(&seen.name))
        .filter(
            |seen| match smo_core::graphs::validate::check_id(&seen.name) {
                Ok(()) => true,
                Err(why) => {
                    tracing::warn!(cluster = %seen.name, why, "a member cluster smo cannot name");
                    false
                }
            },
        )
        .map(registered)
        .collect()
}

fn registered(seen: &ClusterInventory) -> Cluster {
    let role = match seen.labels.get(ROLE_LABEL).map(String::as_str) {
        Some("edge") => ClusterRole::Edge,
        Some("iot") => ClusterRole::Iot,
        _ => ClusterRole::Cloud,
    };
    Cluster {
        name: seen.name.as_str().into(),
        role,
        location: Location {
            region: seen
                .labels
                .get("region")
                .cloned()
                .unwrap_or_default()
                .into(),
            ..Location::default()
        },
        capacity: seen.allocatable,
        available: seen.allocatable,
        energy: EnergyProfile::default(),
        prices: Prices::default(),
        labels: super::clusters::labels_of(&seen.labels),
        extra: "{}".into(),
    }
}

impl Engine {
    /// Registers the clusters the backend reports that smo does not know; returns how many.
    pub async fn adopt_backend_clusters(&self) -> Result<usize, EngineError> {
        let reported = self.continuum.inventory().await?;
        let known = self.known_cluster_names()?;
        if adoptable(&known, &reported).is_empty() {
            return Ok(0);
        }
        let held = self.admission.commit_lock().await;
        // Read again under the lock: a cluster registered meanwhile is not replaced.
        let adopted = adoptable(&self.known_cluster_names()?, &reported);
        for cluster in &adopted {
            self.store.upsert_cluster(cluster.name.as_str(), cluster)?;
            tracing::info!(
                cluster = %cluster.name,
                role = cluster.role.as_str(),
                cpu = cluster.capacity.cpu,
                memory_mib = cluster.capacity.memory_mib,
                "registered a member cluster the backend reports"
            );
        }
        self.announce_clusters()?;
        self.admission.bump(&held);
        Ok(adopted.len())
    }

    fn known_cluster_names(&self) -> Result<HashSet<String>, StoreError> {
        Ok(self
            .store
            .list_clusters::<Cluster>()?
            .into_iter()
            .map(|stored| stored.name)
            .collect())
    }
}

/// Adopts the backend's new clusters every `period` (the backend answers from its watch cache)
/// until the engine is dropped.
pub fn spawn_adopting(engine: Weak<Engine>, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(engine) = engine.upgrade() else {
                return;
            };
            if let Err(error) = adopt_once(&engine).await {
                tracing::debug!(%error, "member clusters not adopted this round");
            }
        }
    })
}

/// One adoption round: how many clusters were registered, or why the backend could not say.
pub async fn adopt_once(engine: &Arc<Engine>) -> Result<usize, EngineError> {
    let adopted = engine.adopt_backend_clusters().await?;
    if adopted > 0 {
        tracing::info!(adopted, "member clusters registered");
    }
    Ok(adopted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::Resources;
    use std::collections::BTreeMap;

    fn seen(name: &str, labels: &[(&str, &str)]) -> ClusterInventory {
        ClusterInventory {
            name: name.into(),
            ready: true,
            reason: None,
            capacity: Resources::new(8.0, 16_384.0, 1),
            allocatable: Resources::new(8.0, 16_384.0, 1),
            allocated: Resources::default(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn unknown_members_are_adopted_with_role_region_and_allocatable() {
        let known: HashSet<String> = ["cloud-a".to_owned()].into();
        let reported = [
            seen("cloud-a", &[]),
            seen("edge-1", &[(ROLE_LABEL, "edge"), ("region", "eu-west")]),
            seen("Bad_Name", &[]),
        ];
        let adopted = adoptable(&known, &reported);
        assert_eq!(adopted.len(), 1);
        let edge = &adopted[0];
        assert_eq!(edge.name.as_str(), "edge-1");
        assert_eq!(edge.role, ClusterRole::Edge);
        assert_eq!(edge.location.region.as_str(), "eu-west");
        assert_eq!(edge.capacity, Resources::new(8.0, 16_384.0, 1));
        assert_eq!(edge.labels.len(), 2);
    }
}
