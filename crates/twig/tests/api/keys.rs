use crate::helpers::{assert_error, TestServer};
use serde_json::json;

#[tokio::test]
async fn key_management_over_http() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    let r = s
        .post(
            "/api/v1/api-keys",
            k,
            json!({"name": "ci", "scopes": ["read", "execute"], "environment": "test"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_"));
    assert!(secret.starts_with("twigsk_test_") && secret.len() >= "twigsk_test_".len() + 32);
    assert!(secret[12..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(r.body["scopes"], json!(["read", "execute"]));
    assert_eq!(r.body["environment"], "test");
    assert!(secret.starts_with(r.body["prefix"].as_str().unwrap()));

    let list = s.get("/api/v1/api-keys", k).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total"], 2);
    assert!(!list.text.contains(&secret), "the secret is never listed");
    assert!(!list.text.contains(&k[12..]), "nor is the bootstrap secret");
    let got = s.get(&format!("/api/v1/api-keys/{id}"), k).await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("secret").is_none());

    let me = s.get("/api/v1/me", &secret).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["key_id"], id.as_str());
    assert_eq!(me.body["environment"], "test");
    assert_eq!(me.body["scopes"], json!(["read", "execute"]));
    assert!(me.body["org_id"].as_str().unwrap().starts_with("org_"));

    assert_eq!(
        s.delete(&format!("/api/v1/api-keys/{id}"), k).await.status,
        204
    );
    let msg = assert_error(&s.get("/api/v1/me", &secret).await, 401, "unauthorized");
    assert!(msg.contains("revoked"), "{msg}");
    assert_error(
        &s.get(&format!("/api/v1/api-keys/{id}"), k).await,
        404,
        "not_found",
    );
    assert_error(
        &s.delete(&format!("/api/v1/api-keys/{id}"), k).await,
        404,
        "not_found",
    );
    assert_eq!(s.get("/api/v1/api-keys", k).await.body["total"], 1);
}

#[tokio::test]
async fn key_creation_is_validated() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    for b in [
        json!({"scopes": ["read"]}),
        json!({"name": "x"}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["root"]}),
        json!({"name": "x", "scopes": ["read"], "environment": "staging"}),
        json!({"name": "x", "scopes": ["read"], "expires_at": "yesterday"}),
        json!({"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"name": "x", "scopes": "read"}),
    ] {
        assert_error(
            &s.post("/api/v1/api-keys", k, b).await,
            400,
            "invalid_request",
        );
    }
    assert_eq!(s.get("/api/v1/api-keys", k).await.body["total"], 1);
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let (s, _d) = TestServer::start().await;
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let r = s
        .post(
            "/api/v1/api-keys",
            s.admin(),
            json!({"name": "brief", "scopes": ["read"], "expires_at": soon}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/api/v1/agents", &secret).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    let msg = assert_error(&s.get("/api/v1/agents", &secret).await, 401, "unauthorized");
    assert!(msg.contains("expired"), "{msg}");
}

#[tokio::test]
async fn bad_credentials_answer_401() {
    let (s, _d) = TestServer::start().await;
    let good = s.admin().to_owned();
    let forged = format!("twigsk_live_{}", "A".repeat(40));
    let cases: Vec<Option<String>> = vec![
        None,
        Some("Basic dXNlcjpwYXNz".into()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(format!("Bearer {forged}")),
        Some("Bearer twigsk_live_short".into()),
        Some(format!("Bearer {}x", good)),
        Some(good.clone()),
    ];
    for header in cases {
        let r = s
            .raw(|c, base| {
                let b = c.get(format!("{base}/api/v1/agents"));
                match &header {
                    Some(h) => b.header("authorization", h),
                    None => b,
                }
            })
            .await;
        assert_error(&r, 401, "unauthorized");
    }
    let r = s
        .raw(|c, base| {
            c.get(format!("{base}/api/v1/agents"))
                .header("authorization", format!("bearer {good}"))
        })
        .await;
    assert_eq!(r.status, 200, "the scheme is case-insensitive");
}
