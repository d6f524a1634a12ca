//! `GET /readyz`, the readiness probe: 200 when the store answers, the plugin directory was
//! probed and the backend answers; 503 otherwise, the body saying which check failed and why.
//!
//! Liveness is `GET /healthz` ([`super::plugins::health`]): 200 whenever the process serves.
//! Both are open (no token), as Kubernetes probes expect.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;
use std::time::Duration;

/// How long the backend may take to answer the probe (Kubernetes' default probe timeout is 1 s).
pub const BACKEND_DEADLINE: Duration = Duration::from_millis(800);

/// Whether the daemon is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    NotReady,
}

/// One check of the readiness probe.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReadinessCheck {
    pub ok: bool,
    /// What was found, or why the check failed.
    pub detail: String,
}

impl ReadinessCheck {
    fn passed(detail: String) -> Self {
        Self { ok: true, detail }
    }

    fn failed(detail: String) -> Self {
        Self { ok: false, detail }
    }
}

/// The answer of `GET /readyz` (200 when `ready`, 503 when not).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    /// The store (SQLite) answers a read.
    pub store: ReadinessCheck,
    /// The plugin directories were scanned and every file probed (the initial scan done).
    pub plugins: ReadinessCheck,
    /// The backend (the Continuum port) lists its clusters within the probe's deadline.
    pub backend: ReadinessCheck,
}

/// `GET /readyz`
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let engine = &state.engine;
    let store = {
        let store = std::sync::Arc::clone(engine.store());
        match tokio::task::spawn_blocking(move || {
            store
                .schema_version()
                .map(|version| (version, store.location().to_owned()))
        })
        .await
        {
            Ok(Ok((version, location))) => {
                ReadinessCheck::passed(format!("schema version {version} at {location}"))
            }
            Ok(Err(error)) => ReadinessCheck::failed(error.to_string()),
            Err(error) => ReadinessCheck::failed(format!("the store check failed: {error}")),
        }
    };
    let status = state.dispatcher.registry().status();
    let plugins = if status.generation > 0 {
        ReadinessCheck::passed(format!(
            "generation {}: {} plugins, {} files refused",
            status.generation,
            status.plugins.len(),
            status.rejected.len()
        ))
    } else {
        ReadinessCheck::failed("the plugin directory has not been probed yet".into())
    };
    let continuum = engine.continuum();
    let backend = match tokio::time::timeout(BACKEND_DEADLINE, continuum.inventory()).await {
        Ok(Ok(clusters)) => ReadinessCheck::passed(format!(
            "{}: {} clusters, {} ready",
            continuum.kind(),
            clusters.len(),
            clusters.iter().filter(|c| c.ready).count()
        )),
        Ok(Err(error)) => ReadinessCheck::failed(format!("{}: {error}", continuum.kind())),
        Err(_) => ReadinessCheck::failed(format!(
            "{}: no answer within {} ms",
            continuum.kind(),
            BACKEND_DEADLINE.as_millis()
        )),
    };
    let ready = store.ok && plugins.ok && backend.ok;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let readiness = Readiness {
        status: if ready {
            ReadyStatus::Ready
        } else {
            ReadyStatus::NotReady
        },
        store,
        plugins,
        backend,
    };
    if !ready {
        tracing::debug!(?readiness, "not ready");
    }
    (code, Json(readiness))
}
