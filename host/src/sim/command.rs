//! `smo simulate SCENARIO.yaml --strategy a/b --strategy c/d ...`: runs each strategy on the
//! same inputs and prints one comparison (table, `--csv` or `--json`), optionally a plot.

use super::driver::StrategyDriver;
use super::engine::{simulate, SimError};
use super::metrics::{set_baseline, StrategyRun};
use super::report;
use super::scenario::Scenario;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `smo simulate`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SimulateArgs {
    /// The scenario file (see scenarios/README.md).
    pub scenario: PathBuf,
    /// A strategy to run, `plugin/name` (placement) or
    /// `placement=a/b,scaling=c/d,migration=e/f`; repeat to compare. Any name takes parameters
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
    /// Draw hourly energy, carbon and renewable share per strategy (.png or .svg).
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
    /// Replace the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replace the scenario's horizon, in hours.
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
}

/// Runs the comparison and prints it to stdout; the progress bar and notes go to stderr.
pub fn run(args: &SimulateArgs, driver: &dyn StrategyDriver) -> Result<(), SimError> {
    let (scenario, runs, baseline) = compare(args, driver)?;
    let timing = !args.no_timing;
    let text = if args.json {
        report::json(&scenario, &runs, &baseline, timing)
    } else if args.csv {
        report::csv(&runs, timing)
    } else {
        report::table(&scenario, &runs, &baseline, timing)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| SimError::Output {
            path: "stdout".into(),
            message: e.to_string(),
        })?;
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

/// Loads the scenario, applies the overrides and runs every strategy; returns the runs with
/// `carbon_reduction` set against the baseline.
pub fn compare(
    args: &SimulateArgs,
    driver: &dyn StrategyDriver,
) -> Result<(Scenario, Vec<StrategyRun>, String), SimError> {
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
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.set_seed(seed);
    }
    if let Some(hours) = args.hours {
        scenario.set_hours(hours).map_err(|mut e| {
            e.file = Some(args.scenario.clone());
            e
        })?;
    }
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
        bar.set_message(name.clone());
        runs.push(simulate(&scenario, name, driver, Some(&bar))?);
    }
    bar.finish_and_clear();
    set_baseline(&mut runs, &baseline);
    Ok((scenario, runs, baseline))
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
    use crate::sim::testing::{scenarios_dir, TestDriver};

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
}
