//! `h3ni-energy/placement`: a MILP (HiGHS) over (service, cluster) pairs minimising energy,
//! carbon (on-site renewables first), latency and migrations, with a greedy fallback.

use crate::energy::{latency, ClusterModel, ServerPick};
use crate::figures;
use crate::params::PlacementParams;
use crate::reserve::{Reservations, SharedReservations};
use highs::{Col, HighsModelStatus, RowProblem, Sense};
use smo_plugin_api::extra::{self, ClusterExtra, PlacementDecisionExtra, VmExtra};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

mod greedy;
mod repair;

/// Objective price of leaving a service unplaced, per (1 + its cores).
const UNPLACED: f64 = 1e6;
use smo_plugin_api::prelude::*;

/// A service to place: all its replicas on one cluster.
#[derive(Debug, Clone)]
struct Item {
    name: RString,
    replica: Resources,
    replicas: u32,
    total: Resources,
    current: Option<usize>,
    /// Hours the item is expected to run (`duration_s` in its `extra`, as the simulator
    /// gives for VMs), capped by `max_duration_h`; 1 when unknown.
    hours: f64,
}

/// One feasible (item, cluster) pair and its running cost per hour.
#[derive(Debug, Clone)]
struct Pair {
    item: usize,
    cluster: usize,
    facility_w: f64,
    /// Energy, latency and migration cost (the carbon cost comes from the brown rows).
    cost: f64,
}

/// The placement problem of one request.
struct Instance {
    items: Vec<Item>,
    clusters: Vec<ClusterModel>,
    /// Room per cluster: CPU (capped by the SLO), memory, GPU, counting the graph's own use.
    room: Vec<Resources>,
    /// Feasible (item, cluster) pairs, item by item (see [`Instance::pairs_of`]).
    pairs: Vec<Pair>,
    /// Where each item's pairs start in `pairs` (one more entry than items).
    pair_start: Vec<usize>,
    rejections: Vec<Rejection>,
    /// A scheduled consolidation (see [`EnergyPlacement::consolidating`]).
    consolidating: bool,
    /// The server choice asked of the host (and planned with), when it offers it.
    server_selection: Option<ServerPick>,
}

/// The energy- and carbon-aware placement strategy.
pub struct EnergyPlacement {
    params: PlacementParams,
    /// Room held for scalable graphs; shared by every strategy the plugin makes (placement and
    /// consolidate), so that a move one of them makes is held where the service now runs.
    reservations: SharedReservations,
    /// Re-placements credit the idle power of a cluster the graph empties (consolidation).
    consolidating: bool,
}

impl EnergyPlacement {
    pub fn new(params: PlacementParams) -> Self {
        Self {
            params,
            reservations: Arc::new(Mutex::new(Reservations::default())),
            consolidating: false,
        }
    }

    /// The model whose re-placements also weigh emptying a cluster only the graph uses (its
    /// servers' idle power saved): for scheduled consolidation, not for the re-placement the
    /// host asks for when scaling did not fit, which must first find room.
    pub fn consolidating(params: PlacementParams) -> Self {
        Self {
            consolidating: true,
            ..Self::new(params)
        }
    }

    /// The same strategy keeping its held room in `store` (shared with other strategies).
    pub fn sharing(self, store: SharedReservations) -> Self {
        Self {
            reservations: store,
            ..self
        }
    }

    fn reservations(&self) -> std::sync::MutexGuard<'_, Reservations> {
        self.reservations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The replicas a scalable service needs for its measured or predicted rate (the larger),
/// from its alpha/beta profile, within `max_replicas`; 0 without a profile or a load. A
/// re-placement is asked for when scaling could not fit, so the services are placed with
/// the room they need, not only the replicas that fitted.
fn needed_replicas(s: &Service, t: &Telemetry) -> u32 {
    let p = &s.scaling;
    let rate = rate_of(s, t);
    if p.alpha <= 0.0 || rate <= 0.0 {
        return 0;
    }
    let r = ((rate - p.beta) / p.alpha - 1e-9).ceil().max(1.0);
    (r.min(f64::from(u32::MAX)) as u32).min(p.max_replicas.max(1))
}

/// The measured or predicted request rate of `s` (the larger; 0 without a load).
fn rate_of(s: &Service, t: &Telemetry) -> f64 {
    t.loads
        .iter()
        .find(|l| l.service == s.name)
        .map(|l| l.current_rps.max(l.predicted_rps))
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(0.0)
}

/// Requests of item `it` (service `s`) per hour that a cluster past the SLO would answer late:
/// its rate x 3600 for a service with a load, else one request (a VM) over its expected hours.
fn late_requests_per_hour(s: &Service, it: &Item, t: &Telemetry) -> f64 {
    match rate_of(s, t) {
        r if r > 0.0 => r * 3600.0,
        _ => 1.0 / it.hours.max(1.0 / 60.0),
    }
}

/// The hours `s` is expected to run, from `duration_s` in its `extra` ([`VmExtra`]; 1 when
/// unknown).
fn expected_hours(s: &Service, p: &PlacementParams) -> f64 {
    match extra::read::<VmExtra>(s.extra.as_str()).map(|e| e.duration_s) {
        Ok(Some(d)) if d.is_finite() && d > 0.0 => (d / 3600.0).min(p.max_duration_h),
        _ => 1.0,
    }
}

/// Each cluster's `extra` as [`ClusterExtra`], in the order of `req.clusters` (the default
/// where it does not read as one, as [`ClusterModel::new`] does).
fn read_extras(req: &PlacementRequest) -> Vec<ClusterExtra> {
    req.clusters
        .iter()
        .map(|c| extra::read(c.extra.as_str()).unwrap_or_default())
        .collect()
}

pub(crate) fn user_of(s: &Service) -> &str {
    s.labels
        .iter()
        .find(|l| l.key.as_str() == "user")
        .map_or("users", |l| l.value.as_str())
}

impl Instance {
    /// The instance of `req`; `held` is room other graphs were promised, per cluster name;
    /// `consolidating`: see [`EnergyPlacement::consolidating`].
    #[cfg(test)]
    fn build(
        req: &PlacementRequest,
        p: &PlacementParams,
        held: &HashMap<String, Resources>,
        consolidating: bool,
    ) -> Self {
        Self::build_with(req, p, held, consolidating, read_extras(req))
    }

    /// [`Instance::build`], with each cluster's `extra` already read (`extras`, in the order
    /// of `req.clusters`).
    fn build_with(
        req: &PlacementRequest,
        p: &PlacementParams,
        held: &HashMap<String, Resources>,
        consolidating: bool,
        extras: Vec<ClusterExtra>,
    ) -> Self {
        let mut clusters: Vec<ClusterModel> = req
            .clusters
            .iter()
            .zip(extras)
            .map(|(c, x)| ClusterModel::with_extra(c, x, p.max_utilisation))
            .collect();
        let mut server_selection = None;
        if let Some(pick) = p
            .server_selection
            .as_deref()
            .and_then(ServerPick::from_name)
        {
            for c in clusters.iter_mut() {
                if c.request_pick(pick) {
                    server_selection = Some(pick);
                }
            }
        }
        let index = |name: &str| clusters.iter().position(|c| c.name == name);
        let mut items = Vec::new();
        let mut own = vec![Resources::default(); clusters.len()];
        for s in req.graph.services.iter() {
            let (mut current, mut replicas) = (None, 0);
            if let ROption::RSome(cur) = &req.current {
                for a in cur.assignments.iter().filter(|a| a.service == s.name) {
                    replicas += a.replicas;
                    if let Some(j) = index(a.cluster.as_str()) {
                        let add = s.demand.times(a.replicas);
                        own[j].cpu += add.cpu;
                        own[j].memory_mib += add.memory_mib;
                        own[j].gpu += add.gpu;
                        current = current.or(Some(j));
                    }
                }
            }
            let replicas = if replicas > 0 {
                replicas
            } else {
                s.replicas.max(1)
            };
            let replicas = replicas.max(needed_replicas(s, &req.telemetry));
            items.push(Item {
                name: s.name.clone(),
                replica: s.demand,
                replicas,
                total: s.demand.times(replicas),
                current,
                hours: expected_hours(s, p),
            });
        }
        for (j, c) in clusters.iter_mut().enumerate() {
            // On a re-placement, a cluster only this graph uses switches off when it leaves.
            if consolidating && own[j].cpu > 0.0 && c.used_cpu() <= own[j].cpu + 1e-6 {
                c.keep_w = c.idle_on_w();
            }
        }
        // With a price on SLO violations, a cluster past the SLO has its hard room.
        let past_slo_cap = if p.w_slo.is_some() {
            p.max_utilisation
        } else {
            0.0
        };
        let mut room = Vec::with_capacity(clusters.len());
        for (j, c) in clusters.iter().enumerate() {
            // The cap of the request's nearest users (each service's own cap is checked per
            // pair): a cluster no user reaches within the SLO gets no room.
            let lat = req
                .graph
                .services
                .iter()
                .filter_map(|s| latency(&req.telemetry, user_of(s), &c.name))
                .fold(f64::INFINITY, f64::min);
            let lat = if lat.is_finite() { lat } else { 0.0 };
            let cap = c.cap_for(lat, p.slo_margin).unwrap_or(past_slo_cap);
            let used = (c.used_cpu() - own[j].cpu).max(0.0);
            let hold = held.get(&c.name).copied().unwrap_or_default();
            let cpu = (c.available.cpu + own[j].cpu).min(cap * c.capacity.cpu - used) - hold.cpu;
            room.push(Resources::new(
                cpu.max(0.0),
                (c.available.memory_mib + own[j].memory_mib - hold.memory_mib).max(0.0),
                (c.available.gpu + own[j].gpu).saturating_sub(hold.gpu),
            ));
        }
        let mut inst = Instance {
            items,
            clusters,
            room,
            pairs: Vec::new(),
            pair_start: Vec::new(),
            rejections: Vec::new(),
            consolidating,
            server_selection,
        };
        for (i, s) in req.graph.services.iter().enumerate() {
            inst.pair_start.push(inst.pairs.len());
            for j in 0..inst.clusters.len() {
                match inst.pair(req, p, s, i, j) {
                    Ok(pair) => inst.pairs.push(pair),
                    Err(reason) => inst.rejections.push(Rejection {
                        service: s.name.clone(),
                        cluster: inst.clusters[j].name.as_str().into(),
                        reason: reason.into(),
                    }),
                }
            }
        }
        inst.pair_start.push(inst.pairs.len());
        inst
    }

    /// Refuses an instance with a cost or power that is not finite (the figures passed
    /// [`figures::check`], so this only guards the arithmetic), naming the cluster.
    fn finite(&self) -> Result<(), PluginError> {
        for (j, c) in self.clusters.iter().enumerate() {
            let figures = [
                ("facility power of switching it on", self.fixed_w(j), "W"),
                ("renewable headroom", c.green_headroom_w, "W"),
                ("room", self.room[j].cpu, "cores"),
                ("room", self.room[j].memory_mib, "MiB"),
            ];
            if let Some((name, v, unit)) = figures.into_iter().find(|(_, v, _)| !v.is_finite()) {
                return Err(PluginError::invalid_input(format!(
                    "cluster `{}`: {name} {} {unit}",
                    c.name,
                    figures::fig(v)
                )));
            }
        }
        match self
            .pairs
            .iter()
            .find(|q| !(q.cost.is_finite() && q.facility_w.is_finite()))
        {
            Some(q) => Err(PluginError::invalid_input(format!(
                "cluster `{}`: service `{}` draws {} W facility power at a cost of {} per hour",
                self.clusters[q.cluster].name,
                self.items[q.item].name,
                figures::fig(q.facility_w),
                figures::fig(q.cost)
            ))),
            None => Ok(()),
        }
    }

    /// The feasible pairs of item `i` (one per cluster it may go to).
    fn pairs_of(&self, i: usize) -> &[Pair] {
        match (self.pair_start.get(i), self.pair_start.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.pairs[a..b],
            _ => &[],
        }
    }

    fn pair(
        &self,
        req: &PlacementRequest,
        p: &PlacementParams,
        s: &Service,
        i: usize,
        j: usize,
    ) -> Result<Pair, String> {
        let c = &self.clusters[j];
        let it = &self.items[i];
        if !s.allowed_clusters.is_empty()
            && !s.allowed_clusters.iter().any(|a| a.as_str() == c.name)
        {
            return Err("not in the service's allowed clusters".into());
        }
        if it.total.gpu > 0 && c.capacity.gpu == 0 {
            return Err("needs a GPU, the cluster has none".into());
        }
        let staying = it.current == Some(j);
        if !staying && !c.fits_a_server(&it.replica) {
            return Err(format!(
                "one replica needs {:.2} CPU / {:.0} MiB, no server has that free (emptiest: {:.2} / {:.0})",
                it.replica.cpu, it.replica.memory_mib, c.slot_cpu, c.slot_memory_mib
            ));
        }
        if !self.room[j].fits(&it.total) {
            return Err(format!(
                "needs {:.2} CPU, {:.2} free within the SLO utilisation cap",
                it.total.cpu, self.room[j].cpu
            ));
        }
        let lat = latency(&req.telemetry, user_of(s), &c.name).unwrap_or(0.0);
        if p.max_latency_ms.is_some_and(|m| lat > m) {
            return Err(format!("latency {lat:.1} ms over max_latency_ms"));
        }
        if let Some(from) = it.current.filter(|&f| self.consolidating && f != j) {
            let now = latency(&req.telemetry, user_of(s), &self.clusters[from].name).unwrap_or(0.0);
            if lat > now + p.max_added_latency_ms + 1e-9 {
                return Err(format!(
                    "a scheduled move would add {:.1} ms of user latency (max_added_latency_ms {})",
                    lat - now,
                    p.max_added_latency_ms
                ));
            }
        }
        let late_cost = match (c.cap_for(lat, p.slo_margin), p.w_slo) {
            (Some(_), _) => 0.0,
            (None, Some(w)) => w * late_requests_per_hour(s, it, &req.telemetry),
            (None, None) => {
                return Err(format!("latency {lat:.1} ms leaves no room within the SLO"));
            }
        };
        let facility_w =
            c.replica_w_with(&it.replica, p.amortise_idle) * f64::from(it.replicas) * c.pue;
        let discount = if c.preferred {
            1.0 - p.preferred_discount
        } else {
            1.0
        };
        // Running costs per hour; a move's one-off cost is spread over `horizon_h` hours.
        let mut cost =
            p.w_energy * facility_w * discount + p.w_latency * lat * it.total.cpu + late_cost;
        if it.current.is_some() && !staying {
            cost +=
                p.w_migration * p.migration_wh_per_gib * it.total.memory_mib / 1024.0 / p.horizon_h;
        }
        Ok(Pair {
            item: i,
            cluster: j,
            facility_w,
            cost,
        })
    }

    /// Carbon cost of one facility watt for an hour on cluster `j` (brown power).
    fn carbon_per_w(&self, p: &PlacementParams, j: usize) -> f64 {
        p.w_carbon * self.clusters[j].carbon_g_per_kwh / 1000.0
    }

    fn open_cost(&self, p: &PlacementParams, j: usize) -> f64 {
        p.w_energy * self.fixed_w(j)
    }

    /// Facility watts of having anything on cluster `j`: switching it on from nothing, or
    /// keeping on the servers only this graph uses.
    fn fixed_w(&self, j: usize) -> f64 {
        let c = &self.clusters[j];
        (c.open_w + c.keep_w) * c.pue
    }

    /// Facility watts per cluster of a choice, including switching empty clusters on.
    fn power(&self, choice: &[Option<usize>]) -> (Vec<f64>, Vec<bool>) {
        let n = self.clusters.len();
        let (mut w, mut open) = (vec![0.0; n], vec![false; n]);
        for q in &self.pairs {
            if choice[q.item] == Some(q.cluster) {
                w[q.cluster] += q.facility_w;
                open[q.cluster] = true;
            }
        }
        for j in 0..n {
            if open[j] {
                w[j] += self.fixed_w(j);
            }
        }
        (w, open)
    }

    /// The MILP, started from `hint` (a feasible choice); `None` when HiGHS gives no usable
    /// solution.
    fn solve_milp(
        &self,
        p: &PlacementParams,
        hint: &[Option<usize>],
    ) -> Option<(Vec<Option<usize>>, f64)> {
        self.solve_milp_with(p, hint, false)
    }

    /// [`Instance::solve_milp`], with HiGHS's feasibility-jump heuristic run or not. The
    /// heuristic looks for a first feasible point, which the greedy hint already is: without
    /// it HiGHS takes 40-50 % less time on eu-5dc-24h and its decisions are the same.
    fn solve_milp_with(
        &self,
        p: &PlacementParams,
        hint: &[Option<usize>],
        feasibility_jump: bool,
    ) -> Option<(Vec<Option<usize>>, f64)> {
        let mut pb = RowProblem::default();
        let big = UNPLACED;
        let x: Vec<Col> = self
            .pairs
            .iter()
            .map(|q| pb.add_integer_column(q.cost, 0.0..=1.0))
            .collect();
        let unplaced: Vec<Col> = self
            .items
            .iter()
            .map(|it| pb.add_column(big * (1.0 + it.total.cpu), 0.0..=1.0))
            .collect();
        let n = self.clusters.len();
        let mut open: Vec<Option<Col>> = Vec::with_capacity(n);
        let mut green = Vec::with_capacity(n);
        let mut brown = Vec::with_capacity(n);
        for (j, c) in self.clusters.iter().enumerate() {
            open.push(
                (c.open_w + c.keep_w > 0.0)
                    .then(|| pb.add_integer_column(self.open_cost(p, j), 0.0..=1.0)),
            );
            green.push(pb.add_column(0.0, 0.0..=c.green_headroom_w));
            brown.push(pb.add_column(self.carbon_per_w(p, j), 0.0..=f64::INFINITY));
        }
        for (i, u) in unplaced.iter().enumerate() {
            let mut row: Vec<(Col, f64)> = vec![(*u, 1.0)];
            row.extend(
                self.pairs
                    .iter()
                    .zip(&x)
                    .filter(|(q, _)| q.item == i)
                    .map(|(_, c)| (*c, 1.0)),
            );
            pb.add_row(1.0..=1.0, &row);
        }
        for j in 0..n {
            let on: Vec<(usize, Col)> = self
                .pairs
                .iter()
                .zip(&x)
                .enumerate()
                .filter(|(_, (q, _))| q.cluster == j)
                .map(|(k, (_, c))| (k, *c))
                .collect();
            let it = |k: usize| &self.items[self.pairs[k].item];
            let cpu: Vec<(Col, f64)> = on.iter().map(|&(k, c)| (c, it(k).total.cpu)).collect();
            pb.add_row(..=self.room[j].cpu, &cpu);
            let mem: Vec<(Col, f64)> = on
                .iter()
                .map(|&(k, c)| (c, it(k).total.memory_mib))
                .collect();
            pb.add_row(..=self.room[j].memory_mib, &mem);
            let gpu: Vec<(Col, f64)> = on
                .iter()
                .map(|&(k, c)| (c, f64::from(it(k).total.gpu)))
                .collect();
            pb.add_row(..=f64::from(self.room[j].gpu), &gpu);
            // facility watts = green + brown (green bounded by the renewable headroom).
            let mut power: Vec<(Col, f64)> = on
                .iter()
                .map(|&(k, c)| (c, self.pairs[k].facility_w))
                .collect();
            if let Some(o) = open[j] {
                power.push((o, self.fixed_w(j)));
                for &(_, c) in &on {
                    pb.add_row(..=0.0, [(c, 1.0), (o, -1.0)]);
                }
            }
            power.push((green[j], -1.0));
            power.push((brown[j], -1.0));
            pb.add_row(..=0.0, &power);
        }
        // The hint in column order: x, unplaced, then (open?, green, brown) per cluster.
        let (w, on) = self.power(hint);
        let mut start: Vec<f64> = self
            .pairs
            .iter()
            .map(|q| f64::from(u8::from(hint[q.item] == Some(q.cluster))))
            .collect();
        start.extend(hint.iter().map(|c| f64::from(u8::from(c.is_none()))));
        for j in 0..n {
            if open[j].is_some() {
                start.push(f64::from(u8::from(on[j])));
            }
            let g = w[j].min(self.clusters[j].green_headroom_w);
            start.push(g);
            start.push(w[j] - g);
        }
        let mut model = pb.try_optimise(Sense::Minimise).ok()?;
        let _ = model.try_set_solution(Some(&start), None, None, None);
        model.try_set_option("time_limit", p.time_limit_s).ok()?;
        model.try_set_option("mip_rel_gap", p.mip_rel_gap).ok()?;
        let _ = model.try_set_option("output_flag", false);
        let _ = model.try_set_option("threads", 1);
        let _ = model.try_set_option("mip_heuristic_run_feasibility_jump", feasibility_jump);
        let solved = model.try_solve().ok()?;
        match solved.status() {
            HighsModelStatus::Optimal | HighsModelStatus::ReachedTimeLimit => {}
            _ => return None,
        }
        let sol = solved.get_solution();
        let cols = sol.columns();
        let mut choice = vec![None; self.items.len()];
        for (k, q) in self.pairs.iter().enumerate() {
            if cols.get(x[k].index()).copied().unwrap_or(0.0) > 0.5 {
                choice[q.item] = Some(q.cluster);
            }
        }
        Some((choice, solved.objective_value()))
    }
}

impl Placement for EnergyPlacement {
    fn place(&self, req: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        // Each cluster's `extra` (with its servers: the largest part of a request) read once.
        let extras = read_extras(req);
        figures::check_with(req, &extras)?;
        let p = &self.params;
        let time_s = req.telemetry.time_unix_s;
        let (held, holders, released) = {
            let mut store = self.reservations();
            let released = store.keep_listed(req);
            let held = store.held_for_others(req.graph.name.as_str(), time_s);
            (
                held,
                store.holders_except(req.graph.name.as_str()),
                released,
            )
        };
        let inst = Instance::build_with(req, p, &held, self.consolidating, extras);
        inst.finite()?;
        let (greedy, _) = inst.solve_greedy(p);
        let greedy_objective = inst.replay_cost(p, &greedy);
        let (choice, objective, how) = if inst.pairs.len() > p.milp_max_pairs {
            (
                greedy,
                greedy_objective,
                "greedy (instance above milp_max_pairs)",
            )
        } else {
            match inst.solve_milp(p, &greedy).map(|(c, _)| {
                let o = inst.replay_cost(p, &c);
                (c, o)
            }) {
                Some((c, o)) if o <= greedy_objective + 1e-6 * greedy_objective.abs() => {
                    (c, o, "MILP (HiGHS)")
                }
                Some(_) => (
                    greedy,
                    greedy_objective,
                    "greedy (better than the time-limited MILP)",
                ),
                None => (greedy, greedy_objective, "greedy (MILP gave no solution)"),
            }
        };
        let mut choice = choice;
        let mut d = PlacementDecision::default();
        if !released.is_empty() {
            d.reasons.push(
                format!(
                    "room held for {} released (the host no longer lists them)",
                    released.join(", ")
                )
                .into(),
            );
        }
        if let Some(reason) = held_reason(&held, &holders) {
            d.reasons.push(reason.into());
        }
        let (mut slots, repacked) = inst.repair(p, &mut choice);
        if repacked > 0 {
            d.reasons.push(
                format!("{repacked} service(s) moved to another cluster: the batch's larger replicas took their server room")
                    .into(),
            );
        }
        let relaxed = if p.slo_fallback {
            inst.place_relaxed(req, p, &mut choice, &mut slots)
        } else {
            0
        };
        if relaxed > 0 {
            d.reasons.push(
                format!("{relaxed} service(s) placed past their SLO utilisation cap (no room within it)")
                    .into(),
            );
        }
        for i in inst.order() {
            let it = &inst.items[i];
            let Some(j) = choice[i] else {
                d.reasons.push(
                    format!("{}: no cluster has room within its constraints", it.name).into(),
                );
                continue;
            };
            let cl = &inst.clusters[j];
            d.placement.assignments.push(Assignment {
                service: it.name.clone(),
                cluster: cl.name.as_str().into(),
                replicas: it.replicas,
            });
            if inst.items.len() <= 50 {
                d.reasons.push(
                    format!(
                        "{} -> {} by {how}: PUE {:.2}, {:.0} g/kWh, {:.0} W renewable headroom{}",
                        it.name,
                        cl.name,
                        cl.pue,
                        cl.carbon_g_per_kwh,
                        cl.green_headroom_w,
                        if it.current.is_some_and(|c| c != j) {
                            " (moved)"
                        } else {
                            ""
                        }
                    )
                    .into(),
                );
            }
        }
        if d.placement.assignments.is_empty() && !inst.items.is_empty() {
            return Err(PluginError::infeasible(
                "no service fits any cluster within capacity, GPU, latency and SLO constraints",
            ));
        }
        d.reasons.push(format!("solved by {how}").into());
        if let Some(pick) = inst.server_selection {
            d.extra = extra::write(&PlacementDecisionExtra {
                server_selection: Some(pick.name().to_owned()),
            });
            d.reasons
                .push(format!("servers picked by {} (asked of the host)", pick.name()).into());
        }
        if !objective.is_finite() {
            let chosen: Vec<&str> = d
                .placement
                .assignments
                .iter()
                .map(|a| a.cluster.as_str())
                .collect();
            return Err(PluginError::invalid_input(format!(
                "h3ni-energy's objective for this placement is {} (on {})",
                figures::fig(objective),
                chosen.join(", ")
            )));
        }
        d.rejections = inst.rejections.into_iter().take(200).collect();
        d.objective = ROption::RSome(objective);
        self.reservations().record(req, &d, p.growth_reserve);

        Ok(d)
    }
}

/// "N cores, M GiB held for g1, g2 on c1, c2": the room other graphs' growth keeps out of
/// this decision; `None` when nothing is held.
fn held_reason(held: &HashMap<String, Resources>, holders: &[String]) -> Option<String> {
    let mut clusters: Vec<(&String, &Resources)> = held
        .iter()
        .filter(|(_, r)| r.cpu > 0.0 || r.memory_mib > 0.0)
        .collect();
    if clusters.is_empty() {
        return None;
    }
    clusters.sort_by(|a, b| a.0.cmp(b.0));
    let cpu: f64 = clusters.iter().map(|(_, r)| r.cpu).sum();
    let gib: f64 = clusters.iter().map(|(_, r)| r.memory_mib).sum::<f64>() / 1024.0;
    let names: Vec<&str> = clusters.iter().map(|(c, _)| c.as_str()).collect();
    Some(format!(
        "{cpu:.1} cores, {gib:.1} GiB held for {} on {} (their growth_reserve)",
        holders.join(", "),
        names.join(", ")
    ))
}

#[cfg(test)]
pub(crate) mod tests;
