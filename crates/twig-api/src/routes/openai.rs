//! OpenAI-compatible surface: `POST /v1/chat/completions` and `GET /v1/models[/{id}]`, so code
//! written against the OpenAI client libraries can ask an agent by pointing `base_url` here.
//!
//! `model` names an agent (its `agent_…` id, or its name when unique in the org). The last
//! message is the question; earlier user/assistant messages are the history. The answer comes
//! from the same pipeline as `/query` (recorded as an interaction in a new session), and its
//! session id, interaction id and sources ride along in a `twig` object. Errors on these paths
//! are rendered in OpenAI's shape by the request middleware (see `error::openai_body`).

use crate::auth::{Authed, Execute, Read};
use crate::error::{openai_body, ApiError, CurrentRequestId};
use crate::extract::Json;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;
use twig_answer::{AnswerEvent, Answerer, Caller, QueryRequest};
use twig_core::agent::Agent;
use twig_core::id::{AgentId, OrgId};
use twig_core::interaction::{AnswerMetadata, Source, Turn, TurnRole};
use twig_core::page::Page;
use twig_core::store::Store;
use twig_core::{time, Error};

/// Body of a chat completion; fields OpenAI defines that Twig does not use (`n`, `top_p`,
/// `user`, `tools`, …) are accepted and ignored, as other compatible servers do.
#[derive(Debug, Deserialize)]
pub struct ChatCompletionInput {
    /// The agent: `agent_…` or its unique name.
    pub model: Option<String>,
    /// The conversation; the last message is the question.
    pub messages: Option<Vec<ChatMessageInput>>,
    /// 0 to 2.
    pub temperature: Option<f64>,
    /// Answer length limit (legacy name).
    pub max_tokens: Option<i64>,
    /// Answer length limit (current name; wins over `max_tokens`).
    pub max_completion_tokens: Option<i64>,
    /// Answer as `chat.completion.chunk` server-sent events.
    pub stream: Option<bool>,
    /// `include_usage`: a last chunk with the token usage.
    pub stream_options: Option<StreamOptions>,
}

/// `stream_options` of a request.
#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    /// Send a usage chunk before `[DONE]`.
    pub include_usage: Option<bool>,
}

/// One message of the conversation.
#[derive(Debug, Deserialize)]
pub struct ChatMessageInput {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, or an array of content parts (text parts are used).
    #[serde(default)]
    pub content: Value,
}

fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|p| p["type"] == "text")
                .filter_map(|p| p["text"].as_str())
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// Splits the messages into the question and the earlier turns.
fn conversation(messages: Vec<ChatMessageInput>) -> Result<(String, Vec<Turn>), Error> {
    let last = messages.len().checked_sub(1).ok_or_else(|| {
        Error::invalid_field("messages", "messages must hold at least one message")
    })?;
    let mut history = Vec::new();
    let mut question = None;
    for (i, m) in messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "user" => TurnRole::User,
            "assistant" => TurnRole::Assistant,
            // The agent's own system prompt governs; tool output has no place in a RAG answer.
            "system" | "developer" | "tool" | "function" => {
                if i == last {
                    return Err(last_not_user());
                }
                continue;
            }
            other => {
                return Err(Error::invalid_field(
                    &format!("messages[{i}].role"),
                    format!(
                    "Unknown role {other:?}: expected system, developer, user, assistant or tool"
                ),
                ))
            }
        };
        let text = text_of(&m.content).ok_or_else(|| {
            Error::invalid_field(
                &format!("messages[{i}].content"),
                "content must be a string or an array of text parts",
            )
        })?;
        if i == last {
            if role != TurnRole::User {
                return Err(last_not_user());
            }
            question = Some(text);
        } else {
            history.push(Turn {
                role,
                content: text,
                timestamp: time::now(),
                sources: Vec::new(),
            });
        }
    }
    Ok((question.ok_or_else(last_not_user)?, history))
}

fn last_not_user() -> Error {
    Error::invalid_field(
        "messages",
        "The last message must be the user's question (role \"user\")",
    )
}

/// The agent a `model` names: an `agent_…` id, or a name unique in the org.
async fn resolve_agent(store: &dyn Store, org: &OrgId, model: &str) -> Result<Agent, Error> {
    // Rendered by the middleware as OpenAI's `model_not_found`.
    let not_found = || Error::not_found("Agent", model);
    if model.starts_with("agent_") {
        let id = AgentId::parse(model).map_err(|_| not_found())?;
        return store.get_agent(org, &id).await?.ok_or_else(not_found);
    }
    let mut found: Vec<Agent> = all_agents(store, org)
        .await?
        .into_iter()
        .filter(|a| a.name == model)
        .collect();
    match found.len() {
        0 => Err(not_found()),
        1 => Ok(found.remove(0)),
        n => Err(Error::invalid_field(
            "model",
            format!("{n} agents are named {model:?}; name one by its id (agent_…)"),
        )),
    }
}

async fn all_agents(store: &dyn Store, org: &OrgId) -> Result<Vec<Agent>, Error> {
    let mut out = Vec::new();
    loop {
        let page = Page {
            limit: twig_core::page::MAX_LIMIT,
            offset: out.len() as u64,
        };
        let listed = store.list_agents(org, page).await?;
        let got = listed.items.len();
        out.extend(listed.items);
        if got == 0 || out.len() as u64 >= listed.total {
            return Ok(out);
        }
    }
}

/// The pipeline names `agent_id`/`query`; on this surface they are `model`/`messages`.
fn rename_fields(e: Error) -> Error {
    match e {
        Error::InvalidRequest {
            message,
            mut details,
        } => {
            let renamed = match details.get("field").and_then(Value::as_str) {
                Some("agent_id") => Some("model"),
                Some("query") => Some("messages"),
                Some("max_tokens") => Some("max_completion_tokens"),
                _ => None,
            };
            if let Some(f) = renamed {
                details.insert("field".into(), json!(f));
            }
            Error::InvalidRequest { message, details }
        }
        other => other,
    }
}

/// The `twig` extension object of a completion.
#[derive(Debug, Serialize)]
struct TwigExtension<'a> {
    session_id: &'a str,
    interaction_id: &'a str,
    agent_id: &'a str,
    sources: &'a [Source],
}

fn usage(m: &AnswerMetadata) -> Value {
    json!({
        "prompt_tokens": m.tokens_input,
        "completion_tokens": m.tokens_output,
        "total_tokens": m.tokens_input + m.tokens_output,
    })
}

/// Answers a chat completion through the agent. Requires Execute scope.
pub async fn chat_completions(
    State(s): State<AppState>,
    auth: Authed<Execute>,
    Extension(rid): Extension<CurrentRequestId>,
    Json(input): Json<ChatCompletionInput>,
) -> Result<Response, ApiError> {
    let model = input
        .model
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| Error::invalid_field("model", "model is required: an agent id or name"))?;
    let messages = input
        .messages
        .ok_or_else(|| Error::invalid_field("messages", "messages is required"))?;
    let (question, history) = conversation(messages)?;
    let org = auth.key.org_id.clone();
    let agent = resolve_agent(s.store.as_ref(), &org, &model).await?;
    let caller = Caller {
        org_id: org,
        key_id: Some(auth.key.id.clone()),
    };
    let req = QueryRequest {
        agent_id: Some(agent.id.to_string()),
        query: Some(question),
        session_id: None,
        temperature: input.temperature,
        max_tokens: input.max_completion_tokens.or(input.max_tokens),
    };
    let rx = s
        .answerer
        .start_with_history(caller, req, history)
        .await
        .map_err(rename_fields)?;
    let id = format!("chatcmpl-{}", rid.0.as_str());
    let created = time::now().timestamp();
    let model = agent.id.to_string();
    if !input.stream.unwrap_or(false) {
        let answer = Answerer::collect(rx).await?;
        let m = &answer.metadata;
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": null,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.response, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage(m),
            "twig": TwigExtension {
                session_id: m.session_id.as_str(),
                interaction_id: m.interaction_id.as_str(),
                agent_id: &model,
                sources: &answer.sources,
            },
        });
        return Ok(axum::Json(body).into_response());
    }
    let include_usage = input
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let chunk = move |delta: Value, finish: Option<&str>, extra: Option<(&str, Value)>| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        if let Some((k, v)) = extra {
            c[k] = v;
        }
        c
    };
    let rid = rid.0;
    let agent_id = agent.id.to_string();
    // Events in order: a role chunk, a chunk per token, the finishing chunk with the `twig`
    // object, the usage chunk when asked for, `[DONE]`. A failure midway is an `error` chunk.
    let (tx, out) = tokio::sync::mpsc::channel::<Event>(64);
    let mut rx = rx;
    tokio::spawn(async move {
        let send = |v: Value| {
            let tx = tx.clone();
            async move { tx.send(Event::default().data(v.to_string())).await.is_ok() }
        };
        if !send(chunk(
            json!({"role": "assistant", "content": ""}),
            None,
            None,
        ))
        .await
        {
            return;
        }
        let mut sources = Vec::new();
        while let Some(ev) = rx.recv().await {
            match ev {
                AnswerEvent::Sources(s) => sources = s,
                AnswerEvent::Token(t) => {
                    if !send(chunk(json!({"content": t}), None, None)).await {
                        return;
                    }
                }
                AnswerEvent::Done(m, _) => {
                    let twig = json!(TwigExtension {
                        session_id: m.session_id.as_str(),
                        interaction_id: m.interaction_id.as_str(),
                        agent_id: &agent_id,
                        sources: &sources,
                    });
                    if !send(chunk(json!({}), Some("stop"), Some(("twig", twig)))).await {
                        return;
                    }
                    if include_usage {
                        let mut u = chunk(json!({}), None, Some(("usage", usage(&m))));
                        u["choices"] = json!([]);
                        if !send(u).await {
                            return;
                        }
                    }
                    let _ = tx.send(Event::default().data("[DONE]")).await;
                    return;
                }
                AnswerEvent::Error(e) => {
                    let _ = send(openai_body(&e, &rid)).await;
                    return;
                }
            }
        }
    });
    let events = futures_util::stream::unfold(out, |mut out| async move {
        let ev = out.recv().await?;
        Some((Ok::<Event, Infallible>(ev), out))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn model_object(a: &Agent) -> Value {
    json!({
        "id": a.id.as_str(),
        "object": "model",
        "created": a.created_at.timestamp(),
        "owned_by": a.org_id.as_str(),
        "twig": {"name": a.name, "status": a.status.as_str(), "model": a.model, "rag_strategy": a.rag_strategy.as_str()},
    })
}

/// The org's agents as OpenAI models. Requires Read scope.
pub async fn list_models(
    State(s): State<AppState>,
    auth: Authed<Read>,
) -> Result<axum::Json<Value>, ApiError> {
    let agents = all_agents(s.store.as_ref(), &auth.key.org_id).await?;
    let data: Vec<Value> = agents.iter().map(model_object).collect();
    Ok(axum::Json(json!({"object": "list", "data": data})))
}

/// One agent as an OpenAI model. Requires Read scope.
pub async fn get_model(
    State(s): State<AppState>,
    auth: Authed<Read>,
    Path(model): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let agent = resolve_agent(s.store.as_ref(), &auth.key.org_id, &model).await?;
    Ok(axum::Json(model_object(&agent)))
}

/// The routes of this surface (outside the OpenAPI document: their contract is OpenAI's).
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{model}", get(get_model))
}
