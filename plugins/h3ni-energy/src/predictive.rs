//! `h3ni-energy/predictive`: per-service request-rate history kept in the strategy (a Mutex,
//! keyed by graph, cluster and service; a service that moves takes its history along),
//! forecasts chosen by recent error, alpha/beta replicas.

use crate::energy::latency;
use crate::forecast::{forecast, HwParams, Model};
use crate::params::ScalingParams;
use crate::placement::user_of;
use crate::reserve::SharedReservations;
use crate::slo;
use smo_plugin_api::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What the strategy remembers about one service on one cluster.
#[derive(Debug, Default, Clone)]
struct History {
    times: VecDeque<i64>,
    rates: VecDeque<f64>,
    /// Forecast of each model for the next call, made at the last call.
    pending: Vec<(Model, f64)>,
    /// Recent relative errors `(actual - forecast) / forecast`, per model.
    errors: HashMap<&'static str, VecDeque<f64>>,
    /// The service's processing time at zero load, estimated from measured responses
    /// (`slo_margin` only).
    processing_ms: Option<f64>,
}

/// One service's forecast, as reported in `ScalingDecision.extra`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Forecast {
    pub service: String,
    pub model: &'static str,
    pub measured_rps: f64,
    /// What the chosen model forecast for now, at the previous call (`null` at first).
    pub forecast_rps: Option<f64>,
    /// The chosen model's forecast for the next call.
    pub next_rps: f64,
    pub provisioned_rps: f64,
    pub margin: f64,
    /// Mean absolute percentage error of the recent one-call-ahead forecasts of each model.
    pub mape: HashMap<&'static str, f64>,
    pub replicas: u32,
}

/// The predictive scaling strategy.
pub struct Predictive {
    params: ScalingParams,
    state: Mutex<Memory>,
    /// Where the placement holds room for the services' growth: told the replicas chosen, so
    /// that it holds only what they may still add.
    holds: Option<SharedReservations>,
}

impl Predictive {
    pub fn new(params: ScalingParams) -> Self {
        Self {
            params,
            state: Mutex::new(Memory::default()),
            holds: None,
        }
    }

    /// The same strategy telling `store` the replicas it chooses.
    pub fn sharing(self, store: SharedReservations) -> Self {
        Self {
            holds: Some(store),
            ..self
        }
    }

    /// Folds a processing-time `sample` into the estimate kept with `key`'s history (which
    /// [`Predictive::observe`] has just created or reset) and returns the estimate.
    fn processing(&self, key: &Key, sample: Option<f64>) -> Option<f64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let h = state.histories.entry(key.clone()).or_default();
        if let Some(x) = sample {
            h.processing_ms = Some(h.processing_ms.map_or(x, |p| 0.7 * p + 0.3 * x));
        }
        h.processing_ms
    }

    /// Records `rate` at `time` and returns the rate to provision for, with its report.
    pub fn observe(&self, key: Key, time: i64, rate: f64) -> Forecast {
        let p = &self.params;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        state.inherit(&key, time);
        let h = state.histories.entry(key.clone()).or_default();
        if h.times.back().is_some_and(|&t| t >= time) {
            *h = History::default(); // time went back: a new run (e.g. another simulation)
        }
        let previous = std::mem::take(&mut h.pending);
        for &(m, f) in &previous {
            let e = h.errors.entry(m.name()).or_default();
            e.push_back((rate - f) / f.max(1e-6));
            while e.len() > p.error_window {
                e.pop_front();
            }
        }
        let mape = |h: &History, m: Model| {
            h.errors
                .get(m.name())
                .filter(|e| !e.is_empty())
                .map(|e| e.iter().map(|x| x.abs()).sum::<f64>() / e.len() as f64)
        };
        // The model chosen now is the one with the least recent error (scored before `rate`
        // entered its history); its forecast of `rate`, made at the last call, is the level.
        let best = Model::ALL
            .iter()
            .filter_map(|&m| mape(h, m).map(|e| (m, e)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(m, _)| m);
        let level_forecast = best.and_then(|m| previous.iter().find(|x| x.0 == m).map(|x| x.1));
        let margin = match best.and_then(|m| h.errors.get(m.name())) {
            Some(e) if e.len() >= 3 => {
                let mut under: Vec<f64> = e.iter().map(|x| x.max(0.0)).collect();
                under.sort_by(f64::total_cmp);
                let k = ((under.len() as f64 * p.margin_quantile).ceil() as usize)
                    .clamp(1, under.len());
                under[k - 1].clamp(p.min_margin, p.max_margin)
            }
            _ => p.max_margin,
        };
        h.times.push_back(time);
        h.rates.push_back(rate);
        while h.times.len() > p.max_history {
            h.times.pop_front();
            h.rates.pop_front();
        }
        // The call period, from the last observations; the season in calls.
        let period = {
            let n = h.times.len();
            if n >= 2 {
                (h.times[n - 1] - h.times[n - 2]).max(1) as f64
            } else {
                p.horizon_s.unwrap_or(300.0)
            }
        };
        let season = (p.season_s / period).round().max(2.0) as usize;
        let steps = p
            .horizon_s
            .map_or(1, |s| ((s / period).ceil() as usize).max(1));
        let y: Vec<f64> = h.rates.iter().copied().collect();
        let hw = HwParams {
            alpha: p.hw_alpha,
            beta: p.hw_beta,
            gamma: p.hw_gamma,
        };
        let mut next = Vec::new();
        let mut ahead = rate;
        for m in Model::ALL {
            if let Some(f) = forecast(m, &y, season, hw, (p.ar_order, p.ar_window), steps) {
                if let Some(&f1) = f.first() {
                    h.pending.push((m, f1));
                    if Some(m) == best.or(Some(Model::Naive)) {
                        ahead = f.iter().copied().fold(0.0, f64::max);
                        next.push(f1);
                    }
                }
            }
        }
        // Level for the coming interval: the mean of the forecast made before the rate was
        // measured and the measurement (halving the noise of either), unless the measurement
        // leaves the band the recent errors allow (an unforeseen load step): then the
        // measurement alone, so that a step is answered at once.
        let level = match level_forecast {
            Some(f) if rate <= f * (1.0 + margin) && rate >= f * (1.0 - 2.0 * margin) => {
                0.5 * (f + rate)
            }
            _ => rate,
        };
        let look_ahead = if p.horizon_s.is_some() { ahead } else { 0.0 };
        let provisioned = level.max(look_ahead) * (1.0 + margin);
        Forecast {
            service: key.2,
            model: best.unwrap_or(Model::Naive).name(),
            measured_rps: rate,
            forecast_rps: level_forecast,
            next_rps: next.first().copied().unwrap_or(rate),
            provisioned_rps: provisioned,
            margin,
            mape: Model::ALL
                .iter()
                .filter_map(|&m| mape(h, m).map(|e| (m.name(), e)))
                .collect(),
            replicas: 0,
        }
    }
}

/// (graph, cluster, service).
type Key = (String, String, String);

/// Every history, and per (graph, service) the clusters it has one on.
#[derive(Debug, Default)]
struct Memory {
    histories: HashMap<Key, History>,
    clusters: HashMap<(String, String), Vec<String>>,
}

impl Memory {
    /// A service that moved to another cluster takes its history along: when the history of
    /// `key` is missing, or older than the freshest one of the same service on another
    /// cluster (observed before `time`), it starts as a copy of that one. Without this, a
    /// move would restart the forecasts from nothing and provision at `max_margin` until
    /// they relearn.
    fn inherit(&mut self, key: &Key, time: i64) {
        let last = |k: &Key| self.histories.get(k).and_then(|h| h.times.back().copied());
        let own = last(key);
        let service = (key.0.clone(), key.2.clone());
        let freshest = self
            .clusters
            .get(&service)
            .into_iter()
            .flatten()
            .filter(|c| **c != key.1)
            .map(|c| (key.0.clone(), c.clone(), key.2.clone()))
            .filter_map(|k| last(&k).filter(|&t| t < time).map(|t| (t, k)))
            .max_by_key(|(t, _)| *t);
        if let Some((t, k)) = freshest {
            if own.is_none_or(|o| o < t) {
                let copy = self.histories.get(&k).cloned().unwrap_or_default();
                self.histories.insert(key.clone(), copy);
            }
        }
        let on = self.clusters.entry(service).or_default();
        if !on.contains(&key.1) {
            on.push(key.1.clone());
        }
    }
}

/// Replicas that serve `rate` with `alpha * r + beta`, within the service's bounds.
pub fn replicas_for(rate: f64, p: &ScalingProfile) -> u32 {
    let lo = p.min_replicas.max(1);
    let hi = p.max_replicas.max(lo);
    if p.alpha <= 0.0 {
        return lo;
    }
    let r = ((rate - p.beta) / p.alpha - 1e-9).ceil().max(0.0);
    (r.min(f64::from(hi)) as u32).clamp(lo, hi)
}

impl Scaling for Predictive {
    fn scale(&self, req: &ScalingRequest) -> Result<ScalingDecision, PluginError> {
        let mut d = ScalingDecision::default();
        let mut reports = Vec::new();
        let (mut need_cpu, mut own_cpu) = (0.0, 0.0);
        // The response time the SLO allows on this cluster (one per request, not per service).
        let slo_budget_ms = self
            .params
            .slo_margin
            .zip(slo::slo_of(&req.cluster))
            .map(|(share, slo_ms)| slo_ms * share);
        for a in req.placement.assignments.iter() {
            let Some(s) = req.graph.services.iter().find(|s| s.name == a.service) else {
                continue;
            };
            let load = req.telemetry.loads.iter().find(|l| l.service == s.name);
            let measured = load.map_or(0.0, |l| l.current_rps);
            let key = (
                req.graph.name.to_string(),
                req.cluster.name.to_string(),
                s.name.to_string(),
            );
            let mut f = self.observe(key.clone(), req.telemetry.time_unix_s, measured);
            let mut r = replicas_for(f.provisioned_rps, &s.scaling);
            let mut for_slo = String::new();
            if let Some(budget_ms) = slo_budget_ms {
                let lat =
                    latency(&req.telemetry, user_of(s), req.cluster.name.as_str()).unwrap_or(0.0);
                let sample = load
                    .and_then(|l| slo::processing_ms(l.response_time_ms, lat, l.cpu_utilisation));
                if let Some(proc_ms) = self.processing(&key, sample) {
                    let need = slo::replicas_for_slo(
                        f.provisioned_rps,
                        proc_ms,
                        lat,
                        budget_ms,
                        &s.scaling,
                        r,
                    );
                    if need > r {
                        for_slo = format!(
                            "; {need} replicas for the SLO ({proc_ms:.1} ms processing, {lat:.1} ms away)"
                        );
                        r = need;
                    }
                }
            }
            if let Some(store) = &self.holds {
                store
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .scaled(
                        req.graph.name.as_str(),
                        req.cluster.name.as_str(),
                        s.name.as_str(),
                        r,
                        req.telemetry.time_unix_s,
                    );
            }
            f.replicas = r;
            need_cpu += s.demand.cpu * f64::from(r);
            own_cpu += s.demand.cpu * f64::from(a.replicas);
            d.replicas.push(ReplicaChoice {
                service: s.name.clone(),
                replicas: r,
                reason: format!(
                    "{}: measured {:.1} rps, {} forecast {}, provision {:.1} rps (margin {:.0} %){for_slo}",
                    s.name,
                    f.measured_rps,
                    f.model,
                    f.forecast_rps
                        .map_or("-".to_string(), |x| format!("{x:.1}")),
                    f.provisioned_rps,
                    f.margin * 100.0
                )
                .into(),
            });
            reports.push(f);
        }
        if need_cpu > req.cluster.available.cpu + own_cpu + 1e-9 {
            d.infeasible_replace = true;
            d.reasons.push(
                format!(
                    "needs {need_cpu:.2} CPU, the cluster has {:.2}: re-place",
                    req.cluster.available.cpu + own_cpu
                )
                .into(),
            );
        }
        d.extra = serde_json::json!({ "forecasts": reports })
            .to_string()
            .into();
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_follow_alpha_beta() {
        let p = ScalingProfile {
            alpha: 10.0,
            beta: 5.0,
            min_replicas: 1,
            max_replicas: 8,
        };
        assert_eq!(replicas_for(0.0, &p), 1);
        assert_eq!(replicas_for(25.0, &p), 2);
        assert_eq!(replicas_for(25.1, &p), 3);
        assert_eq!(replicas_for(1e9, &p), 8);
    }

    #[test]
    fn a_seasonal_series_is_provisioned_within_twenty_percent() {
        let s = Predictive::new(ScalingParams::default());
        let (mut ok, mut n) = (0, 0);
        // 4 days at 15-minute calls, hourly levels with a daily cycle, +-3 % noise.
        for t in 0..4 * 96 {
            let hour = (t / 4) % 24;
            let base = 200.0 + 150.0 * (2.0 * std::f64::consts::PI * hour as f64 / 24.0).sin();
            let noise = 1.0 + 0.03 * (((t * 7919) % 101) as f64 / 50.0 - 1.0);
            let rate = base * noise;
            let f = s.observe(("g".into(), "c".into(), "s".into()), t as i64 * 900, rate);
            if t >= 2 * 96 {
                n += 1;
                if f.provisioned_rps >= rate && f.provisioned_rps <= 1.2 * rate {
                    ok += 1;
                }
            }
        }
        assert!(ok as f64 / n as f64 >= 0.95, "{ok}/{n}");
    }

    #[test]
    fn a_load_step_is_answered_at_the_same_call() {
        let s = Predictive::new(ScalingParams::default());
        for t in 0..20 {
            s.observe(("g".into(), "c".into(), "s".into()), t * 60, 100.0);
        }
        let f = s.observe(("g".into(), "c".into(), "s".into()), 20 * 60, 300.0);
        assert!(f.provisioned_rps >= 300.0);
        // Time going back starts a new history.
        let f = s.observe(("g".into(), "c".into(), "s".into()), 0, 50.0);
        assert!(f.forecast_rps.is_none());
    }

    #[test]
    fn with_an_slo_margin_the_replicas_keep_the_response_within_the_slo() {
        // 60 rps measured at rho 0.5 with an 18 ms response, 2 ms from the users: 8 ms of
        // processing. No history yet, so the margin is max_margin: 66 rps, 4 replicas of 20.
        // The 20 ms SLO needs rho <= 1 - 8 / 18 = 0.556: 66 / 0.556 = 119 rps, 6 replicas.
        let mut svc = crate::placement::tests::service("s", 1.0);
        svc.scaling = ScalingProfile {
            alpha: 20.0,
            beta: 0.0,
            min_replicas: 1,
            max_replicas: 10,
        };
        let mut cluster = crate::placement::tests::cluster("c", 16.0, 1.0, 100.0, 0.0);
        cluster.extra = r#"{"processing_ms": 1, "slo_ms": 20}"#.into();
        let mut telemetry = Telemetry::default();
        telemetry
            .links
            .push(crate::placement::tests::users_link("c", 2.0));
        telemetry.loads.push(ServiceLoad {
            service: "s".into(),
            current_rps: 60.0,
            predicted_rps: 60.0,
            cpu_utilisation: 0.5,
            memory_utilisation: 0.0,
            response_time_ms: 18.0,
        });
        let req = ScalingRequest {
            graph: Graph {
                name: "g".into(),
                services: vec![svc].into(),
            },
            cluster,
            placement: smo_plugin_api::Placement {
                assignments: vec![Assignment {
                    service: "s".into(),
                    cluster: "c".into(),
                    replicas: 3,
                }]
                .into(),
            },
            telemetry,
            extra: RString::new(),
        };
        let replicas = |p: ScalingParams| {
            let d = Predictive::new(p).scale(&req).expect("scaled");
            d.replicas[0].replicas
        };
        assert_eq!(replicas(ScalingParams::default()), 4);
        let slo_aware = ScalingParams {
            slo_margin: Some(1.0),
            ..ScalingParams::default()
        };
        assert_eq!(replicas(slo_aware), 6);
        let bad = ScalingParams {
            slo_margin: Some(0.0),
            ..ScalingParams::default()
        };
        assert!(format!("{:?}", bad.check().expect_err("refused")).contains("slo_margin"));
    }

    #[test]
    fn a_service_that_moves_keeps_its_history_and_margin() {
        let s = Predictive::new(ScalingParams::default());
        let key = |c: &str| ("g".to_string(), c.to_string(), "s".to_string());
        let rate = |t: i64| 100.0 + 10.0 * ((t % 12) as f64 - 6.0).abs();
        let mut last = None;
        for t in 0..48 {
            last = Some(s.observe(key("a"), t * 300, rate(t)));
        }
        let before = last.expect("observed");
        assert!(
            before.margin < ScalingParams::default().max_margin,
            "{before:?}"
        );
        // The service moves to b: same traffic, same forecasts and margin as if it stayed.
        let moved = s.observe(key("b"), 48 * 300, rate(48));
        let stayed = Predictive::new(ScalingParams::default());
        let mut reference = None;
        for t in 0..49 {
            reference = Some(stayed.observe(key("a"), t * 300, rate(t)));
        }
        let reference = reference.expect("observed");
        assert!(moved.forecast_rps.is_some(), "{moved:?}");
        assert_eq!(moved.forecast_rps, reference.forecast_rps);
        assert_eq!(moved.provisioned_rps, reference.provisioned_rps);
        // Back on a an hour later: a's own history is older than b's, so b's is taken.
        for t in 49..60 {
            s.observe(key("b"), t * 300, rate(t));
        }
        let back = s.observe(key("a"), 60 * 300, rate(60));
        let mut reference = None;
        for t in 49..61 {
            reference = Some(stayed.observe(key("a"), t * 300, rate(t)));
        }
        assert_eq!(
            back.provisioned_rps,
            reference.expect("observed").provisioned_rps
        );
    }
}
