//! `smo simulate SCENARIO.yaml --strategy a/b --strategy c/d ...`: runs each strategy on the
//! same inputs and prints one comparison (table, `--csv` or `--json`), optionally a plot.

use super::bound;
use super::driver::StrategyDriver;
use super::metrics::{set_baseline, StrategyRun};
use super::report;
use super::scenario::Scenario;
use super::seeds::{self, SeedRuns};
use super::step_loop::{simulate_with, SimError, SimOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `smo simulate`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SimulateArgs {
    /// The scenario file (see scenarios/README.md).
    pub scenario: PathBuf,
    /// A strategy to run, `plugin/name` (placement) or
    /// `placement=a/b,scaling=c/d,migration=e/f,vm_migration=g/h` (`migration` moves services,
    /// `vm_migration` running VMs); repeat to compare. Any name takes parameters
    /// as `plugin/name?key=value&key=value` (values read as JSON, else as strings; without them
    /// the strategy gets `{}`, its defaults). Default: the scenario's `strategies.compare` list.
    #[arg(long = "strategy", value_name = "STRATEGY")]
    pub strategies: Vec<String>,
    /// Print the comparison as CSV (one row per strategy).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print one JSON document with totals and hourly metrics per strategy.
    #[arg(long)]
    pub json: bool,
    /// With --json: also the decision record of every strategy call of each run (strategy,
    /// plugin version, simulated time, duration, outcome, reasons, the decision), as
    /// `decisions` under each strategy; the same records `smo serve` keeps.
    #[arg(long, requires = "json")]
    pub decisions: bool,
    /// Draw hourly energy, carbon and renewable share per strategy (.png or .svg).
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
    /// Replace the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run the comparison once per seed (comma-separated, e.g. `42,2024,7,1`) and print each
    /// strategy's change against the baseline on the same seed: mean, least and greatest, then
    /// per seed. With --json: the summary and every seed's totals; with --csv: one row per
    /// seed and strategy.
    #[arg(long, value_delimiter = ',', value_name = "SEEDS", conflicts_with_all = ["seed", "plot"])]
    pub seeds: Vec<u64>,
    /// Replace the scenario's horizon, in hours: a shorter run is the file's first hours (the
    /// same VM arrivals), a longer one keeps the file's VMs per hour.
    #[arg(long)]
    pub hours: Option<u32>,
    /// The strategy carbon reduction (M2) is measured against (default: the first one).
    #[arg(long, value_name = "STRATEGY")]
    pub baseline: Option<String>,
    /// Leave out wall-clock decision times, so the output is the same byte for byte on every
    /// run with the same seed.
    #[arg(long)]
    pub no_timing: bool,
    /// No progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Also print, per strategy, a lower bound on the energy any placement of the work it
    /// served (VMs, and services' busy replicas) would use, answering in time what it answered
    /// in time (an hourly LP solved by HiGHS; no GPUs). With --json: a `lower_bounds` list.
    #[arg(long, conflicts_with = "csv")]
    pub lower_bound: bool,
    /// Where parsed data files are kept between runs (see [`crate::trace_cache`]); `smo
    /// simulate` puts them under its state directory. `None`: nothing is cached.
    #[arg(skip)]
    pub cache_dir: Option<PathBuf>,
}

/// Runs the comparison and prints it to stdout; the progress bar and notes go to stderr.
pub fn run(args: &SimulateArgs, driver: &dyn StrategyDriver) -> Result<(), SimError> {
    let scenario = load(args)?;
    if scenario.spec.ecosystem.is_some() {
        let text = crate::ecosystem::compare::run(args, &scenario, driver)?;
        return print(&text);
    }
    if !args.seeds.is_empty() {
        return run_seeds(args, scenario, driver);
    }
    let (scenario, runs, baseline) = compare_on(args, scenario, driver)?;
    let timing = !args.no_timing;
    let bounds = bounds(args, &scenario, &runs, &baseline)?;
    let text = if args.json {
        report::json_with_bounds(&scenario, &runs, &baseline, timing, bounds.as_deref())
    } else if args.csv {
        report::csv(&runs, timing)
    } else {
        let mut t = report::table(&scenario, &runs, &baseline, timing);
        if let Some(rows) = &bounds {
            t.push_str(&bound::table(rows, &baseline));
        }
        t
    };
    print(&text)?;
    if let Some(path) = &args.plot {
        let title = format!("{} (seed {})", scenario.spec.name, scenario.spec.seed);
        report::plot(&runs, &title, path).map_err(|message| SimError::Output {
            path: path.clone(),
            message,
        })?;
        eprintln!("plot written to {}", path.display());
    }
    Ok(())
}

fn bound_error(e: bound::BoundError) -> SimError {
    SimError::Usage(format!("--lower-bound: {e}"))
}

/// With `--lower-bound`: the bound of each run (see [`bound::rows`]); `None` without it.
fn bounds(
    args: &SimulateArgs,
    scenario: &Scenario,
    runs: &[StrategyRun],
    baseline: &str,
) -> Result<Option<Vec<bound::BoundRow>>, SimError> {
    if !args.lower_bound {
        return Ok(None);
    }
    eprintln!("energy lower bound: one LP per hour and strategy ...");
    bound::rows(scenario, runs, baseline)
        .map(Some)
        .map_err(bound_error)
}

pub(crate) fn print(text: &str) -> Result<(), SimError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| SimError::Output {
            path: "stdout".into(),
            message: e.to_string(),
        })
}

/// `--seeds`: the comparison on each seed, then the summary across them.
fn run_seeds(
    args: &SimulateArgs,
    scenario: Scenario,
    driver: &dyn StrategyDriver,
) -> Result<(), SimError> {
    let (scenario, seeds, baseline) = compare_seeds_on(args, scenario, driver)?;
    let timing = !args.no_timing;
    let text = if args.json {
        seeds::json(&scenario, &seeds, &baseline, timing)
    } else if args.csv {
        seeds::csv(&seeds, timing)
    } else {
        seeds::table(&scenario, &seeds, &baseline)
    };
    print(&text)
}

/// Runs every strategy once per seed of `args.seeds` (each must be listed once) on the scenario
/// loaded once; returns the scenario with the last seed, every seed's runs and the baseline.
pub fn compare_seeds(
    args: &SimulateArgs,
    driver: &dyn StrategyDriver,
) -> Result<(Scenario, Vec<SeedRuns>, String), SimError> {
    compare_seeds_on(args, load(args)?, driver)
}

/// As [`compare_seeds`], on a scenario already loaded.
fn compare_seeds_on(
    args: &SimulateArgs,
    mut scenario: Scenario,
    driver: &dyn StrategyDriver,
) -> Result<(Scenario, Vec<SeedRuns>, String), SimError> {
    if args.seeds.is_empty() {
        return Err(SimError::Usage("--seeds: no seed given".into()));
    }
    for (i, seed) in args.seeds.iter().enumerate() {
        if args.seeds[..i].contains(seed) {
            return Err(SimError::Usage(format!("--seeds: {seed} is listed twice")));
        }
    }
    if args.lower_bound {
        bound::supported(&scenario).map_err(bound_error)?;
    }
    let mut out = Vec::with_capacity(args.seeds.len());
    let mut baseline = String::new();
    for (i, &seed) in args.seeds.iter().enumerate() {
        let _span = tracing::info_span!("seed", seed, of = args.seeds.len()).entered();
        tracing::info!("seed {seed}: {} of {}", i + 1, args.seeds.len());
        scenario.set_seed(seed);
        let (runs, base) = run_strategies(args, &scenario, driver)?;
        let bounds = bounds(args, &scenario, &runs, &base)?;
        out.push(SeedRuns { seed, runs, bounds });
        baseline = base;
    }
    Ok((scenario, out, baseline))
}

/// Loads the scenario, applies the overrides and runs every strategy; returns the runs with
/// `carbon_reduction` set against the baseline.
pub fn compare(
    args: &SimulateArgs,
    driver: &dyn StrategyDriver,
) -> Result<(Scenario, Vec<StrategyRun>, String), SimError> {
    compare_on(args, load(args)?, driver)
}

/// As [`compare`], on a scenario already loaded.
fn compare_on(
    args: &SimulateArgs,
    scenario: Scenario,
    driver: &dyn StrategyDriver,
) -> Result<(Scenario, Vec<StrategyRun>, String), SimError> {
    if args.lower_bound {
        bound::supported(&scenario).map_err(bound_error)?;
    }
    let (runs, baseline) = run_strategies(args, &scenario, driver)?;
    Ok((scenario, runs, baseline))
}

/// Checks `--plot`, loads the scenario and applies `--seed` and `--hours`.
pub(crate) fn load(args: &SimulateArgs) -> Result<Scenario, SimError> {
    if let Some(path) = &args.plot {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("png" | "svg")) {
            return Err(SimError::Usage(format!(
                "--plot {}: the file must end in .png or .svg",
                path.display()
            )));
        }
    }
    let mut scenario = Scenario::load_cached(&args.scenario, args.cache_dir.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.set_seed(seed);
    }
    if let Some(hours) = args.hours {
        scenario.set_hours(hours).map_err(|mut e| {
            e.file = Some(args.scenario.clone());
            e
        })?;
    }
    Ok(scenario)
}

/// Runs every strategy of `args` (or the scenario's `strategies.compare`) on `scenario`;
/// returns the runs with `carbon_reduction` set against the baseline, and the baseline.
fn run_strategies(
    args: &SimulateArgs,
    scenario: &Scenario,
    driver: &dyn StrategyDriver,
) -> Result<(Vec<StrategyRun>, String), SimError> {
    let strategies = if args.strategies.is_empty() {
        scenario.spec.strategies.compare.clone()
    } else {
        args.strategies.clone()
    };
    if strategies.is_empty() {
        return Err(SimError::Usage(format!(
            "{}: no strategy to run: pass --strategy plugin/name (or list them under \
             strategies.compare in the scenario)",
            args.scenario.display()
        )));
    }
    let baseline = args
        .baseline
        .clone()
        .unwrap_or_else(|| strategies[0].clone());
    if !strategies.contains(&baseline) {
        return Err(SimError::Usage(format!(
            "--baseline {baseline}: not one of the strategies run ({})",
            strategies.join(", ")
        )));
    }
    let bar = progress_bar(args, (scenario.steps() * strategies.len()) as u64);
    let mut runs = Vec::with_capacity(strategies.len());
    for name in &strategies {
        bar.set_message(format!("{name} (seed {})", scenario.spec.seed));
        let options = SimOptions {
            decisions: args.decisions,
        };
        runs.push(simulate_with(scenario, name, driver, Some(&bar), options)?);
    }
    bar.finish_and_clear();
    set_baseline(&mut runs, &baseline);
    Ok((runs, baseline))
}

fn progress_bar(args: &SimulateArgs, len: u64) -> ProgressBar {
    if args.no_progress || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} steps  {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{scenarios_dir, TestDriver};

    fn args() -> SimulateArgs {
        SimulateArgs {
            scenario: scenarios_dir().join("eu-5dc-24h.yaml"),
            strategies: vec!["test/greenest".into(), "test/first-fit".into()],
            no_progress: true,
            hours: Some(2),
            ..SimulateArgs::default()
        }
    }

    #[test]
    fn compare_runs_each_strategy_with_overrides() {
        let a = args();
        let (s, runs, baseline) = compare(&a, &TestDriver).unwrap();
        assert_eq!(s.spec.hours, 2);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].hourly.len(), 2);
        assert_eq!(baseline, "test/greenest");
        assert_eq!(runs[0].totals.carbon_reduction, Some(0.0));
    }

    #[test]
    fn usage_errors_say_what_to_do() {
        let mut a = args();
        a.baseline = Some("x/y".into());
        let e = compare(&a, &TestDriver).unwrap_err().to_string();
        assert!(e.contains("--baseline x/y: not one of"), "{e}");
        let mut a = args();
        a.plot = Some("out.gif".into());
        let e = compare(&a, &TestDriver).unwrap_err().to_string();
        assert!(e.contains(".png or .svg"), "{e}");
        let mut a = args();
        a.hours = Some(24 * 60);
        let e = compare(&a, &TestDriver).unwrap_err().to_string();
        assert!(
            e.contains("eu-5dc-24h.yaml") && e.contains("carbon_intensity"),
            "{e}"
        );
        let mut a = args();
        a.scenario = "nowhere.yaml".into();
        let e = compare(&a, &TestDriver).unwrap_err().to_string();
        assert!(e.starts_with("nowhere.yaml: 1 error"), "{e}");
    }

    #[test]
    fn seeds_summarise_the_runs_of_each_seed() {
        let mut a = args();
        a.seeds = vec![7, 1];
        let (scenario, seeds, baseline) = compare_seeds(&a, &TestDriver).unwrap();
        assert_eq!(seeds.iter().map(|s| s.seed).collect::<Vec<_>>(), [7, 1]);
        for s in &seeds {
            let mut one = args();
            one.seed = Some(s.seed);
            let (_, runs, _) = compare(&one, &TestDriver).unwrap();
            let totals = |r: &[StrategyRun]| -> Vec<_> {
                r.iter().map(|r| r.without_timing().totals).collect()
            };
            assert_eq!(totals(&runs), totals(&s.runs), "seed {}", s.seed);
        }
        let epr = |s: &SeedRuns, i: usize| s.runs[i].totals.energy_per_request_wh;
        // the two seeds draw different workloads
        assert_ne!(epr(&seeds[0], 1), epr(&seeds[1], 1));
        let summary = seeds::summaries(&seeds, &baseline);
        let zero = seeds::Range {
            mean: 0.0,
            min: 0.0,
            max: 0.0,
        };
        assert_eq!(summary[0].energy_per_request_change, Some(zero));
        assert_eq!(summary[0].carbon_change, Some(zero));
        let per: Vec<f64> = seeds.iter().map(|s| epr(s, 1) / epr(s, 0) - 1.0).collect();
        let r = summary[1].energy_per_request_change.unwrap();
        assert!((r.mean - (per[0] + per[1]) / 2.0).abs() < 1e-12);
        assert_eq!((r.min, r.max), (per[0].min(per[1]), per[0].max(per[1])));
        assert_eq!(summary[1].per_seed[1].seed, 1);
        assert_eq!(
            summary[1].per_seed[1].energy_per_request_change,
            Some(per[1])
        );

        let csv = seeds::csv(&seeds, false);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * 2);
        assert!(
            lines[0].starts_with("seed,strategy,energy_kwh"),
            "{}",
            lines[0]
        );
        assert!(lines[3].starts_with("1,test/greenest,"), "{}", lines[3]);
        let doc: serde_json::Value =
            serde_json::from_str(&seeds::json(&scenario, &seeds, &baseline, false)).unwrap();
        let totals = &doc["per_seed"][0]["runs"][0]["totals"];
        assert!(totals["energy_kwh"].is_number(), "{totals}");
        assert!(totals.get("decision_time_ms").is_none(), "{totals}");
        let timed: serde_json::Value =
            serde_json::from_str(&seeds::json(&scenario, &seeds, &baseline, true)).unwrap();
        assert!(timed["per_seed"][0]["runs"][0]["totals"]["decision_time_ms"].is_number());
        assert_eq!(doc["seeds"], serde_json::json!([7, 1]));
        assert_eq!(doc["per_seed"][1]["runs"][1]["strategy"], "test/first-fit");
        assert_eq!(doc["summary"][1]["energy_per_request_change"]["max"], r.max);
        let table = seeds::table(&scenario, &seeds, &baseline);
        assert!(table.contains("2 seeds (7, 1)"), "{table}");
    }

    #[test]
    fn the_lower_bound_is_below_every_run() {
        let mut a = args();
        a.hours = Some(6);
        let (scenario, runs, baseline) = compare(&a, &TestDriver).unwrap();
        let rows = bound::rows(&scenario, &runs, &baseline).unwrap();
        assert_eq!(rows.len(), runs.len());
        for (r, run) in rows.iter().zip(&runs) {
            assert!(run.totals.served > 0, "{}", r.strategy);
            assert!(r.bound_kwh > 0.0, "{r:?}");
            assert!(r.bound_kwh <= r.energy_kwh, "{r:?}");
            assert!(
                r.bound_energy_per_request_wh <= r.energy_per_request_wh,
                "{r:?}"
            );
            assert_eq!(run.vm_mix.len(), 6);
            // The hourly means add up to the core-hours the run booked.
            let core_h: f64 = run
                .vm_mix
                .iter()
                .flatten()
                .map(|s| s.shape.cpu * s.vms)
                .sum();
            assert!(
                (core_h - run.totals.vm_core_hours).abs() < 1e-6 * core_h.max(1.0),
                "{core_h} vs {}",
                run.totals.vm_core_hours
            );
            // The bound's optimum carries those core-hours over its server groups, each within
            // the servers it switched on, and its groups' IT energy at PUE >= 1 is the bound.
            let groups = &r.server_types;
            let carried: f64 = groups.iter().map(|g| g.busy_core_hours).sum();
            assert!(
                (carried - core_h).abs() < 1e-5 * core_h.max(1.0),
                "{carried} vs {core_h}"
            );
            let it_kwh: f64 = groups.iter().map(|g| g.it_energy_kwh).sum();
            assert!(
                it_kwh > 0.0 && it_kwh <= r.bound_kwh + 1e-9,
                "{it_kwh} vs {r:?}"
            );
            for g in groups {
                assert!(
                    g.server_hours_on <= f64::from(g.servers) * 6.0 + 1e-6,
                    "{g:?}"
                );
            }
            // The demand it exports is the same work, shape by shape.
            let d = &r.demand;
            assert_eq!(d.hourly.len(), 6);
            assert_eq!(d.datacenters.len(), scenario.spec.datacenters.len());
            let exported: f64 = d
                .hourly
                .iter()
                .flatten()
                .map(|&(i, n)| d.shapes[i].cpu * n)
                .sum();
            assert!((exported - core_h).abs() < 1e-6 * core_h.max(1.0));
            assert!(d.shapes.iter().all(
                |s| !s.allowed.is_empty() && s.allowed.iter().all(|&a| a < d.datacenters.len())
            ));
        }
        assert_eq!(rows[0].bound_change.map(|c| c < 0.0), Some(true));
        let table = bound::table(&rows, &baseline);
        assert!(table.contains("bound vs test/greenest"), "{table}");
        // The last column: the run's energy above its bound.
        let above = (rows[0].energy_kwh / rows[0].bound_kwh - 1.0) * 100.0;
        let first_row = table
            .lines()
            .find(|l| l.starts_with("test/greenest"))
            .expect("a row per run");
        assert!(first_row.ends_with(&format!("{above:+.1} %")), "{table}");
        let doc: serde_json::Value = serde_json::from_str(&report::json_with_bounds(
            &scenario,
            &runs,
            &baseline,
            false,
            Some(&rows),
        ))
        .unwrap();
        assert_eq!(doc["lower_bounds"][1]["strategy"], "test/first-fit");
        let first = &doc["lower_bounds"][1]["server_types"][0];
        assert!(
            first["datacenter"].is_string() && first["model"].is_string(),
            "{first}"
        );
        assert!(first["busy_core_hours"].is_number(), "{first}");
        let plain: serde_json::Value =
            serde_json::from_str(&report::json(&scenario, &runs, &baseline, false)).unwrap();
        assert!(plain.get("lower_bounds").is_none());
    }

    #[test]
    fn seeds_report_the_lower_bound_of_each_seed() {
        let mut a = args();
        a.seeds = vec![7, 1];
        a.lower_bound = true;
        let (scenario, seeds, baseline) = compare_seeds(&a, &TestDriver).unwrap();
        for s in &seeds {
            let rows = s.bounds.as_ref().expect("bounds");
            assert_eq!(rows.len(), s.runs.len());
            for (b, r) in rows.iter().zip(&s.runs) {
                assert_eq!(b.strategy, r.strategy);
                assert!(
                    b.bound_kwh > 0.0 && b.bound_kwh <= r.totals.energy_kwh,
                    "{b:?}"
                );
            }
        }
        // Different workloads, different bounds.
        let kwh = |i: usize| seeds[i].bounds.as_ref().map(|b| b[0].bound_kwh);
        assert_ne!(kwh(0), kwh(1));
        let doc: serde_json::Value =
            serde_json::from_str(&seeds::json(&scenario, &seeds, &baseline, false)).unwrap();
        assert_eq!(
            doc["per_seed"][1]["lower_bounds"][0]["bound_kwh"],
            serde_json::json!(kwh(1))
        );
        let table = seeds::table(&scenario, &seeds, &baseline);
        assert!(table.contains("energy lower bound"), "{table}");
        // Without the flag: no bounds anywhere.
        a.lower_bound = false;
        let (scenario, seeds, baseline) = compare_seeds(&a, &TestDriver).unwrap();
        assert!(seeds.iter().all(|s| s.bounds.is_none()));
        let doc: serde_json::Value =
            serde_json::from_str(&seeds::json(&scenario, &seeds, &baseline, false)).unwrap();
        assert!(doc["per_seed"][0].get("lower_bounds").is_none());
        assert!(!seeds::table(&scenario, &seeds, &baseline).contains("energy lower bound"));
    }

    #[test]
    fn the_lower_bound_covers_the_busy_replicas_of_services() {
        // h3ni-predictive runs services only: the bound carries the core-hours their replicas
        // were busy (replicas x load factor, whatever the replica count) and stays below the
        // run's energy.
        let mut a = args();
        a.scenario = scenarios_dir().join("h3ni-predictive.yaml");
        a.lower_bound = true;
        let (scenario, runs, baseline) = compare(&a, &TestDriver).unwrap();
        let rows = bound::rows(&scenario, &runs, &baseline).unwrap();
        for (r, run) in rows.iter().zip(&runs) {
            assert!(r.bound_kwh > 0.0 && r.bound_kwh <= r.energy_kwh, "{r:?}");
            let busy: f64 = run
                .datacenters
                .iter()
                .flat_map(|d| &d.server_types)
                .map(|t| t.busy_core_hours)
                .sum();
            let carried: f64 = r.server_types.iter().map(|g| g.busy_core_hours).sum();
            assert!(busy > 0.0);
            assert!((carried - busy).abs() < 1e-6 * busy, "{carried} vs {busy}");
            assert!(run
                .vm_mix
                .iter()
                .flatten()
                .all(|s| s.shape.processing_ms.is_some()));
        }
    }

    #[test]
    fn a_seed_listed_twice_is_refused() {
        let mut a = args();
        a.seeds = vec![7, 1, 7];
        let e = compare_seeds(&a, &TestDriver).unwrap_err().to_string();
        assert!(e.contains("--seeds: 7 is listed twice"), "{e}");
    }
}
