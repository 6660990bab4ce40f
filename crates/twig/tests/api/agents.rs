use crate::helpers::{assert_error, TestServer};
use serde_json::json;

async fn website(s: &TestServer, name: &str) -> String {
    let r = s
        .post(
            "/api/v1/data-sources",
            s.admin(),
            json!({"type": "website", "name": name, "config": {"url": "https://docs.example.com"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn agent_crud_follows_the_reference() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    let ds1 = website(&s, "docs").await;
    let ds2 = website(&s, "blog").await;

    let r = s
        .post(
            "/api/v1/agents",
            k,
            json!({"name": "Support Agent", "data_source_ids": [ds1]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let a = r.body.clone();
    let id = a["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("agent_"));
    assert_eq!(a["rag_strategy"], "cedar");
    assert_eq!(a["temperature"], 0.7);
    assert_eq!(a["max_tokens"], 500);
    assert_eq!(a["status"], "active");
    assert_eq!(a["data_source_ids"], json!([ds1]));
    assert!(a["system_prompt"].as_str().is_some_and(|p| !p.is_empty()));
    assert_eq!(
        a["model"], "extractive",
        "the registry's default without LLM providers"
    );
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'));

    let r = s.get(&format!("/api/v1/agents/{id}"), k).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, a);

    let r = s
        .put(
            &format!("/api/v1/agents/{id}"),
            k,
            json!({"rag_strategy": "cypress", "temperature": 0, "max_tokens": 1000, "data_source_ids": [ds2, ds1],
                   "system_prompt": "Be brief.", "model": "extractive", "name": "Renamed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["rag_strategy"], "cypress");
    assert_eq!(r.body["temperature"], 0.0);
    assert_eq!(r.body["max_tokens"], 1000);
    assert_eq!(r.body["data_source_ids"], json!([ds2, ds1]));
    assert_eq!(r.body["name"], "Renamed");
    // A model without a configured provider is refused up front, naming the configured ones.
    let bad = s
        .put(
            &format!("/api/v1/agents/{id}"),
            k,
            json!({"model": "gpt-4o"}),
        )
        .await;
    let msg = assert_error(&bad, 400, "invalid_request");
    assert!(
        msg.contains("gpt-4o") && msg.contains("configured models: extractive"),
        "{msg}"
    );
    assert_eq!(bad.body["error"]["details"]["field"], "model");
    let bad = s
        .post(
            "/api/v1/agents",
            k,
            json!({"name": "x", "data_source_ids": [], "model": "claude-3-sonnet"}),
        )
        .await;
    assert_error(&bad, 400, "invalid_request");
    assert_eq!(r.body["created_at"], a["created_at"]);
    // Fields not given keep their values.
    let r2 = s.put(&format!("/api/v1/agents/{id}"), k, json!({})).await;
    assert_eq!(r2.body["system_prompt"], "Be brief.");

    let r = s.delete(&format!("/api/v1/agents/{id}"), k).await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    assert_error(
        &s.get(&format!("/api/v1/agents/{id}"), k).await,
        404,
        "not_found",
    );
    assert_error(
        &s.delete(&format!("/api/v1/agents/{id}"), k).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn agent_list_paginates() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    for i in 0..5 {
        let r = s
            .post(
                "/api/v1/agents",
                k,
                json!({"name": format!("a{i}"), "data_source_ids": []}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = s.get("/api/v1/agents", k).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["limit"], 50);
    assert_eq!(r.body["offset"], 0);
    assert_eq!(r.body["agents"].as_array().unwrap().len(), 5);
    let r = s.get("/api/v1/agents?limit=2&offset=4", k).await;
    assert_eq!(r.body["agents"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["limit"], 2);
    assert_eq!(r.body["offset"], 4);
    let mut seen = std::collections::HashSet::new();
    for off in [0, 2, 4] {
        let r = s
            .get(&format!("/api/v1/agents?limit=2&offset={off}"), k)
            .await;
        for a in r.body["agents"].as_array().unwrap() {
            assert!(
                seen.insert(a["id"].as_str().unwrap().to_owned()),
                "pages overlap"
            );
        }
    }
    assert_eq!(seen.len(), 5);
    for bad in ["limit=0", "limit=201", "limit=abc", "offset=-1"] {
        assert_error(
            &s.get(&format!("/api/v1/agents?{bad}"), k).await,
            400,
            "invalid_request",
        );
    }
    assert_eq!(s.get("/api/v1/agents?limit=200", k).await.status, 200);
}

#[tokio::test]
async fn agent_validation_rejects_each_bad_field_and_changes_nothing() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    let ds = website(&s, "docs").await;
    let bad = [
        json!({"data_source_ids": []}),
        json!({"name": "x"}),
        json!({"name": "", "data_source_ids": []}),
        json!({"name": "x", "data_source_ids": [], "rag_strategy": "oak"}),
        json!({"name": "x", "data_source_ids": [], "temperature": 2.5}),
        json!({"name": "x", "data_source_ids": [], "temperature": -1}),
        json!({"name": "x", "data_source_ids": [], "temperature": "warm"}),
        json!({"name": "x", "data_source_ids": [], "max_tokens": 0}),
        json!({"name": "x", "data_source_ids": [], "max_tokens": 10_000_000}),
        json!({"name": "x", "data_source_ids": [], "max_tokens": 1.5}),
        json!({"name": "x", "data_source_ids": ["nope"]}),
        json!({"name": "x", "data_source_ids": [ds, ds]}),
        json!({"name": "x", "data_source_ids": "ds_1"}),
        json!({"name": "x", "data_source_ids": [], "colour": "blue"}),
        json!({"name": "x", "data_source_ids": [], "status": "sleeping"}),
        json!({"name": 7, "data_source_ids": []}),
        json!(["not", "an", "object"]),
    ];
    for b in bad {
        let r = s.post("/api/v1/agents", k, b.clone()).await;
        assert_error(&r, 400, "invalid_request");
    }
    assert_eq!(s.get("/api/v1/agents", k).await.body["total"], 0);

    let r = s
        .post(
            "/api/v1/agents",
            k,
            json!({"name": "ok", "data_source_ids": [ds]}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let before = r.body.clone();
    assert_error(
        &s.put(
            &format!("/api/v1/agents/{id}"),
            k,
            json!({"data_source_ids": ["ds_unknown"]}),
        )
        .await,
        404,
        "not_found",
    );
    for b in [json!({"temperature": 3}), json!({"name": " "})] {
        assert_error(
            &s.put(&format!("/api/v1/agents/{id}"), k, b).await,
            400,
            "invalid_request",
        );
    }
    assert_eq!(s.get(&format!("/api/v1/agents/{id}"), k).await.body, before);
    let msg = assert_error(
        &s.post(
            "/api/v1/agents",
            k,
            json!({"name": "x", "data_source_ids": ["ds_missing1"]}),
        )
        .await,
        404,
        "not_found",
    );
    assert!(msg.contains("Data source"), "{msg}");
}

#[tokio::test]
async fn ids_malformed_answer_400_unknown_answer_404() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    for path in [
        "/api/v1/agents/xyz",
        "/api/v1/agents/ds_abc",
        "/api/v1/agents/agent_!!",
    ] {
        assert_error(&s.get(path, k).await, 400, "invalid_request");
    }
    assert_error(
        &s.get("/api/v1/agents/agent_unknown123", k).await,
        404,
        "not_found",
    );
    assert_error(
        &s.put("/api/v1/agents/agent_unknown123", k, json!({"name": "n"}))
            .await,
        404,
        "not_found",
    );
    assert_error(
        &s.get("/api/v1/data-sources/ds_unknown123", k).await,
        404,
        "not_found",
    );
    assert_error(
        &s.get("/api/v1/data-sources/agent_x", k).await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn deleting_a_data_source_unlinks_it_from_agents() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    let ds1 = website(&s, "one").await;
    let ds2 = website(&s, "two").await;
    let r = s
        .post(
            "/api/v1/agents",
            k,
            json!({"name": "a", "data_source_ids": [ds1, ds2]}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.delete(&format!("/api/v1/data-sources/{ds1}"), k)
            .await
            .status,
        204
    );
    assert_eq!(
        s.get(&format!("/api/v1/agents/{id}"), k).await.body["data_source_ids"],
        json!([ds2])
    );
}
