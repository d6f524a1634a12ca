//! The scenario file: a serde model of the YAML, the data files it names (loaded once), and a
//! validation pass that reports every error at once, each with the path of its field.
//!
//! Paths look like `datacenters[2].pue: must be >= 1.0`. Type errors found by serde are
//! collected per list element too, so two bad datacenters give two errors, not one.

use super::data::{self, parse_utc, AzureTrace, TimeTable, VmRow};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    pub workload: WorkloadSpec,
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

/// Every problem found in a scenario, each as `path: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub file: Option<PathBuf>,
    pub errors: Vec<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        match &self.file {
            Some(p) => write!(f, "{}: ", p.display())?,
            None => write!(f, "scenario: ")?,
        }
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// A loaded, validated scenario: the spec plus every data file it names, parsed once.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub spec: ScenarioSpec,
    /// Directory relative paths in the file are resolved against.
    pub base_dir: PathBuf,
    pub(crate) tables: BTreeMap<PathBuf, Arc<TimeTable>>,
    pub(crate) trace: Option<Arc<AzureTrace>>,
    pub(crate) vm_rows: Option<Arc<Vec<VmRow>>>,
    /// The horizon the file's VM counts are for: its own `hours`, kept when `--hours`
    /// replaces the horizon (`None`: `spec.hours`). A shorter run is the file's first hours;
    /// a longer one keeps the file's arrival density.
    pub(crate) workload_hours: Option<u32>,
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: Some(path.to_path_buf()),
            errors: vec![format!("cannot read: {e}")],
        })?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::from_yaml(&text, &dir).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })
    }

    /// Parses and validates YAML text; relative data paths are resolved against `base_dir`.
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        let fail = |errors| ScenarioError { file: None, errors };
        let spec = parse_spec(text).map_err(fail)?;
        let mut scenario = Scenario {
            spec,
            base_dir: base_dir.to_path_buf(),
            tables: BTreeMap::new(),
            trace: None,
            vm_rows: None,
            workload_hours: None,
        };
        let mut errors = scenario.load_data();
        errors.extend(scenario.check());
        if errors.is_empty() {
            Ok(scenario)
        } else {
            Err(fail(errors))
        }
    }

    /// Replaces the seed (the workload is drawn again from it).
    pub fn set_seed(&mut self, seed: u64) {
        self.spec.seed = seed;
    }

    /// Replaces the horizon and checks that every series still covers it.
    /// Replaces the horizon. The VM workload stays the file's: a shorter run gets the arrivals
    /// of its first `hours`, a longer one as many VMs per hour as the file has.
    pub fn set_hours(&mut self, hours: u32) -> Result<(), ScenarioError> {
        self.workload_hours.get_or_insert(self.spec.hours);
        self.spec.hours = hours;
        self.validate()
    }

    /// Runs every semantic check again.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let errors = self.check();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError { file: None, errors })
        }
    }

    /// Scenario start, seconds since the epoch (0 if unparsable; validation reports it).
    pub fn start_unix(&self) -> i64 {
        parse_utc(&self.spec.start).unwrap_or(0)
    }

    /// Seconds in one step.
    pub fn step_s(&self) -> u32 {
        self.spec.step_minutes.max(1) * 60
    }

    /// Number of steps in the horizon.
    pub fn steps(&self) -> usize {
        (self.spec.hours as usize * 60) / self.spec.step_minutes.max(1) as usize
    }

    /// `hours` hourly values of `series` from the scenario start.
    pub fn series(&self, series: &SeriesSpec, hours: usize) -> Result<Vec<f64>, String> {
        match series {
            SeriesSpec::Constant(v) => Ok(vec![*v; hours]),
            SeriesSpec::Hourly(values) if values.is_empty() => Err("empty list".into()),
            SeriesSpec::Hourly(values) => {
                Ok((0..hours).map(|h| values[h % values.len()]).collect())
            }
            SeriesSpec::Csv(c) => {
                let path = self.base_dir.join(&c.csv);
                let table = self
                    .tables
                    .get(&path)
                    .ok_or_else(|| format!("{} was not loaded", path.display()))?;
                let v = table.hourly(&c.column, self.start_unix(), hours)?;
                Ok(v.into_iter().map(|x| x * c.scale).collect())
            }
        }
    }

    /// Every series of the scenario with its path, for loading and checking.
    fn all_series(&self) -> Vec<(String, &SeriesSpec)> {
        let mut out = Vec::new();
        for (i, dc) in self.spec.datacenters.iter().enumerate() {
            let p = format!("datacenters[{i}]");
            out.push((format!("{p}.carbon_intensity"), &dc.carbon_intensity));
            if let Some(s) = &dc.grid_renewable_share {
                out.push((format!("{p}.grid_renewable_share"), s));
            }
            if let Some(s) = &dc.prices.energy_kwh {
                out.push((format!("{p}.prices.energy_kwh"), s));
            }
            for (j, r) in dc.renewables.iter().enumerate() {
                out.push((format!("{p}.renewables[{j}].shape"), &r.shape));
            }
        }
        for (i, s) in self.spec.workload.services.iter().enumerate() {
            out.push((format!("workload.services[{i}].rate_rps"), &s.rate_rps));
        }
        out
    }

    /// Loads every data file once; returns the errors with their paths.
    fn load_data(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        let mut tables = BTreeMap::new();
        for (path, s) in self.all_series() {
            if let SeriesSpec::Csv(c) = s {
                let file = self.base_dir.join(&c.csv);
                if tables.contains_key(&file) {
                    continue;
                }
                match TimeTable::load(&file) {
                    Ok(t) => {
                        tables.insert(file, Arc::new(t));
                    }
                    Err(e) => errors.push(format!("{path}.csv: {}: {e}", c.csv.display())),
                }
            }
        }
        self.tables = tables;
        match &self.spec.workload.vms {
            Some(VmSource::AzureTrace {
                dir,
                arrivals,
                durations,
                flavour_map,
                interval_map,
                ..
            }) => {
                let dir = self.base_dir.join(dir);
                match AzureTrace::load(&dir, arrivals, durations, flavour_map, interval_map) {
                    Ok(t) => self.trace = Some(Arc::new(t)),
                    Err(e) => errors.push(format!("workload.vms.dir: {e}")),
                }
            }
            Some(VmSource::Csv { path }) => {
                let file = self.base_dir.join(path);
                match std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read: {e}"))
                    .and_then(|t| data::parse_vm_csv(&t))
                {
                    Ok(rows) => self.vm_rows = Some(Arc::new(rows)),
                    Err(e) => errors.push(format!("workload.vms.path: {}: {e}", path.display())),
                }
            }
            _ => {}
        }
        errors
    }

    /// The semantic checks; one message per problem.
    fn check(&self) -> Vec<String> {
        let s = &self.spec;
        let mut e = Errs::default();
        if s.name.trim().is_empty() {
            e.add("name".into(), "must not be empty");
        }
        if parse_utc(&s.start).is_none() {
            e.add(
                "start".into(),
                "must be a UTC time like 2024-10-14T00:00:00Z",
            );
        }
        if s.hours == 0 {
            e.add("hours".into(), "must be >= 1");
        }
        if s.step_minutes == 0 || 60 % s.step_minutes != 0 {
            e.add(
                "step_minutes".into(),
                "must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)",
            );
        }
        if !above(s.slo_ms, 0.0) {
            e.add("slo_ms".into(), "must be > 0");
        }
        let n = &s.network;
        if !at_least(n.ms_per_km, 0.0) {
            e.add("network.ms_per_km".into(), "must be >= 0");
        }
        if !at_least(n.base_ms, 0.0) {
            e.add("network.base_ms".into(), "must be >= 0");
        }
        if !above(n.bandwidth_mbps, 0.0) {
            e.add("network.bandwidth_mbps".into(), "must be > 0");
        }
        if let Some(c) = &s.continuum {
            if !at_least(c.ready_after_s, 0.0) {
                e.add("continuum.ready_after_s".into(), "must be >= 0");
            }
        }
        if !at_least(s.migration.energy_wh_per_gib, 0.0) {
            e.add("migration.energy_wh_per_gib".into(), "must be >= 0");
        }
        let st = &s.strategies;
        for (i, text) in st.compare.iter().enumerate() {
            if let Err(m) = super::step_loop::StrategySpec::parse(text, st) {
                e.add(format!("strategies.compare[{i}]"), &m);
            }
        }
        for (path, name) in [
            ("scaling", &st.scaling),
            ("migration", &st.migration),
            ("vm_migration", &st.vm_migration),
        ] {
            if name.as_deref().is_some_and(|n| !valid_strategy_name(n)) {
                e.add(format!("strategies.{path}"), "must be `plugin/strategy`");
            }
        }
        if let Some(p) = &st.offload_policy {
            if let Err(err) = p.validate() {
                e.add("strategies.offload_policy".into(), &err.to_string());
            }
        }
        for (path, every) in [
            ("scaling_every_minutes", st.scaling_every_minutes),
            ("migration_every_minutes", st.migration_every_minutes),
            ("replacement_every_minutes", st.replacement_every_minutes),
        ] {
            if let Some(m) = every {
                if m == 0 || m % s.step_minutes.max(1) != 0 {
                    e.add(
                        format!("strategies.{path}"),
                        "must be a positive multiple of step_minutes",
                    );
                }
            }
        }

        let mut places = BTreeSet::new();
        if s.users.is_empty() {
            e.add("users".into(), "needs at least one user population");
        }
        for (i, u) in s.users.iter().enumerate() {
            let p = format!("users[{i}]");
            if u.name.trim().is_empty() {
                e.add(format!("{p}.name"), "must not be empty");
            } else if !places.insert(u.name.clone()) {
                e.add(format!("{p}.name"), &format!("`{}` is used twice", u.name));
            }
            check_lat_lon(&p, u.lat, u.lon, &mut e);
            if !at_least(u.weight, 0.0) {
                e.add(format!("{p}.weight"), "must be >= 0");
            }
        }
        if !s.users.is_empty() && !above(s.users.iter().map(|u| u.weight).sum::<f64>(), 0.0) {
            e.add("users".into(), "weights must not all be 0");
        }
        if s.datacenters.is_empty() {
            e.add("datacenters".into(), "needs at least one datacenter");
        }
        let hours = s.hours as usize;
        for (i, dc) in s.datacenters.iter().enumerate() {
            let p = format!("datacenters[{i}]");
            if dc.name.trim().is_empty() || dc.name.contains('/') {
                e.add(format!("{p}.name"), "must be a non-empty name without `/`");
            } else if !places.insert(dc.name.clone()) {
                e.add(
                    format!("{p}.name"),
                    &format!(
                        "`{}` is used twice (users and datacenters share names)",
                        dc.name
                    ),
                );
            }
            check_lat_lon(&p, dc.lat, dc.lon, &mut e);
            if !at_least(dc.pue, 1.0) {
                e.add(format!("{p}.pue"), "must be >= 1.0");
            }
            if !at_least(dc.processing_ms, 0.0) {
                e.add(format!("{p}.processing_ms"), "must be >= 0");
            }
            if dc.servers.is_empty() {
                e.add(format!("{p}.servers"), "needs at least one server group");
            }
            for (j, sv) in dc.servers.iter().enumerate() {
                let q = format!("{p}.servers[{j}]");
                if sv.count == 0 {
                    e.add(format!("{q}.count"), "must be >= 1");
                }
                if !above(sv.cores, 0.0) {
                    e.add(format!("{q}.cores"), "must be > 0");
                }
                if !above(sv.memory_gib, 0.0) {
                    e.add(format!("{q}.memory_gib"), "must be > 0");
                }
                match (&sv.power_curve_w, sv.idle_w, sv.peak_w) {
                    (Some(_), Some(_), _) | (Some(_), _, Some(_)) => e.add(
                        q.clone(),
                        "give either `idle_w` and `peak_w` or `power_curve_w`, not both",
                    ),
                    (Some(c), None, None) => {
                        if c.len() < 2 || c.iter().any(|w| !at_least(*w, 0.0)) {
                            e.add(format!("{q}.power_curve_w"), "needs >= 2 values, all >= 0");
                        }
                    }
                    (None, Some(idle), Some(peak)) => {
                        if !at_least(idle, 0.0) {
                            e.add(format!("{q}.idle_w"), "must be >= 0");
                        }
                        if !at_least(peak, idle) {
                            e.add(format!("{q}.peak_w"), "must be >= idle_w");
                        }
                    }
                    (None, _, _) => {
                        e.add(q.clone(), "needs `idle_w` and `peak_w`, or `power_curve_w`")
                    }
                }
            }
            self.check_series(
                &mut e,
                format!("{p}.carbon_intensity"),
                &dc.carbon_intensity,
                0.0,
                5000.0,
            );
            if let Some(g) = &dc.grid_renewable_share {
                self.check_series(&mut e, format!("{p}.grid_renewable_share"), g, 0.0, 1.0);
            }
            if let Some(pr) = &dc.prices.energy_kwh {
                self.check_series(&mut e, format!("{p}.prices.energy_kwh"), pr, 0.0, f64::MAX);
            }
            for (j, r) in dc.renewables.iter().enumerate() {
                let q = format!("{p}.renewables[{j}]");
                if r.kind.trim().is_empty() {
                    e.add(format!("{q}.kind"), "must not be empty");
                }
                if !at_least(r.kw, 0.0) {
                    e.add(format!("{q}.kw"), "must be >= 0");
                }
                self.check_series(&mut e, format!("{q}.shape"), &r.shape, 0.0, 1.0);
            }
            let pr = &dc.prices;
            for (k, v) in [
                ("cpu_core_hour", pr.cpu_core_hour),
                ("memory_gib_hour", pr.memory_gib_hour),
                ("gpu_hour", pr.gpu_hour),
                ("egress_gb", pr.egress_gb),
            ] {
                if !at_least(v, 0.0) {
                    e.add(format!("{p}.prices.{k}"), "must be >= 0");
                }
            }
        }
        for (i, l) in n.links.iter().enumerate() {
            let p = format!("network.links[{i}]");
            for (k, name) in [("from", &l.from), ("to", &l.to)] {
                if !places.contains(name) {
                    e.add(
                        format!("{p}.{k}"),
                        &format!("`{name}` is no user or datacenter"),
                    );
                }
            }
            if l.base_ms.is_some_and(|b| !at_least(b, 0.0)) {
                e.add(format!("{p}.base_ms"), "must be >= 0");
            }
            if l.bandwidth_mbps.is_some_and(|b| !above(b, 0.0)) {
                e.add(format!("{p}.bandwidth_mbps"), "must be > 0");
            }
        }

        let w = &s.workload;
        if w.vms.is_none() && w.services.is_empty() {
            e.add("workload".into(), "needs `vms` or `services`");
        }
        match &w.vms {
            Some(VmSource::AzureTrace { count: Some(0), .. }) => {
                e.add("workload.vms.count".into(), "must be >= 1");
            }
            Some(VmSource::Generator {
                count,
                flavours,
                duration_minutes,
                diurnal_amplitude,
                peak_hour,
            }) => {
                if *count == 0 {
                    e.add("workload.vms.count".into(), "must be >= 1");
                }
                if flavours.is_empty() {
                    e.add("workload.vms.flavours".into(), "needs at least one flavour");
                }
                for (j, f) in flavours.iter().enumerate() {
                    let q = format!("workload.vms.flavours[{j}]");
                    if !above(f.cpu, 0.0) {
                        e.add(format!("{q}.cpu"), "must be > 0");
                    }
                    if !at_least(f.memory_gib, 0.0) {
                        e.add(format!("{q}.memory_gib"), "must be >= 0");
                    }
                    if !at_least(f.weight, 0.0) {
                        e.add(format!("{q}.weight"), "must be >= 0");
                    }
                }
                if !flavours.is_empty()
                    && !above(flavours.iter().map(|f| f.weight).sum::<f64>(), 0.0)
                {
                    e.add("workload.vms.flavours".into(), "weights must not all be 0");
                }
                if !above(duration_minutes.min, 0.0) {
                    e.add("workload.vms.duration_minutes.min".into(), "must be > 0");
                }
                if !at_least(duration_minutes.max, duration_minutes.min) {
                    e.add("workload.vms.duration_minutes.max".into(), "must be >= min");
                }
                if !(0.0..=1.0).contains(diurnal_amplitude) {
                    e.add("workload.vms.diurnal_amplitude".into(), "must be in [0, 1]");
                }
                if !(0.0..24.0).contains(peak_hour) {
                    e.add("workload.vms.peak_hour".into(), "must be in [0, 24)");
                }
            }
            Some(VmSource::Csv { .. }) | Some(VmSource::List { .. }) => {
                let (rows, what): (&[VmRow], &str) = match &w.vms {
                    Some(VmSource::List { requests }) => (requests, "workload.vms.requests"),
                    _ => (
                        self.vm_rows.as_deref().map_or(&[][..], |v| v.as_slice()),
                        "workload.vms.path: row ",
                    ),
                };
                for (j, r) in rows.iter().enumerate() {
                    let p = if what.ends_with(' ') {
                        format!("{what}{}", j + 1)
                    } else {
                        format!("{what}[{j}]")
                    };
                    if let Some(u) = &r.user {
                        if !s.users.iter().any(|x| &x.name == u) {
                            e.add(format!("{p}.user"), &format!("`{u}` is no user"));
                        }
                    }
                    if !above(r.cpu, 0.0) {
                        e.add(format!("{p}.cpu"), "must be > 0");
                    }
                    if !at_least(r.memory_mib, 0.0) {
                        e.add(format!("{p}.memory_mib"), "must be >= 0");
                    }
                }
            }
            _ => {}
        }
        let services: BTreeSet<&str> = w.services.iter().map(|x| x.name.as_str()).collect();
        let dcs: BTreeSet<&str> = s.datacenters.iter().map(|d| d.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        for (i, sv) in w.services.iter().enumerate() {
            let p = format!("workload.services[{i}]");
            if sv.name.trim().is_empty() {
                e.add(format!("{p}.name"), "must not be empty");
            } else if !seen.insert(sv.name.as_str()) {
                e.add(format!("{p}.name"), &format!("`{}` is used twice", sv.name));
            }
            if !above(sv.cpu, 0.0) {
                e.add(format!("{p}.cpu"), "must be > 0");
            }
            if !at_least(sv.memory_mib, 0.0) {
                e.add(format!("{p}.memory_mib"), "must be >= 0");
            }
            if !at_least(sv.alpha, 0.0) {
                e.add(format!("{p}.alpha"), "must be >= 0");
            }
            if !sv.beta.is_finite() {
                e.add(format!("{p}.beta"), "must be a number");
            }
            if sv.min_replicas == 0 {
                e.add(format!("{p}.min_replicas"), "must be >= 1");
            }
            if sv.max_replicas < sv.min_replicas {
                e.add(format!("{p}.max_replicas"), "must be >= min_replicas");
            }
            if sv.replicas < sv.min_replicas || sv.replicas > sv.max_replicas {
                e.add(
                    format!("{p}.replicas"),
                    "must be within [min_replicas, max_replicas]",
                );
            }
            if !at_least(sv.processing_ms, 0.0) {
                e.add(format!("{p}.processing_ms"), "must be >= 0");
            }
            if !(0.0..1.0).contains(&sv.rate_noise) {
                e.add(format!("{p}.rate_noise"), "must be in [0, 1)");
            }
            if !at_least(sv.response_kb, 0.0) {
                e.add(format!("{p}.response_kb"), "must be >= 0");
            }
            for (j, d) in sv.depends_on.iter().enumerate() {
                if d == &sv.name || !services.contains(d.as_str()) {
                    e.add(
                        format!("{p}.depends_on[{j}]"),
                        &format!("`{d}` is no other service"),
                    );
                }
            }
            for (j, c) in sv.allowed_clusters.iter().enumerate() {
                if !dcs.contains(c.as_str()) {
                    e.add(
                        format!("{p}.allowed_clusters[{j}]"),
                        &format!("`{c}` is no datacenter"),
                    );
                }
            }
            if let Some(u) = &sv.user {
                if !s.users.iter().any(|x| &x.name == u) {
                    e.add(format!("{p}.user"), &format!("`{u}` is no user"));
                }
            }
            match self.series(&sv.rate_rps, hours.max(1)) {
                Ok(v) => {
                    if let Some(x) = v.iter().find(|x| !at_least(**x, 0.0)) {
                        e.add(format!("{p}.rate_rps"), &format!("value {x} must be >= 0"));
                    }
                }
                Err(m) => e.add(format!("{p}.rate_rps"), &m),
            }
        }
        e.0
    }

    fn check_series(&self, e: &mut Errs, path: String, spec: &SeriesSpec, lo: f64, hi: f64) {
        match self.series(spec, (self.spec.hours as usize).max(1)) {
            Ok(v) => {
                if let Some(x) = v.iter().find(|x| !(at_least(**x, lo) && **x <= hi)) {
                    e.add(path, &format!("value {x} out of range [{lo}, {hi}]"));
                }
            }
            Err(m) => e.add(path, &m),
        }
    }
}

fn valid_strategy_name(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(p, s)| !p.is_empty() && !s.is_empty() && !s.contains('/'))
}

/// `x >= lo`, false for NaN (so `!at_least(..)` also rejects NaN).
fn at_least(x: f64, lo: f64) -> bool {
    x >= lo
}

/// `x > lo`, false for NaN.
fn above(x: f64, lo: f64) -> bool {
    x > lo
}

/// Collected `path: message` lines.
#[derive(Default)]
struct Errs(Vec<String>);

impl Errs {
    fn add(&mut self, path: String, msg: &str) {
        self.0.push(format!("{path}: {msg}"));
    }
}

fn check_lat_lon(p: &str, lat: f64, lon: f64, e: &mut Errs) {
    if !(-90.0..=90.0).contains(&lat) {
        e.add(format!("{p}.lat"), "must be in [-90, 90]");
    }
    if !(-180.0..=180.0).contains(&lon) {
        e.add(format!("{p}.lon"), "must be in [-180, 180]");
    }
}

/// Parses the YAML; on a type error, goes on element by element to collect the others.
fn parse_spec(text: &str) -> Result<ScenarioSpec, Vec<String>> {
    let first = match serde_yaml::from_str::<ScenarioSpec>(text) {
        Ok(spec) => return Ok(spec),
        Err(e) => e.to_string(),
    };
    let mut errors = vec![first.clone()];
    let Ok(serde_yaml::Value::Mapping(root)) = serde_yaml::from_str::<serde_yaml::Value>(text)
    else {
        return Err(errors);
    };
    let mut more = Vec::new();
    let get = |k: &str| root.get(serde_yaml::Value::from(k));
    if let Some(serde_yaml::Value::Sequence(items)) = get("datacenters") {
        each::<DatacenterSpec>(items, "datacenters", &mut more);
    }
    if let Some(serde_yaml::Value::Sequence(items)) = get("users") {
        each::<UserSpec>(items, "users", &mut more);
    }
    if let Some(serde_yaml::Value::Mapping(w)) = get("workload") {
        if let Some(serde_yaml::Value::Sequence(items)) = w.get(serde_yaml::Value::from("services"))
        {
            each::<ServiceSpec>(items, "workload.services", &mut more);
        }
        if let Some(v) = w.get(serde_yaml::Value::from("vms")) {
            check_one::<VmSource>(v, "workload.vms", &mut more);
        }
    }
    for (key, check) in [
        (
            "network",
            check_one::<NetworkSpec> as fn(&serde_yaml::Value, &str, &mut Vec<String>),
        ),
        ("strategies", check_one::<StrategyDefaults>),
        ("migration", check_one::<MigrationSpec>),
    ] {
        if let Some(v) = get(key) {
            check(v, key, &mut more);
        }
    }
    // The whole-document error already names its element, with a line number: keep that one.
    let first_path = first.split(':').next().unwrap_or("").to_string();
    for m in more {
        let path = m.split(':').next().unwrap_or("");
        let same_element = path == first_path
            || first_path.starts_with(&format!("{path}."))
            || path.starts_with(&format!("{first_path}."));
        if path.is_empty() || !same_element {
            errors.push(m);
        }
    }
    Err(errors)
}

fn each<T: DeserializeOwned>(items: &[serde_yaml::Value], prefix: &str, out: &mut Vec<String>) {
    for (i, item) in items.iter().enumerate() {
        check_one::<T>(item, &format!("{prefix}[{i}]"), out);
    }
}

/// Deserializes one element on its own (re-serialized, so serde_yaml tracks the inner path).
fn check_one<T: DeserializeOwned>(value: &serde_yaml::Value, prefix: &str, out: &mut Vec<String>) {
    let Ok(text) = serde_yaml::to_string(value) else {
        return;
    };
    if let Err(e) = serde_yaml::from_str::<T>(&text) {
        let msg = e.to_string();
        // Line numbers are relative to the element here: drop them.
        let msg = msg.split(" at line ").next().unwrap_or(&msg);
        let full = match msg.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') && e.location().is_some() => {
                format!("{prefix}.{path}: {rest}")
            }
            _ => format!("{prefix}: {msg}"),
        };
        out.push(full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{minimal_yaml, scenarios_dir};

    #[test]
    fn a_minimal_scenario_loads() {
        let s = Scenario::from_yaml(&minimal_yaml(), Path::new(".")).unwrap();
        assert_eq!(s.steps(), 2);
        assert_eq!(s.step_s(), 1800);
        assert_eq!(s.spec.datacenters[0].name, "dc");
    }

    #[test]
    fn a_bad_field_is_reported_with_its_path() {
        let yaml = minimal_yaml().replace("pue: 1.5", "pue: 0.5");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert_eq!(
            e.errors,
            vec!["datacenters[0].pue: must be >= 1.0".to_string()]
        );
    }

    #[test]
    fn every_semantic_error_is_reported_at_once() {
        let yaml = minimal_yaml()
            .replace("pue: 1.5", "pue: 0.9")
            .replace("count: 1", "count: 0")
            .replace("slo_ms: 100", "slo_ms: -1")
            .replace("peak_w: 200", "peak_w: 50");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        let text = e.to_string();
        for want in [
            "slo_ms: must be > 0",
            "datacenters[0].pue: must be >= 1.0",
            "datacenters[0].servers[0].count: must be >= 1",
            "datacenters[0].servers[0].peak_w: must be >= idle_w",
        ] {
            assert!(
                e.errors.iter().any(|x| x == want),
                "missing `{want}` in\n{text}"
            );
        }
        assert_eq!(e.errors.len(), 4, "{text}");
        assert!(text.starts_with("scenario: 4 errors"));
    }

    #[test]
    fn type_errors_in_two_elements_are_both_reported() {
        let yaml = minimal_yaml()
            .replace("pue: 1.5", "pue: high")
            .replace("- name: paris", "- name: paris\n    weight: lots");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert!(
            e.errors[0].starts_with("users[0].weight: invalid type"),
            "{:?}",
            e.errors
        );
        assert!(
            e.errors[0].contains("line "),
            "the first error keeps its line"
        );
        assert!(
            e.errors
                .iter()
                .any(|x| x.starts_with("datacenters[0].pue: invalid type")),
            "{:?}",
            e.errors
        );
        assert_eq!(e.errors.len(), 2, "{:?}", e.errors);
    }

    #[test]
    fn unknown_fields_and_missing_data_files_name_their_path() {
        let yaml = minimal_yaml().replace("pue: 1.5", "pue: 1.5\n    colour: blue");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert!(
            e.errors[0].starts_with("datacenters[0]: unknown field `colour`"),
            "{e}"
        );
        let yaml = minimal_yaml().replace(
            "carbon_intensity: 300",
            "carbon_intensity: {csv: nowhere.csv, column: x}",
        );
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert!(
            e.errors[0]
                .starts_with("datacenters[0].carbon_intensity.csv: nowhere.csv: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn every_shipped_scenario_loads_and_validates() {
        let dir = scenarios_dir();
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    !s.spec.data_source.is_empty(),
                    "{}: no data_source",
                    path.display()
                );
                n += 1;
            }
        }
        assert!(
            n >= 4,
            "expected the reference scenarios in {}",
            dir.display()
        );
    }

    #[test]
    fn set_hours_revalidates_series_coverage() {
        let path = scenarios_dir().join("eu-5dc-24h.yaml");
        let mut s = Scenario::load(&path).unwrap();
        assert!(s.set_hours(48).is_ok());
        let e = s.set_hours(24 * 40).unwrap_err();
        assert!(
            e.errors
                .iter()
                .any(|x| x.contains("carbon_intensity: needs 960 hourly rows")),
            "{e}"
        );
    }
}
