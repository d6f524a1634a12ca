//! The Karmada and multi-cluster-services objects smo writes, as Rust types with the fields smo
//! uses. Field names and meanings follow the CRDs in `host/karmada/crds/` (Apache-2.0, Karmada).

pub mod multicluster;
pub mod overrides;
pub mod policy;

pub use multicluster::{ServiceExport, ServiceImport, ServiceImportSpec, ServicePortSpec};
pub use overrides::{OverridePolicy, OverrideRule, OverrideSpec, Overriders, PlaintextOverrider};
pub use policy::{
    ClusterAffinity, ClusterPreferences, Placement, PropagationPolicy, PropagationSpec,
    ReplicaSchedulingStrategy, ResourceSelector, StaticClusterWeight,
};
