//! `smo simulate --seeds 42,7,1`: the same comparison on several workload samples, summarised
//! per strategy as the mean and range of its change against the baseline on the same seed.
//!
//! A change is `value / baseline value - 1` on one seed (negative: lower than the baseline);
//! seeds where the baseline's value is zero give no change and are left out of its range.

use super::bound::BoundRow;
use super::metrics::{StrategyRun, Totals};
use super::report::push_aligned;
use super::scenario::Scenario;
use serde::Serialize;
use std::fmt::Write as _;

/// One seed's comparison.
#[derive(Debug, Clone)]
pub struct SeedRuns {
    pub seed: u64,
    pub runs: Vec<StrategyRun>,
    /// With `--lower-bound`: the energy lower bound of each run, in the order of `runs`.
    pub bounds: Option<Vec<BoundRow>>,
}

/// One seed in the JSON document: each strategy's totals (hourly series and datacenters left
/// out).
#[derive(Serialize)]
struct SeedTotals<'a> {
    seed: u64,
    runs: Vec<RunTotals<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_bounds: Option<&'a [BoundRow]>,
}

#[derive(Serialize)]
struct RunTotals<'a> {
    strategy: &'a str,
    totals: Totals,
}

impl<'a> SeedTotals<'a> {
    /// Without `timing`, wall-clock decision times are left out, as in the one-seed JSON.
    fn of(s: &'a SeedRuns, timing: bool) -> Self {
        let runs = s
            .runs
            .iter()
            .map(|r| {
                let mut totals = r.totals.clone();
                if !timing {
                    totals.timing = None;
                }
                RunTotals {
                    strategy: &r.strategy,
                    totals,
                }
            })
            .collect();
        SeedTotals {
            seed: s.seed,
            runs,
            lower_bounds: s.bounds.as_deref(),
        }
    }
}

/// Mean, least and greatest of a measure over the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Range {
    /// `None` for no values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Range> {
        let mut n = 0usize;
        let (mut sum, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            n += 1;
            sum += v;
            min = min.min(v);
            max = max.max(v);
        }
        (n > 0).then(|| Range {
            mean: sum / n as f64,
            min,
            max,
        })
    }
}

/// One strategy over all the seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategySummary {
    pub strategy: String,
    pub energy_per_request_wh: Option<Range>,
    /// Energy per request against the baseline on the same seed (fraction; -0.25 = 25 % less).
    pub energy_per_request_change: Option<Range>,
    pub carbon_kg: Option<Range>,
    pub carbon_change: Option<Range>,
    /// Facility energy per VM core-hour against the baseline (VM-only runs).
    pub energy_per_vm_core_hour_change: Option<Range>,
    pub slo_violations: Option<Range>,
    pub failure_rate: Option<Range>,
    /// Per seed, in the order run: energy per request change, carbon change.
    pub per_seed: Vec<SeedChange>,
}

/// One strategy's changes on one seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SeedChange {
    pub seed: u64,
    pub energy_per_request_change: Option<f64>,
    pub carbon_change: Option<f64>,
}

fn change(value: f64, base: f64) -> Option<f64> {
    (base > 0.0 && value.is_finite()).then(|| value / base - 1.0)
}

/// The summary of the strategy at `index` of every seed's runs against the one at `base`
/// (every seed runs the same strategies in the same order).
fn summarise(seeds: &[SeedRuns], index: usize, base: usize) -> StrategySummary {
    let pairs: Vec<(u64, &Totals, &Totals)> = seeds
        .iter()
        .map(|s| (s.seed, &s.runs[index].totals, &s.runs[base].totals))
        .collect();
    let over = |f: &dyn Fn(&Totals) -> f64| Range::of(pairs.iter().map(|(_, t, _)| f(t)));
    let per_seed: Vec<SeedChange> = pairs
        .iter()
        .map(|(seed, t, b)| SeedChange {
            seed: *seed,
            energy_per_request_change: change(t.energy_per_request_wh, b.energy_per_request_wh),
            carbon_change: change(t.carbon_kg, b.carbon_kg),
        })
        .collect();
    let over_seeds = |f: fn(&SeedChange) -> Option<f64>| Range::of(per_seed.iter().filter_map(f));
    StrategySummary {
        strategy: seeds[0].runs[index].strategy.clone(),
        energy_per_request_wh: over(&|t| t.energy_per_request_wh),
        energy_per_request_change: over_seeds(|c| c.energy_per_request_change),
        carbon_kg: over(&|t| t.carbon_kg),
        carbon_change: over_seeds(|c| c.carbon_change),
        energy_per_vm_core_hour_change: Range::of(pairs.iter().filter_map(|(_, t, b)| {
            change(t.energy_per_vm_core_hour_wh?, b.energy_per_vm_core_hour_wh?)
        })),
        slo_violations: over(&|t| t.slo_violations as f64),
        failure_rate: over(&|t| t.failure_rate),
        per_seed,
    }
}

/// Every strategy's summary, in the order they were run, against `baseline` (the first
/// strategy when no run has that name).
pub fn summaries(seeds: &[SeedRuns], baseline: &str) -> Vec<StrategySummary> {
    let Some(first) = seeds.first() else {
        return Vec::new();
    };
    let base = first
        .runs
        .iter()
        .position(|r| r.strategy == baseline)
        .unwrap_or(0);
    (0..first.runs.len())
        .map(|i| summarise(seeds, i, base))
        .collect()
}

/// The JSON document of a multi-seed run.
#[derive(Serialize)]
struct Doc<'a> {
    scenario: &'a str,
    start: &'a str,
    hours: u32,
    step_minutes: u32,
    baseline: &'a str,
    data_source: &'a str,
    seeds: Vec<u64>,
    summary: Vec<StrategySummary>,
    per_seed: Vec<SeedTotals<'a>>,
}

/// The JSON document, pretty-printed, with a final newline. Without `timing`, wall-clock
/// decision times are left out and the output depends only on the scenario and the seeds.
pub fn json(scenario: &Scenario, seeds: &[SeedRuns], baseline: &str, timing: bool) -> String {
    let spec = &scenario.spec;
    let doc = Doc {
        scenario: &spec.name,
        start: &spec.start,
        hours: spec.hours,
        step_minutes: spec.step_minutes,
        baseline,
        data_source: spec.data_source.trim(),
        seeds: seeds.iter().map(|s| s.seed).collect(),
        summary: summaries(seeds, baseline),
        per_seed: seeds.iter().map(|s| SeedTotals::of(s, timing)).collect(),
    };
    // Plain structs of numbers and strings: serializing cannot fail.
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// One CSV row per seed and strategy: `seed`, then the columns of the one-seed CSV.
pub fn csv(seeds: &[SeedRuns], timing: bool) -> String {
    let mut out = String::new();
    for (i, s) in seeds.iter().enumerate() {
        let one = super::report::csv(&s.runs, timing);
        let mut lines = one.lines();
        // every seed's CSV starts with the same header: write it once
        let header = lines.next().unwrap_or_default();
        if i == 0 {
            let _ = writeln!(out, "seed,{header}");
        }
        for line in lines {
            let _ = writeln!(out, "{},{line}", s.seed);
        }
    }
    out
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:+.1}", v * 100.0))
}

fn range_cells(r: Option<Range>) -> [String; 3] {
    match r {
        Some(r) => [pct(Some(r.mean)), pct(Some(r.min)), pct(Some(r.max))],
        None => ["-".into(), "-".into(), "-".into()],
    }
}

/// The summary table, then energy per request and carbon change per seed.
pub fn table(scenario: &Scenario, seeds: &[SeedRuns], baseline: &str) -> String {
    let spec = &scenario.spec;
    let list: Vec<String> = seeds.iter().map(|s| s.seed.to_string()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} seeds ({}), {} h from {}, steps of {} min; baseline {}",
        spec.name,
        seeds.len(),
        list.join(", "),
        spec.hours,
        spec.start,
        spec.step_minutes,
        baseline
    );
    out.push_str(
        "changes are against the baseline on the same seed, in % (negative: lower); \
         mean, then least and greatest over the seeds\n",
    );
    let summary = summaries(seeds, baseline);
    let header = [
        "strategy",
        "Wh/req",
        "E/req chg",
        "min",
        "max",
        "carbon chg",
        "min",
        "max",
        "Wh/core-h chg",
        "SLO viol",
        "fail %",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for s in &summary {
        let mut row = vec![
            s.strategy.clone(),
            s.energy_per_request_wh
                .map_or("-".into(), |r| super::report::wh_per_request(r.mean)),
        ];
        row.extend(range_cells(s.energy_per_request_change));
        row.extend(range_cells(s.carbon_change));
        row.push(pct(s.energy_per_vm_core_hour_change.map(|r| r.mean)));
        row.push(
            s.slo_violations
                .map_or("-".into(), |r| format!("{:.0}", r.mean)),
        );
        row.push(
            s.failure_rate
                .map_or("-".into(), |r| format!("{:.2}", r.mean * 100.0)),
        );
        rows.push(row);
    }
    push_aligned(&mut out, &rows);
    out.push_str("\nper seed: energy per request change / carbon change, %\n");
    let mut rows: Vec<Vec<String>> = vec![std::iter::once("strategy".to_string())
        .chain(list.iter().cloned())
        .collect()];
    for s in &summary {
        let mut row = vec![s.strategy.clone()];
        row.extend(s.per_seed.iter().map(|c| {
            format!(
                "{}/{}",
                pct(c.energy_per_request_change),
                pct(c.carbon_change)
            )
        }));
        rows.push(row);
    }
    push_aligned(&mut out, &rows);
    if seeds.iter().all(|s| s.bounds.is_some()) && !seeds.is_empty() {
        bound_table(&mut out, seeds, &list, baseline);
    }
    out
}

/// `--lower-bound`: per strategy and seed, its bound's energy per request against the
/// baseline's, and how far the run is above its bound.
fn bound_table(out: &mut String, seeds: &[SeedRuns], list: &[String], baseline: &str) {
    let _ = writeln!(
        out,
        "\nper seed: energy lower bound (hourly LP, `--lower-bound`) against {baseline}'s energy \
         per request / the run's energy above its bound, %"
    );
    let mut rows: Vec<Vec<String>> = vec![std::iter::once("strategy".to_string())
        .chain(list.iter().cloned())
        .collect()];
    let strategies = seeds[0].runs.iter().map(|r| r.strategy.clone());
    for (i, name) in strategies.enumerate() {
        let mut row = vec![name];
        for s in seeds {
            let b = s.bounds.as_ref().and_then(|b| b.get(i));
            row.push(b.map_or("-".into(), |b| {
                format!(
                    "{}/{}",
                    pct(b.bound_change),
                    pct(change(b.energy_kwh, b.bound_kwh))
                )
            }));
        }
        rows.push(row);
    }
    push_aligned(out, &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_the_mean_and_the_extremes() {
        let r = Range::of([-0.3, -0.1, -0.2]).unwrap();
        assert!((r.mean + 0.2).abs() < 1e-12);
        assert_eq!((r.min, r.max), (-0.3, -0.1));
        assert_eq!(Range::of([]), None);
    }

    #[test]
    fn no_change_against_a_baseline_of_zero() {
        assert_eq!(change(5.0, 0.0), None);
        assert_eq!(change(3.0, 4.0), Some(-0.25));
    }
}
