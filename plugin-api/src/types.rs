//! The FFI-safe data that crosses the plugin boundary: clusters, services, placements,
//! telemetry, and the requests and decisions of the three strategy kinds.
//!
//! Every struct is `#[repr(C)]` and frozen within a major version; each request and decision
//! carries an `extra` JSON string (empty or `{}` when unused) where later minor versions add
//! members without breaking older plugins. Names key everything: a placement says
//! "service `a` runs on cluster `edge-1`", never "row 3, column 2".

use abi_stable::std_types::{ROption, RString, RVec};
use abi_stable::StableAbi;

/// Compute resources: a capacity, a free amount, or a per-replica demand.
#[repr(C)]
#[derive(
    StableAbi, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Resources {
    /// CPU in cores (0.5 = half a core).
    pub cpu: f64,
    /// Memory in MiB.
    pub memory_mib: f64,
    /// Whole GPUs.
    pub gpu: u32,
}

impl Resources {
    pub const fn new(cpu: f64, memory_mib: f64, gpu: u32) -> Self {
        Self {
            cpu,
            memory_mib,
            gpu,
        }
    }
    /// `true` when `demand` fits into `self` in every dimension.
    pub fn fits(&self, demand: &Resources) -> bool {
        demand.cpu <= self.cpu + 1e-9
            && demand.memory_mib <= self.memory_mib + 1e-9
            && demand.gpu <= self.gpu
    }
    /// `self - other`, component-wise (may go negative for CPU and memory; GPUs saturate at 0).
    pub fn minus(&self, other: &Resources) -> Resources {
        Resources {
            cpu: self.cpu - other.cpu,
            memory_mib: self.memory_mib - other.memory_mib,
            gpu: self.gpu.saturating_sub(other.gpu),
        }
    }
    /// `self * n`, for a per-replica demand times a replica count.
    pub fn times(&self, n: u32) -> Resources {
        Resources {
            cpu: self.cpu * f64::from(n),
            memory_mib: self.memory_mib * f64::from(n),
            gpu: self.gpu * n,
        }
    }
}

/// Where a cluster sits in the continuum.
#[repr(u8)]
#[derive(
    StableAbi, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ClusterRole {
    Cloud = 0,
    Edge = 1,
    Iot = 2,
}

impl ClusterRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterRole::Cloud => "cloud",
            ClusterRole::Edge => "edge",
            ClusterRole::Iot => "iot",
        }
    }
}

/// A geographic position (degrees) and a free-form region name.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub region: RString,
}

/// What powers a cluster and how cleanly, at the time of the request.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnergyProfile {
    /// Dominant energy source: "grid", "solar", "wind", "hydro", "nuclear", "mixed", ...
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub source: RString,
    /// Power usage effectiveness of the facility (>= 1.0).
    pub pue: f64,
    /// Current grid carbon intensity in gCO2eq/kWh.
    pub carbon_intensity_g_per_kwh: f64,
    /// On-site renewable power available now, in kW.
    pub renewable_supply_kw: f64,
    /// Share of renewables in the grid mix now, 0..1.
    pub renewable_share: f64,
    /// Power draw of the whole cluster when idle, in W.
    pub idle_power_w: f64,
    /// Power draw of the whole cluster at full CPU utilisation, in W.
    pub peak_power_w: f64,
    /// The operator marked this cluster as preferred when saving energy.
    pub preferred_for_saving: bool,
}

impl Default for EnergyProfile {
    fn default() -> Self {
        Self {
            source: RString::from("grid"),
            pue: 1.5,
            carbon_intensity_g_per_kwh: 300.0,
            renewable_supply_kw: 0.0,
            renewable_share: 0.0,
            idle_power_w: 0.0,
            peak_power_w: 0.0,
            preferred_for_saving: false,
        }
    }
}

/// Prices of running on a cluster (any currency, used consistently).
#[repr(C)]
#[derive(
    StableAbi, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Prices {
    pub cpu_core_hour: f64,
    pub memory_gib_hour: f64,
    pub gpu_hour: f64,
    pub egress_gb: f64,
    pub energy_kwh: f64,
}

/// A key/value label.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Label {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub key: RString,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub value: RString,
}

/// A member cluster as strategies see it.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cluster {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: RString,
    pub role: ClusterRole,
    pub location: Location,
    /// Total allocatable resources.
    pub capacity: Resources,
    /// Resources still free for this request (capacity minus what other graphs use).
    pub available: Resources,
    pub energy: EnergyProfile,
    pub prices: Prices,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Label>"))]
    pub labels: RVec<Label>,
    /// JSON object for members added in later minor versions.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}

/// Whether a dependency must be honoured or is only preferred.
#[repr(u8)]
#[derive(
    StableAbi, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    /// Must run on the same cluster as the neighbour.
    Required = 0,
    /// Should run on the same cluster, if it costs little.
    Preferred = 1,
}

/// A dependency of one service on another service of the same graph.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Dependency {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub service: RString,
    pub kind: DependencyKind,
}

/// How a service's capacity grows with replicas: `alpha * replicas + beta` requests/s.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScalingProfile {
    pub alpha: f64,
    pub beta: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
}

impl Default for ScalingProfile {
    fn default() -> Self {
        Self {
            alpha: 10.0,
            beta: 0.0,
            min_replicas: 1,
            max_replicas: 10,
        }
    }
}

/// One service of an application graph.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Service {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: RString,
    /// Demand of one replica.
    pub demand: Resources,
    /// Current replica count (1 for a service not yet deployed).
    pub replicas: u32,
    pub scaling: ScalingProfile,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Dependency>"))]
    pub dependencies: RVec<Dependency>,
    /// Clusters the service may run on; empty means any.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub allowed_clusters: RVec<RString>,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Label>"))]
    pub labels: RVec<Label>,
    /// JSON object for members added in later minor versions (a VM's `duration_s`,
    /// `remaining_s` and `server` in `smo simulate`).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}

/// An application graph: its name and services in descriptor order.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Graph {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub name: RString,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Service>"))]
    pub services: RVec<Service>,
}

/// "Service `service` runs `replicas` replicas on cluster `cluster`."
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Assignment {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub service: RString,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub cluster: RString,
    pub replicas: u32,
}

/// A placement: one assignment per placed service, keyed by names.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Placement {
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Assignment>"))]
    pub assignments: RVec<Assignment>,
}

impl Placement {
    /// The cluster a service is assigned to, if any.
    pub fn cluster_of(&self, service: &str) -> Option<&str> {
        self.assignments
            .iter()
            .find(|a| a.service.as_str() == service)
            .map(|a| a.cluster.as_str())
    }
}

/// Load and health of one service, measured now and predicted for the next period.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceLoad {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub service: RString,
    /// Requests per second now.
    pub current_rps: f64,
    /// Requests per second predicted for the next period (equal to current when unknown).
    pub predicted_rps: f64,
    /// Mean CPU utilisation of the service's replicas, 0..1.
    pub cpu_utilisation: f64,
    /// Mean memory utilisation, 0..1.
    pub memory_utilisation: f64,
    /// Mean response time in ms (0 when unknown).
    pub response_time_ms: f64,
}

/// Network path between two clusters (or a cluster and the users' ingress, named "users").
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Link {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub from: RString,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub to: RString,
    pub latency_ms: f64,
    pub bandwidth_mbps: f64,
}

/// Calls per second from one service to another and their mean response size.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CallRate {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub from: RString,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub to: RString,
    pub rps: f64,
    pub mean_response_bytes: f64,
}

/// What the host measured, at one instant.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Telemetry {
    /// Seconds since the Unix epoch (simulated time in `smo simulate` and under
    /// `smo serve --scenario`). Set on every request, also when nothing was measured yet
    /// (an initial placement); earlier hosts sent 0 there, which means "unknown".
    pub time_unix_s: i64,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<ServiceLoad>"))]
    pub loads: RVec<ServiceLoad>,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Link>"))]
    pub links: RVec<Link>,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<CallRate>"))]
    pub calls: RVec<CallRate>,
}

/// Input of [`crate::sdk::Placement`]: place a graph on clusters.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlacementRequest {
    pub graph: Graph,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Cluster>"))]
    pub clusters: RVec<Cluster>,
    /// The current placement for a re-placement, `RNone` (JSON `null`) for an initial one.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Placement>"))]
    pub current: ROption<Placement>,
    pub telemetry: Telemetry,
    /// JSON object: request members added in later minor versions. Known: `graphs`, the names
    /// of every graph the host holds, this one included (sent by `smo serve`; a strategy that
    /// keeps state per graph may forget the graphs not listed, which were deleted). Absent
    /// from `smo simulate`'s requests, whose graphs last the whole run.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}

/// Why a cluster was not chosen for a service (the filter step of the decision).
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rejection {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub service: RString,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub cluster: RString,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub reason: RString,
}

/// Output of a placement strategy.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlacementDecision {
    pub placement: Placement,
    /// Human-readable reasons, in the order they were decided.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub reasons: RVec<RString>,
    /// Clusters filtered out per service, with why.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Rejection>"))]
    pub rejections: RVec<Rejection>,
    /// The objective value, when the strategy optimises one.
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub objective: ROption<f64>,
    /// JSON for the host; keys it does not know are ignored. Known to the simulated continuum:
    /// `server_selection`, how the host picks servers inside the chosen clusters for this
    /// decision's replicas (one of the names in `selectable` of a cluster's `server_detail`,
    /// e.g. `"least_power_shared_idle"`).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}

/// Input of [`crate::sdk::Scaling`]: choose replicas for the services on one cluster.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScalingRequest {
    pub graph: Graph,
    pub cluster: Cluster,
    /// The services of `graph` placed on `cluster`, with their current replicas.
    pub placement: Placement,
    pub telemetry: Telemetry,
    /// JSON object: request members added in later minor versions.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}

/// Replicas chosen for one service.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReplicaChoice {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub service: RString,
    pub replicas: u32,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub reason: RString,
}

/// Output of a scaling strategy: replicas, or "this cluster cannot hold it: re-place".
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ScalingDecision {
    #[cfg_attr(feature = "schema", schemars(with = "Vec<ReplicaChoice>"))]
    pub replicas: RVec<ReplicaChoice>,
    /// `true` when the cluster cannot serve the load; the host then re-places the graph.
    pub infeasible_replace: bool,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub reasons: RVec<RString>,
    /// JSON for the host; keys it does not know are ignored. Known to the simulated continuum:
    /// `forecasts`, the load the strategy forecast for each service (`extra::Forecast`).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}

/// Input of [`crate::sdk::Migration`].
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MigrationRequest {
    pub graph: Graph,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Cluster>"))]
    pub clusters: RVec<Cluster>,
    pub current: Placement,
    pub telemetry: Telemetry,
    /// JSON object. Known: `requiredDecreaseMs` (the offload machine's action); `vms: true`
    /// when `smo simulate` offers running VMs to a `vm_migration` strategy, the graph's
    /// services then being the VMs (`vm-<id>`, `extra` `{"duration_s", "remaining_s",
    /// "server"}`), with `copy_wh_per_gib`, the energy a move costs per GiB of memory.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}

/// Move (or start/stop) a service between clusters.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Move {
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub service: RString,
    /// Empty when the service is started on `to` in addition (offload).
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub from: RString,
    /// Empty when the service is stopped on `from` (unoffload).
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub to: RString,
    pub replicas: u32,
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub reason: RString,
    /// Expected gain (strategy-defined unit, e.g. ms of delay or kg CO2), positive is better.
    pub expected_gain: f64,
    /// Expected cost of the move (same unit family as the strategy documents).
    pub expected_cost: f64,
}

/// Output of a migration strategy.
#[repr(C)]
#[derive(StableAbi, serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MigrationDecision {
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Move>"))]
    pub moves: RVec<Move>,
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub reasons: RVec<RString>,
    /// JSON for the host; keys it does not know are ignored. Known to the simulated continuum
    /// for VM moves: `servers`, the target server of each moved VM (`{"vm-12": 3}`, an index
    /// into the target cluster's `server_detail.servers`).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "String", extend("contentMediaType" = "application/json"))
    )]
    pub extra: RString,
}
