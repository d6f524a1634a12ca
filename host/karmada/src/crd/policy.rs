//! `policy.karmada.io/v1alpha1` PropagationPolicy: which resource templates go to which member
//! clusters, and how a workload's replicas are divided among them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// The API version of Karmada's policies.
pub const POLICY_API_VERSION: &str = "policy.karmada.io/v1alpha1";

/// A PropagationPolicy (namespaced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropagationPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: PropagationSpec,
}

impl PropagationPolicy {
    pub fn new(metadata: ObjectMeta, spec: PropagationSpec) -> Self {
        Self {
            api_version: POLICY_API_VERSION.into(),
            kind: "PropagationPolicy".into(),
            metadata,
            spec,
        }
    }
}

/// `spec` of a PropagationPolicy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropagationSpec {
    /// The resource templates the policy propagates.
    pub resource_selectors: Vec<ResourceSelector>,
    /// Also propagate what the selected workloads depend on (ConfigMaps, Secrets, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_deps: Option<bool>,
    pub placement: Placement,
}

/// One selected resource template, by API version, kind and name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSelector {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `spec.placement`: the clusters, and how replicas are scheduled on them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinity: Option<ClusterAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_scheduling: Option<ReplicaSchedulingStrategy>,
}

/// A set of member clusters named explicitly.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinity {
    pub cluster_names: Vec<String>,
}

/// `placement.replicaScheduling`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSchedulingStrategy {
    /// `Duplicated` (every cluster runs the template's replicas) or `Divided`.
    pub replica_scheduling_type: String,
    /// With `Divided`: `Aggregated` or `Weighted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_division_preference: Option<String>,
    /// With `Weighted`: the static weight of each cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_preference: Option<ClusterPreferences>,
}

/// `replicaScheduling.weightPreference`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPreferences {
    pub static_weight_list: Vec<StaticClusterWeight>,
}

/// One cluster's static weight: its share of the replicas is weight / sum of weights.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticClusterWeight {
    pub target_cluster: ClusterAffinity,
    pub weight: i64,
}
