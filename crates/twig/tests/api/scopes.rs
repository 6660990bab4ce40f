use crate::helpers::{assert_error, TestServer};
use serde_json::json;

/// Every scoped route, with the scope the reference assigns it.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/agents", "read"),
    ("POST", "/api/v1/agents", "write"),
    ("GET", "/api/v1/agents/agent_x1", "read"),
    ("PUT", "/api/v1/agents/agent_x1", "write"),
    ("DELETE", "/api/v1/agents/agent_x1", "write"),
    ("GET", "/api/v1/data-sources", "read"),
    ("POST", "/api/v1/data-sources", "write"),
    ("GET", "/api/v1/data-sources/ds_x1", "read"),
    ("PUT", "/api/v1/data-sources/ds_x1", "write"),
    ("DELETE", "/api/v1/data-sources/ds_x1", "write"),
    ("GET", "/api/v1/api-keys", "admin"),
    ("POST", "/api/v1/api-keys", "admin"),
    ("GET", "/api/v1/api-keys/key_x1", "admin"),
    ("DELETE", "/api/v1/api-keys/key_x1", "admin"),
    ("POST", "/api/v1/semantic-search", "read"),
    ("GET", "/api/v1/kb", "read"),
    ("POST", "/api/v1/kb", "write"),
    ("GET", "/api/v1/kb/kb_x1", "read"),
    ("PUT", "/api/v1/kb/kb_x1", "write"),
    ("DELETE", "/api/v1/kb/kb_x1", "write"),
    ("GET", "/api/v1/kb/kb_x1/versions", "read"),
    ("GET", "/api/v1/kb/kb_x1/versions/1", "read"),
    ("GET", "/api/v1/webhooks", "admin"),
    ("POST", "/api/v1/webhooks", "admin"),
    ("GET", "/api/v1/webhooks/wh_x1", "admin"),
    ("PUT", "/api/v1/webhooks/wh_x1", "admin"),
    ("DELETE", "/api/v1/webhooks/wh_x1", "admin"),
    ("POST", "/api/v1/webhooks/wh_x1/rotate-secret", "admin"),
    ("POST", "/api/v1/webhooks/wh_x1/test", "admin"),
    ("GET", "/api/v1/webhooks/wh_x1/deliveries", "admin"),
    (
        "POST",
        "/api/v1/webhooks/wh_x1/deliveries/whd_x1/redeliver",
        "admin",
    ),
    ("POST", "/api/v1/query", "execute"),
    ("POST", "/api/chat", "execute"),
    ("GET", "/api/v1/interactions", "read"),
    (
        "GET",
        "/api/v1/analytics?start_date=2024-01-01&end_date=2024-01-01",
        "admin",
    ),
    ("GET", "/api/v1/interactions/int_x1", "read"),
    ("POST", "/api/v1/interactions/int_x1/feedback", "execute"),
    ("GET", "/api/v1/integrations/slack", "admin"),
    ("PUT", "/api/v1/integrations/slack", "admin"),
];

#[tokio::test]
async fn each_route_requires_its_scope() {
    let (s, _d) = TestServer::start().await;
    let all = ["read", "write", "execute", "admin"];
    for &(method, path, scope) in ROUTES {
        let others: Vec<&str> = all.iter().copied().filter(|x| *x != scope).collect();
        let (_, lacking) = s.key_with(&others).await;
        let (_, only) = s.key_with(&[scope]).await;
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, "POST" | "PUT").then(|| json!({}));
        let r = s.call(m.clone(), path, Some(&lacking), body.clone()).await;
        let msg = assert_error(&r, 403, "forbidden");
        let title = format!("{}{}", scope[..1].to_uppercase(), &scope[1..]);
        assert_eq!(
            msg,
            format!("API key lacks {title} scope"),
            "{method} {path}"
        );
        let r = s.call(m, path, Some(&only), body).await;
        assert_ne!(r.status, 403, "{method} {path} with {scope}: {}", r.text);
        assert_ne!(r.status, 401, "{method} {path} with {scope}: {}", r.text);
    }
    // /me needs any valid key.
    let (_, only_read) = s.key_with(&["read"]).await;
    assert_eq!(s.get("/api/v1/me", &only_read).await.status, 200);
}
