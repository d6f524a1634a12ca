//! Small instances shared by the integration tests: linear servers, sites, VMs, batches.

#![allow(dead_code)]

use smo_ecmr::request::{Batch, Vm};
use smo_ecmr::site::{Server, ServerType, Site};
use smo_plugin_api::Resources;

/// A linear 16-core server type: 50 W idle, 210 W peak (10 W per core).
pub fn linear16() -> ServerType {
    ServerType {
        cores: 16.0,
        memory_mib: 65536.0,
        gpus: 0,
        curve_w: vec![50.0, 210.0],
    }
}

pub fn site(name: &str, servers: usize, renewable_w: f64, carbon: f64) -> Site {
    let t = linear16();
    Site {
        name: name.into(),
        lat: 0.0,
        lon: 0.0,
        pue: 1.0,
        carbon_g_per_kwh: carbon,
        grid_renewable_share: 0.0,
        renewable_w,
        idle_on: false,
        capacity: Resources::new(t.cores * servers as f64, t.memory_mib * servers as f64, 0),
        free: Resources::new(t.cores * servers as f64, t.memory_mib * servers as f64, 0),
        types: vec![t],
        servers: vec![Server::default(); servers],
        idle_w: 50.0 * servers as f64,
        peak_w: 210.0 * servers as f64,
    }
}

pub fn vm(name: &str, cpu: f64, duration_s: f64) -> Vm {
    Vm {
        name: name.into(),
        demand: Resources::new(cpu, 1024.0, 0),
        user: "u".into(),
        duration_s,
    }
}

pub fn batch(vms: Vec<Vm>, sites: Vec<Site>, latency: &[f64]) -> Batch {
    let latency_ms = vms
        .iter()
        .map(|_| latency.iter().map(|l| Some(*l)).collect())
        .collect();
    Batch {
        vms,
        sites,
        latency_ms,
    }
}

/// A linear server type of `cores` cores, `idle` W empty and `per_core` W more per core.
pub fn linear_type(cores: f64, idle: f64, per_core: f64) -> ServerType {
    ServerType {
        cores,
        memory_mib: 65536.0,
        gpus: 0,
        curve_w: vec![idle, idle + per_core * cores],
    }
}

/// `site` whose servers are all of type `t`, `used[i]` cores reserved on server i (on when > 0).
pub fn site_of(name: &str, t: ServerType, used: &[f64], renewable_w: f64, carbon: f64) -> Site {
    let mut s = site(name, used.len(), renewable_w, carbon);
    let n = used.len() as f64;
    s.capacity = Resources::new(t.cores * n, t.memory_mib * n, 0);
    s.free = s.capacity;
    s.types = vec![t];
    for (i, &u) in used.iter().enumerate() {
        if u > 0.0 {
            s.reserve(i, &Resources::new(u, 1024.0, 0));
        }
    }
    s
}
