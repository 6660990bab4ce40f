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

/// A server with the default limit table (Write: 10/min, burst 15).
async fn defaults() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[("TWIG_RATE_LIMITS__ENABLED", "true")]).await;
    (s, dir)
}

async fn key_with_limits(
    s: &TestServer,
    scopes: &[&str],
    limits: serde_json::Value,
) -> (String, String) {
    let r = s
        .post(
            "/api/v1/api-keys",
            s.admin(),
            json!({"name": "limited", "scopes": scopes, "rate_limits": limits}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Sends writes until one is refused; returns how many were allowed and the refusal.
async fn writes_until_refused(
    s: &TestServer,
    key: &str,
    max: usize,
) -> (usize, crate::helpers::Resp) {
    for i in 0..max {
        let r = s
            .post(
                "/api/v1/data-sources",
                key,
                json!({"type": "file", "name": format!("f{i}")}),
            )
            .await;
        match r.status.as_u16() {
            201 => continue,
            429 => return (i, r),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    panic!("no request of {max} was refused");
}

fn org_of(s: &TestServer) -> String {
    // The bootstrap org is the only one; `orgs list` prints "<id>\t<name>\t<created>".
    let (ok, out, err) = crate::helpers::twig_cmd(&s.data_dir, &["orgs", "list"]);
    assert!(ok, "{err}");
    out.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn a_key_override_gives_exactly_its_allowance() {
    let (s, _d) = defaults().await;
    let (id, key) = key_with_limits(
        &s,
        &["read", "write"],
        json!({"write": {"per_minute": 3, "burst": 3}}),
    )
    .await;
    let got = s.get(&format!("/api/v1/api-keys/{id}"), s.admin()).await;
    assert_eq!(
        got.body["rate_limits"],
        json!({"write": {"per_minute": 3, "burst": 3}})
    );
    for i in 0..3u64 {
        let r = s
            .post(
                "/api/v1/data-sources",
                &key,
                json!({"type": "file", "name": format!("f{i}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(3));
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(2 - i));
    }
    let r = s
        .post(
            "/api/v1/data-sources",
            &key,
            json!({"type": "file", "name": "refused"}),
        )
        .await;
    assert_error(&r, 429, "rate_limit_exceeded");
    assert_eq!(header(&r, "x-ratelimit-limit"), Some(3));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some(0));
    // 3/min is one request every 20 s.
    assert_eq!(header(&r, "retry-after"), Some(20));
    let now = chrono::Utc::now().timestamp() as u64;
    let reset = header(&r, "x-ratelimit-reset").unwrap();
    assert!(reset >= now + 55 && reset <= now + 61, "{reset} vs {now}");
    assert_eq!(r.body["error"]["details"]["limit"], 3);
    assert_eq!(r.body["error"]["details"]["burst"], 3);
    // Other scopes keep the default.
    let list = s.get("/api/v1/data-sources", &key).await;
    assert_eq!(list.body["total"], 3);
    assert_eq!(header(&list, "x-ratelimit-limit"), Some(200));
}

#[tokio::test]
async fn changing_a_keys_limit_takes_effect_on_its_next_request() {
    let (s, _d) = defaults().await;
    let (id, key) = s.key_with(&["write"]).await;
    let r = s
        .post(
            "/api/v1/data-sources",
            &key,
            json!({"type": "file", "name": "a"}),
        )
        .await;
    assert_eq!(header(&r, "x-ratelimit-limit"), Some(10));
    let up = s
        .put(
            &format!("/api/v1/api-keys/{id}"),
            s.admin(),
            json!({"rate_limits": {"write": {"per_minute": 2, "burst": 2}}}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["rate_limits"]["write"]["per_minute"], 2);
    // The bucket carries over: the request at 10/min used 6 s; 2/min burst 2 tolerates 30 s,
    // so one more fits and the next does not.
    let r = s
        .post(
            "/api/v1/data-sources",
            &key,
            json!({"type": "file", "name": "b"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(header(&r, "x-ratelimit-limit"), Some(2));
    let r = s
        .post(
            "/api/v1/data-sources",
            &key,
            json!({"type": "file", "name": "c"}),
        )
        .await;
    assert_error(&r, 429, "rate_limit_exceeded");
    // Clearing the override brings the default back at once.
    let up = s
        .put(
            &format!("/api/v1/api-keys/{id}"),
            s.admin(),
            json!({"rate_limits": {"write": null}, "name": "renamed"}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["rate_limits"], json!({}));
    assert_eq!(up.body["name"], "renamed");
    let r = s
        .post(
            "/api/v1/data-sources",
            &key,
            json!({"type": "file", "name": "d"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(header(&r, "x-ratelimit-limit"), Some(10));
}

#[tokio::test]
async fn an_org_override_applies_to_every_key_and_a_key_override_beats_it() {
    let (s, _d) = defaults().await;
    let org = org_of(&s);
    let (ok, out, err) = crate::helpers::twig_cmd(
        &s.data_dir,
        &[
            "orgs",
            "set-limits",
            "--org",
            &org,
            "--scope",
            "write",
            "--per-minute",
            "5",
            "--burst",
            "4",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("write\t5/min\tburst 4\torg override"), "{out}");
    assert!(out.contains("read\t200/min\tburst 250\tdefault"), "{out}");

    // Each key of the org has the org's allowance, in its own bucket.
    let (_, k1) = s.key_with(&["write"]).await;
    let (_, k2) = s.key_with(&["write"]).await;
    for k in [&k1, &k2] {
        let (allowed, refused) = writes_until_refused(&s, k, 10).await;
        assert_eq!(allowed, 4);
        assert_eq!(header(&refused, "x-ratelimit-limit"), Some(5));
        assert_eq!(refused.body["error"]["details"]["burst"], 4);
    }
    // A key's own override wins over the org's.
    let (_, k3) = key_with_limits(
        &s,
        &["write"],
        json!({"write": {"per_minute": 2, "burst": 2}}),
    )
    .await;
    let (allowed, refused) = writes_until_refused(&s, &k3, 10).await;
    assert_eq!(allowed, 2);
    assert_eq!(header(&refused, "x-ratelimit-limit"), Some(2));
    // The org's limit is the ceiling for key overrides an org admin sets.
    let r = s
        .post(
            "/api/v1/api-keys",
            s.admin(),
            json!({"name": "x", "scopes": ["write"], "rate_limits": {"write": {"per_minute": 6, "burst": 4}}}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "rate_limits.write");
    assert_eq!(r.body["error"]["details"]["max_per_minute"], 5);

    // Clearing the org override restores the default for keys without their own.
    let (ok, out, err) = crate::helpers::twig_cmd(
        &s.data_dir,
        &[
            "orgs",
            "set-limits",
            "--org",
            &org,
            "--scope",
            "write",
            "--clear",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("write\t10/min\tburst 15\tdefault"), "{out}");
    let (_, k4) = s.key_with(&["write"]).await;
    let (allowed, _) = writes_until_refused(&s, &k4, 20).await;
    assert_eq!(allowed, 15);
}

#[tokio::test]
async fn limit_overrides_are_validated() {
    let (s, _d) = defaults().await;
    let bad = [
        (
            json!({"write": {"per_minute": 0, "burst": 1}}),
            "rate_limits.write.per_minute",
        ),
        (
            json!({"write": {"per_minute": 1, "burst": 0}}),
            "rate_limits.write.burst",
        ),
        (
            json!({"write": {"per_minute": 11, "burst": 5}}),
            "rate_limits.write",
        ),
        (
            json!({"read": {"per_minute": 5, "burst": 300}}),
            "rate_limits.read",
        ),
        (
            json!({"root": {"per_minute": 1, "burst": 1}}),
            "rate_limits.root",
        ),
        (json!({"write": {"per_minute": 1}}), "rate_limits.write"),
        (
            json!({"write": {"per_minute": -1, "burst": 1}}),
            "rate_limits.write.per_minute",
        ),
    ];
    for (limits, field) in bad {
        let r = s
            .post(
                "/api/v1/api-keys",
                s.admin(),
                json!({"name": "x", "scopes": ["write"], "rate_limits": limits}),
            )
            .await;
        assert_error(&r, 400, "invalid_request");
        assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.text);
    }
    assert_eq!(s.get("/api/v1/api-keys", s.admin()).await.body["total"], 1);
    let (id, key) = s.key_with(&["write"]).await;
    let r = s
        .put(
            &format!("/api/v1/api-keys/{id}"),
            &key,
            json!({"rate_limits": {"write": {"per_minute": 1, "burst": 1}}}),
        )
        .await;
    assert_error(&r, 403, "forbidden");
    let r = s
        .put(
            "/api/v1/api-keys/key_missing",
            s.admin(),
            json!({"name": "x"}),
        )
        .await;
    assert_error(&r, 404, "not_found");
    let (ok, _, err) = crate::helpers::twig_cmd(
        &s.data_dir,
        &[
            "orgs",
            "set-limits",
            "--org",
            &org_of(&s),
            "--scope",
            "write",
            "--per-minute",
            "0",
            "--burst",
            "1",
        ],
    );
    assert!(!ok && err.contains("between 1 and"), "{err}");
    let (ok, _, err) = crate::helpers::twig_cmd(
        &s.data_dir,
        &[
            "orgs",
            "set-limits",
            "--org",
            "org_nope",
            "--scope",
            "write",
            "--clear",
        ],
    );
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, _) = crate::helpers::twig_cmd(
        &s.data_dir,
        &[
            "orgs",
            "set-limits",
            "--org",
            &org_of(&s),
            "--scope",
            "write",
        ],
    );
    assert!(!ok, "a limit or --clear is required");
}
