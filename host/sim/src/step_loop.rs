//! The step loop: at each step it releases finished VMs, serves, scales and migrates the
//! long-running services, asks the placement strategy for the step's arrivals, and books energy.
//!
//! Decisions are checked, never trusted: a decision naming an unknown cluster or service, or
//! one that overfills a datacenter, counts as an invalid decision and a failed request.

use super::allocation;
use super::continuum::{Datacenter, TypeUse};
use super::driver::{DriverError, StrategyDriver};
use super::environment::Environment;
use super::metrics::{self, Acc, StrategyRun};
use super::scenario::{
    Role, Scenario, ScenarioError, ServerSelection, StrategyDefaults, VmQueueSpec,
};
use super::server_hint;
use super::vm_mix::{Shape, VmMix};
use super::workload::{self, VmRequest};
use indicatif::ProgressBar;
use smo_core::delay;
use smo_core::geo;
use smo_core::offload::{Action, ActionOutcome, Observation, OffloadMachine};
use smo_plugin_api::{
    Assignment, CallRate, Cluster, ClusterRole, Dependency, DependencyKind, EnergyProfile, Graph,
    Label, Link, Location, MigrationRequest, Placement, PlacementDecision, PlacementRequest,
    Prices, ROption, RString, RVec, Resources, ScalingProfile, ScalingRequest, Service,
    ServiceLoad, Telemetry,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod calls;
mod energy;
mod migration;
mod network;
mod services;
mod snapshots;
#[cfg(test)]
mod tests;
mod vm_moves;
mod vms;

pub(crate) use network::network;

use calls::Call;
use smo_core::decision::{DecisionKind, DecisionRecord};

/// Why a simulation could not run or report.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("strategy `{strategy}`: {message}")]
    Strategy { strategy: String, message: String },
    #[error("{0}")]
    Usage(String),
    #[error("{}: {message}", path.display())]
    Output { path: PathBuf, message: String },
}

/// The strategies of one run: a placement strategy, and optionally scaling and migration ones
/// (`migration` moves the services, `vm_migration` the running VMs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategySpec {
    pub placement: String,
    pub scaling: Option<String>,
    pub migration: Option<String>,
    pub vm_migration: Option<String>,
}

impl StrategySpec {
    /// `plugin/name` (a placement strategy; scaling and migration from the scenario), or
    /// `placement=a/b,scaling=c/d,migration=e/f,vm_migration=g/h` (any subset; the rest from
    /// the scenario).
    /// Any name may carry parameters, `a/b?key=value&key=value` (see [`super::strategy_params`]).
    pub fn parse(text: &str, defaults: &StrategyDefaults) -> Result<StrategySpec, String> {
        let mut spec = StrategySpec {
            placement: String::new(),
            scaling: defaults.scaling.clone(),
            migration: defaults.migration.clone(),
            vm_migration: defaults.vm_migration.clone(),
        };
        // `a/b?k=v` is one placement strategy with parameters; a `=` before any `?` names kinds.
        if text
            .split('?')
            .next()
            .is_some_and(|head| head.contains('='))
        {
            for part in text.split(',') {
                let (k, v) = part
                    .split_once('=')
                    .ok_or_else(|| format!("`{part}`: expected KIND=plugin/strategy"))?;
                let v = v.trim().to_string();
                match k.trim() {
                    "placement" => spec.placement = v,
                    "scaling" => spec.scaling = Some(v),
                    "migration" => spec.migration = Some(v),
                    "vm_migration" => spec.vm_migration = Some(v),
                    other => {
                        return Err(format!(
                            "`{other}`: the kinds are placement, scaling, migration and \
                             vm_migration"
                        ))
                    }
                }
            }
        } else {
            spec.placement = text.trim().to_string();
        }
        if spec.placement.is_empty() {
            return Err(format!("`{text}`: no placement strategy"));
        }
        let named = [
            Some(&spec.placement),
            spec.scaling.as_ref(),
            spec.migration.as_ref(),
            spec.vm_migration.as_ref(),
        ];
        for named in named.into_iter().flatten() {
            let (name, _params) = super::strategy_params::split(named)?;
            let ok = name
                .split_once('/')
                .is_some_and(|(p, s)| !p.is_empty() && !s.is_empty() && !s.contains('/'));
            if !ok {
                return Err(format!(
                    "`{text}`: strategy names are `plugin/strategy`, got `{name}`"
                ));
            }
        }
        Ok(spec)
    }
}

/// What a run keeps besides its metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// Keep the decision record of every strategy call (`smo simulate --decisions`).
    pub decisions: bool,
}

/// Runs `scenario` with `strategy` (see [`StrategySpec::parse`]) and returns its metrics.
/// `progress`, when given, advances by one per step.
pub fn simulate(
    scenario: &Scenario,
    strategy: &str,
    driver: &dyn StrategyDriver,
    progress: Option<&ProgressBar>,
) -> Result<StrategyRun, SimError> {
    simulate_with(scenario, strategy, driver, progress, SimOptions::default())
}

/// [`simulate`] keeping what `options` asks for.
pub fn simulate_with(
    scenario: &Scenario,
    strategy: &str,
    driver: &dyn StrategyDriver,
    progress: Option<&ProgressBar>,
    options: SimOptions,
) -> Result<StrategyRun, SimError> {
    let spec = StrategySpec::parse(strategy, &scenario.spec.strategies).map_err(SimError::Usage)?;
    scenario.validate()?;
    let mut run = Run::new(scenario, driver, spec)?;
    if options.decisions {
        run.decisions = Some(Vec::new());
    }
    for k in 0..run.steps {
        run.step(k)?;
        if let Some(p) = progress {
            p.inc(1);
        }
    }
    Ok(run.finish(strategy))
}

/// Hourly environment of every datacenter: `[dc][hour]`.
/// Latency and bandwidth between places.
pub(crate) struct Net {
    /// `[user][dc]`, ms.
    pub(crate) user_lat: Vec<Vec<f64>>,
    /// `[dc][dc]`, ms one way (0 within a datacenter).
    pub(crate) dc_lat: Vec<Vec<f64>>,
    /// `[dc][dc]`, Mbit/s.
    pub(crate) dc_bw: Vec<Vec<f64>>,
    /// Users to clusters, and clusters to clusters, as strategies see them.
    pub(crate) user_links: RVec<Link>,
    pub(crate) dc_links: RVec<Link>,
}

/// A deployed copy of a service on one datacenter.
struct Inst {
    dc: usize,
    /// Server of each replica.
    servers: Vec<u32>,
    /// Load factor of every replica (share of its capacity in use), 0..1.
    load: f64,
    routed_rps: f64,
    response_ms: f64,
    /// The server choice the placement that put the copy here asked for (its replicas, also
    /// those scaling adds later, go to the servers it picks); `None`: the datacenter's own.
    selection: Option<ServerSelection>,
}

/// Where a running VM is: datacenter, server, the step it ends, and whether it answers late.
#[derive(Debug, Clone, Copy)]
struct VmAt {
    dc: u16,
    server: u32,
    end: usize,
    late: bool,
}

struct Svc {
    name: RString,
    demand: Resources,
    user: usize,
    instances: Vec<Inst>,
}

struct Run<'a> {
    sc: &'a Scenario,
    driver: &'a dyn StrategyDriver,
    strategy: StrategySpec,
    dcs: Vec<Datacenter>,
    dc_index: HashMap<String, usize>,
    idle_peak: Vec<(f64, f64)>,
    env: Environment,
    net: Net,
    step_s: u32,
    per_hour: usize,
    steps: usize,
    vms: Vec<VmRequest>,
    next_vm: usize,
    /// VMs waiting in the `vm_queue` (id, step they arrived), and which VMs were placed.
    vm_queue: Vec<(u32, usize)>,
    vm_placed: Vec<bool>,
    /// VMs ending at each step (ids; where they run is in `vm_at`).
    releases: Vec<Vec<u32>>,
    /// Where each running VM is (`None` before it starts and after it ends).
    vm_at: Vec<Option<VmAt>>,
    running: u64,
    services: Vec<Svc>,
    rates: Vec<Vec<f64>>,
    scaling_every: usize,
    migration_every: usize,
    /// Steps between periodic re-placements of the services (none by default).
    replacement_every: Option<usize>,
    hours: Vec<Acc>,
    dc_acc: Vec<Acc>,
    /// Per datacenter and server model: energy and use (`--json`'s `server_types`).
    type_use: Vec<Vec<TypeUse>>,
    /// VMs running by shape, per booked hour (for `--lower-bound`).
    vm_mix: VmMix,
    pending_kwh: Vec<f64>,
    user_names: Vec<RString>,
    k: usize,
    /// Per service: the step of a load step not yet answered by enough capacity.
    load_step: Vec<Option<usize>>,
    /// Per service, over the current scaling interval: peak demand, largest capacity, and
    /// whether every step was covered.
    alloc_interval: Vec<(f64, f64, bool)>,
    /// Wall time of this step's scaling calls.
    step_scale_time: Duration,
    /// Per service: forecasts reported by the scaling strategy `(calls, Σ predicted,
    /// Σ actual, Σ |error| / actual)`.
    forecast_acc: Vec<(u64, f64, f64, f64)>,
    /// With `strategies.offload_policy`: the run's offload machine, the steps between its
    /// observations, and its actions.
    offload: Option<OffloadMachine>,
    offload_every: usize,
    offload_events: Vec<metrics::OffloadEvent>,
    /// Every strategy call's record, when the run keeps them ([`SimOptions::decisions`]).
    decisions: Option<Vec<DecisionRecord>>,
    /// Each datacenter's last cluster view ([`snapshots::View`]), reused while it is current.
    views: Vec<Option<snapshots::View>>,
}

impl<'a> Run<'a> {
    fn new(
        sc: &'a Scenario,
        driver: &'a dyn StrategyDriver,
        strategy: StrategySpec,
    ) -> Result<Self, SimError> {
        let spec = &sc.spec;
        let hours = spec.hours as usize;
        let bad = |e: String| {
            SimError::Scenario(ScenarioError {
                file: None,
                errors: vec![e],
            })
        };
        let env = Environment::new(sc).map_err(bad)?;
        let mut dcs = Vec::new();
        for d in &spec.datacenters {
            dcs.push(Datacenter::new(d, spec.idle_servers, spec.server_selection));
        }
        let net = network(sc);
        let step_s = sc.step_s();
        let steps = sc.steps();
        let vms = workload::vm_requests(sc);
        let rates = workload::service_rates(sc).map_err(bad)?;
        let services = spec
            .workload
            .services
            .iter()
            .map(|s| Svc {
                name: s.name.as_str().into(),
                demand: Resources::new(s.cpu, s.memory_mib, s.gpu),
                user: s
                    .user
                    .as_ref()
                    .and_then(|u| spec.users.iter().position(|x| &x.name == u))
                    .unwrap_or(0),
                instances: Vec::new(),
            })
            .collect();
        let every = |m: Option<u32>, default: u32| {
            (m.unwrap_or(default) / spec.step_minutes.max(1)).max(1) as usize
        };
        let offload = match &spec.strategies.offload_policy {
            Some(p) => Some(
                OffloadMachine::new(spec.workload.graph.as_deref().unwrap_or("services"), *p)
                    .map_err(|e| bad(format!("strategies.offload_policy: {e}")))?,
            ),
            None => None,
        };
        let offload_every = spec.strategies.offload_policy.as_ref().map_or(1, |p| {
            (p.query_period_s / f64::from(step_s)).round().max(1.0) as usize
        });
        let user_names = if spec.users.len() == 1 {
            vec![RString::from("users")]
        } else {
            spec.users
                .iter()
                .map(|u| RString::from(format!("users/{}", u.name)))
                .collect()
        };
        Ok(Run {
            sc,
            driver,
            strategy,
            dc_index: spec
                .datacenters
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name.clone(), i))
                .collect(),
            idle_peak: dcs.iter().map(Datacenter::idle_peak_w).collect(),
            dc_acc: vec![Acc::default(); dcs.len()],
            type_use: dcs
                .iter()
                .map(|dc| vec![TypeUse::default(); dc.types.len()])
                .collect(),
            pending_kwh: vec![0.0; dcs.len()],
            vm_mix: VmMix::new(hours, vms.len()),
            dcs,
            env,
            net,
            step_s,
            per_hour: (3600 / step_s).max(1) as usize,
            steps,
            releases: vec![Vec::new(); steps],
            vm_queue: Vec::new(),
            vm_placed: vec![false; vms.len()],
            vm_at: vec![None; vms.len()],
            vms,
            next_vm: 0,
            running: 0,
            services,
            rates,
            scaling_every: every(spec.strategies.scaling_every_minutes, spec.step_minutes),
            migration_every: every(spec.strategies.migration_every_minutes, 60),
            replacement_every: spec
                .strategies
                .replacement_every_minutes
                .map(|m| every(Some(m), m)),
            hours: vec![Acc::default(); hours],
            user_names,
            k: 0,
            load_step: vec![None; spec.workload.services.len()],
            alloc_interval: vec![(0.0, 0.0, true); spec.workload.services.len()],
            step_scale_time: Duration::ZERO,
            forecast_acc: vec![(0, 0.0, 0.0, 0.0); spec.workload.services.len()],
            offload,
            offload_every,
            offload_events: Vec::new(),
            decisions: None,
            views: spec.datacenters.iter().map(|_| None).collect(),
        })
    }

    fn hour(&self) -> usize {
        (self.k / self.per_hour).min(self.hours.len().saturating_sub(1))
    }

    fn acc(&mut self) -> &mut Acc {
        let h = self.hour();
        &mut self.hours[h]
    }

    fn now_unix(&self) -> i64 {
        self.sc.start_unix() + self.k as i64 * i64::from(self.step_s)
    }

    fn step(&mut self, k: usize) -> Result<(), SimError> {
        self.k = k;
        self.step_scale_time = Duration::ZERO;
        for id in std::mem::take(&mut self.releases[k]) {
            let Some(at) = self.vm_at[id as usize].take() else {
                continue;
            };
            let vm = self.vms[id as usize];
            self.dcs[at.dc as usize].release(at.server, &vm_demand(&vm), 1.0);
            self.vm_mix.stop(id as usize, &vm);
            self.running -= 1;
        }
        if let Some(m) = self.strategy.vm_migration.clone() {
            if k > 0 && k % self.migration_every == 0 && self.running > 0 {
                self.migrate_vms(&m)?;
            }
        }
        if !self.services.is_empty() {
            if k == 0 {
                let all: Vec<usize> = (0..self.services.len()).collect();
                self.place_services(&all)?;
            } else if self.replacement_every.is_some_and(|e| k % e == 0) {
                self.replace_services()?;
            }
            if let Some(s) = self.strategy.scaling.clone() {
                if k % self.scaling_every == 0 {
                    self.scale_services(&s)?;
                }
            }
            if let Some(m) = self.strategy.migration.clone() {
                if self.offload.is_some() {
                    if k % self.offload_every == 0 {
                        self.offload_step(&m)?;
                    }
                } else if k % self.migration_every == 0 {
                    self.migrate_services(&m, RString::new())?;
                }
            }
            self.serve_requests();
        }
        let end_s = (k as u64 + 1) * u64::from(self.step_s);
        let first = self.next_vm;
        while self.next_vm < self.vms.len() && u64::from(self.vms[self.next_vm].arrival_s) < end_s {
            self.next_vm += 1;
        }
        let queued = std::mem::take(&mut self.vm_queue);
        if self.next_vm > first || !queued.is_empty() {
            let mut batch: Vec<u32> = queued.iter().map(|q| q.0).collect();
            batch.extend(first as u32..self.next_vm as u32);
            self.acc().vm.requests += (self.next_vm - first) as u64;
            self.place_vms(&batch, false)?;
            if let Some(q) = self.sc.spec.vm_queue {
                self.requeue(&batch, &queued, q);
            }
        }
        self.account();
        Ok(())
    }

    /// Puts the VMs of `batch` that failed this step back in the queue while it has room and
    /// they have waited less than `max_wait_minutes` (un-counting their failure); books the
    /// wait of queued VMs that were placed.
    fn requeue(&mut self, batch: &[u32], queued: &[(u32, usize)], q: VmQueueSpec) {
        let since: HashMap<u32, usize> = queued.iter().copied().collect();
        let (k, h) = (self.k, self.hour());
        let step_min = f64::from(self.step_s) / 60.0;
        for &id in batch {
            let arrived = since.get(&id).copied();
            let acc = &mut self.hours[h];
            if self.vm_placed[id as usize] {
                if let Some(a) = arrived {
                    acc.vm_queue_placed += 1;
                    acc.vm_queue_wait_s += (k - a) as f64 * f64::from(self.step_s);
                }
                continue;
            }
            let a = arrived.unwrap_or(k);
            let waited_after_next = (k + 1 - a) as f64 * step_min;
            if self.vm_queue.len() < q.capacity && waited_after_next <= q.max_wait_minutes {
                self.vm_queue.push((id, a));
                acc.vm.failed = acc.vm.failed.saturating_sub(1);
                acc.vm_queued += u64::from(arrived.is_none());
            }
        }
    }

    fn finish(mut self, strategy: &str) -> StrategyRun {
        // VMs still queued at the end never ran: they fail in the last hour.
        if let Some(last) = self.hours.last_mut() {
            last.vm.failed += self.vm_queue.len() as u64;
        }
        let names = self.sc.spec.datacenters.iter().map(|d| d.name.clone());
        let forecasts: Vec<metrics::ServiceForecast> = self
            .services
            .iter()
            .zip(&self.forecast_acc)
            .filter(|(_, a)| a.0 > 0)
            .map(|(s, a)| metrics::ServiceForecast {
                service: s.name.to_string(),
                calls: a.0,
                mean_predicted_rps: a.1 / a.0 as f64,
                mean_actual_rps: a.2 / a.0 as f64,
                mape: a.3 / a.0 as f64,
            })
            .collect();
        let mut run = metrics::finish(
            strategy,
            self.hours,
            names.zip(self.dc_acc).collect(),
            self.sc.start_unix(),
        );
        let per_dc = self
            .dcs
            .iter()
            .zip(&self.sc.spec.datacenters)
            .zip(&self.type_use);
        for (out, ((dc, spec), used)) in run.datacenters.iter_mut().zip(per_dc) {
            // One type per entry of the spec's `servers`, in order (Datacenter::new).
            out.server_types = dc
                .types
                .iter()
                .zip(&spec.servers)
                .zip(used)
                .map(|((t, s), u)| metrics::ServerTypeTotals::new(&t.model, s.count, u))
                .collect();
        }
        run.totals.forecasts = forecasts;
        if let Some(m) = &self.offload {
            run.totals.offload_transitions = Some(m.transitions().count() as u64);
            run.totals.offload_actions = Some(std::mem::take(&mut self.offload_events));
        }
        run.vm_mix = self.vm_mix.into_hourly();
        run.decisions = self.decisions.unwrap_or_default();
        run
    }
}

fn vm_demand(vm: &VmRequest) -> Resources {
    Resources::new(vm.cpu, vm.memory_mib, vm.gpu)
}

/// The id of the VM a strategy names `vm-<id>`.
fn vm_id(name: &str) -> Option<usize> {
    name.strip_prefix("vm-").and_then(|x| x.parse().ok())
}

pub use smo_core::delay::processing;
