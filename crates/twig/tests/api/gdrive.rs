//! Google Drive data sources end to end: the real server syncing a loopback Drive API.

use crate::helpers::{assert_error, TestServer};
use crate::ingest::{create_ds, documents, search, sync_killed_midway, wait_synced};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;
use twig_loopback::gdrive::FakeDrive;

const ENV: &[(&str, &str)] = crate::helpers::CONNECTOR_ENV;
const ACCOUNT: &str = "twig-sync@acme-support.iam.gserviceaccount.com";

fn config(d: &FakeDrive, base: &str, token_url: &str, folder: &str) -> Value {
    json!({
        "service_account_json": d.service_account_json(),
        "folder_ids": [folder], "base_url": base, "token_url": token_url,
    })
}

/// A "Support" folder with `n` runbooks (Docs and uploads, in two sub-folders); answers its id.
fn populate(d: &FakeDrive, n: usize) -> String {
    let support = d.folder(None, "Support");
    let even = d.folder(Some(&support), "Even");
    let odd = d.folder(Some(&support), "Odd");
    for i in 0..n {
        let text = format!("# Steps\n\nRunbook {i} restarts service number {i} with care.");
        if i % 2 == 0 {
            d.add_doc(Some(&even), &format!("Runbook {i}"), &text);
        } else {
            d.add_file(
                Some(&odd),
                &format!("runbook-{i}.md"),
                "text/markdown",
                text.as_bytes(),
            );
        }
    }
    d.add_doc(
        Some(&support),
        "Escalation",
        "# Tiers\n\nPage the duty manager after ten minutes.",
    );
    support
}

#[tokio::test]
async fn a_folder_syncs_survives_kill_9_and_resyncs_only_changes() {
    let d = FakeDrive::new(ACCOUNT);
    let (_served, base, token_url) = d.serve().await.unwrap();
    let support = populate(&d, 120);
    d.set_page_size(5);
    // Slow enough that a sync is caught between its pages.
    d.faults.set_latency(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    let ds = create_ds(
        &s,
        json!({"type": "google_drive", "name": "Support", "config": config(&d, &base, &token_url, &support)}),
    )
    .await;
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(
        r.body["config"]["service_account_json"], "********",
        "{}",
        r.text
    );
    assert!(!r.text.contains("PRIVATE KEY"));

    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        t.body,
        json!({"ok": true, "message": "Connection successful, found 121 files", "items_found": 121})
    );

    let st = sync_killed_midway(&mut s, dir.path(), ENV, &ds, 40).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&s, &ds).await;
    assert_eq!(
        docs.len(),
        121,
        "120 runbooks and the escalation Doc, none lost"
    );
    let titles: HashSet<&str> = docs.iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles.len(), 121, "none duplicated");
    let hits = search(&s, "duty manager", &ds).await;
    assert_eq!(hits[0]["document_title"], "Escalation", "{hits:?}");

    // An edit reaches search on the next sync, which reads only the changes.
    d.faults.set_latency(Duration::ZERO);
    let r7 = docs.iter().find(|x| x["title"] == "runbook-7.md").unwrap();
    let file = r7["metadata"]["file_id"].as_str().unwrap().to_owned();
    d.edit(
        &file,
        b"# Steps\n\nRunbook 7 now drains the queue before restarting.",
    );
    let served = d.changed_served();
    let before = st["last_synced_at"].as_str().map(str::to_owned);
    // last_synced_at has whole seconds: let the next one differ.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st =
        crate::ingest::wait_synced_after(&s, &ds, before.as_deref(), Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(d.changed_served() - served, 1, "only the edited file");
    let hits = search(&s, "drains the queue", &ds).await;
    assert_eq!(hits[0]["document_title"], "runbook-7.md", "{hits:?}");
    assert_eq!(documents(&s, &ds).await.len(), 121);
}

#[tokio::test]
async fn bad_config_and_bad_credentials_are_told_clearly() {
    let d = FakeDrive::new(ACCOUNT);
    let (_served, base, token_url) = d.serve().await.unwrap();
    let support = populate(&d, 3);
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    let not_a_key = json!({"type": "service_account", "client_email": ACCOUNT}).to_string();
    for (patch, field) in [
        (
            json!({"service_account_json": null}),
            "config.service_account_json",
        ),
        (
            json!({"service_account_json": "{\"a\": 1}"}),
            "config.service_account_json",
        ),
        (
            json!({"service_account_json": not_a_key}),
            "config.service_account_json",
        ),
        (json!({"folder_ids": ["../etc"]}), "config.folder_ids"),
        (json!({"folder_ids": "1AbCdEfGh"}), "config.folder_ids"),
        (json!({"folder_id": 7}), "config.folder_id"),
        (json!({"drive_id": "x y"}), "config.drive_id"),
        (json!({"base_url": "ftp://x"}), "config.base_url"),
        (json!({"token_url": "x"}), "config.token_url"),
        (
            json!({"refresh_token": "1//r", "client_id": "c", "client_secret": "s"}),
            "config.refresh_token",
        ),
        (
            json!({"service_account_json": null, "refresh_token": "1//r"}),
            "config.client_id",
        ),
        (
            json!({"service_account_json": null, "refresh_token": "1//r", "client_id": "c"}),
            "config.client_secret",
        ),
        (json!({"shared": true}), "config.shared"),
    ] {
        let mut c = config(&d, &base, &token_url, &support);
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        let r = s
            .post(
                "/api/v1/data-sources",
                &key,
                json!({"type": "google_drive", "name": "W", "config": c}),
            )
            .await;
        let msg = assert_error(&r, 400, "invalid_request");
        assert_eq!(r.body["error"]["details"]["field"], field, "{msg}");
    }
    assert_eq!(s.get("/api/v1/data-sources", &key).await.body["total"], 0);

    // A key of another account: Google refuses the grant, the sync fails at once.
    let other = FakeDrive::new("someone-else@acme.iam.gserviceaccount.com");
    let mut c = config(&d, &base, &token_url, &support);
    c["service_account_json"] = json!(other.service_account_json());
    let ds = create_ds(
        &s,
        json!({"type": "google_drive", "name": "W", "config": c}),
    )
    .await;
    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["ok"], false);
    let msg = t.body["message"].as_str().unwrap();
    assert!(msg.contains("config.service_account_json"), "{msg}");
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st = wait_synced(&s, &ds, Duration::from_secs(30)).await;
    assert_eq!(st["status"], "failed", "{st}");
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    let err = r.body["last_error"].as_str().unwrap();
    assert!(err.contains("config.service_account_json"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}
