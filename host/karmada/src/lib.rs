//! smo's Karmada backend: what a graph's desired state becomes on a Karmada control plane.
//! [`render`] turns a graph and its placement into Kubernetes and Karmada objects ([`Manifest`]s).
//!
//! The objects are those of a resource template (a Deployment and a Service per service, or a
//! Helm chart's), one `PropagationPolicy` per service pinned to the chosen clusters with the
//! replicas divided by static weight exactly as decided, and, for the services other services
//! call, a multi-cluster `ServiceExport` where they run and a `ServiceImport` where their callers
//! run. Every object carries the graph's and the service's labels and `managed-by: smo`.

pub mod backend;
pub mod crd;
mod error;
pub mod manifest;
pub mod render;

pub use backend::{KarmadaContinuum, KarmadaSettings};
pub use error::RenderError;
pub use manifest::Manifest;
pub use render::{render_graph, RenderOptions};
