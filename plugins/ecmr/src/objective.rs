//! The scalarised objective of eq. 28 for one batch, with the linear power model of eq. 5:
//! energy (facility W), carbon (brown W × grid intensity) and latency, plus a penalty per VM left.

use crate::params::Weights;
use crate::request::Batch;
use crate::site::{ServerType, Site};

/// Per VM of a batch: (site, server), or `None` when left unplaced.
pub type Choices = Vec<Option<(usize, usize)>>;

/// Idle watts and watts per core of a server type, linear through its end points (eq. 5).
pub fn linear(t: &ServerType) -> (f64, f64) {
    let idle = t.curve_w.first().copied().unwrap_or(0.0);
    let peak = t.curve_w.last().copied().unwrap_or(idle);
    (idle, (peak - idle) / t.cores.max(1e-9))
}

/// `true` when server `i` of `site` draws nothing now (switching it on costs its idle power).
pub fn is_off(site: &Site, i: usize) -> bool {
    let s = &site.servers[i];
    !site.idle_on && s.watts <= 0.0 && s.used_cpu <= 1e-9 && s.used_memory_mib <= 1e-9
}

/// Brown facility power of `site` now (W): max(P^DC − supply, 0), eq. 20 as power.
pub fn brown_now_w(site: &Site) -> f64 {
    (site.facility_w() - site.renewable_w).max(0.0)
}

/// The objective of placing VM r on `assign[r]` = (site, server), evaluated from the state in
/// `batch` (before any of the batch is placed). Only the increase over the current state counts.
pub fn evaluate(batch: &Batch, assign: &[Option<(usize, usize)>], w: &Weights) -> f64 {
    let mut added: Vec<Vec<f64>> = batch
        .sites
        .iter()
        .map(|s| vec![0.0; s.servers.len()])
        .collect();
    let mut total = 0.0;
    for (r, a) in assign.iter().enumerate() {
        match a {
            Some((j, i)) => {
                if let Some(x) = added.get_mut(*j).and_then(|v| v.get_mut(*i)) {
                    *x += batch.vms[r].demand.cpu;
                }
                total += latency_term(batch.latency(r, *j), w);
            }
            None => total += w.unplaced_penalty,
        }
    }
    for (j, site) in batch.sites.iter().enumerate() {
        let mut dp = 0.0;
        for (i, a) in added[j].iter().enumerate() {
            if *a <= 0.0 {
                continue;
            }
            let (idle, slope) = linear(&site.types[site.servers[i].kind]);
            dp += slope * a + if is_off(site, i) { idle } else { 0.0 };
        }
        total += energy_carbon(site, dp * site.pue, w);
    }
    total
}

/// Linear IT power increase (eq. 5) of `cpu` cores on server `i` of `site` as it is now.
pub fn linear_delta_w(site: &Site, i: usize, cpu: f64) -> f64 {
    let (idle, slope) = linear(&site.types[site.servers[i].kind]);
    slope * cpu + if is_off(site, i) { idle } else { 0.0 }
}

/// Energy and carbon terms of adding `added_facility_w` to `site` (its state before the batch):
/// the per-datacenter part of [`evaluate`], so a batch's objective is the sum over datacenters.
pub fn energy_carbon(site: &Site, added_facility_w: f64, w: &Weights) -> f64 {
    Base::of(site).cost(added_facility_w, w)
}

/// What the energy and carbon terms need of a datacenter's state before the batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Base {
    pub facility_w: f64,
    pub renewable_w: f64,
    pub carbon_g_per_kwh: f64,
}

impl Base {
    pub fn of(site: &Site) -> Base {
        Base {
            facility_w: site.facility_w(),
            renewable_w: site.renewable_w,
            carbon_g_per_kwh: site.carbon_g_per_kwh,
        }
    }

    /// Energy and carbon terms of adding `added_facility_w` (eqs. 10, 19-20 as power).
    pub fn cost(&self, added_facility_w: f64, w: &Weights) -> f64 {
        self.cost_with_credit(added_facility_w, w, 1.0)
    }

    /// [`Base::cost`] where only a share `credit` (0..=1) of the power the on-site supply covers
    /// now counts as carbon-free; the rest is charged at the grid's intensity, as if the supply
    /// were gone (`credit` 1 = eq. 20; 0 = every watt at the grid's intensity).
    pub fn cost_with_credit(&self, added_facility_w: f64, w: &Weights, credit: f64) -> f64 {
        let brown_now = (self.facility_w - self.renewable_w).max(0.0);
        let brown_after = (self.facility_w + added_facility_w - self.renewable_w).max(0.0);
        let c = credit.clamp(0.0, 1.0);
        let charged = c * (brown_after - brown_now) + (1.0 - c) * added_facility_w;
        w.energy * added_facility_w / w.energy_ref_w
            + w.carbon * self.carbon_g_per_kwh * charged / 1000.0 / w.carbon_ref_g_per_h
    }
}

/// The latency term of one VM at `latency_ms`.
pub fn latency_term(latency_ms: f64, w: &Weights) -> f64 {
    w.latency * latency_ms / w.latency_ref_ms
}
