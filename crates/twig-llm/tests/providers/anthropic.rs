use crate::server::{anthropic_error, anthropic_message, anthropic_sse, End, Reply, Server};
use crate::{anthropic_model, drain, fast_policy, request};
use std::time::Duration;
use twig_core::llm::{LlmError, Usage};

#[tokio::test]
async fn complete_sends_the_messages_shape() {
    let srv = Server::start(vec![Reply::json(200, anthropic_message("Yes.", 30, 2))]).await;
    let m = anthropic_model(&srv.url, fast_policy());
    let r = m.complete(request("claude-sonnet-4-5")).await.unwrap();
    assert_eq!(r.text, "Yes.");
    assert_eq!(
        r.usage,
        Some(Usage {
            input_tokens: 30,
            output_tokens: 2
        })
    );
    let seen = &srv.seen()[0];
    assert_eq!(seen.path_and_query, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], "sk-ant-test");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert!(seen.headers.get("authorization").is_none());
    let b = &seen.body;
    assert_eq!(b["system"], "Answer from the sources.");
    assert_eq!(b["max_tokens"], 300);
    assert!(b.get("stream").is_none());
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "the system prompt is not a message");
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[1]["role"], "assistant");
}

#[tokio::test]
async fn max_tokens_defaults_when_unset() {
    let srv = Server::start(vec![Reply::json(200, anthropic_message("ok", 1, 1))]).await;
    let mut req = request("claude-3-5-haiku-latest");
    req.max_tokens = None;
    req.system = None;
    anthropic_model(&srv.url, fast_policy())
        .complete(req)
        .await
        .unwrap();
    let b = &srv.seen()[0].body;
    assert_eq!(b["max_tokens"], 512);
    assert!(b.get("system").is_none());
}

#[tokio::test]
async fn stream_reads_events_with_ping_and_usage() {
    let srv = Server::start(vec![Reply::sse(
        anthropic_sse(&["Twig ", "is ", "open."], 25, 15, true),
        End::Close,
    )])
    .await;
    let s = anthropic_model(&srv.url, fast_policy())
        .stream(request("claude-sonnet-4-5"))
        .await
        .unwrap();
    let (text, usage, err) = drain(s).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text, "Twig is open.");
    assert_eq!(
        usage,
        Some(Usage {
            input_tokens: 25,
            output_tokens: 15
        })
    );
    assert_eq!(srv.seen()[0].body["stream"], true);
}

#[tokio::test]
async fn overloaded_error_event_before_text_is_retried() {
    let overloaded = format!(
        "event: error\ndata: {}\n\n",
        anthropic_error("overloaded_error", "Overloaded")
    );
    let srv = Server::start(vec![
        Reply::sse(
            vec![anthropic_sse(&[], 5, 0, false)[0].clone(), overloaded],
            End::Close,
        ),
        Reply::sse(anthropic_sse(&["ok"], 5, 1, true), End::Close),
    ])
    .await;
    let s = anthropic_model(&srv.url, fast_policy())
        .stream(request("claude-sonnet-4-5"))
        .await
        .unwrap();
    let (text, _, err) = drain(s).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text, "ok");
    assert_eq!(srv.hits(), 2);
}

#[tokio::test]
async fn error_event_midway_ends_the_stream() {
    let mut chunks = anthropic_sse(&["Hello"], 5, 1, false);
    chunks.truncate(4); // message_start, block start, ping, first delta
    chunks.push(format!(
        "event: error\ndata: {}\n\n",
        anthropic_error("overloaded_error", "Overloaded")
    ));
    let srv = Server::start(vec![Reply::sse(chunks, End::Close)]).await;
    let s = anthropic_model(&srv.url, fast_policy())
        .stream(request("claude-sonnet-4-5"))
        .await
        .unwrap();
    let (text, _, err) = drain(s).await;
    assert_eq!(text, "Hello");
    assert!(
        matches!(err, Some(LlmError::Upstream { status: 529, .. })),
        "{err:?}"
    );
    assert_eq!(srv.hits(), 1, "no retry once text was delivered");
}

#[tokio::test]
async fn rejected_request_keeps_the_api_message() {
    let srv = Server::start(vec![Reply::json(
        400,
        anthropic_error("invalid_request_error", "max_tokens: must be positive"),
    )])
    .await;
    let err = anthropic_model(&srv.url, fast_policy())
        .stream(request("claude-sonnet-4-5"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, LlmError::Rejected { status: 400, ref message } if message == "max_tokens: must be positive"),
        "{err:?}"
    );
    assert_eq!(srv.hits(), 1);
}

#[tokio::test]
async fn overloaded_529_then_success() {
    let srv = Server::start(vec![
        Reply::json(529, anthropic_error("overloaded_error", "Overloaded")),
        Reply::json(200, anthropic_message("fine", 3, 1)),
    ])
    .await;
    let t = std::time::Instant::now();
    let r = anthropic_model(&srv.url, fast_policy())
        .complete(request("claude-sonnet-4-5"))
        .await
        .unwrap();
    assert_eq!(r.text, "fine");
    assert_eq!(srv.hits(), 2);
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn rate_limited_with_retry_after_then_streams() {
    let srv = Server::start(vec![
        Reply::json(
            429,
            anthropic_error(
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
        )
        .with_header("retry-after", "1"),
        Reply::sse(
            anthropic_sse(&["after ", "waiting"], 7, 2, true),
            End::Close,
        ),
    ])
    .await;
    let t = std::time::Instant::now();
    let policy = twig_llm::CallPolicy {
        first_byte_timeout: Duration::from_secs(3),
        ..fast_policy()
    };
    let s = anthropic_model(&srv.url, policy)
        .stream(request("claude-sonnet-4-5"))
        .await
        .unwrap();
    let (text, usage, err) = drain(s).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text, "after waiting");
    assert_eq!(
        usage,
        Some(Usage {
            input_tokens: 7,
            output_tokens: 2
        })
    );
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(srv.hits(), 2);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    use futures::StreamExt;
    let mut chunks = anthropic_sse(&["first"], 5, 1, false);
    chunks.truncate(4);
    let srv = Server::start(vec![Reply::sse(chunks, End::KeepAlive)]).await;
    let policy = twig_llm::CallPolicy {
        idle_timeout: Duration::from_secs(30),
        ..fast_policy()
    };
    let mut s = anthropic_model(&srv.url, policy)
        .stream(request("claude-sonnet-4-5"))
        .await
        .unwrap();
    assert_eq!(
        s.next().await.unwrap().unwrap(),
        twig_core::llm::ChatEvent::Delta("first".into())
    );
    drop(s);
    assert!(srv.wait_closed(Duration::from_secs(3)).await);
}
