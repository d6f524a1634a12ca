//! The upstream NEPHELE `hdaGraph` schema as Rust types, read leniently: unknown keys are ignored
//! (the raw document keeps them), and a wrongly typed field is reported at its path.
//!
//! Field docs say which fields upstream SMO used; smo keeps them all, so a graph can be shown
//! and re-deployed as it was submitted. The smo extensions are read by [`super::extensions`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::container::{read_container, ContainerPort, EnvVar};
use super::intent::GpuIntent;
use super::read::{
    as_mapping, describe, field, flag_value, opt_count, opt_flag, opt_list, opt_mapping,
    opt_string, opt_text, string_list, Errors, FieldPath,
};

/// The `hdaGraph` object of a descriptor.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HdaGraph {
    /// Information-model version, e.g. "0.4.0" (ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub im_version: Option<String>,
    /// The graph's name; unique among graphs.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub designer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub hda_graph_intent: GraphIntent,
    /// Services in descriptor order.
    pub services: Vec<ServiceDescriptor>,
}

/// `hdaGraph.hdaGraphIntent` (upstream part; the smo extensions live beside it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GraphIntent {
    /// Keep the charts' own `clustersAffinity` instead of computing a placement.
    pub use_static_placement: bool,
    pub security: bool,
    pub high_availability: bool,
    pub high_performance: bool,
    pub energy_efficiency: bool,
}

/// One entry of `hdaGraph.services`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceDescriptor {
    /// Service name (the Helm release name upstream).
    pub id: String,
    pub deployment: Deployment,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
}

/// `services[i].deployment`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Deployment {
    pub trigger: Trigger,
    pub intent: ServiceIntent,
}

/// When a service is deployed: with the graph, or when a Prometheus alert fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    /// Deployed with the graph (`dependencies` is ignored, as upstream).
    Auto {
        #[serde(default)]
        dependencies: Vec<String>,
    },
    /// Deployed when one of `events` fires (upstream: a PrometheusRule per event).
    Event(EventTrigger),
}

impl Default for Trigger {
    fn default() -> Self {
        Trigger::Auto {
            dependencies: Vec::new(),
        }
    }
}

impl Trigger {
    /// `true` for an event (conditional) trigger.
    pub fn is_event(&self) -> bool {
        matches!(self, Trigger::Event(_))
    }
}

/// `trigger.event`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventTrigger {
    /// "ANY" upstream (ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub events: Vec<Event>,
}

/// One event of an event trigger.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    pub id: String,
    /// Where the metric comes from (ignored upstream; may name services outside the graph).
    pub source: Vec<EventSource>,
    pub condition: EventCondition,
}

/// `events[j].source[k]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventSource {
    pub service_id: String,
    pub metric_id: String,
}

/// `events[j].condition`: the alert rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventCondition {
    pub prom_query: String,
    /// Prometheus `for:` duration, e.g. "2m".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `deployment.intent` (upstream part).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceIntent {
    /// `network` as written (ignored upstream and here).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub network: Value,
    pub compute: ComputeIntent,
    /// `coLocation` as written (ignored upstream; its format is undocumented).
    pub co_location: Vec<Value>,
    /// Services this one calls; upstream imports their Kubernetes Services where it runs.
    pub connection_points: Vec<String>,
    /// `metrics` as written (ignored).
    pub metrics: Vec<Value>,
}

/// `intent.compute` as written (words or quantities); [`super::intent`] turns it into numbers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ComputeIntent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    pub gpu: GpuIntent,
}

/// `services[i].artifact`: the Helm chart and its values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Artifact {
    /// `oci://registry/project/chart`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oci_image: Option<String>,
    /// `ociConfig.type`: App or VO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_type: Option<String>,
    /// `ociConfig.implementer`: HELM or WOT (WOT nests values under `voChartOverwrite`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implementer: Option<String>,
    /// `ociRun` as written (ignored).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub oci_run: Value,
    /// Helm values to set; smo injects its placement keys into them.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub values_overwrite: Value,
    /// smo extension, for a service without a chart: the container image a backend renders
    /// its own Deployment from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// smo extension: the ports of that container (and of its Service).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// smo extension: the container's environment, sorted by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

impl Artifact {
    /// `true` for a WoT virtual object, whose Helm values nest under `voChartOverwrite`.
    pub fn is_wot(&self) -> bool {
        self.implementer
            .as_deref()
            .is_some_and(|implementer| implementer.eq_ignore_ascii_case("WOT"))
    }
}

/// Reads `hdaGraph` from the document root. Returns `None` only when there is no usable
/// `hdaGraph` mapping at all; otherwise every problem is in `errors`.
pub(crate) fn read_document(document: &Value, errors: &mut Errors) -> Option<HdaGraph> {
    let root = FieldPath::root();
    let Value::Object(top) = document else {
        errors.push(
            &root,
            format!(
                "expected a mapping with a top-level hdaGraph key, found {}",
                super::read::kind(document)
            ),
        );
        return None;
    };
    let path = root.key("hdaGraph");
    let Some(graph) = field(top, "hdaGraph") else {
        errors.push(
            &path,
            "missing (a descriptor has a top-level hdaGraph mapping)",
        );
        return None;
    };
    let graph = as_mapping(graph, &path, errors)?;
    Some(read_graph(graph, &path, errors))
}

fn read_graph(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> HdaGraph {
    let id = required_text(map, "id", path, errors).unwrap_or_default();
    match field(map, "services") {
        None => errors.push(
            &path.key("services"),
            "missing (a graph has at least one service)",
        ),
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(&path.key("services"), "a graph needs at least one service");
        }
        Some(_) => {}
    }
    let services = match opt_list(map, "services", path, errors) {
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let item_path = path.key("services").index(i);
                as_mapping(item, &item_path, errors)
                    .map(|service| read_service(service, &item_path, errors))
                    .unwrap_or_default()
            })
            .collect(),
        None => Vec::new(),
    };
    HdaGraph {
        im_version: opt_text(map, "imVersion", path, errors),
        id,
        version: opt_text(map, "version", path, errors),
        designer: opt_text(map, "designer", path, errors),
        description: opt_text(map, "description", path, errors),
        hda_graph_intent: opt_mapping(map, "hdaGraphIntent", path, errors)
            .map(|intent| read_graph_intent(intent, &path.key("hdaGraphIntent"), errors))
            .unwrap_or_default(),
        services,
    }
}

/// A required, non-empty string member; reports it missing, empty or of the wrong type.
fn required_text(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<String> {
    if field(map, key).is_none() {
        errors.push(&path.key(key), "missing");
        return None;
    }
    let text = opt_string(map, key, path, errors)?;
    if text.trim().is_empty() {
        errors.push(&path.key(key), "must not be empty");
        return None;
    }
    Some(text)
}

/// `{enabled: bool}` toggles of the graph intent; a bare boolean is accepted too.
fn toggle(map: &Map<String, Value>, key: &str, path: &FieldPath, errors: &mut Errors) -> bool {
    match field(map, key) {
        None => false,
        Some(Value::Object(inner)) => {
            opt_flag(inner, "enabled", &path.key(key), errors).unwrap_or(false)
        }
        Some(_) => opt_flag(map, key, path, errors).unwrap_or(false),
    }
}

fn read_graph_intent(
    map: &Map<String, Value>,
    path: &FieldPath,
    errors: &mut Errors,
) -> GraphIntent {
    GraphIntent {
        use_static_placement: opt_flag(map, "useStaticPlacement", path, errors).unwrap_or(false),
        security: toggle(map, "security", path, errors),
        high_availability: toggle(map, "highAvailability", path, errors),
        high_performance: toggle(map, "highPerformance", path, errors),
        energy_efficiency: toggle(map, "energyEfficiency", path, errors),
    }
}

fn read_service(
    map: &Map<String, Value>,
    path: &FieldPath,
    errors: &mut Errors,
) -> ServiceDescriptor {
    let id = required_text(map, "id", path, errors).unwrap_or_default();
    let deployment = opt_mapping(map, "deployment", path, errors)
        .map(|deployment| read_deployment(deployment, &path.key("deployment"), errors))
        .unwrap_or_default();
    let artifact = opt_mapping(map, "artifact", path, errors)
        .map(|artifact| read_artifact(artifact, &path.key("artifact"), errors));
    ServiceDescriptor {
        id,
        deployment,
        artifact,
    }
}

fn read_deployment(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> Deployment {
    Deployment {
        trigger: opt_mapping(map, "trigger", path, errors)
            .map(|trigger| read_trigger(trigger, &path.key("trigger"), errors))
            .unwrap_or_default(),
        intent: opt_mapping(map, "intent", path, errors)
            .map(|intent| read_intent(intent, &path.key("intent"), errors))
            .unwrap_or_default(),
    }
}

fn read_trigger(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> Trigger {
    let auto = map.get("auto");
    let event = map.get("event");
    match (auto, event) {
        (Some(_), Some(_)) => {
            errors.push(path, "give exactly one of auto or event, not both");
            Trigger::default()
        }
        (None, None) => {
            errors.push(path, "expected auto or event");
            Trigger::default()
        }
        (Some(auto), None) => {
            let dependencies = match auto {
                Value::Null => Vec::new(),
                other => as_mapping(other, &path.key("auto"), errors)
                    .map(|auto| string_list(auto, "dependencies", &path.key("auto"), errors))
                    .unwrap_or_default(),
            };
            Trigger::Auto { dependencies }
        }
        (None, Some(event)) => {
            let event_path = path.key("event");
            let Some(event) = as_mapping(event, &event_path, errors) else {
                return Trigger::default();
            };
            Trigger::Event(read_event_trigger(event, &event_path, errors))
        }
    }
}

fn read_event_trigger(
    map: &Map<String, Value>,
    path: &FieldPath,
    errors: &mut Errors,
) -> EventTrigger {
    let events: Vec<Event> = opt_list(map, "events", path, errors)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(j, item)| {
                    let item_path = path.key("events").index(j);
                    as_mapping(item, &item_path, errors).map(|e| read_event(e, &item_path, errors))
                })
                .collect()
        })
        .unwrap_or_default();
    match field(map, "events") {
        None => errors.push(
            &path.key("events"),
            "missing (an event trigger needs at least one event)",
        ),
        Some(Value::Array(items)) if items.is_empty() => errors.push(
            &path.key("events"),
            "an event trigger needs at least one event",
        ),
        Some(_) => {}
    }
    EventTrigger {
        condition: opt_text(map, "condition", path, errors),
        events,
    }
}

fn read_event(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> Event {
    let source = opt_list(map, "source", path, errors)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(k, item)| {
                    let item_path = path.key("source").index(k);
                    as_mapping(item, &item_path, errors).map(|source| EventSource {
                        service_id: opt_text(source, "serviceId", &item_path, errors)
                            .unwrap_or_default(),
                        metric_id: opt_text(source, "metricId", &item_path, errors)
                            .unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let condition_path = path.key("condition");
    let condition = match opt_mapping(map, "condition", path, errors) {
        Some(condition) => EventCondition {
            prom_query: required_text(condition, "promQuery", &condition_path, errors)
                .unwrap_or_default(),
            grace_period: opt_text(condition, "gracePeriod", &condition_path, errors),
            description: opt_text(condition, "description", &condition_path, errors),
        },
        None => {
            if field(map, "condition").is_none() {
                errors.push(
                    &condition_path,
                    "missing (an event needs a condition with a promQuery)",
                );
            }
            EventCondition::default()
        }
    };
    Event {
        id: opt_text(map, "id", path, errors).unwrap_or_default(),
        source,
        condition,
    }
}

fn read_intent(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> ServiceIntent {
    let other_list = |key: &str, errors: &mut Errors| {
        opt_list(map, key, path, errors)
            .cloned()
            .unwrap_or_default()
    };
    ServiceIntent {
        network: field(map, "network").cloned().unwrap_or(Value::Null),
        compute: opt_mapping(map, "compute", path, errors)
            .map(|compute| read_compute(compute, &path.key("compute"), errors))
            .unwrap_or_default(),
        co_location: other_list("coLocation", errors),
        connection_points: string_list(map, "connectionPoints", path, errors),
        metrics: other_list("metrics", errors),
    }
}

fn read_compute(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> ComputeIntent {
    ComputeIntent {
        cpu: opt_text(map, "cpu", path, errors),
        ram: opt_text(map, "ram", path, errors),
        storage: opt_text(map, "storage", path, errors),
        gpu: read_gpu(map, path, errors),
    }
}

/// `gpu: {enabled: true, count: 2}`, or the shorthands `gpu: true` and `gpu: 2`.
fn read_gpu(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> GpuIntent {
    let gpu_path = path.key("gpu");
    match field(map, "gpu") {
        None => GpuIntent::default(),
        Some(Value::Number(number)) => match number.as_u64().map(u32::try_from) {
            Some(Ok(count)) => GpuIntent {
                enabled: count > 0,
                count: (count > 0).then_some(count),
            },
            _ => {
                errors.push(
                    &gpu_path,
                    format!("expected a whole number of GPUs, found {number}"),
                );
                GpuIntent::default()
            }
        },
        Some(Value::Object(gpu)) => {
            let enabled = opt_flag(gpu, "enabled", &gpu_path, errors);
            let count = opt_count(gpu, "count", &gpu_path, errors);
            match (enabled, count) {
                (Some(false), Some(count)) if count > 0 => {
                    errors.push(
                        &gpu_path.key("count"),
                        format!("count {count} contradicts enabled: false"),
                    );
                    GpuIntent::default()
                }
                (Some(true), Some(0)) => {
                    errors.push(
                        &gpu_path.key("count"),
                        "must be at least 1 when the GPU is enabled",
                    );
                    GpuIntent::default()
                }
                (enabled, count) => {
                    let enabled = enabled.unwrap_or(count.is_some_and(|count| count > 0));
                    GpuIntent {
                        enabled,
                        count: count.filter(|_| enabled),
                    }
                }
            }
        }
        Some(other) => match flag_value(other) {
            Some(enabled) => GpuIntent {
                enabled,
                count: None,
            },
            None => {
                errors.push(
                    &gpu_path,
                    format!(
                        "expected {{enabled: true/false}}, true/false or a number of GPUs, found {}",
                        describe(other)
                    ),
                );
                GpuIntent::default()
            }
        },
    }
}

fn read_artifact(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> Artifact {
    let config = opt_mapping(map, "ociConfig", path, errors);
    let config_path = path.key("ociConfig");
    let values_overwrite = match field(map, "valuesOverwrite") {
        None => Value::Null,
        Some(value @ Value::Object(_)) => value.clone(),
        Some(other) => {
            errors.push(
                &path.key("valuesOverwrite"),
                format!(
                    "expected a mapping of Helm values, found {}",
                    super::read::kind(other)
                ),
            );
            Value::Null
        }
    };
    let container = read_container(map, path, errors);
    Artifact {
        image: container.image,
        ports: container.ports,
        env: container.env,
        oci_image: opt_string(map, "ociImage", path, errors),
        config_type: config.and_then(|config| opt_text(config, "type", &config_path, errors)),
        implementer: config
            .and_then(|config| opt_text(config, "implementer", &config_path, errors)),
        oci_run: field(map, "ociRun").cloned().unwrap_or(Value::Null),
        values_overwrite,
    }
}
