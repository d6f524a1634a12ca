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

/// The first number of `c` the model reads, as the request gives them (the host's `extra`
/// too), that is `bad`; named only then, since a simulated cluster has hundreds of servers.
fn first_given(c: &Cluster, x: &ClusterExtra, bad: impl Fn(f64) -> bool) -> Option<Figure> {
    let e = &c.energy;
    let own = [
        ("energy.pue", e.pue, ""),
        (
            "energy.carbon_intensity_g_per_kwh",
            e.carbon_intensity_g_per_kwh,
            "g/kWh",
        ),
        ("energy.renewable_supply_kw", e.renewable_supply_kw, "kW"),
        ("energy.peak_power_w", e.peak_power_w, "W"),
        ("capacity.cpu", c.capacity.cpu, "cores"),
        ("capacity.memory_mib", c.capacity.memory_mib, "MiB"),
        ("available.cpu", c.available.cpu, "cores"),
        ("available.memory_mib", c.available.memory_mib, "MiB"),
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
    let found = own
        .into_iter()
        .chain(
            optional
                .into_iter()
                .filter_map(|(name, v, unit)| v.map(|v| (name, v, unit))),
        )
        .find(|(_, v, _)| bad(*v));
    if let Some((name, v, unit)) = found {
        return Some((name.to_string(), v, unit));
    }
    let d = x.server_detail.as_ref()?;
    for (k, t) in d.types.iter().enumerate() {
        let numbers = [
            ("cores", t.cores, "cores"),
            ("memory", t.memory_mib, "MiB"),
            ("gpus", t.gpus, ""),
        ];
        if let Some((what, v, unit)) = numbers.into_iter().find(|(_, v, _)| bad(*v)) {
            return Some((format!("server_detail type {k} {what}"), v, unit));
        }
        if let Some((q, w)) = t.curve_w.iter().enumerate().find(|(_, w)| bad(**w)) {
            return Some((format!("server_detail type {k} curve_w[{q}]"), *w, "W"));
        }
    }
    for (i, s) in d.servers.iter().enumerate() {
        let numbers = [
            ("used CPU", s[1], "cores"),
            ("used memory", s[2], "MiB"),
            ("busy cores", s[4], "cores"),
            ("power now", s[5], "W"),
        ];
        if let Some((what, v, unit)) = numbers.into_iter().find(|(_, v, _)| bad(*v)) {
            return Some((format!("server_detail server {i} {what}"), v, unit));
        }
    }
    None
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
    cluster_with(c, &extra::read(c.extra.as_str()).unwrap_or_default())
}

/// [`cluster`], with its `extra` already read as `x`.
fn cluster_with(c: &Cluster, x: &ClusterExtra) -> Option<String> {
    let say = |(name, value, unit): &Figure| {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        format!("cluster `{}`: {name} {}{unit}", c.name, fig(*value))
    };
    if let Some(f) = first_given(c, x, |v| !v.is_finite()) {
        return Some(say(&f));
    }
    if let Some((f, from)) = derived(c, x).into_iter().find(|((_, v, _), _)| !usable(*v)) {
        return Some(format!("{} ({from})", say(&f)));
    }
    first_given(c, x, |v| !usable(v)).map(|f| say(&f))
}

/// Every cluster, service demand and latency of `req` the model cannot compute with, one
/// message each; `Err` is invalid input (an answer, not a malfunction: the host falls back to
/// its default strategy and does not quarantine this one) naming each.
pub fn check(req: &PlacementRequest) -> Result<(), PluginError> {
    let extras: Vec<ClusterExtra> = req
        .clusters
        .iter()
        .map(|c| extra::read(c.extra.as_str()).unwrap_or_default())
        .collect();
    check_with(req, &extras)
}

/// [`check`], with each cluster's `extra` already read (`extras`, in the order of
/// `req.clusters`): the placement reads them once for this and its model.
pub fn check_with(req: &PlacementRequest, extras: &[ClusterExtra]) -> Result<(), PluginError> {
    let mut bad: Vec<String> = req
        .clusters
        .iter()
        .zip(extras)
        .filter_map(|(c, x)| cluster_with(c, x))
        .collect();
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
