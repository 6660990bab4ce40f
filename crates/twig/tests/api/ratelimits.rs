use crate::helpers::{assert_error, TestServer};
use serde_json::json;

async fn limited(write_burst: &str) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TWIG_RATE_LIMITS__ENABLED", "true"),
        ("TWIG_RATE_LIMITS__WRITE_PER_MINUTE", "60"),
        ("TWIG_RATE_LIMITS__WRITE_BURST", write_burst),
    ];
    let s = TestServer::start_in(dir.path(), &env).await;
    (s, dir)
}

fn header(r: &crate::helpers::Resp, name: &str) -> Option<u64> {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn bursts_refill_and_429s_carry_the_documented_headers() {
    let (s, _d) = limited("3").await;
    let (_, key) = s.key_with(&["read", "write"]).await;
    for i in 0..3u64 {
        let r = s
            .post(
                "/api/v1/agents",
                &key,
                json!({"name": format!("a{i}"), "data_source_ids": []}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(60));
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(2 - i));
        let reset = header(&r, "x-ratelimit-reset").unwrap();
        let now = chrono::Utc::now().timestamp() as u64;
        assert!(reset >= now && reset <= now + 5, "{reset} vs {now}");
    }
    let r = s
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "refused", "data_source_ids": []}),
        )
        .await;
    assert_error(&r, 429, "rate_limit_exceeded");
    assert_eq!(header(&r, "retry-after"), Some(1));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(0));
    assert!(header(&r, "x-ratelimit-reset").is_some());
    assert_eq!(r.body["error"]["details"]["scope"], "write");
    assert_eq!(r.body["error"]["details"]["limit"], 60);
    assert!(r.body["error"]["details"]["reset"].is_u64());
    // Refused requests have no effect, and other scopes have their own bucket.
    let list = s.get("/api/v1/agents", &key).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total"], 3);
    assert_eq!(header(&list, "x-ratelimit-limit"), Some(200));
    // 60/min refills one request per second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = s
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "later", "data_source_ids": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn parallel_clients_on_one_key_get_exactly_the_allowance() {
    let (s, _d) = limited("20").await;
    let (_, key) = s.key_with(&["write"]).await;
    let s = std::sync::Arc::new(s);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (s, key) = (s.clone(), key.clone());
            tokio::spawn(async move {
                s.post(
                    "/api/v1/data-sources",
                    &key,
                    json!({"type": "file", "name": format!("f{i}")}),
                )
                .await
                .status
                .as_u16()
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // At 60/min a request may refill during the run; never more than that.
    assert!((20..=21).contains(&created), "{created} created");
    assert_eq!(created + refused, 40);
}
