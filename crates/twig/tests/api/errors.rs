use crate::helpers::{assert_error, TestServer};

#[tokio::test]
async fn malformed_bodies_get_the_documented_error() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin().to_owned();
    let post = |body: &'static str, ct: Option<&'static str>| {
        let k = k.clone();
        move |c: &reqwest::Client, base: &str| {
            let b = c
                .post(format!("{base}/api/v1/agents"))
                .bearer_auth(k)
                .body(body);
            match ct {
                Some(ct) => b.header("content-type", ct),
                None => b,
            }
        }
    };
    let m = assert_error(
        &s.raw(post("{\"name\": ", Some("application/json"))).await,
        400,
        "invalid_request",
    );
    assert!(m.to_lowercase().contains("json"), "{m}");
    assert_error(
        &s.raw(post("{nope}", Some("application/json"))).await,
        400,
        "invalid_request",
    );
    assert_error(
        &s.raw(post("", Some("application/json"))).await,
        400,
        "invalid_request",
    );
    let m = assert_error(
        &s.raw(post(
            "{\"name\":\"x\",\"data_source_ids\":[]}",
            Some("text/plain"),
        ))
        .await,
        400,
        "invalid_request",
    );
    assert!(m.contains("Content-Type"), "{m}");
    assert_error(
        &s.raw(post("{\"name\":\"x\",\"data_source_ids\":[]}", None))
            .await,
        400,
        "invalid_request",
    );
    // A struct is never read from an array: every body is an object.
    for body in ["[\"x\", []]", "[null, null]", "\"x\"", "7"] {
        let m = assert_error(
            &s.raw(post(body, Some("application/json"))).await,
            400,
            "invalid_request",
        );
        assert_eq!(m, "Request body must be a JSON object", "{body}");
    }
    // Nothing but whitespace may follow the object.
    let m = assert_error(
        &s.raw(post(
            "{\"name\":\"x\",\"data_source_ids\":[]} trailing",
            Some("application/json"),
        ))
        .await,
        400,
        "invalid_request",
    );
    assert!(m.starts_with("Malformed JSON body"), "{m}");
    let key = s.get("/api/v1/api-keys", &k).await.body["api_keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .raw(|c, base| {
            c.put(format!("{base}/api/v1/api-keys/{key}"))
                .bearer_auth(&k)
                .header("content-type", "application/json")
                .body("[null, null]")
        })
        .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(s.get("/api/v1/agents", &k).await.body["total"], 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[("TWIG_SERVER__MAX_BODY_BYTES", "4096")]).await;
    let k = s.admin().to_owned();
    let big = format!(
        "{{\"name\":\"{}\",\"data_source_ids\":[]}}",
        "x".repeat(10_000)
    );
    let r = s
        .raw(|c, base| {
            c.post(format!("{base}/api/v1/agents"))
                .bearer_auth(&k)
                .header("content-type", "application/json")
                .body(big)
        })
        .await;
    let m = assert_error(&r, 400, "invalid_request");
    assert!(m.contains("larger"), "{m}");
    assert_eq!(s.get("/api/v1/agents", &k).await.body["total"], 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_documented_error() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin().to_owned();
    assert_error(&s.get("/api/v1/nothing-here", &k).await, 404, "not_found");
    assert_error(&s.get("/nothing", &k).await, 404, "not_found");
    // A known path with a method it does not serve: 405 with `Allow`, in the documented shape.
    let r = s
        .raw(|c, base| c.patch(format!("{base}/api/v1/agents")).bearer_auth(&k))
        .await;
    assert_error(&r, 405, "invalid_request");
    let allow = r.headers.get("allow").unwrap().to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert!(!allow.contains("DELETE"), "{allow}");
    let r = s
        .raw(|c, base| c.delete(format!("{base}/api/v1/agents")).bearer_auth(&k))
        .await;
    assert_error(&r, 405, "invalid_request");
    // Without a key too: the method is wrong whoever asks.
    let r = s.raw(|c, base| c.put(format!("{base}/api/v1/query"))).await;
    assert_error(&r, 405, "invalid_request");
    assert_eq!(r.headers.get("allow").unwrap(), "POST");
    assert_eq!(s.get("/api/v1/agents", &k).await.body["total"], 0);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let (s, _d) = TestServer::start().await;
    let mut seen = std::collections::HashSet::new();
    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/agents",
        "/api/v1/openapi.json",
    ] {
        let r = s.get(path, s.admin()).await;
        assert_eq!(r.status, 200, "{path}");
        let rid = r
            .headers
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(rid.starts_with("req_"));
        assert!(seen.insert(rid), "request ids are unique");
    }
}
