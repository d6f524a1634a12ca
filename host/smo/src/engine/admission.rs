//! Deciding without a global lock: a graph's *turn* orders its own operations, a *snapshot* of
//! the free capacity is read under the short *commit lock*, and the result is re-checked there.
//!
//! No lock but the graph's own turn is held while a strategy runs, so a hung strategy on one
//! graph delays only that graph. The commit lock is held to read a snapshot, and to re-check
//! and write a decision that uses capacity; every such write bumps the *epoch*. A decision
//! whose snapshot's epoch is still current commits as it is; otherwise it commits only if it
//! fits the clusters as they are now no worse than it did in its snapshot (a cluster it uses
//! is still ready, and no cluster is short of more than it was); if not, it is stale and the
//! caller decides again.

use super::error::EngineError;
use super::inventory;
use super::lifecycle::Engine;
use super::locks::GraphLocks;
use crate::store::PlacementEntry;
use smo_core::graphs::GraphSpec;
use smo_plugin_api::{Cluster, Resources};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{MutexGuard, OwnedRwLockWriteGuard};

/// Times a placement is decided again when its snapshot went stale before it is given up.
pub const DECIDE_ATTEMPTS: usize = 3;

/// Slack on resource comparisons (floating point sums).
const SLACK: f64 = 1e-9;

/// The turns, the commit lock and the epoch.
#[derive(Debug, Default)]
pub struct Admission {
    turns: GraphLocks,
    commit: tokio::sync::Mutex<()>,
    epoch: AtomicU64,
}

/// The commit lock held: a proof for the functions that read or write capacity under it.
pub type CommitGuard<'a> = MutexGuard<'a, ()>;

/// The clusters a decision was made from and the epoch they were read at.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Ready clusters, `available` counting every graph but the one decided for.
    pub clusters: Vec<Cluster>,
    epoch: u64,
}

impl Admission {
    /// Graph `name`'s turn: held across its decisions; other graphs do not wait for it.
    pub async fn turn(&self, name: &str) -> OwnedRwLockWriteGuard<()> {
        self.turns.write(name).await
    }

    /// The commit lock (short sections only: never across a strategy call).
    pub async fn commit_lock(&self) -> CommitGuard<'_> {
        self.commit.lock().await
    }

    /// Records a write that changes capacity or the clusters (under the commit lock).
    pub fn bump(&self, _held: &CommitGuard<'_>) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }
}

impl Engine {
    /// The clusters for a decision about graph `except`, with the epoch they were read at.
    pub(crate) async fn snapshot(&self, except: &str) -> Result<Snapshot, EngineError> {
        let held = self.admission.commit_lock().await;
        let epoch = self.admission.epoch();
        let clusters = self.decision_clusters(&held, except).await?;
        Ok(Snapshot { clusters, epoch })
    }

    /// Under the commit lock `held`: `Ok` when `proposed` (graph `name`'s rows, from
    /// `snapshot`) may be committed now, `Err(Stale)` naming what changed when not.
    pub(crate) async fn recheck(
        &self,
        held: &CommitGuard<'_>,
        name: &str,
        spec: &GraphSpec,
        snapshot: &Snapshot,
        proposed: &[PlacementEntry],
    ) -> Result<(), EngineError> {
        if self.admission.epoch() == snapshot.epoch {
            return Ok(());
        }
        let now = self.decision_clusters(held, name).await?;
        still_fits(spec, proposed, &snapshot.clusters, &now).map_err(|why| {
            tracing::info!(graph = %name, %why, "decision stale: the clusters changed while deciding");
            EngineError::Stale(why)
        })
    }
}

/// What `entries` use on each cluster (rows with replicas only).
fn demand_per_cluster(spec: &GraphSpec, entries: &[PlacementEntry]) -> BTreeMap<String, Resources> {
    let mut out: BTreeMap<String, Resources> = BTreeMap::new();
    let placed: Vec<PlacementEntry> = entries.iter().filter(|e| e.replicas > 0).cloned().collect();
    for (cluster, demand) in inventory::demand(spec, &placed) {
        let slot = out.entry(cluster).or_default();
        *slot = inventory::add(*slot, demand);
    }
    out
}

/// The amounts of `resources` in the order of [`NAMES`].
fn amounts(resources: &Resources) -> [f64; 3] {
    [
        resources.cpu,
        resources.memory_mib,
        f64::from(resources.gpu),
    ]
}

/// The resources' names, for errors.
const NAMES: [&str; 3] = ["CPU", "memory (MiB)", "GPUs"];

/// How much `demand` exceeds `available`, per resource (0 where it fits).
fn shortfall(demand: &Resources, available: &Resources) -> [f64; 3] {
    let (need, have) = (amounts(demand), amounts(available));
    [0, 1, 2].map(|i| (need[i] - have[i]).max(0.0))
}

/// `Ok` when `entries` fit the clusters `now` no worse than they fitted `before` (the
/// snapshot): every cluster they use is still ready, and none is short of more than it was.
pub fn still_fits(
    spec: &GraphSpec,
    entries: &[PlacementEntry],
    before: &[Cluster],
    now: &[Cluster],
) -> Result<(), String> {
    for (cluster, demand) in demand_per_cluster(spec, entries) {
        let Some(current) = now.iter().find(|c| c.name.as_str() == cluster) else {
            return Err(format!(
                "cluster `{cluster}` is no longer registered and ready"
            ));
        };
        let was = before
            .iter()
            .find(|c| c.name.as_str() == cluster)
            .map_or(shortfall(&demand, &Resources::default()), |c| {
                shortfall(&demand, &c.available)
            });
        let is = shortfall(&demand, &current.available);
        for i in 0..NAMES.len() {
            if is[i] > was[i] + SLACK {
                return Err(format!(
                    "cluster `{cluster}` has {} {} free now, the decision needs {}",
                    fmt_amount(amounts(&current.available)[i]),
                    NAMES[i],
                    fmt_amount(amounts(&demand)[i]),
                ));
            }
        }
    }
    Ok(())
}

fn fmt_amount(value: f64) -> String {
    format!("{}", (value * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GraphSpec {
        smo_core::graphs::brussels_demo_spec()
    }

    fn with_available(mut clusters: Vec<Cluster>, name: &str, cpu: f64) -> Vec<Cluster> {
        for c in clusters.iter_mut().filter(|c| c.name.as_str() == name) {
            c.available = Resources::new(cpu, c.available.memory_mib, c.available.gpu);
        }
        clusters
    }

    #[test]
    fn a_decision_fits_while_its_clusters_keep_room() {
        let spec = spec();
        let clusters = inventory::default_clusters();
        let rows = [PlacementEntry::new("noise-reduction", "edge-athens", 2)];
        assert_eq!(still_fits(&spec, &rows, &clusters, &clusters), Ok(()));
        let error = still_fits(
            &spec,
            &rows,
            &clusters,
            &with_available(clusters.clone(), "edge-athens", 0.0),
        )
        .unwrap_err();
        assert!(
            error.contains("edge-athens") && error.contains("CPU"),
            "{error}"
        );
        let gone: Vec<Cluster> = clusters[1..].to_vec();
        let error = still_fits(&spec, &rows, &clusters, &gone).unwrap_err();
        assert!(error.contains("no longer"), "{error}");
    }

    #[test]
    fn a_decision_short_in_its_snapshot_is_not_refused_for_the_same_shortfall() {
        let spec = spec();
        let tight = with_available(inventory::default_clusters(), "edge-athens", 0.0);
        let rows = [PlacementEntry::new("noise-reduction", "edge-athens", 2)];
        assert_eq!(still_fits(&spec, &rows, &tight, &tight), Ok(()));
        let pending = [PlacementEntry::new("noise-reduction", "edge-athens", 0)];
        assert_eq!(still_fits(&spec, &pending, &tight, &[]), Ok(()));
    }
}
