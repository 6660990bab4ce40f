//! Notion sources end to end: the real server syncing a loopback Notion workspace over REST,
//! its connection test, config validation, and a server killed mid-sync.

use crate::helpers::{assert_error, TestServer};
use crate::ingest::{documents, wait_first_sync};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use twig_loopback::notion::{Block, Notion, Parent};

const TOKEN: &str = "secret_e2e_integration";
const ENV: &[(&str, &str)] = crate::helpers::CONNECTOR_ENV;

async fn create(s: &TestServer, config: Value) -> String {
    let r = s
        .post(
            "/api/v1/data-sources",
            s.admin(),
            json!({"type": "notion", "name": "Wiki", "config": config}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains(TOKEN), "the token is never echoed");
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notion_source_syncs_and_is_searchable() {
    let n = Notion::new(TOKEN);
    let home = n.add_page(
        "Kitchen",
        Parent::Workspace,
        &[Block::paragraph("Everything about our kitchen.")],
    );
    n.add_page(
        "Soups",
        Parent::Page(home.clone()),
        &[
            Block::heading(1, "Winter"),
            Block::paragraph("Lacinato kale soup with white beans and rosemary."),
        ],
    );
    n.add_page(
        "Knives",
        Parent::Page(home),
        &[Block::text(
            "bulleted_list_item",
            "Sharpen the chef knife weekly.",
        )],
    );
    let served = n.serve().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), ENV).await;

    let r = s
        .post(
            "/api/v1/data-sources",
            s.admin(),
            json!({"type": "notion", "name": "x", "config": {"token": TOKEN, "root_page_ids": ["nope"]}}),
        )
        .await;
    let msg = assert_error(&r, 400, "invalid_request");
    assert!(
        msg.contains("config.root_page_ids") || r.text.contains("config.root_page_ids"),
        "{}",
        r.text
    );

    let ds = create(&s, json!({"token": TOKEN, "base_url": served.origin})).await;
    let r = s
        .post(
            &format!("/api/v1/data-sources/{ds}/test"),
            s.admin(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ok"], true, "{}", r.text);
    assert_eq!(r.body["message"], "Connection successful, found 3 pages");
    assert_eq!(r.body["items_found"], 3);

    let r = s
        .post(
            &format!("/api/v1/data-sources/{ds}/sync"),
            s.admin(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let st = wait_first_sync(&s, &ds, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&s, &ds).await;
    let titles: BTreeSet<&str> = docs.iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles, ["Kitchen", "Knives", "Soups"].into());
    let soups = docs.iter().find(|d| d["title"] == "Soups").unwrap();
    assert_eq!(soups["metadata"]["source"], "notion", "{soups}");

    let org = s.get("/api/v1/me", s.admin()).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(
            "/api/v1/semantic-search",
            s.admin(),
            json!({"query": "lacinato kale soup", "org_id": org, "data_source_ids": [ds], "top_k": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let top = &r.body["chunks"][0];
    assert!(
        top["text"].as_str().unwrap_or("").contains("Lacinato kale"),
        "{}",
        r.text
    );

    // A wrong token: the test answers why, naming the field.
    let bad = create(
        &s,
        json!({"token": "secret_wrong", "base_url": served.origin}),
    )
    .await;
    let r = s
        .post(
            &format!("/api/v1/data-sources/{bad}/test"),
            s.admin(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ok"], false, "{}", r.text);
    assert!(
        r.body["message"].as_str().unwrap().contains("config.token"),
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_sync_resumes_with_every_page_once() {
    const N: usize = 30;
    let n = Notion::new(TOKEN);
    // Five pages per answer and a slow remote: many committed pages, time to kill in between.
    n.set_max_page_size(5);
    for i in 0..N {
        n.add_page(
            &format!("Entry {i}"),
            Parent::Workspace,
            &[
                Block::heading(1, "Habitat"),
                Block::paragraph(&format!(
                    "Species {i} lives in habitat {} and eats food {}.",
                    i % 7,
                    i % 5
                )),
            ],
        );
        n.advance(Duration::from_secs(180));
    }
    let served = n.serve().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    let ds = create(&s, json!({"token": TOKEN, "base_url": served.origin})).await;
    n.faults.set_latency(Duration::from_millis(150));
    let r = s
        .post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = s
            .get(&format!("/api/v1/data-sources/{ds}/status"), &key)
            .await
            .body;
        if st["documents_done"].as_u64().unwrap_or(0) >= 10 {
            assert_eq!(st["status"], "processing", "{st}");
            break;
        }
        assert!(Instant::now() < deadline, "sync did not start: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.kill9();
    let searches_before = n.search_cursors().len();
    s = TestServer::start_in(dir.path(), ENV).await;
    s.key = Some(key.clone());
    n.faults.set_latency(Duration::from_millis(10));
    let st = wait_first_sync(&s, &ds, Duration::from_secs(120)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert!(
        n.searches() > searches_before,
        "the restarted server went on"
    );
    let docs = documents(&s, &ds).await;
    assert_eq!(docs.len(), N, "every page once");
    let titles: BTreeSet<&str> = docs.iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles.len(), N, "no page duplicated");
    let chunks: u64 = docs.iter().map(|d| d["chunks"].as_u64().unwrap()).sum();
    assert_eq!(st["chunks_indexed"].as_u64(), Some(chunks), "{st}");
    assert_eq!(chunks, N as u64, "one chunk a page, none duplicated");
}
