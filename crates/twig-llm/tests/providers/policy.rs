//! Timeouts, retries, the circuit breaker and cancellation (OpenAI wire format;
//! the loop is shared by every provider).

use crate::server::{openai_completion, openai_error, openai_sse, End, Reply, Server};
use crate::{drain, fast_policy, openai_model, request};
use futures::StreamExt;
use std::time::{Duration, Instant};
use twig_core::llm::{ChatEvent, LlmError};
use twig_llm::CallPolicy;

fn rate_limited() -> Reply {
    Reply::json(429, openai_error("Rate limit reached", "requests"))
}

fn server_error() -> Reply {
    Reply::json(500, openai_error("The server had an error", "server_error"))
}

#[tokio::test]
async fn honours_retry_after_then_succeeds() {
    let srv = Server::start(vec![
        rate_limited().with_header("retry-after", "1"),
        Reply::json(200, openai_completion("ok", 1, 1)),
    ])
    .await;
    let t = Instant::now();
    let r = openai_model(&srv.url, fast_policy())
        .complete(request("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(r.text, "ok");
    assert_eq!(srv.hits(), 2);
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn stream_429_then_success() {
    let srv = Server::start(vec![
        rate_limited().with_header("retry-after-ms", "30"),
        Reply::sse(openai_sse(&["ok"], Some((1, 1)), true), End::Close),
    ])
    .await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(drain(s).await.0, "ok");
    assert_eq!(srv.hits(), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_limit_fails_at_once() {
    let srv = Server::start(vec![rate_limited().with_header("retry-after", "3600")]).await;
    let err = openai_model(&srv.url, fast_policy())
        .complete(request("gpt-4o"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3600)),
        "{err:?}"
    );
    assert_eq!(srv.hits(), 1);
}

#[tokio::test]
async fn rate_limited_forever_gives_up() {
    let srv = Server::start(vec![rate_limited()]).await;
    let err = openai_model(&srv.url, fast_policy())
        .complete(request("gpt-4o"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::RateLimited { retry_after: None }),
        "{err:?}"
    );
    assert_eq!(srv.hits(), 3, "first attempt and two retries");
}

#[tokio::test]
async fn server_error_then_success() {
    let srv = Server::start(vec![
        server_error(),
        Reply::sse(openai_sse(&["fine"], None, true), End::Close),
    ])
    .await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(drain(s).await.0, "fine");
    assert_eq!(srv.hits(), 2);
}

#[tokio::test]
async fn server_error_forever_gives_up() {
    let srv = Server::start(vec![server_error()]).await;
    let m = openai_model(&srv.url, fast_policy());
    let err = m.complete(request("gpt-4o")).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Upstream { status: 500, ref message } if message == "The server had an error"),
        "{err:?}"
    );
    assert_eq!(srv.hits(), 3);
    let err = m.stream(request("gpt-4o")).await.err().unwrap();
    assert!(
        matches!(err, LlmError::Upstream { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(srv.hits(), 6);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400, 404, 422] {
        let srv = Server::start(vec![Reply::json(
            status,
            openai_error("bad", "invalid_request_error"),
        )])
        .await;
        let m = openai_model(&srv.url, fast_policy());
        let err = m.complete(request("gpt-4o")).await.unwrap_err();
        assert!(
            matches!(err, LlmError::Rejected { status: s, .. } if s == status),
            "{err:?}"
        );
        let err = m.stream(request("gpt-4o")).await.err().unwrap();
        assert!(matches!(err, LlmError::Rejected { .. }), "{err:?}");
        assert_eq!(srv.hits(), 2, "one attempt per call");
    }
}

#[tokio::test]
async fn slow_answers_time_out() {
    let slow = Reply::Delayed(
        Duration::from_secs(5),
        Box::new(Reply::json(200, openai_completion("late", 1, 1))),
    );
    let srv = Server::start(vec![slow]).await;
    let m = openai_model(&srv.url, fast_policy());
    let t = Instant::now();
    let err = m.complete(request("gpt-4o")).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout), "{err:?}");
    let err = m.stream(request("gpt-4o")).await.err().unwrap();
    assert!(matches!(err, LlmError::Timeout), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(srv.hits(), 2, "timeouts are not retried");
}

#[tokio::test]
async fn a_stream_that_goes_silent_times_out() {
    let srv = Server::start(vec![Reply::sse(
        openai_sse(&["Hel"], None, false),
        End::Stall,
    )])
    .await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    let (text, _, err) = drain(s).await;
    assert_eq!(text, "Hel");
    assert!(matches!(err, Some(LlmError::Timeout)), "{err:?}");
}

#[tokio::test]
async fn no_first_delta_in_time_times_out() {
    // Headers arrive, then only keep-alive comments: the first-byte limit still applies.
    let srv = Server::start(vec![Reply::sse(vec![], End::KeepAlive)]).await;
    let t = Instant::now();
    let err = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, LlmError::Timeout), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn disconnect_before_the_first_delta_is_retried() {
    let srv = Server::start(vec![
        Reply::sse(vec![], End::Abort),
        Reply::sse(openai_sse(&["again"], None, true), End::Close),
    ])
    .await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(drain(s).await.0, "again");
    assert_eq!(srv.hits(), 2);
}

#[tokio::test]
async fn disconnect_midway_is_an_error_without_retry() {
    let srv = Server::start(vec![Reply::sse(
        openai_sse(&["Half", " an"], None, false),
        End::Abort,
    )])
    .await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    let (text, _, err) = drain(s).await;
    assert_eq!(text, "Half an");
    assert!(matches!(err, Some(LlmError::Protocol(_))), "{err:?}");
    assert_eq!(srv.hits(), 1);

    // A body that ends cleanly but without `[DONE]` is cut short too.
    let srv = Server::start(vec![Reply::sse(
        openai_sse(&["Half"], None, false),
        End::Close,
    )])
    .await;
    let s = openai_model(&srv.url, fast_policy())
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    let (_, _, err) = drain(s).await;
    assert!(
        matches!(err, Some(LlmError::Protocol(ref m)) if m.contains("ended before")),
        "{err:?}"
    );
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = openai_model(&format!("http://127.0.0.1:{port}"), fast_policy())
        .complete(request("gpt-4o"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LlmError::Protocol(ref m) if m.contains("cannot connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn breaker_opens_after_repeated_failures_and_recovers() {
    let srv = Server::start(vec![server_error()]).await;
    let policy = CallPolicy {
        max_retries: 0,
        breaker_failures: 3,
        breaker_cooldown: Duration::from_millis(150),
        ..fast_policy()
    };
    let m = openai_model(&srv.url, policy);
    for _ in 0..3 {
        let err = m.complete(request("gpt-4o")).await.unwrap_err();
        assert!(matches!(err, LlmError::Upstream { .. }), "{err:?}");
    }
    // Open: refused without calling the provider.
    let err = m.complete(request("gpt-4o")).await.unwrap_err();
    assert!(matches!(err, LlmError::Unavailable(_)), "{err:?}");
    let err = m.stream(request("gpt-4o")).await.err().unwrap();
    assert!(matches!(err, LlmError::Unavailable(_)), "{err:?}");
    assert_eq!(srv.hits(), 3);

    // After the cool-down one probe goes through; it fails, so the breaker reopens.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(matches!(
        m.complete(request("gpt-4o")).await,
        Err(LlmError::Upstream { .. })
    ));
    assert!(matches!(
        m.complete(request("gpt-4o")).await,
        Err(LlmError::Unavailable(_))
    ));

    // The provider recovers: the next probe succeeds and closes the breaker.
    srv.set_replies(vec![Reply::sse(
        openai_sse(&["back"], None, true),
        End::Close,
    )]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = m.stream(request("gpt-4o")).await.unwrap();
    assert_eq!(drain(s).await.0, "back");
    let s = m.stream(request("gpt-4o")).await.unwrap();
    assert_eq!(drain(s).await.0, "back");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let srv = Server::start(vec![Reply::sse(
        openai_sse(&["first"], None, false),
        End::KeepAlive,
    )])
    .await;
    let policy = CallPolicy {
        idle_timeout: Duration::from_secs(30),
        ..fast_policy()
    };
    let mut s = openai_model(&srv.url, policy)
        .stream(request("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(
        s.next().await.unwrap().unwrap(),
        ChatEvent::Delta("first".into())
    );
    assert!(
        !srv.wait_closed(Duration::from_millis(100)).await,
        "the server is still streaming while the client reads"
    );
    drop(s);
    assert!(
        srv.wait_closed(Duration::from_secs(3)).await,
        "the server saw the connection close"
    );
}

#[tokio::test]
async fn calls_beyond_max_in_flight_are_refused_not_queued() {
    let srv = Server::start(vec![Reply::sse(
        openai_sse(&["hold"], None, false),
        End::KeepAlive,
    )])
    .await;
    let policy = CallPolicy {
        max_in_flight: 1,
        idle_timeout: Duration::from_secs(30),
        ..fast_policy()
    };
    let m = openai_model(&srv.url, policy);
    let mut held = m.stream(request("gpt-4o")).await.unwrap();
    assert_eq!(
        held.next().await.unwrap().unwrap(),
        ChatEvent::Delta("hold".into())
    );
    let err = m.complete(request("gpt-4o")).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Unavailable(ref m) if m.contains("in flight")),
        "{err:?}"
    );
    assert_eq!(srv.hits(), 1, "the refused call never reached the provider");
    drop(held);
    srv.set_replies(vec![Reply::json(200, openai_completion("free", 1, 1))]);
    assert_eq!(m.complete(request("gpt-4o")).await.unwrap().text, "free");
}
