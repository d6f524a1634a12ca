//! `multicluster.x-k8s.io/v1alpha1` ServiceExport and ServiceImport (the Kubernetes
//! Multi-Cluster Services API, which Karmada and Submariner Lighthouse implement).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// The API version of the Multi-Cluster Services API.
pub const MCS_API_VERSION: &str = "multicluster.x-k8s.io/v1alpha1";

/// Exports the Service of the same name and namespace to the cluster set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExport {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
}

impl ServiceExport {
    pub fn new(metadata: ObjectMeta) -> Self {
        Self {
            api_version: MCS_API_VERSION.into(),
            kind: "ServiceExport".into(),
            metadata,
        }
    }
}

/// Makes an exported Service reachable in a cluster as `<name>.<namespace>.svc.clusterset.local`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImport {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ServiceImportSpec,
}

impl ServiceImport {
    pub fn new(metadata: ObjectMeta, spec: ServiceImportSpec) -> Self {
        Self {
            api_version: MCS_API_VERSION.into(),
            kind: "ServiceImport".into(),
            metadata,
            spec,
        }
    }
}

/// `spec` of a ServiceImport.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportSpec {
    /// `ClusterSetIP` (one virtual IP for the set) or `Headless`.
    #[serde(rename = "type")]
    pub import_type: String,
    pub ports: Vec<ServicePortSpec>,
}

/// One port of an imported service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePortSpec {
    pub name: String,
    pub protocol: String,
    pub port: i32,
}
