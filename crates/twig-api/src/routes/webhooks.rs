//! `/api/v1/webhooks`: endpoints, secrets, test pings and deliveries (Admin scope).

use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, PageParams, PathId, PathIds, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use twig_core::webhook::{Delivery, Webhook, WebhookInput, WebhookWithSecret};
use twig_webhooks::service as hooks;
use utoipa::ToSchema;

/// A page of webhook endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Endpoints, newest first.
    pub webhooks: Vec<Webhook>,
    /// All endpoints of the org.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// A page of deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Deliveries, newest first, each with its attempts.
    pub deliveries: Vec<Delivery>,
    /// All deliveries of the endpoint.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// Lists webhook endpoints. Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = "4XX", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<WebhookList>, ApiError> {
    let page = q.page()?;
    let listed = hooks::list(s.store.as_ref(), &auth.key.org_id, page).await?;
    Ok(axum::Json(WebhookList {
        webhooks: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Registers an endpoint; the answer carries its signing secret, shown only this once. An organisation has at most 50 endpoints (one more is `400 invalid_request`). Requires Admin scope.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookInput, security(("bearer" = [])),
    responses((status = 201, body = WebhookWithSecret), (status = "4XX", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Json(input): Json<WebhookInput>,
) -> Result<(StatusCode, axum::Json<WebhookWithSecret>), ApiError> {
    let created = hooks::create(
        s.store.as_ref(),
        &auth.key.org_id,
        input,
        &s.config.webhooks,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Gets an endpoint (without its secret). Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = twig_core::id::WebhookId, Path, description = "wh_…")),
    security(("bearer" = [])), responses((status = 200, body = Webhook), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<axum::Json<Webhook>, ApiError> {
    Ok(axum::Json(
        hooks::get(s.store.as_ref(), &auth.key.org_id, &id).await?,
    ))
}

/// Changes an endpoint; every field is optional; `enabled: true` re-enables a disabled one. Requires Admin scope.
#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = twig_core::id::WebhookId, Path, description = "wh_…")),
    request_body = WebhookInput, security(("bearer" = [])),
    responses((status = 200, body = Webhook), (status = "4XX", body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
    Json(input): Json<WebhookInput>,
) -> Result<axum::Json<Webhook>, ApiError> {
    Ok(axum::Json(
        hooks::update(
            s.store.as_ref(),
            &auth.key.org_id,
            &id,
            input,
            &s.config.webhooks,
        )
        .await?,
    ))
}

/// Deletes an endpoint and its deliveries. Requires Admin scope.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = twig_core::id::WebhookId, Path, description = "wh_…")),
    security(("bearer" = [])), responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    hooks::delete(s.store.as_ref(), &auth.key.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the signing secret; the old one keeps signing (a second `v1`) for the grace period. Requires Admin scope.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = twig_core::id::WebhookId, Path, description = "wh_…")), security(("bearer" = [])),
    responses((status = 200, body = WebhookWithSecret), (status = "4XX", body = ErrorBody)))]
pub async fn rotate_secret(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<axum::Json<WebhookWithSecret>, ApiError> {
    Ok(axum::Json(
        hooks::rotate_secret(s.store.as_ref(), &auth.key.org_id, &id, &s.config.webhooks).await?,
    ))
}

/// Queues a `ping` event to the endpoint; poll its deliveries for the result. Requires Admin scope.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = twig_core::id::WebhookId, Path, description = "wh_…")), security(("bearer" = [])),
    responses((status = 202, body = Delivery), (status = "4XX", body = ErrorBody)))]
pub async fn test(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<(StatusCode, axum::Json<Delivery>), ApiError> {
    let d = hooks::test(s.store.as_ref(), &auth.key.org_id, &id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(d)))
}

/// Lists an endpoint's deliveries with their attempts (status code, latency, start of the body). Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = twig_core::id::WebhookId, Path, description = "wh_…"), PageParams), security(("bearer" = [])),
    responses((status = 200, body = DeliveryList), (status = "4XX", body = ErrorBody)))]
pub async fn deliveries(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<DeliveryList>, ApiError> {
    let page = q.page()?;
    let listed = hooks::deliveries(s.store.as_ref(), &auth.key.org_id, &id, page).await?;
    Ok(axum::Json(DeliveryList {
        deliveries: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Sends a delivery again, with the same event id and body. Requires Admin scope.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("id" = twig_core::id::WebhookId, Path, description = "wh_…"), ("delivery_id" = twig_core::id::DeliveryId, Path, description = "whd_…")),
    security(("bearer" = [])), responses((status = 202, body = Delivery), (status = "4XX", body = ErrorBody)))]
pub async fn redeliver(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathIds(id, delivery): PathIds,
) -> Result<(StatusCode, axum::Json<Delivery>), ApiError> {
    let d = hooks::redeliver(s.store.as_ref(), &auth.key.org_id, &id, &delivery).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(d)))
}
