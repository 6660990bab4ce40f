//! The Confluence connector through the real sync job, against a loopback Confluence Cloud.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Deref;
use twig_core::datasource::DataSourceStatus;
use twig_core::document::{Document, DocumentStatus};
use twig_core::ingest::Ingestor;
use twig_loopback::confluence::FakeConfluence;
use twig_loopback::Served;

struct Rig {
    job: support::SyncRig,
    site: FakeConfluence,
    _served: Served,
}

impl Deref for Rig {
    type Target = support::SyncRig;
    fn deref(&self) -> &support::SyncRig {
        &self.job
    }
}

/// A site with two spaces: ENG (a tree of pages, two attachments) and HR.
fn populate(site: &FakeConfluence) -> BTreeMap<&'static str, u64> {
    let eng = site.add_space("ENG", "Engineering");
    let hr = site.add_space("HR", "People");
    let mut ids = BTreeMap::new();
    let guide = site.add_page(eng, None, "Guide", "<p>The engineering guide.</p>");
    let setup = site.add_page(
        eng,
        Some(guide),
        "Setup",
        "<h1>Install</h1><p>Run the installer with the <strong>--locked</strong> flag.</p>",
    );
    let ports = site.add_page(
        eng,
        Some(setup),
        "Ports",
        "<p>The API listens on port 8080.</p>",
    );
    site.set_labels(ports, &["networking", "ops"]);
    site.attach(
        setup,
        "notes.md",
        "text/markdown",
        b"# Notes\n\nThe installer needs 2 GB of disk.",
    );
    site.attach(
        setup,
        "diagram.png",
        "image/png",
        b"\x89PNG\r\n\x1a\nnot really",
    );
    let leave = site.add_page(
        hr,
        None,
        "Leave policy",
        "<p>Everyone gets 25 days of leave.</p>",
    );
    for (k, v) in [
        ("guide", guide),
        ("setup", setup),
        ("ports", ports),
        ("leave", leave),
    ] {
        ids.insert(k, v);
    }
    ids.insert("eng", eng);
    ids
}

async fn rig(config: Value) -> Rig {
    let site = FakeConfluence::new("ada@acme.test", "tok-123");
    let (served, base) = site.serve().await.unwrap();
    let mut cfg = json!({"base_url": base, "email": "ada@acme.test", "api_token": "tok-123"});
    for (k, v) in config.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let job =
        support::SyncRig::tuned("confluence", cfg, |c| c.limits.max_file_bytes = 64 * 1024).await;
    Rig {
        job,
        site,
        _served: served,
    }
}

impl Rig {
    /// Documents by source key (chunks left out).
    async fn docs(&self) -> BTreeMap<String, Document> {
        self.job
            .docs()
            .await
            .into_iter()
            .map(|(k, (d, _))| (k, d))
            .collect()
    }

    async fn chunks_of(&self, key: &str) -> Vec<(Vec<String>, String)> {
        let mut docs = self.job.docs().await;
        let (_, chunks) = docs.remove(key).unwrap();
        chunks
            .into_iter()
            .map(|c| (c.heading_path, c.text))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn syncs_pages_and_attachments_then_only_what_changed() {
    let rig = rig(json!({})).await;
    let ids = populate(&rig.site);
    rig.site.backdate_all(2);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    // Four pages and the markdown attachment; the image is not knowledge.
    assert_eq!(docs.len(), 5, "{:?}", docs.keys().collect::<Vec<_>>());
    assert!(docs.values().all(|d| d.status == DocumentStatus::Indexed));
    let ports = &docs[&ids["ports"].to_string()];
    assert_eq!(ports.title, "Ports");
    assert_eq!(ports.metadata["space_key"], json!("ENG"));
    assert_eq!(ports.metadata["labels"], json!(["networking", "ops"]));
    assert_eq!(
        ports.metadata["breadcrumb"],
        json!(["Engineering", "Guide", "Setup", "Ports"])
    );
    assert!(ports
        .url
        .as_deref()
        .is_some_and(|u| u.ends_with(&format!("/wiki/spaces/ENG/pages/{}/Ports", ids["ports"]))));
    let chunks = rig.chunks_of(&ids["ports"].to_string()).await;
    assert_eq!(chunks[0].0, ["Guide", "Setup", "Ports"]);
    let setup = rig.chunks_of(&ids["setup"].to_string()).await;
    assert!(setup
        .iter()
        .any(|(h, t)| h == &["Guide", "Setup", "Install"] && t.contains("--locked")));
    let notes = docs.values().find(|d| d.title == "notes.md").unwrap();
    assert!(rig
        .chunks_of(&notes.source_key)
        .await
        .iter()
        .any(|(_, t)| t.contains("2 GB of disk")));
    assert_eq!(
        rig.site.changed_served(),
        0,
        "a first sync lists everything"
    );

    // Edit one page, add one, delete one: the next sync asks only for what changed.
    rig.site
        .edit_page(ids["ports"], "<p>The API now listens on port 9090.</p>");
    let new = rig.site.add_page(
        ids["eng"],
        Some(ids["guide"]),
        "Backups",
        "<p>Nightly at 02:00.</p>",
    );
    rig.site.delete_page(ids["leave"]);
    let pages_listed = rig.site.hits("space_pages");
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(
        rig.site.hits("space_pages"),
        pages_listed,
        "no full listing again"
    );
    assert_eq!(
        rig.site.changed_served(),
        2,
        "only the edited and the new page"
    );
    let docs = rig.docs().await;
    assert!(
        !docs.contains_key(&ids["leave"].to_string()),
        "deleted pages go"
    );
    assert!(docs.contains_key(&new.to_string()));
    assert_eq!(docs.len(), 5);
    let ports = rig.chunks_of(&ids["ports"].to_string()).await;
    assert!(ports.iter().any(|(_, t)| t.contains("9090")));
    assert!(!ports.iter().any(|(_, t)| t.contains("8080")));
}

#[tokio::test(flavor = "multi_thread")]
async fn space_keys_limit_the_sync_and_lookback_skips_old_pages() {
    let rig = rig(json!({"space_key": "HR", "lookback_days": 1})).await;
    let ids = populate(&rig.site);
    let hr = rig.site.add_space("OLD", "Archive");
    rig.site.add_page(hr, None, "Ancient", "<p>Old news.</p>");
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(docs.keys().collect::<Vec<_>>(), [&ids["leave"].to_string()]);

    let old = rig_with_old_page().await;
    let ds = old.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(
        old.docs().await.len(),
        1,
        "the page older than lookback_days is skipped"
    );
}

async fn rig_with_old_page() -> Rig {
    let rig = rig(json!({"lookback_days": 30})).await;
    let s = rig.site.add_space("ENG", "Engineering");
    let old = rig.site.add_page(s, None, "Old", "<p>From last year.</p>");
    rig.site.backdate(old, 400);
    rig.site.add_page(s, None, "New", "<p>From today.</p>");
    rig
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_and_unknown_spaces_fail_at_once() {
    let bad = rig(json!({"api_token": "wrong"})).await;
    populate(&bad.site);
    let ds = bad.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.clone().unwrap();
    assert!(
        err.contains("401") && err.contains("config.api_token"),
        "{err}"
    );
    assert_eq!(bad.site.hits("spaces"), 1, "no retries on 401");
    let t = bad.files.test_connection(&ds).await.unwrap();
    assert!(
        !t.ok && t.message.contains("config.api_token"),
        "{}",
        t.message
    );

    let other = rig(json!({"space_keys": ["ENG", "NOPE"]})).await;
    populate(&other.site);
    let ds = other.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.clone().unwrap();
    assert!(
        err.contains("\"NOPE\"") && err.contains("config.space_key"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_error_storm_fails_clearly_and_throttling_is_waited_out() {
    let rig = rig(json!({})).await;
    populate(&rig.site);
    rig.site.faults.always(Some(500));
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.clone().unwrap();
    assert!(err.contains("500") && err.contains("attempts"), "{err}");
    assert!(rig.site.faults.requests() >= 3, "server errors are retried");

    rig.site.faults.always(None);
    rig.site.faults.throttle_next(1);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(rig.docs().await.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_test_counts_pages_and_big_attachments_are_skipped() {
    let rig = rig(json!({"space_keys": ["ENG"]})).await;
    let ids = populate(&rig.site);
    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.items_found, Some(3));
    assert_eq!(t.message, "Connection successful, found 3 pages");

    rig.site.attach(
        ids["guide"],
        "huge.txt",
        "text/plain",
        &vec![b'a'; 100 * 1024],
    );
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Partial, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    let huge = docs.values().find(|d| d.title == "huge.txt").unwrap();
    assert_eq!(huge.status, DocumentStatus::Failed);
    assert!(huge.error.as_deref().unwrap().contains("max_file_bytes"));
}
