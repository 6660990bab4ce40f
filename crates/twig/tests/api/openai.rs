//! The OpenAI-compatible surface (`/v1/chat/completions`, `/v1/models`): auth rules, OpenAI's
//! error shape, agents named by id or name, history, streaming chunks. The real `openai`
//! clients (Python and npm) are run against it by `scripts/client-tests`.

use crate::helpers::{Resp, TestServer};
use serde_json::{json, Value};

/// Asserts OpenAI's error body `{"error": {"message", "type", "param", "code"}}`.
#[track_caller]
fn assert_openai_error(r: &Resp, status: u16, kind: &str, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    let e = &r.body["error"];
    assert_eq!(e["type"], kind, "{}", r.text);
    assert_eq!(e["code"], code, "{}", r.text);
    assert!(e["message"].is_string(), "{}", r.text);
    assert!(e.get("param").is_some(), "{}", r.text);
    assert!(r.body.get("request_id").is_none(), "{}", r.text);
    assert!(r.headers.contains_key("x-request-id"));
}

async fn agent(s: &TestServer, name: &str) -> String {
    let r = s
        .post(
            "/api/v1/agents",
            s.admin(),
            json!({"name": name, "data_source_ids": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

fn ask(model: &str, q: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": q}]})
}

#[tokio::test]
async fn keys_scopes_and_errors_follow_openai() {
    let (s, _d) = TestServer::start().await;
    let a = agent(&s, "Support").await;

    let r = s
        .call(
            reqwest::Method::POST,
            "/v1/chat/completions",
            None,
            Some(ask(&a, "hi")),
        )
        .await;
    assert_openai_error(&r, 401, "authentication_error", "invalid_api_key");
    let r = s
        .post("/v1/chat/completions", "twigsk_live_nope", ask(&a, "hi"))
        .await;
    assert_openai_error(&r, 401, "authentication_error", "invalid_api_key");

    let (_, read) = s.key_with(&["read"]).await;
    let r = s.post("/v1/chat/completions", &read, ask(&a, "hi")).await;
    assert_openai_error(&r, 403, "permission_error", "forbidden");
    let r = s.get("/v1/models", &read).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["data"][0]["id"], a.as_str());
    assert_eq!(r.body["data"][0]["object"], "model");

    let (_, exec) = s.key_with(&["execute"]).await;
    let r = s.get("/v1/models", &exec).await;
    assert_openai_error(&r, 403, "permission_error", "forbidden");

    let k = s.admin();
    let r = s
        .post(
            "/v1/chat/completions",
            k,
            ask("agent_doesnotexist0000", "hi"),
        )
        .await;
    assert_openai_error(&r, 404, "invalid_request_error", "model_not_found");
    assert_eq!(r.body["error"]["param"], "model");
    let r = s.post("/v1/chat/completions", k, ask("Nobody", "hi")).await;
    assert_openai_error(&r, 404, "invalid_request_error", "model_not_found");
    let r = s.get("/v1/models/Nobody", k).await;
    assert_openai_error(&r, 404, "invalid_request_error", "model_not_found");

    // An agent of another organisation is unknown.
    let (_, other) = s.other_org_key("read,execute");
    let r = s.post("/v1/chat/completions", &other, ask(&a, "hi")).await;
    assert_openai_error(&r, 404, "invalid_request_error", "model_not_found");

    let r = s
        .post(
            "/v1/chat/completions",
            k,
            json!({"model": a, "messages": []}),
        )
        .await;
    assert_openai_error(&r, 400, "invalid_request_error", "invalid_request");
    assert_eq!(r.body["error"]["param"], "messages");
    let r = s
        .post(
            "/v1/chat/completions",
            k,
            json!({"model": a, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
        )
        .await;
    assert_openai_error(&r, 400, "invalid_request_error", "invalid_request");
    let r = s
        .post(
            "/v1/chat/completions",
            k,
            json!({"model": a, "messages": [{"role": "wizard", "content": "q"}]}),
        )
        .await;
    assert_eq!(r.body["error"]["param"], "messages[0].role", "{}", r.text);
    let mut bad = ask(&a, "hi");
    bad["temperature"] = json!(3);
    let r = s.post("/v1/chat/completions", k, bad).await;
    assert_openai_error(&r, 400, "invalid_request_error", "invalid_request");
    assert_eq!(r.body["error"]["param"], "temperature");
    let r = s
        .post("/v1/chat/completions", k, json!({"messages": []}))
        .await;
    assert_eq!(r.body["error"]["param"], "model", "{}", r.text);

    // Unknown paths under /v1 also answer in OpenAI's shape; Twig's paths keep Twig's.
    let r = s.get("/v1/embeddings", k).await;
    assert_openai_error(&r, 404, "invalid_request_error", "not_found");
    let r = s.get("/api/v1/agents/agent_doesnotexist0000", k).await;
    assert_eq!(r.body["error"]["code"], "not_found");
    assert!(r.body["request_id"].is_string());

    // Nothing was recorded by the refused requests.
    let r = s.get("/api/v1/interactions", k).await;
    assert_eq!(r.body["total"], 0, "{}", r.text);
}

#[tokio::test]
async fn completions_answer_through_the_pipeline_and_are_recorded() {
    let (s, _d) = TestServer::start().await;
    let a = agent(&s, "Support").await;
    let k = s.admin();

    // By name, with earlier turns and a system message (ignored: the agent's prompt governs).
    let r = s
        .post(
            "/v1/chat/completions",
            k,
            json!({"model": "Support", "temperature": 0.2, "max_completion_tokens": 50, "user": "u1",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "What is the warranty?"},
                    {"role": "assistant", "content": "Two years."},
                    {"role": "user", "content": [{"type": "text", "text": "And for laptops?"}]},
                ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = &r.body;
    assert_eq!(b["object"], "chat.completion");
    assert!(b["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(b["model"], a.as_str());
    assert_eq!(b["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        b["choices"][0]["message"]["content"],
        "I don't have information about that."
    );
    assert_eq!(b["choices"][0]["finish_reason"], "stop");
    assert!(b["usage"]["total_tokens"].is_u64());
    let iid = b["twig"]["interaction_id"].as_str().unwrap();
    let sid = b["twig"]["session_id"].as_str().unwrap();
    assert!(sid.starts_with("sess_"));
    assert!(b["twig"]["sources"].is_array());

    let r = s.get(&format!("/api/v1/interactions/{iid}"), k).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["query"], "And for laptops?");
    assert_eq!(r.body["agent_id"], a.as_str());

    // Streamed: role chunk, content chunks, a finishing chunk with `twig`, usage, [DONE].
    let mut body = ask(&a, "What is the warranty?");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = s.post("/v1/chat/completions", k, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let datas: Vec<&str> = r
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(datas.last(), Some(&"[DONE]"), "{}", r.text);
    let chunks: Vec<Value> = datas[..datas.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "I don't have information about that.");
    let fin = &chunks[chunks.len() - 2];
    assert_eq!(fin["choices"][0]["finish_reason"], "stop");
    assert!(fin["twig"]["interaction_id"]
        .as_str()
        .unwrap()
        .starts_with("int_"));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["completion_tokens"].is_u64());

    let r = s.get("/api/v1/interactions", k).await;
    assert_eq!(r.body["total"], 2, "{}", r.text);

    // Two agents of one name: the name is ambiguous, the ids are not.
    agent(&s, "Support").await;
    let r = s.post("/v1/chat/completions", k, ask("Support", "x")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["param"], "model");
    let r = s.post("/v1/chat/completions", k, ask(&a, "x")).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
