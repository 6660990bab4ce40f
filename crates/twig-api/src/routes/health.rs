//! Liveness and readiness probes (no auth).

use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use twig_core::Error;
use utoipa::ToSchema;

/// Probe answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Storage is reachable; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "readiness check failed");
        Error::Unavailable("Storage is not reachable".into())
    })?;
    Ok(Json(Health { status: "ready" }))
}
