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
    /// `hybrid` (embedding model loaded) or `lexical` (no embedder configured); readiness only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_mode: Option<String>,
    /// Embedding model in use; readiness only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        search_mode: None,
        embedding_model: None,
    })
}

/// Storage, the originals store (and the shared rate limiter, when limits are on) are reachable; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "readiness check failed");
        Error::Unavailable("Storage is not reachable".into())
    })?;
    state.ingestor.ping().await.map_err(|e| {
        tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "readiness check failed");
        Error::Unavailable("The store of uploaded files is not reachable".into())
    })?;
    if state.config.rate_limits.is_some() {
        state.limiter.ping().await.map_err(|e| {
            tracing::warn!(error = %format!("{e:#}"), "readiness check failed");
            Error::Unavailable("The rate limiter is not reachable".into())
        })?;
    }
    let r = state.retriever.status();
    let mode = serde_json::to_value(r.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    Ok(Json(Health {
        status: "ready",
        search_mode: mode,
        embedding_model: r.embedding_model,
    }))
}
