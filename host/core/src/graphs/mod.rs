//! HDAG descriptors: the upstream NEPHELE `hdaGraph` schema read unchanged, the smo extensions,
//! intent translation, and validation that reports every error at once (issue 4).
//!
//! Data flows one way: text ([`source`]) -> JSON tree -> upstream model ([`descriptor`]) and
//! extensions ([`extensions`]) -> cross-checks ([`validate`]) -> [`GraphSpec`] ([`model`]).
//! Use [`parse_descriptor`] for text from the API and [`validate_file`] for `smo validate FILE`;
//! both return either a complete, consistent [`GraphSpec`] or all the problems found, each with
//! the path of its field, so an invalid descriptor never changes anything.

pub mod container;
pub mod descriptor;
pub mod extensions;
pub mod intent;
pub mod model;
pub mod nesting;
pub mod offload_policy;
mod read;
pub mod source;
pub mod validate;

use std::path::Path;

pub use descriptor::HdaGraph;
pub use extensions::{
    Dependencies, OffloadPolicy, Scaling, Strategies, StrategyParameters, StrategyRef,
};
pub use model::{Demand, GraphSpec, ServiceSpec};
pub use validate::{ValidationError, ValidationErrors};

/// Failures of this module other than an invalid descriptor.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The descriptor has problems; each line names a field.
    #[error("invalid descriptor:\n{0}")]
    Invalid(#[from] ValidationErrors),
    /// A saved spec could not be read back (e.g. written by an incompatible smo version).
    #[error("cannot decode a saved graph spec: {reason}")]
    Decode { reason: String },
    /// A spec could not be written as JSON.
    #[error("cannot encode a graph spec as JSON: {reason}")]
    Encode { reason: String },
}

/// Parses and validates a descriptor given as YAML or JSON text.
///
/// Returns the validated graph, or every error found (syntax errors with line and column, other
/// errors with the path of the field, e.g. `hdaGraph.services[2].deployment.intent.compute.cpu`).
pub fn parse_descriptor(text: &str) -> Result<GraphSpec, ValidationErrors> {
    let mut errors = read::Errors::default();
    let Some(document) = source::parse_text(text, &mut errors) else {
        return Err(ValidationErrors::sorted(errors.into_vec()));
    };
    validate::validate_document(document, text, errors)
}

/// Reads `path` and validates it as [`parse_descriptor`] does (what `smo validate FILE` runs).
/// A file that cannot be read is one error naming the file.
pub fn validate_file(path: impl AsRef<Path>) -> Result<GraphSpec, ValidationErrors> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|error| {
        ValidationErrors::single(format!("cannot read {}: {error}", path.display()))
    })?;
    parse_descriptor(&text)
}

#[cfg(test)]
mod tests;

/// The upstream `brussels-demo` descriptor, parsed: the fixture of the host's unit tests.
#[cfg(any(test, feature = "testing"))]
pub fn brussels_demo_spec() -> GraphSpec {
    parse_descriptor(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/hdag/brussels-demo.yaml"
    )))
    .expect("the brussels-demo fixture parses")
}
