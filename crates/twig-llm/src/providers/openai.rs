//! OpenAI Chat Completions, and every server that speaks it: OpenAI, Azure OpenAI,
//! Ollama, vLLM, llama.cpp's server, LM Studio.
//!
//! `POST {base_url}/chat/completions` with a bearer key; Azure instead takes
//! `POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=V`
//! with an `api-key` header, the deployment being the upstream model name.
//! Streams are SSE `data:` chunks ending with `data: [DONE]`; with
//! `stream_options.include_usage` the last chunk carries `usage` and no choices.

use crate::client::{HttpChatModel, Step, WireFormat};
use crate::policy::{CallPolicy, Failure};
use eventsource_stream::Event;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use twig_core::llm::{ChatEvent, ChatModel, ChatRequest, ChatResponse, LlmError, Role, Usage};

/// Which dialect of the API to speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// OpenAI and the compatible servers: bearer key, `{base_url}/chat/completions`.
    OpenAi,
    /// Azure OpenAI: `api-key` header, deployment in the path, `api-version` query.
    Azure {
        /// The `api-version` query parameter.
        api_version: String,
    },
}

/// Settings of one OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Base URL: up to `/v1` for OpenAI-style servers, the resource URL for Azure.
    pub base_url: String,
    /// Key, if the server needs one.
    pub api_key: Option<String>,
    /// Dialect.
    pub flavor: Flavor,
    /// Body field of the output limit: `max_tokens` (most servers) or
    /// `max_completion_tokens` (OpenAI's reasoning models).
    pub max_tokens_field: String,
    /// Ask for usage in streams (`stream_options.include_usage`); off for servers that
    /// reject the field (Azure before api-version 2024-09-01-preview).
    pub stream_usage: bool,
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("flavor", &self.flavor)
            .finish()
    }
}

/// Builds the provider `name` from its settings and call policy.
pub fn openai(
    name: &str,
    settings: OpenAiSettings,
    policy: CallPolicy,
) -> Result<Arc<dyn ChatModel>, LlmError> {
    Ok(Arc::new(HttpChatModel::new(
        name,
        OpenAiWire(settings),
        policy,
    )?))
}

/// The Chat Completions wire format.
pub(crate) struct OpenAiWire(OpenAiSettings);

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
}

/// Usage seen so far; some servers repeat it on every chunk, so it is sent once, at the end.
#[derive(Default)]
pub(crate) struct StreamState {
    usage: Option<Usage>,
}

impl WireFormat for OpenAiWire {
    type State = StreamState;

    fn request(
        &self,
        http: &reqwest::Client,
        req: &ChatRequest,
        stream: bool,
    ) -> reqwest::RequestBuilder {
        let s = &self.0;
        let base = s.base_url.trim_end_matches('/');
        let mut messages = Vec::with_capacity(req.messages.len() + 1);
        if let Some(system) = &req.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        for m in &req.messages {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            messages.push(json!({"role": role, "content": m.content}));
        }
        let mut body = json!({"model": req.model, "messages": messages, "stream": stream});
        if stream && s.stream_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = req.max_tokens {
            body[s.max_tokens_field.as_str()] = json!(n);
        }
        let builder = match &s.flavor {
            Flavor::OpenAi => {
                let b = http.post(format!("{base}/chat/completions"));
                match &s.api_key {
                    Some(key) => b.bearer_auth(key),
                    None => b,
                }
            }
            Flavor::Azure { api_version } => {
                let b = http
                    .post(azure_url(base, &req.model))
                    .query(&[("api-version", api_version)]);
                match &s.api_key {
                    Some(key) => b.header("api-key", key),
                    None => b,
                }
            }
        };
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        builder.header(reqwest::header::ACCEPT, accept).json(&body)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, String> {
        let c: Completion = serde_json::from_slice(body)
            .map_err(|e| format!("the chat completion is not the documented JSON: {e}"))?;
        let choice = c
            .choices
            .into_iter()
            .next()
            .ok_or("the chat completion has no choices")?;
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            usage: c.usage.map(Usage::from),
        })
    }

    fn error_message(&self, body: &str) -> String {
        error_message(body)
    }

    fn parse_event(&self, state: &mut StreamState, event: &Event) -> Result<Step, Failure> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Step::Done(
                state
                    .usage
                    .take()
                    .map(ChatEvent::Usage)
                    .into_iter()
                    .collect(),
            ));
        }
        if data.is_empty() {
            return Ok(Step::Events(Vec::new()));
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            Failure::protocol(
                format!("malformed stream chunk ({e}): {}", trim(data)),
                false,
            )
        })?;
        if let Some(err) = chunk.error {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| trim(&err.to_string()));
            return Err(Failure::from_status(500, message, None));
        }
        if let Some(u) = chunk.usage {
            state.usage = Some(u.into());
        }
        Ok(Step::Events(
            chunk
                .choices
                .into_iter()
                .filter_map(|c| c.delta?.content)
                .filter(|t| !t.is_empty())
                .map(ChatEvent::Delta)
                .collect(),
        ))
    }
}

/// `{base}/openai/deployments/{deployment}/chat/completions`, the deployment name
/// percent-encoded as one path segment.
fn azure_url(base: &str, deployment: &str) -> String {
    match reqwest::Url::parse(base) {
        Ok(mut url) if !url.cannot_be_a_base() => {
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend([
                    "openai",
                    "deployments",
                    deployment,
                    "chat",
                    "completions",
                ]);
            }
            url.to_string()
        }
        // The registry validated the URL; this only keeps the builder infallible.
        _ => format!("{base}/openai/deployments/{deployment}/chat/completions"),
    }
}

/// `{"error": {"message": ...}}` (OpenAI, Azure, vLLM), `{"error": "..."}` (Ollama),
/// or the body itself, trimmed.
pub(crate) fn error_message(body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let msg = v.as_ref().and_then(|v| {
        let e = v.get("error")?;
        e.get("message")
            .and_then(Value::as_str)
            .or_else(|| e.as_str())
            .map(str::to_owned)
    });
    trim(&msg.unwrap_or_else(|| body.to_owned()))
}

/// At most 500 characters of a provider's text, for error messages.
pub(crate) fn trim(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(500) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire() -> OpenAiWire {
        OpenAiWire(OpenAiSettings {
            base_url: "http://x/v1".into(),
            api_key: None,
            flavor: Flavor::OpenAi,
            max_tokens_field: "max_tokens".into(),
            stream_usage: true,
        })
    }

    fn ev(data: &str) -> Event {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    #[test]
    fn chunks_deltas_usage_and_done() {
        let w = wire();
        let mut st = StreamState::default();
        let Ok(Step::Events(e)) = w.parse_event(
            &mut st,
            &ev(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#),
        ) else {
            panic!()
        };
        assert!(e.is_empty());
        let Ok(Step::Events(e)) = w.parse_event(
            &mut st,
            &ev(r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}"#),
        ) else {
            panic!()
        };
        assert_eq!(e, vec![ChatEvent::Delta("Hi".into())]);
        let Ok(Step::Events(e)) = w.parse_event(
            &mut st,
            &ev(r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#),
        ) else {
            panic!()
        };
        assert!(e.is_empty());
        let Ok(Step::Done(e)) = w.parse_event(&mut st, &ev("[DONE]")) else {
            panic!()
        };
        assert_eq!(
            e,
            vec![ChatEvent::Usage(Usage {
                input_tokens: 9,
                output_tokens: 2
            })]
        );
        assert!(w.parse_event(&mut st, &ev("{not json")).is_err());
        let err = w
            .parse_event(&mut st, &ev(r#"{"error":{"message":"boom"}}"#))
            .err()
            .unwrap();
        assert!(err.error.to_string().contains("boom"));
    }

    #[test]
    fn azure_urls() {
        assert_eq!(
            azure_url("https://r.openai.azure.com", "gpt 4o/x"),
            "https://r.openai.azure.com/openai/deployments/gpt%204o%2Fx/chat/completions"
        );
        assert_eq!(
            azure_url("https://proxy.example/azure", "d"),
            "https://proxy.example/azure/openai/deployments/d/chat/completions"
        );
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(r#"{"error":{"message":"Invalid key","type":"invalid_request_error"}}"#),
            "Invalid key"
        );
        assert_eq!(
            error_message(r#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(error_message(" Bad Gateway \n"), "Bad Gateway");
        assert_eq!(trim(&"é".repeat(600)).chars().count(), 501);
    }
}
