//! Output of `smo simulate`: the comparison table, CSV, the JSON document other tools read,
//! and a plot of hourly energy, carbon and renewable share per strategy (PNG or SVG).
//!
//! JSON shape: `{"scenario", "seed", ..., "strategies": [{"strategy", "totals", "hourly",
//! "datacenters"}]}`; key names are those of [`super::metrics`].

use super::metrics::StrategyRun;
use super::scenario::Scenario;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Once;

/// The JSON document.
#[derive(Serialize)]
struct Doc<'a> {
    scenario: &'a str,
    seed: u64,
    start: &'a str,
    hours: u32,
    step_minutes: u32,
    baseline: &'a str,
    data_source: &'a str,
    strategies: Vec<StrategyRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_bounds: Option<&'a [super::bound::BoundRow]>,
}

fn runs_for_output(runs: &[StrategyRun], timing: bool) -> Vec<StrategyRun> {
    if timing {
        runs.to_vec()
    } else {
        runs.iter().map(StrategyRun::without_timing).collect()
    }
}

/// The JSON document, pretty-printed, with a final newline. Without `timing`, wall-clock
/// decision times are left out and the output depends only on the scenario and seed.
pub fn json(scenario: &Scenario, runs: &[StrategyRun], baseline: &str, timing: bool) -> String {
    json_with_bounds(scenario, runs, baseline, timing, None)
}

/// As [`json`], with `lower_bounds` (from `--lower-bound`) after the strategies when given.
pub fn json_with_bounds(
    scenario: &Scenario,
    runs: &[StrategyRun],
    baseline: &str,
    timing: bool,
    lower_bounds: Option<&[super::bound::BoundRow]>,
) -> String {
    let spec = &scenario.spec;
    let doc = Doc {
        scenario: &spec.name,
        seed: spec.seed,
        start: &spec.start,
        hours: spec.hours,
        step_minutes: spec.step_minutes,
        baseline,
        data_source: spec.data_source.trim(),
        strategies: runs_for_output(runs, timing),
        lower_bounds,
    };
    // Serializing plain structs of numbers and strings cannot fail.
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// The CSV columns: the strategy, then [`super::metrics::Totals`] keys in this order.
const CSV_COLUMNS: [&str; 19] = [
    "strategy",
    "energy_kwh",
    "it_energy_kwh",
    "carbon_kg",
    "renewable_share",
    "carbon_reduction",
    "failure_rate",
    "mean_response_ms",
    "p95_response_ms",
    "slo_violations",
    "migrations",
    "cost",
    "energy_per_request_wh",
    "requests",
    "served",
    "failed",
    "invalid_decisions",
    "strategy_errors",
    "strategy_calls",
];

/// The extra columns with `timing` (keys of [`super::metrics::Timing`], flattened in totals).
const CSV_TIMING_COLUMNS: [&str; 3] = [
    "decision_time_ms",
    "decision_time_ms_mean",
    "decision_time_ms_max",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV cell from a JSON value: numbers as JSON writes them, `null` or absent as empty.
fn csv_cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => csv_field(s),
        Some(other) => other.to_string(),
    }
}

/// Energy per request as the tables print it: 2 decimals, 4 below 1 Wh (service requests).
pub fn wh_per_request(wh: f64) -> String {
    if wh >= 1.0 {
        format!("{wh:.2}")
    } else {
        format!("{wh:.4}")
    }
}

/// One row of totals per strategy (with the timing columns when `timing`). The cells are
/// read from the totals' JSON form by column name, so the CSV and the JSON cannot disagree.
pub fn csv(runs: &[StrategyRun], timing: bool) -> String {
    let timing_columns: &[&str] = if timing { &CSV_TIMING_COLUMNS } else { &[] };
    let mut out = CSV_COLUMNS.join(",");
    for c in timing_columns {
        out.push(',');
        out.push_str(c);
    }
    out.push('\n');
    for r in runs {
        let totals = serde_json::to_value(&r.totals).unwrap_or_default();
        let mut row = vec![csv_field(&r.strategy)];
        row.extend(
            CSV_COLUMNS[1..]
                .iter()
                .chain(timing_columns)
                .map(|c| csv_cell(totals.get(c))),
        );
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The comparison table printed by default.
pub fn table(scenario: &Scenario, runs: &[StrategyRun], baseline: &str, timing: bool) -> String {
    let spec = &scenario.spec;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} h from {}, seed {}, {} steps of {} min; baseline {}",
        spec.name,
        spec.hours,
        spec.start,
        spec.seed,
        scenario.steps(),
        spec.step_minutes,
        baseline
    );
    let mut header = vec![
        "strategy",
        "energy kWh",
        "carbon kg",
        "renew %",
        "vs base %",
        "mean ms",
        "p95 ms",
        "fail %",
        "SLO viol",
        "migr",
        "cost",
        "Wh/req",
    ];
    if timing {
        header.push("decide ms");
    }
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in runs {
        let t = &r.totals;
        let mut row = vec![
            r.strategy.clone(),
            format!("{:.2}", t.energy_kwh),
            format!("{:.3}", t.carbon_kg),
            format!("{:.1}", t.renewable_share * 100.0),
            t.carbon_reduction
                .map_or("-".into(), |x| format!("{:.1}", x * 100.0)),
            format!("{:.1}", t.mean_response_ms),
            format!("{:.1}", t.p95_response_ms),
            format!("{:.2}", t.failure_rate * 100.0),
            t.slo_violations.to_string(),
            t.migrations.to_string(),
            format!("{:.2}", t.cost),
            wh_per_request(t.energy_per_request_wh),
        ];
        if timing {
            let tm = t.timing.clone().unwrap_or_default();
            row.push(format!("{:.1}", tm.decision_time_ms));
        }
        rows.push(row);
    }
    push_aligned(&mut out, &rows);
    services_table(&mut out, runs, timing);
    out
}

/// Appends `rows` as aligned columns: the first left-aligned, the others right-aligned, two
/// spaces apart (every row must have the first row's number of cells).
pub(crate) fn push_aligned(out: &mut String, rows: &[Vec<String>]) {
    let Some(first) = rows.first() else {
        return;
    };
    let widths: Vec<usize> = (0..first.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                let _ = write!(line, "{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(line, "  {cell:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// Services only: proactive allocation accuracy, elasticity after load steps, and the
/// scaling strategy's forecast error per service ("predicted vs actual").
fn services_table(out: &mut String, runs: &[StrategyRun], timing: bool) {
    if runs.iter().all(|r| r.totals.allocation_accuracy.is_none()) {
        return;
    }
    out.push_str(
        "services: alloc acc % = scaling intervals whose capacity covered demand with <= 20 % over-provisioning; \
         SLO band % = the same, counted from the capacity that meets the SLO; \
         elasticity = simulated s from a load step to enough capacity (+ decide ms)\n",
    );
    for r in runs {
        let t = &r.totals;
        let mut line = format!(
            "  {:<40} alloc acc {:>6}  SLO band {:>6}  load steps {} ({} unanswered)  elasticity {} s",
            r.strategy,
            t.allocation_accuracy
                .map_or("-".into(), |a| format!("{:.2}", a * 100.0)),
            t.slo_allocation_accuracy
                .map_or("-".into(), |a| format!("{:.2}", a * 100.0)),
            t.elasticity_events.unwrap_or(0),
            t.elasticity_unresolved.unwrap_or(0),
            t.elasticity_s_max.map_or("-".into(), |s| format!("{s:.0}")),
        );
        if timing {
            if let Some(ms) = t.timing.as_ref().and_then(|x| x.elasticity_decision_ms_max) {
                let _ = write!(line, " + {ms:.3} ms");
            }
        }
        out.push_str(&line);
        out.push('\n');
        for f in &t.forecasts {
            let _ = writeln!(
                out,
                "    {:<20} predicted {:>9.2} rps  actual {:>9.2} rps  MAPE {:>6.2} %  ({} calls)",
                f.service,
                f.mean_predicted_rps,
                f.mean_actual_rps,
                f.mape * 100.0,
                f.calls
            );
        }
    }
}

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("font/DejaVuSans-subset.ttf");

fn register_font() {
    FONT.call_once(|| {
        // The embedded font is valid; if it were not, text would be missing, not the plot.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES);
    });
}

/// Draws hourly energy, carbon and renewable share per strategy into `path`: SVG when the
/// extension is `.svg`, PNG when `.png`.
pub fn plot(runs: &[StrategyRun], title: &str, path: &Path) -> Result<(), String> {
    register_font();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let size = (1200, 1050);
    match ext.as_deref() {
        Some("svg") => draw(SVGBackend::new(path, size).into_drawing_area(), runs, title),
        Some("png") => draw(
            BitMapBackend::new(path, size).into_drawing_area(),
            runs,
            title,
        ),
        _ => Err("the plot file must end in .png or .svg".into()),
    }
}

const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    runs: &[StrategyRun],
    title: &str,
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root
        .titled(title, ("sans-serif", 26).into_font())
        .map_err(e)?;
    let panels = root.split_evenly((3, 1));
    type Metric = fn(&super::metrics::HourMetrics) -> f64;
    let metrics: [(&str, Metric); 3] = [
        ("facility energy (kWh per hour)", |h| h.energy_kwh),
        ("carbon (kg CO2eq per hour)", |h| h.carbon_kg),
        ("on-site renewable share (%)", |h| h.renewable_share * 100.0),
    ];
    let hours = runs
        .iter()
        .map(|r| r.hourly.len())
        .max()
        .unwrap_or(0)
        .max(1);
    for (panel, (label, f)) in panels.iter().zip(metrics) {
        let ymax = runs
            .iter()
            .flat_map(|r| r.hourly.iter().map(f))
            .fold(0.0_f64, f64::max);
        // Head room above the highest line for the legend.
        let ymax = if ymax > 0.0 { ymax * 1.3 } else { 1.0 };
        let mut chart = ChartBuilder::on(panel)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .caption(label, ("sans-serif", 18).into_font())
            .build_cartesian_2d(0f64..hours as f64, 0f64..ymax)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("hour")
            .x_labels(13.min(hours + 1))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(6)
            .label_style(("sans-serif", 14).into_font())
            .axis_desc_style(("sans-serif", 14).into_font())
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        for (i, run) in runs.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            // Each hour's value is drawn at the middle of the hour.
            let points = run
                .hourly
                .iter()
                .enumerate()
                .map(|(h, m)| (h as f64 + 0.5, f(m)));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(e)?
                .label(run.strategy.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 14).into_font())
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::set_baseline;
    use crate::step_loop::simulate;
    use crate::testing::{scenarios_dir, TestDriver};

    fn eu_runs(seed: Option<u64>) -> (Scenario, Vec<StrategyRun>) {
        let mut s = Scenario::load(&scenarios_dir().join("eu-5dc-24h.yaml")).unwrap();
        if let Some(seed) = seed {
            s.set_seed(seed);
        }
        let d = TestDriver;
        let mut runs: Vec<StrategyRun> = ["test/greenest", "test/first-fit", "test/nearest"]
            .iter()
            .map(|name| simulate(&s, name, &d, None).unwrap())
            .collect();
        set_baseline(&mut runs, "test/first-fit");
        (s, runs)
    }

    #[test]
    fn same_seed_same_json_byte_for_byte() {
        let (s, a) = eu_runs(None);
        let (_, b) = eu_runs(None);
        let ja = json(&s, &a, "test/first-fit", false);
        assert_eq!(ja, json(&s, &b, "test/first-fit", false));
        assert_eq!(csv(&a, false), csv(&b, false));
        assert!(
            !ja.contains("decision_time"),
            "no wall-clock time without timing"
        );
        let (_, c) = eu_runs(Some(7));
        assert_ne!(
            ja,
            json(&s, &c, "test/first-fit", false),
            "the seed matters"
        );
    }

    #[test]
    fn json_has_the_contract_keys_and_strategies_differ() {
        let (s, runs) = eu_runs(None);
        let doc: serde_json::Value =
            serde_json::from_str(&json(&s, &runs, "test/first-fit", true)).unwrap();
        assert_eq!(doc["scenario"], "eu-5dc-24h");
        assert_eq!(doc["seed"], 42);
        let strategies = doc["strategies"].as_array().unwrap();
        assert_eq!(strategies.len(), 3);
        // Every CSV column is a key of the totals (the CSV reads its cells by name).
        for key in CSV_COLUMNS[1..].iter().chain(&CSV_TIMING_COLUMNS) {
            assert!(
                strategies[0]["totals"].get(key).is_some(),
                "missing totals.{key}"
            );
        }
        assert_eq!(strategies[0]["hourly"].as_array().unwrap().len(), 24);
        assert!(strategies[0]["hourly"][0].get("energy_kwh").is_some());
        let carbon: Vec<f64> = strategies
            .iter()
            .map(|s| s["totals"]["carbon_kg"].as_f64().unwrap())
            .collect();
        assert!(
            carbon[0] < carbon[1],
            "greenest emits less than first-fit: {carbon:?}"
        );
        let p95: Vec<f64> = strategies
            .iter()
            .map(|s| s["totals"]["p95_response_ms"].as_f64().unwrap())
            .collect();
        assert!(
            p95[2] < p95[0],
            "nearest answers faster than greenest: {p95:?}"
        );
        assert_eq!(strategies[1]["totals"]["carbon_reduction"], 0.0);
    }

    #[test]
    fn table_and_csv_list_every_strategy() {
        let (s, runs) = eu_runs(None);
        let t = table(&s, &runs, "test/first-fit", true);
        assert!(t.lines().count() == 5, "{t}");
        assert!(
            t.contains("test/greenest") && t.contains("decide ms"),
            "{t}"
        );
        let c = csv(&runs, false);
        assert_eq!(c.lines().count(), 4);
        assert!(c.starts_with("strategy,energy_kwh,"));
        assert_eq!(
            csv_field("placement=a/b,scaling=c/d"),
            "\"placement=a/b,scaling=c/d\""
        );
    }

    #[test]
    fn plots_are_written_as_png_and_svg() {
        let (_, runs) = eu_runs(None);
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("plot.png");
        plot(&runs, "eu-5dc-24h", &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(
            bytes.len() > 20_000,
            "a real picture, {} bytes",
            bytes.len()
        );
        let svg = dir.path().join("plot.svg");
        plot(&runs, "eu-5dc-24h", &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.contains("test/greenest"));
        assert!(plot(&runs, "x", &dir.path().join("plot.gif")).is_err());
        if let Some(keep) = std::env::var_os("SMO_SIM_KEEP_PLOT") {
            std::fs::copy(&png, keep).unwrap();
        }
    }
}
