//! Slack's requests to the Slack app: `POST /integrations/slack/events` (Events API) and
//! `POST /integrations/slack/commands` (the `/twig` slash command). Routed only when
//! `[slack_app] enabled`; outside the OpenAPI document, their contract is Slack's.
//!
//! Each handler reads the raw body first (the signature covers its exact bytes), verifies
//! it, and hands it to `twig_slack::inbound`, which records it and queues the answer job:
//! Slack wants an answer within 3 seconds, so nothing slow happens here. A bad signature or
//! a stale timestamp is 401 in the documented error body.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use twig_core::time;
use twig_slack::inbound::{self, EventAck};

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn verify(s: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let verifier = s
        .slack
        .as_ref()
        .ok_or_else(|| twig_core::Error::not_found("Route", "/integrations/slack"))?;
    verifier.verify(
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
        body,
        time::now().timestamp(),
    )?;
    Ok(())
}

/// Events API: answers `url_verification`; queues mentions and direct messages once per
/// `event_id` (Slack's retries get 200 and nothing more).
pub async fn events(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    verify(&s, &headers, &body)?;
    let ack = inbound::take_event(s.store.as_ref(), &body, time::now()).await?;
    if let Some(n) = header(&headers, "x-slack-retry-num") {
        tracing::debug!(retry = n, ?ack, "Slack event retried");
    }
    Ok(match ack {
        EventAck::Challenge(challenge) => {
            axum::Json(serde_json::json!({ "challenge": challenge })).into_response()
        }
        EventAck::Ignored(why) => {
            tracing::debug!(why, "Slack event ignored");
            StatusCode::OK.into_response()
        }
        EventAck::Queued | EventAck::Duplicate => StatusCode::OK.into_response(),
    })
}

/// The `/twig` slash command (form-encoded): `ask` is queued, the rest is usage text.
pub async fn commands(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    verify(&s, &headers, &body)?;
    let reply = inbound::take_command(s.store.as_ref(), &body, time::now()).await?;
    Ok(axum::Json(reply.body()).into_response())
}

/// The routes Slack calls.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/integrations/slack/events", post(events))
        .route("/integrations/slack/commands", post(commands))
}
