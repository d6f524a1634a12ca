//! The upstream SMO endpoints kept for compatibility: `GET|POST /project/{project}/graphs`
//! (the project is accepted and not used: graph names are global, as upstream) and the
//! Alertmanager webhook `POST /alerts`, which deploys the conditional service in `labels.service`.

use super::error::ApiError;
use super::views::{AlertOutcome, GraphSummary};
use super::wire::{self, json_object, JsonObject};
use super::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /project/{project}/graphs`: every graph (a list, as upstream).
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<GraphSummary>>, ApiError> {
    Ok(Json(
        state.engine.list()?.into_iter().map(Into::into).collect(),
    ))
}

/// `POST /project/{project}/graphs`: upstream's deploy. Takes the same bodies as
/// `POST /v1/graphs`, including upstream's JSON string holding YAML; answers as it does (201).
pub async fn deploy(
    state: State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    super::graphs::deploy(state, headers, body).await
}

/// An alert's state, as Alertmanager sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert of an Alertmanager webhook (other members are ignored).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Alert {
    /// firing or resolved (anything else is refused); `null` or not given: firing.
    #[serde(default)]
    pub status: Option<AlertStatus>,
    /// `service` names the conditional service to deploy, `graph` (optional) its graph.
    #[serde(default, deserialize_with = "wire::object")]
    pub labels: BTreeMap<String, String>,
}

/// An Alertmanager webhook body (other members are ignored).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AlertBody {
    #[serde(deserialize_with = "wire::objects")]
    pub alerts: Vec<Alert>,
}

/// The answer to a webhook.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertAnswer {
    /// Always `Alert received`.
    #[schemars(extend("const" = "Alert received"))]
    pub message: &'static str,
    pub results: Vec<AlertOutcome>,
}

/// `POST /alerts`: for each firing alert with `labels.service` (and optionally `labels.graph`),
/// deploy that pending conditional service.
pub async fn alerts(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Json<AlertAnswer>, ApiError> {
    let body: AlertBody = json_object(body)?;
    let mut results = Vec::new();
    for alert in &body.alerts {
        let Some(service) = alert.labels.get("service") else {
            results.push(AlertOutcome {
                service: String::new(),
                graph: None,
                cluster: None,
                action: "ignored".to_owned(),
                reason: "no labels.service".to_owned(),
            });
            continue;
        };
        let graph = alert.labels.get("graph").map(String::as_str);
        if alert.status == Some(AlertStatus::Resolved) {
            results.push(AlertOutcome {
                service: service.clone(),
                graph: graph.map(str::to_owned),
                cluster: None,
                action: "ignored".to_owned(),
                reason: "resolved".to_owned(),
            });
            continue;
        }
        results.extend(
            state
                .engine
                .alert(service, graph)
                .await?
                .into_iter()
                .map(AlertOutcome::from),
        );
    }
    Ok(Json(AlertAnswer {
        message: "Alert received",
        results,
    }))
}
