//! Registering and updating clusters and their energy profiles: the bodies the API accepts,
//! their validation (every number finite and in range, naming the field), and the views.
//!
//! Clusters are stored as [`smo_plugin_api::Cluster`] JSON and read by every decision, so an
//! energy profile set here is what the next placement or scaling strategy sees.

use super::error::EngineError;
use super::inventory;
use super::lifecycle::Engine;
use super::limits;
use crate::store::StoredCluster;
use serde::{Deserialize, Serialize};
use smo_core::ports::continuum::ClusterInventory;
use smo_plugin_api::extra::{self, ClusterExtra};
use smo_plugin_api::{
    Cluster, ClusterRole, EnergyProfile, Label, Location, Prices, RVec, Resources,
};
use std::collections::BTreeMap;

/// Body of `POST /v1/clusters` and `PUT /v1/clusters/{name}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterBody {
    /// Required by POST; with PUT it may be omitted, and must match the path if given.
    #[serde(default)]
    pub name: Option<String>,
    pub role: ClusterRole,
    #[serde(default)]
    pub location: Option<Location>,
    /// Total allocatable resources: `{cpu, memory_mib, gpu}`.
    pub capacity: Resources,
    /// The energy profile; fields not given keep their value (defaults for a new cluster).
    #[serde(default)]
    pub energy: Option<EnergyPatch>,
    #[serde(default)]
    pub prices: Option<Prices>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Response-time objective of the services placed here, ms (> 0), handed to strategies as
    /// `slo_ms` in the cluster's `extra` (e.g. for `h3ni-energy/predictive?slo_margin=1`); not
    /// given: the current one is kept (none for a new cluster).
    #[serde(default)]
    pub slo_ms: Option<f64>,
}

/// Body of `PUT /v1/clusters/{name}/energy_profile`: each field optional; those given replace
/// the current value, the others are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyPatch {
    /// Dominant energy source: grid, solar, wind, hydro, nuclear, mixed, ...
    pub source: Option<String>,
    /// Power usage effectiveness (>= 1).
    pub pue: Option<f64>,
    /// Current grid carbon intensity, gCO2eq/kWh (>= 0).
    pub carbon_intensity_g_per_kwh: Option<f64>,
    /// On-site renewable power available now, kW (>= 0).
    pub renewable_supply_kw: Option<f64>,
    /// Share of renewables in the grid mix now, 0..1.
    pub renewable_share: Option<f64>,
    /// Cluster power draw when idle, W (>= 0).
    pub idle_power_w: Option<f64>,
    /// Cluster power draw at full load, W (>= idle).
    pub peak_power_w: Option<f64>,
    /// Preferred when saving energy.
    pub preferred_for_saving: Option<bool>,
}

/// A cluster as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    pub name: String,
    pub role: ClusterRole,
    pub location: Location,
    pub capacity: Resources,
    /// Capacity minus what running graphs use (never negative).
    pub available: Resources,
    /// What running graphs use: replicas x per-replica demand.
    pub used: Resources,
    pub energy: EnergyProfile,
    pub prices: Prices,
    pub labels: BTreeMap<String, String>,
    /// The response-time objective strategies see (`slo_ms` in the cluster's `extra`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_ms: Option<f64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// What the backend (`[backend] kind`) reports of the cluster now.
    pub backend: BackendReport,
}

/// A cluster as the backend reports it: only a ready cluster receives new placements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendReport {
    pub ready: bool,
    /// Why the cluster is not ready: the backend's reason, or that the backend does not report
    /// the cluster, or could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What workloads may use of the cluster, when the backend reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<Resources>,
    /// What every workload (not only smo's) uses of it now, when the backend reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated: Option<Resources>,
}

impl BackendReport {
    /// Cluster `name`'s report out of the backend's inventory (or the error asking for it).
    fn of(name: &str, inventory: &Result<Vec<ClusterInventory>, String>) -> Self {
        let not_ready = |reason: String| Self {
            ready: false,
            reason: Some(reason),
            allocatable: None,
            allocated: None,
        };
        match inventory {
            Err(error) => not_ready(format!("the backend could not be asked: {error}")),
            Ok(clusters) => match clusters.iter().find(|c| c.name == name) {
                None => not_ready("the backend does not report this cluster".to_owned()),
                Some(seen) => Self {
                    ready: seen.ready,
                    reason: seen.reason.clone(),
                    allocatable: Some(seen.allocatable),
                    allocated: Some(seen.allocated),
                },
            },
        }
    }
}

fn check_number(field: &str, value: f64, min: f64, max: f64) -> Result<(), EngineError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(())
    } else {
        let range = if max.is_infinite() {
            format!(">= {min}")
        } else {
            format!("between {min} and {max}")
        };
        Err(EngineError::invalid(
            field,
            format!("must be a finite number {range}, got {value}"),
        ))
    }
}

impl EnergyPatch {
    /// Applies the patch to `energy`, checking every value; `prefix` is put before field names.
    pub fn apply(&self, energy: &mut EnergyProfile, prefix: &str) -> Result<(), EngineError> {
        let field = |name: &str| format!("{prefix}{name}");
        if let Some(source) = &self.source {
            let ok = !source.is_empty()
                && source.len() <= 64
                && source
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(EngineError::invalid(
                    field("source"),
                    "must be 1 to 64 letters, digits, '-' or '_' (e.g. grid, solar, hydro)",
                ));
            }
            energy.source = source.as_str().into();
        }
        let set = |name: &str, value: Option<f64>, min: f64, max: f64, slot: &mut f64| {
            if let Some(value) = value {
                check_number(&field(name), value, min, max)?;
                *slot = value;
            }
            Ok::<(), EngineError>(())
        };
        let (low, high) = limits::PUE;
        set("pue", self.pue, low, high, &mut energy.pue)?;
        let (low, high) = limits::CARBON_G_PER_KWH;
        set(
            "carbon_intensity_g_per_kwh",
            self.carbon_intensity_g_per_kwh,
            low,
            high,
            &mut energy.carbon_intensity_g_per_kwh,
        )?;
        let (low, high) = limits::RENEWABLE_KW;
        set(
            "renewable_supply_kw",
            self.renewable_supply_kw,
            low,
            high,
            &mut energy.renewable_supply_kw,
        )?;
        set(
            "renewable_share",
            self.renewable_share,
            0.0,
            1.0,
            &mut energy.renewable_share,
        )?;
        let (low, high) = limits::POWER_W;
        set(
            "idle_power_w",
            self.idle_power_w,
            low,
            high,
            &mut energy.idle_power_w,
        )?;
        set(
            "peak_power_w",
            self.peak_power_w,
            low,
            high,
            &mut energy.peak_power_w,
        )?;
        if let Some(preferred) = self.preferred_for_saving {
            energy.preferred_for_saving = preferred;
        }
        if energy.peak_power_w > 0.0 && energy.idle_power_w > energy.peak_power_w {
            return Err(EngineError::invalid(
                field("idle_power_w"),
                format!(
                    "idle power {} W is above peak power {} W",
                    energy.idle_power_w, energy.peak_power_w
                ),
            ));
        }
        Ok(())
    }
}

impl ClusterBody {
    /// The cluster named `name` this body describes, on top of `previous` (for an update).
    fn build(&self, name: &str, previous: Option<&Cluster>) -> Result<Cluster, EngineError> {
        smo_core::graphs::validate::check_id(name).map_err(|m| EngineError::invalid("name", m))?;
        let (low, high) = limits::CPU_CORES;
        check_number("capacity.cpu", self.capacity.cpu, low, high)?;
        let (low, high) = limits::MEMORY_MIB;
        check_number("capacity.memory_mib", self.capacity.memory_mib, low, high)?;
        if self.capacity.gpu > limits::GPUS {
            return Err(EngineError::invalid(
                "capacity.gpu",
                format!(
                    "must be at most {}, got {}",
                    limits::GPUS,
                    self.capacity.gpu
                ),
            ));
        }
        if let Some(location) = &self.location {
            check_number("location.lat", location.lat, -90.0, 90.0)?;
            check_number("location.lon", location.lon, -180.0, 180.0)?;
        }
        if let Some(prices) = &self.prices {
            for (field, value) in [
                ("prices.cpu_core_hour", prices.cpu_core_hour),
                ("prices.memory_gib_hour", prices.memory_gib_hour),
                ("prices.gpu_hour", prices.gpu_hour),
                ("prices.egress_gb", prices.egress_gb),
                ("prices.energy_kwh", prices.energy_kwh),
            ] {
                check_number(field, value, limits::PRICE.0, limits::PRICE.1)?;
            }
        }
        let mut energy = previous.map(|c| c.energy.clone()).unwrap_or_default();
        if let Some(patch) = &self.energy {
            patch.apply(&mut energy, "energy.")?;
        }
        Ok(Cluster {
            name: name.into(),
            role: self.role,
            location: self
                .location
                .clone()
                .or_else(|| previous.map(|c| c.location.clone()))
                .unwrap_or_default(),
            capacity: self.capacity,
            available: self.capacity,
            energy,
            prices: self
                .prices
                .or_else(|| previous.map(|c| c.prices))
                .unwrap_or_default(),
            labels: labels_of(&self.labels),
            extra: self.extra(previous)?.into(),
        })
    }

    /// The cluster's `extra` JSON: the previous one's keys, with `slo_ms` set when given.
    fn extra(&self, previous: Option<&Cluster>) -> Result<String, EngineError> {
        let mut extra: serde_json::Map<String, serde_json::Value> = previous
            .and_then(|c| serde_json::from_str(c.extra.as_str()).ok())
            .unwrap_or_default();
        if let Some(slo) = self.slo_ms {
            let (low, high) = limits::SLO_MS;
            if !(slo.is_finite() && slo > low && slo <= high) {
                return Err(EngineError::invalid(
                    "slo_ms",
                    format!(
                        "must be a finite number > {low} and <= {high} (milliseconds), got {slo}"
                    ),
                ));
            }
            extra.insert("slo_ms".into(), slo.into());
        }
        Ok(serde_json::Value::Object(extra).to_string())
    }
}

/// The `slo_ms` a cluster's `extra` carries, if any.
fn slo_of(cluster: &Cluster) -> Option<f64> {
    extra::read::<ClusterExtra>(cluster.extra.as_str())
        .ok()
        .and_then(|e| e.slo_ms)
}

fn view(
    stored: StoredCluster<Cluster>,
    used: Resources,
    inventory: &Result<Vec<ClusterInventory>, String>,
) -> ClusterView {
    let cluster = stored.cluster;
    let slo_ms = slo_of(&cluster);
    let backend = BackendReport::of(&stored.name, inventory);
    ClusterView {
        backend,
        name: stored.name,
        role: cluster.role,
        available: inventory::free(cluster.capacity, used),
        used,
        location: cluster.location,
        capacity: cluster.capacity,
        energy: cluster.energy,
        prices: cluster.prices,
        labels: cluster
            .labels
            .iter()
            .map(|l| (l.key.to_string(), l.value.to_string()))
            .collect(),
        slo_ms,
        created_at_ms: stored.created_at_ms,
        updated_at_ms: stored.updated_at_ms,
    }
}

/// A label map as the plugin API's labels.
pub fn labels_of(labels: &BTreeMap<String, String>) -> RVec<Label> {
    labels
        .iter()
        .map(|(key, value)| Label {
            key: key.as_str().into(),
            value: value.as_str().into(),
        })
        .collect()
}

impl Engine {
    /// The backend's inventory, or why it could not be had (a view shows it, and goes on).
    async fn backend_inventory(&self) -> Result<Vec<ClusterInventory>, String> {
        self.continuum.inventory().await.map_err(|error| {
            tracing::warn!(%error, "the backend's inventory is unavailable");
            error.to_string()
        })
    }

    /// Every cluster, by name, with what running graphs use of it and the backend's report.
    pub async fn list_clusters(&self) -> Result<Vec<ClusterView>, EngineError> {
        let reported = self.backend_inventory().await;
        let used = self.usage.usage(&self.store, None)?;
        Ok(self
            .store
            .list_clusters::<Cluster>()?
            .into_iter()
            .map(|stored| {
                let taken = used.get(&stored.name).copied().unwrap_or_default();
                view(stored, taken, &reported)
            })
            .collect())
    }

    /// Cluster `name`, with the backend's report.
    pub async fn get_cluster(&self, name: &str) -> Result<ClusterView, EngineError> {
        let stored = self
            .store
            .get_cluster::<Cluster>(name)?
            .ok_or_else(|| EngineError::ClusterNotFound(name.to_owned()))?;
        let used = self
            .usage
            .usage(&self.store, None)?
            .get(name)
            .copied()
            .unwrap_or_default();
        let reported = self.backend_inventory().await;
        Ok(view(stored, used, &reported))
    }

    /// Registers a new cluster (409 if the name is taken).
    pub async fn register_cluster(&self, body: &ClusterBody) -> Result<ClusterView, EngineError> {
        let name = body
            .name
            .clone()
            .ok_or_else(|| EngineError::invalid("name", "missing: the cluster's name"))?;
        let held = self.admission.commit_lock().await;
        if self.store.get_cluster::<Cluster>(&name)?.is_some() {
            return Err(EngineError::ClusterExists(name));
        }
        let cluster = body.build(&name, None)?;
        self.store.upsert_cluster(&name, &cluster)?;
        self.announce_clusters()?;
        self.admission.bump(&held);
        drop(held);
        tracing::info!(cluster = %name, "cluster registered");
        self.get_cluster(&name).await
    }

    /// Replaces cluster `name`'s description (404 if unknown); an energy profile not given is
    /// kept, one given is applied field by field.
    pub async fn update_cluster(
        &self,
        name: &str,
        body: &ClusterBody,
    ) -> Result<ClusterView, EngineError> {
        if let Some(named) = &body.name {
            if named != name {
                return Err(EngineError::invalid(
                    "name",
                    format!("{named:?} differs from the cluster in the path, {name:?}"),
                ));
            }
        }
        let held = self.admission.commit_lock().await;
        let previous = self
            .store
            .get_cluster::<Cluster>(name)?
            .ok_or_else(|| EngineError::ClusterNotFound(name.to_owned()))?;
        let cluster = body.build(name, Some(&previous.cluster))?;
        self.store.upsert_cluster(name, &cluster)?;
        self.announce_clusters()?;
        self.admission.bump(&held);
        drop(held);
        tracing::info!(cluster = %name, "cluster updated");
        self.get_cluster(name).await
    }

    /// Applies an energy-profile patch to cluster `name` (404 if unknown).
    pub async fn set_energy_profile(
        &self,
        name: &str,
        patch: &EnergyPatch,
    ) -> Result<ClusterView, EngineError> {
        let held = self.admission.commit_lock().await;
        let mut stored = self
            .store
            .get_cluster::<Cluster>(name)?
            .ok_or_else(|| EngineError::ClusterNotFound(name.to_owned()))?;
        patch.apply(&mut stored.cluster.energy, "")?;
        self.store.upsert_cluster(name, &stored.cluster)?;
        self.announce_clusters()?;
        self.admission.bump(&held);
        drop(held);
        tracing::info!(cluster = %name, carbon = stored.cluster.energy.carbon_intensity_g_per_kwh, "energy profile updated");
        self.get_cluster(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_report_says_why_a_cluster_is_not_ready() {
        let seen = ClusterInventory {
            name: "edge".into(),
            ready: false,
            reason: Some("NotReady: kubelet stopped posting".into()),
            capacity: Resources::new(8.0, 8192.0, 0),
            allocatable: Resources::new(7.5, 7000.0, 0),
            allocated: Resources::new(2.0, 1024.0, 0),
            labels: BTreeMap::new(),
        };
        let inventory = Ok(vec![seen]);
        let report = BackendReport::of("edge", &inventory);
        assert!(!report.ready);
        assert_eq!(
            report.reason.as_deref(),
            Some("NotReady: kubelet stopped posting")
        );
        assert_eq!(report.allocatable, Some(Resources::new(7.5, 7000.0, 0)));
        assert_eq!(report.allocated, Some(Resources::new(2.0, 1024.0, 0)));
        let unknown = BackendReport::of("cloud", &inventory);
        assert!(!unknown.ready && unknown.allocatable.is_none());
        assert!(unknown
            .reason
            .unwrap_or_default()
            .contains("does not report"));
        let unreachable = BackendReport::of("edge", &Err("connection refused".to_owned()));
        assert!(!unreachable.ready);
        assert!(unreachable
            .reason
            .unwrap_or_default()
            .contains("could not be asked: connection refused"));
    }

    #[test]
    fn the_slo_goes_to_strategies_in_the_cluster_extra_and_is_kept_on_update() {
        let body = |slo: Option<f64>| ClusterBody {
            name: None,
            role: ClusterRole::Edge,
            location: None,
            capacity: Resources::new(4.0, 4096.0, 0),
            energy: None,
            prices: None,
            labels: BTreeMap::new(),
            slo_ms: slo,
        };
        let mut first = body(Some(30.0)).build("edge", None).expect("valid");
        assert_eq!(slo_of(&first), Some(30.0));
        // Keys other components put in `extra` survive; an update without the SLO keeps it.
        first.extra = r#"{"slo_ms": 30.0, "site": "paris"}"#.into();
        let kept = body(None).build("edge", Some(&first)).expect("valid");
        let extra: serde_json::Value = serde_json::from_str(kept.extra.as_str()).expect("JSON");
        assert_eq!(extra["slo_ms"], 30.0);
        assert_eq!(extra["site"], "paris");
        let changed = body(Some(50.0)).build("edge", Some(&first)).expect("valid");
        assert_eq!(slo_of(&changed), Some(50.0));
        assert_eq!(
            slo_of(&body(None).build("edge", None).expect("valid")),
            None
        );
        for bad in [0.0, -1.0, f64::NAN] {
            let e = body(Some(bad)).build("edge", None).expect_err("refused");
            assert!(e.to_string().contains("slo_ms"), "{e}");
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut energy = EnergyProfile::default();
        EnergyPatch {
            carbon_intensity_g_per_kwh: Some(12.0),
            preferred_for_saving: Some(true),
            ..EnergyPatch::default()
        }
        .apply(&mut energy, "")
        .expect("valid");
        assert_eq!(energy.carbon_intensity_g_per_kwh, 12.0);
        assert!(energy.preferred_for_saving);
        assert_eq!(energy.pue, EnergyProfile::default().pue);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let cases = [
            (
                EnergyPatch {
                    pue: Some(0.9),
                    ..EnergyPatch::default()
                },
                "pue",
            ),
            (
                EnergyPatch {
                    renewable_share: Some(1.5),
                    ..EnergyPatch::default()
                },
                "renewable_share",
            ),
            (
                EnergyPatch {
                    carbon_intensity_g_per_kwh: Some(f64::NAN),
                    ..EnergyPatch::default()
                },
                "carbon_intensity_g_per_kwh",
            ),
            (
                EnergyPatch {
                    source: Some(String::new()),
                    ..EnergyPatch::default()
                },
                "source",
            ),
        ];
        for (patch, field) in cases {
            match patch.apply(&mut EnergyProfile::default(), "energy.") {
                Err(EngineError::Invalid { field: f, .. }) => {
                    assert_eq!(f, format!("energy.{field}"))
                }
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
