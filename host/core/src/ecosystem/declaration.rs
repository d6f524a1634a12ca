//! A workload's dependency declaration (seed 001): what it is (`provides`) and the neighbours it
//! requires or prefers, by characteristics; read from JSON or YAML with every error at once.
//!
//! The seed's format is accepted as it is (`vm_name`, `dependencies.required[]`,
//! `dependencies.preferred[]`, each with `type`, `version`, `network_latency_requirement`,
//! `resource_profile`, `fuzzy_match`); smo adds `provides` (the workload's own characteristics,
//! which others' requirements match) and the resource criteria the seed lists in prose (CPU
//! architecture, RAM, bandwidth, storage type, software stack). The JSON Schema of these types is
//! `schemas/dependencies.schema.json`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// One workload's declaration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// The workload: `<graph>/<service>` for a service smo runs, or any other unique name.
    pub vm_name: String,
    /// What the workload is, for the requirements of others.
    #[serde(default)]
    pub provides: Characteristics,
    #[serde(default)]
    pub dependencies: Dependencies,
}

/// What a workload is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Characteristics {
    /// Its kind: `database`, `caching`, `analytics`, `web`, ... (compared without case).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Product and version, e.g. `PostgreSQL 14.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Profile tags: `high-memory`, `gpu`, `ssd`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_profile: Vec<String>,
    /// `x86_64`, `arm64`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_gib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_gbps: Option<f64>,
    /// `ssd`, `nvme`, `hdd`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Software it runs: `python3.11`, `cuda12`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub software_stack: Vec<String>,
    /// What similarity rules compare: a tag set or a vector (e.g. a model signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// State a migration copies (memory, local data), GiB: the migration cost model reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_gib: Option<f64>,
    /// A critical workload: the migration loop raises its score first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub critical: bool,
}

/// A signature: tags (compared by Jaccard index) or a vector (by cosine similarity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum Signature {
    Vector(Vec<f64>),
    Tags(Vec<String>),
}

/// Required and preferred neighbours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Dependencies {
    /// Neighbours the workload cannot work without.
    #[serde(default)]
    pub required: Vec<Requirement>,
    /// Neighbours that make it work better.
    #[serde(default)]
    pub preferred: Vec<Requirement>,
}

/// A neighbour, by characteristics; a workload meets it when every criterion given holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A product and/or version constraint: `PostgreSQL 14` (any 14.x), `Redis >=6 <8`, `>=14`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// An upper bound on the latency between the two: `< 1ms`, `<= 20 ms`. Without it the
    /// neighbour must be co-located (on the same cluster), as the seed defines both kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_latency_requirement: Option<String>,
    /// Tags the neighbour's profile must all have (one tag, or a list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_profile: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ram_gib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_bandwidth_gbps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Software the neighbour must all run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub software_stack: Vec<String>,
    /// A similarity rule over signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuzzy_match: Option<FuzzyMatch>,
}

/// One string or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(one) => vec![one.as_str()],
            OneOrMany::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }
}

/// A similarity rule: the neighbour's signature compared with `signature` (or, without it,
/// with the declaring workload's own), at least `min_similarity`. The seed's free-text form
/// (`"similar ML model signature"`) is the rule with both defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum FuzzyMatch {
    Text(String),
    Rule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<Signature>,
        /// In [0, 1]; 0.8 when not given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_similarity: Option<f64>,
    },
}

/// A problem of a declaration, with where it is (`dependencies.required[0].version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem of a declaration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the dependency declaration: {}", .0.len(), join(.0))]
pub struct DeclarationErrors(pub Vec<FieldError>);

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads a declaration from JSON or YAML text (JSON is YAML), checking it whole.
pub fn parse(text: &str) -> Result<Declaration, DeclarationErrors> {
    let value: Value = serde_norway::from_str(text).map_err(|e| {
        DeclarationErrors(vec![FieldError {
            path: String::new(),
            message: format!("not JSON or YAML: {e}"),
        }])
    })?;
    from_value(&value)
}

/// Checks `value` whole (every problem, each with its path), then reads it.
pub fn from_value(value: &Value) -> Result<Declaration, DeclarationErrors> {
    let mut errors = Vec::new();
    super::checks::declaration(value, &mut errors);
    if !errors.is_empty() {
        return Err(DeclarationErrors(errors));
    }
    let declaration: Declaration = serde_json::from_value(value.clone()).map_err(|e| {
        DeclarationErrors(vec![FieldError {
            path: String::new(),
            message: e.to_string(),
        }])
    })?;
    Ok(declaration)
}
