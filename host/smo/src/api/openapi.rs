//! The OpenAPI 3.1 document of the API: written by hand in `host/openapi.json`, compiled into
//! the binary, served at `GET /v1/openapi.json`; a test keeps it equal to the router's routes.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as checked into the repository.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// `GET /v1/openapi.json`
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
