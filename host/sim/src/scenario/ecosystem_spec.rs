//! The `ecosystem` section of a scenario (seed 001): multi-tier applications whose tiers declare
//! their dependencies by characteristics, their arrivals, and the proactive migration engine.

use serde::Deserialize;
use std::collections::BTreeMap;

fn default_period() -> u32 {
    15
}
fn default_budget() -> u32 {
    3
}
fn default_downtime() -> f64 {
    2.0
}
fn default_compare() -> Vec<String> {
    vec!["none".into(), "ecosystem/satisfy".into()]
}
fn one_u32() -> u32 {
    1
}

/// `ecosystem`: a scenario of applications and their dependencies instead of VMs and services.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcosystemSpec {
    /// The runs to compare: `none` (no migration engine) or a migration strategy,
    /// `plugin/name` with optional `?key=value` parameters. Default: `none` and
    /// `ecosystem/satisfy`.
    #[serde(default = "default_compare")]
    pub compare: Vec<String>,
    /// Minutes between two rounds of the migration engine (a multiple of `step_minutes`).
    #[serde(default = "default_period")]
    pub period_minutes: u32,
    /// Moves a round may make at most.
    #[serde(default = "default_budget")]
    pub max_moves_per_period: u32,
    /// The score's weights and threshold (smo's `[ecosystem]` defaults when absent).
    #[serde(default)]
    pub weights: Option<WeightsSpec>,
    /// Seconds a move's workload is down, besides copying its state.
    #[serde(default = "default_downtime")]
    pub downtime_s: f64,
    /// The applications: each a template instantiated `count` times.
    pub applications: Vec<ApplicationSpec>,
}

/// The score's weights (see docs/ecosystem.md).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsSpec {
    pub required: f64,
    pub preferred: f64,
    pub threshold: f64,
}

/// An application template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSpec {
    /// Its name; instances are `<name>-<n>`, and `{app}` in a tier's strings becomes it.
    pub name: String,
    #[serde(default = "one_u32")]
    pub count: u32,
    /// Instances arrive uniformly at random within these hours `[from, to)` of the run.
    pub arrive_hours: [f64; 2],
    /// Hours an instance runs, drawn uniformly from `[min, max]`; absent: to the end.
    #[serde(default)]
    pub lifetime_hours: Option<[f64; 2]>,
    /// Each instance's users are one of the scenario's `users` (drawn by their weights); they
    /// call its first tier.
    pub tiers: Vec<TierSpec>,
}

/// One tier (a workload) of an application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub name: String,
    pub cpu: f64,
    pub memory_gib: f64,
    /// Time the tier spends on one call, ms.
    #[serde(default)]
    pub processing_ms: f64,
    /// Calls this tier makes per request it handles to a neighbour of each dependency type
    /// (`database: 4`); a type not listed: 1.
    #[serde(default)]
    pub calls: BTreeMap<String, f64>,
    /// What the tier is (a declaration's `provides`: type, version, profile, state_gib, ...).
    #[serde(default)]
    pub provides: serde_json::Value,
    /// Its declaration's `dependencies` (`required`, `preferred`), in the seed's format.
    #[serde(default)]
    pub dependencies: serde_json::Value,
}

/// `value` with every `{app}` in its strings replaced by `app`.
fn substitute(value: &serde_json::Value, app: &str) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(s.replace("{app}", app)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, app)).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, app)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl TierSpec {
    /// The declaration of this tier in application instance `app` (`vm_name` `<app>/<tier>`),
    /// checked whole; error paths are the declaration's (`dependencies.required[0].version`).
    pub fn declaration(
        &self,
        app: &str,
    ) -> Result<smo_core::ecosystem::Declaration, smo_core::ecosystem::DeclarationErrors> {
        let mut body = serde_json::Map::new();
        body.insert(
            "vm_name".into(),
            serde_json::Value::String(format!("{app}/{}", self.name)),
        );
        for (key, value) in [
            ("provides", &self.provides),
            ("dependencies", &self.dependencies),
        ] {
            if !value.is_null() {
                body.insert(key.into(), substitute(value, app));
            }
        }
        smo_core::ecosystem::declaration::from_value(&serde_json::Value::Object(body))
    }

    /// Calls per request to a neighbour of type `kind` (1 when not listed).
    pub fn calls_to(&self, kind: Option<&str>) -> f64 {
        kind.and_then(|k| {
            self.calls
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(k))
                .map(|(_, n)| *n)
        })
        .unwrap_or(1.0)
    }
}
