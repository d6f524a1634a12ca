//! The workload ecosystem in the simulated continuum (seed 001): application instances whose
//! tiers declare dependencies by characteristics arrive over time, are placed by a scheduler
//! that ignores them, and a migration strategy (or none) moves them to raise their scores.
//!
//! [`arrivals`] draws the instances, [`world`] keeps datacenters, workloads and the map and
//! measures each step, [`engine`] is a migration round, [`compare`] runs `smo simulate` on
//! such a scenario and [`report`] prints it.
//! Every formula is in docs/ecosystem.md.

pub mod arrivals;
pub mod compare;
pub mod engine;
pub mod report;
pub mod world;

use crate::driver::StrategyDriver;
use crate::scenario::Scenario;
use crate::step_loop::SimError;
use serde::Serialize;
use world::World;

/// What a run measured, over the whole horizon.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EcosystemTotals {
    /// Tiers deployed, and tiers no datacenter had room for.
    pub deployed: usize,
    pub unplaced: usize,
    /// Mean over steps of the mean score of the workloads running.
    pub mean_score: f64,
    /// Mean over steps of the lowest score.
    pub worst_score: f64,
    /// Mean over steps of the share of workloads below the threshold, %.
    pub below_pct: f64,
    /// Mean over steps of the share with an unmet required dependency, %.
    pub violated_pct: f64,
    /// Response time of the instances' requests over every step, ms: mean and 95th percentile.
    pub response_ms: f64,
    pub response_p95_ms: f64,
    pub migrations: usize,
    /// Seconds the moved workloads were down (downtime and copy), summed.
    pub downtime_s: f64,
    /// State copied by the moves, GiB.
    pub moved_gib: f64,
    pub strategy_calls: usize,
    pub strategy_errors: usize,
    /// Mean wall-clock time of a strategy call, ms.
    pub decide_ms: f64,
}

/// One hour of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EcosystemHour {
    pub hour: u32,
    pub workloads: usize,
    pub mean_score: f64,
    pub worst_score: f64,
    pub below: usize,
    pub response_ms: f64,
    pub migrations: usize,
}

/// One run of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EcosystemRun {
    /// `none` or the migration strategy.
    pub run: String,
    pub totals: EcosystemTotals,
    pub hourly: Vec<EcosystemHour>,
}

/// The `q` quantile of `values` (sorted here), 0 when empty.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i.min(values.len() - 1)]
}

/// Runs the scenario's ecosystem with `run` (`none`, or a migration strategy).
pub fn simulate(
    sc: &Scenario,
    run: &str,
    driver: &dyn StrategyDriver,
) -> Result<EcosystemRun, SimError> {
    let eco = sc.spec.ecosystem.as_ref().ok_or_else(|| {
        SimError::Usage(format!("scenario {}: no `ecosystem` section", sc.spec.name))
    })?;
    let span = tracing::info_span!("ecosystem_run", run);
    let _entered = span.enter();
    let instances = arrivals::draw(sc, eco);
    let steps = sc.steps();
    let steps_per_hour = (60 / sc.spec.step_minutes.max(1)) as usize;
    let period = (eco.period_minutes / sc.spec.step_minutes.max(1)).max(1) as usize;
    let engine = (run != "none").then_some(run);
    let mut world = World::new(sc, eco, instances.clone());
    let mut totals = EcosystemTotals::default();
    let mut hourly: Vec<EcosystemHour> = Vec::new();
    let mut responses: Vec<f64> = Vec::new();
    let mut decide = std::time::Duration::ZERO;
    let mut next = 0;
    for k in 0..steps {
        for (i, instance) in instances.iter().enumerate() {
            if instance.leave_step == Some(k) && instance.arrive_step < k {
                world.leave(i);
            }
        }
        while next < instances.len() && instances[next].arrive_step <= k {
            world.arrive(next);
            next += 1;
        }
        let mut moved = 0;
        if let Some(strategy) = engine {
            if k % period == 0 {
                let round = engine::round(
                    &mut world,
                    strategy,
                    driver,
                    eco.max_moves_per_period as usize,
                )?;
                moved = round.moved;
                totals.migrations += round.moved;
                totals.downtime_s += round.seconds;
                totals.moved_gib += round.gib;
                totals.strategy_calls += round.asked;
                totals.strategy_errors += round.failed;
                decide += round.decide;
            }
        }
        let m = world.measure();
        totals.mean_score += m.mean_score;
        totals.worst_score += m.worst_score;
        if m.workloads > 0 {
            totals.below_pct += 100.0 * m.below as f64 / m.workloads as f64;
            totals.violated_pct += 100.0 * m.violated as f64 / m.workloads as f64;
        }
        let hour = (k / steps_per_hour) as u32;
        if hourly.last().is_none_or(|h| h.hour != hour) {
            hourly.push(EcosystemHour {
                hour,
                ..EcosystemHour::default()
            });
        }
        if let Some(h) = hourly.last_mut() {
            // The hour's figures are those of its last step; its migrations, summed.
            h.workloads = m.workloads;
            h.mean_score = m.mean_score;
            h.worst_score = m.worst_score;
            h.below = m.below;
            h.response_ms = if m.response_ms.is_empty() {
                0.0
            } else {
                m.response_ms.iter().sum::<f64>() / m.response_ms.len() as f64
            };
            h.migrations += moved;
        }
        responses.extend(m.response_ms);
    }
    let n = steps.max(1) as f64;
    totals.mean_score /= n;
    totals.worst_score /= n;
    totals.below_pct /= n;
    totals.violated_pct /= n;
    totals.response_ms = if responses.is_empty() {
        0.0
    } else {
        responses.iter().sum::<f64>() / responses.len() as f64
    };
    totals.response_p95_ms = quantile(&mut responses, 0.95);
    totals.deployed = world.deployed;
    totals.unplaced = world.unplaced;
    totals.decide_ms = if totals.strategy_calls > 0 {
        decide.as_secs_f64() * 1000.0 / totals.strategy_calls as f64
    } else {
        0.0
    };
    tracing::info!(
        mean_score = totals.mean_score,
        migrations = totals.migrations,
        "ecosystem run done"
    );
    Ok(EcosystemRun {
        run: run.to_owned(),
        totals,
        hourly,
    })
}

#[cfg(test)]
mod tests;
