//! Providers against loopback servers speaking the real wire formats.

mod anthropic;
mod openai;
mod policy;
mod registry;
mod server;

use std::sync::Arc;
use std::time::Duration;
use twig_core::llm::{
    ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, LlmError, Role, Usage,
};
use twig_llm::providers::anthropic::{AnthropicSettings, DEFAULT_VERSION};
use twig_llm::providers::openai::{Flavor, OpenAiSettings};
use twig_llm::CallPolicy;

/// Small timeouts and backoffs so the suite is fast.
pub fn fast_policy() -> CallPolicy {
    CallPolicy {
        connect_timeout: Duration::from_millis(500),
        first_byte_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(400),
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        retry_after_max: Duration::from_secs(5),
        breaker_failures: 100,
        breaker_cooldown: Duration::from_millis(200),
        max_in_flight: 16,
    }
}

pub fn openai_model(base: &str, policy: CallPolicy) -> Arc<dyn ChatModel> {
    twig_llm::providers::openai::openai(
        "openai",
        OpenAiSettings {
            base_url: format!("{base}/v1"),
            api_key: Some("sk-test".into()),
            flavor: Flavor::OpenAi,
            max_tokens_field: "max_tokens".into(),
            stream_usage: true,
        },
        policy,
    )
    .unwrap()
}

pub fn anthropic_model(base: &str, policy: CallPolicy) -> Arc<dyn ChatModel> {
    twig_llm::providers::anthropic::anthropic(
        "anthropic",
        AnthropicSettings {
            base_url: format!("{base}/v1"),
            api_key: Some("sk-ant-test".into()),
            version: DEFAULT_VERSION.into(),
            default_max_tokens: 512,
        },
        policy,
    )
    .unwrap()
}

pub fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: Some("Answer from the sources.".into()),
        messages: vec![
            ChatMessage {
                role: Role::User,
                content: "What is Twig?".into(),
            },
            ChatMessage {
                role: Role::Assistant,
                content: "A RAG platform.".into(),
            },
            ChatMessage {
                role: Role::User,
                content: "Is it open?".into(),
            },
        ],
        temperature: Some(0.2),
        max_tokens: Some(300),
    }
}

/// Reads a whole stream: the text, the usage, and the error that ended it.
pub async fn drain(mut s: ChatStream) -> (String, Option<Usage>, Option<LlmError>) {
    use futures::StreamExt;
    let (mut text, mut usage) = (String::new(), None);
    while let Some(ev) = s.next().await {
        match ev {
            Ok(ChatEvent::Delta(d)) => text.push_str(&d),
            Ok(ChatEvent::Usage(u)) => usage = Some(u),
            Err(e) => return (text, usage, Some(e)),
        }
    }
    (text, usage, None)
}
