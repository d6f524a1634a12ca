//! Handlers for clusters: list, get, register, update, and the energy profile (source, PUE,
//! carbon intensity, renewable supply, preferred-for-saving) that strategies see next time.

use super::error::{json_body, ApiError};
use super::AppState;
use crate::engine::clusters::{ClusterBody, ClusterView, EnergyPatch};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The list body.
#[derive(Debug, Serialize)]
pub struct ClusterList {
    pub clusters: Vec<ClusterView>,
}

/// `GET /v1/clusters`: every cluster with its capacity, what running graphs use, what is left,
/// and its energy profile.
pub async fn list(State(state): State<AppState>) -> Result<Json<ClusterList>, ApiError> {
    Ok(Json(ClusterList {
        clusters: state.engine.list_clusters().await?,
    }))
}

/// `GET /v1/clusters/{name}`
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ClusterView>, ApiError> {
    Ok(Json(state.engine.get_cluster(&name).await?))
}

/// `POST /v1/clusters`: 201, or 409 if the name is taken.
pub async fn register(
    State(state): State<AppState>,
    body: Result<Json<ClusterBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let view = state.engine.register_cluster(&body).await?;
    let location = format!("/v1/clusters/{}", view.name);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `PUT /v1/clusters/{name}`: replaces the description (404 if unknown).
pub async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<ClusterBody>, JsonRejection>,
) -> Result<Json<ClusterView>, ApiError> {
    let body = json_body(body)?;
    Ok(Json(state.engine.update_cluster(&name, &body).await?))
}

/// `PUT /v1/clusters/{name}/energy_profile`: the fields given replace the current ones.
pub async fn energy_profile(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<EnergyPatch>, JsonRejection>,
) -> Result<Json<ClusterView>, ApiError> {
    let patch = json_body(body)?;
    Ok(Json(state.engine.set_energy_profile(&name, &patch).await?))
}
