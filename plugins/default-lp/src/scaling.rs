//! `default-lp/scaling`: upstream's per-cluster replica integer program with its two defects
//! fixed (the missing `r <= max_replicas` bound, and weights under which it never scaled down).
//!
//! For the services S_c of the graph on cluster c, with per-replica demand cpu_s, mem_s, gpu_s:
//!   minimise  Σ_s ( w_util · r_s + w_trans · (up_s + down_s) ) / m_s
//!   subject to  lo_s <= r_s <= m_s  (r_s integer),  up_s >= r_s - r0_s,  down_s >= r0_s - r_s,
//!               Σ_s cpu_s·r_s <= available_cpu(c)   (and the same for memory and GPUs)
//! where lo_s folds in  α_s·r_s + β_s >= λ_s,  r_s >= max(1, min_replicas), and the scale-down
//! hysteresis: below r0_s only to replicas that still serve (1 + h)·λ_s. Removing one replica
//! changes the objective by (w_trans - w_util) / m_s, so with w_util > w_trans (the default) the
//! scaler goes down to lo_s whenever the load allows it; upstream's normalisation made this >= 0.

use crate::instance::{add, describe, dims};
use crate::params::{MissingLoad, Params};
use crate::replacement::solve_options;
use crate::report::extra;
use crate::solver::Milp;
use smo_plugin_api::prelude::*;

/// The replica program for one cluster.
#[derive(Debug, Clone)]
pub struct MilpScaling {
    params: Params,
}

impl MilpScaling {
    pub fn new(params: &str) -> Result<Self, PluginError> {
        Ok(Self {
            params: Params::for_strategy("scaling", params)?,
        })
    }

    pub fn with_params(params: Params) -> Self {
        Self { params }
    }
}

impl Scaling for MilpScaling {
    fn scale(&self, request: &ScalingRequest) -> Result<ScalingDecision, PluginError> {
        scale(request, &self.params)
    }
}

/// One service's bounds, worked out before the solve.
#[derive(Debug, Clone)]
struct Bounds {
    name: String,
    per_replica: Resources,
    /// Current replicas.
    r0: u32,
    /// Minimum replicas that serve the load (hard).
    need: u32,
    /// Lower bound with the hysteresis (`>= need`).
    keep: u32,
    /// max_replicas.
    max: u32,
    explanation: String,
}

/// Smallest `r >= 0` with `alpha·r + beta >= load` (alpha > 0).
pub fn replicas_for(load: f64, alpha: f64, beta: f64) -> u32 {
    let r = ((load - beta) / alpha - 1e-9).ceil();
    if r <= 0.0 {
        0
    } else if r >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        r as u32
    }
}

fn bounds(
    service: &Service,
    r0: u32,
    telemetry: &Telemetry,
    params: &Params,
) -> Result<Bounds, PluginError> {
    let p = service.scaling;
    let name = service.name.to_string();
    if !(p.alpha.is_finite() && p.alpha > 0.0 && p.beta.is_finite()) {
        return Err(PluginError::invalid_input(format!(
            "service `{name}`: scaling alpha must be > 0 and beta finite (got alpha {}, beta {})",
            p.alpha, p.beta
        )));
    }
    let floor = p.min_replicas.max(1);
    if p.max_replicas < floor {
        return Err(PluginError::invalid_input(format!(
            "service `{name}`: max_replicas {} is below the minimum {floor}",
            p.max_replicas
        )));
    }
    let max = p.max_replicas;
    let measured = telemetry.loads.iter().find(|l| l.service == service.name);
    let load = match (measured, params.missing_load) {
        (Some(l), _) => {
            if !l.current_rps.is_finite() || !l.predicted_rps.is_finite() {
                return Err(PluginError::invalid_input(format!(
                    "service `{name}`: non-finite load in telemetry"
                )));
            }
            Some((
                params.load.pick(l.current_rps, l.predicted_rps).max(0.0),
                format!(
                    "load {:.3} rps ({} of current {:.3}, predicted {:.3})",
                    params.load.pick(l.current_rps, l.predicted_rps).max(0.0),
                    params.load.as_str(),
                    l.current_rps,
                    l.predicted_rps
                ),
            ))
        }
        (None, MissingLoad::Zero) => Some((0.0, "no telemetry: load taken as 0 rps".to_string())),
        (None, MissingLoad::Hold) => None,
    };
    let per_replica = service.demand;
    let Some((load, load_text)) = load else {
        let hold = r0.clamp(floor, max);
        return Ok(Bounds {
            name,
            per_replica,
            r0,
            need: hold,
            keep: hold,
            max: hold,
            explanation: format!(
                "no telemetry: held at {hold} (current {r0}, bounds {floor}..={max})"
            ),
        });
    };
    let raw_need = replicas_for(load, p.alpha, p.beta).max(floor);
    let mut explanation = format!(
        "{load_text}; alpha {}, beta {} -> needs {raw_need}",
        p.alpha, p.beta
    );
    let need = if raw_need > max {
        explanation.push_str(&format!(
            "; exceeds max_replicas {max} (serves {:.3} rps): capped, the service is saturated",
            p.alpha * f64::from(max) + p.beta
        ));
        max
    } else {
        raw_need
    };
    let mut keep = need;
    if r0 > need {
        let with_headroom =
            replicas_for(load * (1.0 + params.scale_down_headroom), p.alpha, p.beta)
                .max(floor)
                .min(max);
        keep = r0.min(with_headroom).max(need);
        if keep > need {
            explanation.push_str(&format!(
                "; hysteresis keeps {keep} (serves (1 + {}) x load)",
                params.scale_down_headroom
            ));
        }
    }
    Ok(Bounds {
        name,
        per_replica,
        r0,
        need,
        keep,
        max,
        explanation,
    })
}

fn total(bounds: &[Bounds], pick: impl Fn(&Bounds) -> u32) -> Resources {
    bounds.iter().fold(Resources::default(), |acc, b| {
        add(&acc, &b.per_replica.times(pick(b)))
    })
}

/// Replicas for the graph's services on `request.cluster`.
pub fn scale(request: &ScalingRequest, params: &Params) -> Result<ScalingDecision, PluginError> {
    let cluster = &request.cluster;
    let mut decision = ScalingDecision::default();
    let mut all = Vec::new();
    for assignment in request.placement.assignments.iter() {
        let Some(service) = request
            .graph
            .services
            .iter()
            .find(|s| s.name == assignment.service)
        else {
            return Err(PluginError::invalid_input(format!(
                "the placement names service `{}`, which is not in graph `{}`",
                assignment.service, request.graph.name
            )));
        };
        if all.iter().any(|b: &Bounds| b.name == service.name.as_str()) {
            return Err(PluginError::invalid_input(format!(
                "the placement lists service `{}` twice",
                service.name
            )));
        }
        all.push(bounds(
            service,
            assignment.replicas,
            &request.telemetry,
            params,
        )?);
    }
    if all.is_empty() {
        decision
            .reasons
            .push(format!("no services of the graph on cluster `{}`", cluster.name).into());
        return Ok(decision);
    }

    // acc_s <= A_c: a GPU service on a cluster without GPUs can only be fixed by re-placement.
    let gpu_misfits: Vec<&str> = all
        .iter()
        .filter(|b| b.per_replica.gpu > 0 && cluster.capacity.gpu == 0)
        .map(|b| b.name.as_str())
        .collect();
    let minimum = total(&all, |b| b.need);
    if !gpu_misfits.is_empty() || !cluster.available.fits(&minimum) {
        decision.infeasible_replace = true;
        if !gpu_misfits.is_empty() {
            decision.reasons.push(
                format!(
                    "infeasible: re-place: `{}` need a GPU and cluster `{}` has none",
                    gpu_misfits.join("`, `"),
                    cluster.name
                )
                .into(),
            );
        }
        if !cluster.available.fits(&minimum) {
            decision.reasons.push(
                format!(
                    "infeasible: re-place: the minimum replicas need {}, cluster `{}` has {} available",
                    describe(&minimum),
                    cluster.name,
                    describe(&cluster.available)
                )
                .into(),
            );
        }
        decision.replicas = all
            .iter()
            .map(|b| ReplicaChoice {
                service: b.name.as_str().into(),
                replicas: b.need,
                reason: format!("minimum required (for the re-placement): {}", b.explanation)
                    .into(),
            })
            .collect();
        decision.extra = extra(serde_json::json!({
            "model": "replicas-milp",
            "infeasible_replace": true,
        }));
        return Ok(decision);
    }
    // The hysteresis yields to capacity: if keeping replicas does not fit, only `need` binds.
    let hysteresis_fits = cluster.available.fits(&total(&all, |b| b.keep));
    if !hysteresis_fits {
        decision.reasons.push(
            "the hysteresis bounds do not fit the cluster: scaling down to the minimum replicas"
                .into(),
        );
    }

    let mut milp = Milp::new();
    let mut cols = Vec::with_capacity(all.len());
    for b in &all {
        let lo = if hysteresis_fits { b.keep } else { b.need };
        let m = f64::from(b.max.max(1));
        let r = milp.integer(params.w_util / m, f64::from(lo), f64::from(b.max));
        let r0 = f64::from(b.r0);
        let up = milp.continuous(params.w_trans / m, 0.0, f64::INFINITY);
        let down = milp.continuous(params.w_trans / m, 0.0, f64::INFINITY);
        milp.row(-r0, f64::INFINITY, &[(up, 1.0), (r, -1.0)]);
        milp.row(r0, f64::INFINITY, &[(down, 1.0), (r, 1.0)]);
        cols.push(r);
    }
    for (d, &limit) in dims(&cluster.available).iter().enumerate() {
        let terms: Vec<(highs::Col, f64)> = all
            .iter()
            .zip(&cols)
            .map(|(b, &col)| (col, dims(&b.per_replica)[d]))
            .filter(|&(_, demand)| demand > 0.0)
            .collect();
        if !terms.is_empty() {
            milp.row(f64::NEG_INFINITY, limit, &terms);
        }
    }
    let solved = milp.solve(&solve_options(params)).map_err(|e| {
        e.into_plugin_error(&format!("replica program for cluster `{}`", cluster.name))
    })?;

    let mut chosen = Vec::with_capacity(all.len());
    for (b, &col) in all.iter().zip(&cols) {
        let value = solved.value(col).round();
        if !(0.0..=f64::from(b.max)).contains(&value) {
            return Err(PluginError::internal(format!(
                "replica program returned {value} replicas for `{}` (max {})",
                b.name, b.max
            )));
        }
        chosen.push(value as u32);
    }
    let used = all
        .iter()
        .zip(&chosen)
        .fold(Resources::default(), |acc, (b, &r)| {
            add(&acc, &b.per_replica.times(r))
        });
    if !cluster.available.fits(&used) {
        return Err(PluginError::internal(format!(
            "replica program overfills cluster `{}`: {} of {}",
            cluster.name,
            describe(&used),
            describe(&cluster.available)
        )));
    }
    for (b, &r) in all.iter().zip(&chosen) {
        let change = match r.cmp(&b.r0) {
            std::cmp::Ordering::Greater => "scale up",
            std::cmp::Ordering::Less => "scale down",
            std::cmp::Ordering::Equal => "unchanged",
        };
        decision.replicas.push(ReplicaChoice {
            service: b.name.as_str().into(),
            replicas: r,
            reason: format!("{}; {} -> {r} ({change})", b.explanation, b.r0).into(),
        });
    }
    decision.reasons.push(
        format!(
            "cluster `{}`: replicas use {} of {} available; objective {:.6} (w_util {}, w_trans {}); \
             HiGHS {} in {:.3} s",
            cluster.name,
            describe(&used),
            describe(&cluster.available),
            solved.objective,
            params.w_util,
            params.w_trans,
            solved.status.describe(),
            solved.seconds,
        )
        .into(),
    );
    decision.extra = extra(serde_json::json!({
        "model": "replicas-milp",
        "solver_status": solved.status.describe(),
        "objective": solved.objective,
        "load": params.load.as_str(),
        "solve_seconds": solved.seconds,
    }));
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::LoadMode;
    use smo_plugin_api::testing::*;

    fn run(request: &ScalingRequest, params: &Params) -> ScalingDecision {
        match scale(request, params) {
            Ok(d) => d,
            Err(e) => panic!("scaling failed: {e}"),
        }
    }

    fn replicas_of(decision: &ScalingDecision, service: &str) -> u32 {
        decision
            .replicas
            .iter()
            .find(|c| c.service.as_str() == service)
            .map(|c| c.replicas)
            .unwrap_or(u32::MAX)
    }

    /// One service `web` (alpha 10, beta 0, 1..=20 replicas, 0.5 CPU each) on a 16-CPU cluster.
    fn web(r0: u32, current: f64, predicted: f64) -> ScalingRequest {
        scaling_request(
            graph_of(vec![service("web", 0.5, 256.0, 0).scaling(10.0, 0.0, 1, 20)]),
            cluster("c", 16.0, 16384.0, 0),
            &[("web", r0)],
            loads(&[("web", current, predicted)]),
        )
    }

    #[test]
    fn replicas_for_is_the_least_sufficient_count() {
        assert_eq!(replicas_for(55.0, 10.0, 0.0), 6);
        assert_eq!(replicas_for(50.0, 10.0, 0.0), 5);
        assert_eq!(replicas_for(0.0, 10.0, 0.0), 0);
        // Brussels noise-reduction: (1.0 + 0.416) / 0.533 = 2.66 -> 3.
        assert_eq!(replicas_for(1.0, 0.533, -0.416), 3);
    }

    #[test]
    fn scales_up_to_cover_the_load() {
        let d = run(&web(2, 55.0, 55.0), &Params::default());
        assert!(!d.infeasible_replace);
        assert_eq!(replicas_of(&d, "web"), 6);
    }

    #[test]
    fn scales_down_when_load_falls() {
        // 10 replicas, load 30: 3 serve it, the 20% hysteresis asks for 36 rps -> 4 replicas.
        let d = run(&web(10, 30.0, 30.0), &Params::default());
        assert_eq!(replicas_of(&d, "web"), 4);
        assert!(d.replicas[0].reason.contains("scale down"));
        // Without hysteresis it goes straight to 3.
        let no_band = Params {
            scale_down_headroom: 0.0,
            ..Params::default()
        };
        assert_eq!(replicas_of(&run(&web(10, 30.0, 30.0), &no_band), "web"), 3);
    }

    #[test]
    fn upstream_weights_never_scale_down() {
        // w_trans >= w_util reproduces upstream's ratchet: the replicas stay at 10.
        let upstream = Params {
            w_util: 0.4,
            w_trans: 0.4,
            ..Params::default()
        };
        let ratchet = Params {
            w_util: 0.4,
            w_trans: 0.5,
            ..Params::default()
        };
        assert_eq!(replicas_of(&run(&web(10, 30.0, 30.0), &ratchet), "web"), 10);
        // With equal weights any count in 4..=10 is optimal; it never goes below the band.
        let r = replicas_of(&run(&web(10, 30.0, 30.0), &upstream), "web");
        assert!((4..=10).contains(&r), "{r}");
    }

    #[test]
    fn hysteresis_prevents_flapping() {
        // Load alternating 105 / 95 rps around the 10-replica threshold (100 rps).
        let run_sequence = |params: &Params| {
            let mut r = 10;
            let mut seen = Vec::new();
            for load in [105.0, 95.0, 105.0, 95.0] {
                r = replicas_of(&run(&web(r, load, load), params), "web");
                seen.push(r);
            }
            seen
        };
        assert_eq!(run_sequence(&Params::default()), vec![11, 11, 11, 11]);
        let no_band = Params {
            scale_down_headroom: 0.0,
            ..Params::default()
        };
        assert_eq!(run_sequence(&no_band), vec![11, 10, 11, 10]);
    }

    #[test]
    fn max_replicas_holds() {
        // 1000 rps would need 100 replicas; max is 20 (and 20 x 0.5 CPU fits).
        let d = run(&web(5, 1000.0, 1000.0), &Params::default());
        assert!(!d.infeasible_replace);
        assert_eq!(replicas_of(&d, "web"), 20);
        assert!(d.replicas[0].reason.contains("saturated"));
        // Current replicas above a lowered max come down to it.
        let request = scaling_request(
            graph_of(vec![service("w", 0.5, 256.0, 0).scaling(10.0, 0.0, 1, 3)]),
            cluster("c", 16.0, 16384.0, 0),
            &[("w", 8)],
            loads(&[("w", 25.0, 25.0)]),
        );
        assert_eq!(replicas_of(&run(&request, &Params::default()), "w"), 3);
    }

    #[test]
    fn at_least_one_replica_and_min_replicas() {
        assert_eq!(
            replicas_of(&run(&web(3, 0.0, 0.0), &Params::default()), "web"),
            1
        );
        let request = scaling_request(
            graph_of(vec![service("w", 0.5, 256.0, 0).scaling(10.0, 0.0, 2, 5)]),
            cluster("c", 16.0, 16384.0, 0),
            &[("w", 4)],
            loads(&[("w", 0.0, 0.0)]),
        );
        assert_eq!(replicas_of(&run(&request, &Params::default()), "w"), 2);
    }

    #[test]
    fn load_mode_selects_current_predicted_or_max() {
        let request = web(1, 20.0, 50.0);
        let with = |load| Params {
            load,
            ..Params::default()
        };
        assert_eq!(replicas_of(&run(&request, &with(LoadMode::Max)), "web"), 5);
        assert_eq!(
            replicas_of(&run(&request, &with(LoadMode::Current)), "web"),
            2
        );
        assert_eq!(
            replicas_of(&run(&request, &with(LoadMode::Predicted)), "web"),
            5
        );
    }

    #[test]
    fn cpu_capacity_shortfall_answers_infeasible_replace() {
        // Two services of 1 CPU per replica need 3 + 2 replicas = 5 CPU; only 4 available.
        let request = scaling_request(
            graph_of(vec![
                service("a", 1.0, 128.0, 0).scaling(10.0, 0.0, 1, 10),
                service("b", 1.0, 128.0, 0).scaling(10.0, 0.0, 1, 10),
            ]),
            cluster("c", 4.0, 16384.0, 0),
            &[("a", 1), ("b", 1)],
            loads(&[("a", 30.0, 30.0), ("b", 20.0, 20.0)]),
        );
        let d = run(&request, &Params::default());
        assert!(d.infeasible_replace);
        assert!(
            d.reasons[0].contains("infeasible: re-place"),
            "{:?}",
            d.reasons
        );
        assert_eq!(replicas_of(&d, "a"), 3);
        assert_eq!(replicas_of(&d, "b"), 2);
    }

    #[test]
    fn memory_shortfall_also_answers_infeasible_replace() {
        let request = scaling_request(
            graph_of(vec![service("m", 0.1, 1024.0, 0).scaling(10.0, 0.0, 1, 10)]),
            cluster("c", 64.0, 2048.0, 0),
            &[("m", 1)],
            loads(&[("m", 30.0, 30.0)]),
        );
        assert!(run(&request, &Params::default()).infeasible_replace);
    }

    #[test]
    fn gpu_service_on_a_cluster_without_gpus_answers_infeasible_replace() {
        let request = scaling_request(
            graph_of(vec![service("g", 1.0, 128.0, 1).scaling(10.0, 0.0, 1, 4)]),
            cluster("c", 16.0, 16384.0, 0),
            &[("g", 1)],
            loads(&[("g", 5.0, 5.0)]),
        );
        let d = run(&request, &Params::default());
        assert!(d.infeasible_replace);
        assert!(d.reasons[0].contains("GPU"));
    }

    #[test]
    fn gpus_per_replica_limit_replicas() {
        // 2 GPUs available, 1 GPU per replica: 3 replicas needed -> re-place.
        let request = scaling_request(
            graph_of(vec![service("g", 1.0, 128.0, 1).scaling(10.0, 0.0, 1, 4)]),
            cluster("c", 16.0, 16384.0, 2),
            &[("g", 1)],
            loads(&[("g", 25.0, 25.0)]),
        );
        assert!(run(&request, &Params::default()).infeasible_replace);
    }

    #[test]
    fn hysteresis_yields_to_capacity() {
        // 10 replicas of 1 CPU, cluster shrank to 4 CPU available. Load 30: need 3, band 4.
        // 4 fits; with 3.5 CPU available only 3 fits and the band is dropped.
        let request = |cpu: f64| {
            scaling_request(
                graph_of(vec![service("w", 1.0, 128.0, 0).scaling(10.0, 0.0, 1, 20)]),
                cluster("c", cpu, 16384.0, 0),
                &[("w", 10)],
                loads(&[("w", 30.0, 30.0)]),
            )
        };
        assert_eq!(replicas_of(&run(&request(4.0), &Params::default()), "w"), 4);
        let d = run(&request(3.5), &Params::default());
        assert_eq!(replicas_of(&d, "w"), 3);
        assert!(d.reasons.iter().any(|r| r.contains("hysteresis")));
    }

    #[test]
    fn missing_telemetry_holds_or_counts_as_zero() {
        let request = scaling_request(
            graph_of(vec![service("w", 0.5, 128.0, 0).scaling(10.0, 0.0, 1, 20)]),
            cluster("c", 16.0, 16384.0, 0),
            &[("w", 7)],
            Telemetry::default(),
        );
        assert_eq!(replicas_of(&run(&request, &Params::default()), "w"), 7);
        let zero = Params {
            missing_load: MissingLoad::Zero,
            ..Params::default()
        };
        assert_eq!(replicas_of(&run(&request, &zero), "w"), 1);
    }

    #[test]
    fn coefficients_come_from_the_descriptor_per_service() {
        // The Brussels services with their upstream coefficients, under new names.
        let request = scaling_request(
            graph_of(vec![
                service("one", 0.5, 128.0, 0).scaling(33.33, -16.66, 1, 3),
                service("two", 1.0, 128.0, 0).scaling(0.533, -0.416, 1, 3),
                service("three", 1.0, 128.0, 0).scaling(1.67, -0.01, 1, 3),
            ]),
            cluster("c", 16.0, 16384.0, 0),
            &[("one", 1), ("two", 1), ("three", 1)],
            loads(&[("one", 40.0, 40.0), ("two", 1.0, 1.0), ("three", 3.0, 3.0)]),
        );
        let d = run(&request, &Params::default());
        // one: (40 + 16.66) / 33.33 = 1.70 -> 2; two: 2.66 -> 3; three: 3.01 / 1.67 = 1.80 -> 2.
        assert_eq!(replicas_of(&d, "one"), 2);
        assert_eq!(replicas_of(&d, "two"), 3);
        assert_eq!(replicas_of(&d, "three"), 2);
    }

    #[test]
    fn bad_profiles_and_unknown_services_are_invalid_input() {
        let request = scaling_request(
            graph_of(vec![service("w", 0.5, 128.0, 0).scaling(0.0, 0.0, 1, 3)]),
            cluster("c", 16.0, 16384.0, 0),
            &[("w", 1)],
            loads(&[("w", 1.0, 1.0)]),
        );
        let err = scale(&request, &Params::default()).expect_err("alpha 0");
        assert_eq!(err.kind, ErrorKind::INVALID_INPUT);
        let request = scaling_request(
            graph_of(vec![service("w", 0.5, 128.0, 0)]),
            cluster("c", 16.0, 16384.0, 0),
            &[("ghost", 1)],
            Telemetry::default(),
        );
        let err = scale(&request, &Params::default()).expect_err("unknown");
        assert!(err.message.contains("ghost"));
    }

    /// The program's optimum has a closed form when w_util > w_trans: every service at its lower
    /// bound. Check the solver agrees on many pseudo-random clusters.
    #[test]
    fn solver_matches_the_closed_form_on_random_instances() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..40 {
            let n = 1 + next(8) as usize;
            let mut services = Vec::new();
            let mut current = Vec::new();
            let mut telemetry = Vec::new();
            let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
            for name in &names {
                let alpha = 1.0 + next(20) as f64;
                let max = 1 + next(10) as u32;
                services.push(service(name, 0.25 * (1 + next(4)) as f64, 64.0, 0).scaling(
                    alpha,
                    next(5) as f64 - 2.0,
                    1,
                    max,
                ));
                current.push((name.as_str(), 1 + next(12) as u32));
                let load = next(200) as f64;
                telemetry.push((name.as_str(), load, load * 0.9));
            }
            let request = scaling_request(
                graph_of(services.clone()),
                cluster("c", 1000.0, 1e6, 0),
                &current,
                loads(&telemetry),
            );
            let params = Params::default();
            let d = run(&request, &params);
            for (i, s) in services.iter().enumerate() {
                let b = bounds(s, current[i].1, &request.telemetry, &params).expect("valid");
                assert_eq!(replicas_of(&d, &names[i]), b.keep, "service {i}: {:?}", b);
                assert!(b.keep <= s.scaling.max_replicas);
            }
        }
    }
}
