//! The figures the placement model reads from a request, checked before it computes with them:
//! each cluster's, service's and latency's numbers finite and below [`LIMIT`], powers included.

use smo_plugin_api::extra::{self, ClusterExtra};
use smo_plugin_api::{Cluster, PlacementRequest, PluginError};

/// Every figure stays below this: HiGHS refuses a model with a matrix value of 1e15 or more
/// (its `large_matrix_value`), and smo's API bounds a cluster far below it (10^12 MiB,
/// 10^8 W, PUE 5), so only data that reached the strategy some other way can exceed it.
pub const LIMIT: f64 = 1e15;

/// How many bad figures one error lists (one per cluster or service); the rest are counted.
const LISTED: usize = 10;

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

/// A figure: its name, value and unit.
type Figure = (String, f64, &'static str);

/// The numbers of `c` the model reads, as the request gives them (the host's `extra` too).
fn given(c: &Cluster, x: &ClusterExtra) -> Vec<Figure> {
    let e = &c.energy;
    let mut out: Vec<Figure> = vec![
        ("energy.pue".into(), e.pue, ""),
        (
            "energy.carbon_intensity_g_per_kwh".into(),
            e.carbon_intensity_g_per_kwh,
            "g/kWh",
        ),
        (
            "energy.renewable_supply_kw".into(),
            e.renewable_supply_kw,
            "kW",
        ),
        ("energy.peak_power_w".into(), e.peak_power_w, "W"),
        ("capacity.cpu".into(), c.capacity.cpu, "cores"),
        ("capacity.memory_mib".into(), c.capacity.memory_mib, "MiB"),
        ("available.cpu".into(), c.available.cpu, "cores"),
        ("available.memory_mib".into(), c.available.memory_mib, "MiB"),
    ];
    let optional = [
        ("extra.facility_power_w", x.facility_power_w, "W"),
        ("extra.largest_free_cpu", x.largest_free_cpu, "cores"),
        (
            "extra.largest_free_memory_mib",
            x.largest_free_memory_mib,
            "MiB",
        ),
        ("extra.utilisation", x.utilisation, ""),
        ("extra.processing_ms", x.processing_ms, "ms"),
        ("extra.slo_ms", x.slo_ms, "ms"),
    ];
    out.extend(
        optional
            .into_iter()
            .filter_map(|(name, v, unit)| v.map(|v| (name.to_string(), v, unit))),
    );
    if let Some(d) = &x.server_detail {
        for (k, t) in d.types.iter().enumerate() {
            out.push((format!("server_detail type {k} cores"), t.cores, "cores"));
            out.push((
                format!("server_detail type {k} memory"),
                t.memory_mib,
                "MiB",
            ));
            out.push((format!("server_detail type {k} gpus"), t.gpus, ""));
            for (q, w) in t.curve_w.iter().enumerate() {
                out.push((format!("server_detail type {k} curve_w[{q}]"), *w, "W"));
            }
        }
        for (i, s) in d.servers.iter().enumerate() {
            out.push((format!("server_detail server {i} used CPU"), s[1], "cores"));
            out.push((format!("server_detail server {i} used memory"), s[2], "MiB"));
            out.push((
                format!("server_detail server {i} busy cores"),
                s[4],
                "cores",
            ));
            out.push((format!("server_detail server {i} power now"), s[5], "W"));
        }
    }
    out
}

/// The figures the model derives from several numbers (products and quotients that may
/// overflow although each factor is finite), with how each is obtained.
fn derived(c: &Cluster, x: &ClusterExtra) -> Vec<(Figure, String)> {
    let e = &c.energy;
    let pue = e.pue.max(1.0);
    let mut out = vec![(
        (
            "facility power at full load".into(),
            e.peak_power_w * pue,
            "W",
        ),
        format!(
            "energy.peak_power_w {} W × energy.pue {}",
            fig(e.peak_power_w),
            fig(e.pue)
        ),
    )];
    if c.capacity.cpu > 0.0 {
        out.push((
            (
                "facility power per core".into(),
                e.peak_power_w / c.capacity.cpu * pue,
                "W",
            ),
            format!(
                "energy.peak_power_w {} W / capacity.cpu {} × energy.pue {}",
                fig(e.peak_power_w),
                fig(c.capacity.cpu),
                fig(e.pue)
            ),
        ));
    }
    if let Some(d) = &x.server_detail {
        for (k, t) in d.types.iter().enumerate() {
            let top = t.curve_w.iter().copied().fold(0.0, f64::max);
            out.push((
                (
                    format!("facility power of a type {k} server at full load"),
                    top * pue,
                    "W",
                ),
                format!("{} W × energy.pue {}", fig(top), fig(e.pue)),
            ));
        }
    }
    out.push((
        (
            "on-site renewable supply".into(),
            e.renewable_supply_kw * 1000.0,
            "W",
        ),
        "energy.renewable_supply_kw × 1000".into(),
    ));
    out
}

/// The first figure of `c` the model cannot compute with: first a number that is not finite,
/// then a derived power that is not finite or not below [`LIMIT`], then a number not below it.
pub fn cluster(c: &Cluster) -> Option<String> {
    let x: ClusterExtra = extra::read(c.extra.as_str()).unwrap_or_default();
    let numbers = given(c, &x);
    let say = |(name, value, unit): &Figure| {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        format!("cluster `{}`: {name} {}{unit}", c.name, fig(*value))
    };
    if let Some(f) = numbers.iter().find(|(_, v, _)| !v.is_finite()) {
        return Some(say(f));
    }
    if let Some((f, from)) = derived(c, &x)
        .into_iter()
        .find(|((_, v, _), _)| !usable(*v))
    {
        return Some(format!("{} ({from})", say(&f)));
    }
    numbers.iter().find(|(_, v, _)| !usable(*v)).map(say)
}

/// Every cluster, service demand and latency of `req` the model cannot compute with, one
/// message each; `Err` is invalid input (an answer, not a malfunction: the host falls back to
/// its default strategy and does not quarantine this one) naming each.
pub fn check(req: &PlacementRequest) -> Result<(), PluginError> {
    let mut bad: Vec<String> = req.clusters.iter().filter_map(cluster).collect();
    for s in req.graph.services.iter() {
        let d = s.demand;
        let numbers = [("CPU", d.cpu, "cores"), ("memory", d.memory_mib, "MiB")];
        if let Some((name, v, unit)) = numbers.into_iter().find(|(_, v, _)| !usable(*v)) {
            bad.push(format!(
                "service `{}`: demand {name} {} {unit}",
                s.name,
                fig(v)
            ));
        }
    }
    let to_a_cluster = |to: &str| req.clusters.iter().any(|c| c.name == to);
    for l in req
        .telemetry
        .links
        .iter()
        .filter(|l| to_a_cluster(l.to.as_str()) && !usable(l.latency_ms))
    {
        bad.push(format!(
            "link `{}` -> `{}`: latency {} ms",
            l.from,
            l.to,
            fig(l.latency_ms)
        ));
    }
    if bad.is_empty() {
        return Ok(());
    }
    if bad.len() > LISTED {
        let more = bad.len() - LISTED;
        bad.truncate(LISTED);
        bad.push(format!("and {more} more"));
    }
    Err(PluginError::invalid_input(format!(
        "h3ni-energy cannot compute with these figures (each must be finite and below {}): {}",
        fig(LIMIT),
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
        assert_eq!(fig(1e308), "1e308");
        assert_eq!(fig(1e308 * 1.1), "1.1e308");
        assert_eq!(fig(2000.0), "2000");
        assert_eq!(fig(1.3), "1.3");
    }
}
