//! What one cluster costs in power and carbon: marginal IT power of a demand (from the host's
//! server detail when given, else peak W per core), on-site renewable headroom, SLO room.

use smo_plugin_api::extra::{self, ClusterExtra, ServerModel};
use smo_plugin_api::{Cluster, Resources, Telemetry};

/// A server model of the host's `server_detail` ([`ServerModel`]), with its power curve.
#[derive(Debug, Clone)]
struct ServerType {
    cores: f64,
    memory_mib: f64,
    gpus: f64,
    curve_w: Vec<f64>,
}

impl From<ServerModel> for ServerType {
    fn from(m: ServerModel) -> Self {
        Self {
            cores: m.cores,
            memory_mib: m.memory_mib,
            gpus: m.gpus,
            curve_w: m.curve_w,
        }
    }
}

impl ServerType {
    /// Power at utilisation `u` (0..1): linear through `[idle, peak]` or piecewise.
    fn power(&self, u: f64) -> f64 {
        let c = &self.curve_w;
        match c.len() {
            0 => 0.0,
            1 => c[0],
            n => {
                let x = u.clamp(0.0, 1.0) * (n - 1) as f64;
                let i = (x.floor() as usize).min(n - 2);
                c[i] + (c[i + 1] - c[i]) * (x - i as f64)
            }
        }
    }
}

/// How the host picks a server inside a cluster, as this plugin mirrors it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPick {
    /// The server whose draw rises least (switching an empty one on costs its idle power).
    LeastPowerIncrease,
    /// As above, an empty server charged only the replica's dominant share of its idle power.
    LeastPowerSharedIdle,
    /// The first server with room.
    FirstFit,
}

impl ServerPick {
    /// The host's name of the policy (`least_power_increase`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ServerPick::LeastPowerIncrease => "least_power_increase",
            ServerPick::LeastPowerSharedIdle => "least_power_shared_idle",
            ServerPick::FirstFit => "first_fit",
        }
    }

    /// The policy called `name`, if this plugin knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ServerPick::LeastPowerIncrease,
            ServerPick::LeastPowerSharedIdle,
            ServerPick::FirstFit,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }
}

/// One server's state while a plan books replicas on it.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// Free CPU, memory, GPUs.
    pub room: Resources,
    kind: usize,
    busy_cores: f64,
    watts: f64,
}

/// One cluster as the optimiser sees it.
#[derive(Debug, Clone)]
pub struct ClusterModel {
    pub name: String,
    pub pue: f64,
    pub carbon_g_per_kwh: f64,
    /// Facility watts the on-site renewables can still cover now.
    pub green_headroom_w: f64,
    pub available: Resources,
    pub capacity: Resources,
    /// Free room of the emptiest server (a single replica must fit there).
    pub slot_cpu: f64,
    pub slot_memory_mib: f64,
    /// Reserved-CPU share the SLO allows (or `max_utilisation`).
    pub utilisation_cap: f64,
    /// IT watts of switching the cluster on from nothing (0 when a server is on).
    pub open_w: f64,
    /// IT watts the cluster stops drawing when the graph being re-placed leaves it: the idle
    /// power of its servers on, when that graph is its only tenant (else 0). Set by the
    /// re-placement; consolidating a graph onto fewer clusters saves this.
    pub keep_w: f64,
    pub preferred: bool,
    /// `(processing ms, SLO ms)` when the host gives them.
    pub slo: Option<(f64, f64)>,
    /// Reserved CPU share as the host reports it (right even when `available` is only the
    /// emptiest server's room, as on a retry).
    reported_utilisation: Option<f64>,
    fallback_w_per_core: f64,
    idle_on: bool,
    /// The server choice the host makes here for this plugin's replicas.
    pick: ServerPick,
    /// The choices the host lets a decision ask for.
    selectable: Vec<String>,
    types: Vec<ServerType>,
    servers: Vec<[f64; 6]>,
}

impl ClusterModel {
    pub fn new(c: &Cluster, max_utilisation: f64) -> Self {
        Self::with_extra(
            c,
            extra::read(c.extra.as_str()).unwrap_or_default(),
            max_utilisation,
        )
    }

    /// [`ClusterModel::new`], with `c`'s `extra` already read.
    pub fn with_extra(c: &Cluster, extra: ClusterExtra, max_utilisation: f64) -> Self {
        let detail = extra.server_detail.unwrap_or_default();
        let types: Vec<ServerType> = detail.types.into_iter().map(ServerType::from).collect();
        let facility_w = extra.facility_power_w.unwrap_or(0.0);
        let servers_on = extra.servers_on.unwrap_or(1);
        let open_w = if servers_on == 0 && !detail.idle_on {
            types
                .iter()
                .map(|t| t.power(0.0))
                .fold(f64::INFINITY, f64::min)
        } else {
            0.0
        };
        Self {
            name: c.name.to_string(),
            pue: c.energy.pue.max(1.0),
            carbon_g_per_kwh: c.energy.carbon_intensity_g_per_kwh.max(0.0),
            green_headroom_w: (c.energy.renewable_supply_kw * 1000.0 - facility_w).max(0.0),
            available: c.available,
            capacity: c.capacity,
            slot_cpu: extra.largest_free_cpu.unwrap_or(c.available.cpu),
            slot_memory_mib: extra
                .largest_free_memory_mib
                .unwrap_or(c.available.memory_mib),
            utilisation_cap: max_utilisation,
            open_w: if open_w.is_finite() { open_w } else { 0.0 },
            keep_w: 0.0,
            preferred: c.energy.preferred_for_saving,
            slo: extra.processing_ms.zip(extra.slo_ms),
            reported_utilisation: extra.utilisation,
            fallback_w_per_core: if c.capacity.cpu > 0.0 {
                c.energy.peak_power_w / c.capacity.cpu
            } else {
                0.0
            },
            idle_on: detail.idle_on,
            pick: detail
                .selection
                .as_deref()
                .and_then(ServerPick::from_name)
                .unwrap_or(ServerPick::LeastPowerIncrease),
            selectable: detail.selectable,
            types,
            servers: detail.servers,
        }
    }

    /// Every server's state (free room, busy cores, watts), from the host's server detail;
    /// empty when the host gives none.
    pub fn server_states(&self) -> Vec<ServerState> {
        self.servers
            .iter()
            .filter_map(|s| {
                let kind = s[0] as usize;
                let t = self.types.get(kind)?;
                Some(ServerState {
                    room: Resources::new(
                        (t.cores - s[1]).max(0.0),
                        (t.memory_mib - s[2]).max(0.0),
                        (t.gpus - s[3]).max(0.0) as u32,
                    ),
                    kind,
                    busy_cores: s[4],
                    watts: s[5],
                })
            })
            .collect()
    }

    /// Free room of each server (see [`ClusterModel::server_states`]).
    pub fn server_room(&self) -> Vec<Resources> {
        self.server_states().into_iter().map(|s| s.room).collect()
    }

    /// Asks the host to pick this cluster's servers by `pick` for the decision's replicas;
    /// `false` (and the host's own choice kept) when the host does not offer it here.
    pub fn request_pick(&mut self, pick: ServerPick) -> bool {
        if pick == self.pick {
            return true;
        }
        let offered = self.selectable.iter().any(|s| s == pick.name());
        if offered {
            self.pick = pick;
        }
        offered
    }

    /// The server the host's choice ([`ServerPick`]) gives one replica of `d` at full load
    /// (the first of equals), among `states`; `None` when none has room.
    pub fn pick_server(&self, states: &[ServerState], d: &Resources) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (i, s) in states.iter().enumerate() {
            let Some(t) = self.types.get(s.kind) else {
                continue;
            };
            if !fits(&s.room, d) || t.cores <= 0.0 {
                continue;
            }
            if self.pick == ServerPick::FirstFit {
                return Some(i);
            }
            let mut delta = t.power((s.busy_cores + d.cpu) / t.cores) - s.watts;
            let off = s.watts <= 0.0 && !self.idle_on;
            if off && self.pick == ServerPick::LeastPowerSharedIdle {
                delta -= t.power(0.0) * (1.0 - dominant_share(t, d));
            }
            if best.is_none_or(|(_, b)| delta < b - 1e-9) {
                best = Some((i, delta));
            }
        }
        best.map(|(i, _)| i)
    }

    /// What `state` draws now, IT W.
    pub fn server_w(&self, state: &ServerState) -> f64 {
        state.watts
    }

    /// What `state`'s server draws idle, IT W (0 when its type is unknown).
    pub fn server_idle_w(&self, state: &ServerState) -> f64 {
        self.types.get(state.kind).map_or(0.0, |t| t.power(0.0))
    }

    /// Frees one replica of `d` at full load from `state`; a server left empty switches off
    /// unless idle servers stay on.
    pub fn unbook(&self, state: &mut ServerState, d: &Resources, empty: bool) {
        state.room = Resources::new(
            state.room.cpu + d.cpu,
            state.room.memory_mib + d.memory_mib,
            state.room.gpu + d.gpu,
        );
        state.busy_cores = (state.busy_cores - d.cpu).max(0.0);
        if let Some(t) = self.types.get(state.kind).filter(|t| t.cores > 0.0) {
            state.watts = if empty && !self.idle_on {
                0.0
            } else {
                t.power(state.busy_cores / t.cores)
            };
        }
    }

    /// Books one replica of `d` at full load on `state`.
    pub fn book(&self, state: &mut ServerState, d: &Resources) {
        state.room = state.room.minus(d);
        state.busy_cores += d.cpu;
        if let Some(t) = self.types.get(state.kind).filter(|t| t.cores > 0.0) {
            state.watts = t.power(state.busy_cores / t.cores);
        }
    }

    /// IT watts charged for booking one replica of `d` at full load on `state`: the rise of
    /// the server's draw; with `amortise`, a server switched on is charged its idle power
    /// times the replica's dominant share of the server (cores, memory or GPUs), the rest of
    /// the idle power being left to the replicas that will fill it.
    pub fn booking_w(&self, state: &ServerState, d: &Resources, amortise: bool) -> f64 {
        let Some(t) = self.types.get(state.kind).filter(|t| t.cores > 0.0) else {
            return d.cpu * self.fallback_w_per_core;
        };
        let mut delta = t.power((state.busy_cores + d.cpu) / t.cores) - state.watts;
        let off = state.watts <= 0.0 && !self.idle_on;
        if off && amortise {
            delta -= t.power(0.0) * (1.0 - dominant_share(t, d));
        }
        delta.max(0.0)
    }

    /// Whether one replica of `d` fits a single server now: any server of the detail, else
    /// the emptiest server the host reports (which may not be the one with most memory).
    pub fn fits_a_server(&self, d: &Resources) -> bool {
        let room = self.server_room();
        if room.is_empty() {
            return d.cpu <= self.slot_cpu + 1e-9 && d.memory_mib <= self.slot_memory_mib + 1e-9;
        }
        room.iter().any(|r| fits(r, d))
    }

    /// Idle IT watts of the servers that are on (0 when idle servers are never switched off,
    /// or without server detail).
    pub fn idle_on_w(&self) -> f64 {
        if self.idle_on {
            return 0.0;
        }
        self.servers
            .iter()
            .filter(|s| s[1] > 0.0)
            .filter_map(|s| self.types.get(s[0] as usize))
            .map(|t| t.power(0.0))
            .sum()
    }

    /// Reserved CPU now: the host's reported utilisation when given (on a retry `available`
    /// is only the emptiest server's room, so capacity - available would overstate it).
    pub fn used_cpu(&self) -> f64 {
        match self.reported_utilisation {
            Some(u) => (u * self.capacity.cpu).clamp(0.0, self.capacity.cpu),
            None => (self.capacity.cpu - self.available.cpu).max(0.0),
        }
    }

    /// Marginal IT watts of one replica of `d` at full load: the least increase over the
    /// servers with room (as the host's least-power-increase selection does). The idle power
    /// of a cluster with no server on is left to [`ClusterModel::open_w`].
    pub fn replica_w(&self, d: &Resources) -> f64 {
        self.replica_w_with(d, false)
    }

    /// As [`ClusterModel::replica_w`]; with `amortise`, switching a server on costs its
    /// full-load watts per core (the idle power shared by the replicas that will fill it)
    /// instead of its whole idle power.
    pub fn replica_w_with(&self, d: &Resources, amortise: bool) -> f64 {
        let mut best = f64::INFINITY;
        for s in &self.servers {
            let Some(t) = self.types.get(s[0] as usize) else {
                continue;
            };
            let fits = t.cores - s[1] >= d.cpu - 1e-9
                && t.memory_mib - s[2] >= d.memory_mib - 1e-9
                && t.gpus - s[3] >= f64::from(d.gpu) - 1e-9;
            if !fits || t.cores <= 0.0 {
                continue;
            }
            let on = s[1] > 0.0 || self.idle_on;
            let now = if on { s[5] } else { 0.0 };
            let after = t.power((s[4] + d.cpu) / t.cores);
            let mut dp = after - now;
            if !on && amortise {
                dp = t.power(1.0) / t.cores * d.cpu;
            } else if !on && self.open_w > 0.0 {
                dp -= t.power(0.0).min(self.open_w);
            }
            best = best.min(dp.max(0.0));
        }
        if best.is_finite() {
            best
        } else {
            d.cpu * self.fallback_w_per_core
        }
    }

    /// The largest reserved-CPU share allowed for a user at `latency_ms`, and whether the
    /// cluster may serve that user at all.
    pub fn cap_for(&self, latency_ms: f64, slo_margin: f64) -> Option<f64> {
        match self.slo {
            Some((proc_ms, slo_ms)) => {
                let budget = slo_ms * slo_margin - latency_ms;
                if budget <= proc_ms {
                    return None;
                }
                Some((1.0 - proc_ms / budget).min(0.95))
            }
            None => Some(self.utilisation_cap),
        }
    }
}

/// The largest share of one server of type `t` that `d` takes (cores, memory or GPUs), in
/// [0, 1].
fn dominant_share(t: &ServerType, d: &Resources) -> f64 {
    let mut share = d.cpu / t.cores;
    if t.memory_mib > 0.0 {
        share = share.max(d.memory_mib / t.memory_mib);
    }
    if t.gpus > 0.0 {
        share = share.max(f64::from(d.gpu) / t.gpus);
    }
    share.clamp(0.0, 1.0)
}

/// `d` fits in `room` (with a small tolerance for float sums).
pub fn fits(room: &Resources, d: &Resources) -> bool {
    room.cpu + 1e-9 >= d.cpu && room.memory_mib + 1e-9 >= d.memory_mib && room.gpu >= d.gpu
}

/// Latency from the user population named `user` (a label value) to `cluster`, if known.
pub fn latency(t: &Telemetry, user: &str, cluster: &str) -> Option<f64> {
    t.links
        .iter()
        .find(|l| l.from.as_str() == user && l.to.as_str() == cluster)
        .or_else(|| {
            t.links
                .iter()
                .find(|l| l.from.as_str() == "users" && l.to.as_str() == cluster)
        })
        .map(|l| l.latency_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piecewise_curve_interpolates() {
        let t = ServerType {
            cores: 10.0,
            memory_mib: 1.0,
            gpus: 0.0,
            curve_w: vec![10.0, 20.0, 40.0],
        };
        assert!((t.power(0.25) - 15.0).abs() < 1e-9);
        assert!((t.power(0.75) - 30.0).abs() < 1e-9);
        assert!((t.power(1.0) - 40.0).abs() < 1e-9);
    }
}
