//! The figures ecmr computes with, checked before any mode uses them: each cluster's and VM's
//! numbers finite and below [`LIMIT`], so no power, objective or MILP coefficient is NaN or ±inf.

use crate::objective::evaluate;
use crate::params::Weights;
use crate::request::Batch;
use crate::site::Site;
use smo_plugin_api::{Cluster, PluginError};
use std::fmt;

/// Every figure stays below this: HiGHS refuses a model with a matrix value of 1e15 or more
/// (its `large_matrix_value`), and smo's API bounds a cluster far below it (10^12 MiB,
/// 10^8 W, PUE 5), so only data that reached a strategy some other way can exceed it.
pub const LIMIT: f64 = 1e15;

/// How many bad figures one error lists (one per cluster or VM); the rest are counted.
const LISTED: usize = 10;

/// One figure ecmr cannot compute with, and whose it is.
#[derive(Debug, Clone, PartialEq)]
pub struct BadFigure {
    /// Whose figure: "cluster `x`" or "VM `y`".
    pub subject: String,
    /// Which figure: a request field (`energy.pue`) or a derived one (`facility power ...`).
    pub figure: String,
    pub value: f64,
    /// Its unit (`W`, `g/kWh`, ...), empty for a plain number.
    pub unit: &'static str,
    /// How a derived figure is obtained, e.g. `2000 W × energy.pue 1e308`.
    pub from: Option<String>,
}

impl fmt::Display for BadFigure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.subject, self.figure, fig(self.value))?;
        if !self.unit.is_empty() {
            write!(f, " {}", self.unit)?;
        }
        if let Some(from) = &self.from {
            write!(f, " ({from})")?;
        }
        Ok(())
    }
}

/// `x` for a message: `NaN`, `+inf`, `-inf`, three significant digits in exponent notation
/// from a million up (`1.1e308`), else up to three decimals (`1.3`, `2000`).
pub fn fig(x: f64) -> String {
    let trim = |s: &str| s.trim_end_matches('0').trim_end_matches('.').to_string();
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+inf" } else { "-inf" }.into()
    } else if x.abs() >= 1e6 {
        let s = format!("{x:.2e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{exp}", trim(mantissa)),
            None => s,
        }
    } else if x.fract() == 0.0 {
        format!("{x}")
    } else {
        trim(&format!("{x:.3}"))
    }
}

fn usable(x: f64) -> bool {
    x.is_finite() && x.abs() < LIMIT
}

/// A figure to check: its name, value and unit.
type Figure = (String, f64, &'static str);

/// The cluster's own numbers ecmr reads, as the request gives them.
fn given(c: &Cluster) -> [(&'static str, f64, &'static str); 12] {
    let e = &c.energy;
    [
        ("energy.pue", e.pue, ""),
        (
            "energy.carbon_intensity_g_per_kwh",
            e.carbon_intensity_g_per_kwh,
            "g/kWh",
        ),
        ("energy.renewable_supply_kw", e.renewable_supply_kw, "kW"),
        ("energy.renewable_share", e.renewable_share, ""),
        ("energy.idle_power_w", e.idle_power_w, "W"),
        ("energy.peak_power_w", e.peak_power_w, "W"),
        ("capacity.cpu", c.capacity.cpu, "cores"),
        ("capacity.memory_mib", c.capacity.memory_mib, "MiB"),
        ("available.cpu", c.available.cpu, "cores"),
        ("available.memory_mib", c.available.memory_mib, "MiB"),
        ("location.lat", c.location.lat, "°"),
        ("location.lon", c.location.lon, "°"),
    ]
}

/// The first of the cluster's own numbers that is `bad`.
fn first_given(c: &Cluster, bad: impl Fn(f64) -> bool) -> Option<Figure> {
    given(c)
        .into_iter()
        .find(|(_, v, _)| bad(*v))
        .map(|(name, v, unit)| (name.to_string(), v, unit))
}

/// The first per-server number of `site` (from the host's `server_detail`) that is `bad`;
/// named only then, since a simulated datacenter has hundreds of servers.
fn first_detail(site: &Site, bad: impl Fn(f64) -> bool) -> Option<Figure> {
    for (k, t) in site.types.iter().enumerate() {
        if bad(t.cores) {
            return Some((format!("server_detail type {k} cores"), t.cores, "cores"));
        }
        if bad(t.memory_mib) {
            let name = format!("server_detail type {k} memory");
            return Some((name, t.memory_mib, "MiB"));
        }
        if let Some((q, w)) = t.curve_w.iter().enumerate().find(|(_, w)| bad(**w)) {
            return Some((format!("server_detail type {k} curve_w[{q}]"), *w, "W"));
        }
    }
    for (i, s) in site.servers.iter().enumerate() {
        let numbers = [
            ("used CPU", s.used_cpu, "cores"),
            ("used memory", s.used_memory_mib, "MiB"),
            ("busy cores", s.busy_cores, "cores"),
            ("power now", s.watts, "W"),
        ];
        if let Some((what, v, unit)) = numbers.into_iter().find(|(_, v, _)| bad(*v)) {
            return Some((format!("server {i} {what}"), v, unit));
        }
    }
    None
}

/// The figures ecmr derives from several of the cluster's numbers (products that may overflow
/// although each factor is finite), with how each is obtained.
fn derived(site: &Site, raw_pue: f64) -> Vec<(Figure, String)> {
    let mut out = Vec::new();
    for (k, t) in site.types.iter().enumerate() {
        let top = t.curve_w.iter().copied().fold(0.0, f64::max);
        let name = if site.types.len() == 1 {
            "facility power at full load".to_string()
        } else {
            format!("facility power of a type {k} server at full load")
        };
        out.push((
            (name, top * site.pue, "W"),
            format!("{} W × energy.pue {}", fig(top), fig(raw_pue)),
        ));
    }
    out.push((
        ("facility power now".into(), site.facility_w(), "W"),
        format!("IT {} W × energy.pue {}", fig(site.it_w()), fig(raw_pue)),
    ));
    out.push((
        ("on-site renewable supply".into(), site.renewable_w, "W"),
        "energy.renewable_supply_kw × 1000".into(),
    ));
    out
}

/// The first figure of cluster `c` (read as `site`; `detailed` when the host gave its servers)
/// that ecmr cannot compute with: first a number that is not finite, then a derived figure
/// (power) that is not finite or not below [`LIMIT`], then a number not below it.
pub fn cluster(c: &Cluster, site: &Site, detailed: bool) -> Option<BadFigure> {
    let first = |bad: &dyn Fn(f64) -> bool| {
        first_given(c, bad).or_else(|| detailed.then(|| first_detail(site, bad)).flatten())
    };
    let bad = |(figure, value, unit): Figure, from: Option<String>| BadFigure {
        subject: format!("cluster `{}`", c.name),
        figure,
        value,
        unit,
        from,
    };
    if let Some(f) = first(&|v: f64| !v.is_finite()) {
        return Some(bad(f, None));
    }
    if let Some((f, from)) = derived(site, c.energy.pue)
        .into_iter()
        .find(|((_, v, _), _)| !usable(*v))
    {
        return Some(bad(f, Some(from)));
    }
    first(&|v: f64| !usable(v)).map(|f| bad(f, None))
}

/// The first bad number of each VM of `batch` (its demand) and of each latency to a cluster.
pub fn vms_and_links(batch: &Batch) -> Vec<BadFigure> {
    let mut out = Vec::new();
    for vm in &batch.vms {
        let d = vm.demand;
        let numbers = [
            ("demand CPU", d.cpu, "cores"),
            ("demand memory", d.memory_mib, "MiB"),
        ];
        if let Some((figure, value, unit)) = numbers.into_iter().find(|(_, v, _)| !usable(*v)) {
            out.push(BadFigure {
                subject: format!("VM `{}`", vm.name),
                figure: figure.into(),
                value,
                unit,
                from: None,
            });
        }
    }
    for (j, site) in batch.sites.iter().enumerate() {
        let bad = batch
            .latency_ms
            .iter()
            .zip(&batch.vms)
            .find_map(|(row, vm)| {
                row.get(j)
                    .copied()
                    .flatten()
                    .filter(|l| !usable(*l))
                    .map(|l| (l, vm))
            });
        if let Some((value, vm)) = bad {
            out.push(BadFigure {
                subject: format!("cluster `{}`", site.name),
                figure: format!("latency from the users of VM `{}`", vm.name),
                value,
                unit: "ms",
                from: None,
            });
        }
    }
    out
}

/// The strategy's answer to bad figures: invalid input (an answer, not a malfunction: the
/// host falls back to its default strategy and does not quarantine this one), naming each.
pub fn error(bad: &[BadFigure]) -> PluginError {
    let mut listed: Vec<String> = bad.iter().take(LISTED).map(ToString::to_string).collect();
    if bad.len() > LISTED {
        listed.push(format!("and {} more", bad.len() - LISTED));
    }
    PluginError::invalid_input(format!(
        "ecmr cannot compute with these figures (each must be finite and below {}): {}",
        fig(LIMIT),
        listed.join("; ")
    ))
}

/// The objective of `assign` on `batch` when it is finite; else the error naming the clusters
/// whose energy and carbon terms are not (or, when none is, the weights and latencies).
pub fn objective(
    batch: &Batch,
    assign: &[Option<(usize, usize)>],
    w: &Weights,
) -> Result<f64, PluginError> {
    let total = evaluate(batch, assign, w);
    if total.is_finite() {
        return Ok(total);
    }
    let mut bad = Vec::new();
    for (j, site) in batch.sites.iter().enumerate() {
        let only: Vec<Option<(usize, usize)>> =
            assign.iter().map(|a| a.filter(|(s, _)| *s == j)).collect();
        if !only.iter().any(Option::is_some) {
            continue;
        }
        let value = evaluate(batch, &only, w);
        if !value.is_finite() {
            bad.push(format!("cluster `{}`: objective {}", site.name, fig(value)));
        }
    }
    if bad.is_empty() {
        bad.push("the weights or latencies".into());
    }
    Err(PluginError::invalid_input(format!(
        "ecmr's objective for this placement is {}, from {}",
        fig(total),
        bad.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_written() {
        assert_eq!(fig(f64::NAN), "NaN");
        assert_eq!(fig(f64::INFINITY), "+inf");
        assert_eq!(fig(f64::NEG_INFINITY), "-inf");
        assert_eq!(fig(1e308), "1e308");
        assert_eq!(fig(1e308 * 1.1), "1.1e308");
        assert_eq!(fig(1e15), "1e15");
        assert_eq!(fig(2000.0), "2000");
        assert_eq!(fig(-2000.0), "-2000");
        assert_eq!(fig(1.3), "1.3");
        assert_eq!(fig(0.1 + 0.2), "0.3");
    }
}
