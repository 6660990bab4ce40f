//! `/api/v1/users`: users of the org and their roles (Admin scope).

use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, PageParams, PathId, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use twig_core::service::users;
use twig_core::user::{User, UserInput};
use utoipa::ToSchema;

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// The users, oldest first.
    pub users: Vec<User>,
    /// All users of the org.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// Lists users. Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = UserList), (status = "4XX", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<UserList>, ApiError> {
    let page = q.page()?;
    let listed = users::list(s.store.as_ref(), &auth.key.org_id, page).await?;
    Ok(axum::Json(UserList {
        users: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Creates a user (`email` and `role` required). Requires Admin scope.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserInput, security(("bearer" = [])),
    responses((status = 201, body = User), (status = "4XX", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Json(input): Json<UserInput>,
) -> Result<(StatusCode, axum::Json<User>), ApiError> {
    let user = users::create(s.store.as_ref(), &auth.key.org_id, input).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

/// Gets a user. Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = twig_core::id::UserId, Path, description = "usr_…")),
    security(("bearer" = [])), responses((status = 200, body = User), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(
        users::get(s.store.as_ref(), &auth.key.org_id, &id).await?,
    ))
}

/// Updates a user; every field optional. A lower role narrows the user's keys at once
/// (keys left with no scope are revoked). Requires Admin scope.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", params(("id" = twig_core::id::UserId, Path, description = "usr_…")),
    request_body = UserInput, security(("bearer" = [])),
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
    Json(input): Json<UserInput>,
) -> Result<axum::Json<User>, ApiError> {
    Ok(axum::Json(
        users::update(s.store.as_ref(), &auth.key.org_id, &id, input).await?,
    ))
}

/// Removes a user and revokes the user's keys. Requires Admin scope.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = twig_core::id::UserId, Path, description = "usr_…")),
    security(("bearer" = [])), responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    users::delete(s.store.as_ref(), &auth.key.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
