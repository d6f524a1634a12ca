//! The upstream SMO endpoints kept for compatibility: `GET|POST /project/{project}/graphs`
//! (the project is accepted and not used: graph names are global, as upstream) and the
//! Alertmanager webhook `POST /alerts`, which deploys the conditional service in `labels.service`.

use super::error::{json_body, ApiError};
use super::AppState;
use crate::engine::alerts::AlertOutcome;
use crate::engine::status::GraphSummary;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// `GET /project/{project}/graphs`: every graph (a list, as upstream).
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<GraphSummary>>, ApiError> {
    Ok(Json(state.engine.list().await?))
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert of an Alertmanager webhook (other members are ignored).
#[derive(Debug, Deserialize)]
pub struct Alert {
    /// firing or resolved (anything else is refused).
    #[serde(default)]
    pub status: Option<AlertStatus>,
    #[serde(default)]
    pub labels: HashMap<String, String>,
}

/// An Alertmanager webhook body (other members are ignored).
#[derive(Debug, Deserialize)]
pub struct AlertBody {
    pub alerts: Vec<Alert>,
}

/// The answer to a webhook.
#[derive(Debug, Serialize)]
pub struct AlertAnswer {
    pub message: &'static str,
    pub results: Vec<AlertOutcome>,
}

/// `POST /alerts`: for each firing alert with `labels.service` (and optionally `labels.graph`),
/// deploy that pending conditional service.
pub async fn alerts(
    State(state): State<AppState>,
    body: Result<Json<AlertBody>, JsonRejection>,
) -> Result<Json<AlertAnswer>, ApiError> {
    let body = json_body(body)?;
    let mut results = Vec::new();
    for alert in &body.alerts {
        let Some(service) = alert.labels.get("service") else {
            results.push(AlertOutcome {
                service: String::new(),
                graph: None,
                cluster: None,
                action: "ignored",
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
                action: "ignored",
                reason: "resolved".to_owned(),
            });
            continue;
        }
        results.extend(state.engine.alert(service, graph).await?);
    }
    Ok(Json(AlertAnswer {
        message: "Alert received",
        results,
    }))
}
