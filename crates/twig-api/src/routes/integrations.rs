//! `/api/v1/integrations/slack`: which Slack workspace the org connected, the agent answering
//! there, where, and whether answers cite (Admin scope). Twig's extension of the reference.

use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::AppState;
use axum::extract::State;
use twig_core::slack::{SlackSettings, SlackSettingsInput};
use twig_slack::service;

/// The org's Slack app settings (404 until they are first put). Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/integrations/slack", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = SlackSettings), (status = "4XX", body = ErrorBody)))]
pub async fn get_slack(
    State(s): State<AppState>,
    auth: Authed<Admin>,
) -> Result<axum::Json<SlackSettings>, ApiError> {
    Ok(axum::Json(
        service::get(s.store.as_ref(), &auth.key.org_id).await?,
    ))
}

/// Connects the org's Slack workspace, or replaces its settings: `team_id` (one org per workspace), the answering `default_agent_id` (an agent of the org), `allowed_channel_ids` (empty: every conversation) and `show_citations` (default true). Requires Admin scope.
#[utoipa::path(put, path = "/api/v1/integrations/slack", tag = "integrations", request_body = SlackSettingsInput,
    security(("bearer" = [])), responses((status = 200, body = SlackSettings), (status = "4XX", body = ErrorBody)))]
pub async fn put_slack(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Json(input): Json<SlackSettingsInput>,
) -> Result<axum::Json<SlackSettings>, ApiError> {
    Ok(axum::Json(
        service::put(s.store.as_ref(), &auth.key.org_id, input).await?,
    ))
}
