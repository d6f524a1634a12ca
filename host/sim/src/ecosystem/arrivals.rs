//! The application instances of an ecosystem scenario: each template's `count` instances, with
//! their users, arrival and departure steps, drawn from the scenario's seed.

use crate::scenario::{EcosystemSpec, Scenario};
use crate::workload::SplitMix64;

/// One application instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// `<template>-<n>`, n from 1.
    pub name: String,
    /// Index of its template in `ecosystem.applications`.
    pub template: usize,
    /// Index of its users in `users`.
    pub user: usize,
    pub arrive_step: usize,
    /// The step it leaves at; `None`: it runs to the end.
    pub leave_step: Option<usize>,
}

/// Every instance, in arrival order (ties by name).
pub fn draw(sc: &Scenario, eco: &EcosystemSpec) -> Vec<Instance> {
    let steps_per_hour = 60.0 / f64::from(sc.spec.step_minutes.max(1));
    let weights: Vec<f64> = sc.spec.users.iter().map(|u| u.weight.max(0.0)).collect();
    let mut out = Vec::new();
    for (template, app) in eco.applications.iter().enumerate() {
        let mut rng = SplitMix64::stream(sc.spec.seed, &format!("ecosystem/{}", app.name));
        let [from, to] = app.arrive_hours;
        for n in 1..=app.count {
            let at_h = from + (to - from) * rng.next_f64();
            let user = if weights.iter().sum::<f64>() > 0.0 {
                rng.weighted(&weights)
            } else {
                0
            };
            let arrive_step = (at_h * steps_per_hour).floor() as usize;
            let leave_step = app.lifetime_hours.map(|[min, max]| {
                let hours = min + (max - min) * rng.next_f64();
                arrive_step + ((hours * steps_per_hour).round() as usize).max(1)
            });
            out.push(Instance {
                name: format!("{}-{n}", app.name),
                template,
                user,
                arrive_step,
                leave_step,
            });
        }
    }
    out.sort_by(|a, b| {
        a.arrive_step
            .cmp(&b.arrive_step)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}
