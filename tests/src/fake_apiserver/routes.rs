//! The fake API server's answers: discovery documents, and per resource path get, list, watch,
//! server-side apply (PATCH), delete and delete-collection, each in the API server's JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};

use super::{bindings, lock, Answer, ObjectKey, Recorded, State};

/// (group version, plural, kind, namespaced) of every resource served.
const SERVED: &[(&str, &str, &str, bool)] = &[
    ("v1", "namespaces", "Namespace", false),
    ("v1", "services", "Service", true),
    ("v1", "configmaps", "ConfigMap", true),
    ("v1", "secrets", "Secret", true),
    ("apps/v1", "deployments", "Deployment", true),
    ("apps/v1", "statefulsets", "StatefulSet", true),
    (
        "policy.karmada.io/v1alpha1",
        "propagationpolicies",
        "PropagationPolicy",
        true,
    ),
    (
        "policy.karmada.io/v1alpha1",
        "overridepolicies",
        "OverridePolicy",
        true,
    ),
    (
        "work.karmada.io/v1alpha2",
        "resourcebindings",
        "ResourceBinding",
        true,
    ),
    ("cluster.karmada.io/v1alpha1", "clusters", "Cluster", false),
    (
        "multicluster.x-k8s.io/v1alpha1",
        "serviceexports",
        "ServiceExport",
        true,
    ),
    (
        "multicluster.x-k8s.io/v1alpha1",
        "serviceimports",
        "ServiceImport",
        true,
    ),
];

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = Arc::clone(&state);
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let sent = Sent {
                content_type: header("content-type"),
                authorization: header("authorization"),
            };
            async move { answer(&state, method, uri, sent, body).await }
        },
    )
}

/// `/api/v1/...` or `/apis/<group>/<version>/...` as (group version, the rest).
pub(super) fn split_group_version(path: &str) -> Option<(String, &str)> {
    if let Some(rest) = path.strip_prefix("/api/v1") {
        return Some(("v1".into(), rest.trim_start_matches('/')));
    }
    let rest = path.strip_prefix("/apis/")?;
    let mut parts = rest.splitn(3, '/');
    let group = parts.next()?;
    let version = parts.next()?;
    Some((format!("{group}/{version}"), parts.next().unwrap_or("")))
}

/// The request headers the server records.
struct Sent {
    content_type: Option<String>,
    authorization: Option<String>,
}

async fn answer(state: &State, method: Method, uri: Uri, sent: Sent, body: Bytes) -> Response {
    let Sent {
        content_type,
        authorization,
    } = sent;
    let path = uri.path().to_owned();
    let query: BTreeMap<String, String> = uri
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .filter(|(k, _)| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let body_json: Option<Value> = serde_json::from_slice(&body).ok();
    lock(&state.requests).push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type,
        authorization,
        body: body_json.clone(),
    });
    match state.fault_for(method.as_str(), &path) {
        Some(Answer::Hang) => {
            std::future::pending::<()>().await;
        }
        Some(Answer::Status(code, reason, message)) => {
            return status(code, &reason, &message);
        }
        None => {}
    }
    let Some((group_version, rest)) = split_group_version(&path) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find {path}"),
        );
    };
    if lock(&state.unserved).contains(&group_version) {
        return status(
            404,
            "NotFound",
            &format!("the server could not find {path}"),
        );
    }
    if rest.is_empty() {
        return discovery(&group_version);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let (namespace, plural, name) = match segments.as_slice() {
        ["namespaces", namespace, plural] => (Some(*namespace), *plural, None),
        ["namespaces", namespace, plural, name] => (Some(*namespace), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => {
            return status(
                404,
                "NotFound",
                &format!("the server could not find {path}"),
            )
        }
    };
    let Some(&(_, _, kind, namespaced)) = SERVED
        .iter()
        .find(|(gv, p, _, _)| *gv == group_version && *p == plural)
    else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find {path}"),
        );
    };
    let namespace = if namespaced { namespace } else { None };
    let selector = query.get("labelSelector").map(String::as_str);
    let target = Target {
        group_version: &group_version,
        namespace,
        plural,
        kind,
    };
    match (method, name) {
        (Method::GET, Some(name)) if plural == "resourcebindings" => {
            match bindings::binding(state, namespace.unwrap_or_default(), name) {
                Some(binding) => (StatusCode::OK, axum::Json(binding)).into_response(),
                None => not_found(kind, name),
            }
        }
        (Method::GET, Some(name)) => match lock(&state.objects).get(&target.key(name)) {
            Some(object) => (StatusCode::OK, axum::Json(object.clone())).into_response(),
            None => not_found(kind, name),
        },
        (Method::GET, None) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            watch(state, &target)
        }
        (Method::GET, None) => {
            let items = matching(state, &target, selector);
            list(&target, items, &state.next_version())
        }
        (Method::PATCH, Some(name)) => apply(state, &target, name, body_json),
        (Method::DELETE, Some(name)) => match lock(&state.objects).remove(&target.key(name)) {
            Some(object) => (StatusCode::OK, axum::Json(object)).into_response(),
            None => not_found(kind, name),
        },
        (Method::DELETE, None) => {
            let items = matching(state, &target, selector);
            {
                let mut objects = lock(&state.objects);
                for item in &items {
                    let name = item["metadata"]["name"].as_str().unwrap_or_default();
                    objects.remove(&target.key(name));
                }
            }
            list(&target, items, &state.next_version())
        }
        (method, _) => status(
            405,
            "MethodNotAllowed",
            &format!("{method} is not supported by the fake API server"),
        ),
    }
}

struct Target<'a> {
    group_version: &'a str,
    namespace: Option<&'a str>,
    plural: &'a str,
    kind: &'a str,
}

impl Target<'_> {
    fn key(&self, name: &str) -> ObjectKey {
        (
            self.group_version.to_owned(),
            self.namespace.map(str::to_owned),
            self.plural.to_owned(),
            name.to_owned(),
        )
    }
}

/// Server-side apply: the object as sent, with the server's metadata; a wrong kind or name is
/// refused with 400 as the API server does.
fn apply(state: &State, target: &Target<'_>, name: &str, body: Option<Value>) -> Response {
    let Some(mut object) = body else {
        return status(400, "BadRequest", "the apply patch is not JSON");
    };
    if object["kind"] != target.kind || object["metadata"]["name"] != name {
        return status(
            400,
            "BadRequest",
            &format!(
                "the object's kind and name ({}, {}) do not match the path ({}, {name})",
                object["kind"], object["metadata"]["name"], target.kind
            ),
        );
    }
    let key = target.key(name);
    let version = state.next_version();
    let mut objects = lock(&state.objects);
    let previous_generation = objects
        .get(&key)
        .and_then(|o| o["metadata"]["generation"].as_u64());
    let changed = objects
        .get(&key)
        .is_none_or(|o| spec_of(o) != spec_of(&object));
    let generation = match previous_generation {
        Some(g) if changed => g + 1,
        Some(g) => g,
        None => 1,
    };
    let metadata = &mut object["metadata"];
    if let Some(namespace) = target.namespace {
        metadata["namespace"] = Value::from(namespace);
    }
    metadata["resourceVersion"] = Value::from(version);
    metadata["generation"] = Value::from(generation);
    metadata["uid"] = Value::from(format!("uid-{}-{name}", target.plural));
    objects.insert(key, object.clone());
    (StatusCode::OK, axum::Json(object)).into_response()
}

fn spec_of(object: &Value) -> (&Value, &Value) {
    (&object["spec"], &object["metadata"]["labels"])
}

fn matching(state: &State, target: &Target<'_>, selector: Option<&str>) -> Vec<Value> {
    let wanted: Vec<(&str, &str)> = selector
        .unwrap_or("")
        .split(',')
        .filter_map(|term| term.split_once('='))
        .collect();
    lock(&state.objects)
        .iter()
        .filter(|((gv, namespace, plural, _), _)| {
            gv == target.group_version
                && plural == target.plural
                && (target.namespace.is_none() || namespace.as_deref() == target.namespace)
        })
        .map(|(_, object)| object)
        .filter(|object| {
            wanted
                .iter()
                .all(|(key, value)| object["metadata"]["labels"][*key] == *value)
        })
        .cloned()
        .collect()
}

fn list(target: &Target<'_>, items: Vec<Value>, version: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({
            "apiVersion": target.group_version,
            "kind": format!("{}List", target.kind),
            "metadata": {"resourceVersion": version},
            "items": items,
        })),
    )
        .into_response()
}

/// A watch of Clusters: every current one as ADDED, then the events the test pushes, until it
/// drops the watches.
fn watch(state: &State, target: &Target<'_>) -> Response {
    if target.plural != "clusters" {
        return status(
            405,
            "MethodNotAllowed",
            "the fake API server watches only clusters",
        );
    }
    let receiver = state.cluster_events.subscribe();
    let current: Vec<Option<Value>> = matching(state, target, None)
        .into_iter()
        .map(|object| Some(json!({"type": "ADDED", "object": object})))
        .collect();
    let initial = futures::stream::iter(current);
    let pushed = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((event, receiver)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let lines = initial
        .chain(pushed)
        .take_while(|event| std::future::ready(event.is_some()))
        .map(|event| {
            let mut line = event.map(|e| e.to_string()).unwrap_or_default();
            line.push('\n');
            Ok::<_, std::convert::Infallible>(Bytes::from(line))
        });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(lines))
        .unwrap_or_else(|_| status(500, "InternalError", "cannot stream"))
}

fn discovery(group_version: &str) -> Response {
    let resources: Vec<Value> = SERVED
        .iter()
        .filter(|(gv, _, _, _)| *gv == group_version)
        .map(|(_, plural, kind, namespaced)| {
            json!({
                "name": plural,
                "singularName": kind.to_ascii_lowercase(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            })
        })
        .collect();
    if resources.is_empty() {
        return status(
            404,
            "NotFound",
            &format!("the server could not find /apis/{group_version}"),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        })),
    )
        .into_response()
}

fn not_found(kind: &str, name: &str) -> Response {
    status(
        404,
        "NotFound",
        &format!("{}s \"{name}\" not found", kind.to_ascii_lowercase()),
    )
}

/// A `Status` answer, as the API server sends for errors.
pub(super) fn status(code: u16, reason: &str, message: &str) -> Response {
    let code_status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code_status,
        axum::Json(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        })),
    )
        .into_response()
}

/// `a=b&c=d%3De` as decoded pairs.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' if at + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[at + 1..at + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        at += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
