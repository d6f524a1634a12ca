//! Output of `smo simulate` for an ecosystem scenario: the comparison table, CSV (one row per
//! run) and JSON (`{"scenario", "seed", ..., "runs": [{"run", "totals", "hourly"}]}`).

use super::EcosystemRun;
use crate::scenario::Scenario;
use serde::Serialize;
use std::fmt::Write as _;

/// The runs as printed: without `timing`, their wall-clock decision time is zeroed (output that
/// depends only on the scenario and its seed).
fn runs_for_output(runs: &[EcosystemRun], timing: bool) -> Vec<EcosystemRun> {
    runs.iter()
        .cloned()
        .map(|mut r| {
            if !timing {
                r.totals.decide_ms = 0.0;
            }
            r
        })
        .collect()
}

/// The comparison table; without `timing`, the decide column is left out.
pub fn table(sc: &Scenario, runs: &[EcosystemRun], timing: bool) -> String {
    let spec = &sc.spec;
    let mut out = String::new();
    let apps: u32 = spec
        .ecosystem
        .as_ref()
        .map_or(0, |e| e.applications.iter().map(|a| a.count).sum());
    let _ = writeln!(
        out,
        "{} (seed {}): {} h in {}-minute steps, {} application instances on {} datacenters",
        spec.name,
        spec.seed,
        spec.hours,
        spec.step_minutes,
        apps,
        spec.datacenters.len()
    );
    let _ = write!(
        out,
        "{:<28} {:>6} {:>6} {:>7} {:>7} {:>8} {:>8} {:>6} {:>9} {:>8}",
        "run",
        "score",
        "worst",
        "below%",
        "unmet%",
        "resp ms",
        "p95 ms",
        "moves",
        "down s",
        "moved GiB"
    );
    if timing {
        let _ = write!(out, " {:>9}", "decide ms");
    }
    out.push('\n');
    for r in runs {
        let t = &r.totals;
        let _ = write!(
            out,
            "{:<28} {:>6.3} {:>6.3} {:>7.1} {:>7.1} {:>8.1} {:>8.1} {:>6} {:>9.1} {:>8.1}",
            r.run,
            t.mean_score,
            t.worst_score,
            t.below_pct,
            t.violated_pct,
            t.response_ms,
            t.response_p95_ms,
            t.migrations,
            t.downtime_s,
            t.moved_gib
        );
        if timing && t.strategy_calls > 0 {
            let _ = write!(out, " {:>9.3}", t.decide_ms);
        } else if timing {
            let _ = write!(out, " {:>9}", "-");
        }
        out.push('\n');
    }
    let unplaced: usize = runs.iter().map(|r| r.totals.unplaced).max().unwrap_or(0);
    if unplaced > 0 {
        let _ = writeln!(
            out,
            "note: {unplaced} tier(s) found no datacenter with room when they arrived"
        );
    }
    out
}

/// One CSV row per run.
pub fn csv(runs: &[EcosystemRun], timing: bool) -> String {
    let mut out = String::from(
        "run,deployed,unplaced,mean_score,worst_score,below_pct,violated_pct,response_ms,\
         response_p95_ms,migrations,downtime_s,moved_gib,strategy_calls,strategy_errors",
    );
    if timing {
        out.push_str(",decide_ms");
    }
    out.push('\n');
    for r in runs {
        let t = &r.totals;
        let _ = write!(
            out,
            "{},{},{},{:.6},{:.6},{:.3},{:.3},{:.3},{:.3},{},{:.3},{:.3},{},{}",
            r.run,
            t.deployed,
            t.unplaced,
            t.mean_score,
            t.worst_score,
            t.below_pct,
            t.violated_pct,
            t.response_ms,
            t.response_p95_ms,
            t.migrations,
            t.downtime_s,
            t.moved_gib,
            t.strategy_calls,
            t.strategy_errors
        );
        if timing {
            let _ = write!(out, ",{:.4}", t.decide_ms);
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct Doc<'a> {
    scenario: &'a str,
    seed: u64,
    start: &'a str,
    hours: u32,
    step_minutes: u32,
    runs: Vec<EcosystemRun>,
}

/// The JSON document, pretty-printed, with a final newline.
pub fn json(sc: &Scenario, runs: &[EcosystemRun], timing: bool) -> String {
    let spec = &sc.spec;
    let doc = Doc {
        scenario: &spec.name,
        seed: spec.seed,
        start: &spec.start,
        hours: spec.hours,
        step_minutes: spec.step_minutes,
        runs: runs_for_output(runs, timing),
    };
    let mut text =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}
