//! The Redis limiter against the real server `scripts/services.sh` starts
//! (`TWIG_TEST_REDIS_URL`, by default redis://127.0.0.1:6379).

use std::sync::Arc;
use twig_core::ratelimit::{RateLimit, RateLimiter};
use twig_ratelimit::RedisLimiter;

fn url() -> String {
    std::env::var("TWIG_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A bucket name no other run uses.
fn fresh_key(name: &str) -> String {
    format!("{name}:{}", twig_core::id::KeyId::generate().as_str())
}

fn now() -> i64 {
    twig_core::time::now().timestamp_micros()
}

#[tokio::test]
async fn parallel_requests_through_two_limiters_get_exactly_the_allowance() {
    // Two limiters are two nodes: each its own connection, one bucket in Redis.
    let nodes = [
        Arc::new(RedisLimiter::new(&url(), false).unwrap()),
        Arc::new(RedisLimiter::new(&url(), false).unwrap()),
    ];
    nodes[0]
        .ping()
        .await
        .expect("start Redis with `bash scripts/services.sh`");
    let key = fresh_key("parallel");
    // 10 per minute, burst 7: of 40 requests at once, exactly 7 pass.
    let limit = RateLimit {
        per_minute: 10,
        burst: 7,
    };
    let mut tasks = Vec::new();
    for i in 0..40 {
        let node = nodes[i % 2].clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            node.check(&key, limit, now()).await.unwrap()
        }));
    }
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for t in tasks {
        let d = t.await.unwrap();
        if d.allowed {
            allowed.push(d);
        } else {
            refused.push(d);
        }
    }
    assert_eq!(allowed.len(), 7, "{allowed:?}");
    let mut remaining: Vec<u32> = allowed.iter().map(|d| d.remaining).collect();
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        vec![0, 1, 2, 3, 4, 5, 6],
        "each pass saw the one before"
    );
    for d in &refused {
        assert_eq!((d.remaining, d.limit), (0, 10));
        // One request every 6 s refills the bucket.
        assert!((1..=6).contains(&d.retry_after_secs), "{d:?}");
    }
    // Another key has its own bucket.
    let other = nodes[1]
        .check(&fresh_key("other"), limit, now())
        .await
        .unwrap();
    assert!(other.allowed);
    assert_eq!(other.remaining, 6);
}

#[tokio::test]
async fn an_unreachable_redis_refuses_or_lets_through_as_configured() {
    // Nothing listens on port 1.
    let closed = RedisLimiter::new("redis://:hunter2@127.0.0.1:1", false).unwrap();
    let limit = RateLimit {
        per_minute: 60,
        burst: 5,
    };
    let err = closed.check("k", limit, now()).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("unavailable"), "{msg}");
    assert!(!msg.contains("hunter2"), "no password in errors: {msg}");
    assert!(closed.ping().await.is_err());

    let open = RedisLimiter::new("redis://127.0.0.1:1", true).unwrap();
    let d = open.check("k", limit, now()).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 4);
    assert!(RedisLimiter::new("http://not-redis", false).is_err());
}
