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
                total += w.latency * batch.latency(r, *j) / w.latency_ref_ms;
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
        let dp_fac = dp * site.pue;
        let brown_after = (site.facility_w() + dp_fac - site.renewable_w).max(0.0);
        let brown_inc = brown_after - brown_now_w(site);
        total += w.energy * dp_fac / w.energy_ref_w
            + w.carbon * site.carbon_g_per_kwh * brown_inc / 1000.0 / w.carbon_ref_g_per_h;
    }
    total
}
