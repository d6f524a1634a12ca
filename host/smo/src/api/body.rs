//! Reading a descriptor from a request body: YAML or JSON text, a JSON object, or upstream's
//! JSON *string* holding YAML (what the Flask API required); validated all at once.
//!
//! Accepted content types: `application/json` (and `*+json`), `application/yaml`,
//! `application/x-yaml`, `text/yaml`, `text/x-yaml`, `text/plain`, none, and
//! `application/x-www-form-urlencoded` (what `curl --data-binary` sends by default); anything
//! else is 415. Upstream's `{"artifact": "<oci ref>"}` form is refused with 422: smo does not
//! pull artifacts (post the descriptor itself).

use super::error::{from_bytes_rejection, ApiError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::Value;
use smo_core::graphs::{parse_descriptor, GraphSpec, ValidationErrors};

const JSON: &[&str] = &["application/json"];
const TEXT: &[&str] = &[
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "text/plain",
    "application/x-www-form-urlencoded",
];

/// The media type of the request, lower-case, without parameters (`None` when absent).
fn media_type(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the Content-Type header is not text",
        )
        .with_field("content-type")
    })?;
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Ok(Some(essence))
}

/// Whether a body of JSON or YAML text (`what`, for the error) is sent as JSON: `true` for
/// the JSON types, `false` for the text ones and none; 415 for any other.
pub(super) fn is_json(headers: &HeaderMap, what: &str) -> Result<bool, ApiError> {
    let kind = media_type(headers)?;
    let json = kind
        .as_deref()
        .is_some_and(|k| JSON.contains(&k) || k.ends_with("+json"));
    match kind.as_deref() {
        Some(kind) if !json && !TEXT.contains(&kind) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("cannot read {what} from {kind}: send application/json or application/yaml"),
        )
        .with_field("content-type")),
        _ => Ok(json),
    }
}

/// The descriptor text of a request body (see the module documentation).
pub fn descriptor_text(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, ApiError> {
    let json = is_json(headers, "a descriptor")?;
    let body = body.map_err(from_bytes_rejection)?;
    let text = String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body is not UTF-8: {e}"),
        )
    })?;
    if json {
        match serde_json::from_str::<Value>(&text) {
            // Upstream's form: a JSON string holding the YAML or JSON descriptor.
            Ok(Value::String(inner)) => return Ok(inner),
            Ok(Value::Object(map))
                if map.contains_key("artifact") && !map.contains_key("hdaGraph") =>
            {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unsupported_artifact",
                    "smo does not pull HDAG artifacts from a registry: post the descriptor itself (YAML or JSON)",
                )
                .with_field("artifact"));
            }
            // Anything else (including invalid JSON) is validated as text: the syntax error
            // then comes with its line and column.
            _ => {}
        }
    }
    Ok(text)
}

/// The JSON Schema of a descriptor in its JSON form (`components.schemas.HdaDescriptor`): what
/// the document can say of it. The reader checks far more (every member of the NEPHELE
/// `hdaGraph` schema, with smo's extensions) and answers 422 `invalid_descriptor` with every
/// error; what is said here is a part of those checks, so a body this schema refuses is
/// refused.
pub struct HdaDescriptor;

impl schemars::JsonSchema for HdaDescriptor {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HdaDescriptor".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An HDAG descriptor: the NEPHELE hdaGraph schema, unchanged, with smo's optional extensions (placementStrategy, scalingStrategy, migrationStrategy, strategyParameters, offloadPolicy; per-service scaling and dependencies). Only its outline is described here; the server validates the rest and reports every error at once (422 invalid_descriptor).",
            "type": "object",
            "required": ["hdaGraph"],
            "properties": {
                "hdaGraph": {
                    "type": "object",
                    "required": ["id", "services"],
                    "properties": {
                        "id": {
                            "description": "The graph's name (a DNS label, as Kubernetes requires).",
                            "type": "string",
                            "pattern": super::wire::NAME_PATTERN,
                            "minLength": 1,
                            "maxLength": super::wire::NAME_MAX
                        },
                        "services": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "object"}
                        }
                    }
                }
            }
        })
    }
}

/// The validated graph of a request body, or 422 with every error. Parsed on a blocking thread:
/// a large or deep body never holds an async worker.
pub async fn descriptor(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<GraphSpec, ApiError> {
    let text = descriptor_text(headers, body)?;
    let parsed = tokio::task::spawn_blocking(move || parse_descriptor(&text))
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("parsing the descriptor stopped: {error}"),
            )
        })?;
    parsed.map_err(|errors| invalid_descriptor(&errors))
}

/// 422 `invalid_descriptor` with every error (`errors`, each with its `path`), `field` the
/// path of the first.
pub fn invalid_descriptor(errors: &ValidationErrors) -> ApiError {
    let first = errors.errors().first();
    let field = first.map(|e| e.path.clone()).filter(|p| !p.is_empty());
    let detail = format!(
        "{} error(s) in the descriptor; the first: {}",
        errors.len(),
        first.map_or_else(String::new, ToString::to_string)
    );
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_descriptor",
        detail,
    )
    .with("errors", errors);
    error.field = field;
    error
}

/// The strategies `spec` names, checked against the plugins there are (a plugin the active set
/// lacks is looked for in the plugin directories first, see
/// [`crate::strategy_names::check_active`]): 422 `invalid_descriptor` naming each field whose
/// strategy does not exist or is of another kind, with the strategies of that kind there are.
pub async fn check_strategies(
    registry: &smo_plugin_host::Registry,
    spec: &GraphSpec,
) -> Result<(), ApiError> {
    crate::strategy_names::check_active(registry, spec)
        .await
        .map_err(|errors| invalid_descriptor(&errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const HELLO: &str = include_str!("../../../../tests/fixtures/hdag/hello-world.yaml");

    fn headers(kind: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(kind) = kind {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        }
        h
    }

    #[tokio::test]
    async fn yaml_json_and_upstream_string_bodies_are_read() {
        let yaml = descriptor(&headers(Some("application/yaml")), Ok(Bytes::from(HELLO)))
            .await
            .expect("yaml");
        assert_eq!(yaml.name, "hello-world-graph");
        let wrapped = serde_json::to_string(HELLO).expect("json string");
        let upstream = descriptor(
            &headers(Some("application/json; charset=utf-8")),
            Ok(Bytes::from(wrapped)),
        )
        .await
        .expect("upstream form");
        assert_eq!(upstream.name, "hello-world-graph");
        let object: serde_json::Value = serde_norway::from_str(HELLO).expect("yaml to value");
        let json = descriptor(
            &headers(Some("application/json")),
            Ok(Bytes::from(object.to_string())),
        )
        .await
        .expect("json object");
        assert_eq!(json.name, "hello-world-graph");
        assert!(descriptor(&headers(None), Ok(Bytes::from(HELLO)))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn wrong_types_artifacts_and_bad_descriptors_are_refused() {
        let e = descriptor(&headers(Some("image/png")), Ok(Bytes::from(HELLO)))
            .await
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e = descriptor(
            &headers(Some("application/json")),
            Ok(Bytes::from(r#"{"artifact": "x"}"#)),
        )
        .await
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("artifact"));
        let e = descriptor(
            &headers(Some("application/yaml")),
            Ok(Bytes::from("hdaGraph: {id: 5}")),
        )
        .await
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.error, "invalid_descriptor");
        assert!(e.extra["errors"].as_array().is_some_and(|a| !a.is_empty()));
    }
}
