//! The OpenAPI 3.1 document of the API, served at `GET /v1/openapi.json` from the checked-in
//! `host/smo/openapi.json` (compiled into the binary).
//!
//! Its paths are written by hand; its `components.schemas` are generated from the Rust types
//! the handlers read and write ([`component_schemas`], with `schemars`): request bodies as
//! they are deserialized, answers as they are serialized. A test regenerates them and fails
//! when the file differs; `SMO_UPDATE_OPENAPI=1 cargo test -p smo openapi` rewrites the file.
//! Other tests keep the paths equal to the router's routes and every `$ref` resolvable.

use super::body::HdaDescriptor;
use super::clusters::{ClusterBody, ClusterList, EnergyPatch, NewCluster};
use super::compat::{AlertAnswer, AlertBody};
use super::error::ApiError;
use super::graphs::{ApplyList, DecisionList, Executed, GraphList, Withdrawing};
use super::plugins::{Health, PlaceBody};
use super::views::{ClusterView, GraphSummary, GraphView, OffloadAnswer};
use axum::http::header;
use axum::response::IntoResponse;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};
use smo_core::decision::DecisionRecord;
use smo_core::graphs::validate::ValidationError;
use smo_plugin_host::registry::RegistryStatus;
use smo_plugin_host::ReloadReport;
use std::borrow::Cow;

/// The document, as checked into the repository.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// `GET /v1/openapi.json`
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

/// The error body (`Error`): written here because [`ApiError`] serializes its extra members
/// flattened from a map.
impl JsonSchema for ApiError {
    fn schema_name() -> Cow<'static, str> {
        "Error".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "An error: `error` is a code (bad_request, unauthorized, forbidden, not_found, method_not_allowed, conflict, already_exists, placement_failed, reload_failed, body_too_large, unsupported_media_type, invalid_descriptor, invalid_value, bad_strategy, unsupported_artifact, internal, ...), `detail` says what went wrong, `field` names the offending input when known. Some errors carry more members (`errors` of an invalid descriptor, `decision` of a failed placement, `graph` or `cluster` of a 404).",
            "type": "object",
            "required": ["error", "detail", "field"],
            "properties": {
                "error": {"type": "string"},
                "detail": {"type": "string"},
                "field": {"type": ["string", "null"]}
            },
            "additionalProperties": true
        })
    }
}

/// The bounds of a Rust integer (`format` `uint32`, `int64`, ...) as `minimum`/`maximum`, which
/// JSON Schema validators check (they need not check `format`); a bound already given is kept.
fn integer_bounds(schema: &mut Schema) {
    let bounds: Option<(Value, Value)> = match schema.get("format").and_then(Value::as_str) {
        Some("uint8") => Some((0.into(), u8::MAX.into())),
        Some("uint16") => Some((0.into(), u16::MAX.into())),
        Some("uint32") => Some((0.into(), u32::MAX.into())),
        Some("uint64" | "uint") => Some((0.into(), u64::MAX.into())),
        Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
        Some("int64" | "int") => Some((i64::MIN.into(), i64::MAX.into())),
        _ => None,
    };
    if let Some((min, max)) = bounds {
        if schema.get("minimum").is_none() {
            schema.insert("minimum".into(), min);
        }
        if schema.get("maximum").is_none() {
            schema.insert("maximum".into(), max);
        }
    }
}

/// Where the document keeps its schemas.
const SCHEMAS_PATH: &str = "/components/schemas";

/// The schemas of `components.schemas`: the request bodies (as deserialized) and the answers
/// (as serialized), with every type they refer to. A name both sides use must have the same
/// schema on both; the error names it otherwise.
pub fn component_schemas() -> Result<Map<String, Value>, String> {
    let settings = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = SCHEMAS_PATH.into();
            s.meta_schema = None;
        })
        .with_transform(RecursiveTransform(integer_bounds));
    let mut requests = settings.clone().for_deserialize().into_generator();
    requests.subschema_for::<NewCluster>();
    requests.subschema_for::<ClusterBody>();
    requests.subschema_for::<EnergyPatch>();
    requests.subschema_for::<PlaceBody>();
    requests.subschema_for::<AlertBody>();
    requests.subschema_for::<HdaDescriptor>();
    requests.subschema_for::<smo_core::ecosystem::Declaration>();
    requests.subschema_for::<super::ecosystem::MigrateBody>();
    let mut answers = settings.for_serialize().into_generator();
    answers.subschema_for::<ApiError>();
    answers.subschema_for::<ValidationError>();
    answers.subschema_for::<Health>();
    answers.subschema_for::<super::health::Readiness>();
    answers.subschema_for::<RegistryStatus>();
    answers.subschema_for::<ReloadReport>();
    answers.subschema_for::<DecisionRecord>();
    answers.subschema_for::<DecisionList>();
    answers.subschema_for::<ApplyList>();
    answers.subschema_for::<GraphList>();
    answers.subschema_for::<crate::engine::ecosystem::Registered>();
    answers.subschema_for::<crate::engine::ecosystem::EcosystemView>();
    answers.subschema_for::<crate::engine::ecosystem_migrate::MigrationView>();
    answers.subschema_for::<crate::engine::ecosystem::WorkloadDetail>();
    answers.subschema_for::<GraphSummary>();
    answers.subschema_for::<GraphView>();
    answers.subschema_for::<OffloadAnswer>();
    answers.subschema_for::<Executed>();
    answers.subschema_for::<Withdrawing>();
    answers.subschema_for::<ClusterList>();
    answers.subschema_for::<ClusterView>();
    answers.subschema_for::<AlertAnswer>();
    let mut schemas = requests.take_definitions(true);
    for (name, schema) in answers.take_definitions(true) {
        match schemas.get(&name) {
            Some(same) if *same == schema => {}
            Some(other) => {
                return Err(format!(
                    "schema {name} differs between requests ({other}) and answers ({schema}): \
                     rename one of the types (#[schemars(rename = ...)])"
                ))
            }
            None => {
                schemas.insert(name, schema);
            }
        }
    }
    Ok(schemas)
}

/// `document` with its `components.schemas` replaced by `schemas`. The schemas are the last
/// member of `components`, itself the document's last member: everything before them is kept
/// byte for byte (the hand-written part), and they are written sorted by name.
pub fn with_schemas(document: &str, schemas: &Map<String, Value>) -> Result<String, String> {
    const MARKER: &str = "\n    \"schemas\": {";
    let start = document
        .find(MARKER)
        .ok_or("openapi.json has no components.schemas (indented by 4 spaces)")?;
    let text = serde_json::to_string_pretty(schemas).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(start + text.len() + 64);
    out.push_str(&document[..start]);
    out.push_str("\n    \"schemas\": ");
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str("\n    ");
        }
        out.push_str(line);
    }
    out.push_str("\n  }\n}\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The checked-in document's path, to rewrite it.
    const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

    #[test]
    fn the_schemas_are_generated_from_the_types() {
        let on_disk = std::fs::read_to_string(PATH).expect("read openapi.json");
        let schemas = component_schemas().expect("schemas");
        let generated = with_schemas(&on_disk, &schemas).expect("splice");
        if std::env::var_os("SMO_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
            if generated != on_disk {
                std::fs::write(PATH, &generated).expect("write openapi.json");
            }
            return;
        }
        assert!(
            generated == on_disk,
            "host/smo/openapi.json's components.schemas are not those of the types: run \
             `SMO_UPDATE_OPENAPI=1 cargo test -p smo openapi` and commit the file"
        );
        serde_json::from_str::<Value>(&generated).expect("the document stays JSON");
    }

    /// Every `$ref` of `value`, with where it is.
    fn refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if key == "$ref" {
                        if let Some(target) = inner.as_str() {
                            out.push((at.clone(), target));
                        }
                    } else {
                        refs(inner, format!("{at}/{key}"), out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    refs(inner, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_schema_is_used() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("JSON");
        let mut found = Vec::new();
        refs(&doc, String::new(), &mut found);
        let mut used = BTreeSet::new();
        for (at, target) in &found {
            let pointer = target.strip_prefix('#').unwrap_or(target);
            assert!(
                doc.pointer(pointer).is_some(),
                "{at}: $ref {target} does not resolve"
            );
            if let Some(name) = pointer.strip_prefix("/components/schemas/") {
                used.insert(name.to_owned());
            }
        }
        let defined: BTreeSet<String> = doc["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .keys()
            .cloned()
            .collect();
        let unused: Vec<_> = defined.difference(&used).collect();
        assert!(unused.is_empty(), "schemas nothing refers to: {unused:?}");
    }

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        let paths = doc["paths"].as_object().expect("paths");
        let mut out = BTreeSet::new();
        for (path, item) in paths {
            for (key, _) in item.as_object().expect("path item") {
                if METHODS.contains(&key.as_str()) {
                    out.insert((key.clone(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_router() {
        let routed: BTreeSet<(String, String)> = crate::api::route_table()
            .into_iter()
            .map(|(m, p)| (m.to_owned(), p.to_owned()))
            .collect();
        let documented = documented();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes missing from host/openapi.json: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "documented routes the router does not serve: {stale:?}"
        );
    }

    #[test]
    fn every_operation_has_an_id_and_documents_its_errors() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("JSON");
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|k| k.starts_with('2')),
                    "{method} {path}: no success response"
                );
                // Every `{param}` of the path is declared.
                for segment in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = segment.trim_matches(|c| c == '{' || c == '}');
                    let declared = item["parameters"]
                        .as_array()
                        .into_iter()
                        .chain(op["parameters"].as_array())
                        .flatten()
                        .map(|p| match p["$ref"].as_str() {
                            Some(r) => r
                                .strip_prefix("#/components/parameters/")
                                .map_or(&serde_json::Value::Null, |key| {
                                    &doc["components"]["parameters"][key]
                                }),
                            None => p,
                        })
                        .any(|p| p["name"] == name && p["in"] == "path");
                    assert!(declared, "{method} {path}: parameter {name} not declared");
                }
            }
        }
    }
}
