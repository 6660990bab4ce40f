//! A scripted loopback HTTP server that answers like a model provider.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// How the body of a streamed reply ends.
#[derive(Clone, Debug)]
pub enum End {
    /// The body ends normally.
    Close,
    /// The connection breaks (the body errors): a server that died midway.
    Abort,
    /// Keeps sending SSE comments until the client goes away.
    KeepAlive,
    /// Sends nothing more and never ends.
    Stall,
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A whole body with a status and headers.
    Body {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// `200 text/event-stream` with these raw chunks, `gap` apart.
    Sse {
        chunks: Vec<String>,
        gap: Duration,
        end: End,
    },
    /// Answers only after this long.
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply::Body {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Reply::Body { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }
    pub fn sse(chunks: Vec<String>, end: End) -> Self {
        Reply::Sse {
            chunks,
            gap: Duration::from_millis(5),
            end,
        }
    }
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

struct Script {
    replies: Mutex<Vec<Reply>>,
    hits: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    closed: Notify,
    closed_count: AtomicUsize,
}

/// A running scripted server.
#[derive(Clone)]
pub struct Server {
    pub url: String,
    script: Arc<Script>,
}

impl Server {
    /// Serves `replies` in order; the last one repeats.
    pub async fn start(replies: Vec<Reply>) -> Server {
        let script = Arc::new(Script {
            replies: Mutex::new(replies),
            hits: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            closed: Notify::new(),
            closed_count: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url, script }
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.script.hits.load(Ordering::SeqCst)
    }

    /// Replaces the script (and restarts it from its first reply).
    pub fn set_replies(&self, replies: Vec<Reply>) {
        *self.script.replies.lock().unwrap() = replies;
        self.script.hits.store(0, Ordering::SeqCst);
    }

    /// Every request received.
    pub fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }

    /// Waits until a `KeepAlive` stream found its client gone.
    pub async fn wait_closed(&self, within: Duration) -> bool {
        if self.script.closed_count.load(Ordering::SeqCst) > 0 {
            return true;
        }
        tokio::time::timeout(within, self.script.closed.notified())
            .await
            .is_ok()
            || self.script.closed_count.load(Ordering::SeqCst) > 0
    }
}

async fn handle(State(script): State<Arc<Script>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    script.seen.lock().unwrap().push(Seen {
        path_and_query: parts.uri.path_and_query().unwrap().to_string(),
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    });
    let n = script.hits.fetch_add(1, Ordering::SeqCst);
    let reply = {
        let replies = script.replies.lock().unwrap();
        replies[n.min(replies.len() - 1)].clone()
    };
    respond(script, reply).await
}

async fn respond(script: Arc<Script>, reply: Reply) -> Response {
    let mut reply = reply;
    while let Reply::Delayed(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    match reply {
        Reply::Body {
            status,
            headers,
            body,
        } => {
            let mut r = Response::builder().status(StatusCode::from_u16(status).unwrap());
            for (k, v) in headers {
                r = r.header(k, v);
            }
            r.body(Body::from(body)).unwrap()
        }
        Reply::Sse { chunks, gap, end } => {
            let (tx, rx) = mpsc::channel::<Result<String, std::io::Error>>(4);
            tokio::spawn(async move {
                for c in chunks {
                    if tx.send(Ok(c)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(gap).await;
                }
                match end {
                    End::Close => {}
                    End::Abort => {
                        let _ = tx.send(Err(std::io::Error::other("server died"))).await;
                    }
                    End::Stall => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    End::KeepAlive => loop {
                        if tx.send(Ok(": keep-alive\n\n".into())).await.is_err() {
                            script.closed_count.fetch_add(1, Ordering::SeqCst);
                            script.closed.notify_waiters();
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    },
                }
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Reply::Delayed(..) => unreachable!(),
    }
}

/// OpenAI Chat Completions chunks for `deltas`, a usage chunk and `[DONE]`.
pub fn openai_sse(deltas: &[&str], usage: Option<(u32, u32)>, done: bool) -> Vec<String> {
    let mut out = vec![chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    )];
    for d in deltas {
        out.push(chunk(serde_json::json!({"content": d}), None));
    }
    out.push(chunk(serde_json::json!({}), Some("stop")));
    if let Some((i, o)) = usage {
        out.push(format!(
            "data: {}\n\n",
            serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                "model": "gpt-4o", "choices": [],
                "usage": {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}})
        ));
    }
    if done {
        out.push("data: [DONE]\n\n".into());
    }
    out
}

fn chunk(delta: serde_json::Value, finish: Option<&str>) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": null})
    )
}

/// An OpenAI non-streamed chat completion.
pub fn openai_completion(text: &str, input: u32, output: u32) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
    })
}

/// Anthropic Messages stream events for `deltas`; `stop` adds `message_stop`.
pub fn anthropic_sse(deltas: &[&str], input: u32, output: u32, stop: bool) -> Vec<String> {
    let ev = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    let mut out = vec![
        ev(
            "message_start",
            serde_json::json!({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
            "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": input, "output_tokens": 1}}}),
        ),
        ev(
            "content_block_start",
            serde_json::json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        ev("ping", serde_json::json!({"type": "ping"})),
    ];
    for d in deltas {
        out.push(ev(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": d}}),
        ));
    }
    out.push(ev(
        "content_block_stop",
        serde_json::json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push(ev("message_delta", serde_json::json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": output}})));
    if stop {
        out.push(ev(
            "message_stop",
            serde_json::json!({"type": "message_stop"}),
        ));
    }
    out
}

/// An Anthropic non-streamed message.
pub fn anthropic_message(text: &str, input: u32, output: u32) -> serde_json::Value {
    serde_json::json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output}
    })
}

/// An Anthropic error body.
pub fn anthropic_error(kind: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// An OpenAI error body.
pub fn openai_error(message: &str, kind: &str) -> serde_json::Value {
    serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
}
