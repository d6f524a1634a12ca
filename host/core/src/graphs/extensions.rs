//! The optional smo extensions to the hdaGraph schema: strategies, their parameters and the
//! offload policy under `hdaGraphIntent`; scaling profile, dependencies and the ecosystem
//! declaration in `deployment.intent`.
//!
//! ```yaml
//! hdaGraph:
//!   hdaGraphIntent:
//!     placementStrategy: ecmr/heuristic      # plugin/strategy; default: the host's default
//!     scalingStrategy: default-lp/alpha-beta
//!     migrationStrategy: sbmp-gma/sbmp
//!     strategyParameters:                    # one JSON object per kind, passed to the plugin
//!       placement: {w_dep: 1, w_re: 1}
//!       scaling: {w_util: 0.4, w_trans: 0.4}
//!     offloadPolicy: {offloadDelayMs: 250, unoffloadDelayMs: 150, stabilityWindowS: 120,
//!                     queryPeriodS: 120, cooldownS: 120,        # optional from here
//!                     maxDecreaseMs: 80, maxIncreaseMs: 80, actionTimeoutS: 600}
//!   services:
//!     - id: api
//!       deployment:
//!         intent:
//!           compute: {cpu: 2, ram: 3Gi, gpu: {enabled: true, count: 1}}
//!           scaling: {alpha: 12.5, beta: 0, minReplicas: 1, maxReplicas: 8}
//!           dependencies: {required: [db], preferred: [cache]}
//!           ecosystem:                       # the workload's dependency declaration (seed 001)
//!             provides: {type: web, software_stack: [shop]}
//!             dependencies:
//!               required: [{type: database, version: "PostgreSQL 14",
//!                           network_latency_requirement: "< 5 ms"}]
//!               preferred: [{type: caching}]
//! ```
//!
//! Parameters are keyed by strategy *kind*, not by strategy name, so they also tune the default
//! strategy when none is named. Unknown keys inside these extension objects are errors (a
//! misspelt `maxReplica` must not silently fall back to a default); upstream objects stay lenient.
//! The `ecosystem` declaration is checked by [`crate::ecosystem::checks`], its errors pathed from
//! the descriptor's root like the others; its `vm_name` is the service's, `<graph>/<service>`.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use smo_plugin_api::{ScalingProfile, StrategyKind};

use crate::ecosystem::{declaration, Declaration};

use super::read::{
    as_mapping, describe, field, kind, opt_count, opt_list, opt_mapping, opt_number, opt_string,
    reject_unknown_keys, Errors, FieldPath,
};

/// A strategy named as `plugin/strategy`, e.g. `ecmr/heuristic`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StrategyRef {
    pub plugin: String,
    pub strategy: String,
}

impl StrategyRef {
    /// Parses `plugin/strategy`; both parts are non-empty and made of letters, digits, `-`, `_`
    /// and `.`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid_part = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match text.split_once('/') {
            Some((plugin, strategy)) if valid_part(plugin) && valid_part(strategy) => Ok(Self {
                plugin: plugin.to_owned(),
                strategy: strategy.to_owned(),
            }),
            _ => Err(format!(
                "expected plugin/strategy (letters, digits, '-', '_' or '.' on each side), e.g. ecmr/heuristic, found {text:?}"
            )),
        }
    }
}

impl fmt::Display for StrategyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.plugin, self.strategy)
    }
}

impl TryFrom<String> for StrategyRef {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<StrategyRef> for String {
    fn from(strategy: StrategyRef) -> String {
        strategy.to_string()
    }
}

/// The strategies a graph names, one per kind; `None` means the host's default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Strategies {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<StrategyRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling: Option<StrategyRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<StrategyRef>,
}

impl Strategies {
    /// The strategy named for `kind`, if any.
    pub fn get(&self, kind: StrategyKind) -> Option<&StrategyRef> {
        match kind {
            StrategyKind::PLACEMENT => self.placement.as_ref(),
            StrategyKind::SCALING => self.scaling.as_ref(),
            StrategyKind::MIGRATION => self.migration.as_ref(),
            _ => None,
        }
    }
}

/// `strategyParameters`: one JSON object per strategy kind (empty when not given).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StrategyParameters {
    pub placement: Map<String, Value>,
    pub scaling: Map<String, Value>,
    pub migration: Map<String, Value>,
}

impl StrategyParameters {
    /// The parameters for `kind` (an empty object for an unknown kind).
    pub fn get(&self, kind: StrategyKind) -> Value {
        let map = match kind {
            StrategyKind::PLACEMENT => &self.placement,
            StrategyKind::SCALING => &self.scaling,
            StrategyKind::MIGRATION => &self.migration,
            _ => return Value::Object(Map::new()),
        };
        Value::Object(map.clone())
    }

    /// The parameters for `kind` as the JSON text a plugin constructor receives.
    pub fn json(&self, kind: StrategyKind) -> String {
        self.get(kind).to_string()
    }
}

pub use super::offload_policy::OffloadPolicy;

/// Graph-level extensions, read from `hdaGraphIntent`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphExtensions {
    pub strategies: Strategies,
    pub parameters: StrategyParameters,
    pub offload_policy: Option<OffloadPolicy>,
}

/// A service's scaling profile: it serves `alpha * replicas + beta` requests/s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Scaling {
    pub alpha: f64,
    pub beta: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
}

impl Default for Scaling {
    fn default() -> Self {
        let profile = ScalingProfile::default();
        Self {
            alpha: profile.alpha,
            beta: profile.beta,
            min_replicas: profile.min_replicas,
            max_replicas: profile.max_replicas,
        }
    }
}

impl From<Scaling> for ScalingProfile {
    fn from(scaling: Scaling) -> Self {
        ScalingProfile {
            alpha: scaling.alpha,
            beta: scaling.beta,
            min_replicas: scaling.min_replicas,
            max_replicas: scaling.max_replicas,
        }
    }
}

/// `dependencies`: services of the same graph this one must / should share a cluster with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Dependencies {
    pub required: Vec<String>,
    pub preferred: Vec<String>,
}

/// Service-level extensions, read from `deployment.intent`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceExtensions {
    pub scaling: Scaling,
    pub dependencies: Dependencies,
    /// `ecosystem`, with `vm_name` set to `<graph>/<service>`.
    pub ecosystem: Option<Declaration>,
}

const GRAPH_STRATEGY_KEYS: [(&str, StrategyKind); 3] = [
    ("placementStrategy", StrategyKind::PLACEMENT),
    ("scalingStrategy", StrategyKind::SCALING),
    ("migrationStrategy", StrategyKind::MIGRATION),
];

/// Reads the graph-level extensions from `hdaGraphIntent` (`intent` is `None` when absent).
pub(crate) fn read_graph_extensions(
    intent: Option<&Map<String, Value>>,
    path: &FieldPath,
    errors: &mut Errors,
) -> GraphExtensions {
    let mut extensions = GraphExtensions::default();
    let Some(intent) = intent else {
        return extensions;
    };
    for (key, strategy_kind) in GRAPH_STRATEGY_KEYS {
        let Some(name) = opt_string(intent, key, path, errors) else {
            continue;
        };
        match StrategyRef::parse(&name) {
            Ok(strategy) => match strategy_kind {
                StrategyKind::PLACEMENT => extensions.strategies.placement = Some(strategy),
                StrategyKind::SCALING => extensions.strategies.scaling = Some(strategy),
                _ => extensions.strategies.migration = Some(strategy),
            },
            Err(message) => errors.push(&path.key(key), message),
        }
    }
    if let Some(parameters) = opt_mapping(intent, "strategyParameters", path, errors) {
        extensions.parameters =
            read_parameters(parameters, &path.key("strategyParameters"), errors);
    }
    if let Some(policy) = opt_mapping(intent, "offloadPolicy", path, errors) {
        extensions.offload_policy = Some(read_offload_policy(
            policy,
            &path.key("offloadPolicy"),
            errors,
        ));
    }
    extensions
}

fn read_parameters(
    map: &Map<String, Value>,
    path: &FieldPath,
    errors: &mut Errors,
) -> StrategyParameters {
    reject_unknown_keys(map, &["placement", "scaling", "migration"], path, errors);
    let object = |key: &str, errors: &mut Errors| {
        opt_mapping(map, key, path, errors)
            .cloned()
            .unwrap_or_default()
    };
    StrategyParameters {
        placement: object("placement", errors),
        scaling: object("scaling", errors),
        migration: object("migration", errors),
    }
}

/// A number that must be greater than 0, or `default` when absent.
fn positive_number(
    map: &Map<String, Value>,
    key: &str,
    default: f64,
    path: &FieldPath,
    errors: &mut Errors,
) -> f64 {
    match opt_number(map, key, path, errors) {
        Some(value) if value > 0.0 => value,
        Some(value) => {
            errors.push(&path.key(key), format!("{value} must be greater than 0"));
            default
        }
        None => default,
    }
}

/// A number that must be greater than 0, or `None` when absent (or wrong).
fn opt_positive(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<f64> {
    let value = opt_number(map, key, path, errors)?;
    if value > 0.0 {
        Some(value)
    } else {
        errors.push(&path.key(key), format!("{value} must be greater than 0"));
        None
    }
}

fn read_offload_policy(
    map: &Map<String, Value>,
    path: &FieldPath,
    errors: &mut Errors,
) -> OffloadPolicy {
    reject_unknown_keys(
        map,
        &[
            "offloadDelayMs",
            "unoffloadDelayMs",
            "stabilityWindowS",
            "queryPeriodS",
            "cooldownS",
            "maxDecreaseMs",
            "maxIncreaseMs",
            "actionTimeoutS",
        ],
        path,
        errors,
    );
    let defaults = OffloadPolicy::default();
    let policy = OffloadPolicy {
        offload_delay_ms: positive_number(
            map,
            "offloadDelayMs",
            defaults.offload_delay_ms,
            path,
            errors,
        ),
        unoffload_delay_ms: positive_number(
            map,
            "unoffloadDelayMs",
            defaults.unoffload_delay_ms,
            path,
            errors,
        ),
        stability_window_s: positive_number(
            map,
            "stabilityWindowS",
            defaults.stability_window_s,
            path,
            errors,
        ),
        query_period_s: positive_number(map, "queryPeriodS", defaults.query_period_s, path, errors),
        cooldown_s: positive_number(map, "cooldownS", defaults.cooldown_s, path, errors),
        max_decrease_ms: opt_positive(map, "maxDecreaseMs", path, errors),
        max_increase_ms: opt_positive(map, "maxIncreaseMs", path, errors),
        action_timeout_s: positive_number(
            map,
            "actionTimeoutS",
            defaults.action_timeout_s,
            path,
            errors,
        ),
    };
    if policy.unoffload_delay_ms >= policy.offload_delay_ms {
        errors.push(
            &path.key("unoffloadDelayMs"),
            format!(
                "{} must be below offloadDelayMs ({}), or offloading and unoffloading would alternate",
                policy.unoffload_delay_ms, policy.offload_delay_ms
            ),
        );
    }
    policy
}

/// Reads a service's extensions from its `deployment.intent` (`None` when absent). `own_id`
/// and `all_ids` are the services of the graph, for checking dependencies; `graph_id` names the
/// ecosystem workload, `<graph_id>/<own_id>`.
pub(crate) fn read_service_extensions(
    intent: Option<&Map<String, Value>>,
    path: &FieldPath,
    graph_id: &str,
    own_id: &str,
    all_ids: &HashSet<&str>,
    errors: &mut Errors,
) -> ServiceExtensions {
    let mut extensions = ServiceExtensions::default();
    let Some(intent) = intent else {
        return extensions;
    };
    if let Some(scaling) = opt_mapping(intent, "scaling", path, errors) {
        extensions.scaling = read_scaling(scaling, &path.key("scaling"), errors);
    }
    if let Some(value) = field(intent, "dependencies") {
        let dependencies_path = path.key("dependencies");
        if let Some(map) = as_mapping(value, &dependencies_path, errors) {
            extensions.dependencies =
                read_dependencies(map, &dependencies_path, own_id, all_ids, errors);
        }
    }
    if let Some(value) = field(intent, "ecosystem") {
        let ecosystem_path = path.key("ecosystem");
        if let Some(map) = as_mapping(value, &ecosystem_path, errors) {
            let workload = format!("{graph_id}/{own_id}");
            extensions.ecosystem = read_ecosystem(map, &ecosystem_path, workload, errors);
        }
    }
    extensions
}

/// The service's ecosystem declaration, checked whole by [`crate::ecosystem::checks`]; its
/// errors are pathed under `path` (`...intent.ecosystem.dependencies.required[0].version`).
fn read_ecosystem(
    map: &Map<String, Value>,
    path: &FieldPath,
    workload: String,
    errors: &mut Errors,
) -> Option<Declaration> {
    let mut map = map.clone();
    if let Some(given) = field(&map, "vm_name") {
        if given.as_str() != Some(workload.as_str()) {
            errors.push(
                &path.key("vm_name"),
                format!(
                    "{} is not this service's workload name: leave it out, or write {workload:?} (<graph id>/<service id>)",
                    describe(given)
                ),
            );
        }
    }
    map.insert("vm_name".to_owned(), Value::String(workload));
    match declaration::from_value(&Value::Object(map)) {
        Ok(declaration) => Some(declaration),
        Err(problems) => {
            for problem in problems.0 {
                errors.push(&path.join(&problem.path), problem.message);
            }
            None
        }
    }
}

fn read_scaling(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> Scaling {
    reject_unknown_keys(
        map,
        &["alpha", "beta", "minReplicas", "maxReplicas"],
        path,
        errors,
    );
    let defaults = Scaling::default();
    let alpha = positive_number(map, "alpha", defaults.alpha, path, errors);
    let beta = match opt_number(map, "beta", path, errors) {
        Some(beta) if beta >= 0.0 => beta,
        Some(beta) => {
            errors.push(&path.key("beta"), format!("{beta} must be 0 or more"));
            defaults.beta
        }
        None => defaults.beta,
    };
    let replicas = |key: &str, errors: &mut Errors| match opt_count(map, key, path, errors) {
        Some(0) => {
            errors.push(&path.key(key), "must be at least 1");
            None
        }
        other => other,
    };
    let min = replicas("minReplicas", errors);
    let max = replicas("maxReplicas", errors);
    let min_replicas = min.unwrap_or(defaults.min_replicas);
    // An explicit minimum above the default maximum raises the maximum with it.
    let max_replicas = max.unwrap_or(defaults.max_replicas.max(min_replicas));
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            errors.push(
                &path.key("maxReplicas"),
                format!("{max} is less than minReplicas ({min})"),
            );
        }
    } else if max_replicas < min_replicas {
        errors.push(
            &path.key("maxReplicas"),
            format!("{max_replicas} is less than minReplicas (default {min_replicas})"),
        );
    }
    Scaling {
        alpha,
        beta,
        min_replicas,
        max_replicas: max_replicas.max(min_replicas),
    }
}

fn read_dependencies(
    map: &Map<String, Value>,
    path: &FieldPath,
    own_id: &str,
    all_ids: &HashSet<&str>,
    errors: &mut Errors,
) -> Dependencies {
    reject_unknown_keys(map, &["required", "preferred"], path, errors);
    let mut seen: HashSet<String> = HashSet::new();
    let mut list = |key: &str, errors: &mut Errors| -> Vec<String> {
        let Some(items) = opt_list(map, key, path, errors) else {
            return Vec::new();
        };
        let list_path = path.key(key);
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = list_path.index(i);
            let Value::String(name) = item else {
                errors.push(
                    &item_path,
                    format!("expected a service id, found {}", kind(item)),
                );
                continue;
            };
            if name == own_id {
                errors.push(
                    &item_path,
                    format!("{name:?}: a service cannot depend on itself"),
                );
            } else if !all_ids.contains(name.as_str()) {
                errors.push(
                    &item_path,
                    format!("{name:?} is not a service of this graph"),
                );
            } else if !seen.insert(name.clone()) {
                errors.push(&item_path, format!("{name:?} is listed twice"));
            } else {
                names.push(name.clone());
            }
        }
        names
    };
    let required = list("required", errors);
    let preferred = list("preferred", errors);
    Dependencies {
        required,
        preferred,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategy_names_have_the_plugin_strategy_form() {
        let strategy = StrategyRef::parse("ecmr/heuristic").expect("valid");
        assert_eq!(strategy.plugin, "ecmr");
        assert_eq!(strategy.strategy, "heuristic");
        assert_eq!(strategy.to_string(), "ecmr/heuristic");
        for bad in ["ecmr", "/x", "x/", "a/b/c", "a b/c", ""] {
            assert!(StrategyRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        let json = serde_json::to_value(&strategy).expect("serialise");
        assert_eq!(json, json!("ecmr/heuristic"));
        assert!(serde_json::from_value::<StrategyRef>(json!("nope")).is_err());
    }

    fn graph_ext(value: Value) -> (GraphExtensions, Vec<String>) {
        let mut errors = Errors::default();
        let Value::Object(map) = value else {
            panic!("not an object")
        };
        let path = FieldPath::root().key("hdaGraphIntent");
        let extensions = read_graph_extensions(Some(&map), &path, &mut errors);
        let messages = errors.into_vec().iter().map(ToString::to_string).collect();
        (extensions, messages)
    }

    #[test]
    fn graph_extensions_parse() {
        let (extensions, errors) = graph_ext(json!({
            "placementStrategy": "ecmr/heuristic",
            "migrationStrategy": "sbmp-gma/sbmp",
            "strategyParameters": {"placement": {"w_dep": 1, "w_re": 2}},
            "offloadPolicy": {"offloadDelayMs": 300, "cooldownS": 60},
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            extensions.strategies.get(StrategyKind::PLACEMENT),
            StrategyRef::parse("ecmr/heuristic").ok().as_ref()
        );
        assert_eq!(extensions.strategies.scaling, None);
        assert_eq!(
            extensions.parameters.get(StrategyKind::PLACEMENT),
            json!({"w_dep": 1, "w_re": 2})
        );
        assert_eq!(extensions.parameters.json(StrategyKind::SCALING), "{}");
        let policy = extensions.offload_policy.expect("policy");
        assert_eq!(policy.offload_delay_ms, 300.0);
        assert_eq!(policy.unoffload_delay_ms, 150.0);
        assert_eq!(policy.cooldown_s, 60.0);
    }

    #[test]
    fn graph_extension_mistakes() {
        let (_, errors) = graph_ext(json!({
            "scalingStrategy": "alpha-beta",
            "strategyParameters": {"placment": {}, "scaling": [1]},
            "offloadPolicy": {"offloadDelayMs": 100, "unoffloadDelayMs": 200, "cooldownS": -1},
        }));
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].starts_with("hdaGraphIntent.scalingStrategy: expected plugin/strategy"));
        assert!(errors[1].starts_with("hdaGraphIntent.strategyParameters.placment: unknown key"));
        assert!(
            errors[2].starts_with("hdaGraphIntent.strategyParameters.scaling: expected a mapping")
        );
        assert!(errors[3].starts_with("hdaGraphIntent.offloadPolicy.cooldownS: -1 must be greater"));
        assert!(errors[4]
            .starts_with("hdaGraphIntent.offloadPolicy.unoffloadDelayMs: 200 must be below"));
    }

    fn service_ext(value: Value) -> (ServiceExtensions, Vec<String>) {
        let mut errors = Errors::default();
        let Value::Object(map) = value else {
            panic!("not an object")
        };
        let ids: HashSet<&str> = ["api", "db", "cache"].into_iter().collect();
        let path = FieldPath::root().key("intent");
        let extensions =
            read_service_extensions(Some(&map), &path, "shop", "api", &ids, &mut errors);
        let messages = errors.into_vec().iter().map(ToString::to_string).collect();
        (extensions, messages)
    }

    #[test]
    fn service_extensions_parse() {
        let (extensions, errors) = service_ext(json!({
            "scaling": {"alpha": 12.5, "beta": 3, "minReplicas": 2, "maxReplicas": 8},
            "dependencies": {"required": ["db"], "preferred": ["cache"]},
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            extensions.scaling,
            Scaling {
                alpha: 12.5,
                beta: 3.0,
                min_replicas: 2,
                max_replicas: 8
            }
        );
        assert_eq!(extensions.dependencies.required, ["db"]);
        assert_eq!(extensions.dependencies.preferred, ["cache"]);

        // Defaults, and a minimum above the default maximum raises it.
        let (extensions, errors) = service_ext(json!({"scaling": {"minReplicas": 20}}));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(extensions.scaling.alpha, 10.0);
        assert_eq!(extensions.scaling.max_replicas, 20);
    }

    #[test]
    fn an_ecosystem_declaration_is_read_as_the_service_workload() {
        let (extensions, errors) = service_ext(json!({
            "ecosystem": {
                "provides": {"type": "web", "software_stack": ["shop"]},
                "dependencies": {
                    "required": [{"type": "database", "version": "PostgreSQL 14",
                                  "network_latency_requirement": "< 5 ms"}],
                    "preferred": [{"type": "caching"}],
                },
            },
        }));
        assert!(errors.is_empty(), "{errors:?}");
        let declaration = extensions.ecosystem.expect("declaration");
        assert_eq!(declaration.vm_name, "shop/api");
        assert_eq!(declaration.provides.kind.as_deref(), Some("web"));
        assert_eq!(declaration.provides.software_stack, ["shop"]);
        let required = &declaration.dependencies.required;
        assert_eq!(required.len(), 1);
        assert_eq!(required[0].kind.as_deref(), Some("database"));
        assert_eq!(required[0].version.as_deref(), Some("PostgreSQL 14"));
        assert_eq!(
            required[0].network_latency_requirement.as_deref(),
            Some("< 5 ms")
        );
        assert_eq!(
            declaration.dependencies.preferred[0].kind.as_deref(),
            Some("caching")
        );
        // The service's own name may be written; an empty declaration is one that requires nothing.
        let (extensions, errors) = service_ext(json!({"ecosystem": {"vm_name": "shop/api"}}));
        assert!(errors.is_empty(), "{errors:?}");
        let declaration = extensions.ecosystem.expect("declaration");
        assert_eq!(declaration.vm_name, "shop/api");
        assert!(declaration.dependencies.required.is_empty());
        // Without it (or with `ecosystem: ~`) there is none.
        for intent in [json!({}), json!({"ecosystem": null})] {
            let (extensions, errors) = service_ext(intent);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(extensions.ecosystem, None);
        }
    }

    #[test]
    fn ecosystem_mistakes_are_all_reported_under_the_intent() {
        let (extensions, errors) = service_ext(json!({
            "ecosystem": {
                "vm_name": "other/api",
                "provides": {"type": "", "ram_gib": -1, "colour": "red"},
                "dependencies": {
                    "required": [
                        {"type": "database", "version": "14 PostgreSQL",
                         "network_latency_requirement": "> 5 ms"},
                        {"network_latency_requirement": "< 1 ms"},
                    ],
                    "preferred": {"type": "caching"},
                },
            },
        }));
        assert_eq!(extensions.ecosystem, None);
        assert_eq!(
            errors,
            [
                "intent.ecosystem.vm_name: \"other/api\" is not this service's workload name: leave it out, or write \"shop/api\" (<graph id>/<service id>)",
                "intent.ecosystem.provides.colour: unknown field (known: type, version, resource_profile, cpu_architecture, ram_gib, bandwidth_gbps, storage_type, software_stack, signature, state_gib, critical)",
                "intent.ecosystem.provides.type: must not be empty",
                "intent.ecosystem.provides.ram_gib: must be a number, 0 or more",
                "intent.ecosystem.dependencies.required[0].version: `PostgreSQL` after a version: write the product first (`PostgreSQL >=14`)",
                "intent.ecosystem.dependencies.required[0].network_latency_requirement: `> 5 ms`: an upper bound is expected, `< 1ms` or `<= 20 ms`",
                "intent.ecosystem.dependencies.required[1]: names no characteristic (type, version, resource_profile, ...): it would match any workload",
                "intent.ecosystem.dependencies.preferred: must be a list",
            ]
        );
        let (extensions, errors) = service_ext(json!({"ecosystem": [{"type": "web"}]}));
        assert_eq!(extensions.ecosystem, None);
        assert_eq!(
            errors,
            ["intent.ecosystem: expected a mapping, found a list"]
        );
        let (_, errors) = service_ext(json!({"ecosystem": {"vm_name": 7, "provides": []}}));
        assert_eq!(
            errors,
            [
                "intent.ecosystem.vm_name: 7 is not this service's workload name: leave it out, or write \"shop/api\" (<graph id>/<service id>)",
                "intent.ecosystem.provides: must be an object",
            ]
        );
    }

    #[test]
    fn service_extension_mistakes() {
        let (_, errors) = service_ext(json!({
            "scaling": {"alpha": 0, "minReplicas": 5, "maxReplicas": 2, "maxReplica": 3},
            "dependencies": {"required": ["api", "nope", "db"], "preferred": ["db", 7]},
        }));
        assert_eq!(
            errors,
            [
                "intent.scaling.maxReplica: unknown key (expected one of: alpha, beta, minReplicas, maxReplicas)",
                "intent.scaling.alpha: 0 must be greater than 0",
                "intent.scaling.maxReplicas: 2 is less than minReplicas (5)",
                "intent.dependencies.required[0]: \"api\": a service cannot depend on itself",
                "intent.dependencies.required[1]: \"nope\" is not a service of this graph",
                "intent.dependencies.preferred[0]: \"db\" is listed twice",
                "intent.dependencies.preferred[1]: expected a service id, found a number",
            ]
        );
    }
}
