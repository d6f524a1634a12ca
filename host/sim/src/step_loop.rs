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
use std::time::Duration;

mod calls;
mod vm_moves;

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
    /// `[dc][dc]`, Mbit/s.
    dc_bw: Vec<Vec<f64>>,
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

    // ---- strategy calls -------------------------------------------------------------------

    fn call_place(
        &mut self,
        req: &PlacementRequest,
    ) -> Result<Result<PlacementDecision, DriverError>, SimError> {
        let name = self.strategy.placement.clone();
        let r = self.driver.place(&name, req);
        let call = Call {
            kind: DecisionKind::Placement,
            strategy: &name,
            graph: req.graph.name.as_str(),
        };
        self.booked(call, r)
    }

    // ---- snapshots for strategies ---------------------------------------------------------

    /// Cluster `d` as strategies see it now. With `slot_only`, `available` is the free room of
    /// its emptiest server (a retry after the datacenter refused a VM for lack of one).
    fn cluster(&self, d: usize, slot_only: bool) -> Cluster {
        let h = self.hour();
        let spec = &self.sc.spec.datacenters[d];
        let dc = &self.dcs[d];
        let it_w = dc.it_power_w();
        let slot = dc.largest_free();
        Cluster {
            name: spec.name.as_str().into(),
            role: match spec.role {
                Role::Cloud => ClusterRole::Cloud,
                Role::Edge => ClusterRole::Edge,
                Role::Iot => ClusterRole::Iot,
            },
            location: Location {
                lat: spec.lat,
                lon: spec.lon,
                region: spec.region.as_str().into(),
            },
            capacity: dc.capacity,
            available: if slot_only { slot } else { dc.free() },
            energy: EnergyProfile {
                source: self.env.source[d].clone(),
                pue: spec.pue,
                carbon_intensity_g_per_kwh: self.env.ci[d][h],
                renewable_supply_kw: self.env.renew_kw[d][h],
                renewable_share: self.env.grid_share[d][h],
                idle_power_w: self.idle_peak[d].0,
                peak_power_w: self.idle_peak[d].1,
                preferred_for_saving: spec.preferred_for_saving,
            },
            prices: Prices {
                cpu_core_hour: spec.prices.cpu_core_hour,
                memory_gib_hour: spec.prices.memory_gib_hour,
                gpu_hour: spec.prices.gpu_hour,
                egress_gb: spec.prices.egress_gb,
                energy_kwh: self.env.price[d][h],
            },
            labels: spec
                .labels
                .iter()
                .map(|(k, v)| Label {
                    key: k.as_str().into(),
                    value: v.as_str().into(),
                })
                .collect(),
            extra: format!(
                "{{\"it_power_w\":{it_w:.3},\"facility_power_w\":{:.3},\"servers\":{},\
                 \"servers_on\":{},\"utilisation\":{:.6},\"largest_free_cpu\":{},\
                 \"largest_free_memory_mib\":{},\"server_detail\":{},\"processing_ms\":{},\
                 \"slo_ms\":{}}}",
                it_w * spec.pue,
                dc.servers.len(),
                dc.servers_on(),
                dc.utilisation(),
                slot.cpu,
                slot.memory_mib,
                dc.detail_json(),
                spec.processing_ms,
                self.sc.spec.slo_ms,
            )
            .into(),
        }
    }

    fn clusters(&self, slot_only: bool) -> RVec<Cluster> {
        (0..self.dcs.len())
            .map(|d| self.cluster(d, slot_only))
            .collect()
    }

    fn telemetry(&self, loads: RVec<ServiceLoad>, with_dc_links: bool) -> Telemetry {
        let mut links = self.net.user_links.clone();
        if with_dc_links {
            links.extend(self.net.dc_links.iter().cloned());
        }
        Telemetry {
            time_unix_s: self.now_unix(),
            loads,
            links,
            calls: RVec::new(),
        }
    }

    // ---- VMs ------------------------------------------------------------------------------

    /// Asks for a placement of `batch`. A VM whose datacenter had aggregate room but no server
    /// for it is asked for once more (`retry`), with every cluster's largest free slot.
    fn place_vms(&mut self, batch: &[u32], retry: bool) -> Result<(), SimError> {
        let services: RVec<Service> = batch
            .iter()
            .map(|&id| {
                let vm = &self.vms[id as usize];
                self.vm_service(id as usize, format!("{{\"duration_s\":{}}}", vm.duration_s))
            })
            .collect();
        let req = PlacementRequest {
            graph: Graph {
                name: format!("{}-step-{}", self.sc.spec.name, self.k).into(),
                services,
            },
            clusters: self.clusters(retry),
            current: ROption::RNone,
            telemetry: self.telemetry(RVec::new(), false),
            extra: RString::new(),
        };
        match self.call_place(&req)? {
            Ok(decision) => {
                let refused = self.apply_vm_placement(batch, &decision, retry);
                if !refused.is_empty() {
                    self.place_vms(&refused, true)?;
                }
            }
            Err(DriverError::Infeasible(_)) if batch.len() > 1 => {
                let (a, b) = batch.split_at(batch.len() / 2);
                self.place_vms(a, retry)?;
                self.place_vms(b, retry)?;
            }
            Err(DriverError::Infeasible(_)) => self.acc().vm.failed += 1,
            Err(_) => {
                let acc = self.acc();
                acc.strategy_errors += 1;
                acc.vm.failed += batch.len() as u64;
            }
        }
        Ok(())
    }

    /// VM `id` as strategies see it: service `vm-<id>`, one replica, its user as a label.
    fn vm_service(&self, id: usize, extra: String) -> Service {
        let vm = &self.vms[id];
        Service {
            name: format!("vm-{id}").into(),
            demand: vm_demand(vm),
            replicas: 1,
            scaling: ScalingProfile {
                alpha: 0.0,
                beta: 0.0,
                min_replicas: 1,
                max_replicas: 1,
            },
            dependencies: RVec::new(),
            allowed_clusters: RVec::new(),
            labels: vec![Label {
                key: "user".into(),
                value: self.user_names[vm.user as usize].clone(),
            }]
            .into(),
            extra: extra.into(),
        }
    }

    /// The server selection a placement decision asks for (`extra.server_selection`); one
    /// that cannot be read is counted and the datacenters' own policies apply.
    fn server_hint(&mut self, decision: &PlacementDecision) -> Option<ServerSelection> {
        match server_hint::requested(decision.extra.as_str()) {
            Ok(hint) => hint,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the decision's server selection");
                self.acc().invalid_server_hints += 1;
                None
            }
        }
    }

    /// Applies a decision; returns the VMs refused for lack of a server in a known datacenter
    /// (not counted as failed yet unless this is the `retry`).
    fn apply_vm_placement(
        &mut self,
        batch: &[u32],
        decision: &PlacementDecision,
        retry: bool,
    ) -> Vec<u32> {
        let mut refused = Vec::new();
        let pos: HashMap<u32, usize> = batch.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        let mut done = vec![false; batch.len()];
        let slo = self.sc.spec.slo_ms;
        let h = self.hour();
        let hint = self.server_hint(decision);
        for a in decision.placement.assignments.iter() {
            let Some(i) = vm_id(&a.service).and_then(|id| pos.get(&(id as u32)).copied()) else {
                self.hours[h].invalid_decisions += 1;
                continue;
            };
            if done[i] {
                self.hours[h].invalid_decisions += 1;
                continue;
            }
            done[i] = true;
            let id = batch[i];
            let vm = self.vms[id as usize];
            let Some(d) = self.dc_index.get(a.cluster.as_str()).copied() else {
                self.hours[h].invalid_decisions += 1;
                self.hours[h].vm.failed += 1;
                continue;
            };
            let Some(server) = self.dcs[d].place_by(&vm_demand(&vm), 1.0, hint) else {
                self.hours[h].invalid_decisions += 1;
                if retry {
                    self.hours[h].vm.failed += 1;
                } else {
                    refused.push(id);
                }
                continue;
            };
            self.vm_placed[id as usize] = true;
            let util = self.dcs[d].utilisation();
            let resp = self.net.user_lat[vm.user as usize][d]
                + processing(self.sc.spec.datacenters[d].processing_ms, util);
            let acc = &mut self.hours[h];
            acc.vm.served += 1;
            acc.placed_vms += 1;
            acc.vm.samples.push((resp, 1.0));
            if resp > slo {
                acc.vm.slo_violations += 1;
            }
            self.vm_mix.start(id as usize, &vm, resp > slo);
            self.dc_acc[d].placed_vms += 1;
            let end = self.k + (vm.duration_s.div_ceil(self.step_s)).max(1) as usize;
            let run_h = (end.min(self.steps) - self.k) as f64 * f64::from(self.step_s) / 3600.0;
            self.hours[h].vm_core_hours += vm.cpu * run_h;
            self.vm_at[id as usize] = Some(VmAt {
                dc: d as u16,
                server,
                end,
                late: resp > slo,
            });
            if end < self.steps {
                self.releases[end].push(id);
            }
            self.running += 1;
        }
        let missing = done.iter().filter(|d| !**d).count() as u64;
        self.hours[h].vm.failed += missing;
        refused
    }

    // ---- services -------------------------------------------------------------------------

    fn graph(&self) -> Graph {
        let specs = &self.sc.spec.workload.services;
        Graph {
            name: self
                .sc
                .spec
                .workload
                .graph
                .clone()
                .unwrap_or_else(|| self.sc.spec.name.clone())
                .into(),
            services: self
                .services
                .iter()
                .zip(specs)
                .map(|(s, sp)| Service {
                    name: s.name.clone(),
                    demand: s.demand,
                    replicas: {
                        let r: usize = s.instances.iter().map(|i| i.servers.len()).sum();
                        if r == 0 {
                            sp.replicas
                        } else {
                            r as u32
                        }
                    },
                    scaling: ScalingProfile {
                        alpha: sp.alpha,
                        beta: sp.beta,
                        min_replicas: sp.min_replicas,
                        max_replicas: sp.max_replicas,
                    },
                    dependencies: sp
                        .depends_on
                        .iter()
                        .map(|d| Dependency {
                            service: d.as_str().into(),
                            kind: DependencyKind::Preferred,
                        })
                        .collect(),
                    allowed_clusters: sp
                        .allowed_clusters
                        .iter()
                        .map(|c| RString::from(c.as_str()))
                        .collect(),
                    labels: vec![Label {
                        key: "user".into(),
                        value: self.user_names[s.user].clone(),
                    }]
                    .into(),
                    extra: RString::new(),
                })
                .collect(),
        }
    }

    fn placement(&self) -> Placement {
        let mut p = Placement::default();
        for s in &self.services {
            for i in &s.instances {
                p.assignments.push(Assignment {
                    service: s.name.clone(),
                    cluster: self.sc.spec.datacenters[i.dc].name.as_str().into(),
                    replicas: i.servers.len() as u32,
                });
            }
        }
        p
    }

    fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name.as_str() == name)
    }

    /// Rate of service `i` at step `k` (the last step's rate past the end).
    fn rate(&self, i: usize, k: usize) -> f64 {
        let r = &self.rates[i];
        r.get(k).or(r.last()).copied().unwrap_or(0.0)
    }

    fn place_services(&mut self, subset: &[usize]) -> Result<(), SimError> {
        let mut graph = self.graph();
        let keep: Vec<bool> = (0..self.services.len())
            .map(|i| subset.contains(&i))
            .collect();
        let mut i = 0;
        graph.services.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let req = PlacementRequest {
            graph,
            clusters: self.clusters(false),
            current: ROption::RNone,
            telemetry: self.telemetry(self.loads(), false),
            extra: RString::new(),
        };
        match self.call_place(&req)? {
            Ok(decision) => self.apply_service_placement(&decision, false),
            Err(DriverError::Infeasible(_)) if subset.len() > 1 => {
                let (a, b) = subset.split_at(subset.len() / 2);
                self.place_services(a)?;
                self.place_services(b)?;
            }
            Err(DriverError::Infeasible(_)) => {}
            Err(_) => self.acc().strategy_errors += 1,
        }
        Ok(())
    }

    /// Applies a (re-)placement of services; with `moving`, instances not in the decision are
    /// removed and new ones count as migrations.
    fn apply_service_placement(&mut self, decision: &PlacementDecision, moving: bool) {
        let hint = self.server_hint(decision);
        let mut wanted: Vec<Vec<(usize, u32)>> = vec![Vec::new(); self.services.len()];
        for a in decision.placement.assignments.iter() {
            let (Some(s), Some(d)) = (
                self.service_index(a.service.as_str()),
                self.dc_index.get(a.cluster.as_str()).copied(),
            ) else {
                self.acc().invalid_decisions += 1;
                continue;
            };
            let sp = &self.sc.spec.workload.services[s];
            let allowed = sp.allowed_clusters.is_empty()
                || sp.allowed_clusters.iter().any(|c| c == a.cluster.as_str());
            if !allowed || wanted[s].iter().any(|w| w.0 == d) {
                self.acc().invalid_decisions += 1;
                continue;
            }
            wanted[s].push((d, a.replicas.clamp(1, sp.max_replicas.max(1))));
        }
        for (s, want) in wanted.into_iter().enumerate() {
            if want.is_empty() {
                continue;
            }
            let had_any = !self.services[s].instances.is_empty();
            if moving {
                let keep: Vec<usize> = want.iter().map(|w| w.0).collect();
                let gone: Vec<usize> = self.services[s]
                    .instances
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| !keep.contains(&i.dc))
                    .map(|(j, _)| j)
                    .collect();
                for j in gone.into_iter().rev() {
                    let inst = self.services[s].instances.remove(j);
                    for server in &inst.servers {
                        self.dcs[inst.dc].release(*server, &self.services[s].demand, inst.load);
                    }
                }
            }
            for (d, replicas) in want {
                let j = match self.services[s].instances.iter().position(|i| i.dc == d) {
                    Some(j) => j,
                    None => {
                        if had_any && moving {
                            self.book_migration(s, None, d, replicas);
                        }
                        self.services[s].instances.push(Inst {
                            dc: d,
                            servers: Vec::new(),
                            load: 0.0,
                            routed_rps: 0.0,
                            response_ms: 0.0,
                            selection: hint,
                        });
                        self.services[s].instances.len() - 1
                    }
                };
                self.services[s].instances[j].selection = hint;
                let _ = self.resize(s, j, replicas);
            }
            self.services[s].instances.retain(|i| !i.servers.is_empty());
        }
    }

    /// Sets instance `j` of service `s` to `replicas`; replicas that do not fit are invalid
    /// (returns `false` then). New replicas go to the servers the copy's `selection` picks
    /// (else the datacenter's own policy).
    fn resize(&mut self, s: usize, j: usize, replicas: u32) -> bool {
        let demand = self.services[s].demand;
        let (d, load, selection) = (
            self.services[s].instances[j].dc,
            self.services[s].instances[j].load,
            self.services[s].instances[j].selection,
        );
        while self.services[s].instances[j].servers.len() > replicas as usize {
            if let Some(server) = self.services[s].instances[j].servers.pop() {
                self.dcs[d].release(server, &demand, load);
            }
        }
        while self.services[s].instances[j].servers.len() < replicas as usize {
            match self.dcs[d].place_by(&demand, load, selection) {
                Some(server) => self.services[s].instances[j].servers.push(server),
                None => {
                    self.acc().invalid_decisions += 1;
                    return false;
                }
            }
        }
        true
    }

    fn loads(&self) -> RVec<ServiceLoad> {
        let k = self.k;
        self.services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let n = s.instances.len().max(1) as f64;
                ServiceLoad {
                    service: s.name.clone(),
                    current_rps: self.rate(i, k),
                    predicted_rps: self.rate(i, k + 1),
                    cpu_utilisation: s.instances.iter().map(|x| x.load).sum::<f64>() / n,
                    memory_utilisation: 0.0,
                    response_time_ms: s.instances.iter().map(|x| x.response_ms).sum::<f64>() / n,
                }
            })
            .collect()
    }

    fn scale_services(&mut self, strategy: &str) -> Result<(), SimError> {
        let k = self.k;
        let mut replace = false;
        for d in 0..self.dcs.len() {
            let here: Vec<(usize, usize)> = self
                .services
                .iter()
                .enumerate()
                .filter_map(|(s, svc)| svc.instances.iter().position(|i| i.dc == d).map(|j| (s, j)))
                .collect();
            if here.is_empty() {
                continue;
            }
            let mut placement = Placement::default();
            let mut loads = RVec::new();
            for &(s, j) in &here {
                let svc = &self.services[s];
                let inst = &svc.instances[j];
                // This instance's share of the service's traffic (last step's routing).
                let prev = if k > 0 { self.rate(s, k - 1) } else { 0.0 };
                let share = if prev > 0.0 {
                    (inst.routed_rps / prev).clamp(0.0, 1.0)
                } else {
                    1.0 / svc.instances.len() as f64
                };
                placement.assignments.push(Assignment {
                    service: svc.name.clone(),
                    cluster: self.sc.spec.datacenters[d].name.as_str().into(),
                    replicas: inst.servers.len() as u32,
                });
                loads.push(ServiceLoad {
                    service: svc.name.clone(),
                    current_rps: self.rate(s, k) * share,
                    predicted_rps: self.rate(s, k + 1) * share,
                    cpu_utilisation: inst.load,
                    memory_utilisation: 0.0,
                    response_time_ms: inst.response_ms,
                });
            }
            let req = ScalingRequest {
                graph: self.graph(),
                cluster: self.cluster(d, false),
                placement,
                telemetry: self.telemetry(loads, false),
                extra: RString::new(),
            };
            let r = self.driver.scale(strategy, &req);
            if let Ok((decision, took)) = &r {
                self.step_scale_time += *took;
                self.record_forecasts(&decision.extra, &req.telemetry.loads);
            }
            let call = Call {
                kind: DecisionKind::Scaling,
                strategy,
                graph: req.graph.name.as_str(),
            };
            let decision = match self.booked(call, r)? {
                Ok(decision) => decision,
                Err(DriverError::Infeasible(_)) => {
                    replace = true;
                    continue;
                }
                Err(_) => {
                    self.acc().strategy_errors += 1;
                    continue;
                }
            };
            replace |= decision.infeasible_replace;
            for choice in decision.replicas.iter() {
                let Some(&(s, j)) = here
                    .iter()
                    .find(|(s, _)| self.services[*s].name == choice.service)
                else {
                    self.acc().invalid_decisions += 1;
                    continue;
                };
                let sp = &self.sc.spec.workload.services[s];
                let (lo, hi) = (sp.min_replicas.max(1), sp.max_replicas.max(1));
                if choice.replicas < lo || choice.replicas > hi {
                    self.acc().invalid_decisions += 1;
                }
                // Upstream SMO re-places the graph when the replicas do not fit.
                replace |= !self.resize(s, j, choice.replicas.clamp(lo, hi));
            }
        }
        if replace {
            self.replace_services()?;
        }
        Ok(())
    }

    /// Books the forecasts a scaling decision reports (`{"forecasts": [{"service",
    /// "forecast_rps"}]}` in its `extra`) against the rates the request carried.
    fn record_forecasts(&mut self, extra: &RString, loads: &RVec<ServiceLoad>) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(extra.as_str()) else {
            return;
        };
        let Some(list) = v.get("forecasts").and_then(|f| f.as_array()) else {
            return;
        };
        for f in list {
            let (Some(name), Some(pred)) = (
                f.get("service").and_then(|x| x.as_str()),
                f.get("forecast_rps").and_then(|x| x.as_f64()),
            ) else {
                continue;
            };
            let (Some(i), Some(actual)) = (
                self.service_index(name),
                loads
                    .iter()
                    .find(|l| l.service.as_str() == name)
                    .map(|l| l.current_rps),
            ) else {
                continue;
            };
            if actual > 0.0 {
                let a = &mut self.forecast_acc[i];
                *a = (
                    a.0 + 1,
                    a.1 + pred,
                    a.2 + actual,
                    a.3 + (pred - actual).abs() / actual,
                );
            }
        }
    }

    /// Proactive allocation accuracy and elasticity of service `i` at this step, before its
    /// requests are served: capacity `c = Σ max(α·r + β, 0)` against demand λ. An interval
    /// (the period between two scaling calls) is accurate when every step's capacity covered
    /// its demand and the largest capacity is at most 1.2 × the capacity of the fewest
    /// replicas that cover the interval's peak demand.
    fn allocation_check(&mut self, i: usize) {
        let k = self.k;
        let sp = &self.sc.spec.workload.services[i];
        let lambda = self.rate(i, k);
        let cap: f64 = self.services[i]
            .instances
            .iter()
            .map(|x| (sp.alpha * x.servers.len() as f64 + sp.beta).max(0.0))
            .sum();
        let covered = cap + 1e-9 >= lambda;
        let iv = &mut self.alloc_interval[i];
        *iv = (iv.0.max(lambda), iv.1.max(cap), iv.2 && covered);
        let closes = (k + 1) % self.scaling_every == 0 || k + 1 == self.steps;
        let interval = closes.then(|| std::mem::replace(iv, (0.0, 0.0, true)));
        // (accurate, accurate within the SLO band)
        let accurate = interval.map(|(peak, cap, covered)| {
            let cap_needed = allocation::capacity_covering(sp, peak);
            let within = covered && cap <= 1.2 * cap_needed + 1e-9;
            let user = self.services[i].user;
            let nearest_ms = self.services[i]
                .instances
                .iter()
                .map(|x| self.net.user_lat[user][x.dc])
                .fold(f64::INFINITY, f64::min);
            let band = allocation::capacity_within_slo(sp, peak, nearest_ms, self.sc.spec.slo_ms)
                .unwrap_or(cap_needed);
            let band = band.max(cap_needed);
            let within_slo = covered && cap + 1e-9 >= band && cap <= 1.2 * band + 1e-9;
            (within, within_slo)
        });
        let rose = k > 0 && lambda > 1.2 * self.rate(i, k - 1);
        let step_s = f64::from(self.step_s);
        let scale_time = self.step_scale_time;
        let pending = &mut self.load_step[i];
        if rose && pending.is_none() {
            *pending = Some(k);
        }
        let resolved = match *pending {
            Some(k0) if covered => {
                *pending = None;
                Some((k - k0) as f64 * step_s)
            }
            _ => None,
        };
        let last = k + 1 == self.steps;
        let unresolved = last && pending.is_some();
        let acc = self.acc();
        if let Some((accurate, within_slo)) = accurate {
            acc.alloc_intervals += 1;
            acc.alloc_accurate += u64::from(accurate);
            acc.alloc_accurate_slo += u64::from(within_slo);
        }
        if let Some(s) = resolved {
            acc.elastic_events += 1;
            acc.elastic_s_max = acc.elastic_s_max.max(s);
            acc.elastic_decision_max = acc.elastic_decision_max.max(scale_time);
        }
        acc.elastic_unresolved += u64::from(unresolved);
    }

    fn replace_services(&mut self) -> Result<(), SimError> {
        let req = PlacementRequest {
            graph: self.graph(),
            clusters: self.clusters(false),
            current: ROption::RSome(self.placement()),
            telemetry: self.telemetry(self.loads(), true),
            extra: RString::new(),
        };
        match self.call_place(&req)? {
            Ok(decision) => self.apply_service_placement(&decision, true),
            Err(DriverError::Infeasible(_)) => {}
            Err(_) => self.acc().strategy_errors += 1,
        }
        Ok(())
    }

    fn is_edge(&self, d: usize) -> bool {
        self.sc.spec.datacenters[d].role == Role::Edge
    }

    /// One observation of the offload machine at this step: the users' mean delay over the
    /// services' copies (each copy's response time of the last served step, weighted by the
    /// requests it took; NaN before any traffic). When the machine acts, the migration
    /// strategy is called with `extra = action.request_extra_json()` (the machine asks for
    /// `delay − target`, the target being the middle of the band), its moves are applied and
    /// the machine is told the outcome at once (a simulated move takes effect in the step).
    fn offload_step(&mut self, strategy: &str) -> Result<(), SimError> {
        let (mut w, mut sum) = (0.0, 0.0);
        let (mut can_offload, mut can_unoffload) = (false, false);
        for s in &self.services {
            let mut at_edge = false;
            for inst in &s.instances {
                w += inst.routed_rps;
                sum += inst.routed_rps * inst.response_ms;
                at_edge |= self.is_edge(inst.dc);
            }
            can_offload |= !at_edge;
            can_unoffload |= at_edge;
        }
        let obs = Observation {
            delay_ms: if w > 0.0 { sum / w } else { f64::NAN },
            autoscaler_active: false,
            can_offload,
            can_unoffload,
        };
        let at_s = self.k as f64 * f64::from(self.step_s);
        let now = Duration::from_secs_f64(at_s);
        let Some(machine) = self.offload.as_mut() else {
            return Ok(());
        };
        let Some(action) = machine.step(now, &obs) else {
            return Ok(());
        };
        let moved = self.migrate_services(strategy, action.request_extra_json().into())?;
        let outcome = match moved {
            Some((to, from)) if to + from > 0 => ActionOutcome::Applied {
                moves: (to + from) as usize,
            },
            Some(_) => ActionOutcome::NoChange {
                reason: "no move applied".into(),
            },
            None => ActionOutcome::Failed {
                error: "the migration strategy failed or found nothing feasible".into(),
            },
        };
        if let Some(machine) = self.offload.as_mut() {
            machine.finish(now, outcome);
        }
        let (to_edge, from_edge) = moved.unwrap_or((0, 0));
        self.offload_events.push(metrics::OffloadEvent {
            hour: self.hour() as u32,
            at_s,
            action: match action {
                Action::Offload { .. } => "offload".into(),
                Action::Unoffload { .. } => "unoffload".into(),
            },
            measured_delay_ms: obs.delay_ms,
            required_decrease_ms: action.required_decrease_ms(),
            moves_to_edge: to_edge,
            moves_from_edge: from_edge,
        });
        Ok(())
    }

    /// Calls the migration strategy with `extra` and applies its moves; returns the moves
    /// applied onto and off edge datacenters (`None` when the call failed or was infeasible).
    fn migrate_services(
        &mut self,
        strategy: &str,
        extra: RString,
    ) -> Result<Option<(u64, u64)>, SimError> {
        let mut telemetry = self.telemetry(self.loads(), true);
        let k = self.k;
        for (i, (s, sp)) in self
            .services
            .iter()
            .zip(&self.sc.spec.workload.services)
            .enumerate()
        {
            let rps = self.rate(i, k);
            telemetry.calls.push(CallRate {
                from: "users".into(),
                to: s.name.clone(),
                rps,
                mean_response_bytes: sp.response_kb * 1024.0,
            });
            for dep in &sp.depends_on {
                let bytes = self
                    .sc
                    .spec
                    .workload
                    .services
                    .iter()
                    .find(|x| &x.name == dep)
                    .map_or(0.0, |x| x.response_kb * 1024.0);
                telemetry.calls.push(CallRate {
                    from: s.name.clone(),
                    to: dep.as_str().into(),
                    rps,
                    mean_response_bytes: bytes,
                });
            }
        }
        let req = MigrationRequest {
            graph: self.graph(),
            clusters: self.clusters(false),
            current: self.placement(),
            telemetry,
            extra,
        };
        let r = self.driver.migrate(strategy, &req);
        let call = Call {
            kind: DecisionKind::Migration,
            strategy,
            graph: req.graph.name.as_str(),
        };
        let decision = match self.booked(call, r)? {
            Ok(d) => d,
            Err(DriverError::Infeasible(_)) => return Ok(None),
            Err(_) => {
                self.acc().strategy_errors += 1;
                return Ok(None);
            }
        };
        let (mut to_edge, mut from_edge) = (0, 0);
        for mv in decision.moves.iter() {
            let s = self.service_index(mv.service.as_str());
            let from = self.dc_index.get(mv.from.as_str()).copied();
            let to = self.dc_index.get(mv.to.as_str()).copied();
            let known = |name: &RString, idx: Option<usize>| name.is_empty() || idx.is_some();
            let (Some(s), true, true) = (s, known(&mv.from, from), known(&mv.to, to)) else {
                self.acc().invalid_decisions += 1;
                continue;
            };
            if !self.apply_move(s, from, to, mv.replicas) {
                self.acc().invalid_decisions += 1;
                continue;
            }
            to_edge += u64::from(to.is_some_and(|t| self.is_edge(t)));
            from_edge += u64::from(from.is_some_and(|f| self.is_edge(f)));
        }
        Ok(Some((to_edge, from_edge)))
    }

    /// One move of a migration decision; `false` when it cannot be applied.
    fn apply_move(&mut self, s: usize, from: Option<usize>, to: Option<usize>, n: u32) -> bool {
        let find = |svc: &Svc, d: usize| svc.instances.iter().position(|i| i.dc == d);
        let sp = &self.sc.spec.workload.services[s];
        if to.is_some_and(|t| {
            !sp.allowed_clusters.is_empty()
                && !sp
                    .allowed_clusters
                    .iter()
                    .any(|c| c == &self.sc.spec.datacenters[t].name)
        }) {
            return false;
        }
        match (from, to) {
            (Some(f), Some(t)) if f != t => {
                let Some(jf) = find(&self.services[s], f) else {
                    return false;
                };
                let have = self.services[s].instances[jf].servers.len() as u32;
                let n = if n == 0 { have } else { n.min(have) };
                let load = self.services[s].instances[jf].load;
                let selection = self.services[s].instances[jf].selection;
                let jt = match find(&self.services[s], t) {
                    Some(j) => j,
                    None => {
                        self.services[s].instances.push(Inst {
                            dc: t,
                            servers: Vec::new(),
                            load,
                            routed_rps: 0.0,
                            response_ms: 0.0,
                            selection,
                        });
                        self.services[s].instances.len() - 1
                    }
                };
                let before = self.services[s].instances[jt].servers.len() as u32;
                let _ = self.resize(s, jt, before + n);
                let moved = self.services[s].instances[jt].servers.len() as u32 - before;
                let _ = self.resize(s, jf, have - moved);
                if moved > 0 {
                    self.book_migration(s, Some(f), t, moved);
                }
                self.services[s].instances.retain(|i| !i.servers.is_empty());
                moved > 0
            }
            (None, Some(t)) => {
                let jt = match find(&self.services[s], t) {
                    Some(j) => j,
                    None => {
                        self.services[s].instances.push(Inst {
                            dc: t,
                            servers: Vec::new(),
                            load: 0.0,
                            routed_rps: 0.0,
                            response_ms: 0.0,
                            selection: None,
                        });
                        self.services[s].instances.len() - 1
                    }
                };
                let before = self.services[s].instances[jt].servers.len() as u32;
                let _ = self.resize(s, jt, before + n.max(1));
                let added = self.services[s].instances[jt].servers.len() as u32 - before;
                if added > 0 {
                    self.book_migration(s, None, t, added);
                }
                self.services[s].instances.retain(|i| !i.servers.is_empty());
                added > 0
            }
            (Some(f), None) => {
                let Some(jf) = find(&self.services[s], f) else {
                    return false;
                };
                let have = self.services[s].instances[jf].servers.len() as u32;
                let n = if n == 0 { have } else { n.min(have) };
                let others = self.services[s].instances.len() > 1;
                if n == have && !others {
                    return false; // never stop the last copy of a service
                }
                let _ = self.resize(s, jf, have - n);
                self.services[s].instances.retain(|i| !i.servers.is_empty());
                true
            }
            _ => false,
        }
    }

    /// Counts a migration of `replicas` replicas of service `s` to `to` (from `from`, or a new
    /// copy) with its energy, downtime and egress cost.
    fn book_migration(&mut self, s: usize, from: Option<usize>, to: usize, replicas: u32) {
        let gib = self.services[s].demand.memory_mib / 1024.0 * f64::from(replicas);
        let downtime = match from {
            Some(f) => self.services[s].demand.memory_mib * 8.0 / self.net.dc_bw[f][to].max(1e-9),
            None => 0.0,
        };
        self.book_copy(gib, to, downtime, Some(from.unwrap_or(to)));
    }

    /// Books one migration: `gib` copied to `to` (the copy energy charged there), its
    /// downtime, and egress of those GiB at `egress_from`'s price (`None`: none).
    fn book_copy(&mut self, gib: f64, to: usize, downtime_s: f64, egress_from: Option<usize>) {
        let kwh = gib * self.sc.spec.migration.energy_wh_per_gib / 1000.0;
        self.pending_kwh[to] += kwh;
        let egress =
            egress_from.map_or(0.0, |d| gib * self.sc.spec.datacenters[d].prices.egress_gb);
        let acc = self.acc();
        acc.migrations += 1;
        acc.migration_kwh += kwh;
        acc.migration_downtime_s += downtime_s;
        acc.migration_cost += egress;
    }

    /// Routes each service's requests of this step to its copies, nearest first, up to each
    /// copy's `alpha * replicas + beta`; the rest fail.
    fn serve_requests(&mut self) {
        let k = self.k;
        let h = self.hour();
        let step_s = f64::from(self.step_s);
        let slo = self.sc.spec.slo_ms;
        for i in 0..self.services.len() {
            self.allocation_check(i);
            let lambda = self.rate(i, k);
            let n = (lambda * step_s).round() as u64;
            let sp = &self.sc.spec.workload.services[i];
            let user = self.services[i].user;
            let copies: Vec<delay::Copy> = self.services[i]
                .instances
                .iter()
                .map(|inst| delay::Copy {
                    latency_ms: self.net.user_lat[user][inst.dc],
                    capacity_rps: sp.alpha * inst.servers.len() as f64 + sp.beta,
                })
                .collect();
            let (served, left) = delay::route(n, step_s, sp.processing_ms, &copies);
            let acc = &mut self.hours[h];
            acc.svc.requests += n;
            for (inst, s) in self.services[i].instances.iter_mut().zip(&served) {
                let (take, rho, resp) = (s.taken, s.rho, s.response_ms);
                if take > 0 {
                    acc.svc.samples.push((resp, take as f64));
                    if resp > slo {
                        acc.svc.slo_violations += take;
                    }
                }
                acc.svc.served += take;
                inst.routed_rps = take as f64 / step_s;
                inst.response_ms = resp;
                for server in &inst.servers {
                    self.dcs[inst.dc].set_load(*server, sp.cpu, inst.load, rho);
                }
                inst.load = rho;
            }
            acc.svc.failed += left;
        }
    }

    // ---- energy ---------------------------------------------------------------------------

    /// The services' busy replicas this step (replicas x load factor, per copy, late when the
    /// copy answered over the SLO), for the energy lower bound.
    fn sample_service_work(&mut self, h: usize, dt_h: f64) {
        let slo = self.sc.spec.slo_ms;
        for (i, svc) in self.services.iter().enumerate() {
            let sp = &self.sc.spec.workload.services[i];
            for inst in &svc.instances {
                let shape = Shape {
                    cpu: svc.demand.cpu,
                    memory_mib: svc.demand.memory_mib,
                    gpu: svc.demand.gpu,
                    user: svc.user as u16,
                    late: inst.response_ms > slo,
                    processing_ms: Some(sp.processing_ms),
                };
                let units = inst.servers.len() as f64 * inst.load;
                self.vm_mix.sample_service(h, dt_h, shape, units);
            }
        }
    }

    fn account(&mut self) {
        let h = self.hour();
        let dt_h = f64::from(self.step_s) / 3600.0;
        let (mut used, mut cap) = (0.0, 0.0);
        let booked = self
            .sc
            .spec
            .energy_accounting_hours
            .is_none_or(|n| h < n as usize);
        if booked {
            self.vm_mix.sample(h, dt_h);
            self.sample_service_work(h, dt_h);
        }
        for d in 0..self.dcs.len() {
            let spec = &self.sc.spec.datacenters[d];
            if !booked {
                std::mem::take(&mut self.pending_kwh[d]);
                used += self.dcs[d].used.cpu;
                cap += self.dcs[d].capacity.cpu;
                continue;
            }
            let dc = &self.dcs[d];
            let it_w = dc.accrue_by_type(dt_h, &mut self.type_use[d]);
            let it_kwh = it_w * dt_h / 1000.0 + std::mem::take(&mut self.pending_kwh[d]);
            let facility = it_kwh * spec.pue;
            let supply = self.env.renew_kw[d][h] * dt_h;
            let renewable = facility.min(supply);
            let brown = facility - renewable;
            let p = &spec.prices;
            let step = Acc {
                it_kwh,
                facility_kwh: facility,
                renewable_supply_kwh: supply,
                renewable_kwh: renewable,
                brown_kwh: brown,
                carbon_kg: brown * self.env.ci[d][h] / 1000.0,
                energy_cost: brown * self.env.price[d][h],
                resource_cost: (dc.used.cpu * p.cpu_core_hour
                    + dc.used.memory_mib / 1024.0 * p.memory_gib_hour
                    + f64::from(dc.used.gpu) * p.gpu_hour)
                    * dt_h,
                ..Acc::default()
            };
            used += dc.used.cpu;
            cap += dc.capacity.cpu;
            self.hours[h].add(&step);
            self.dc_acc[d].add(&step);
        }
        self.hours[h].running_vms = self.running;
        self.hours[h].utilisation = if cap > 0.0 { used / cap } else { 0.0 };
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

pub(crate) fn network(sc: &Scenario) -> Net {
    let spec = &sc.spec;
    let n = &spec.network;
    let link = |a: &str, b: &str| {
        n.links
            .iter()
            .find(|l| (l.from == a && l.to == b) || (l.from == b && l.to == a))
    };
    let lat = |a: &str, pa: (f64, f64), b: &str, pb: (f64, f64)| {
        let base = link(a, b).and_then(|l| l.base_ms).unwrap_or(n.base_ms);
        geo::latency_ms(geo::distance_km(pa, pb), n.ms_per_km, base)
    };
    let bw = |a: &str, b: &str| {
        link(a, b)
            .and_then(|l| l.bandwidth_mbps)
            .unwrap_or(n.bandwidth_mbps)
    };
    let dcs = &spec.datacenters;
    let user_lat: Vec<Vec<f64>> = spec
        .users
        .iter()
        .map(|u| {
            dcs.iter()
                .map(|d| lat(&u.name, (u.lat, u.lon), &d.name, (d.lat, d.lon)))
                .collect()
        })
        .collect();
    let dc_lat: Vec<Vec<f64>> = dcs
        .iter()
        .map(|a| {
            dcs.iter()
                .map(|b| {
                    if a.name == b.name {
                        0.0
                    } else {
                        lat(&a.name, (a.lat, a.lon), &b.name, (b.lat, b.lon))
                    }
                })
                .collect()
        })
        .collect();
    let dc_bw: Vec<Vec<f64>> = dcs
        .iter()
        .map(|a| dcs.iter().map(|b| bw(&a.name, &b.name)).collect())
        .collect();
    let single = spec.users.len() == 1;
    let mut user_links = RVec::new();
    for (ui, u) in spec.users.iter().enumerate() {
        let from: RString = if single {
            "users".into()
        } else {
            format!("users/{}", u.name).into()
        };
        for (di, d) in dcs.iter().enumerate() {
            user_links.push(Link {
                from: from.clone(),
                to: d.name.as_str().into(),
                latency_ms: user_lat[ui][di],
                bandwidth_mbps: bw(&u.name, &d.name),
            });
        }
    }
    if !single {
        // The ABI's name for the users' ingress is "users": its latency is the users' mean,
        // weighted like their VM requests.
        let total: f64 = spec.users.iter().map(|u| u.weight).sum::<f64>().max(1e-12);
        for (di, d) in dcs.iter().enumerate() {
            let mean = |f: &dyn Fn(usize) -> f64| {
                spec.users
                    .iter()
                    .enumerate()
                    .map(|(ui, u)| u.weight * f(ui))
                    .sum::<f64>()
                    / total
            };
            user_links.push(Link {
                from: "users".into(),
                to: d.name.as_str().into(),
                latency_ms: mean(&|ui| user_lat[ui][di]),
                bandwidth_mbps: mean(&|ui| bw(&spec.users[ui].name, &d.name)),
            });
        }
    }
    let mut dc_links = RVec::new();
    for (a, da) in dcs.iter().enumerate() {
        for (b, db) in dcs.iter().enumerate() {
            if a != b {
                dc_links.push(Link {
                    from: da.name.as_str().into(),
                    to: db.name.as_str().into(),
                    latency_ms: dc_lat[a][b],
                    bandwidth_mbps: dc_bw[a][b],
                });
            }
        }
    }
    Net {
        user_lat,
        dc_bw,
        user_links,
        dc_links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{minimal_yaml, TestDriver};
    use std::path::Path;

    fn run_yaml(yaml: &str, strategy: &str) -> StrategyRun {
        let s = Scenario::from_yaml(yaml, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
        simulate(&s, strategy, &TestDriver, None).unwrap()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn energy_and_carbon_of_one_server_over_two_steps() {
        // Step 0: u = 2/4 -> 100 + 100 * 0.5 = 150 W for 0.5 h = 0.075 kWh IT, x 1.5 PUE =
        // 0.1125 kWh, x 300 g/kWh = 0.03375 kg. Step 1: the VM is gone, the server is off.
        let r = run_yaml(&minimal_yaml(), "test/first-fit");
        let t = &r.totals;
        close(t.it_energy_kwh, 0.075);
        close(t.energy_kwh, 0.1125);
        close(t.carbon_kg, 0.03375);
        close(t.brown_kwh, 0.1125);
        close(t.renewable_share, 0.0);
        assert_eq!((t.requests, t.served, t.failed), (1, 1, 0));
        close(t.failure_rate, 0.0);
        // Same place as the user: latency is the 2 ms base, no processing time.
        close(t.mean_response_ms, 2.0);
        close(t.p95_response_ms, 2.0);
        close(t.energy_per_request_wh, 112.5);
        // 2 cores x 0.5 h of work for 0.1125 kWh.
        close(t.vm_core_hours, 1.0);
        close(t.energy_per_vm_core_hour_wh.unwrap_or(0.0), 112.5);
        assert_eq!(r.hourly.len(), 1);
        close(r.hourly[0].energy_kwh, 0.1125);
        assert_eq!(r.hourly[0].start, "2024-01-01T00:00:00Z");
        assert_eq!(r.datacenters[0].placed_vms, 1);
    }

    #[test]
    fn energy_and_work_are_reported_per_server_model() {
        // A 4-core server (100-200 W) and two 8-core ones (50-150 W). The 2-core VM adds 75 W
        // on an 8-core server (50 + 100 x 2/8) against 150 W on the 4-core one, so it runs
        // there for 0.5 h: 37.5 Wh for 1 busy core-hour; the rest stays off.
        let two_models = minimal_yaml().replace(
            "    servers:\n      - count: 1\n        cores: 4\n        memory_gib: 16\n        idle_w: 100\n        peak_w: 200\n",
            "    servers:\n      - {model: small, count: 1, cores: 4, memory_gib: 16, idle_w: 100, peak_w: 200}\n      - {model: big, count: 2, cores: 8, memory_gib: 32, idle_w: 50, peak_w: 150}\n",
        );
        assert_ne!(two_models, minimal_yaml());
        let r = run_yaml(&two_models, "test/first-fit");
        let types = &r.datacenters[0].server_types;
        let names: Vec<(&str, u32)> = types
            .iter()
            .map(|t| (t.model.as_str(), t.servers))
            .collect();
        assert_eq!(names, [("small", 1), ("big", 2)]);
        close(types[0].it_energy_kwh, 0.0);
        close(types[0].server_hours_on, 0.0);
        close(types[0].wh_per_busy_core_hour, 0.0);
        close(types[1].it_energy_kwh, 0.0375);
        close(types[1].server_hours_on, 0.5);
        close(types[1].busy_core_hours, 1.0);
        close(types[1].wh_per_busy_core_hour, 37.5);
        // 1 GiB booked for 0.5 h.
        close(types[1].memory_gib_hours, 0.5);
        close(types[0].memory_gib_hours, 0.0);
        // Idle servers on: the small one 100 W x 1 h; the big ones 75 W x 0.5 h + 50 W x 1.5 h.
        let on = two_models.replace("slo_ms: 100", "slo_ms: 100\nidle_servers: on");
        let r = run_yaml(&on, "test/first-fit");
        let types = &r.datacenters[0].server_types;
        close(types[0].it_energy_kwh, 0.1);
        close(types[0].server_hours_on, 1.0);
        close(types[1].it_energy_kwh, 0.1125);
        close(types[1].server_hours_on, 2.0);
        let sum: f64 = types.iter().map(|t| t.it_energy_kwh).sum();
        close(sum, r.totals.it_energy_kwh);
    }

    #[test]
    fn always_on_servers_draw_idle_power_when_empty() {
        // Plus 100 W x 0.5 h x 1.5 in step 1 = 0.075 kWh.
        let yaml = minimal_yaml().replace("slo_ms: 100", "slo_ms: 100\nidle_servers: on");
        let t = run_yaml(&yaml, "test/first-fit").totals;
        close(t.energy_kwh, 0.1875);
        close(t.carbon_kg, 0.1875 * 0.3);
    }

    #[test]
    fn seed_accounting_books_energy_only_before_the_given_hour() {
        // Two hours, idle power always on, the VM arrives in hour 1 and hour 1 is not booked:
        // 100 W x 1 h x 1.5 PUE = 0.15 kWh, and the VM still counts as served.
        let yaml = minimal_yaml()
            .replace("hours: 1", "hours: 2")
            .replace(
                "slo_ms: 100",
                "slo_ms: 100\nidle_servers: on\nenergy_accounting_hours: 1",
            )
            .replace("arrival_s: 0", "arrival_s: 3600");
        let r = run_yaml(&yaml, "test/first-fit");
        close(r.totals.energy_kwh, 0.15);
        assert_eq!((r.totals.requests, r.totals.served), (1, 1));
        close(r.hourly[1].energy_kwh, 0.0);
    }

    #[test]
    fn queued_vm_is_placed_when_its_server_frees() {
        // Two 4-core VMs for one 4-core server: without a queue the second fails; with one it
        // waits one 30-minute step, runs when the first has left, and nothing fails.
        let two = minimal_yaml().replace("hours: 1", "hours: 2").replace(
            "      - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 1800}",
            "      - {arrival_s: 0, cpu: 4, memory_mib: 1024, duration_s: 1800}\n      \
             - {arrival_s: 0, cpu: 4, memory_mib: 1024, duration_s: 1800}",
        );
        let t = run_yaml(&two, "test/first-fit").totals;
        assert_eq!((t.requests, t.served, t.failed), (2, 1, 1));
        assert_eq!(t.vm_queued, None);
        let queued = two.replace(
            "slo_ms: 100",
            "slo_ms: 100\nvm_queue: {capacity: 10, max_wait_minutes: 60}",
        );
        let t = run_yaml(&queued, "test/first-fit").totals;
        assert_eq!((t.requests, t.served, t.failed), (2, 2, 0));
        assert_eq!(t.vm_queued, Some(1));
        assert_eq!(t.vm_mean_queue_wait_s, Some(1800.0));
        // A queue of zero places behaves as no queue.
        let none = two.replace(
            "slo_ms: 100",
            "slo_ms: 100\nvm_queue: {capacity: 0, max_wait_minutes: 60}",
        );
        let t = run_yaml(&none, "test/first-fit").totals;
        assert_eq!((t.served, t.failed), (1, 1));
    }

    #[test]
    fn on_site_renewables_cover_part_of_the_facility_energy() {
        // 0.1 kW x 0.5 capacity factor x 0.5 h = 0.025 kWh per step; only step 0 uses energy.
        let yaml = minimal_yaml().replace(
            "    carbon_intensity: 300\n",
            "    carbon_intensity: 300\n    renewables:\n      - {kind: solar, kw: 0.1, shape: 0.5}\n",
        );
        let t = run_yaml(&yaml, "test/first-fit").totals;
        close(t.renewable_supply_kwh, 0.05);
        close(t.renewable_kwh, 0.025);
        close(t.renewable_share, 0.025 / 0.1125);
        close(t.carbon_kg, (0.1125 - 0.025) * 0.3);
    }

    #[test]
    fn a_vm_runs_for_whole_steps_and_energy_prices_apply() {
        // 1801 s -> 2 steps; energy price 0.2 per grid kWh; 0.01 per core-hour reserved.
        let yaml = minimal_yaml()
            .replace("duration_s: 1800", "duration_s: 1801")
            .replace(
                "    carbon_intensity: 300\n",
                "    carbon_intensity: 300\n    prices: {energy_kwh: 0.2, cpu_core_hour: 0.01}\n",
            );
        let t = run_yaml(&yaml, "test/first-fit").totals;
        close(t.energy_kwh, 0.225);
        close(t.energy_cost, 0.225 * 0.2);
        close(t.resource_cost, 2.0 * 1.0 * 0.01);
        close(t.cost, 0.045 + 0.02);
    }

    fn three_vms() -> String {
        minimal_yaml().replace(
            "      - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 1800}\n",
            "      - {arrival_s: 0, cpu: 3, duration_s: 1800}\n      \
             - {arrival_s: 1, cpu: 3, duration_s: 1800}\n      \
             - {arrival_s: 2, cpu: 1, duration_s: 1800}\n",
        )
    }

    #[test]
    fn infeasible_batches_are_split_until_single_requests() {
        // [3,3,1] infeasible -> [3] ok, [3,1] infeasible -> [3] infeasible, [1] ok.
        let t = run_yaml(&three_vms(), "test/all-or-nothing").totals;
        assert_eq!((t.requests, t.served, t.failed), (3, 2, 1));
        assert_eq!(t.strategy_calls, 5);
        assert_eq!(t.invalid_decisions, 0);
    }

    #[test]
    fn invalid_decisions_are_failures_not_crashes() {
        // All on the one server: 3 fits, the second 3 does not (1 core left), then 1 fits;
        // the refused VM is asked for once more, refused again, and fails.
        let t = run_yaml(&three_vms(), "test/overfill").totals;
        assert_eq!((t.served, t.failed, t.invalid_decisions), (2, 1, 2));
        assert_eq!(t.strategy_calls, 2);
        let t = run_yaml(&three_vms(), "test/bogus").totals;
        assert_eq!((t.served, t.failed, t.invalid_decisions), (0, 3, 3));
        close(t.energy_kwh, 0.0);
        let t = run_yaml(&three_vms(), "test/broken").totals;
        assert_eq!((t.served, t.failed, t.strategy_errors), (0, 3, 1));
        close(t.failure_rate, 1.0);
        let s = Scenario::from_yaml(&three_vms(), Path::new(".")).unwrap();
        let e = simulate(&s, "test/missing", &TestDriver, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "strategy `test/missing`: unknown strategy `test/missing`"
        );
        let e = simulate(&s, "nonsense", &TestDriver, None).unwrap_err();
        assert!(e.to_string().contains("`plugin/strategy`"), "{e}");
    }

    #[test]
    fn a_decision_can_ask_for_the_servers_its_vms_share() {
        // Three small servers (8 cores, 64 GiB, 40-80 W) and a large one (32 cores, 192 GiB,
        // 90-250 W); three 2-core / 56 GiB VMs for the hour. The datacenter's least power
        // increase switches on a small server for each (3 x 50 W); asked for shared idle, the
        // host puts all three on the large one (90 + 160 x 6/32 = 120 W). PUE 1.5, 1 h.
        let yaml = minimal_yaml()
            .replace(
                "      - count: 1\n        cores: 4\n        memory_gib: 16\n        idle_w: 100\n        peak_w: 200\n",
                "      - {count: 3, cores: 8, memory_gib: 64, idle_w: 40, peak_w: 80}\n      \
                 - {count: 1, cores: 32, memory_gib: 192, idle_w: 90, peak_w: 250}\n",
            )
            .replace(
                "      - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 1800}\n",
                "      - {arrival_s: 0, cpu: 2, memory_mib: 57344, duration_s: 3600}\n      \
                 - {arrival_s: 1, cpu: 2, memory_mib: 57344, duration_s: 3600}\n      \
                 - {arrival_s: 2, cpu: 2, memory_mib: 57344, duration_s: 3600}\n",
            );
        let own = run_yaml(&yaml, "test/first-fit").totals;
        close(own.energy_kwh, 0.150 * 1.5);
        let shared = run_yaml(&yaml, "test/first-fit-shared-idle").totals;
        close(shared.energy_kwh, 0.120 * 1.5);
        assert_eq!((shared.served, shared.invalid_server_hints), (3, 0));
        // A policy the host does not know is counted and the datacenter's own is used.
        let bad = run_yaml(&yaml, "test/first-fit-bad-hint").totals;
        close(bad.energy_kwh, 0.150 * 1.5);
        assert_eq!(bad.served, 3);
        assert!(bad.invalid_server_hints >= 1);
    }

    #[test]
    fn replicas_scaling_adds_go_where_the_placement_asked() {
        // One service replica of 2 cores / 56 GiB at 25 rps (alpha 10): the scaling adds two
        // more. Placed with shared idle, all three share the large server; it is the copy's
        // choice, so the scaling's replicas follow it. By the datacenter's rule each replica
        // switches on a small server instead.
        let yaml = service_yaml(", scaling: test/alpha-beta")
            .replace(
                "    servers: [{count: 1, cores: 8, memory_gib: 16, idle_w: 100, peak_w: 200}]\n  - name: edge",
                "    servers: [{count: 3, cores: 8, memory_gib: 64, idle_w: 40, peak_w: 80}, \
                 {count: 1, cores: 32, memory_gib: 192, idle_w: 90, peak_w: 250}]\n  - name: edge",
            )
            .replace("memory_mib: 2048", "memory_mib: 57344")
            .replace("slo_ms: 100", "slo_ms: 100\nidle_servers: off");
        let own = run_yaml(&yaml, "test/first-fit").totals;
        let shared = run_yaml(&yaml, "test/first-fit-shared-idle").totals;
        assert_eq!(shared.failed, own.failed);
        // With 3 replicas: one large server on (90 W idle) against three small ones (120 W
        // idle). Measured: 0.1025 against 0.1325 kWh; when the scaling's replicas ignored the
        // copy's choice, both were 0.1325.
        assert!(
            shared.it_energy_kwh < own.it_energy_kwh,
            "{} vs {}",
            shared.it_energy_kwh,
            own.it_energy_kwh
        );
    }

    #[test]
    fn vm_work_counts_cores_times_the_hours_run_within_the_horizon() {
        // Two 2-core VMs in a 1 h run of 30-min steps: one for 2 h (cut at the horizon), one
        // for 10 min (a whole step, as its energy is booked): 2 x 1 + 2 x 0.5 core-hours.
        let yaml = minimal_yaml().replace(
            "      - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 1800}",
            "      - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 7200}\n      \
             - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 600}",
        );
        let t = run_yaml(&yaml, "test/first-fit").totals;
        assert_eq!(t.served, 2);
        close(t.vm_core_hours, 2.0 * 1.0 + 2.0 * 0.5);
        let per = t.energy_per_vm_core_hour_wh.expect("a VM-only run");
        close(per, t.energy_kwh * 1000.0 / 3.0);
        // With services the energy is not the VMs' alone: no figure.
        let t = run_yaml(&service_yaml(""), "test/first-fit").totals;
        close(t.vm_core_hours, 0.0);
        assert_eq!(t.energy_per_vm_core_hour_wh, None);
    }

    fn service_yaml(scaling: &str) -> String {
        format!(
            r#"name: svc
data_source: hand-written test case
start: 2024-01-01T00:00:00Z
hours: 1
step_minutes: 30
slo_ms: 100
strategies: {{compare: [test/first-fit]{scaling}}}
users: [{{name: u, lat: 0, lon: 0}}]
datacenters:
  - name: cloud
    lat: 0
    lon: 0
    pue: 1.0
    carbon_intensity: 100
    servers: [{{count: 1, cores: 8, memory_gib: 16, idle_w: 100, peak_w: 200}}]
  - name: edge
    role: edge
    lat: 0
    lon: 0
    pue: 1.0
    carbon_intensity: 100
    servers: [{{count: 1, cores: 8, memory_gib: 16, idle_w: 100, peak_w: 200}}]
workload:
  services:
    - {{name: api, cpu: 1, memory_mib: 2048, alpha: 10, beta: 0, max_replicas: 5, rate_rps: 25}}
"#
        )
    }

    #[test]
    fn services_without_scaling_drop_what_one_replica_cannot_serve() {
        // 25 rps x 1800 s = 45000 requests per step; one replica serves 10 rps = 18000.
        let t = run_yaml(&service_yaml(""), "test/first-fit").totals;
        assert_eq!(t.requests, 90_000);
        assert_eq!(t.served, 36_000);
        close(t.failure_rate, 0.6);
        // The replica is fully busy: 1 of 8 cores -> 112.5 W for 1 h.
        close(t.it_energy_kwh, 0.1125);
    }

    #[test]
    fn alpha_beta_scaling_serves_the_load() {
        let t = run_yaml(
            &service_yaml(", scaling: test/alpha-beta"),
            "test/first-fit",
        )
        .totals;
        assert_eq!((t.requests, t.failed), (90_000, 0));
        // 3 replicas at 25/30 load: 100 + 100 * 2.5/8 = 131.25 W for 1 h.
        close(t.it_energy_kwh, 0.13125);
        assert_eq!(t.strategy_calls, 1 + 2);
    }

    #[test]
    fn allocation_accuracy_counts_covered_intervals_without_excess() {
        // One replica (10 rps) never covers 25 rps; alpha/beta's 3 replicas (30 rps) do, with
        // 30 <= 1.2 x 30 (the fewest replicas covering the peak).
        let t = run_yaml(&service_yaml(""), "test/first-fit").totals;
        assert_eq!(t.allocation_accuracy, Some(0.0));
        assert_eq!(t.elasticity_unresolved, Some(0));
        let t = run_yaml(
            &service_yaml(", scaling: test/alpha-beta"),
            "test/first-fit",
        )
        .totals;
        assert_eq!(t.allocation_accuracy, Some(1.0));
        assert_eq!(t.elasticity_events, Some(0));
        assert!(t.forecasts.is_empty());
    }

    #[test]
    fn slo_allocation_accuracy_starts_the_band_at_the_slo() {
        // 25 rps, 30 ms of processing, 2 ms from the users, SLO 100 ms: three replicas (30
        // rps, rho 0.83: 2 + 30 / 0.17 = 182 ms) cover the load but miss the SLO; four (40,
        // rho 0.625: 82 ms) meet it, and 40 <= 1.2 x 40 but > 1.2 x 30; five are too many.
        let with = |replicas: u32| {
            let yaml = service_yaml("").replace(
                "rate_rps: 25}",
                &format!("rate_rps: 25, processing_ms: 30, replicas: {replicas}}}"),
            );
            let t = run_yaml(&yaml, "test/first-fit").totals;
            (t.allocation_accuracy, t.slo_allocation_accuracy)
        };
        assert_eq!(with(3), (Some(1.0), Some(0.0)));
        assert_eq!(with(4), (Some(0.0), Some(1.0)));
        assert_eq!(with(5), (Some(0.0), Some(0.0)));
    }

    #[test]
    fn migrations_move_services_and_cost_energy() {
        let yaml = service_yaml(", migration: test/to-edge, migration_every_minutes: 30");
        let r = run_yaml(&yaml, "test/first-fit");
        let t = &r.totals;
        assert_eq!(
            t.migrations, 1,
            "moved once; already on the edge afterwards"
        );
        // 2 GiB x 10 Wh/GiB.
        close(t.migration_energy_kwh, 0.02);
        // 2048 MiB x 8 / 10000 Mbit/s.
        close(t.migration_downtime_s, 1.6384);
        assert_eq!(
            r.datacenters[0].energy_kwh, 0.0,
            "nothing left in the cloud"
        );
        close(r.datacenters[1].energy_kwh, 0.1125 + 0.02);
    }

    #[test]
    fn an_offload_policy_calls_migration_only_when_the_machine_acts() {
        let policy = |off: f64| {
            format!(
                ", migration: test/to-edge, offload_policy: {{offloadDelayMs: {off}, \
                 unoffloadDelayMs: 0.5, stabilityWindowS: 0, queryPeriodS: 1800}}"
            )
        };
        // Step 0 has no traffic yet (no observation); at step 1 the delay is above 1 ms.
        let t = run_yaml(&service_yaml(&policy(1.0)), "test/first-fit").totals;
        assert_eq!(t.migrations, 1);
        let acts = t.offload_actions.expect("offload actions");
        assert_eq!(acts.len(), 1, "{acts:?}");
        assert_eq!(acts[0].action, "offload");
        assert_eq!((acts[0].moves_to_edge, acts[0].moves_from_edge), (1, 0));
        assert!(acts[0].required_decrease_ms > 0.0);
        assert_eq!(acts[0].at_s, 1800.0);
        assert_eq!(t.offload_transitions, Some(3));
        // Below the threshold the machine never acts: nothing moves.
        let t = run_yaml(&service_yaml(&policy(1000.0)), "test/first-fit").totals;
        assert_eq!(t.migrations, 0);
        assert_eq!(t.offload_actions.map(|a| a.len()), Some(0));
    }

    /// Two 4-core servers (100-200 W, idle off), one 2-core 1 GiB VM from 0 for 2 h, three
    /// hours of 30-minute steps, VM migration every hour by `strategy` (none when empty).
    fn vm_migration_yaml(strategy: &str) -> String {
        let yaml = minimal_yaml()
            .replace("hours: 1", "hours: 3")
            .replace("      - count: 1", "      - count: 2")
            .replace("duration_s: 1800", "duration_s: 7200");
        if strategy.is_empty() {
            return yaml;
        }
        yaml.replace(
            "slo_ms: 100",
            &format!(
                "slo_ms: 100\nstrategies: {{vm_migration: {strategy}, migration_every_minutes: 60}}"
            ),
        )
    }

    #[test]
    fn a_vm_moved_to_another_server_runs_and_ends_there() {
        let still = run_yaml(&vm_migration_yaml(""), "test/first-fit").totals;
        let moved = run_yaml(
            &vm_migration_yaml("test/vms-to-last-server"),
            "test/first-fit",
        )
        .totals;
        assert_eq!((moved.migrations, moved.refused_vm_moves), (1, 0));
        // 1 GiB at 10 Wh/GiB, charged to the datacenter at PUE 1.5; the same servers' draw
        // otherwise, so the VM left its new server (not its first) when it ended.
        close(moved.migration_energy_kwh, 0.01);
        close(moved.energy_kwh, still.energy_kwh + 0.015);
        assert!(moved.migration_downtime_s > 0.0);
        assert_eq!(moved.migration_cost, 0.0, "no egress inside a datacenter");
        assert_eq!((moved.served, moved.failed), (1, 0));
    }

    #[test]
    fn vm_moves_that_cannot_apply_are_invalid_and_change_nothing() {
        let still = run_yaml(&vm_migration_yaml(""), "test/first-fit").totals;
        // One call (at 1:00; the VM has ended by 2:00): a move to the VM's own server is
        // refused; a decision whose `extra` cannot be read is one invalid decision, no move.
        for (strategy, refused) in [("test/vms-stay", 1), ("test/vms-bad-extra", 0)] {
            let t = run_yaml(&vm_migration_yaml(strategy), "test/first-fit").totals;
            assert_eq!(t.migrations, 0, "{strategy}");
            assert_eq!(
                (t.refused_vm_moves, t.invalid_decisions),
                (refused, 1),
                "{strategy}"
            );
            close(t.energy_kwh, still.energy_kwh);
        }
    }

    #[test]
    fn a_vm_moves_between_datacenters_only_while_it_answers_in_time() {
        // A second datacenter 340 km (London) or 17,000 km (Sydney) from the users.
        let second = |lat: f64, lon: f64| {
            vm_migration_yaml("test/vms-to-last-cluster").replace(
                "workload:",
                &format!(
                    "  - name: far\n    lat: {lat}\n    lon: {lon}\n    pue: 1.2\n    \
                     carbon_intensity: 100\n    prices: {{egress_gb: 0.5}}\n    servers:\n      \
                     - {{count: 1, cores: 4, memory_gib: 16, idle_w: 50, peak_w: 100}}\nworkload:"
                ),
            )
        };
        let london = run_yaml(&second(51.5, -0.13), "test/first-fit").totals;
        assert_eq!((london.migrations, london.refused_vm_moves), (1, 0));
        close(london.migration_cost, 0.0);
        let sydney = run_yaml(&second(-33.87, 151.21), "test/first-fit").totals;
        assert_eq!(sydney.migrations, 0, "the move would break the 100 ms SLO");
        assert_eq!((sydney.refused_vm_moves, sydney.invalid_decisions), (1, 1));
    }

    #[test]
    fn strategy_specs_parse_kinds() {
        let d = StrategyDefaults {
            scaling: Some("x/s".into()),
            ..Default::default()
        };
        let s = StrategySpec::parse("a/b", &d).unwrap();
        assert_eq!(
            (s.placement.as_str(), s.scaling.as_deref()),
            ("a/b", Some("x/s"))
        );
        let s = StrategySpec::parse("placement=a/b,scaling=c/d,migration=e/f", &d).unwrap();
        assert_eq!(s.migration.as_deref(), Some("e/f"));
        assert_eq!(s.scaling.as_deref(), Some("c/d"));
        let s = StrategySpec::parse("placement=a/b?w=1&v=x,scaling=c/d?k=2", &d).unwrap();
        assert_eq!(
            (s.placement.as_str(), s.scaling.as_deref()),
            ("a/b?w=1&v=x", Some("c/d?k=2"))
        );
        let e = StrategySpec::parse("a/b?w", &d).unwrap_err();
        assert!(e.contains("key=value"), "{e}");
        assert!(StrategySpec::parse("colour=a/b", &d).is_err());
        assert!(StrategySpec::parse("a", &d).is_err());
    }
}
