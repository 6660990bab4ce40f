//! `/mcp` on the wire: the initialize handshake with a session id, tools listed, the health
//! check without a key, and a tool refusing a call without one. The official `mcp` Python SDK
//! drives the full surface in `tests/clients/test_mcp.py`.

use crate::helpers::TestServer;
use serde_json::{json, Value};

/// POSTs one JSON-RPC message; returns the session header and the JSON-RPC messages answered
/// (as JSON or as SSE `data:` lines).
async fn rpc(
    s: &TestServer,
    session: Option<&str>,
    key: Option<&str>,
    msg: Value,
) -> (u16, Option<String>, Vec<Value>) {
    let r = s
        .raw(|c, base| {
            let mut b = c
                .post(format!("{base}/mcp"))
                .header("accept", "application/json, text/event-stream")
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "2025-11-25")
                .json(&msg);
            if let Some(id) = session {
                b = b.header("mcp-session-id", id);
            }
            if let Some(k) = key {
                b = b
                    .bearer_auth(k)
                    .header("x-twig-agent-id", "agent_missing0000");
            }
            b
        })
        .await;
    let session = r
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let msgs = if r.body.is_object() {
        vec![r.body.clone()]
    } else {
        r.text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    };
    (r.status.as_u16(), session, msgs)
}

#[tokio::test]
async fn handshake_tools_and_auth_on_the_wire() {
    let (s, _d) = TestServer::start().await;
    let (status, session, msgs) = rpc(
        &s,
        None,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "twig-test", "version": "0"}}}),
    )
    .await;
    assert_eq!(status, 200, "{msgs:?}");
    let session = session.expect("Mcp-Session-Id header");
    assert_eq!(
        msgs[0]["result"]["protocolVersion"], "2025-11-25",
        "{msgs:?}"
    );
    assert_eq!(msgs[0]["result"]["serverInfo"]["name"], "twig");
    let (status, _, _) = rpc(
        &s,
        Some(&session),
        None,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(status, 202);

    let (_, _, msgs) = rpc(
        &s,
        Some(&session),
        None,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    let mut names: Vec<&str> = msgs[0]["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ask_a_question",
            "check_mcp_server_health",
            "search_knowledge"
        ]
    );

    let (_, _, msgs) = rpc(
        &s,
        Some(&session),
        None,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "check_mcp_server_health", "arguments": {}}}),
    )
    .await;
    let r = &msgs[0]["result"];
    assert_ne!(r["isError"], true, "{msgs:?}");
    assert_eq!(r["structuredContent"]["status"], "ok", "{msgs:?}");

    // No key: a tool error naming the code; a wrong agent with a valid key: not found.
    let (_, _, msgs) = rpc(
        &s,
        Some(&session),
        None,
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
            "params": {"name": "ask_a_question", "arguments": {"question": "hi"}}}),
    )
    .await;
    assert_eq!(msgs[0]["result"]["isError"], true, "{msgs:?}");
    let text = msgs[0]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("unauthorized:"), "{text}");
    let (_, _, msgs) = rpc(
        &s,
        Some(&session),
        Some(s.admin()),
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "search_knowledge", "arguments": {"query": "x"}}}),
    )
    .await;
    let text = msgs[0]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("not_found:"), "{text}");

    // Nothing was recorded.
    let r = s.get("/api/v1/interactions", s.admin()).await;
    assert_eq!(r.body["total"], 0, "{}", r.text);
}
