//! The offload state machine (`smo_core::offload`) closed around the real `sbmp-gma`
//! plugin on a model-in-the-loop continuum: the app's user delay is 50 ms of processing plus
//! SBMP's own network-delay prediction for the current edge set and load (read from the
//! decision's `extra.before`), so the loop can be checked without the simulator.

use serde_json::Value;
use smo_core::offload::{ActionOutcome, Observation, OffloadMachine, OffloadPolicy};
use smo_plugin_api::*;
use smo_plugin_host::{Dispatcher, StrategyName};
use smo_tests::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The plugin's own seeded synthetic application (an input generator only: the strategy is
/// still called through the loaded `.so`), everything in the cloud, at `lambda` requests/s.
fn app(n: usize, seed: u64, lambda: f64) -> MigrationRequest {
    smo_sbmp_gma::synth::app(&smo_sbmp_gma::synth::Spec {
        lambda,
        ..smo_sbmp_gma::synth::Spec::new(n, seed)
    })
}

/// The continuum: the app at the current load with the services at the edge.
struct ModelContinuum {
    services: usize,
    lambda: f64,
    edge: BTreeMap<String, u32>,
    dispatcher: Arc<Dispatcher>,
}

impl ModelContinuum {
    fn request(&self, extra: &str) -> MigrationRequest {
        let mut req = app(self.services, 7, self.lambda);
        let mut assignments: Vec<Assignment> = req.current.assignments.iter().cloned().collect();
        for (s, r) in &self.edge {
            assignments.push(Assignment {
                service: s.as_str().into(),
                cluster: "edge".into(),
                replicas: *r,
            });
        }
        req.current.assignments = assignments.into();
        req.extra = extra.into();
        req
    }

    async fn plan(&self, extra: &str) -> MigrationDecision {
        let name = StrategyName::parse("sbmp-gma/offload").expect("name");
        let made = self
            .dispatcher
            .migrate(Some(&name), "{}", Arc::new(self.request(extra)))
            .await;
        assert_eq!(made.record.error, None);
        made.decision.expect("a decision")
    }

    /// (user delay ms, predicted cost per hour) now.
    async fn measure(&self) -> (f64, f64) {
        let d = self.plan("{}").await;
        let extra: Value = serde_json::from_str(d.extra.as_str()).expect("extra is JSON");
        let before = &extra["before"];
        (
            50.0 + before["delayMs"].as_f64().expect("delayMs"),
            before["cost"]["total"].as_f64().expect("cost"),
        )
    }

    fn apply(&mut self, d: &MigrationDecision) -> usize {
        for m in d.moves.iter() {
            if m.to.as_str() == "edge" {
                self.edge.insert(m.service.to_string(), m.replicas);
            } else if m.from.as_str() == "edge" {
                self.edge.remove(m.service.as_str());
            }
        }
        d.moves.len()
    }
}

/// Runs the loop for `secs` seconds from `t0`, observing every 15 s; returns actions taken.
async fn drive(m: &mut OffloadMachine, c: &mut ModelContinuum, t0: u64, secs: u64) -> usize {
    let mut actions = 0;
    let mut t = t0;
    while t < t0 + secs {
        let now = Duration::from_secs(t);
        let (delay, _) = c.measure().await;
        let obs = Observation {
            can_offload: c.edge.len() < c.services,
            can_unoffload: !c.edge.is_empty(),
            ..Observation::delay(delay)
        };
        if let Some(a) = m.step(now, &obs) {
            actions += 1;
            let d = c.plan(&a.request_extra_json()).await;
            let moves = c.apply(&d);
            let outcome = if moves > 0 {
                ActionOutcome::Applied { moves }
            } else {
                ActionOutcome::NoChange {
                    reason: d.reasons.last().map(|r| r.to_string()).unwrap_or_default(),
                }
            };
            m.finish(now, outcome);
        }
        t += 15;
    }
    actions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_on_the_model_continuum() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    let dispatcher = dispatcher(sandbox.registry_config(), Duration::from_secs(30), 3).await;
    let policy = OffloadPolicy {
        offload_delay_ms: 180.0,
        unoffload_delay_ms: 130.0,
        stability_window_s: 60.0,
        query_period_s: 60.0,
        cooldown_s: 60.0,
        ..OffloadPolicy::default()
    };
    let mut m = OffloadMachine::new("loop", policy).expect("policy");
    let mut c = ModelContinuum {
        services: 20,
        lambda: 50.0,
        edge: BTreeMap::new(),
        dispatcher,
    };

    // Busy: 50 req/s, everything in the cloud, the delay is above the offload threshold.
    let (d0, _) = c.measure().await;
    assert!(d0 > 180.0, "{d0}");
    let offloads = drive(&mut m, &mut c, 0, 3600).await;
    let (d1, _) = c.measure().await;
    assert!(offloads >= 1 && !c.edge.is_empty());
    assert!(
        (130.0..=180.0).contains(&d1),
        "delay {d1} after {offloads} actions"
    );
    let offloaded = c.edge.len();

    // Quiet: 10 req/s; the delay falls below the unoffload threshold, services come back.
    c.lambda = 10.0;
    let (d2, cost2) = c.measure().await;
    assert!(d2 < 130.0, "{d2}");
    let unoffloads = drive(&mut m, &mut c, 3600, 3600).await;
    let (d3, cost3) = c.measure().await;
    assert!(unoffloads >= 1);
    assert!(c.edge.len() < offloaded, "{} vs {offloaded}", c.edge.len());
    assert!(cost3 < cost2, "cost {cost3} vs {cost2}");
    assert!(d3 <= 180.0, "{d3}");
    println!(
        "closed loop: {d0:.1} ms -> {d1:.1} ms with {offloaded} services at the edge after {offloads} actions; \
         at low load {d2:.1} ms, cost {cost2:.2} -> {cost3:.2} $/h with {} at the edge after {unoffloads} actions",
        c.edge.len()
    );
    assert!(m.transitions().count() >= 4);
}
