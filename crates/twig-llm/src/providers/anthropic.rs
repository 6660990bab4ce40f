//! Anthropic's Messages API: `POST {base_url}/messages` with `x-api-key` and
//! `anthropic-version` headers, the system prompt as a top-level field and a
//! required `max_tokens`. Streams are SSE events: `message_start` (input usage),
//! `content_block_start/delta/stop` (text), `message_delta` (output usage),
//! `message_stop`, with `ping` and `error` events in between.

use crate::client::{HttpChatModel, Step, WireFormat};
use crate::policy::{CallPolicy, Failure};
use crate::providers::openai::trim;
use eventsource_stream::Event;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use twig_core::llm::{ChatEvent, ChatModel, ChatRequest, ChatResponse, LlmError, Role, Usage};

/// The `anthropic-version` header sent unless configured otherwise.
pub const DEFAULT_VERSION: &str = "2023-06-01";

/// Settings of one Messages API endpoint.
#[derive(Clone)]
pub struct AnthropicSettings {
    /// Base URL up to the version, e.g. `https://api.anthropic.com/v1`.
    pub base_url: String,
    /// The key (`x-api-key`).
    pub api_key: Option<String>,
    /// `anthropic-version` header.
    pub version: String,
    /// `max_tokens` when the request sets none (the API requires one).
    pub default_max_tokens: u32,
}

impl std::fmt::Debug for AnthropicSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("version", &self.version)
            .finish()
    }
}

/// Builds the provider `name` from its settings and call policy.
pub fn anthropic(
    name: &str,
    settings: AnthropicSettings,
    policy: CallPolicy,
) -> Result<Arc<dyn ChatModel>, LlmError> {
    Ok(Arc::new(HttpChatModel::new(
        name,
        AnthropicWire(settings),
        policy,
    )?))
}

/// The Messages API wire format.
pub(crate) struct AnthropicWire(AnthropicSettings);

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u32>,
    #[serde(default)]
    output_tokens: Option<u32>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u32>,
    #[serde(default)]
    cache_read_input_tokens: Option<u32>,
}

impl WireUsage {
    /// Prompt tokens, cached or not (all of them were read by the model).
    fn input(&self) -> Option<u32> {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }
}

#[derive(Deserialize)]
struct MessageBody {
    #[serde(default)]
    content: Vec<Block>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// Usage gathered across `message_start` and `message_delta`.
#[derive(Default)]
pub(crate) struct StreamState {
    input: Option<u32>,
    output: Option<u32>,
}

impl WireFormat for AnthropicWire {
    type State = StreamState;

    fn request(
        &self,
        http: &reqwest::Client,
        req: &ChatRequest,
        stream: bool,
    ) -> reqwest::RequestBuilder {
        let s = &self.0;
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({"role": role, "content": m.content})
            })
            .collect();
        let mut body = json!({
            "model": req.model,
            "max_tokens": req.max_tokens.unwrap_or(s.default_max_tokens),
            "messages": messages,
        });
        if let Some(system) = &req.system {
            body["system"] = json!(system);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if stream {
            body["stream"] = json!(true);
        }
        let mut b = http
            .post(format!("{}/messages", s.base_url.trim_end_matches('/')))
            .header("anthropic-version", &s.version);
        if let Some(key) = &s.api_key {
            b = b.header("x-api-key", key);
        }
        b.json(&body)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, String> {
        let m: MessageBody = serde_json::from_slice(body)
            .map_err(|e| format!("the message is not the documented JSON: {e}"))?;
        let text = m
            .content
            .into_iter()
            .filter(|b| b.kind == "text")
            .filter_map(|b| b.text)
            .collect::<String>();
        Ok(ChatResponse {
            text,
            usage: m.usage.map(|u| Usage {
                input_tokens: u.input().unwrap_or(0),
                output_tokens: u.output_tokens.unwrap_or(0),
            }),
        })
    }

    fn error_message(&self, body: &str) -> String {
        crate::providers::openai::error_message(body)
    }

    fn parse_event(&self, state: &mut StreamState, event: &Event) -> Result<Step, Failure> {
        if event.data.trim().is_empty() {
            return Ok(Step::Events(Vec::new()));
        }
        let v: Value = serde_json::from_str(&event.data).map_err(|e| {
            Failure::protocol(
                format!("malformed stream event ({e}): {}", trim(&event.data)),
                false,
            )
        })?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event.event.as_str());
        let usage = |v: Option<&Value>| -> Option<WireUsage> {
            v.and_then(|u| serde_json::from_value(u.clone()).ok())
        };
        let text = |v: Option<&Value>| -> Vec<ChatEvent> {
            v.and_then(|b| b.get("text"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(|t| vec![ChatEvent::Delta(t.to_owned())])
                .unwrap_or_default()
        };
        Ok(match kind {
            "message_start" => {
                if let Some(u) = usage(v.get("message").and_then(|m| m.get("usage"))) {
                    state.input = u.input().or(state.input);
                    state.output = u.output_tokens.or(state.output);
                }
                Step::Events(Vec::new())
            }
            "content_block_start" => Step::Events(text(v.get("content_block"))),
            "content_block_delta" => {
                let d = v.get("delta");
                match d.and_then(|d| d.get("type")).and_then(Value::as_str) {
                    Some("text_delta") => Step::Events(text(d)),
                    // Tool-input and thinking deltas are not part of the answer text.
                    _ => Step::Events(Vec::new()),
                }
            }
            "message_delta" => {
                if let Some(u) = usage(v.get("usage")) {
                    state.input = u.input().or(state.input);
                    state.output = u.output_tokens.or(state.output);
                }
                Step::Events(Vec::new())
            }
            "message_stop" => {
                let usage = (state.input.is_some() || state.output.is_some()).then(|| Usage {
                    input_tokens: state.input.unwrap_or(0),
                    output_tokens: state.output.unwrap_or(0),
                });
                Step::Done(usage.map(ChatEvent::Usage).into_iter().collect())
            }
            "error" => return Err(stream_error(v.get("error"))),
            // `ping`, `content_block_stop`, and event types added later: nothing to say.
            _ => Step::Events(Vec::new()),
        })
    }
}

/// An `error` event, classified like the HTTP status the same error would carry.
fn stream_error(err: Option<&Value>) -> Failure {
    let kind = err
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("api_error");
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(trim)
        .unwrap_or_else(|| kind.to_owned());
    let status = match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };
    Failure::from_status(status, message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire() -> AnthropicWire {
        AnthropicWire(AnthropicSettings {
            base_url: "http://x/v1".into(),
            api_key: Some("k".into()),
            version: DEFAULT_VERSION.into(),
            default_max_tokens: 100,
        })
    }

    fn ev(event: &str, data: &str) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
            ..Event::default()
        }
    }

    #[test]
    fn event_sequence() {
        let w = wire();
        let mut st = StreamState::default();
        let seq = [
            ev(
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#,
            ),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ev("ping", r#"{"type": "ping"}"#),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
            ),
            ev(
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            ev(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
            ),
        ];
        let mut out = Vec::new();
        for e in &seq {
            match w.parse_event(&mut st, e) {
                Ok(Step::Events(evs)) => out.extend(evs),
                _ => panic!("unexpected"),
            }
        }
        assert_eq!(out, vec![ChatEvent::Delta("Hello".into())]);
        let Ok(Step::Done(end)) =
            w.parse_event(&mut st, &ev("message_stop", r#"{"type":"message_stop"}"#))
        else {
            panic!()
        };
        assert_eq!(
            end,
            vec![ChatEvent::Usage(Usage {
                input_tokens: 25,
                output_tokens: 15
            })]
        );
    }

    #[test]
    fn error_events_are_classified() {
        let w = wire();
        let mut st = StreamState::default();
        let f = w
            .parse_event(
                &mut st,
                &ev(
                    "error",
                    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                ),
            )
            .err()
            .unwrap();
        assert!(f.retry);
        assert!(matches!(f.error, LlmError::Upstream { status: 529, .. }));
        let f = stream_error(Some(
            &json!({"type":"invalid_request_error","message":"bad"}),
        ));
        assert!(!f.retry);
    }

    #[test]
    fn whole_message_with_cache_usage() {
        let r = wire()
            .parse_response(br#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}],"model":"m","stop_reason":"end_turn","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":3}}"#)
            .unwrap();
        assert_eq!(r.text, "Hi there");
        assert_eq!(
            r.usage,
            Some(Usage {
                input_tokens: 15,
                output_tokens: 3
            })
        );
    }
}
