//! Zendesk Help Center sources end to end: the real server syncing a loopback Help Center.

use crate::helpers::{assert_error, TestServer};
use crate::ingest::{documents, wait_first_sync};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use twig_loopback::zendesk::HelpCenter;

const EMAIL: &str = "agent@acme.example";
const TOKEN: &str = "zd-e2e-token";
const ENV: &[(&str, &str)] = crate::helpers::CONNECTOR_ENV;

/// A Help Center with `n` articles in one section, and a draft.
fn help_center(n: usize) -> HelpCenter {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    let s = hc.add_section(hc.add_category("Product"), "Getting started");
    for i in 0..n {
        hc.add(
            s,
            &format!("Guide {i}"),
            &format!(
                "<p>Guide {i} explains step {i} of setting up the quokka dashboard.</p>\
                 <h2>Troubleshooting {i}</h2><p>If step {i} fails, restart the wombat agent.</p>"
            ),
        );
    }
    hc.add_article(twig_loopback::zendesk::NewArticle {
        section_id: s,
        title: "Secret roadmap".into(),
        body: "<p>The narwhal feature ships next year.</p>".into(),
        draft: true,
        ..Default::default()
    });
    hc
}

async fn create(s: &TestServer, key: &str, origin: &str) -> String {
    let r = s
        .post(
            "/api/v1/data-sources",
            key,
            json!({"type": "zendesk", "name": "Help Center", "config": {
                "subdomain": "acme", "email": EMAIL, "api_token": TOKEN, "base_url": origin,
            }}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains(TOKEN), "the token is never echoed");
    r.body["id"].as_str().unwrap().to_owned()
}

async fn status(s: &TestServer, key: &str, ds: &str) -> Value {
    let r = s
        .get(&format!("/api/v1/data-sources/{ds}/status"), key)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[tokio::test]
async fn a_zendesk_source_syncs_tests_and_searches() {
    let hc = help_center(3);
    let served = hc.serve().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();

    let r = s
        .post(
            "/api/v1/data-sources",
            &key,
            json!({"type": "zendesk", "name": "Bad", "config": {
                "subdomain": "Acme Corp", "email": EMAIL, "api_token": TOKEN,
            }}),
        )
        .await;
    let msg = assert_error(&r, 400, "invalid_request");
    assert!(msg.contains("config.subdomain"), "{msg}");

    let ds = create(&s, &key, &served.origin).await;
    let r = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ok"], true, "{}", r.text);
    assert_eq!(r.body["message"], "Connection successful, found 3 articles");
    assert_eq!(r.body["items_found"], 3);

    let r = s
        .post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let st = wait_first_sync(&s, &ds, Duration::from_secs(120)).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&s, &ds).await;
    assert_eq!(docs.len(), 3, "{docs:#?}");
    assert!(docs.iter().all(|d| d["title"] != "Secret roadmap"));

    let org = s.get("/api/v1/me", &key).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(
            "/api/v1/semantic-search",
            &key,
            json!({"query": "wombat agent step 1", "org_id": org, "data_source_ids": [ds], "top_k": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let hits = r.body["chunks"].as_array().unwrap();
    assert!(!hits.is_empty(), "{}", r.text);
    assert!(
        hits.iter().any(|h| h["text"]
            .as_str()
            .unwrap_or_default()
            .contains("restart the wombat agent")),
        "{}",
        r.text
    );
    let r = s
        .post(
            "/api/v1/semantic-search",
            &key,
            json!({"query": "narwhal", "org_id": org, "data_source_ids": [ds], "top_k": 5}),
        )
        .await;
    assert_eq!(
        r.body["chunks"].as_array().unwrap().len(),
        0,
        "drafts are not indexed"
    );
}

#[tokio::test]
async fn a_killed_zendesk_sync_resumes_without_duplicates() {
    const N: usize = 12;
    let hc = help_center(N);
    hc.set_page_size(4);
    let served = hc.serve().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    let ds = create(&s, &key, &served.origin).await;

    // Slow enough that the sync is still paging when it is killed.
    hc.faults.set_latency(Duration::from_millis(400));
    let r = s
        .post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = status(&s, &key, &ds).await;
        if st["documents_done"].as_u64().unwrap_or(0) >= 4 {
            assert_eq!(st["status"], "processing", "{st}");
            break;
        }
        assert!(Instant::now() < deadline, "sync did not start: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(hc.exported().len() < N, "killed mid-sync");
    s.kill9();
    hc.faults.set_latency(Duration::from_millis(50));
    s = TestServer::start_in(dir.path(), ENV).await;
    s.key = Some(key.clone());

    let st = wait_first_sync(&s, &ds, Duration::from_secs(120)).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&s, &ds).await;
    assert_eq!(docs.len(), N, "{docs:#?}");
    let mut titles: Vec<&str> = docs.iter().map(|d| d["title"].as_str().unwrap()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), N, "no document duplicated");
    // Every article has the same shape, so the same chunks: none duplicated or lost.
    let per_doc = docs[0]["chunks"].as_u64().unwrap();
    assert!(
        per_doc > 0 && docs.iter().all(|d| d["chunks"] == per_doc),
        "{docs:#?}"
    );
    assert_eq!(st["chunks_indexed"], per_doc * N as u64, "{st}");
    // Resumed after the last committed page: the export never started over from zero.
    let starts = hc.export_starts();
    assert_eq!(starts.iter().filter(|t| **t == 0).count(), 1, "{starts:?}");
}
