//! Temporary harness: compiles and runs the unit tests of `host/src/engine/offload.rs` (the
//! offload state machine, issue 7) until `pub mod offload;` is declared in
//! `host/src/engine/mod.rs`; then `cargo test -p smo --lib engine::offload` runs them and this
//! file should be deleted. The module depends only on std, serde, tracing and thiserror.

#[path = "../../../host/src/engine/offload.rs"]
#[allow(dead_code)]
mod offload;

use offload::{ActionOutcome, Observation, OffloadMachine, OffloadPolicy};
use smo_plugin_api::prelude::*;
use smo_sbmp_gma::synth::{self, Spec};
use smo_sbmp_gma::Offload;
use std::collections::BTreeMap;
use std::time::Duration;

/// A model-in-the-loop continuum (not the simulator): the app's user delay is 50 ms of
/// processing plus SBMP's own network-delay model for the current edge set and load.
struct ModelContinuum {
    spec: Spec,
    edge: BTreeMap<String, u32>,
}

impl ModelContinuum {
    fn request(&self, extra: &str) -> MigrationRequest {
        let mut req = synth::app(&self.spec);
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

    /// (user delay ms, predicted cost per hour) now.
    fn measure(&self, s: &Offload) -> (f64, f64) {
        let (_, plan) = s.decide(&self.request("{}")).expect("measure");
        (
            50.0 + plan.before.eval.delay_s * 1000.0,
            plan.before.eval.cost.total(),
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
fn drive(m: &mut OffloadMachine, c: &mut ModelContinuum, s: &Offload, t0: u64, secs: u64) -> usize {
    let mut actions = 0;
    let mut t = t0;
    while t < t0 + secs {
        let now = Duration::from_secs(t);
        let (delay, _) = c.measure(s);
        let obs = Observation {
            can_offload: c.edge.len() < c.spec.services,
            can_unoffload: !c.edge.is_empty(),
            ..Observation::delay(delay)
        };
        if let Some(a) = m.step(now, &obs) {
            actions += 1;
            let d = s.plan(&c.request(&a.request_extra_json())).expect("plan");
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

#[test]
fn closed_loop_on_the_model_continuum() {
    let policy = OffloadPolicy {
        offload_delay_ms: 180.0,
        unoffload_delay_ms: 130.0,
        stability_window_s: 60.0,
        query_period_s: 60.0,
        cooldown_s: 60.0,
        ..OffloadPolicy::default()
    };
    let mut m = OffloadMachine::new("loop", policy).unwrap();
    let s = Offload::new("{}").unwrap();
    let mut c = ModelContinuum {
        spec: Spec::new(20, 7),
        edge: BTreeMap::new(),
    };

    // Busy: 50 req/s, everything in the cloud, the delay is above the offload threshold.
    let (d0, _) = c.measure(&s);
    assert!(d0 > 180.0, "{d0}");
    let offloads = drive(&mut m, &mut c, &s, 0, 3600);
    let (d1, _) = c.measure(&s);
    assert!(offloads >= 1 && !c.edge.is_empty());
    assert!(
        (130.0..=180.0).contains(&d1),
        "delay {d1} after {offloads} actions"
    );
    let offloaded = c.edge.len();

    // Quiet: 10 req/s; the delay falls below the unoffload threshold, services come back.
    c.spec.lambda = 10.0;
    let (d2, cost2) = c.measure(&s);
    assert!(d2 < 130.0, "{d2}");
    let unoffloads = drive(&mut m, &mut c, &s, 3600, 3600);
    let (d3, cost3) = c.measure(&s);
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
