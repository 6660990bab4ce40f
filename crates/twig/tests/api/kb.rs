//! Knowledge base end to end: validation, versions, and the index following
//! publish, unpublish and delete at once (lexical mode: no model needed).

use crate::helpers::{assert_error, TestServer};
use serde_json::{json, Value};

async fn search(s: &TestServer, key: &str, q: &str, ds: Option<&str>) -> Vec<Value> {
    let org = s.get("/api/v1/me", key).await.body["org_id"].clone();
    let mut body = json!({"query": q, "org_id": org, "top_k": 10, "similarity_threshold": 0.0});
    if let Some(ds) = ds {
        body["data_source_ids"] = json!([ds]);
    }
    let r = s.post("/api/v1/semantic-search", key, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["chunks"].as_array().unwrap().clone()
}

#[tokio::test]
async fn articles_are_versioned_and_searchable_only_while_published() {
    let (s, _d) = TestServer::start().await;
    let a = s.admin().to_owned();
    for (body, field) in [
        (json!({"content": "x"}), "title"),
        (json!({"title": "t"}), "content"),
        (
            json!({"title": "t", "content": "x", "status": "archived"}),
            "status",
        ),
        (
            json!({"title": "t", "content": "x", "tags": [], "color": 1}),
            "color",
        ),
    ] {
        let r = s.post("/api/v1/kb", &a, body).await;
        let msg = assert_error(&r, 400, "invalid_request");
        assert!(msg.contains(field), "{msg}");
    }
    assert_eq!(s.get("/api/v1/kb", &a).await.body["total"], 0);

    let r = s
        .post(
            "/api/v1/kb",
            &a,
            json!({"title": "How to reset password", "content": "# Reset\n\nClick **Forgot password** on the zanzibar login page.", "tags": ["auth"], "status": "published"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let ds = r.body["data_source_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("kb_"));
    assert_eq!(r.body["version"], 1);
    // Searchable as soon as the create answered, under the org's built-in kb source.
    let hits = search(&s, &a, "zanzibar login", None).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["document_title"], "How to reset password");
    assert_eq!(hits[0]["data_source_id"], ds.as_str());
    let listed = s.get("/api/v1/data-sources", &a).await;
    let kb_ds = listed.body["data_sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == ds.as_str())
        .cloned()
        .unwrap();
    assert_eq!(kb_ds["type"], "kb");
    assert_error(
        &s.delete(&format!("/api/v1/data-sources/{ds}"), &a).await,
        400,
        "invalid_request",
    );
    assert_error(
        &s.put(
            &format!("/api/v1/data-sources/{ds}"),
            &a,
            json!({"name": "x"}),
        )
        .await,
        400,
        "invalid_request",
    );
    assert_error(
        &s.post(
            "/api/v1/data-sources",
            &a,
            json!({"type": "kb", "name": "mine"}),
        )
        .await,
        400,
        "invalid_request",
    );
    // Agents can include it like any other source.
    let ag = s
        .post(
            "/api/v1/agents",
            &a,
            json!({"name": "Help", "data_source_ids": [ds]}),
        )
        .await;
    assert_eq!(ag.status, 201, "{}", ag.text);

    // An edit is a new version; the old one stays readable; search sees the new text.
    let up = s
        .put(
            &format!("/api/v1/kb/{id}"),
            &a,
            json!({"content": "Use the timbuktu recovery form instead."}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["version"], 2);
    assert!(search(&s, &a, "zanzibar", None).await.is_empty());
    assert_eq!(
        search(&s, &a, "timbuktu recovery", Some(&ds)).await.len(),
        1
    );
    let same = s
        .put(
            &format!("/api/v1/kb/{id}"),
            &a,
            json!({"content": "Use the timbuktu recovery form instead."}),
        )
        .await;
    assert_eq!(same.body["version"], 2, "no change, no new version");
    let vs = s.get(&format!("/api/v1/kb/{id}/versions"), &a).await;
    assert_eq!(vs.body["total"], 2);
    assert_eq!(vs.body["versions"][0]["version"], 2);
    let v1 = s.get(&format!("/api/v1/kb/{id}/versions/1"), &a).await;
    assert_eq!(v1.status, 200);
    assert!(v1.body["content"].as_str().unwrap().contains("zanzibar"));
    assert_error(
        &s.get(&format!("/api/v1/kb/{id}/versions/9"), &a).await,
        404,
        "not_found",
    );
    assert_error(
        &s.get(&format!("/api/v1/kb/{id}/versions/zero"), &a).await,
        400,
        "invalid_request",
    );

    // Unpublishing removes it from search at once; drafts filter.
    let up = s
        .put(&format!("/api/v1/kb/{id}"), &a, json!({"status": "draft"}))
        .await;
    assert_eq!(up.body["version"], 3);
    assert!(search(&s, &a, "timbuktu recovery", None).await.is_empty());
    assert_eq!(s.get("/api/v1/kb?status=draft", &a).await.body["total"], 1);
    assert_eq!(
        s.get("/api/v1/kb?status=published", &a).await.body["total"],
        0
    );
    assert_error(
        &s.get("/api/v1/kb?status=old", &a).await,
        400,
        "invalid_request",
    );
    s.put(
        &format!("/api/v1/kb/{id}"),
        &a,
        json!({"status": "published"}),
    )
    .await;
    assert_eq!(search(&s, &a, "timbuktu recovery", None).await.len(), 1);

    // Another org sees nothing; Read keys cannot write.
    let (_, b) = s.other_org_key("read,write");
    let b = b.as_str();
    assert_error(
        &s.get(&format!("/api/v1/kb/{id}"), b).await,
        404,
        "not_found",
    );
    assert_error(
        &s.get(&format!("/api/v1/kb/{id}/versions/1"), b).await,
        404,
        "not_found",
    );
    assert!(search(&s, b, "timbuktu recovery", None).await.is_empty());
    let (_, reader) = s.key_with(&["read"]).await;
    assert_error(
        &s.post("/api/v1/kb", &reader, json!({"title": "t", "content": "x"}))
            .await,
        403,
        "forbidden",
    );

    // Deleting removes it from search and from the API.
    assert_eq!(s.delete(&format!("/api/v1/kb/{id}"), &a).await.status, 204);
    assert!(search(&s, &a, "timbuktu recovery", None).await.is_empty());
    assert_error(
        &s.get(&format!("/api/v1/kb/{id}"), &a).await,
        404,
        "not_found",
    );
    assert_error(
        &s.get(&format!("/api/v1/kb/{id}/versions"), &a).await,
        404,
        "not_found",
    );
}
