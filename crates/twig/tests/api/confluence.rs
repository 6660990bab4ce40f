//! Confluence data sources end to end: the real server syncing a loopback Confluence Cloud.

use crate::helpers::{assert_error, TestServer};
use crate::ingest::{
    create_ds, documents, search, sync_killed_midway, wait_synced, wait_synced_after,
};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use twig_loopback::confluence::FakeConfluence;

const ENV: &[(&str, &str)] = crate::helpers::CONNECTOR_ENV;

fn config(base: &str, token: &str) -> Value {
    json!({"base_url": base, "email": "ada@acme.test", "api_token": token, "space_key": "ENG"})
}

/// A space of `n` pages, two levels deep.
fn populate(site: &FakeConfluence, n: usize) {
    let eng = site.add_space("ENG", "Engineering");
    let root = site.add_page(eng, None, "Handbook", "<p>The engineering handbook.</p>");
    for i in 1..n {
        site.add_page(
            eng,
            Some(root),
            &format!("Runbook {i}"),
            &format!("<h1>Steps</h1><p>Runbook {i} restarts service number {i} with care.</p>"),
        );
    }
    site.backdate_all(1);
}

#[tokio::test]
async fn a_space_syncs_survives_kill_9_and_resyncs_only_changes() {
    let site = FakeConfluence::new("ada@acme.test", "tok-123");
    let (_served, base) = site.serve().await.unwrap();
    populate(&site, 120);
    // Slow enough that a sync is caught between its pages.
    site.faults.set_latency(Duration::from_millis(25));
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    let ds = create_ds(
        &s,
        json!({"type": "confluence", "name": "Wiki", "config": config(&base, "tok-123")}),
    )
    .await;
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(r.body["config"]["api_token"], "********", "{}", r.text);
    assert!(!r.text.contains("tok-123"));

    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        t.body,
        json!({"ok": true, "message": "Connection successful, found 120 pages", "items_found": 120})
    );

    let st = sync_killed_midway(&mut s, dir.path(), ENV, &ds, 50).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&s, &ds).await;
    assert_eq!(docs.len(), 120, "none lost");
    let titles: HashSet<&str> = docs.iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles.len(), 120, "none duplicated");
    assert_eq!(st["chunks_indexed"], 120, "{st}");

    // An edit reaches search on the next sync, which asks Confluence only for changes.
    site.faults.set_latency(Duration::ZERO);
    // The document links to the page: .../wiki/spaces/ENG/pages/<id>/Runbook+7.
    let url = docs.iter().find(|d| d["title"] == "Runbook 7").unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with(&format!("{base}/spaces/ENG/pages/")),
        "{url}"
    );
    let page: u64 = url.rsplit('/').nth(1).unwrap().parse().unwrap();
    site.edit_page(
        page,
        "<p>Runbook 7 now drains the queue before restarting.</p>",
    );
    let before = st["last_synced_at"].as_str().map(str::to_owned);
    // `last_synced_at` has whole seconds: let the next sync end in a later one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let listed = site.hits("space_pages");
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st = wait_synced_after(&s, &ds, before.as_deref(), Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(
        site.hits("space_pages"),
        listed,
        "no full listing on a re-sync"
    );
    assert_eq!(site.changed_served(), 1);
    let hits = search(&s, "drains the queue", &ds).await;
    assert_eq!(hits[0]["document_title"], "Runbook 7", "{hits:?}");
    assert_eq!(documents(&s, &ds).await.len(), 120);
}

#[tokio::test]
async fn bad_config_and_bad_credentials_are_told_clearly() {
    let site = FakeConfluence::new("ada@acme.test", "tok-123");
    let (_served, base) = site.serve().await.unwrap();
    populate(&site, 3);
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    for (patch, field) in [
        (json!({"space_key": "eng"}), "config.space_key"),
        (json!({"api_token": null}), "config.api_token"),
        (json!({"email": "ada"}), "config.email"),
        (json!({"base_url": "ftp://x"}), "config.base_url"),
        (
            json!({"include_attachments": "yes"}),
            "config.include_attachments",
        ),
    ] {
        let mut c = config(&base, "tok-123");
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        let r = s
            .post(
                "/api/v1/data-sources",
                &key,
                json!({"type": "confluence", "name": "W", "config": c}),
            )
            .await;
        let msg = assert_error(&r, 400, "invalid_request");
        assert!(msg.contains(field), "{field}: {msg}");
    }
    assert_eq!(s.get("/api/v1/data-sources", &key).await.body["total"], 0);

    let ds = create_ds(
        &s,
        json!({"type": "confluence", "name": "W", "config": config(&base, "revoked")}),
    )
    .await;
    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["ok"], false);
    let msg = t.body["message"].as_str().unwrap();
    assert!(
        msg.contains("401") && msg.contains("config.api_token"),
        "{msg}"
    );
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st = wait_synced(&s, &ds, Duration::from_secs(30)).await;
    assert_eq!(st["status"], "failed", "{st}");
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    let err = r.body["last_error"].as_str().unwrap();
    assert!(err.contains("config.api_token"), "{err}");

    // Fixing the token with a PUT (the rest of the config kept) makes the next sync work.
    let r = s
        .put(
            &format!("/api/v1/data-sources/{ds}"),
            &key,
            json!({"config": config(&base, "tok-123")}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = s
            .get(&format!("/api/v1/data-sources/{ds}/status"), &key)
            .await
            .body;
        if st["status"] == "active" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fixed source never synced: {st}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(documents(&s, &ds).await.len(), 3);
}
