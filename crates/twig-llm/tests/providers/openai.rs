use crate::server::{openai_completion, openai_error, openai_sse, End, Reply, Server};
use crate::{drain, fast_policy, openai_model, request};
use twig_core::llm::{LlmError, Usage};
use twig_llm::providers::openai::{openai, Flavor, OpenAiSettings};

#[tokio::test]
async fn complete_sends_the_chat_completions_shape_and_reads_usage() {
    let srv = Server::start(vec![Reply::json(
        200,
        openai_completion("Yes, it is.", 42, 5),
    )])
    .await;
    let m = openai_model(&srv.url, fast_policy());
    let r = m.complete(request("gpt-4o")).await.unwrap();
    assert_eq!(r.text, "Yes, it is.");
    assert_eq!(
        r.usage,
        Some(Usage {
            input_tokens: 42,
            output_tokens: 5
        })
    );
    let seen = &srv.seen()[0];
    assert_eq!(seen.path_and_query, "/v1/chat/completions");
    assert_eq!(seen.headers["authorization"], "Bearer sk-test");
    let b = &seen.body;
    assert_eq!(b["model"], "gpt-4o");
    assert_eq!(b["stream"], false);
    assert_eq!(b["max_tokens"], 300);
    assert_eq!(b["temperature"], 0.2);
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[0]["content"], "Answer from the sources.");
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(msgs[3]["content"], "Is it open?");
}

#[tokio::test]
async fn stream_yields_deltas_then_usage() {
    let srv = Server::start(vec![Reply::sse(
        openai_sse(&["Yes", ", it", " is."], Some((40, 3)), true),
        End::Close,
    )])
    .await;
    let m = openai_model(&srv.url, fast_policy());
    let (text, usage, err) = drain(m.stream(request("gpt-4o")).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text, "Yes, it is.");
    assert_eq!(
        usage,
        Some(Usage {
            input_tokens: 40,
            output_tokens: 3
        })
    );
    let b = &srv.seen()[0].body;
    assert_eq!(b["stream"], true);
    assert_eq!(b["stream_options"]["include_usage"], true);
    assert_eq!(srv.seen()[0].headers["accept"], "text/event-stream");
}

#[tokio::test]
async fn azure_uses_the_deployment_url_and_api_key_header() {
    let srv = Server::start(vec![Reply::json(200, openai_completion("ok", 1, 1))]).await;
    let m = openai(
        "azure",
        OpenAiSettings {
            base_url: srv.url.clone(),
            api_key: Some("az-key".into()),
            flavor: Flavor::Azure {
                api_version: "2024-10-21".into(),
            },
            max_tokens_field: "max_completion_tokens".into(),
            stream_usage: false,
        },
        fast_policy(),
    )
    .unwrap();
    m.complete(request("my-gpt4o")).await.unwrap();
    srv.set_replies(vec![Reply::sse(
        openai_sse(&["ok"], None, true),
        End::Close,
    )]);
    let (text, usage, _) = drain(m.stream(request("my-gpt4o")).await.unwrap()).await;
    assert_eq!(
        (text.as_str(), usage),
        ("ok", None),
        "no usage asked, none given"
    );
    assert!(srv.seen()[1].body.get("stream_options").is_none());
    let seen = &srv.seen()[0];
    assert_eq!(
        seen.path_and_query,
        "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(seen.headers["api-key"], "az-key");
    assert!(seen.headers.get("authorization").is_none());
    assert_eq!(seen.body["max_completion_tokens"], 300);
    assert!(seen.body.get("max_tokens").is_none());
}

#[tokio::test]
async fn no_key_sends_no_authorization() {
    // Ollama, llama.cpp and LM Studio run without keys.
    let srv = Server::start(vec![Reply::json(200, openai_completion("ok", 1, 1))]).await;
    let m = openai(
        "ollama",
        OpenAiSettings {
            base_url: format!("{}/v1/", srv.url),
            api_key: None,
            flavor: Flavor::OpenAi,
            max_tokens_field: "max_tokens".into(),
            stream_usage: true,
        },
        fast_policy(),
    )
    .unwrap();
    m.complete(request("llama3.2")).await.unwrap();
    assert!(srv.seen()[0].headers.get("authorization").is_none());
    assert_eq!(srv.seen()[0].path_and_query, "/v1/chat/completions");
}

#[tokio::test]
async fn error_body_message_reaches_the_caller() {
    let srv = Server::start(vec![Reply::json(
        401,
        openai_error(
            "Incorrect API key provided: sk-test.",
            "invalid_request_error",
        ),
    )])
    .await;
    let err = openai_model(&srv.url, fast_policy())
        .complete(request("gpt-4o"))
        .await
        .unwrap_err();
    match err {
        LlmError::Rejected { status, message } => {
            assert_eq!(status, 401);
            assert_eq!(message, "Incorrect API key provided: sk-test.");
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(srv.hits(), 1, "401 is never retried");
}

#[tokio::test]
async fn malformed_answers_are_protocol_errors() {
    let srv = Server::start(vec![Reply::json(200, serde_json::json!({"nope": true}))]).await;
    let err = openai_model(&srv.url, fast_policy())
        .complete(request("gpt-4o"))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Protocol(_)), "{err:?}");

    let mut chunks = openai_sse(&["Hel"], None, false);
    chunks.push("data: {\"choices\": [oops\n\n".into());
    let srv = Server::start(vec![Reply::sse(chunks, End::Close)]).await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    let (text, _, err) = drain(s).await;
    assert_eq!(text, "Hel");
    assert!(
        matches!(err, Some(LlmError::Protocol(ref m)) if m.contains("malformed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn error_chunk_inside_a_stream_ends_it() {
    let mut chunks = openai_sse(&["partial"], None, false);
    chunks.push(format!(
        "data: {}\n\n",
        openai_error("The server had an error", "server_error")
    ));
    let srv = Server::start(vec![Reply::sse(chunks, End::Close)]).await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    let (text, _, err) = drain(s).await;
    assert_eq!(text, "partial");
    assert!(
        matches!(err, Some(LlmError::Upstream { ref message, .. }) if message.contains("server had an error")),
        "{err:?}"
    );
}
