//! `/api/v1/interactions`: query history and feedback.

use crate::auth::{Authed, Feedback, Read};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, PathId, Query};
use crate::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use twig_core::interaction::Interaction;
use twig_core::page::Page;
use twig_core::service::interactions::{self, ListParams};
use utoipa::{IntoParams, ToSchema};

/// Filters and paging of the interaction list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InteractionQuery {
    /// Only this agent's.
    #[param(value_type = Option<twig_core::id::AgentId>)]
    pub agent_id: Option<String>,
    /// From this day (YYYY-MM-DD, UTC), inclusive; not after `end_date`.
    #[param(value_type = Option<String>, format = Date)]
    pub start_date: Option<String>,
    /// To this day (YYYY-MM-DD, UTC), inclusive.
    #[param(value_type = Option<String>, format = Date)]
    pub end_date: Option<String>,
    /// `positive`, `negative`, or `null` for none given.
    #[param(value_type = Option<FeedbackFilterName>)]
    pub feedback: Option<String>,
    /// Max results (default 50, max 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The `feedback` filter's values (`null`: no feedback given).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
#[schema(rename_all = "lowercase")]
pub enum FeedbackFilterName {
    /// Positive feedback.
    Positive,
    /// Negative feedback.
    Negative,
    /// No feedback given.
    Null,
}

/// A page of interactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct InteractionList {
    /// Newest first.
    pub interactions: Vec<Interaction>,
    /// All matching.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// Lists query history. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/interactions", tag = "interactions", params(InteractionQuery),
    security(("bearer" = [])), responses((status = 200, body = InteractionList), (status = "4XX", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Authed<Read>,
    Query(q): Query<InteractionQuery>,
) -> Result<axum::Json<InteractionList>, ApiError> {
    let page = Page::new(q.limit, q.offset)?;
    let params = ListParams {
        agent_id: q.agent_id,
        start_date: q.start_date,
        end_date: q.end_date,
        feedback: q.feedback,
    };
    let listed = interactions::list(s.store.as_ref(), &auth.key.org_id, &params, page).await?;
    Ok(axum::Json(InteractionList {
        interactions: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Gets one interaction. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/interactions/{id}", tag = "interactions",
    params(("id" = twig_core::id::InteractionId, Path, description = "int_…")), security(("bearer" = [])),
    responses((status = 200, body = Interaction), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathId(id): PathId,
) -> Result<axum::Json<Interaction>, ApiError> {
    Ok(axum::Json(
        interactions::get(s.store.as_ref(), &auth.key.org_id, &id).await?,
    ))
}

/// Body of a feedback request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    /// `positive` or `negative` (required).
    #[schema(value_type = twig_core::interaction::Feedback)]
    pub feedback: Option<String>,
    /// Free text, at most 2000 characters.
    #[schema(max_length = 2000, example = "Exactly what I needed")]
    pub comment: Option<String>,
}

/// Sets feedback on an answer; a later call replaces it. Requires Execute scope, and a key
/// whose user's role may give feedback (not `readonly`).
#[utoipa::path(post, path = "/api/v1/interactions/{id}/feedback", tag = "interactions",
    params(("id" = twig_core::id::InteractionId, Path, description = "int_…")), request_body = FeedbackInput, security(("bearer" = [])),
    responses((status = 200, body = Interaction), (status = "4XX", body = ErrorBody)))]
pub async fn feedback(
    State(s): State<AppState>,
    auth: Authed<Feedback>,
    PathId(id): PathId,
    Json(input): Json<FeedbackInput>,
) -> Result<axum::Json<Interaction>, ApiError> {
    Ok(axum::Json(
        interactions::feedback(
            s.store.as_ref(),
            &auth.key.org_id,
            &id,
            input.feedback.as_deref(),
            input.comment.as_deref(),
        )
        .await?,
    ))
}
