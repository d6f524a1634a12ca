//! The workload of a run, drawn from the scenario and its seed: VM requests (trace sampling,
//! a diurnal generator, or a list) and per-step request rates of long-running services.
//!
//! Randomness comes from [`SplitMix64`], implemented here so that a seed gives the same
//! workload whatever the versions of our dependencies; each use draws from its own stream.

use super::scenario::{Scenario, VmSource};

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny, fast, well-mixed 64-bit generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// An independent stream for one purpose: the seed mixed with a hash of `name`.
    pub fn stream(seed: u64, name: &str) -> Self {
        // FNV-1a of the name, then one SplitMix step so nearby seeds diverge.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut s = Self::new(seed ^ h);
        s.next_u64();
        s
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[0, n)` (`n > 0`), without modulo bias (Lemire's method).
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Index drawn with probability proportional to `weights` (all >= 0, sum > 0).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.next_f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }
}

/// One VM request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmRequest {
    /// Seconds after the scenario start.
    pub arrival_s: u32,
    pub cpu: f64,
    pub memory_mib: f64,
    pub gpu: u32,
    pub duration_s: u32,
    /// Index into the scenario's users.
    pub user: u16,
}

/// The VM requests of the scenario's horizon, sorted by arrival (stable). Sampled workloads
/// (`count` of the Azure trace or the generator) are drawn over the file's own horizon, or a
/// longer one with the count scaled to it, and cut at the run's: `--hours` shorter than the
/// file runs the file's first hours, not its VMs squeezed in.
pub fn vm_requests(scenario: &Scenario) -> Vec<VmRequest> {
    let spec = &scenario.spec;
    let horizon_s = spec.hours * 3600;
    let file_h = scenario.workload_hours.unwrap_or(spec.hours).max(1);
    let span_h = spec.hours.max(file_h);
    let span_s = span_h * 3600;
    let scaled = |count: u32| -> u32 {
        (u64::from(count) * u64::from(span_h) / u64::from(file_h)).min(u64::from(u32::MAX)) as u32
    };
    let seed = spec.seed;
    let weights: Vec<f64> = spec.users.iter().map(|u| u.weight).collect();
    let mut users = SplitMix64::stream(seed, "users");
    let mut pick_user = |name: Option<&str>| -> u16 {
        match name.and_then(|n| spec.users.iter().position(|u| u.name == n)) {
            Some(i) => i as u16,
            None => users.weighted(&weights) as u16,
        }
    };
    let mut out = Vec::new();
    match &spec.workload.vms {
        None => {}
        Some(VmSource::AzureTrace {
            count,
            offset_hours,
            ..
        }) => {
            let Some(trace) = scenario.trace.as_deref() else {
                return out;
            };
            let bin_s = trace.bin_s.max(1);
            let nbins = span_s.div_ceil(bin_s) as usize;
            let offset = (*offset_hours as usize * 3600) / bin_s as usize;
            // Every VM of the covered bins (the trace repeats if the horizon is longer).
            let mut all: Vec<(u32, u32)> = Vec::new();
            for b in 0..nbins {
                let tb = (offset + b) % trace.bins.len();
                for j in 0..trace.bins[tb].len() {
                    all.push((b as u32, j as u32));
                }
            }
            let mut rng = SplitMix64::stream(seed, "azure-trace");
            let keep = count.map_or(all.len(), |c| (scaled(c) as usize).min(all.len()));
            // Partial Fisher-Yates: the first `keep` entries are a uniform sample.
            for i in 0..keep {
                let j = i + rng.below((all.len() - i) as u64) as usize;
                all.swap(i, j);
            }
            all.truncate(keep);
            all.sort_unstable();
            for (b, j) in all {
                let tb = (offset + b as usize) % trace.bins.len();
                let vm = trace.bins[tb][j as usize];
                let (cores, gb) = trace.flavours[vm.flavour as usize];
                let (lo, hi) = trace.duration_bins[vm.duration_bin as usize];
                let duration_s =
                    (lo + rng.below(u64::from(hi.saturating_sub(lo)).max(1)) as u32).max(1);
                let arrival_s = b * bin_s + rng.below(u64::from(bin_s)) as u32;
                if arrival_s >= horizon_s {
                    continue;
                }
                out.push(VmRequest {
                    arrival_s,
                    cpu: cores,
                    memory_mib: gb * 1024.0,
                    gpu: 0,
                    duration_s,
                    user: pick_user(None),
                });
            }
        }
        Some(VmSource::Generator {
            count,
            flavours,
            duration_minutes,
            diurnal_amplitude,
            peak_hour,
        }) => {
            let mut rng = SplitMix64::stream(seed, "generator");
            let start_hour = (scenario.start_unix().rem_euclid(86_400)) as f64 / 3600.0;
            let fw: Vec<f64> = flavours.iter().map(|f| f.weight).collect();
            let a = *diurnal_amplitude;
            let (ln_lo, ln_hi) = (duration_minutes.min.ln(), duration_minutes.max.ln());
            for _ in 0..scaled(*count) {
                // Thinning: accept a uniform time with probability (1 + a cos(...)) / (1 + a).
                let arrival_s = loop {
                    let t = rng.below(u64::from(span_s)) as u32;
                    let hour = start_hour + f64::from(t) / 3600.0;
                    let shape = 1.0 + a * (std::f64::consts::TAU * (hour - peak_hour) / 24.0).cos();
                    if rng.next_f64() * (1.0 + a) < shape {
                        break t;
                    }
                };
                let f = &flavours[rng.weighted(&fw)];
                let minutes = (ln_lo + (ln_hi - ln_lo) * rng.next_f64()).exp();
                // Drawn for every VM, so that a shorter run's VMs are the longer one's.
                let user = pick_user(None);
                if arrival_s >= horizon_s {
                    continue;
                }
                out.push(VmRequest {
                    arrival_s,
                    cpu: f.cpu,
                    memory_mib: f.memory_gib * 1024.0,
                    gpu: f.gpu,
                    duration_s: ((minutes * 60.0).round() as u32).max(1),
                    user,
                });
            }
        }
        Some(VmSource::Csv { .. }) | Some(VmSource::List { .. }) => {
            let rows = match &spec.workload.vms {
                Some(VmSource::List { requests }) => requests.as_slice(),
                _ => scenario
                    .vm_rows
                    .as_deref()
                    .map_or(&[][..], |v| v.as_slice()),
            };
            for r in rows.iter().filter(|r| r.arrival_s < horizon_s) {
                out.push(VmRequest {
                    arrival_s: r.arrival_s,
                    cpu: r.cpu,
                    memory_mib: r.memory_mib,
                    gpu: r.gpu,
                    duration_s: r.duration_s.max(1),
                    user: pick_user(r.user.as_deref()),
                });
            }
        }
    }
    out.sort_by_key(|v| v.arrival_s);
    out
}

/// Requests per second of each service at each step: the hourly series value times
/// `1 + noise * uniform(-1, 1)` (seeded, one stream per service).
pub fn service_rates(scenario: &Scenario) -> Result<Vec<Vec<f64>>, String> {
    let spec = &scenario.spec;
    let steps = scenario.steps();
    let per_hour = (60 / spec.step_minutes.max(1)) as usize;
    let mut out = Vec::with_capacity(spec.workload.services.len());
    for s in &spec.workload.services {
        let hourly = scenario.series(&s.rate_rps, spec.hours as usize)?;
        let mut rng = SplitMix64::stream(spec.seed, &format!("rate/{}", s.name));
        let rates = (0..steps)
            .map(|k| {
                let base = hourly[(k / per_hour).min(hourly.len().saturating_sub(1))];
                let noise = if s.rate_noise > 0.0 {
                    s.rate_noise * (2.0 * rng.next_f64() - 1.0)
                } else {
                    0.0
                };
                (base * (1.0 + noise)).max(0.0)
            })
            .collect();
        out.push(rates);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::scenarios_dir;

    #[test]
    fn splitmix_is_stable_and_uniform_enough() {
        // Reference values of SplitMix64 for seed 0 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut r = SplitMix64::stream(1, "x");
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[r.below(4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (900..1100).contains(c)), "{counts:?}");
        let w = [0.0, 3.0, 1.0];
        let mut hits = [0u32; 3];
        for _ in 0..4000 {
            hits[r.weighted(&w)] += 1;
        }
        assert_eq!(hits[0], 0);
        assert!((2800..3200).contains(&hits[1]), "{hits:?}");
    }

    #[test]
    fn trace_sampling_is_deterministic_and_follows_the_seed() {
        let path = scenarios_dir().join("eu-5dc-24h.yaml");
        let mut s = Scenario::load(&path).unwrap();
        let a = vm_requests(&s);
        let b = vm_requests(&s);
        assert_eq!(a, b);
        assert!(a.len() > 1000, "{}", a.len());
        assert!(a.windows(2).all(|w| w[0].arrival_s <= w[1].arrival_s));
        assert!(a
            .iter()
            .all(|v| v.arrival_s < 24 * 3600 && v.duration_s >= 1));
        s.set_seed(s.spec.seed + 1);
        assert_ne!(vm_requests(&s), a);
    }

    /// `vms` as they arrive before `hours`.
    fn before(vms: &[VmRequest], hours: u32) -> Vec<VmRequest> {
        vms.iter()
            .filter(|v| v.arrival_s < hours * 3600)
            .copied()
            .collect()
    }

    #[test]
    fn a_shorter_horizon_runs_the_first_hours_of_the_trace_sample() {
        let mut s = Scenario::load(&scenarios_dir().join("eu-5dc-7d.yaml")).unwrap();
        let week = vm_requests(&s);
        s.set_hours(24).unwrap();
        let day = vm_requests(&s);
        assert!(
            !day.is_empty() && day.len() < week.len() / 4,
            "{}",
            day.len()
        );
        assert_eq!(day, before(&week, 24));
    }

    #[test]
    fn the_generator_keeps_its_density_over_another_horizon() {
        let yaml = crate::testing::minimal_yaml()
            .replace("hours: 1", "hours: 48")
            .replace(
                "    kind: list\n    requests:\n      - {arrival_s: 0, cpu: 2, memory_mib: 1024, duration_s: 1800}\n",
                "    kind: generator\n    count: 480\n    duration_minutes: {min: 5, max: 60}\n    \
                 flavours: [{cpu: 1, memory_gib: 1, weight: 1}]\n",
            );
        let mut s = Scenario::from_yaml(&yaml, std::path::Path::new(".")).unwrap();
        let two_days = vm_requests(&s);
        assert_eq!(two_days.len(), 480);
        s.set_hours(12).unwrap();
        assert_eq!(vm_requests(&s), before(&two_days, 12));
        s.set_hours(96).unwrap();
        let four_days = vm_requests(&s);
        assert_eq!(
            four_days.len(),
            960,
            "as many VMs an hour as the file's 48 h"
        );
        assert!(four_days.iter().any(|v| v.arrival_s >= 48 * 3600));
    }
}
