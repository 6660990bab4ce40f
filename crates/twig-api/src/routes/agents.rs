//! `/api/v1/agents`.

use crate::auth::{Authed, Read, Write};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, PageParams, PathId, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use twig_core::agent::{Agent, AgentInput};
use twig_core::service::agents;
use utoipa::ToSchema;

/// A page of agents.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    /// The agents, newest first.
    pub agents: Vec<Agent>,
    /// All agents of the org.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// Lists agents. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", params(PageParams), security(("bearer" = [])),
    responses((status = 200, body = AgentList), (status = "4XX", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Authed<Read>,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<AgentList>, ApiError> {
    let page = q.page()?;
    let listed = agents::list(s.store.as_ref(), &auth.key.org_id, page).await?;
    Ok(axum::Json(AgentList {
        agents: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Creates an agent. Requires Write scope. A `model` no configured provider serves is a 400
/// naming the configured models; without `model` the agent gets the deployment's default.
#[utoipa::path(post, path = "/api/v1/agents", tag = "agents", request_body = AgentInput, security(("bearer" = [])),
    responses((status = 201, body = Agent), (status = "4XX", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Authed<Write>,
    Json(input): Json<AgentInput>,
) -> Result<(StatusCode, axum::Json<Agent>), ApiError> {
    let agent =
        agents::create(s.store.as_ref(), s.models.as_ref(), &auth.key.org_id, input).await?;
    Ok((StatusCode::CREATED, axum::Json(agent)))
}

/// Gets an agent. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents", params(("id" = twig_core::id::AgentId, Path, description = "agent_…")),
    security(("bearer" = [])), responses((status = 200, body = Agent), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathId(id): PathId,
) -> Result<axum::Json<Agent>, ApiError> {
    Ok(axum::Json(
        agents::get(s.store.as_ref(), &auth.key.org_id, &id).await?,
    ))
}

/// Updates an agent; every field is optional. Requires Write scope.
#[utoipa::path(put, path = "/api/v1/agents/{id}", tag = "agents", params(("id" = twig_core::id::AgentId, Path, description = "agent_…")),
    request_body = AgentInput, security(("bearer" = [])),
    responses((status = 200, body = Agent), (status = "4XX", body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
    Json(input): Json<AgentInput>,
) -> Result<axum::Json<Agent>, ApiError> {
    Ok(axum::Json(
        agents::update(
            s.store.as_ref(),
            s.models.as_ref(),
            &auth.key.org_id,
            &id,
            input,
        )
        .await?,
    ))
}

/// Deletes an agent. Requires Write scope.
#[utoipa::path(delete, path = "/api/v1/agents/{id}", tag = "agents", params(("id" = twig_core::id::AgentId, Path, description = "agent_…")),
    security(("bearer" = [])), responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    agents::delete(s.store.as_ref(), &auth.key.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
