//! What can go wrong turning a graph into objects: a name Kubernetes refuses, a service with
//! nothing to run, an object that does not serialise.

/// Errors of [`crate::render_graph`]; each names the descriptor field at fault.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A name or label value Kubernetes would refuse.
    #[error("{field}: {value:?} cannot name a Kubernetes object: {reason}")]
    InvalidName {
        field: String,
        value: String,
        reason: String,
    },
    /// A placed service with neither a chart nor a container image.
    #[error(
        "{field}: service {service:?} has no Helm chart (artifact.ociImage) and no container \
         image (artifact.image): there is nothing to run"
    )]
    NothingToRun { field: String, service: String },
    /// A service with a chart, rendered where charts are not.
    #[error("{field}: service {service:?} is a Helm chart ({chart}); {reason}")]
    Chart {
        field: String,
        service: String,
        chart: String,
        reason: String,
    },
    /// The placement names a service the graph does not have.
    #[error("the placement names service {service:?}, which graph {graph:?} does not have")]
    UnknownService { graph: String, service: String },
    /// An object could not be written as JSON (a bug; the object is named).
    #[error("cannot serialise {what}: {reason}")]
    Serialize { what: String, reason: String },
}
