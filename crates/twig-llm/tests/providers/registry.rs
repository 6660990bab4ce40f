//! The registry built from config reaches a real (loopback) provider with the mapped name.

use crate::server::{anthropic_sse, openai_completion, End, Reply, Server};
use crate::{drain, request};
use std::collections::BTreeMap;
use twig_core::llm::{ModelRegistry, ModelRoute, Usage};
use twig_llm::{LlmConfig, ProviderConfig, ProviderKind, Registry};

#[tokio::test]
async fn config_to_call() {
    let oa = Server::start(vec![Reply::json(
        200,
        openai_completion("from ollama", 3, 2),
    )])
    .await;
    let an = Server::start(vec![Reply::sse(
        anthropic_sse(&["from claude"], 4, 2, true),
        End::Close,
    )])
    .await;
    let cfg = LlmConfig {
        default_model: Some("local".into()),
        providers: BTreeMap::from([
            (
                "ollama".into(),
                ProviderConfig {
                    base_url: Some(format!("{}/v1", oa.url)),
                    upstream: BTreeMap::from([("local".into(), "llama3.2:3b".into())]),
                    request_timeout_ms: 2000,
                    ..ProviderConfig::default()
                },
            ),
            (
                "anthropic".into(),
                ProviderConfig {
                    kind: ProviderKind::Anthropic,
                    base_url: Some(format!("{}/v1", an.url)),
                    api_key_env: Some("TEST_ANTHROPIC_KEY".into()),
                    models: vec!["claude-sonnet-4-5".into()],
                    ..ProviderConfig::default()
                },
            ),
        ]),
        prices: BTreeMap::new(),
    };
    let reg = Registry::from_config_with_env(&cfg, |v| {
        (v == "TEST_ANTHROPIC_KEY").then(|| "sk-ant-from-env".to_owned())
    })
    .unwrap();
    assert_eq!(reg.default_model(), "local");

    let Some(ModelRoute::Chat { model, upstream }) = reg.route("local") else {
        panic!("no route")
    };
    let mut req = request(&upstream);
    req.max_tokens = None;
    let r = model.complete(req).await.unwrap();
    assert_eq!(r.text, "from ollama");
    assert_eq!(oa.seen()[0].body["model"], "llama3.2:3b");

    let Some(ModelRoute::Chat { model, upstream }) = reg.route("claude-sonnet-4-5") else {
        panic!("no route")
    };
    let (text, usage, err) = drain(model.stream(request(&upstream)).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text, "from claude");
    assert_eq!(
        usage,
        Some(Usage {
            input_tokens: 4,
            output_tokens: 2
        })
    );
    assert_eq!(an.seen()[0].headers["x-api-key"], "sk-ant-from-env");
    assert_eq!(
        reg.price("claude-sonnet-4-5").unwrap().output_per_mtok,
        15.0
    );
}
