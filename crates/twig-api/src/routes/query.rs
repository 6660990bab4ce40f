//! `POST /api/v1/query` (also the legacy `POST /api/chat`): an agent's answer, whole or streamed.

use crate::auth::{Authed, Execute};
use crate::error::{ApiError, CurrentRequestId, ErrorBody};
use crate::extract::Json;
use crate::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use twig_answer::{AnswerEvent, Caller, QueryRequest};
use twig_core::interaction::Answer;
use utoipa::ToSchema;

/// Body of a query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryInput {
    /// Agent to ask (required).
    #[schema(value_type = twig_core::id::AgentId)]
    pub agent_id: Option<String>,
    /// The question (required), at most 8192 bytes of UTF-8.
    #[schema(value_type = String, max_length = 8192, pattern = r"\S", example = "How do I reset my password?")]
    pub query: Option<String>,
    /// Session to continue (`sess_…`); a new one is created when omitted.
    #[schema(value_type = Option<twig_core::id::SessionId>)]
    pub session_id: Option<String>,
    /// Answer as `text/event-stream` (default false).
    pub stream: Option<bool>,
    /// 0 to 2; default: the agent's.
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// 1 to 32768; default: the agent's.
    #[schema(minimum = 1, maximum = 32768)]
    #[serde(default, deserialize_with = "twig_core::validate::opt_integer")]
    pub max_tokens: Option<i64>,
}

/// Asks an agent. Requires Execute scope. Also served at the legacy `POST /api/chat`.
///
/// Only chunks whose `similarity_score` reaches the threshold (`answer.similarity_threshold`,
/// default 0.7) are given to the model; when none does, `response` is the configured
/// no-answer text, `sources` is empty and no model is called. An inactive agent is a 400.
///
/// With `"stream": true` the answer is `text/event-stream`, one JSON `data` line per event:
/// `sources` first (the array of sources), then `token` events (`{"text": "..."}`, to be
/// concatenated), then `done` (the metadata object), or `error` (the documented error body)
/// if the answer fails midway. Closing the connection cancels the model call.
#[utoipa::path(post, path = "/api/v1/query", tag = "query", request_body = QueryInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The answer; with `stream: true`, `text/event-stream` events `sources`, `token`, `done`, `error`",
            content((Answer = "application/json"), (String = "text/event-stream"))),
        (status = "4XX", body = ErrorBody)))]
pub async fn query(
    State(s): State<AppState>,
    auth: Authed<Execute>,
    Extension(rid): Extension<CurrentRequestId>,
    Json(input): Json<QueryInput>,
) -> Result<Response, ApiError> {
    let caller = Caller {
        org_id: auth.key.org_id.clone(),
        key_id: Some(auth.key.id.clone()),
    };
    let req = QueryRequest {
        agent_id: input.agent_id,
        query: input.query,
        session_id: input.session_id,
        temperature: input.temperature,
        max_tokens: input.max_tokens,
    };
    if !input.stream.unwrap_or(false) {
        let answer = s.answerer.answer(caller, req).await?;
        return Ok(axum::Json(answer).into_response());
    }
    let rx = s.answerer.start(caller, req).await?;
    let rid = rid.0;
    // The stream owns the receiver: when the client goes away axum drops it, which cancels generation.
    let events = futures_util::stream::unfold(rx, move |mut rx| {
        let rid = rid.clone();
        async move {
            let ev = rx.recv().await?;
            let event = match ev {
                AnswerEvent::Sources(sources) => json_event("sources", &sources),
                AnswerEvent::Token(text) => {
                    json_event("token", &serde_json::json!({ "text": text }))
                }
                AnswerEvent::Done(metadata, _) => json_event("done", &metadata),
                AnswerEvent::Error(e) => json_event("error", &ErrorBody::of(&e, &rid)),
            };
            Some((Ok::<Event, Infallible>(event), rx))
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn json_event<T: serde::Serialize>(name: &str, data: &T) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_else(|_| "null".into()))
}
