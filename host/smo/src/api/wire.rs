//! The API's own copies of the plugin API's data types (clusters, graphs, placements,
//! telemetry), with JSON Schemas, and the helpers that read request bodies strictly.
//!
//! The plugin API's types are `abi_stable` (`RString`, `RVec`, `ROption`) and frozen within a
//! major version, so the REST API does not derive schemas on them: it reads and writes these
//! mirrors instead and converts. A conversion names every field (a struct literal, or a
//! destructuring without `..`), so a member added to a plugin-API type breaks the build here
//! until the mirror has it too.
//!
//! Strict reading: serde reads a struct from a JSON array too (positionally) and an `Option`
//! from `null`. Request bodies refuse both: every object-valued member goes through
//! [`object`] (a JSON object or an error), and an optional member that may be left out but
//! not set to `null` through [`some`] / [`some_object`].

use super::error::{from_json_rejection, ApiError};
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use smo_plugin_api as api;

/// The names of graphs, services and clusters: a DNS label (RFC 1123), as Kubernetes requires.
pub const NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// The longest name.
pub const NAME_MAX: usize = smo_core::graphs::validate::MAX_ID_LEN;

/// A request body that must be a JSON object (what the handlers of JSON bodies extract).
pub type JsonObject = Result<Json<Map<String, Value>>, JsonRejection>;

/// The body read as `T`: 400 for malformed JSON, 415 without a JSON content type, 413 when too
/// large, and 422 `bad_request` for JSON of the wrong shape, naming the member (`field`, e.g.
/// `prices` or `capacity.cpu`).
pub fn json_object<T: DeserializeOwned>(body: JsonObject) -> Result<T, ApiError> {
    let Json(map) = body.map_err(from_json_rejection)?;
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let (field, detail) = locate(&e.path().to_string(), &e.inner().to_string());
        let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", detail);
        error.field = field;
        error
    })
}

/// The member an error is about and the error's text: the path serde followed, joined with the
/// path an [`object`] member put before its message (`prices` + `cpu_core_hour: ...`), or the
/// member a message names (`missing field `name``, `unknown field `x``).
fn locate(path: &str, message: &str) -> (Option<String>, String) {
    let mut field: Vec<String> = if path == "." {
        Vec::new()
    } else {
        vec![path.to_owned()]
    };
    let mut rest = message;
    while let Some((head, tail)) = rest.split_once(": ") {
        if head.is_empty() || head.contains(' ') {
            break;
        }
        field.push(head.to_owned());
        rest = tail;
    }
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(name) = rest
            .strip_prefix(prefix)
            .and_then(|tail| tail.split_once('`'))
            .map(|(name, _)| name)
        {
            // serde_path_to_error already ends the path with an unknown member's name.
            let named = field
                .last()
                .is_some_and(|last| last == name || last.ends_with(&format!(".{name}")));
            if !named {
                field.push(name.to_owned());
            }
        }
    }
    let field = (!field.is_empty()).then(|| field.join(".").replace(".[", "["));
    let detail = match &field {
        Some(field) => format!("{field}: {rest}"),
        None => rest.to_owned(),
    };
    (field, detail)
}

/// A JSON object read as `T`: an array (which serde would read positionally), a string or
/// `null` is refused. Errors inside the object name their path (`cpu: invalid type ...`).
pub fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let map = Map::<String, Value>::deserialize(d)?;
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            D::Error::custom(e.into_inner())
        } else {
            D::Error::custom(format!("{path}: {}", e.into_inner()))
        }
    })
}

/// A member that may be left out, but not set to `null` (`#[serde(default, deserialize_with)]`).
pub fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// [`some`] for an object-valued member (see [`object`]).
pub fn some_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    object(d).map(Some)
}

/// An object-valued member that may be `null` (and must be given).
pub fn nullable_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    match Option::<Map<String, Value>>::deserialize(d)? {
        None => Ok(None),
        Some(map) => object(Value::Object(map))
            .map(Some)
            .map_err(D::Error::custom),
    }
}

/// A list of objects (see [`object`]).
pub fn objects<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Vec::<Map<String, Value>>::deserialize(d)?
        .into_iter()
        .enumerate()
        .map(|(i, map)| {
            object(Value::Object(map))
                .map_err(|e: serde_json::Error| D::Error::custom(format!("[{i}]: {e}")))
        })
        .collect()
}

/// An integer member: a JSON number without a fractional part (`2` or `2.0`, as JSON Schema's
/// `integer` says), within `T`'s range.
pub fn integer<'de, D: Deserializer<'de>, T: TryFrom<u64> + TryFrom<i64>>(
    d: D,
) -> Result<T, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    let value = if let Some(n) = number.as_u64() {
        T::try_from(n).ok()
    } else if let Some(n) = number.as_i64() {
        T::try_from(n).ok()
    } else {
        // Integral and exactly representable (below 2^53): 65536.0 is 65536.
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .and_then(|f| T::try_from(f as i64).ok())
    };
    value.ok_or_else(|| {
        D::Error::custom(format!(
            "invalid value: {number}, expected a whole number that fits {}",
            std::any::type_name::<T>()
        ))
    })
}

/// Compute resources: a capacity, a free amount, or a per-replica demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    /// CPU in cores (0.5 = half a core).
    pub cpu: f64,
    /// Memory in MiB.
    pub memory_mib: f64,
    /// Whole GPUs.
    #[serde(deserialize_with = "integer")]
    pub gpu: u32,
}

impl From<api::Resources> for Resources {
    fn from(r: api::Resources) -> Self {
        let api::Resources {
            cpu,
            memory_mib,
            gpu,
        } = r;
        Self {
            cpu,
            memory_mib,
            gpu,
        }
    }
}

impl From<Resources> for api::Resources {
    fn from(r: Resources) -> Self {
        api::Resources::new(r.cpu, r.memory_mib, r.gpu)
    }
}

/// Where a cluster sits in the continuum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterRole {
    Cloud,
    Edge,
    Iot,
}

impl From<api::ClusterRole> for ClusterRole {
    fn from(role: api::ClusterRole) -> Self {
        match role {
            api::ClusterRole::Cloud => Self::Cloud,
            api::ClusterRole::Edge => Self::Edge,
            api::ClusterRole::Iot => Self::Iot,
        }
    }
}

impl From<ClusterRole> for api::ClusterRole {
    fn from(role: ClusterRole) -> Self {
        match role {
            ClusterRole::Cloud => Self::Cloud,
            ClusterRole::Edge => Self::Edge,
            ClusterRole::Iot => Self::Iot,
        }
    }
}

/// A geographic position (degrees) and a free-form region name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub region: String,
}

impl From<api::Location> for Location {
    fn from(l: api::Location) -> Self {
        let api::Location { lat, lon, region } = l;
        Self {
            lat,
            lon,
            region: region.into(),
        }
    }
}

impl From<Location> for api::Location {
    fn from(l: Location) -> Self {
        Self {
            lat: l.lat,
            lon: l.lon,
            region: l.region.into(),
        }
    }
}

/// What powers a cluster and how cleanly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnergyProfile {
    /// Dominant energy source: grid, solar, wind, hydro, nuclear, mixed, ...
    pub source: String,
    /// Power usage effectiveness of the facility.
    pub pue: f64,
    /// Current grid carbon intensity, gCO2eq/kWh.
    pub carbon_intensity_g_per_kwh: f64,
    /// On-site renewable power available now, kW.
    pub renewable_supply_kw: f64,
    /// Share of renewables in the grid mix now, 0..1.
    pub renewable_share: f64,
    /// Power draw of the whole cluster when idle, W.
    pub idle_power_w: f64,
    /// Power draw of the whole cluster at full CPU utilisation, W.
    pub peak_power_w: f64,
    /// Preferred when saving energy.
    pub preferred_for_saving: bool,
}

impl From<api::EnergyProfile> for EnergyProfile {
    fn from(e: api::EnergyProfile) -> Self {
        let api::EnergyProfile {
            source,
            pue,
            carbon_intensity_g_per_kwh,
            renewable_supply_kw,
            renewable_share,
            idle_power_w,
            peak_power_w,
            preferred_for_saving,
        } = e;
        Self {
            source: source.into(),
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

impl From<EnergyProfile> for api::EnergyProfile {
    fn from(e: EnergyProfile) -> Self {
        Self {
            source: e.source.into(),
            pue: e.pue,
            carbon_intensity_g_per_kwh: e.carbon_intensity_g_per_kwh,
            renewable_supply_kw: e.renewable_supply_kw,
            renewable_share: e.renewable_share,
            idle_power_w: e.idle_power_w,
            peak_power_w: e.peak_power_w,
            preferred_for_saving: e.preferred_for_saving,
        }
    }
}

/// Prices of running on a cluster (any currency, used consistently).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Prices {
    pub cpu_core_hour: f64,
    pub memory_gib_hour: f64,
    pub gpu_hour: f64,
    pub egress_gb: f64,
    pub energy_kwh: f64,
}

impl From<api::Prices> for Prices {
    fn from(p: api::Prices) -> Self {
        let api::Prices {
            cpu_core_hour,
            memory_gib_hour,
            gpu_hour,
            egress_gb,
            energy_kwh,
        } = p;
        Self {
            cpu_core_hour,
            memory_gib_hour,
            gpu_hour,
            egress_gb,
            energy_kwh,
        }
    }
}

impl From<Prices> for api::Prices {
    fn from(p: Prices) -> Self {
        Self {
            cpu_core_hour: p.cpu_core_hour,
            memory_gib_hour: p.memory_gib_hour,
            gpu_hour: p.gpu_hour,
            egress_gb: p.egress_gb,
            energy_kwh: p.energy_kwh,
        }
    }
}

/// A key/value label.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Label {
    pub key: String,
    pub value: String,
}

impl From<Label> for api::Label {
    fn from(l: Label) -> Self {
        Self {
            key: l.key.into(),
            value: l.value.into(),
        }
    }
}

/// A member cluster as strategies see it.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[schemars(rename = "StrategyCluster")]
pub struct Cluster {
    pub name: String,
    pub role: ClusterRole,
    #[serde(deserialize_with = "object")]
    pub location: Location,
    /// Total allocatable resources.
    #[serde(deserialize_with = "object")]
    pub capacity: Resources,
    /// Resources still free for this request.
    #[serde(deserialize_with = "object")]
    pub available: Resources,
    #[serde(deserialize_with = "object")]
    pub energy: EnergyProfile,
    #[serde(deserialize_with = "object")]
    pub prices: Prices,
    #[serde(deserialize_with = "objects")]
    pub labels: Vec<Label>,
    /// JSON object text for members added in later minor versions (`""` or `"{}"` when unused).
    pub extra: String,
}

impl From<Cluster> for api::Cluster {
    fn from(c: Cluster) -> Self {
        Self {
            name: c.name.into(),
            role: c.role.into(),
            location: c.location.into(),
            capacity: c.capacity.into(),
            available: c.available.into(),
            energy: c.energy.into(),
            prices: c.prices.into(),
            labels: c.labels.into_iter().map(Into::into).collect(),
            extra: c.extra.into(),
        }
    }
}

/// Whether a dependency must be honoured or is only preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    Required,
    Preferred,
}

/// A dependency of one service on another service of the same graph.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Dependency {
    pub service: String,
    pub kind: DependencyKind,
}

impl From<Dependency> for api::Dependency {
    fn from(d: Dependency) -> Self {
        Self {
            service: d.service.into(),
            kind: match d.kind {
                DependencyKind::Required => api::DependencyKind::Required,
                DependencyKind::Preferred => api::DependencyKind::Preferred,
            },
        }
    }
}

/// How a service's capacity grows with replicas: `alpha * replicas + beta` requests/s.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
pub struct ScalingProfile {
    pub alpha: f64,
    pub beta: f64,
    #[serde(deserialize_with = "integer")]
    pub min_replicas: u32,
    #[serde(deserialize_with = "integer")]
    pub max_replicas: u32,
}

impl From<ScalingProfile> for api::ScalingProfile {
    fn from(s: ScalingProfile) -> Self {
        Self {
            alpha: s.alpha,
            beta: s.beta,
            min_replicas: s.min_replicas,
            max_replicas: s.max_replicas,
        }
    }
}

/// One service of an application graph.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Service {
    pub name: String,
    /// Demand of one replica.
    #[serde(deserialize_with = "object")]
    pub demand: Resources,
    /// Current replica count.
    #[serde(deserialize_with = "integer")]
    pub replicas: u32,
    #[serde(deserialize_with = "object")]
    pub scaling: ScalingProfile,
    #[serde(deserialize_with = "objects")]
    pub dependencies: Vec<Dependency>,
    /// Clusters the service may run on; empty means any.
    pub allowed_clusters: Vec<String>,
    #[serde(deserialize_with = "objects")]
    pub labels: Vec<Label>,
    /// JSON object text (`""` or `"{}"` when unused).
    pub extra: String,
}

impl From<Service> for api::Service {
    fn from(s: Service) -> Self {
        Self {
            name: s.name.into(),
            demand: s.demand.into(),
            replicas: s.replicas,
            scaling: s.scaling.into(),
            dependencies: s.dependencies.into_iter().map(Into::into).collect(),
            allowed_clusters: s.allowed_clusters.into_iter().map(Into::into).collect(),
            labels: s.labels.into_iter().map(Into::into).collect(),
            extra: s.extra.into(),
        }
    }
}

/// An application graph: its name and services in descriptor order.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[schemars(rename = "PlacementGraph")]
pub struct Graph {
    pub name: String,
    #[serde(deserialize_with = "objects")]
    pub services: Vec<Service>,
}

impl From<Graph> for api::Graph {
    fn from(g: Graph) -> Self {
        Self {
            name: g.name.into(),
            services: g.services.into_iter().map(Into::into).collect(),
        }
    }
}

/// "Service `service` runs `replicas` replicas on cluster `cluster`."
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Assignment {
    pub service: String,
    pub cluster: String,
    #[serde(deserialize_with = "integer")]
    pub replicas: u32,
}

/// A placement: one assignment per placed service.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Placement {
    #[serde(deserialize_with = "objects")]
    pub assignments: Vec<Assignment>,
}

impl From<Placement> for api::Placement {
    fn from(p: Placement) -> Self {
        Self {
            assignments: p
                .assignments
                .into_iter()
                .map(|a| api::Assignment {
                    service: a.service.into(),
                    cluster: a.cluster.into(),
                    replicas: a.replicas,
                })
                .collect(),
        }
    }
}

/// Load and health of one service.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct ServiceLoad {
    pub service: String,
    pub current_rps: f64,
    pub predicted_rps: f64,
    pub cpu_utilisation: f64,
    pub memory_utilisation: f64,
    pub response_time_ms: f64,
}

/// Network path between two clusters (or a cluster and the users' ingress, `users`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Link {
    pub from: String,
    pub to: String,
    pub latency_ms: f64,
    pub bandwidth_mbps: f64,
}

/// Calls per second from one service to another and their mean response size.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct CallRate {
    pub from: String,
    pub to: String,
    pub rps: f64,
    pub mean_response_bytes: f64,
}

/// What the host measured, at one instant.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Telemetry {
    /// Seconds since the Unix epoch (0: unknown).
    #[serde(deserialize_with = "integer")]
    pub time_unix_s: i64,
    #[serde(deserialize_with = "objects")]
    pub loads: Vec<ServiceLoad>,
    #[serde(deserialize_with = "objects")]
    pub links: Vec<Link>,
    #[serde(deserialize_with = "objects")]
    pub calls: Vec<CallRate>,
}

impl From<Telemetry> for api::Telemetry {
    fn from(t: Telemetry) -> Self {
        Self {
            time_unix_s: t.time_unix_s,
            loads: t
                .loads
                .into_iter()
                .map(|l| api::ServiceLoad {
                    service: l.service.into(),
                    current_rps: l.current_rps,
                    predicted_rps: l.predicted_rps,
                    cpu_utilisation: l.cpu_utilisation,
                    memory_utilisation: l.memory_utilisation,
                    response_time_ms: l.response_time_ms,
                })
                .collect(),
            links: t
                .links
                .into_iter()
                .map(|l| api::Link {
                    from: l.from.into(),
                    to: l.to.into(),
                    latency_ms: l.latency_ms,
                    bandwidth_mbps: l.bandwidth_mbps,
                })
                .collect(),
            calls: t
                .calls
                .into_iter()
                .map(|c| api::CallRate {
                    from: c.from.into(),
                    to: c.to.into(),
                    rps: c.rps,
                    mean_response_bytes: c.mean_response_bytes,
                })
                .collect(),
        }
    }
}

/// The input of a placement strategy (the plugin API's `PlacementRequest`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[schemars(transform = current_is_required)]
pub struct PlacementRequest {
    #[serde(deserialize_with = "object")]
    pub graph: Graph,
    #[serde(deserialize_with = "objects")]
    pub clusters: Vec<Cluster>,
    /// The current placement for a re-placement, `null` for an initial one.
    #[serde(deserialize_with = "nullable_object")]
    #[schemars(with = "Option<Placement>")]
    pub current: Option<Placement>,
    #[serde(deserialize_with = "object")]
    pub telemetry: Telemetry,
    /// JSON object text: request members added in later minor versions (`""` or `"{}"`).
    pub extra: String,
}

/// `current` must be given, `null` or not: schemars leaves an `Option` out of `required`.
fn current_is_required(schema: &mut schemars::Schema) {
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        if !required.iter().any(|r| r == "current") {
            required.push(Value::from("current"));
        }
    }
}

impl From<PlacementRequest> for api::PlacementRequest {
    fn from(r: PlacementRequest) -> Self {
        Self {
            graph: r.graph.into(),
            clusters: r.clusters.into_iter().map(Into::into).collect(),
            current: r.current.map(Into::into).into(),
            telemetry: r.telemetry.into(),
            extra: r.extra.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_member_serde_followed() {
        assert_eq!(
            locate(
                "prices",
                "cpu_core_hour: invalid type: string \"1\", expected f64"
            ),
            (
                Some("prices.cpu_core_hour".to_owned()),
                "prices.cpu_core_hour: invalid type: string \"1\", expected f64".to_owned()
            )
        );
        assert_eq!(
            locate(".", "missing field `name`").0.as_deref(),
            Some("name")
        );
        assert_eq!(
            locate("location.x", "unknown field `x`, expected one of `lat`").0,
            Some("location.x".to_owned())
        );
        assert_eq!(
            locate("clusters", "[2]: capacity: invalid type: sequence").0,
            Some("clusters[2].capacity".to_owned())
        );
        assert_eq!(locate(".", "invalid type: null, expected a map").0, None);
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[serde(deserialize_with = "integer")]
            n: u32,
        }
        let read = |v: Value| serde_json::from_value::<Body>(v).map(|b| b.n);
        assert_eq!(read(serde_json::json!({"n": 65536})).ok(), Some(65536));
        assert_eq!(read(serde_json::json!({"n": 65536.0})).ok(), Some(65536));
        assert!(read(serde_json::json!({"n": 1.5})).is_err());
        assert!(read(serde_json::json!({"n": -1})).is_err());
        assert!(read(serde_json::json!({"n": 4_294_967_296u64})).is_err());
        assert!(read(serde_json::json!({"n": "1"})).is_err());
    }

    #[test]
    fn an_object_member_is_not_read_from_an_array_or_null() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[serde(deserialize_with = "object")]
            _capacity: Resources,
            #[serde(default, deserialize_with = "some_object")]
            _prices: Option<Prices>,
        }
        let read = |v: Value| serde_json::from_value::<Body>(v).map(|_| ());
        let capacity = serde_json::json!({"cpu": 1.0, "memory_mib": 2.0, "gpu": 0});
        assert!(read(serde_json::json!({"_capacity": capacity})).is_ok());
        assert!(read(serde_json::json!({"_capacity": [1.0, 2.0, 0]})).is_err());
        assert!(read(serde_json::json!({"_capacity": capacity, "_prices": null})).is_err());
        assert!(
            read(serde_json::json!({"_capacity": capacity, "_prices": [0, 0, 0, 0, 0]})).is_err()
        );
    }
}
