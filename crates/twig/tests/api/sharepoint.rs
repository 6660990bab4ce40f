//! SharePoint data sources end to end: the real server syncing a loopback Microsoft Graph.

use crate::helpers::{assert_error, TestServer};
use crate::ingest::{
    create_ds, documents, search, sync_killed_midway, wait_synced, wait_synced_after,
};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;
use twig_loopback::msgraph::FakeGraph;

const ENV: &[(&str, &str)] = crate::helpers::CONNECTOR_ENV;

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

fn config(base: &str, login: &str, secret: &str) -> Value {
    json!({
        "site_url": "https://contoso.sharepoint.com/sites/Support",
        "tenant_id": TENANT, "client_id": CLIENT, "client_secret": secret,
        "base_url": base, "login_base_url": login,
    })
}

/// A site whose "Documents" library holds `n` runbooks in two folders, and one site page.
fn populate(g: &FakeGraph, n: usize) -> String {
    let site = g.add_site("contoso.sharepoint.com", "Support", "Support Center");
    let lib = g.add_library(&site, "Documents");
    for i in 0..n {
        g.add_file(
            &lib,
            &format!(
                "/Runbooks/{}/runbook-{i}.md",
                if i % 2 == 0 { "Even" } else { "Odd" }
            ),
            "text/markdown",
            format!("# Steps\n\nRunbook {i} restarts service number {i} with care.").as_bytes(),
        );
    }
    g.add_page(
        &site,
        "Escalation",
        &["<h2>Tiers</h2><p>Page the duty manager after ten minutes.</p>"],
    );
    lib
}

#[tokio::test]
async fn a_site_syncs_survives_kill_9_and_resyncs_only_changes() {
    let g = FakeGraph::new(TENANT, CLIENT, "s3cret");
    let (_served, base, login) = g.serve().await.unwrap();
    populate(&g, 120);
    g.set_page_size(5);
    // Slow enough that a sync is caught between its pages.
    g.faults.set_latency(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    let ds = create_ds(
        &s,
        json!({"type": "sharepoint", "name": "Support", "config": config(&base, &login, "s3cret")}),
    )
    .await;
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(r.body["config"]["client_secret"], "********", "{}", r.text);
    assert!(!r.text.contains("s3cret"));

    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        t.body,
        json!({"ok": true, "message": "Connection successful, found 120 files", "items_found": 120})
    );

    let st = sync_killed_midway(&mut s, dir.path(), ENV, &ds, 40).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&s, &ds).await;
    assert_eq!(docs.len(), 121, "120 files and the page, none lost");
    let titles: HashSet<&str> = docs.iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles.len(), 121, "none duplicated");
    let hits = search(&s, "duty manager", &ds).await;
    assert_eq!(hits[0]["document_title"], "Escalation", "{hits:?}");

    // An edit reaches search on the next sync, which reads only the delta.
    g.faults.set_latency(Duration::ZERO);
    let d7 = docs.iter().find(|d| d["title"] == "runbook-7.md").unwrap();
    assert!(
        d7["url"]
            .as_str()
            .unwrap()
            .ends_with("/Shared%20Documents/Runbooks/Odd/runbook-7.md"),
        "{d7}"
    );
    assert_eq!(d7["metadata"]["folder_path"], "/Runbooks/Odd", "{d7}");
    let item = d7["metadata"]["item_id"].as_str().unwrap().to_owned();
    g.edit_file(
        &item,
        b"# Steps\n\nRunbook 7 now drains the queue before restarting.",
    );
    let before = st["last_synced_at"].as_str().map(str::to_owned);
    // `last_synced_at` has whole seconds: let the next sync end in a later one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // last_synced_at has whole seconds: let the next one differ.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st = wait_synced_after(&s, &ds, before.as_deref(), Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(g.changed_served(), 1, "only the edited file");
    let hits = search(&s, "drains the queue", &ds).await;
    assert_eq!(hits[0]["document_title"], "runbook-7.md", "{hits:?}");
    assert_eq!(documents(&s, &ds).await.len(), 121);
}

#[tokio::test]
async fn bad_config_and_bad_credentials_are_told_clearly() {
    let g = FakeGraph::new(TENANT, CLIENT, "s3cret");
    let (_served, base, login) = g.serve().await.unwrap();
    populate(&g, 3);
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    for (kind, patch, field) in [
        ("sharepoint", json!({"site_url": null}), "config.site_url"),
        (
            "sharepoint",
            json!({"site_url": "sharepoint"}),
            "config.site_url",
        ),
        (
            "sharepoint",
            json!({"tenant_id": "contoso"}),
            "config.tenant_id",
        ),
        (
            "sharepoint",
            json!({"client_id": "my-app"}),
            "config.client_id",
        ),
        (
            "sharepoint",
            json!({"client_secret": null}),
            "config.client_secret",
        ),
        (
            "sharepoint",
            json!({"include_pages": "yes"}),
            "config.include_pages",
        ),
        (
            "sharepoint",
            json!({"base_url": "ftp://x"}),
            "config.base_url",
        ),
        (
            "sharepoint",
            json!({"login_base_url": "x"}),
            "config.login_base_url",
        ),
        ("onedrive", json!({"site_url": null}), "config.user"),
        (
            "onedrive",
            json!({"site_url": null, "user": "ada@contoso.com", "client_secret": null}),
            "config.client_secret",
        ),
    ] {
        let mut c = config(&base, &login, "s3cret");
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        if kind == "onedrive" {
            c.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        }
        let r = s
            .post(
                "/api/v1/data-sources",
                &key,
                json!({"type": kind, "name": "W", "config": c}),
            )
            .await;
        let msg = assert_error(&r, 400, "invalid_request");
        assert!(msg.contains(field), "{field}: {msg}");
    }
    assert_eq!(s.get("/api/v1/data-sources", &key).await.body["total"], 0);

    let ds = create_ds(
        &s,
        json!({"type": "sharepoint", "name": "W", "config": config(&base, &login, "revoked")}),
    )
    .await;
    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["ok"], false);
    let msg = t.body["message"].as_str().unwrap();
    assert!(
        msg.contains("AADSTS7000215") && msg.contains("config.client_secret"),
        "{msg}"
    );
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st = wait_synced(&s, &ds, Duration::from_secs(30)).await;
    assert_eq!(st["status"], "failed", "{st}");
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    let err = r.body["last_error"].as_str().unwrap();
    assert!(err.contains("config.client_secret"), "{err}");
}
