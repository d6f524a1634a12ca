//! `smo simulate` on an ecosystem scenario: each run of `--strategy` (or `ecosystem.compare`),
//! `none` being the continuum without the migration engine, printed as a table, CSV or JSON.

use super::{report, simulate, EcosystemRun};
use crate::command::SimulateArgs;
use crate::driver::StrategyDriver;
use crate::scenario::Scenario;
use crate::step_loop::SimError;

/// The options that have no meaning for an ecosystem scenario.
fn refuse_unsupported(args: &SimulateArgs) -> Result<(), SimError> {
    for (given, option) in [
        (!args.seeds.is_empty(), "--seeds"),
        (args.plot.is_some(), "--plot"),
        (args.lower_bound, "--lower-bound"),
        (args.decisions, "--decisions"),
        (args.baseline.is_some(), "--baseline"),
    ] {
        if given {
            return Err(SimError::Usage(format!(
                "{option} does not apply to an ecosystem scenario (`ecosystem` section): \
                 its runs are compared on scores, response time and migrations"
            )));
        }
    }
    Ok(())
}

/// The runs of the comparison, in order.
pub fn runs(
    args: &SimulateArgs,
    scenario: &Scenario,
    driver: &dyn StrategyDriver,
) -> Result<Vec<EcosystemRun>, SimError> {
    refuse_unsupported(args)?;
    let names = if args.strategies.is_empty() {
        scenario
            .spec
            .ecosystem
            .as_ref()
            .map(|e| e.compare.clone())
            .unwrap_or_default()
    } else {
        args.strategies.clone()
    };
    if names.is_empty() {
        return Err(SimError::Usage(
            "no run to compare: pass --strategy none or --strategy plugin/name".into(),
        ));
    }
    let mut out = Vec::with_capacity(names.len());
    for name in &names {
        if !args.no_progress {
            eprintln!("ecosystem: run {name} ...");
        }
        out.push(simulate(scenario, name, driver)?);
    }
    Ok(out)
}

/// The comparison as text (table, or `--csv` / `--json`).
pub fn run(
    args: &SimulateArgs,
    scenario: &Scenario,
    driver: &dyn StrategyDriver,
) -> Result<String, SimError> {
    let runs = runs(args, scenario, driver)?;
    let timing = !args.no_timing;
    Ok(if args.json {
        report::json(scenario, &runs, timing)
    } else if args.csv {
        report::csv(&runs, timing)
    } else {
        report::table(scenario, &runs, timing)
    })
}
