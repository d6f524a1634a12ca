//! Handlers for clusters: list, get, register, update, and the energy profile (source, PUE,
//! carbon intensity, renewable supply, preferred-for-saving) that strategies see next time.
//!
//! The bodies are read strictly (see [`super::wire`]): an object member given as an array, a
//! string or `null`, or a member the body does not have, is refused with 422 naming it.

use super::error::ApiError;
use super::views::ClusterView;
use super::wire::{self, json_object, ClusterRole, JsonObject, NAME_MAX, NAME_PATTERN};
use super::AppState;
use crate::engine::clusters as engine;
use crate::engine::limits;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The list body.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ClusterList {
    pub clusters: Vec<ClusterView>,
}

/// A position: latitude and longitude in degrees, and a free-form region name.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    #[schemars(range(min = -90.0, max = 90.0))]
    pub lat: f64,
    #[schemars(range(min = -180.0, max = 180.0))]
    pub lon: f64,
    pub region: String,
}

/// Total allocatable resources of a cluster.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityBody {
    /// CPU cores.
    #[schemars(range(min = limits::CPU_CORES.0, max = limits::CPU_CORES.1))]
    pub cpu: f64,
    /// Memory, MiB.
    #[schemars(range(min = limits::MEMORY_MIB.0, max = limits::MEMORY_MIB.1))]
    pub memory_mib: f64,
    /// Whole GPUs.
    #[serde(deserialize_with = "wire::integer")]
    #[schemars(range(max = limits::GPUS))]
    pub gpu: u32,
}

/// Prices of running on a cluster (any currency, used consistently).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PricesBody {
    #[schemars(range(min = limits::PRICE.0, max = limits::PRICE.1))]
    pub cpu_core_hour: f64,
    #[schemars(range(min = limits::PRICE.0, max = limits::PRICE.1))]
    pub memory_gib_hour: f64,
    #[schemars(range(min = limits::PRICE.0, max = limits::PRICE.1))]
    pub gpu_hour: f64,
    #[schemars(range(min = limits::PRICE.0, max = limits::PRICE.1))]
    pub egress_gb: f64,
    #[schemars(range(min = limits::PRICE.0, max = limits::PRICE.1))]
    pub energy_kwh: f64,
}

/// Body of `PUT /v1/clusters/{name}/energy_profile`, and `energy` of a cluster's body: each
/// member optional (not `null`); those given replace the current value, the others are kept
/// (defaults for a new cluster). `idle_power_w` may not exceed a non-zero `peak_power_w`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnergyPatch {
    /// Dominant energy source: grid, solar, wind, hydro, nuclear, mixed, ...
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(with = "String", pattern("^[A-Za-z0-9_-]{1,64}$"))]
    pub source: Option<String>,
    /// Power usage effectiveness.
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(with = "f64", range(min = limits::PUE.0, max = limits::PUE.1))]
    pub pue: Option<f64>,
    /// Current grid carbon intensity, gCO2eq/kWh.
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(
        with = "f64",
        range(min = limits::CARBON_G_PER_KWH.0, max = limits::CARBON_G_PER_KWH.1)
    )]
    pub carbon_intensity_g_per_kwh: Option<f64>,
    /// On-site renewable power available now, kW.
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(with = "f64", range(min = limits::RENEWABLE_KW.0, max = limits::RENEWABLE_KW.1))]
    pub renewable_supply_kw: Option<f64>,
    /// Share of renewables in the grid mix now, 0..1.
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(with = "f64", range(min = 0.0, max = 1.0))]
    pub renewable_share: Option<f64>,
    /// Cluster power draw when idle, W.
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(with = "f64", range(min = limits::POWER_W.0, max = limits::POWER_W.1))]
    pub idle_power_w: Option<f64>,
    /// Cluster power draw at full load, W.
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(with = "f64", range(min = limits::POWER_W.0, max = limits::POWER_W.1))]
    pub peak_power_w: Option<f64>,
    /// Preferred when saving energy.
    #[serde(default, deserialize_with = "wire::some")]
    #[schemars(with = "bool")]
    pub preferred_for_saving: Option<bool>,
}

impl From<EnergyPatch> for engine::EnergyPatch {
    fn from(patch: EnergyPatch) -> Self {
        let EnergyPatch {
            source,
            pue,
            carbon_intensity_g_per_kwh,
            renewable_supply_kw,
            renewable_share,
            idle_power_w,
            peak_power_w,
            preferred_for_saving,
        } = patch;
        Self {
            source,
            pue,
            carbon_intensity_g_per_kwh,
            renewable_supply_kw,
            renewable_share,
            idle_power_w,
            peak_power_w,
            preferred_for_saving,
        }
    }
}

/// A cluster's body: the name member as given, then what every cluster body has. Written once
/// for both bodies (serde's `flatten` cannot be combined with `deny_unknown_fields`).
macro_rules! cluster_body {
    ($(#[$doc:meta])* $body:ident { $(#[$name_attr:meta])* name: $name_type:ty }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $body {
            $(#[$name_attr])*
            pub name: $name_type,
            pub role: ClusterRole,
            /// Not given: the current one is kept (lat 0, lon 0, region "" for a new cluster).
            #[serde(default, deserialize_with = "wire::some_object")]
            #[schemars(with = "LocationBody")]
            pub location: Option<LocationBody>,
            #[serde(deserialize_with = "wire::object")]
            pub capacity: CapacityBody,
            /// The energy profile; members not given keep their value (defaults for a new
            /// cluster).
            #[serde(default, deserialize_with = "wire::some_object")]
            #[schemars(with = "EnergyPatch")]
            pub energy: Option<EnergyPatch>,
            /// Not given: the current ones are kept (all 0 for a new cluster).
            #[serde(default, deserialize_with = "wire::some_object")]
            #[schemars(with = "PricesBody")]
            pub prices: Option<PricesBody>,
            /// The cluster's labels (replacing the current ones).
            #[serde(default, deserialize_with = "wire::object")]
            pub labels: BTreeMap<String, String>,
            /// Response-time objective of the services placed here, ms, handed to strategies
            /// as `slo_ms` in the cluster's `extra` (e.g. for
            /// `h3ni-energy/predictive?slo_margin=1`); not given: the current one is kept (none
            /// for a new cluster).
            #[serde(default, deserialize_with = "wire::some")]
            #[schemars(with = "f64", extend("exclusiveMinimum" = 0), range(max = limits::SLO_MS.1))]
            pub slo_ms: Option<f64>,
        }

        impl $body {
            fn into_engine(self, name: Option<String>) -> engine::ClusterBody {
                let $body {
                    name: _,
                    role,
                    location,
                    capacity,
                    energy,
                    prices,
                    labels,
                    slo_ms,
                } = self;
                engine::ClusterBody {
                    name,
                    role: role.into(),
                    location: location.map(|l| {
                        wire::Location {
                            lat: l.lat,
                            lon: l.lon,
                            region: l.region,
                        }
                        .into()
                    }),
                    capacity: wire::Resources {
                        cpu: capacity.cpu,
                        memory_mib: capacity.memory_mib,
                        gpu: capacity.gpu,
                    }
                    .into(),
                    energy: energy.map(Into::into),
                    prices: prices.map(|p| {
                        wire::Prices {
                            cpu_core_hour: p.cpu_core_hour,
                            memory_gib_hour: p.memory_gib_hour,
                            gpu_hour: p.gpu_hour,
                            egress_gb: p.egress_gb,
                            energy_kwh: p.energy_kwh,
                        }
                        .into()
                    }),
                    labels,
                    slo_ms,
                }
            }
        }
    };
}

cluster_body! {
    /// Body of `PUT /v1/clusters/{name}`: replaces the cluster's description. Members left out
    /// keep their value (`energy` member by member); none may be `null`.
    ClusterBody {
        /// The cluster's name; when given, it must be the one in the path.
        #[serde(default, deserialize_with = "wire::some")]
        #[schemars(with = "String", pattern(NAME_PATTERN), length(min = 1, max = NAME_MAX))]
        name: Option<String>
    }
}

cluster_body! {
    /// Body of `POST /v1/clusters`: a new cluster (409 if the name is taken). Members left out
    /// take their defaults; none may be `null`.
    NewCluster {
        /// The cluster's name (a DNS label, as Kubernetes requires).
        #[schemars(pattern(NAME_PATTERN), length(min = 1, max = NAME_MAX))]
        name: String
    }
}

/// `GET /v1/clusters`: every cluster with its capacity, what running graphs use, what is left,
/// and its energy profile.
pub async fn list(State(state): State<AppState>) -> Result<Json<ClusterList>, ApiError> {
    Ok(Json(ClusterList {
        clusters: state
            .engine
            .list_clusters()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    }))
}

/// `GET /v1/clusters/{name}`
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ClusterView>, ApiError> {
    Ok(Json(state.engine.get_cluster(&name).await?.into()))
}

/// `POST /v1/clusters`: 201, or 409 if the name is taken.
pub async fn register(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let body: NewCluster = json_object(body)?;
    let name = body.name.clone();
    let body = body.into_engine(Some(name));
    let view = ClusterView::from(state.engine.register_cluster(&body).await?);
    let location = format!("/v1/clusters/{}", view.name);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `PUT /v1/clusters/{name}`: replaces the description (404 if unknown).
pub async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: JsonObject,
) -> Result<Json<ClusterView>, ApiError> {
    let body: ClusterBody = json_object(body)?;
    let named = body.name.clone();
    let body = body.into_engine(named);
    Ok(Json(
        state.engine.update_cluster(&name, &body).await?.into(),
    ))
}

/// `PUT /v1/clusters/{name}/energy_profile`: the fields given replace the current ones.
pub async fn energy_profile(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: JsonObject,
) -> Result<Json<ClusterView>, ApiError> {
    let patch = engine::EnergyPatch::from(json_object::<EnergyPatch>(body)?);
    Ok(Json(
        state.engine.set_energy_profile(&name, &patch).await?.into(),
    ))
}
