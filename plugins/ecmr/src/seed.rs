//! `ecmr/seed`: the seed implementation's rule, reproduced for its published figures. Datacenter
//! level: green iff grid renewable share > 50 %, weighted score w1·E + w2·C + w3·L, 0.1 ms/km.

use crate::params::SeedParams;
use crate::request::Batch;
use crate::site::haversine_km;

/// One VM's outcome: the chosen site and its score, or none.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedChoice {
    pub site: Option<usize>,
    pub score: f64,
    pub latency_ms: f64,
}

/// Scores every VM of `batch` in order; returns choices and the latency rejections.
pub fn dispatch(batch: &mut Batch, p: &SeedParams) -> (Vec<SeedChoice>, u64) {
    let mut rejections = 0;
    let mut out = Vec::with_capacity(batch.vms.len());
    for r in 0..batch.vms.len() {
        let d = batch.vms[r].demand;
        let mut best: Option<(usize, f64, f64)> = None;
        // Green datacenters first; brown ones only when no green one is a candidate.
        for green_pass in [true, false] {
            for (j, s) in batch.sites.iter().enumerate() {
                if (s.grid_renewable_share > p.green_share) != green_pass {
                    continue;
                }
                if !s.free.fits(&d) {
                    continue;
                }
                let lat = haversine_km(p.user_lat, p.user_lon, s.lat, s.lon) * p.ms_per_km;
                if lat > p.latency_threshold_ms {
                    rejections += 1;
                    continue;
                }
                let total = s.capacity.cpu.max(1e-9);
                let dp_w = (s.peak_w - s.idle_w) * d.cpu / total;
                let score = p.w_energy * dp_w * s.pue / 1000.0
                    + p.w_carbon * s.carbon_g_per_kwh / 500.0
                    + p.w_latency * lat / 100.0;
                if best.is_none_or(|(_, b, _)| score < b) {
                    best = Some((j, score, lat));
                }
            }
            if best.is_some() {
                break;
            }
        }
        match best {
            Some((j, score, lat)) => {
                batch.sites[j].free = batch.sites[j].free.minus(&d);
                out.push(SeedChoice {
                    site: Some(j),
                    score,
                    latency_ms: lat,
                });
            }
            None => out.push(SeedChoice {
                site: None,
                score: f64::INFINITY,
                latency_ms: 0.0,
            }),
        }
    }
    (out, rejections)
}
