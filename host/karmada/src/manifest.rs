//! One rendered object: its identity (API version, kind, namespace, name) and its body as JSON,
//! ready for server-side apply or to be written as YAML.

use serde::Serialize;
use serde_json::Value;

use crate::RenderError;

/// The label every object smo manages carries, with value `smo`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The label naming the graph an object belongs to.
pub const GRAPH_LABEL: &str = "smo.io/graph";
/// The label naming the service an object belongs to.
pub const SERVICE_LABEL: &str = "smo.io/service";

/// A Kubernetes or Karmada object smo would apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    /// `None` for a cluster-scoped object (a Namespace).
    pub namespace: Option<String>,
    pub name: String,
    /// The whole object, `apiVersion` and `kind` included.
    pub body: Value,
}

impl Manifest {
    /// The manifest of `object`, whose JSON carries `apiVersion`, `kind` and `metadata.name`.
    pub fn of(object: &impl Serialize) -> Result<Self, RenderError> {
        let body = serde_json::to_value(object).map_err(|error| RenderError::Serialize {
            what: "an object".into(),
            reason: error.to_string(),
        })?;
        let text = |pointer: &str| {
            body.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (Some(api_version), Some(kind), Some(name)) =
            (text("/apiVersion"), text("/kind"), text("/metadata/name"))
        else {
            return Err(RenderError::Serialize {
                what: format!("object {body}"),
                reason: "it has no apiVersion, kind or metadata.name".into(),
            });
        };
        Ok(Self {
            namespace: text("/metadata/namespace"),
            api_version,
            kind,
            name,
            body,
        })
    }

    /// `Kind/name`, or `Kind/namespace/name` for a namespaced object.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{}/{namespace}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// Whether this is a workload (Deployment or StatefulSet) of service `service`, by its label.
    pub fn is_workload_of(&self, service: &str) -> bool {
        matches!(self.kind.as_str(), "Deployment" | "StatefulSet")
            && self.body["metadata"]["labels"][SERVICE_LABEL] == service
    }

    /// A file name for `smo render --out`: `<kind>-<name>.yaml`, lowercase.
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.kind.to_ascii_lowercase(), self.name)
    }

    /// The object as one YAML document.
    pub fn to_yaml(&self) -> Result<String, RenderError> {
        serde_norway::to_string(&self.body).map_err(|error| RenderError::Serialize {
            what: self.id(),
            reason: error.to_string(),
        })
    }
}

/// `manifests` as one multi-document YAML stream (`---` between documents).
pub fn to_yaml_stream(manifests: &[Manifest]) -> Result<String, RenderError> {
    let mut out = String::new();
    for manifest in manifests {
        out.push_str("---\n");
        out.push_str(&manifest.to_yaml()?);
    }
    Ok(out)
}
