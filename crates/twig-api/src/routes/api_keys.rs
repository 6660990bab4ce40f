//! `/api/v1/api-keys`: key management (Admin scope).

use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, PageParams, PathId, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use twig_core::apikey::ApiKey;
use twig_core::service::keys::{self, KeyInput, KeyUpdate};
use utoipa::ToSchema;

/// A page of keys (never secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Keys that are not revoked, newest first.
    pub api_keys: Vec<ApiKey>,
    /// All such keys.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// A newly created key, with its secret: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The key record.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret (`twigsk_live_…`); store it now, it cannot be shown again.
    pub secret: String,
}

/// Lists the org's active keys. Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList), (status = "4XX", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<ApiKeyList>, ApiError> {
    let page = q.page()?;
    let listed = keys::list(s.store.as_ref(), &auth.key.org_id, page).await?;
    Ok(axum::Json(ApiKeyList {
        api_keys: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Creates a key; the secret is in this response only. Requires Admin scope.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = KeyInput, security(("bearer" = [])),
    responses((status = 201, body = ApiKeyCreated), (status = "4XX", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Json(input): Json<KeyInput>,
) -> Result<(StatusCode, axum::Json<ApiKeyCreated>), ApiError> {
    let (key, secret) = keys::create(
        s.store.as_ref(),
        &auth.key.org_id,
        input,
        s.config.rate_limits.as_ref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiKeyCreated {
            key,
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Gets an active key. Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = twig_core::id::KeyId, Path, description = "key_…")),
    security(("bearer" = [])), responses((status = 200, body = ApiKey), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<axum::Json<ApiKey>, ApiError> {
    Ok(axum::Json(
        keys::get(s.store.as_ref(), &auth.key.org_id, &id).await?,
    ))
}

/// Renames a key or changes its rate-limit overrides (effective on its next request).
/// Requires Admin scope.
#[utoipa::path(put, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = twig_core::id::KeyId, Path, description = "key_…")),
    request_body = KeyUpdate, security(("bearer" = [])),
    responses((status = 200, body = ApiKey), (status = "4XX", body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
    Json(input): Json<KeyUpdate>,
) -> Result<axum::Json<ApiKey>, ApiError> {
    Ok(axum::Json(
        keys::update(
            s.store.as_ref(),
            &auth.key.org_id,
            &id,
            input,
            s.config.rate_limits.as_ref(),
        )
        .await?,
    ))
}

/// Revokes a key at once. Requires Admin scope.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = twig_core::id::KeyId, Path, description = "key_…")),
    security(("bearer" = [])), responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn revoke(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    keys::revoke(s.store.as_ref(), Some(&auth.key.org_id), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
