//! What a run measures, per hour and in total: energy, carbon, renewable share (ECMR M1),
//! reduction against a baseline (M2), response times (M3), failures (M4), SLO, cost, timing.
//!
//! The serialized names of [`Totals`] and [`HourMetrics`] are a contract other tools read.

use serde::Serialize;
use std::time::Duration;

/// Requests of one kind (VMs, or requests to services) and how they went.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flow {
    pub requests: u64,
    pub served: u64,
    pub failed: u64,
    pub slo_violations: u64,
    /// `(response ms, weight)`: one per VM, one per service copy and step.
    pub samples: Vec<(f64, f64)>,
}

impl Flow {
    fn add(&mut self, o: &Flow) {
        self.requests += o.requests;
        self.served += o.served;
        self.failed += o.failed;
        self.slo_violations += o.slo_violations;
        self.samples.extend_from_slice(&o.samples);
    }

    fn failure_rate(&self) -> f64 {
        ratio(self.failed as f64, self.requests as f64)
    }

    fn mean_ms(&self) -> f64 {
        mean(&self.samples)
    }
}

fn mean(samples: &[(f64, f64)]) -> f64 {
    let w: f64 = samples.iter().map(|s| s.1).sum();
    ratio(samples.iter().map(|s| s.0 * s.1).sum(), w)
}

/// Accumulator of one hour (or one datacenter over the run).
#[derive(Debug, Clone, Default)]
pub(crate) struct Acc {
    pub it_kwh: f64,
    pub facility_kwh: f64,
    pub renewable_supply_kwh: f64,
    pub renewable_kwh: f64,
    pub brown_kwh: f64,
    pub carbon_kg: f64,
    pub energy_cost: f64,
    pub resource_cost: f64,
    pub migration_cost: f64,
    pub vm: Flow,
    pub svc: Flow,
    pub migrations: u64,
    pub migration_kwh: f64,
    pub migration_downtime_s: f64,
    pub invalid_decisions: u64,
    /// VM migration moves the host refused (also counted in `invalid_decisions`).
    pub refused_vm_moves: u64,
    pub invalid_server_hints: u64,
    pub strategy_errors: u64,
    pub calls: u64,
    pub decision: Duration,
    pub decision_max: Duration,
    pub placed_vms: u64,
    pub running_vms: u64,
    pub utilisation: f64,
    /// Service scaling intervals, and those whose capacity covered demand with <= 20 %
    /// over-provisioning.
    pub alloc_intervals: u64,
    pub alloc_accurate: u64,
    pub alloc_accurate_slo: u64,
    /// Load steps (rate up > 20 % from one step to the next) answered, and not answered.
    pub elastic_events: u64,
    pub elastic_unresolved: u64,
    /// Longest simulated time from a load step to enough capacity, s.
    pub elastic_s_max: f64,
    /// Longest scaling decision time of a step that answered a load step.
    pub elastic_decision_max: Duration,
    /// VMs that entered the VM queue, those later placed from it, and their total wait (s).
    pub vm_queued: u64,
    pub vm_queue_placed: u64,
    pub vm_queue_wait_s: f64,
    /// Cores x hours the VMs placed in this hour run within the horizon (booked when placed).
    pub vm_core_hours: f64,
}

impl Acc {
    pub fn add(&mut self, o: &Acc) {
        self.it_kwh += o.it_kwh;
        self.facility_kwh += o.facility_kwh;
        self.renewable_supply_kwh += o.renewable_supply_kwh;
        self.renewable_kwh += o.renewable_kwh;
        self.brown_kwh += o.brown_kwh;
        self.carbon_kg += o.carbon_kg;
        self.energy_cost += o.energy_cost;
        self.resource_cost += o.resource_cost;
        self.migration_cost += o.migration_cost;
        self.vm.add(&o.vm);
        self.svc.add(&o.svc);
        self.migrations += o.migrations;
        self.migration_kwh += o.migration_kwh;
        self.migration_downtime_s += o.migration_downtime_s;
        self.invalid_decisions += o.invalid_decisions;
        self.refused_vm_moves += o.refused_vm_moves;
        self.invalid_server_hints += o.invalid_server_hints;
        self.strategy_errors += o.strategy_errors;
        self.calls += o.calls;
        self.decision += o.decision;
        self.decision_max = self.decision_max.max(o.decision_max);
        self.placed_vms += o.placed_vms;
        self.alloc_intervals += o.alloc_intervals;
        self.alloc_accurate += o.alloc_accurate;
        self.alloc_accurate_slo += o.alloc_accurate_slo;
        self.elastic_events += o.elastic_events;
        self.elastic_unresolved += o.elastic_unresolved;
        self.elastic_s_max = self.elastic_s_max.max(o.elastic_s_max);
        self.elastic_decision_max = self.elastic_decision_max.max(o.elastic_decision_max);
        self.vm_queued += o.vm_queued;
        self.vm_queue_placed += o.vm_queue_placed;
        self.vm_queue_wait_s += o.vm_queue_wait_s;
        self.vm_core_hours += o.vm_core_hours;
    }

    pub fn record_call(&mut self, d: Duration) {
        self.calls += 1;
        self.decision += d;
        self.decision_max = self.decision_max.max(d);
    }

    fn cost(&self) -> f64 {
        self.energy_cost + self.resource_cost + self.migration_cost
    }

    fn renewable_share(&self) -> f64 {
        ratio(self.renewable_kwh, self.facility_kwh)
    }

    fn requests(&self) -> u64 {
        self.vm.requests + self.svc.requests
    }

    fn served(&self) -> u64 {
        self.vm.served + self.svc.served
    }

    fn failed(&self) -> u64 {
        self.vm.failed + self.svc.failed
    }

    fn slo_violations(&self) -> u64 {
        self.vm.slo_violations + self.svc.slo_violations
    }

    fn failure_rate(&self) -> f64 {
        ratio(self.failed() as f64, self.requests() as f64)
    }

    /// Every response sample, VMs and service requests together.
    fn samples(&self) -> Vec<(f64, f64)> {
        let mut s = self.vm.samples.clone();
        s.extend_from_slice(&self.svc.samples);
        s
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Weighted quantile by nearest rank: the smallest value whose cumulative weight reaches
/// `q` of the total (0 for no samples). Sorts `samples`.
pub fn weighted_quantile(samples: &mut [(f64, f64)], q: f64) -> f64 {
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = samples.iter().map(|s| s.1).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let target = q * total;
    let mut cum = 0.0;
    for (v, w) in samples.iter() {
        cum += w;
        if cum >= target - 1e-9 * total {
            return *v;
        }
    }
    samples.last().map_or(0.0, |s| s.0)
}

/// Wall-clock time spent in the strategy (left out of reports made with timing off, so
/// that they are byte-for-byte reproducible).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timing {
    pub decision_time_ms: f64,
    pub decision_time_ms_mean: f64,
    pub decision_time_ms_max: f64,
    /// Longest scaling decision time of a step that answered a load step (totals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elasticity_decision_ms_max: Option<f64>,
}

/// One hour of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourMetrics {
    pub hour: u32,
    /// UTC start of the hour.
    pub start: String,
    /// Facility energy (IT x PUE, plus migrations), kWh.
    pub energy_kwh: f64,
    pub it_energy_kwh: f64,
    pub renewable_kwh: f64,
    pub renewable_supply_kwh: f64,
    pub carbon_kg: f64,
    pub renewable_share: f64,
    pub requests: u64,
    pub failed: u64,
    pub failure_rate: f64,
    pub mean_response_ms: f64,
    pub p95_response_ms: f64,
    pub slo_violations: u64,
    pub migrations: u64,
    pub cost: f64,
    pub running_vms: u64,
    /// Reserved CPU over total CPU, all datacenters, at the end of the hour.
    pub utilisation: f64,
    pub strategy_calls: u64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub energy_kwh: f64,
    pub it_energy_kwh: f64,
    pub carbon_kg: f64,
    /// ECMR M1: on-site renewable energy used over facility energy.
    pub renewable_share: f64,
    pub renewable_kwh: f64,
    pub renewable_supply_kwh: f64,
    pub brown_kwh: f64,
    /// ECMR M2: `(baseline carbon - carbon) / baseline carbon` (`null` when the baseline
    /// emitted nothing).
    pub carbon_reduction: Option<f64>,
    /// ECMR M4: failed requests over requests (VMs not placed, service requests dropped).
    pub failure_rate: f64,
    /// ECMR M3.
    pub mean_response_ms: f64,
    pub p95_response_ms: f64,
    pub slo_violations: u64,
    pub migrations: u64,
    pub migration_energy_kwh: f64,
    pub migration_downtime_s: f64,
    pub cost: f64,
    pub energy_cost: f64,
    pub resource_cost: f64,
    pub migration_cost: f64,
    /// Facility energy per served request, Wh.
    pub energy_per_request_wh: f64,
    pub requests: u64,
    pub served: u64,
    pub failed: u64,
    /// The same measures for VM requests only and for service requests only.
    pub vm_requests: u64,
    pub vm_failure_rate: f64,
    pub vm_mean_response_ms: f64,
    pub vm_p95_response_ms: f64,
    pub vm_slo_violations: u64,
    pub service_requests: u64,
    pub service_failure_rate: f64,
    pub service_mean_response_ms: f64,
    pub service_p95_response_ms: f64,
    pub service_slo_violations: u64,
    /// The work the placed VMs did: cores x hours each ran within the horizon.
    pub vm_core_hours: f64,
    /// Facility energy per VM core-hour served, Wh: energy per request weighed by what each
    /// request asked for, so that serving a large VM another strategy refused does not count
    /// against the one that served it (VM-only runs; `null` when services share the energy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_per_vm_core_hour_wh: Option<f64>,
    /// Decisions the host refused (unknown cluster or service, no room left, ...).
    pub invalid_decisions: u64,
    /// VM migration moves the host refused (VM not running where the move says, no room on
    /// the target server, a VM in time that would answer late; also in `invalid_decisions`).
    pub refused_vm_moves: u64,
    /// Placement decisions whose `extra.server_selection` the host could not read (the
    /// datacenter's own policy was used instead).
    pub invalid_server_hints: u64,
    /// Calls that failed (error, panic, timeout) rather than answering.
    pub strategy_errors: u64,
    pub strategy_calls: u64,
    /// Proactive allocation accuracy: share of service scaling intervals whose provisioned
    /// capacity covered demand at every step with at most 20 % over-provisioning against
    /// the fewest replicas covering the interval's peak (`null` without services).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocation_accuracy: Option<f64>,
    /// The same with the band starting at the SLO: intervals whose capacity covered demand,
    /// was at least that of the fewest replicas meeting the SLO at the interval's peak (from
    /// the users' nearest copy; the covering ones when no count meets it) and at most 1.2 x
    /// that (`null` without services).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_allocation_accuracy: Option<f64>,
    /// Load steps seen, and those never answered by enough capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elasticity_events: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elasticity_unresolved: Option<u64>,
    /// Longest simulated control time from a load step to enough capacity, s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elasticity_s_max: Option<f64>,
    /// Per service: the scaling strategy's reported forecasts against the measured rates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forecasts: Vec<ServiceForecast>,
    /// VMs that waited in the VM queue (`vm_queue` scenarios only), and the mean wait in s of
    /// those placed from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_queued: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm_mean_queue_wait_s: Option<f64>,
    /// Runs with `strategies.offload_policy`: the offload machine's transitions and its
    /// actions (each one migration call), in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offload_transitions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offload_actions: Option<Vec<OffloadEvent>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// One action of the simulated offload machine and what came of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OffloadEvent {
    /// Simulated hour (0-based) and seconds from the start.
    pub hour: u32,
    pub at_s: f64,
    /// `offload` or `unoffload`.
    pub action: String,
    /// The mean user delay observed, and the signed change asked (`requiredDecreaseMs`).
    pub measured_delay_ms: f64,
    pub required_decrease_ms: f64,
    /// Moves applied that add or move a copy onto an edge datacenter, or remove or move one
    /// off it.
    pub moves_to_edge: u64,
    pub moves_from_edge: u64,
}

/// "Predicted vs actual" of one service: what the scaling strategy forecast for a call
/// (`forecasts[].forecast_rps` in its decision's `extra`) against the rate measured then.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceForecast {
    pub service: String,
    pub calls: u64,
    pub mean_predicted_rps: f64,
    pub mean_actual_rps: f64,
    /// Mean absolute percentage error.
    pub mape: f64,
}

/// Totals of one datacenter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatacenterTotals {
    pub name: String,
    pub energy_kwh: f64,
    pub carbon_kg: f64,
    pub renewable_share: f64,
    pub placed_vms: u64,
    pub cost: f64,
    /// The same datacenter by server model (IT energy, before PUE), in the scenario's order.
    pub server_types: Vec<ServerTypeTotals>,
}

/// What one server model of a datacenter drew and did over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerTypeTotals {
    pub model: String,
    pub servers: u32,
    pub it_energy_kwh: f64,
    /// Hours switched on, summed over the model's servers.
    pub server_hours_on: f64,
    pub busy_core_hours: f64,
    /// IT energy per busy core-hour (idle power included), Wh; 0 when nothing ran.
    pub wh_per_busy_core_hour: f64,
    /// Memory booked by instances, GiB-hours (with `busy_core_hours`: which of the two fills
    /// a model's servers first).
    pub memory_gib_hours: f64,
}

impl ServerTypeTotals {
    pub(crate) fn new(model: &str, servers: u32, u: &super::continuum::TypeUse) -> Self {
        ServerTypeTotals {
            model: model.to_string(),
            servers,
            it_energy_kwh: u.it_kwh,
            server_hours_on: u.on_hours,
            busy_core_hours: u.busy_core_hours,
            wh_per_busy_core_hour: ratio(u.it_kwh * 1000.0, u.busy_core_hours),
            memory_gib_hours: u.memory_gib_hours,
        }
    }
}

/// Everything measured for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyRun {
    pub strategy: String,
    pub totals: Totals,
    pub hourly: Vec<HourMetrics>,
    pub datacenters: Vec<DatacenterTotals>,
    /// VMs running by shape, per booked hour: what `--lower-bound` places (not printed).
    #[serde(skip)]
    pub vm_mix: Vec<Vec<super::vm_mix::ShapeLoad>>,
    /// Every strategy call's decision record (`smo simulate --json --decisions`; empty and
    /// left out otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<smo_core::decision::DecisionRecord>,
}

impl StrategyRun {
    /// The same run without wall-clock timing (for reproducible output).
    pub fn without_timing(&self) -> StrategyRun {
        let mut r = self.clone();
        r.totals.timing = None;
        for h in &mut r.hourly {
            h.timing = None;
        }
        for d in &mut r.decisions {
            d.duration_ms = 0.0;
        }
        r
    }
}

/// Sets `carbon_reduction` of every run against the run named `baseline`.
pub fn set_baseline(runs: &mut [StrategyRun], baseline: &str) {
    let Some(base) = runs
        .iter()
        .find(|r| r.strategy == baseline)
        .map(|r| r.totals.carbon_kg)
    else {
        return;
    };
    for r in runs {
        r.totals.carbon_reduction = (base > 0.0).then(|| (base - r.totals.carbon_kg) / base);
    }
}

fn timing(a: &Acc) -> Timing {
    Timing {
        decision_time_ms: ms(a.decision),
        decision_time_ms_mean: if a.calls > 0 {
            ms(a.decision) / a.calls as f64
        } else {
            0.0
        },
        decision_time_ms_max: ms(a.decision_max),
        elasticity_decision_ms_max: None,
    }
}

/// Builds the run's report from its hourly and per-datacenter accumulators.
pub(crate) fn finish(
    strategy: &str,
    hours: Vec<Acc>,
    dcs: Vec<(String, Acc)>,
    start_unix: i64,
) -> StrategyRun {
    let mut total = Acc::default();
    let mut hourly = Vec::with_capacity(hours.len());
    for (h, a) in hours.into_iter().enumerate() {
        total.add(&a);
        let mut samples = a.samples();
        let p95 = weighted_quantile(&mut samples, 0.95);
        hourly.push(HourMetrics {
            hour: h as u32,
            start: super::data::format_utc(start_unix + h as i64 * 3600),
            energy_kwh: a.facility_kwh,
            it_energy_kwh: a.it_kwh,
            renewable_kwh: a.renewable_kwh,
            renewable_supply_kwh: a.renewable_supply_kwh,
            carbon_kg: a.carbon_kg,
            renewable_share: a.renewable_share(),
            requests: a.requests(),
            failed: a.failed(),
            failure_rate: a.failure_rate(),
            mean_response_ms: mean(&samples),
            p95_response_ms: p95,
            slo_violations: a.slo_violations(),
            migrations: a.migrations,
            cost: a.cost(),
            running_vms: a.running_vms,
            utilisation: a.utilisation,
            strategy_calls: a.calls,
            timing: Some(timing(&a)),
        });
    }
    let mut samples = total.samples();
    let p95 = weighted_quantile(&mut samples, 0.95);
    let vm_p95 = weighted_quantile(&mut total.vm.samples, 0.95);
    let svc_p95 = weighted_quantile(&mut total.svc.samples, 0.95);
    let totals = Totals {
        energy_kwh: total.facility_kwh,
        it_energy_kwh: total.it_kwh,
        carbon_kg: total.carbon_kg,
        renewable_share: total.renewable_share(),
        renewable_kwh: total.renewable_kwh,
        renewable_supply_kwh: total.renewable_supply_kwh,
        brown_kwh: total.brown_kwh,
        carbon_reduction: None,
        failure_rate: total.failure_rate(),
        mean_response_ms: mean(&samples),
        p95_response_ms: p95,
        slo_violations: total.slo_violations(),
        migrations: total.migrations,
        migration_energy_kwh: total.migration_kwh,
        migration_downtime_s: total.migration_downtime_s,
        cost: total.cost(),
        energy_cost: total.energy_cost,
        resource_cost: total.resource_cost,
        migration_cost: total.migration_cost,
        energy_per_request_wh: ratio(total.facility_kwh * 1000.0, total.served() as f64),
        requests: total.requests(),
        served: total.served(),
        failed: total.failed(),
        vm_requests: total.vm.requests,
        vm_failure_rate: total.vm.failure_rate(),
        vm_mean_response_ms: total.vm.mean_ms(),
        vm_p95_response_ms: vm_p95,
        vm_slo_violations: total.vm.slo_violations,
        service_requests: total.svc.requests,
        service_failure_rate: total.svc.failure_rate(),
        service_mean_response_ms: total.svc.mean_ms(),
        service_p95_response_ms: svc_p95,
        service_slo_violations: total.svc.slo_violations,
        vm_core_hours: total.vm_core_hours,
        energy_per_vm_core_hour_wh: (total.svc.requests == 0 && total.vm_core_hours > 0.0)
            .then(|| total.facility_kwh * 1000.0 / total.vm_core_hours),
        invalid_decisions: total.invalid_decisions,
        refused_vm_moves: total.refused_vm_moves,
        invalid_server_hints: total.invalid_server_hints,
        strategy_errors: total.strategy_errors,
        strategy_calls: total.calls,
        allocation_accuracy: (total.alloc_intervals > 0)
            .then(|| ratio(total.alloc_accurate as f64, total.alloc_intervals as f64)),
        slo_allocation_accuracy: (total.alloc_intervals > 0).then(|| {
            ratio(
                total.alloc_accurate_slo as f64,
                total.alloc_intervals as f64,
            )
        }),
        elasticity_events: (total.alloc_intervals > 0).then_some(total.elastic_events),
        elasticity_unresolved: (total.alloc_intervals > 0).then_some(total.elastic_unresolved),
        elasticity_s_max: (total.elastic_events > 0).then_some(total.elastic_s_max),
        forecasts: Vec::new(),
        vm_queued: (total.vm_queued > 0).then_some(total.vm_queued),
        vm_mean_queue_wait_s: (total.vm_queued > 0)
            .then(|| ratio(total.vm_queue_wait_s, total.vm_queue_placed as f64)),
        offload_transitions: None,
        offload_actions: None,
        timing: Some(Timing {
            elasticity_decision_ms_max: (total.elastic_events > 0)
                .then(|| ms(total.elastic_decision_max)),
            ..timing(&total)
        }),
    };
    let datacenters = dcs
        .into_iter()
        .map(|(name, a)| DatacenterTotals {
            name,
            energy_kwh: a.facility_kwh,
            carbon_kg: a.carbon_kg,
            renewable_share: a.renewable_share(),
            placed_vms: a.placed_vms,
            cost: a.cost(),
            server_types: Vec::new(),
        })
        .collect();
    StrategyRun {
        strategy: strategy.to_string(),
        totals,
        hourly,
        datacenters,
        vm_mix: Vec::new(),
        decisions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_p95_is_nearest_rank() {
        let mut s: Vec<(f64, f64)> = (1..=100).map(|i| (f64::from(i), 1.0)).collect();
        assert_eq!(weighted_quantile(&mut s, 0.95), 95.0);
        let mut s = vec![(10.0, 94.0), (50.0, 1.0), (99.0, 5.0)];
        assert_eq!(weighted_quantile(&mut s, 0.95), 50.0);
        let mut s = vec![(10.0, 90.0), (99.0, 10.0)];
        assert_eq!(weighted_quantile(&mut s, 0.95), 99.0);
        assert_eq!(weighted_quantile(&mut [], 0.95), 0.0);
    }

    #[test]
    fn baseline_reduction_is_relative_to_the_named_run() {
        let run = |name: &str, carbon| {
            let a = Acc {
                carbon_kg: carbon,
                ..Acc::default()
            };
            finish(name, vec![a], vec![], 0)
        };
        let mut runs = vec![run("a/x", 10.0), run("b/y", 4.0)];
        set_baseline(&mut runs, "a/x");
        assert_eq!(runs[0].totals.carbon_reduction, Some(0.0));
        assert_eq!(runs[1].totals.carbon_reduction, Some(0.6));
    }
}
