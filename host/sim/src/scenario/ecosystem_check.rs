//! The semantic checks of a scenario's `ecosystem` section: runs, periods, weights, and every
//! tier's declaration (as smo's API would check it), each error with the path of its field.

use super::check::{valid_strategy_name, Errs};
use super::*;

impl Scenario {
    pub(super) fn check_ecosystem(&self, e: &mut Errs) {
        let s = &self.spec;
        let Some(eco) = &s.ecosystem else {
            return;
        };
        let p = "ecosystem";
        if eco.compare.is_empty() {
            e.add(format!("{p}.compare"), "needs at least one run");
        }
        for (i, run) in eco.compare.iter().enumerate() {
            let name = run.split('?').next().unwrap_or("");
            if run != "none" && !valid_strategy_name(name) {
                e.add(
                    format!("{p}.compare[{i}]"),
                    "must be `none` or `plugin/strategy` (with optional `?key=value` parameters)",
                );
            }
            if eco.compare[..i].contains(run) {
                e.add(format!("{p}.compare[{i}]"), "is listed twice");
            }
        }
        if eco.period_minutes == 0 || eco.period_minutes % s.step_minutes.max(1) != 0 {
            e.add(
                format!("{p}.period_minutes"),
                "must be a positive multiple of step_minutes",
            );
        }
        if eco.max_moves_per_period == 0 {
            e.add(format!("{p}.max_moves_per_period"), "must be >= 1");
        }
        if let Some(w) = eco.weights {
            let weights = smo_core::ecosystem::Weights {
                required: w.required,
                preferred: w.preferred,
                threshold: w.threshold,
                ..Default::default()
            };
            if let Err(m) = weights.check() {
                let (field, message) = m.split_once(": ").unwrap_or(("", m.as_str()));
                e.add(format!("{p}.weights.{field}"), message);
            }
        }
        if !(eco.downtime_s.is_finite() && eco.downtime_s >= 0.0) {
            e.add(format!("{p}.downtime_s"), "must be a number >= 0");
        }
        if eco.applications.is_empty() {
            e.add(
                format!("{p}.applications"),
                "needs at least one application",
            );
        }
        if s.users.is_empty() {
            e.add(
                "users".into(),
                "an ecosystem scenario needs at least one user population",
            );
        }
        for (i, app) in eco.applications.iter().enumerate() {
            self.check_application(e, &format!("{p}.applications[{i}]"), app);
            if eco.applications[..i].iter().any(|a| a.name == app.name) {
                e.add(format!("{p}.applications[{i}].name"), "is used twice");
            }
        }
    }

    fn check_application(&self, e: &mut Errs, p: &str, app: &ApplicationSpec) {
        if app.name.trim().is_empty() || app.name.contains('/') {
            e.add(format!("{p}.name"), "must be non-empty, without `/`");
        }
        if app.count == 0 {
            e.add(format!("{p}.count"), "must be >= 1");
        }
        let [from, to] = app.arrive_hours;
        // Arrivals past the horizon (a shorter `--hours`) never happen.
        if !(from.is_finite() && to.is_finite() && 0.0 <= from && from <= to) {
            e.add(
                format!("{p}.arrive_hours"),
                "must be [from, to] with 0 <= from <= to",
            );
        }
        if let Some([min, max]) = app.lifetime_hours {
            if !(min.is_finite() && max.is_finite() && 0.0 < min && min <= max) {
                e.add(
                    format!("{p}.lifetime_hours"),
                    "must be [min, max] with 0 < min <= max",
                );
            }
        }
        if app.tiers.is_empty() {
            e.add(format!("{p}.tiers"), "needs at least one tier");
        }
        for (j, tier) in app.tiers.iter().enumerate() {
            let q = format!("{p}.tiers[{j}]");
            if tier.name.trim().is_empty() || tier.name.contains('/') {
                e.add(format!("{q}.name"), "must be non-empty, without `/`");
            }
            if app.tiers[..j].iter().any(|t| t.name == tier.name) {
                e.add(format!("{q}.name"), "is used twice in the application");
            }
            for (field, value) in [("cpu", tier.cpu), ("memory_gib", tier.memory_gib)] {
                if !(value.is_finite() && value > 0.0) {
                    e.add(format!("{q}.{field}"), "must be > 0");
                }
            }
            if !(tier.processing_ms.is_finite() && tier.processing_ms >= 0.0) {
                e.add(format!("{q}.processing_ms"), "must be >= 0");
            }
            for (kind, n) in &tier.calls {
                if !(n.is_finite() && *n >= 0.0) {
                    e.add(format!("{q}.calls.{kind}"), "must be >= 0");
                }
            }
            if let Err(errors) = tier.declaration(&format!("{}-1", app.name)) {
                for error in errors.0 {
                    let at = if error.path.is_empty() {
                        q.clone()
                    } else {
                        format!("{q}.{}", error.path)
                    };
                    e.add(at, &error.message);
                }
            }
        }
    }
}
