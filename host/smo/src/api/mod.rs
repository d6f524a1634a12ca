//! The REST API (axum) under `/v1`: graphs, clusters, decisions, plugins, strategy calls,
//! health, the OpenAPI document, and upstream's `/project/{p}/graphs` and `/alerts`.
//! Errors are JSON objects `{error, detail, field}` with the matching status code.
//!
//! Every route is declared once in [`Routes`], which records (method, path) as it builds the
//! router, so a test can check that the checked-in `openapi.json` lists exactly these routes.
//! `/healthz`, `/readyz` and `/v1/openapi.json` are open; everything else (`/metrics` too) goes
//! through [`auth::require`].

pub mod auth;
pub mod body;
pub mod clusters;
pub mod compat;
pub mod ecosystem;
pub mod error;
pub mod graphs;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod origin;
pub mod plugins;
pub mod views;
pub mod wire;

use crate::engine::lifecycle::Engine;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use smo_plugin_host::Dispatcher;
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub dispatcher: Arc<Dispatcher>,
    pub engine: Arc<Engine>,
    pub auth: Arc<auth::Auth>,
    /// smo's own metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// A router under construction that remembers its routes.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        route: MethodRouter<AppState>,
    ) -> Self {
        self.table.push((method, path));
        self.router = self.router.route(path, route);
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("get", path, get(h))
    }
    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("post", path, post(h))
    }
    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("put", path, put(h))
    }
    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("delete", path, delete(h))
    }
}

/// The routes open to everyone.
fn open_routes() -> Routes {
    Routes::new()
        .get("/healthz", plugins::health)
        .get("/readyz", health::ready)
        .get("/v1/openapi.json", openapi::document)
        .get("/v1/schemas/dependencies", ecosystem::schema)
}

/// The routes behind authentication.
fn protected_routes() -> Routes {
    Routes::new()
        .get("/metrics", metrics::scrape)
        .get("/v1/plugins", plugins::list)
        .post("/v1/plugins/reload", plugins::reload)
        .post("/v1/strategies/{plugin}/{strategy}/place", plugins::place)
        .get("/v1/graphs", graphs::list)
        .post("/v1/graphs", graphs::deploy)
        .get("/v1/graphs/{name}", graphs::get)
        .put("/v1/graphs/{name}", graphs::put)
        .delete("/v1/graphs/{name}", graphs::delete)
        .post("/v1/graphs/{name}/start", graphs::start)
        .post("/v1/graphs/{name}/stop", graphs::stop)
        .post("/v1/graphs/{name}/placement", graphs::replace)
        .get("/v1/graphs/{name}/offload", graphs::offload)
        .post(
            "/v1/graphs/{name}/execute_strategy/{strategy}",
            graphs::execute_strategy,
        )
        .get("/v1/decisions", graphs::decisions)
        .get("/v1/applies", graphs::applies)
        .get("/v1/clusters", clusters::list)
        .post("/v1/clusters", clusters::register)
        .get("/v1/clusters/{name}", clusters::get)
        .put("/v1/clusters/{name}", clusters::update)
        .put(
            "/v1/clusters/{name}/energy_profile",
            clusters::energy_profile,
        )
        .post("/v1/dependencies", ecosystem::register)
        .get("/v1/ecosystem", ecosystem::map)
        .get("/v1/ecosystem/{graph}/{service}", ecosystem::workload)
        .post("/v1/migrate", ecosystem::migrate)
        .get("/project/{project}/graphs", compat::list)
        .post("/project/{project}/graphs", compat::deploy)
        .post("/alerts", compat::alerts)
}

/// Every (method, path) the router serves, in declaration order (lower-case methods, paths
/// in OpenAPI's `{param}` syntax, which is also axum's).
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    let mut table = open_routes().table;
    table.extend(protected_routes().table);
    table
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let protected = protected_routes()
        .router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ));
    open_routes()
        .router
        .merge(protected)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::same_site_when_open,
        ))
        .with_state(state)
}
