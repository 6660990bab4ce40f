use crate::helpers::{assert_error, TestServer};
use serde_json::json;

#[tokio::test]
async fn data_source_crud_and_status_filter() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    let r = s
        .post(
            "/api/v1/data-sources",
            k,
            json!({"type": "website", "name": "Product Documentation",
                   "config": {"url": "https://docs.example.com", "max_pages": 1000}, "sync_frequency": "daily"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ds_"));
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["type"], "website");
    assert_eq!(r.body["sync_frequency"], "daily");
    assert_eq!(r.body["config"]["max_depth"], 3, "defaults are filled in");
    assert_eq!(r.body["chunks_indexed"], 0);

    let r = s
        .post(
            "/api/v1/data-sources",
            k,
            json!({"type": "file", "name": "Uploads"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["sync_frequency"], "manual");

    let list = s.get("/api/v1/data-sources", k).await;
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["data_sources"].as_array().unwrap().len(), 2);
    assert_eq!(
        s.get("/api/v1/data-sources?status=pending", k).await.body["total"],
        2
    );
    assert_eq!(
        s.get("/api/v1/data-sources?status=active", k).await.body["total"],
        0
    );
    assert_error(
        &s.get("/api/v1/data-sources?status=sleeping", k).await,
        400,
        "invalid_request",
    );

    let r = s
        .put(
            &format!("/api/v1/data-sources/{id}"),
            k,
            json!({"name": "Docs", "config": {"url": "https://docs.example.org"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Docs");
    assert_eq!(r.body["config"]["url"], "https://docs.example.org");
    assert_eq!(r.body["sync_frequency"], "daily");
    assert_error(
        &s.put(
            &format!("/api/v1/data-sources/{id}"),
            k,
            json!({"type": "slack"}),
        )
        .await,
        400,
        "invalid_request",
    );

    assert_eq!(
        s.get(&format!("/api/v1/data-sources/{id}"), k).await.body["name"],
        "Docs"
    );
    assert_eq!(
        s.delete(&format!("/api/v1/data-sources/{id}"), k)
            .await
            .status,
        204
    );
    assert_error(
        &s.get(&format!("/api/v1/data-sources/{id}"), k).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn data_source_validation_per_type() {
    let (s, _d) = TestServer::start().await;
    let k = s.admin();
    let bad = [
        json!({"name": "x", "config": {"url": "https://a.example"}}),
        json!({"type": "website", "config": {"url": "https://a.example"}}),
        json!({"type": "ftp", "name": "x"}),
        json!({"type": "website", "name": "x"}),
        json!({"type": "website", "name": "x", "config": {"url": "not a url"}}),
        json!({"type": "website", "name": "x", "config": {"url": "https://a.example", "max_pages": 20000}}),
        json!({"type": "website", "name": "x", "config": {"url": "https://a.example", "requests_per_second": 0}}),
        json!({"type": "website", "name": "x", "config": {"url": "https://a.example"}, "sync_frequency": "minutely"}),
        json!({"type": "website", "name": "x", "config": "https://a.example"}),
        json!({"type": "confluence", "name": "x", "config": {}}),
        json!({"type": "confluence", "name": "x", "config": {"email": "a@x.io", "api_token": "t"}}),
        json!({"type": "confluence", "name": "x", "config": {"domain": "https://x.atlassian.net", "email": "a@x.io", "api_token": "t"}}),
        json!({"type": "confluence", "name": "x", "config": {"domain": "x.atlassian.net", "space_key": "eng", "email": "a@x.io", "api_token": "t"}}),
        json!({"type": "confluence", "name": "x", "config": {"domain": "x.atlassian.net", "space_keys": ["ENG", "a"], "email": "a@x.io", "api_token": "t"}}),
        json!({"type": "confluence", "name": "x", "config": {"domain": "x.atlassian.net", "email": "a@x.io"}}),
        json!({"type": "confluence", "name": "x", "config": {"domain": "x.atlassian.net", "email": "nobody", "api_token": "t"}}),
        json!({"type": "confluence", "name": "x", "config": {"domain": "x.atlassian.net", "email": "a@x.io", "api_token": "t", "include_attachments": "yes"}}),
        json!({"type": "zendesk", "name": "x", "config": {"subdomain": "Acme Corp", "email": "a@x.io", "api_token": "t"}}),
        json!({"type": "zendesk", "name": "x", "config": {"subdomain": "acme", "email": "a@x.io", "api_token": "t", "ticket_lookback_days": 400}}),
        json!({"type": "notion", "name": "x", "config": {}}),
        json!({"type": "notion", "name": "x", "config": {"token": "s", "root_page_ids": ["nope"]}}),
        json!({"type": "slack", "name": "x", "config": {"channel_ids": "C1"}}),
        json!({"type": "google_drive", "name": "x", "config": {}}),
        json!({"type": "google_drive", "name": "x", "config": {"folder_id": "1AbCdEfGh"}}),
        json!({"type": "google_drive", "name": "x", "config": {"service_account_json": "{}"}}),
        json!({"type": "google_drive", "name": "x", "config": {"refresh_token": "r", "client_id": "c"}}),
        json!({"type": "sharepoint", "name": "x", "config": {"site_url": 5}}),
        json!({"type": "sharepoint", "name": "x", "config": {"site_url": "https://x.sharepoint.com/sites/a"}}),
        json!({"type": "onedrive", "name": "x", "config": {"user": "ada@x.io", "tenant_id": "x.onmicrosoft.com", "client_id": "not-a-guid", "client_secret": "s"}}),
        json!({"type": "file", "name": "x", "config": {"url": "https://a.example"}}),
    ];
    for b in bad {
        let r = s.post("/api/v1/data-sources", k, b.clone()).await;
        assert_error(&r, 400, "invalid_request");
    }
    assert_eq!(s.get("/api/v1/data-sources", k).await.body["total"], 0);
    for good in [
        json!({"type": "confluence", "name": "c", "config": {"base_url": "https://x.atlassian.net/wiki", "space_keys": ["ENG"], "email": "a@x.io", "api_token": "t"}}),
        json!({"type": "confluence", "name": "c2", "config": {"domain": "x.atlassian.net", "space_key": "ENG", "email": "a@x.io", "api_token": "t", "include_attachments": false}}),
        json!({"type": "zendesk", "name": "z", "config": {"subdomain": "acme", "email": "a@x.io", "api_token": "t", "locale": "en-us"}}),
        json!({"type": "notion", "name": "n", "config": {"token": "secret_x", "root_page_ids": ["59833787-2cf9-4fdf-8782-e53db20768a5"]}}),
        json!({"type": "slack", "name": "s", "config": {"channel_ids": ["C1"], "bot_token": "xoxb-secret"}}),
        json!({"type": "google_drive", "name": "g", "config": {"folder_id": "1AbCdEfGh", "service_account_json": twig_loopback::gdrive::FakeDrive::new("a@b.iam.gserviceaccount.com").service_account_json()}}),
        json!({"type": "google_drive", "name": "g2", "config": {"refresh_token": "xoxb-secret", "client_id": "c.apps.googleusercontent.com", "client_secret": "xoxb-secret"}}),
        json!({"type": "sharepoint", "name": "sp", "config": {"site_url": "https://x.sharepoint.com/sites/a", "tenant_id": "x.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": "xoxb-secret"}}),
    ] {
        let r = s.post("/api/v1/data-sources", k, good.clone()).await;
        assert_eq!(r.status, 201, "{good}: {}", r.text);
        assert!(!r.text.contains("xoxb-secret"), "secrets are never echoed");
    }
}
