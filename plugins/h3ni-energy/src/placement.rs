//! `h3ni-energy/placement`: a MILP (HiGHS) over (service, cluster) pairs minimising energy,
//! carbon (on-site renewables first), latency and migrations, with a greedy fallback.

use crate::energy::{latency, ClusterModel, ServerPick};
use crate::params::PlacementParams;
use crate::reserve::{Reservations, SharedReservations};
use highs::{Col, HighsModelStatus, RowProblem, Sense};
use smo_plugin_api::extra::{self, PlacementDecisionExtra, VmExtra};
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

pub(crate) fn user_of(s: &Service) -> &str {
    s.labels
        .iter()
        .find(|l| l.key.as_str() == "user")
        .map_or("users", |l| l.value.as_str())
}

impl Instance {
    /// The instance of `req`; `held` is room other graphs were promised, per cluster name;
    /// `consolidating`: see [`EnergyPlacement::consolidating`].
    fn build(
        req: &PlacementRequest,
        p: &PlacementParams,
        held: &HashMap<String, Resources>,
        consolidating: bool,
    ) -> Self {
        let mut clusters: Vec<ClusterModel> = req
            .clusters
            .iter()
            .map(|c| ClusterModel::new(c, p.max_utilisation))
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
        let inst = Instance::build(req, p, &held, self.consolidating);
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
pub(crate) mod tests {
    use super::*;

    /// A cluster with `cores` cores drawing 10 W per core at full load and no idle power.
    pub fn cluster(name: &str, cores: f64, pue: f64, ci: f64, renewable_kw: f64) -> Cluster {
        Cluster {
            name: name.into(),
            role: ClusterRole::Cloud,
            location: Location::default(),
            capacity: Resources::new(cores, cores * 4096.0, 0),
            available: Resources::new(cores, cores * 4096.0, 0),
            energy: EnergyProfile {
                pue,
                carbon_intensity_g_per_kwh: ci,
                renewable_supply_kw: renewable_kw,
                peak_power_w: 10.0 * cores,
                ..EnergyProfile::default()
            },
            prices: Prices::default(),
            labels: RVec::new(),
            extra: RString::from("{}"),
        }
    }

    pub fn service(name: &str, cpu: f64) -> Service {
        Service {
            name: name.into(),
            demand: Resources::new(cpu, 1024.0, 0),
            replicas: 1,
            scaling: ScalingProfile::default(),
            dependencies: RVec::new(),
            allowed_clusters: RVec::new(),
            labels: RVec::new(),
            extra: RString::new(),
        }
    }

    pub fn request(clusters: Vec<Cluster>, services: Vec<Service>) -> PlacementRequest {
        PlacementRequest {
            graph: Graph {
                name: "g".into(),
                services: services.into(),
            },
            clusters: clusters.into(),
            current: ROption::RNone,
            telemetry: Telemetry::default(),
            extra: RString::new(),
        }
    }

    /// Carbon weighed like energy (1 per g, 1 per Wh), to keep the arithmetic by hand simple.
    pub fn params() -> PlacementParams {
        PlacementParams {
            w_carbon: 1.0,
            ..PlacementParams::default()
        }
    }

    fn place(req: &PlacementRequest) -> Vec<(String, String)> {
        let d = EnergyPlacement::new(params()).place(req).expect("placed");
        d.placement
            .assignments
            .iter()
            .map(|a| (a.service.to_string(), a.cluster.to_string()))
            .collect()
    }

    #[test]
    fn prefers_the_renewable_low_pue_cluster_while_it_has_room() {
        // green: PUE 1.1, dirty grid (400 g) but 1 kW of on-site wind; grey: PUE 1.4, 100 g.
        // A 4-core service draws 40 W IT: 44 W on green (covered by wind), 56 W on grey.
        let req = request(
            vec![
                cluster("grey", 16.0, 1.4, 100.0, 0.0),
                cluster("green", 16.0, 1.1, 400.0, 1.0),
            ],
            vec![service("a", 4.0), service("b", 4.0)],
        );
        assert_eq!(
            place(&req),
            vec![("a".into(), "green".into()), ("b".into(), "green".into())]
        );
        // 12 cores free on green, 10.4 within the 90 % utilisation cap: the third goes to grey.
        let mut req = req;
        req.clusters[1].available.cpu = 12.0;
        req.graph.services.push(service("c", 4.0));
        let got = place(&req);
        assert_eq!(got.iter().filter(|(_, c)| c == "green").count(), 2);
        assert_eq!(got.iter().filter(|(_, c)| c == "grey").count(), 1);
    }

    #[test]
    fn leaves_the_green_cluster_when_its_renewables_run_out() {
        // Without wind, green costs 44 W + 44 W x 0.4 g/Wh = 61.6 per hour, grey at 50 g/kWh
        // 56 + 2.8 = 58.8: grey saves 2.8 per hour.
        let mut clusters = vec![
            cluster("grey", 16.0, 1.4, 50.0, 0.0),
            cluster("green", 16.0, 1.1, 400.0, 1.0),
        ];
        let mut req = request(clusters.clone(), vec![service("a", 4.0)]);
        assert_eq!(place(&req), vec![("a".into(), "green".into())]);
        clusters[1].energy.renewable_supply_kw = 0.0;
        req.clusters = clusters.into();
        req.current = ROption::RSome(smo_plugin_api::Placement {
            assignments: vec![Assignment {
                service: "a".into(),
                cluster: "green".into(),
                replicas: 1,
            }]
            .into(),
        });
        // Moving 1 GiB costs 10 Wh once, the saving is 2.8 per hour: stays for a 1 h horizon
        // (10 / 1 h = 10 > 2.8 per hour)...
        let p = PlacementParams {
            horizon_h: 1.0,
            ..params()
        };
        let d = EnergyPlacement::new(p).place(&req).expect("placed");
        assert_eq!(d.placement.cluster_of("a"), Some("green"));
        // ...and moves with the default 4 h, over which the move costs 2.5 per hour (< 2.8).
        assert_eq!(place(&req), vec![("a".into(), "grey".into())]);
        // Over 3 h it would cost 3.33 per hour (> 2.8): stays.
        let p = PlacementParams {
            horizon_h: 3.0,
            ..params()
        };
        let d = EnergyPlacement::new(p).place(&req).expect("placed");
        assert_eq!(d.placement.cluster_of("a"), Some("green"));
    }

    #[test]
    fn greedy_agrees_on_the_small_instance_and_gpu_is_respected() {
        let mut req = request(
            vec![
                cluster("grey", 16.0, 1.4, 100.0, 0.0),
                cluster("green", 16.0, 1.1, 400.0, 1.0),
            ],
            vec![service("a", 4.0)],
        );
        let p = PlacementParams {
            milp_max_pairs: 0,
            ..params()
        };
        let d = EnergyPlacement::new(p).place(&req).expect("placed");
        assert_eq!(d.placement.cluster_of("a"), Some("green"));
        req.graph.services[0].demand.gpu = 1;
        let e = EnergyPlacement::new(PlacementParams::default()).place(&req);
        assert!(e.is_err(), "no cluster has a GPU");
    }

    /// `services` to place on near (10 cores, PUE 1.5, 300 g/kWh, 2 ms from the users) or far
    /// (10 cores, PUE 1, 10 g/kWh, 33 ms: past the 30 ms SLO), both 2 ms of processing.
    fn near_and_far(services: Vec<Service>) -> PlacementRequest {
        let mut near = cluster("near", 10.0, 1.5, 300.0, 0.0);
        near.extra = r#"{"processing_ms": 2, "slo_ms": 30}"#.into();
        let mut far = cluster("far", 10.0, 1.0, 10.0, 0.0);
        far.extra = r#"{"processing_ms": 2, "slo_ms": 30}"#.into();
        let mut req = request(vec![near, far], services);
        for (to, ms) in [("near", 2.0), ("far", 33.0)] {
            req.telemetry.links.push(users_link(to, ms));
        }
        req
    }

    /// The link from the users to cluster `to`, `ms` away.
    pub fn users_link(to: &str, ms: f64) -> Link {
        Link {
            from: "users".into(),
            to: to.into(),
            latency_ms: ms,
            bandwidth_mbps: 1000.0,
        }
    }

    #[test]
    fn the_slo_caps_utilisation_and_excludes_far_clusters() {
        let mut req = near_and_far(vec![service("a", 8.0), service("b", 1.0)]);
        // near: budget 30 - 2 = 28 ms, cap 1 - 2/28 = 0.929 -> 9.29 cores; far is over the SLO.
        let got = place(&req);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(_, c)| c == "near"));
        req.graph.services.push(service("c", 1.0));
        let d = EnergyPlacement::new(PlacementParams::default())
            .place(&req)
            .expect("partly placed");
        // The 9.29-core cap leaves one out of the MILP; it is placed past the cap, not dropped.
        assert_eq!(d.placement.assignments.len(), 3);
        assert!(d.reasons.iter().any(|r| r.contains("past their SLO")));
        // Without the fallback it is refused instead.
        let refuse = PlacementParams {
            slo_fallback: false,
            ..PlacementParams::default()
        };
        let d = EnergyPlacement::new(refuse)
            .place(&req)
            .expect("partly placed");
        assert_eq!(d.placement.assignments.len(), 2, "{:?}", d.reasons);
        assert!(!d.reasons.iter().any(|r| r.contains("past their SLO")));
        // The fallback relaxes the SLO's utilisation cap, never a hard latency cap: with
        // max_latency_ms = 20 far (33 ms) stays out, and the third service, which only far
        // has room for, is refused.
        req.clusters[0].available.cpu = 9.0;
        let capped = PlacementParams {
            max_latency_ms: Some(20.0),
            ..PlacementParams::default()
        };
        let d = EnergyPlacement::new(capped)
            .place(&req)
            .expect("partly placed");
        assert!(
            d.placement
                .assignments
                .iter()
                .all(|a| a.cluster.as_str() == "near"),
            "{:?}",
            d.placement
        );
        assert_eq!(d.placement.assignments.len(), 2, "{:?}", d.reasons);
    }

    #[test]
    fn a_price_on_late_requests_trades_the_slo_for_energy() {
        // near: 1 core = 10 W x PUE 1.5 = 15 W at 300 g/kWh, 2 ms; far: 10 W at 10 g/kWh,
        // 33 ms, past the 30 ms SLO. Hourly costs (default weights): near 15 + 0.3 x 0.3 x 15
        // + 0.05 x 2 = 16.45; far 10 + 0.03 + 0.05 x 33 = 11.68, plus w_slo per late request.
        let mut vm = service("vm", 1.0);
        vm.extra = r#"{"duration_s": 3600}"#.into();
        let mut req = near_and_far(vec![vm]);
        let cluster_of = |w_slo: Option<f64>, req: &PlacementRequest| {
            let p = PlacementParams {
                w_slo,
                ..PlacementParams::default()
            };
            let d = EnergyPlacement::new(p).place(req).expect("placed");
            d.placement.assignments[0].cluster.to_string()
        };
        // Hard SLO: near. A VM is one late request over its hour: at 2 far costs 13.68 < 16.45,
        // at 10 it costs 21.68.
        assert_eq!(cluster_of(None, &req), "near");
        assert_eq!(cluster_of(Some(2.0), &req), "far");
        assert_eq!(cluster_of(Some(10.0), &req), "near");
        // A service answering 1 rps would be late 3600 times an hour: near even at 0.01 (36).
        req.graph.services[0].extra = RString::new();
        req.telemetry.loads.push(ServiceLoad {
            service: "vm".into(),
            current_rps: 1.0,
            predicted_rps: 1.0,
            cpu_utilisation: 0.0,
            memory_utilisation: 0.0,
            response_time_ms: 0.0,
        });
        assert_eq!(cluster_of(Some(0.01), &req), "near");
        assert_eq!(cluster_of(Some(0.001), &req), "far");
        // Out of range is refused naming the parameter.
        let bad = PlacementParams {
            w_slo: Some(-1.0),
            ..PlacementParams::default()
        };
        assert!(bad.check().is_err());
    }

    #[test]
    fn a_re_placement_sizes_services_for_their_load_and_moves_them_where_it_fits() {
        // `s` runs 1 replica on the cheap 4-core cluster; its load (35 rps, 10 rps a replica)
        // needs 4 replicas = 4 cores, over the 3.6 cores the 90 % cap leaves there: it moves
        // to the big cluster with 4 replicas (the 10 Wh migration is the only way to serve).
        let mut svc = service("s", 1.0);
        svc.scaling = ScalingProfile {
            alpha: 10.0,
            beta: 0.0,
            min_replicas: 1,
            max_replicas: 5,
        };
        let mut small = cluster("small", 4.0, 1.0, 10.0, 0.0);
        small.available.cpu = 3.0;
        let big = cluster("big", 16.0, 1.5, 300.0, 0.0);
        let mut req = request(vec![small, big], vec![svc]);
        req.current = ROption::RSome(smo_plugin_api::Placement {
            assignments: vec![Assignment {
                service: "s".into(),
                cluster: "small".into(),
                replicas: 1,
            }]
            .into(),
        });
        let d = EnergyPlacement::new(params()).place(&req).expect("placed");
        assert_eq!(d.placement.assignments.len(), 1);
        assert_eq!(d.placement.assignments[0].cluster.as_str(), "small");
        req.telemetry.loads.push(ServiceLoad {
            service: "s".into(),
            current_rps: 35.0,
            predicted_rps: 30.0,
            cpu_utilisation: 1.0,
            memory_utilisation: 0.0,
            response_time_ms: 0.0,
        });
        let d = EnergyPlacement::new(params()).place(&req).expect("placed");
        let a = &d.placement.assignments[0];
        assert_eq!((a.cluster.as_str(), a.replicas), ("big", 4));
    }
}
