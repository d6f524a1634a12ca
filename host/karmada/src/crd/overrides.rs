//! `policy.karmada.io/v1alpha1` OverridePolicy: per member cluster changes to a resource template
//! as Karmada propagates it (smo uses plaintext JSON-patch overriders).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::policy::{ClusterAffinity, ResourceSelector, POLICY_API_VERSION};

/// An OverridePolicy (namespaced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverridePolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: OverrideSpec,
}

impl OverridePolicy {
    pub fn new(metadata: ObjectMeta, spec: OverrideSpec) -> Self {
        Self {
            api_version: POLICY_API_VERSION.into(),
            kind: "OverridePolicy".into(),
            metadata,
            spec,
        }
    }
}

/// `spec` of an OverridePolicy: the templates it changes, and how on which clusters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideSpec {
    pub resource_selectors: Vec<ResourceSelector>,
    pub override_rules: Vec<OverrideRule>,
}

/// The overriders applied on the clusters of `target_cluster`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster: Option<ClusterAffinity>,
    pub overriders: Overriders,
}

/// The overriders of a rule (smo uses `plaintext`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overriders {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plaintext: Vec<PlaintextOverrider>,
}

/// One JSON-patch-like change: `add`, `replace` or `remove` at `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaintextOverrider {
    pub path: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}
