//! The state of the simulated continuum: datacenters made of servers, what each server hosts,
//! and the power each draws. Placing and releasing instances updates it; nothing else does.
//!
//! An instance is a VM or a service replica: a CPU/memory/GPU reservation plus a load factor
//! (the fraction of its reserved CPU it keeps busy, 1 for a VM).

use super::power::PowerModel;
use super::scenario::{DatacenterSpec, IdleServers, ServerSelection};
use smo_plugin_api::Resources;
use std::fmt::Write as _;

const EPS: f64 = 1e-9;

/// One server model of a datacenter.
#[derive(Debug, Clone)]
pub struct ServerType {
    pub model: String,
    pub cores: f64,
    pub memory_mib: f64,
    pub gpus: u32,
    pub power: PowerModel,
}

/// One server: what is reserved on it and its current draw.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub kind: u16,
    pub used_cpu: f64,
    pub used_memory_mib: f64,
    pub used_gpu: u32,
    /// Busy cores: sum over instances of reserved CPU times load factor.
    pub busy_cores: f64,
    pub instances: u32,
    /// Cached `P(u)` (0 when switched off).
    pub watts: f64,
}

/// What the servers of one model did over some hours: IT energy, hours switched on (summed
/// over the servers), busy core-hours and booked memory (GiB-hours).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TypeUse {
    pub it_kwh: f64,
    pub on_hours: f64,
    pub busy_core_hours: f64,
    pub memory_gib_hours: f64,
}

/// A datacenter: servers of a few types, with a policy for idle servers and server choice.
#[derive(Debug, Clone)]
pub struct Datacenter {
    pub name: String,
    pub types: Vec<ServerType>,
    pub servers: Vec<Server>,
    pub capacity: Resources,
    pub used: Resources,
    idle_on: bool,
    selection: ServerSelection,
    /// [`Datacenter::detail_json`] up to the servers' list (fixed at construction).
    detail_head: String,
    /// Each server's entry of that list, rewritten by [`Datacenter::detail_json`] only for the
    /// servers that changed since it last ran (`stale`): formatting every server for every
    /// request, or at every booking, was most of a large simulation's time.
    server_json: Vec<String>,
    stale: Vec<bool>,
    /// Bumped by every change of a server (booking, release, load): equal versions, equal
    /// state, so a view of the datacenter built at one version stays right until the next.
    version: u64,
}

impl Datacenter {
    /// Builds the servers of `spec`, all empty.
    pub fn new(spec: &DatacenterSpec, idle: IdleServers, selection: ServerSelection) -> Self {
        let mut types = Vec::new();
        let mut servers = Vec::new();
        let mut capacity = Resources::default();
        for (i, s) in spec.servers.iter().enumerate() {
            let power = match &s.power_curve_w {
                Some(points) => PowerModel::Piecewise {
                    points_w: points.clone(),
                },
                None => PowerModel::Linear {
                    idle_w: s.idle_w.unwrap_or(0.0),
                    peak_w: s.peak_w.unwrap_or(0.0),
                },
            };
            types.push(ServerType {
                model: if s.model.is_empty() {
                    format!("type{i}")
                } else {
                    s.model.clone()
                },
                cores: s.cores,
                memory_mib: s.memory_gib * 1024.0,
                gpus: s.gpus,
                power,
            });
            for _ in 0..s.count {
                servers.push(Server {
                    kind: i as u16,
                    ..Server::default()
                });
            }
            capacity.cpu += s.cores * f64::from(s.count);
            capacity.memory_mib += s.memory_gib * 1024.0 * f64::from(s.count);
            capacity.gpu += s.gpus * s.count;
        }
        let mut dc = Datacenter {
            name: spec.name.clone(),
            types,
            servers,
            capacity,
            used: Resources::default(),
            idle_on: idle == IdleServers::On,
            selection,
            detail_head: String::new(),
            server_json: Vec::new(),
            stale: Vec::new(),
            version: 0,
        };
        dc.detail_head = dc.detail_head();
        dc.server_json = vec![String::new(); dc.servers.len()];
        dc.stale = vec![true; dc.servers.len()];
        for i in 0..dc.servers.len() {
            dc.refresh(i);
        }
        dc
    }

    fn watts_of(&self, s: &Server) -> f64 {
        if s.instances == 0 && !self.idle_on {
            return 0.0;
        }
        let t = &self.types[s.kind as usize];
        t.power.watts(s.busy_cores / t.cores)
    }

    fn fits(&self, s: &Server, d: &Resources) -> bool {
        let t = &self.types[s.kind as usize];
        s.used_cpu + d.cpu <= t.cores + EPS
            && s.used_memory_mib + d.memory_mib <= t.memory_mib + EPS
            && s.used_gpu + d.gpu <= t.gpus
    }

    /// Free resources (capacity minus reservations).
    pub fn free(&self) -> Resources {
        Resources {
            cpu: (self.capacity.cpu - self.used.cpu).max(0.0),
            memory_mib: (self.capacity.memory_mib - self.used.memory_mib).max(0.0),
            gpu: self.capacity.gpu.saturating_sub(self.used.gpu),
        }
    }

    /// Free room of the server with the most free CPU (then memory): the largest request
    /// that surely fits.
    pub fn largest_free(&self) -> Resources {
        let mut best = Resources::default();
        for s in &self.servers {
            let t = &self.types[s.kind as usize];
            let free = Resources {
                cpu: (t.cores - s.used_cpu).max(0.0),
                memory_mib: (t.memory_mib - s.used_memory_mib).max(0.0),
                gpu: t.gpus.saturating_sub(s.used_gpu),
            };
            if (free.cpu, free.memory_mib) > (best.cpu, best.memory_mib) {
                best = free;
            }
        }
        best
    }

    /// Reserved CPU over total CPU, 0..1.
    pub fn utilisation(&self) -> f64 {
        if self.capacity.cpu > 0.0 {
            (self.used.cpu / self.capacity.cpu).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }

    /// IT power now, W: the sum of the servers' draws.
    pub fn it_power_w(&self) -> f64 {
        self.servers.iter().map(|s| s.watts).sum()
    }

    /// Adds `dt_h` hours of each server's draw, time switched on and busy cores to its model's
    /// entry of `into` (indexed like [`Datacenter::types`]), and returns
    /// [`Datacenter::it_power_w`] from the same pass over the servers.
    pub fn accrue_by_type(&self, dt_h: f64, into: &mut [TypeUse]) -> f64 {
        let mut it_w = 0.0;
        for s in &self.servers {
            it_w += s.watts;
            let Some(u) = into.get_mut(s.kind as usize) else {
                continue;
            };
            u.it_kwh += s.watts * dt_h / 1000.0;
            if s.watts > 0.0 {
                u.on_hours += dt_h;
            }
            u.busy_core_hours += s.busy_cores * dt_h;
            u.memory_gib_hours += s.used_memory_mib / 1024.0 * dt_h;
        }
        it_w
    }

    /// The state version: it changes whenever a server does (see [`Datacenter::version`]'s
    /// field), so two equal versions mean equal state.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Per-server state as compact JSON, for strategies that choose servers themselves (ECMR's
    /// MESF): `{"idle_on", "selection", "selectable", "types": [{cores, memory_mib, gpus,
    /// curve_w}], "servers": [[kind, used_cpu, used_memory_mib, used_gpu, busy_cores, watts]]}`.
    /// Writes again the entries of the servers that changed since the last call.
    pub fn detail_json(&mut self) -> String {
        for (i, stale) in self.stale.iter_mut().enumerate() {
            if std::mem::take(stale) {
                let (s, slot) = (&self.servers[i], &mut self.server_json[i]);
                // Rewritten in place: the entry keeps its allocation.
                slot.clear();
                let _ = write!(
                    slot,
                    "[{},{},{},{},{},{}]",
                    s.kind, s.used_cpu, s.used_memory_mib, s.used_gpu, s.busy_cores, s.watts
                );
            }
        }
        let len = self.server_json.iter().map(|x| x.len() + 1).sum::<usize>();
        let mut out = String::with_capacity(self.detail_head.len() + len + 2);
        out.push_str(&self.detail_head);
        for (i, server) in self.server_json.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(server);
        }
        out.push_str("]}");
        out
    }

    /// The part of [`Datacenter::detail_json`] that never changes: everything before the
    /// servers' entries.
    fn detail_head(&self) -> String {
        let types: Vec<String> = self
            .types
            .iter()
            .map(|t| {
                let curve = match &t.power {
                    PowerModel::Linear { idle_w, peak_w } => vec![*idle_w, *peak_w],
                    PowerModel::Piecewise { points_w } => points_w.clone(),
                };
                let curve: Vec<String> = curve.iter().map(|w| format!("{w}")).collect();
                format!(
                    "{{\"cores\":{},\"memory_mib\":{},\"gpus\":{},\"curve_w\":[{}]}}",
                    t.cores,
                    t.memory_mib,
                    t.gpus,
                    curve.join(",")
                )
            })
            .collect();
        let selectable: Vec<String> = ServerSelection::ALL
            .iter()
            .map(|s| format!("\"{}\"", s.as_str()))
            .collect();
        format!(
            "{{\"idle_on\":{},\"selection\":\"{}\",\"selectable\":[{}],\"types\":[{}],\"servers\":[",
            self.idle_on,
            self.selection.as_str(),
            selectable.join(","),
            types.join(","),
        )
    }

    /// Servers drawing power now.
    pub fn servers_on(&self) -> usize {
        self.servers.iter().filter(|s| s.watts > 0.0).count()
    }

    /// Sum of idle and of peak watts over all servers (what strategies see as the profile).
    pub fn idle_peak_w(&self) -> (f64, f64) {
        self.servers.iter().fold((0.0, 0.0), |(i, p), s| {
            let m = &self.types[s.kind as usize].power;
            (i + m.idle_w(), p + m.peak_w())
        })
    }

    /// Reserves `demand` with load factor `load` on a server chosen by the datacenter's
    /// selection policy; `None` when no single server has room.
    pub fn place(&mut self, demand: &Resources, load: f64) -> Option<u32> {
        self.place_by(demand, load, None)
    }

    /// As [`Datacenter::place`], with the server chosen by `asked` (a strategy's request) when
    /// given, else by the datacenter's own policy.
    pub fn place_by(
        &mut self,
        demand: &Resources,
        load: f64,
        asked: Option<ServerSelection>,
    ) -> Option<u32> {
        let selection = asked.unwrap_or(self.selection);
        let mut best: Option<(usize, f64)> = None;
        for (i, s) in self.servers.iter().enumerate() {
            if !self.fits(s, demand) {
                continue;
            }
            if selection == ServerSelection::FirstFit {
                best = Some((i, 0.0));
                break;
            }
            let t = &self.types[s.kind as usize];
            let after = t.power.watts((s.busy_cores + demand.cpu * load) / t.cores);
            let mut delta = after - s.watts;
            let off = s.instances == 0 && !self.idle_on;
            if off && selection == ServerSelection::LeastPowerSharedIdle {
                delta -= t.power.idle_w() * (1.0 - dominant_share(t, demand));
            }
            if best.is_none_or(|(_, b)| delta < b - EPS) {
                best = Some((i, delta));
            }
        }
        let (i, _) = best?;
        self.reserve(i, demand, load);
        Some(i as u32)
    }

    /// Reserves `demand` with load factor `load` on `server` itself (a migration's target);
    /// `false`, and nothing reserved, when the server does not exist or has no room.
    pub fn place_on(&mut self, server: u32, demand: &Resources, load: f64) -> bool {
        let i = server as usize;
        let fits = self.servers.get(i).is_some_and(|s| self.fits(s, demand));
        if fits {
            self.reserve(i, demand, load);
        }
        fits
    }

    /// Books `demand` on server `i`, which has room for it.
    fn reserve(&mut self, i: usize, demand: &Resources, load: f64) {
        let s = &mut self.servers[i];
        s.used_cpu += demand.cpu;
        s.used_memory_mib += demand.memory_mib;
        s.used_gpu += demand.gpu;
        s.busy_cores += demand.cpu * load;
        s.instances += 1;
        self.used.cpu += demand.cpu;
        self.used.memory_mib += demand.memory_mib;
        self.used.gpu += demand.gpu;
        self.refresh(i);
    }

    /// Frees what [`Datacenter::place`] reserved on `server`.
    pub fn release(&mut self, server: u32, demand: &Resources, load: f64) {
        let i = server as usize;
        let Some(s) = self.servers.get_mut(i) else {
            return;
        };
        s.instances = s.instances.saturating_sub(1);
        if s.instances == 0 {
            // Exact zero, so rounding never accumulates on an empty server.
            s.used_cpu = 0.0;
            s.used_memory_mib = 0.0;
            s.used_gpu = 0;
            s.busy_cores = 0.0;
        } else {
            s.used_cpu -= demand.cpu;
            s.used_memory_mib -= demand.memory_mib;
            s.used_gpu = s.used_gpu.saturating_sub(demand.gpu);
            s.busy_cores = (s.busy_cores - demand.cpu * load).max(0.0);
        }
        self.used.cpu = (self.used.cpu - demand.cpu).max(0.0);
        self.used.memory_mib = (self.used.memory_mib - demand.memory_mib).max(0.0);
        self.used.gpu = self.used.gpu.saturating_sub(demand.gpu);
        self.refresh(i);
    }

    /// Changes the load factor of one instance of `cpu` cores on `server` from `old` to `new`.
    pub fn set_load(&mut self, server: u32, cpu: f64, old: f64, new: f64) {
        let i = server as usize;
        if let Some(s) = self.servers.get_mut(i) {
            s.busy_cores = (s.busy_cores + cpu * (new - old)).max(0.0);
            self.refresh(i);
        }
    }

    /// Recomputes server `i`'s draw, marks its entry of [`Datacenter::detail_json`] stale and
    /// bumps the version.
    fn refresh(&mut self, i: usize) {
        let w = self.watts_of(&self.servers[i]);
        self.servers[i].watts = w;
        if let Some(stale) = self.stale.get_mut(i) {
            *stale = true;
        }
        self.version += 1;
    }
}

/// The largest share of one server of type `t` that `d` takes (cores, memory or GPUs), in
/// [0, 1].
fn dominant_share(t: &ServerType, d: &Resources) -> f64 {
    let mut share = d.cpu / t.cores;
    if t.memory_mib > 0.0 {
        share = share.max(d.memory_mib / t.memory_mib);
    }
    if t.gpus > 0 {
        share = share.max(f64::from(d.gpu) / f64::from(t.gpus));
    }
    if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{DatacenterSpec, SeriesSpec, ServerSpec};

    fn spec() -> DatacenterSpec {
        let server = |count, cores, idle, peak| ServerSpec {
            model: String::new(),
            count,
            cores,
            memory_gib: 64.0,
            gpus: 0,
            idle_w: Some(idle),
            peak_w: Some(peak),
            power_curve_w: None,
        };
        DatacenterSpec {
            name: "dc".into(),
            role: Default::default(),
            lat: 0.0,
            lon: 0.0,
            region: String::new(),
            pue: 1.0,
            processing_ms: 0.0,
            carbon_intensity: SeriesSpec::Constant(0.0),
            grid_renewable_share: None,
            renewables: vec![],
            prices: Default::default(),
            // An inefficient type first, then an efficient one.
            servers: vec![server(2, 8.0, 100.0, 300.0), server(2, 8.0, 50.0, 100.0)],
            preferred_for_saving: false,
            labels: Default::default(),
        }
    }

    #[test]
    fn place_on_reserves_on_the_named_server_only_when_it_has_room() {
        let mut dc = Datacenter::new(&spec(), IdleServers::Off, ServerSelection::FirstFit);
        let d = Resources::new(6.0, 1024.0, 0);
        assert!(dc.place_on(3, &d, 1.0));
        assert_eq!((dc.servers[3].instances, dc.servers[0].instances), (1, 0));
        assert!((dc.used.cpu - 6.0).abs() < 1e-9);
        assert!(
            !dc.place_on(3, &d, 1.0),
            "8 cores hold one 6-core VM, not two"
        );
        assert!(!dc.place_on(9, &d, 1.0), "no server 9");
        assert_eq!(dc.servers[3].instances, 1);
        assert!(
            (dc.used.cpu - 6.0).abs() < 1e-9,
            "a refused place books nothing"
        );
        assert!(dc.servers[3].watts > 0.0);
    }

    #[test]
    fn least_power_increase_prefers_efficient_and_already_on_servers() {
        let mut dc = Datacenter::new(
            &spec(),
            IdleServers::Off,
            ServerSelection::LeastPowerIncrease,
        );
        assert_eq!(dc.it_power_w(), 0.0);
        let d = Resources::new(4.0, 1024.0, 0);
        assert_eq!(dc.place(&d, 1.0), Some(2), "the efficient type");
        assert!((dc.it_power_w() - 75.0).abs() < 1e-9);
        assert_eq!(
            dc.place(&d, 1.0),
            Some(2),
            "an on server beats switching one on"
        );
        assert!((dc.it_power_w() - 100.0).abs() < 1e-9);
        assert_eq!(dc.place(&d, 1.0), Some(3));
        dc.release(2, &d, 1.0);
        dc.release(2, &d, 1.0);
        assert_eq!(dc.servers[2].watts, 0.0, "an empty server switches off");
        assert_eq!(dc.servers_on(), 1);
        assert!((dc.used.cpu - 4.0).abs() < 1e-9);
    }

    /// Three small servers (8 cores, 64 GiB, 40-80 W) and one large (32 cores, 192 GiB,
    /// 90-250 W), linear power.
    fn small_and_large() -> Datacenter {
        let mut s = spec();
        let server = |count, cores, memory_gib, idle, peak| ServerSpec {
            model: String::new(),
            count,
            cores,
            memory_gib,
            gpus: 0,
            idle_w: Some(idle),
            peak_w: Some(peak),
            power_curve_w: None,
        };
        s.servers = vec![
            server(3, 8.0, 64.0, 40.0, 80.0),
            server(1, 32.0, 192.0, 90.0, 250.0),
        ];
        Datacenter::new(&s, IdleServers::Off, ServerSelection::LeastPowerIncrease)
    }

    #[test]
    fn shared_idle_puts_memory_heavy_demands_on_the_server_they_can_share() {
        // 2 cores / 56 GiB. Least power increase: a small server +50 W (40 + 40 x 2/8), the
        // large one +100 W (90 + 160 x 2/32), so each demand switches on a small server.
        let d = Resources::new(2.0, 56.0 * 1024.0, 0);
        let mut dc = small_and_large();
        for expected in [0, 1, 2] {
            assert_eq!(dc.place(&d, 1.0), Some(expected));
        }
        assert!((dc.it_power_w() - 150.0).abs() < 1e-9);
        // Shared idle charges the small server 50 - 40 x (1 - 56/64) = 45 W and the large one
        // 100 - 90 x (1 - 56/192) = 36.25 W; the next two then find it on (+10 W each).
        let mut dc = small_and_large();
        for _ in 0..3 {
            assert_eq!(
                dc.place_by(&d, 1.0, Some(ServerSelection::LeastPowerSharedIdle)),
                Some(3)
            );
        }
        assert!((dc.it_power_w() - 120.0).abs() < 1e-9, "90 + 160 x 6/32");
        // The datacenter's own policy is unchanged by a request.
        let v: serde_json::Value = serde_json::from_str(&dc.detail_json()).expect("json");
        assert_eq!(v["selection"], "least_power_increase");
        assert_eq!(dc.place(&d, 1.0), Some(0), "the large server is full");
    }

    #[test]
    fn every_policy_has_a_name_that_reads_back() {
        for s in ServerSelection::ALL {
            assert_eq!(ServerSelection::from_name(s.as_str()), Some(s));
        }
        assert_eq!(ServerSelection::from_name("best_fit"), None);
        let detail = small_and_large().detail_json();
        let v: serde_json::Value = serde_json::from_str(&detail).expect("json");
        assert_eq!(v["selection"], "least_power_increase");
        assert_eq!(
            v["selectable"].as_array().map(|a| a.len()),
            Some(ServerSelection::ALL.len())
        );
    }

    #[test]
    fn the_server_detail_follows_every_change() {
        let entries = |dc: &mut Datacenter| -> Vec<Vec<f64>> {
            let v: serde_json::Value = serde_json::from_str(&dc.detail_json()).expect("json");
            serde_json::from_value(v["servers"].clone()).expect("servers")
        };
        let expected = |dc: &Datacenter| -> Vec<Vec<f64>> {
            dc.servers
                .iter()
                .map(|s| {
                    vec![
                        f64::from(s.kind),
                        s.used_cpu,
                        s.used_memory_mib,
                        f64::from(s.used_gpu),
                        s.busy_cores,
                        s.watts,
                    ]
                })
                .collect()
        };
        let mut dc = small_and_large();
        assert_eq!(entries(&mut dc), expected(&dc));
        let d = Resources::new(2.0, 1024.0, 0);
        let v0 = dc.version();
        let a = dc.place(&d, 1.0).expect("room");
        assert!(dc.version() > v0, "a booking changes the version");
        let b = dc.place(&d, 0.5).expect("room");
        assert_eq!(entries(&mut dc), expected(&dc));
        dc.set_load(b, 2.0, 0.5, 0.25);
        assert_eq!(entries(&mut dc), expected(&dc));
        dc.release(a, &d, 1.0);
        assert_eq!(entries(&mut dc), expected(&dc));
        dc.release(b, &d, 0.25);
        assert_eq!(entries(&mut dc), expected(&dc));
        assert!(
            entries(&mut dc).iter().all(|e| e[5] == 0.0),
            "all switched off"
        );
    }

    #[test]
    fn first_fit_and_always_on_servers() {
        let mut dc = Datacenter::new(&spec(), IdleServers::On, ServerSelection::FirstFit);
        assert!((dc.it_power_w() - 300.0).abs() < 1e-9, "all four idle");
        let d = Resources::new(8.0, 0.0, 0);
        assert_eq!(dc.place(&d, 0.5), Some(0));
        assert!((dc.it_power_w() - 400.0).abs() < 1e-9);
        dc.set_load(0, 8.0, 0.5, 1.0);
        assert!((dc.it_power_w() - 500.0).abs() < 1e-9);
        assert_eq!(
            dc.place(&Resources::new(9.0, 0.0, 0), 1.0),
            None,
            "no server has 9 cores"
        );
        assert_eq!(dc.free().cpu, 24.0);
    }
}
