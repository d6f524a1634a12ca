//! One datacenter as ECMR sees it: its servers with their power curves, its on-site renewable
//! supply and grid carbon intensity, and MESF (the server whose power rises least).

use crate::check::{self, BadFigure};
use serde::Deserialize;
use smo_plugin_api::extra::{self, ClusterExtra, ServerModel};
use smo_plugin_api::{Cluster, Resources};

const EPS: f64 = 1e-9;

/// A server model: capacity and power curve (watts at u = 0, 1/(n-1), ..., 1; two points = linear).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerType {
    pub cores: f64,
    pub memory_mib: f64,
    #[serde(default)]
    pub gpus: u32,
    pub curve_w: Vec<f64>,
}

impl From<ServerModel> for ServerType {
    fn from(m: ServerModel) -> Self {
        Self {
            cores: m.cores,
            memory_mib: m.memory_mib,
            gpus: m.gpus.max(0.0) as u32,
            curve_w: m.curve_w,
        }
    }
}

impl ServerType {
    /// Watts of a switched-on server at utilisation `u` (clamped to 0..=1).
    pub fn watts(&self, u: f64) -> f64 {
        let u = if u.is_finite() {
            u.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match self.curve_w.len() {
            0 => 0.0,
            1 => self.curve_w[0],
            n => {
                let x = u * (n - 1) as f64;
                let i = (x.floor() as usize).min(n - 2);
                let frac = x - i as f64;
                self.curve_w[i] + (self.curve_w[i + 1] - self.curve_w[i]) * frac
            }
        }
    }
}

/// One server: what is reserved on it and what it draws now (0 W when switched off).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Server {
    pub kind: usize,
    pub used_cpu: f64,
    pub used_memory_mib: f64,
    pub used_gpu: u32,
    pub busy_cores: f64,
    pub watts: f64,
}

/// A datacenter's state for one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub pue: f64,
    /// Grid carbon intensity, g/kWh.
    pub carbon_g_per_kwh: f64,
    /// Grid renewable share 0..1 (used by the seed mode only).
    pub grid_renewable_share: f64,
    /// On-site renewable supply now, W.
    pub renewable_w: f64,
    /// An empty server keeps drawing its idle power (`idle_servers: on`).
    pub idle_on: bool,
    pub types: Vec<ServerType>,
    pub servers: Vec<Server>,
    /// Aggregate idle and peak W over all servers (the seed's datacenter-level power model).
    pub idle_w: f64,
    pub peak_w: f64,
    pub capacity: Resources,
    pub free: Resources,
}

impl Site {
    /// Reads a cluster. With `server_detail` in `extra` (the simulator sends it) every server is
    /// modelled; without it the datacenter is one linear server of its aggregate capacity.
    pub fn from_cluster(c: &Cluster) -> Site {
        Self::build(c).0
    }

    /// Reads a cluster as [`Site::from_cluster`] does, refusing it when one of its figures is
    /// not finite or too large to compute with ([`check::cluster`]).
    pub fn read(c: &Cluster) -> Result<Site, BadFigure> {
        let (site, detailed) = Self::build(c);
        match check::cluster(c, &site, detailed) {
            Some(bad) => Err(bad),
            None => Ok(site),
        }
    }

    /// The site, and whether the host gave its servers (`server_detail`).
    fn build(c: &Cluster) -> (Site, bool) {
        let extra: ClusterExtra = extra::read(c.extra.as_str()).unwrap_or_default();
        let e = &c.energy;
        let detailed = extra.server_detail.is_some();
        let (idle_on, types, servers) = match extra.server_detail {
            Some(d) if d.servers.iter().all(|s| (s[0] as usize) < d.types.len()) => {
                let servers = d
                    .servers
                    .iter()
                    .map(|&[kind, cpu, mem, gpu, busy, watts]| Server {
                        kind: kind as usize,
                        used_cpu: cpu,
                        used_memory_mib: mem,
                        used_gpu: gpu as u32,
                        busy_cores: busy,
                        watts,
                    })
                    .collect();
                let types = d.types.into_iter().map(ServerType::from).collect();
                (d.idle_on, types, servers)
            }
            _ => {
                let used = c.capacity.minus(&c.available);
                let t = ServerType {
                    cores: c.capacity.cpu,
                    memory_mib: c.capacity.memory_mib,
                    gpus: c.capacity.gpu,
                    curve_w: vec![e.idle_power_w, e.peak_power_w],
                };
                let watts = extra.it_power_w.unwrap_or_else(|| {
                    if used.cpu > EPS {
                        t.watts(used.cpu / t.cores.max(EPS))
                    } else {
                        0.0
                    }
                });
                let s = Server {
                    kind: 0,
                    used_cpu: used.cpu,
                    used_memory_mib: used.memory_mib,
                    used_gpu: c.capacity.gpu.saturating_sub(c.available.gpu),
                    busy_cores: used.cpu,
                    watts,
                };
                (false, vec![t], vec![s])
            }
        };
        // With per-server detail the servers are the truth: the aggregate `available` may be a
        // single slot (the simulator's retry after a refusal), which would understate the room.
        let free = if detailed {
            servers.iter().fold(Resources::default(), |a, s: &Server| {
                let t = &types[s.kind];
                Resources::new(
                    a.cpu + (t.cores - s.used_cpu).max(0.0),
                    a.memory_mib + (t.memory_mib - s.used_memory_mib).max(0.0),
                    a.gpu + t.gpus.saturating_sub(s.used_gpu),
                )
            })
        } else {
            c.available
        };
        let site = Site {
            name: c.name.to_string(),
            lat: c.location.lat,
            lon: c.location.lon,
            pue: e.pue.max(1.0),
            carbon_g_per_kwh: e.carbon_intensity_g_per_kwh.max(0.0),
            grid_renewable_share: e.renewable_share,
            renewable_w: e.renewable_supply_kw.max(0.0) * 1000.0,
            idle_on,
            types,
            servers,
            idle_w: e.idle_power_w,
            peak_w: e.peak_power_w,
            capacity: c.capacity,
            free,
        };
        (site, detailed)
    }

    /// IT power now, W.
    pub fn it_w(&self) -> f64 {
        self.servers.iter().map(|s| s.watts).sum()
    }

    /// Facility power now (IT × PUE), W: the paper's P^DC (eq. 10).
    pub fn facility_w(&self) -> f64 {
        self.it_w() * self.pue
    }

    /// `RES_margin` of Algorithm 1 as power over the slot: on-site supply minus facility draw.
    /// The slot is the decision step, so comparing energies over it is comparing powers.
    pub fn res_margin_w(&self) -> f64 {
        self.renewable_w - self.facility_w()
    }

    fn fits(&self, s: &Server, d: &Resources) -> bool {
        let t = &self.types[s.kind];
        s.used_cpu + d.cpu <= t.cores + EPS
            && s.used_memory_mib + d.memory_mib <= t.memory_mib + EPS
            && s.used_gpu + d.gpu <= t.gpus
            && d.cpu <= self.free.cpu + EPS
            && d.memory_mib <= self.free.memory_mib + EPS
    }

    /// IT power increase (W) of putting `d` on server `i` (switching it on costs its idle power).
    pub fn delta_w(&self, i: usize, d: &Resources) -> f64 {
        let s = &self.servers[i];
        let t = &self.types[s.kind];
        t.watts((s.busy_cores + d.cpu) / t.cores.max(EPS)) - s.watts
    }

    /// MESF: the server with room whose IT power rises least, ties to the first, with that
    /// increase in W. The simulator's `least_power_increase` applies the same rule.
    /// Switched-off servers of a type already seen are skipped: they are identical copies, so
    /// their increase is the same and the tie goes to the first anyway.
    pub fn mesf(&self, d: &Resources) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        let mut off_seen = 0u64;
        for (i, s) in self.servers.iter().enumerate() {
            let off =
                !self.idle_on && s.watts <= 0.0 && s.used_cpu <= EPS && s.used_memory_mib <= EPS;
            if off && s.kind < 64 {
                let bit = 1u64 << s.kind;
                if off_seen & bit != 0 {
                    continue;
                }
                off_seen |= bit;
            }
            if !self.fits(s, d) {
                continue;
            }
            let delta = self.delta_w(i, d);
            if best.is_none_or(|(_, b)| delta < b - EPS) {
                best = Some((i, delta));
            }
        }
        best
    }

    /// Reserves `d` on server `i` and updates its draw.
    pub fn reserve(&mut self, i: usize, d: &Resources) {
        let delta = self.delta_w(i, d);
        let s = &mut self.servers[i];
        s.used_cpu += d.cpu;
        s.used_memory_mib += d.memory_mib;
        s.used_gpu += d.gpu;
        s.busy_cores += d.cpu;
        s.watts += delta;
        self.free = self.free.minus(d);
    }

    /// Frees `d` from server `i` (a VM whose duration ended).
    pub fn release(&mut self, i: usize, d: &Resources) {
        let idle_on = self.idle_on;
        let s = &mut self.servers[i];
        s.used_cpu = (s.used_cpu - d.cpu).max(0.0);
        s.used_memory_mib = (s.used_memory_mib - d.memory_mib).max(0.0);
        s.used_gpu = s.used_gpu.saturating_sub(d.gpu);
        s.busy_cores = (s.busy_cores - d.cpu).max(0.0);
        let t = &self.types[s.kind];
        s.watts = if s.used_cpu <= EPS && s.used_memory_mib <= EPS && !idle_on {
            0.0
        } else {
            t.watts(s.busy_cores / t.cores.max(EPS))
        };
        self.free.cpu += d.cpu;
        self.free.memory_mib += d.memory_mib;
        self.free.gpu += d.gpu;
    }

    /// Free CPU share: what "most available resources" sorts by in the fallback.
    pub fn free_share(&self) -> f64 {
        if self.capacity.cpu > EPS {
            self.free.cpu / self.capacity.cpu
        } else {
            0.0
        }
    }
}

/// Great-circle distance in km (haversine, Earth radius 6371 km).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}
