//! The cluster inventory the strategies see: clusters from the store (a built-in default of
//! three is seeded at first start), with `available` = capacity minus what other graphs use.
//!
//! "What a graph uses" on a cluster is the sum over its placement rows on that cluster of
//! `replicas x per-replica demand` (CPU, memory, GPUs), counted only for graphs whose status is
//! `running` (a stopped graph's services are not deployed). The graph being decided for is left
//! out, so its own replicas are never counted twice on a re-placement or a scaling round (the
//! upstream SMO subtracted them and then placed them again). `available` never goes below zero.
//! Strategies get only the clusters the backend reports ready ([`ready_clusters`]).

use crate::store::{PlacementEntry, Store, StoreError, StoredGraph};
use smo_core::graphs::GraphSpec;
use smo_core::ports::ClusterInventory;
use smo_plugin_api::{
    Cluster, ClusterRole, EnergyProfile, Label, Location, Prices, RVec, Resources,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

/// The status of a graph whose services are deployed.
pub const RUNNING: &str = "running";
/// The status of a stopped graph.
pub const STOPPED: &str = "stopped";
/// The status of a graph being withdrawn from the backend before its rows are removed.
pub const DELETING: &str = "deleting";

fn label(key: &str, value: &str) -> Label {
    Label {
        key: key.into(),
        value: value.into(),
    }
}

/// The built-in inventory of a fresh daemon: an edge site without GPU, a GPU cloud region on
/// hydro power, and a larger general-purpose cloud region on a fossil-heavy grid.
pub fn default_clusters() -> Vec<Cluster> {
    let cluster = |name: &str,
                   role: ClusterRole,
                   location: Location,
                   capacity: Resources,
                   energy: EnergyProfile,
                   prices: Prices,
                   labels: Vec<Label>| Cluster {
        name: name.into(),
        role,
        location,
        capacity,
        available: capacity,
        energy,
        prices,
        labels: RVec::from(labels),
        extra: "{}".into(),
    };
    vec![
        cluster(
            "edge-athens",
            ClusterRole::Edge,
            Location {
                lat: 37.98,
                lon: 23.73,
                region: "gr-attica".into(),
            },
            // Four small servers: 4 x (4 cores, 8 GiB).
            Resources::new(16.0, 32_768.0, 0),
            EnergyProfile {
                source: "solar".into(),
                pue: 1.6,
                carbon_intensity_g_per_kwh: 330.0,
                renewable_supply_kw: 3.0,
                renewable_share: 0.45,
                idle_power_w: 400.0,
                peak_power_w: 1_100.0,
                preferred_for_saving: false,
            },
            Prices {
                cpu_core_hour: 0.05,
                memory_gib_hour: 0.006,
                gpu_hour: 0.0,
                egress_gb: 0.01,
                energy_kwh: 0.21,
            },
            vec![label("tier", "edge")],
        ),
        cluster(
            "cloud-gpu-stockholm",
            ClusterRole::Cloud,
            Location {
                lat: 59.33,
                lon: 18.07,
                region: "se-north".into(),
            },
            // Eight GPU servers: 8 x (16 cores, 128 GiB, 1 GPU).
            Resources::new(128.0, 1_048_576.0, 8),
            EnergyProfile {
                source: "hydro".into(),
                pue: 1.15,
                carbon_intensity_g_per_kwh: 35.0,
                renewable_supply_kw: 0.0,
                renewable_share: 0.95,
                idle_power_w: 3_200.0,
                peak_power_w: 12_800.0,
                preferred_for_saving: true,
            },
            Prices {
                cpu_core_hour: 0.04,
                memory_gib_hour: 0.005,
                gpu_hour: 1.10,
                egress_gb: 0.05,
                energy_kwh: 0.08,
            },
            vec![label("tier", "cloud"), label("accelerator", "gpu")],
        ),
        cluster(
            "cloud-frankfurt",
            ClusterRole::Cloud,
            Location {
                lat: 50.11,
                lon: 8.68,
                region: "de-central".into(),
            },
            // Sixteen general-purpose servers: 16 x (16 cores, 64 GiB).
            Resources::new(256.0, 1_048_576.0, 0),
            EnergyProfile {
                source: "mixed".into(),
                pue: 1.35,
                carbon_intensity_g_per_kwh: 380.0,
                renewable_supply_kw: 0.0,
                renewable_share: 0.5,
                idle_power_w: 4_800.0,
                peak_power_w: 16_000.0,
                preferred_for_saving: false,
            },
            Prices {
                cpu_core_hour: 0.03,
                memory_gib_hour: 0.004,
                gpu_hour: 0.0,
                egress_gb: 0.05,
                energy_kwh: 0.25,
            },
            vec![label("tier", "cloud")],
        ),
    ]
}

/// Stores [`default_clusters`] when the store has no cluster yet; returns how many were added.
pub fn seed_if_empty(store: &Store) -> Result<usize, StoreError> {
    if !store.list_clusters::<Cluster>()?.is_empty() {
        return Ok(0);
    }
    let clusters = default_clusters();
    for cluster in &clusters {
        store.upsert_cluster(cluster.name.as_str(), cluster)?;
    }
    Ok(clusters.len())
}

pub(crate) fn add(a: Resources, b: Resources) -> Resources {
    Resources::new(a.cpu + b.cpu, a.memory_mib + b.memory_mib, a.gpu + b.gpu)
}

/// What the rows `entries` of a graph of spec `spec` use, one item a row: replicas x the
/// service's per-replica demand (rows of services the spec lacks use nothing).
pub(crate) fn demand(spec: &GraphSpec, entries: &[PlacementEntry]) -> Vec<(String, Resources)> {
    entries
        .iter()
        .filter_map(|entry| {
            let service = spec.service(&entry.service)?;
            let demand = Resources::from(service.demand).times(entry.replicas);
            Some((entry.cluster.clone(), demand))
        })
        .collect()
}

/// What one graph uses, per cluster (nothing unless it is running).
fn contribution(graph: &StoredGraph, entries: &[PlacementEntry]) -> Vec<(String, Resources)> {
    if graph.status != RUNNING {
        return Vec::new();
    }
    demand(&graph.spec, entries)
}

/// Every graph's contribution, read from the store.
fn scan(store: &Store) -> Result<HashMap<String, Vec<(String, Resources)>>, StoreError> {
    let mut out = HashMap::new();
    for graph in store.list_graphs()? {
        let entries = match store.get_placement(graph.name()) {
            Ok(entries) => entries,
            // Deleted since it was listed.
            Err(StoreError::GraphNotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        out.insert(graph.name().to_owned(), contribution(&graph, &entries));
    }
    Ok(out)
}

fn total(
    per_graph: &HashMap<String, Vec<(String, Resources)>>,
    except: Option<&str>,
) -> HashMap<String, Resources> {
    let mut used: HashMap<String, Resources> = HashMap::new();
    for (graph, parts) in per_graph {
        if Some(graph.as_str()) == except {
            continue;
        }
        for (cluster, demand) in parts {
            let slot = used.entry(cluster.clone()).or_default();
            *slot = add(*slot, *demand);
        }
    }
    used
}

/// Resources used on each cluster by the running graphs other than `except`, read afresh.
pub fn usage(
    store: &Store,
    except: Option<&str>,
) -> Result<HashMap<String, Resources>, StoreError> {
    Ok(total(&scan(store)?, except))
}

/// [`usage`] kept between reads: the store is scanned once, then only the graphs marked as
/// written since are read again, and the totals per cluster are kept up to date, so a read
/// costs the same whatever the number of graphs. Correct as long as every write of a graph's
/// placement or status marks the graph before and after it (the engine's write lock does):
/// a read racing a write may see the state before it, never a stale state after it.
#[derive(Debug, Default)]
pub struct UsageCache {
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    loaded: bool,
    per_graph: HashMap<String, Vec<(String, Resources)>>,
    totals: HashMap<String, Resources>,
    dirty: HashSet<String>,
}

impl CacheState {
    fn replace(&mut self, graph: &str, parts: Option<Vec<(String, Resources)>>) {
        let old = match parts {
            Some(parts) => self.per_graph.insert(graph.to_owned(), parts),
            None => self.per_graph.remove(graph),
        };
        for (cluster, demand) in old.unwrap_or_default() {
            let slot = self.totals.entry(cluster).or_default();
            *slot = slot.minus(&demand);
        }
        for (cluster, demand) in self.per_graph.get(graph).into_iter().flatten() {
            let slot = self.totals.entry(cluster.clone()).or_default();
            *slot = add(*slot, *demand);
        }
        drop_empty(&mut self.totals);
    }
}

impl UsageCache {
    /// Graph `graph` is being (or was) written: read it again next time.
    pub fn mark(&self, graph: &str) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dirty
            .insert(graph.to_owned());
    }

    /// As [`usage`], from the cache.
    pub fn usage(
        &self,
        store: &Store,
        except: Option<&str>,
    ) -> Result<HashMap<String, Resources>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.loaded {
            state.per_graph = scan(store)?;
            state.totals = total(&state.per_graph, None);
            state.dirty.clear();
            state.loaded = true;
        }
        let dirty: Vec<String> = state.dirty.iter().cloned().collect();
        for name in dirty {
            let parts = match store.get_graph(&name)? {
                Some(graph) => match store.get_placement(&name) {
                    Ok(entries) => Some(contribution(&graph, &entries)),
                    Err(StoreError::GraphNotFound(_)) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            state.replace(&name, parts);
            state.dirty.remove(&name);
        }
        let mut used = state.totals.clone();
        for (cluster, demand) in except
            .and_then(|graph| state.per_graph.get(graph))
            .into_iter()
            .flatten()
        {
            if let Some(slot) = used.get_mut(cluster) {
                *slot = slot.minus(demand);
            }
        }
        drop_empty(&mut used);
        Ok(used)
    }
}

/// Removes the clusters nothing is used on (within rounding: the totals are kept by adding
/// and subtracting).
fn drop_empty(used: &mut HashMap<String, Resources>) {
    const ROUNDING: f64 = 1e-6;
    used.retain(|_, r| r.cpu.abs() > ROUNDING || r.memory_mib.abs() > ROUNDING || r.gpu > 0);
}

/// `capacity - used`, never below zero.
pub fn free(capacity: Resources, used: Resources) -> Resources {
    let left = capacity.minus(&used);
    Resources::new(left.cpu.max(0.0), left.memory_mib.max(0.0), left.gpu)
}

/// Every cluster, by name, with `available` = capacity minus `used`.
pub fn clusters_with(
    store: &Store,
    used: &HashMap<String, Resources>,
) -> Result<Vec<Cluster>, StoreError> {
    Ok(store
        .list_clusters::<Cluster>()?
        .into_iter()
        .map(|stored| {
            let mut cluster = stored.cluster;
            let taken = used.get(cluster.name.as_str()).copied().unwrap_or_default();
            cluster.available = free(cluster.capacity, taken);
            cluster
        })
        .collect())
}

/// The registered `clusters` the backend's `inventory` says are ready: a cluster the backend
/// reports not ready, or does not report, is left out (strategies never get it); a reported
/// allocatable amount replaces the registered capacity, and `available` shrinks with it.
pub fn ready_clusters(clusters: Vec<Cluster>, inventory: &[ClusterInventory]) -> Vec<Cluster> {
    clusters
        .into_iter()
        .filter_map(|mut cluster| {
            let seen = inventory.iter().find(|i| i.name == cluster.name.as_str())?;
            if !seen.ready {
                return None;
            }
            let allocatable = seen.allocatable;
            if allocatable.cpu > 0.0 && allocatable != cluster.capacity {
                let used = cluster.capacity.minus(&cluster.available);
                cluster.capacity = allocatable;
                cluster.available = free(allocatable, used);
            }
            Some(cluster)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_inventory_has_an_edge_a_gpu_cloud_and_a_cloud() {
        let clusters = default_clusters();
        assert_eq!(clusters.len(), 3);
        let edge = &clusters[0];
        assert_eq!(edge.role, ClusterRole::Edge);
        assert_eq!(edge.capacity.gpu, 0);
        assert!(clusters
            .iter()
            .any(|c| c.role == ClusterRole::Cloud && c.capacity.gpu > 0));
        assert!(clusters
            .iter()
            .any(|c| c.role == ClusterRole::Cloud && c.capacity.gpu == 0));
        for c in &clusters {
            assert!(c.energy.pue >= 1.0);
            assert_eq!(c.available, c.capacity);
        }
    }

    #[test]
    fn seeding_happens_once() {
        let store = Store::open_in_memory().expect("store");
        assert_eq!(seed_if_empty(&store).expect("seed"), 3);
        assert_eq!(seed_if_empty(&store).expect("again"), 0);
        let used = usage(&store, None).expect("usage");
        assert_eq!(clusters_with(&store, &used).expect("list").len(), 3);
    }

    #[test]
    fn the_cache_follows_marked_writes() {
        let store = Store::open_in_memory().expect("store");
        seed_if_empty(&store).expect("seed");
        let spec = smo_core::graphs::parse_descriptor(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/hdag/hello-world.yaml"
        )))
        .expect("fixture");
        let cache = UsageCache::default();
        assert!(cache.usage(&store, None).expect("usage").is_empty());
        store.create_graph(&spec, RUNNING).expect("graph");
        let placed = [PlacementEntry::new("hello-world", "edge-athens", 3)];
        store
            .commit(
                &spec.name,
                &crate::store::Commit {
                    placement: Some(&placed),
                    ..Default::default()
                },
            )
            .expect("placement");
        cache.mark(&spec.name);
        let used = cache.usage(&store, None).expect("usage");
        assert_eq!(used["edge-athens"].cpu, 3.0);
        assert_eq!(used, usage(&store, None).expect("fresh"));
        assert!(cache
            .usage(&store, Some(&spec.name))
            .expect("except")
            .is_empty());
        store
            .commit(
                &spec.name,
                &crate::store::Commit {
                    status: Some(STOPPED),
                    ..Default::default()
                },
            )
            .expect("stop");
        cache.mark(&spec.name);
        assert!(cache.usage(&store, None).expect("stopped").is_empty());
        store.delete_graph(&spec.name).expect("delete");
        cache.mark(&spec.name);
        assert!(cache.usage(&store, None).expect("deleted").is_empty());
    }

    #[test]
    fn only_clusters_the_backend_reports_ready_reach_strategies() {
        let clusters = default_clusters();
        let seen = |name: &str, ready: bool, cpu: f64| ClusterInventory {
            name: name.into(),
            ready,
            reason: (!ready).then(|| "NotReady".into()),
            capacity: Resources::new(cpu, 1e6, 8),
            allocatable: Resources::new(cpu, 1e6, 8),
            allocated: Resources::default(),
            labels: Default::default(),
        };
        let inventory = [
            seen("edge-athens", true, 0.0),
            seen("cloud-gpu-stockholm", false, 128.0),
            seen("cloud-frankfurt", true, 64.0),
        ];
        let ready = ready_clusters(clusters.clone(), &inventory);
        let names: Vec<&str> = ready.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["edge-athens", "cloud-frankfurt"]);
        assert_eq!(
            ready[0].capacity, clusters[0].capacity,
            "no allocatable reported"
        );
        assert_eq!(ready[1].capacity.cpu, 64.0);
        assert_eq!(ready[1].available.cpu, 64.0);
        assert!(
            ready_clusters(clusters, &[]).is_empty(),
            "unknown to the backend"
        );
    }

    #[test]
    fn free_never_goes_negative() {
        let left = free(Resources::new(2.0, 100.0, 1), Resources::new(3.0, 50.0, 2));
        assert_eq!(left, Resources::new(0.0, 50.0, 0));
    }
}
