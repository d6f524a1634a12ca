//! The scenario file's serde model: every section of the YAML and its defaults.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ecosystem_spec::EcosystemSpec;
use crate::data::VmRow;

fn default_seed() -> u64 {
    42
}
fn default_step() -> u32 {
    5
}
fn one() -> f64 {
    1.0
}
fn one_u32() -> u32 {
    1
}
fn ten_u32() -> u32 {
    10
}

/// The whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Where the scenario's data comes from (one line, shown in reports).
    #[serde(default)]
    pub data_source: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// UTC start, e.g. `2024-10-14T00:00:00Z`; hourly series are read from this row on.
    pub start: String,
    pub hours: u32,
    #[serde(default = "default_step")]
    pub step_minutes: u32,
    /// A request slower than this (network + processing) is an SLO violation.
    pub slo_ms: f64,
    #[serde(default)]
    pub idle_servers: IdleServers,
    #[serde(default)]
    pub server_selection: ServerSelection,
    /// Seed-compatible accounting (the ECMR seed's quirk): energy, renewables, carbon and cost
    /// are booked only for hours before this one; requests are still served and counted.
    #[serde(default)]
    pub energy_accounting_hours: Option<u32>,
    /// A bounded queue for VMs no datacenter accepts, retried at every step (none by default:
    /// such a VM fails at once).
    #[serde(default)]
    pub vm_queue: Option<VmQueueSpec>,
    #[serde(default)]
    pub strategies: StrategyDefaults,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub migration: MigrationSpec,
    /// How the continuum behaves as `smo serve`'s backend (`smo serve --scenario`): start-up
    /// delay and injected apply failures; `[backend.sim]` of the configuration when absent.
    #[serde(default)]
    pub continuum: Option<ContinuumSpec>,
    pub users: Vec<UserSpec>,
    pub datacenters: Vec<DatacenterSpec>,
    /// VMs and services; absent in an `ecosystem` scenario.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// Applications with dependency declarations and the proactive migration engine (seed
    /// 001): `smo simulate` compares runs with and without it (see docs/ecosystem.md).
    #[serde(default)]
    pub ecosystem: Option<EcosystemSpec>,
}

/// `continuum`: the simulated continuum as a backend of `smo serve`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinuumSpec {
    /// Simulated seconds from an apply to its replicas being ready (default 2).
    #[serde(default = "default_ready_after_s")]
    pub ready_after_s: f64,
    /// The first this many applies fail with a transient error (default 0).
    #[serde(default)]
    pub fail_applies: u64,
}

fn default_ready_after_s() -> f64 {
    2.0
}

/// The VM queue: at most `capacity` VMs wait, each at most `max_wait_minutes`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmQueueSpec {
    pub capacity: usize,
    pub max_wait_minutes: f64,
}

/// What a server with no VM does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleServers {
    /// Switched off (0 W) while it hosts nothing; idle power only when used (default).
    #[default]
    Off,
    /// Always on: every server draws at least its idle power.
    On,
}

/// How the host picks a server inside the datacenter a strategy chose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerSelection {
    /// The server whose power rises least (switching an empty one on costs its idle power):
    /// ECMR's MESF rule (default).
    #[default]
    LeastPowerIncrease,
    /// The first server, in file order, with room.
    FirstFit,
    /// As `least_power_increase`, but switching an empty server on is charged only the
    /// demand's dominant share (cores, memory or GPUs) of its idle power: a large server that
    /// several such demands could share wins over a small one that one of them fills.
    LeastPowerSharedIdle,
}

impl ServerSelection {
    /// Every policy, in the order they are listed to strategies.
    pub const ALL: [ServerSelection; 3] = [
        ServerSelection::LeastPowerIncrease,
        ServerSelection::FirstFit,
        ServerSelection::LeastPowerSharedIdle,
    ];

    /// The name used in scenario files and in a decision's `server_selection`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerSelection::LeastPowerIncrease => "least_power_increase",
            ServerSelection::FirstFit => "first_fit",
            ServerSelection::LeastPowerSharedIdle => "least_power_shared_idle",
        }
    }

    /// The policy named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Strategies the scenario suggests. `compare` lists the runs `smo simulate` makes when no
/// `--strategy` is given (each `plugin/name` or `placement=..,scaling=..,migration=..`);
/// `scaling` and `migration` apply to every run that does not name its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyDefaults {
    #[serde(default)]
    pub compare: Vec<String>,
    #[serde(default)]
    pub scaling: Option<String>,
    #[serde(default)]
    pub migration: Option<String>,
    /// Migration strategy for the running VMs (called every `migration_every_minutes` with
    /// the VMs as the graph; see `step_loop::vm_moves`); none by default.
    #[serde(default)]
    pub vm_migration: Option<String>,
    /// Period of scaling calls (default: every step).
    #[serde(default)]
    pub scaling_every_minutes: Option<u32>,
    /// Period of migration calls, of services and of VMs (default: 60).
    #[serde(default)]
    pub migration_every_minutes: Option<u32>,
    /// Period of re-placement calls of the services' graph (placement strategy with
    /// `current` set, as carbon and renewables change); default: only when scaling fails.
    #[serde(default)]
    pub replacement_every_minutes: Option<u32>,
    /// Drive the migration strategy through the offload state machine
    /// (`smo_core::offload`): the host observes the users' mean delay every
    /// `queryPeriodS` and calls the strategy only when the machine acts, with
    /// `extra = {"requiredDecreaseMs": ±x}`. Without it, the strategy is called every
    /// `migration_every_minutes` with an empty `extra`.
    #[serde(default)]
    pub offload_policy: Option<smo_core::graphs::OffloadPolicy>,
}

/// Latency `base_ms + km * ms_per_km` between any two named places; per-link overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    #[serde(default = "NetworkSpec::default_ms_per_km")]
    pub ms_per_km: f64,
    #[serde(default = "NetworkSpec::default_base_ms")]
    pub base_ms: f64,
    #[serde(default = "NetworkSpec::default_bandwidth")]
    pub bandwidth_mbps: f64,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

impl NetworkSpec {
    fn default_ms_per_km() -> f64 {
        0.02
    }
    fn default_base_ms() -> f64 {
        2.0
    }
    fn default_bandwidth() -> f64 {
        10_000.0
    }
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            ms_per_km: Self::default_ms_per_km(),
            base_ms: Self::default_base_ms(),
            bandwidth_mbps: Self::default_bandwidth(),
            links: Vec::new(),
        }
    }
}

/// Overrides for one pair of places (users or datacenters, either direction).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub base_ms: Option<f64>,
    #[serde(default)]
    pub bandwidth_mbps: Option<f64>,
}

/// The cost of moving a running service between datacenters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSpec {
    /// Energy to copy one GiB of memory, in Wh, charged to the destination.
    #[serde(default = "MigrationSpec::default_energy")]
    pub energy_wh_per_gib: f64,
}

impl MigrationSpec {
    fn default_energy() -> f64 {
        10.0
    }
}

impl Default for MigrationSpec {
    fn default() -> Self {
        Self {
            energy_wh_per_gib: Self::default_energy(),
        }
    }
}

/// An edge user population.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// Share of the VM requests coming from here (relative to the other users).
    #[serde(default = "one")]
    pub weight: f64,
}

/// An hourly series: a constant, a list of hourly values (repeated), or a CSV column.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SeriesSpec {
    Constant(f64),
    Hourly(Vec<f64>),
    Csv(CsvColumn),
}

/// A column of a CSV whose first column is a UTC timestamp, times `scale`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvColumn {
    pub csv: PathBuf,
    pub column: String,
    #[serde(default = "one")]
    pub scale: f64,
}

/// Role of a datacenter in the continuum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Cloud,
    Edge,
    Iot,
}

/// A datacenter (a cluster, for strategies).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatacenterSpec {
    pub name: String,
    #[serde(default)]
    pub role: Role,
    pub lat: f64,
    pub lon: f64,
    #[serde(default)]
    pub region: String,
    pub pue: f64,
    /// Processing time of a request at zero load, in ms.
    #[serde(default)]
    pub processing_ms: f64,
    /// Grid carbon intensity, gCO2eq/kWh.
    pub carbon_intensity: SeriesSpec,
    /// Renewable share of the grid mix, 0..1 (reported to strategies; not used in accounting).
    #[serde(default)]
    pub grid_renewable_share: Option<SeriesSpec>,
    #[serde(default)]
    pub renewables: Vec<RenewableSpec>,
    #[serde(default)]
    pub prices: PricesSpec,
    pub servers: Vec<ServerSpec>,
    #[serde(default)]
    pub preferred_for_saving: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// An on-site plant: installed kW times an hourly capacity factor (0..1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewableSpec {
    /// `solar`, `wind`, `hydro`, ...
    pub kind: String,
    pub kw: f64,
    pub shape: SeriesSpec,
}

/// Prices (any one currency).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricesSpec {
    /// Grid energy price per kWh (hourly series allowed).
    #[serde(default)]
    pub energy_kwh: Option<SeriesSpec>,
    #[serde(default)]
    pub cpu_core_hour: f64,
    #[serde(default)]
    pub memory_gib_hour: f64,
    #[serde(default)]
    pub gpu_hour: f64,
    #[serde(default)]
    pub egress_gb: f64,
}

/// `count` identical servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    #[serde(default)]
    pub model: String,
    pub count: u32,
    pub cores: f64,
    pub memory_gib: f64,
    #[serde(default)]
    pub gpus: u32,
    /// Linear model: both `idle_w` and `peak_w`.
    #[serde(default)]
    pub idle_w: Option<f64>,
    #[serde(default)]
    pub peak_w: Option<f64>,
    /// Piecewise model: watts at evenly spaced utilisations 0..1 (SPECpower: 11 points).
    #[serde(default)]
    pub power_curve_w: Option<Vec<f64>>,
}

/// What arrives: VMs (placed once, released after their duration) and/or long-running services
/// with request-rate series (placed at start, scaled and migrated while running).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    #[serde(default)]
    pub vms: Option<VmSource>,
    /// Name of the services' graph (default: the scenario name).
    #[serde(default)]
    pub graph: Option<String>,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
}

/// Where VM requests come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum VmSource {
    /// Sampled from the Azure 2017 trace (5-minute bins); `count` VMs drawn uniformly without
    /// replacement from the bins the horizon covers (all when absent).
    AzureTrace {
        dir: PathBuf,
        #[serde(default)]
        count: Option<u32>,
        /// Hours into the trace where the scenario's start is mapped.
        #[serde(default)]
        offset_hours: u32,
        #[serde(default = "VmSource::default_arrivals")]
        arrivals: String,
        #[serde(default = "VmSource::default_durations")]
        durations: String,
        #[serde(default = "VmSource::default_flavours")]
        flavour_map: String,
        #[serde(default = "VmSource::default_intervals")]
        interval_map: String,
    },
    /// Synthetic: `count` VMs with a diurnal arrival profile.
    Generator {
        count: u32,
        flavours: Vec<FlavourSpec>,
        duration_minutes: DurationRange,
        /// 0 = flat; 0.5 = the peak hour gets 3x the arrivals of the trough.
        #[serde(default)]
        diurnal_amplitude: f64,
        /// UTC hour of the arrival peak.
        #[serde(default = "VmSource::default_peak_hour")]
        peak_hour: f64,
    },
    /// A CSV with `arrival_s,cpu,memory_mib,gpu,duration_s[,user]`.
    Csv { path: PathBuf },
    /// VMs listed in the scenario itself.
    List { requests: Vec<VmRow> },
}

impl VmSource {
    fn default_arrivals() -> String {
        "v1.test.txt".into()
    }
    fn default_durations() -> String {
        "v1.test.c2591400.txt".into()
    }
    fn default_flavours() -> String {
        "flav_map.txt".into()
    }
    fn default_intervals() -> String {
        "v1.interval_map.txt".into()
    }
    fn default_peak_hour() -> f64 {
        14.0
    }
}

/// One VM size of the generator, drawn with probability proportional to `weight`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlavourSpec {
    pub cpu: f64,
    pub memory_gib: f64,
    #[serde(default)]
    pub gpu: u32,
    #[serde(default = "one")]
    pub weight: f64,
}

/// Durations drawn log-uniformly in `[min, max]` minutes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationRange {
    pub min: f64,
    pub max: f64,
}

/// A long-running service with the alpha/beta capacity model (`alpha * replicas + beta` rps).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    pub cpu: f64,
    #[serde(default)]
    pub memory_mib: f64,
    #[serde(default)]
    pub gpu: u32,
    pub alpha: f64,
    #[serde(default)]
    pub beta: f64,
    #[serde(default = "one_u32")]
    pub min_replicas: u32,
    #[serde(default = "ten_u32")]
    pub max_replicas: u32,
    /// Replicas at deploy time.
    #[serde(default = "one_u32")]
    pub replicas: u32,
    /// Processing time of one request at zero load, in ms.
    #[serde(default)]
    pub processing_ms: f64,
    /// Services this one calls (preferred co-location for strategies).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The user population sending its requests (default: the first user).
    #[serde(default)]
    pub user: Option<String>,
    /// Incoming requests per second.
    pub rate_rps: SeriesSpec,
    /// Multiplicative noise per step, uniform in `[-noise, +noise]` (seeded).
    #[serde(default)]
    pub rate_noise: f64,
    /// Mean response size, for the call telemetry migration strategies read.
    #[serde(default)]
    pub response_kb: f64,
    #[serde(default)]
    pub allowed_clusters: Vec<String>,
}
