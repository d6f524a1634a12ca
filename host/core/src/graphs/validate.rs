//! Validation of a whole descriptor in one pass: every error is collected with the path of its
//! field, and a [`GraphSpec`] is produced only when there are none (nothing is half-applied).

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::descriptor::{read_document, ServiceDescriptor};
use super::extensions::{read_graph_extensions, read_service_extensions};
use super::intent;
use super::model::{Demand, GraphSpec, ServiceSpec};
use super::read::{field, Errors, FieldPath};

/// One problem in a descriptor: where (`hdaGraph.services[2].deployment.intent.compute.cpu`)
/// and what. Syntax errors have an empty path and a line and column instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ValidationError {
    pub path: String,
    pub message: String,
    /// 1-based line of a syntax error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column of a syntax error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// A syntax error at `line`:`column` (1-based).
    pub fn located(message: impl Into<String>, line: usize, column: usize) -> Self {
        Self {
            path: String::new(),
            message: message.into(),
            line: Some(line),
            column: Some(column),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a descriptor, in document order. Displays as one line per error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// A single error with no path (e.g. the file could not be read).
    pub fn single(message: impl Into<String>) -> Self {
        Self(vec![ValidationError::new("", message)])
    }

    /// Orders errors as a reader scans the document: syntax and graph-level errors first, then
    /// service by service (by the first list index in the path); otherwise in the order found.
    pub(crate) fn sorted(mut errors: Vec<ValidationError>) -> Self {
        errors.sort_by_key(|error| first_index(&error.path));
        Self(errors)
    }

    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The paths of the errors, in order (handy in tests and summaries).
    pub fn paths(&self) -> Vec<&str> {
        self.0.iter().map(|error| error.path.as_str()).collect()
    }
}

/// The first `[n]` of a path, `None` for a path without one.
fn first_index(path: &str) -> Option<usize> {
    let start = path.find('[')? + 1;
    let end = start + path[start..].find(']')?;
    path[start..end].parse().ok()
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Longest graph or service id (a Kubernetes/DNS label).
pub const MAX_ID_LEN: usize = 63;

/// Checks that `id` is a DNS label (RFC 1123): what Kubernetes and Helm accept as a name.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "{id:?} is {} characters long, more than {MAX_ID_LEN}",
            id.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = id.chars().all(allowed)
        && id.chars().next().is_some_and(alnum)
        && id.chars().last().is_some_and(alnum);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a valid name (lowercase letters, digits and '-', starting and ending with a letter or digit, as Kubernetes requires)"
        ))
    }
}

/// Validates a parsed document and builds the graph; `source` is the text it came from.
pub(crate) fn validate_document(
    document: Value,
    source: &str,
    mut errors: Errors,
) -> Result<GraphSpec, ValidationErrors> {
    let graph = read_document(&document, &mut errors);
    let Some(graph) = graph else {
        return Err(ValidationErrors::sorted(errors.into_vec()));
    };
    let graph_path = FieldPath::root().key("hdaGraph");
    let raw_graph = document.get("hdaGraph").and_then(Value::as_object);

    if !graph.id.is_empty() {
        if let Err(message) = check_id(&graph.id) {
            errors.push(&graph_path.key("id"), message);
        }
    }

    // Ids: well formed and unique.
    let mut first_index: HashMap<&str, usize> = HashMap::new();
    for (i, service) in graph.services.iter().enumerate() {
        if service.id.is_empty() {
            continue;
        }
        let id_path = graph_path.key("services").index(i).key("id");
        if let Err(message) = check_id(&service.id) {
            errors.push(&id_path, message);
        }
        if let Some(first) = first_index.get(service.id.as_str()) {
            errors.push(
                &id_path,
                format!(
                    "{:?} is already the id of hdaGraph.services[{first}] (service ids must be unique)",
                    service.id
                ),
            );
        } else {
            first_index.insert(&service.id, i);
        }
    }
    let all_ids: HashSet<&str> = first_index.keys().copied().collect();

    let extensions = read_graph_extensions(
        raw_graph
            .and_then(|g| g.get("hdaGraphIntent"))
            .and_then(Value::as_object),
        &graph_path.key("hdaGraphIntent"),
        &mut errors,
    );

    let services: Vec<ServiceSpec> = graph
        .services
        .iter()
        .enumerate()
        .map(|(i, service)| {
            let path = graph_path.key("services").index(i);
            let raw_intent = raw_graph
                .and_then(|g| g.get("services"))
                .and_then(|s| s.get(i))
                .and_then(|s| s.get("deployment"))
                .and_then(|d| d.get("intent"))
                .and_then(Value::as_object);
            let intent_path = path.key("deployment").key("intent");
            check_connection_points(raw_intent, &intent_path, &all_ids, &mut errors);
            let service_extensions = read_service_extensions(
                raw_intent,
                &intent_path,
                &graph.id,
                &service.id,
                &all_ids,
                &mut errors,
            );
            ServiceSpec {
                name: service.id.clone(),
                demand: demand(service, &intent_path.key("compute"), &mut errors),
                storage_mib: storage(service, &intent_path.key("compute"), &mut errors),
                scaling: service_extensions.scaling,
                dependencies: service_extensions.dependencies,
                connection_points: service.deployment.intent.connection_points.clone(),
                conditional: service.deployment.trigger.is_event(),
                static_clusters: if graph.hda_graph_intent.use_static_placement {
                    static_clusters(service)
                } else {
                    Vec::new()
                },
                ecosystem: service_extensions.ecosystem,
            }
        })
        .collect();

    if !errors.is_empty() {
        return Err(ValidationErrors::sorted(errors.into_vec()));
    }
    Ok(GraphSpec {
        name: graph.id.clone(),
        services,
        strategies: extensions.strategies,
        strategy_parameters: extensions.parameters,
        offload_policy: extensions.offload_policy,
        use_static_placement: graph.hda_graph_intent.use_static_placement,
        descriptor: graph,
        document,
        source: source.to_owned(),
    })
}

/// Upstream imports the Kubernetes Service of each connection point, so each must be a service
/// of the graph (upstream fails at deploy time otherwise).
fn check_connection_points(
    intent: Option<&Map<String, Value>>,
    path: &FieldPath,
    all_ids: &HashSet<&str>,
    errors: &mut Errors,
) {
    let Some(Value::Array(items)) = intent.and_then(|intent| field(intent, "connectionPoints"))
    else {
        return;
    };
    for (j, item) in items.iter().enumerate() {
        if let Value::String(name) = item {
            if !all_ids.contains(name.as_str()) {
                errors.push(
                    &path.key("connectionPoints").index(j),
                    format!("{name:?} is not a service of this graph"),
                );
            }
        }
    }
}

/// Per-replica demand from the compute intent; missing cpu/ram default to `small`.
fn demand(service: &ServiceDescriptor, path: &FieldPath, errors: &mut Errors) -> Demand {
    let compute = &service.deployment.intent.compute;
    let cpu = match compute.cpu.as_deref().map(intent::cpu_cores) {
        None => 1.0,
        Some(Ok(cores)) => cores,
        Some(Err(message)) => {
            errors.push(&path.key("cpu"), message);
            0.0
        }
    };
    let memory_mib = match compute.ram.as_deref().map(intent::memory_mib) {
        None => 1024.0,
        Some(Ok(mib)) => mib,
        Some(Err(message)) => {
            errors.push(&path.key("ram"), message);
            0.0
        }
    };
    Demand {
        cpu,
        memory_mib,
        gpu: compute.gpu.gpus(),
    }
}

fn storage(service: &ServiceDescriptor, path: &FieldPath, errors: &mut Errors) -> Option<f64> {
    match service
        .deployment
        .intent
        .compute
        .storage
        .as_deref()
        .map(intent::storage_mib)?
    {
        Ok(mib) => Some(mib),
        Err(message) => {
            errors.push(&path.key("storage"), message);
            None
        }
    }
}

/// `clustersAffinity` from the Helm values (under `voChartOverwrite` for WoT), kept as the
/// clusters a service may run on when the graph asks for static placement.
fn static_clusters(service: &ServiceDescriptor) -> Vec<String> {
    let Some(artifact) = &service.artifact else {
        return Vec::new();
    };
    let values = if artifact.is_wot() {
        artifact.values_overwrite.get("voChartOverwrite")
    } else {
        Some(&artifact.values_overwrite)
    };
    values
        .and_then(|values| values.get("clustersAffinity"))
        .and_then(Value::as_array)
        .map(|clusters| {
            clusters
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
