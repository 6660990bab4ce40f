//! The SharePoint and OneDrive connectors through the real sync job, against a loopback
//! Microsoft Graph and identity platform.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::{Duration, Instant};
use twig_core::datasource::DataSourceStatus;
use twig_core::document::{Document, DocumentStatus};
use twig_core::ingest::Ingestor;
use twig_loopback::msgraph::FakeGraph;
use twig_loopback::Served;

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "s3cret~value";

struct Rig {
    job: support::SyncRig,
    graph: FakeGraph,
    _served: Served,
}

impl Deref for Rig {
    type Target = support::SyncRig;
    fn deref(&self) -> &support::SyncRig {
        &self.job
    }
}

/// A support site: "Documents" (guides in folders, a logo) and "Archive", plus one site page.
struct Support {
    ports: String,
    old: String,
    page: String,
}

fn populate_site(g: &FakeGraph) -> Support {
    let site = g.add_site("contoso.sharepoint.com", "Support", "Support Center");
    let docs = g.add_library(&site, "Documents");
    let archive = g.add_library(&site, "Archive");
    g.add_file(
        &docs,
        "/Guides/setup.md",
        "text/markdown",
        b"# Setup\n\nRun the installer with the --locked flag.",
    );
    let ports = g.add_file(
        &docs,
        "/Guides/Network/ports.txt",
        "text/plain",
        b"The API listens on port 8080.",
    );
    g.add_file(
        &docs,
        "/logo.png",
        "image/png",
        b"\x89PNG\r\n\x1a\nnot really",
    );
    let old = g.add_file(
        &archive,
        "/2019/old.txt",
        "text/plain",
        b"The 2019 rota is retired.",
    );
    let page = g.add_page(
        &site,
        "Escalation",
        &["<h2>Tiers</h2><p>Call the on-call lead first.</p>"],
    );
    Support { ports, old, page }
}

async fn rig(kind: &str, config: Value) -> Rig {
    let graph = FakeGraph::new(TENANT, CLIENT, SECRET);
    // Small pages, so a walk takes several delta pages.
    graph.set_page_size(2);
    let (served, base, login) = graph.serve().await.unwrap();
    let mut cfg = json!({
        "base_url": base, "login_base_url": login,
        "tenant_id": TENANT, "client_id": CLIENT, "client_secret": SECRET,
    });
    if kind == "sharepoint" {
        cfg["site_url"] = json!("https://contoso.sharepoint.com/sites/Support");
    } else {
        cfg["user"] = json!("ada@contoso.com");
    }
    for (k, v) in config.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let job = support::SyncRig::tuned(kind, cfg, |c| {
        c.connector_retry.max_inline_wait = Duration::from_secs(3);
        c.limits.max_file_bytes = 64 * 1024;
    })
    .await;
    Rig {
        job,
        graph,
        _served: served,
    }
}

impl Rig {
    /// Documents by title (chunks left out).
    async fn docs(&self) -> BTreeMap<String, Document> {
        self.job
            .docs()
            .await
            .into_values()
            .map(|(d, _)| (d.title.clone(), d))
            .collect()
    }

    async fn chunks_of(&self, title: &str) -> Vec<(Vec<String>, String)> {
        let docs = self.docs().await;
        let d = &docs[title];
        let (_, chunks) = self
            .store
            .documents()
            .document_with_chunks(&d.id)
            .await
            .unwrap()
            .unwrap();
        chunks
            .into_iter()
            .map(|c| (c.heading_path, c.text))
            .collect()
    }

    async fn text_of(&self, title: &str) -> String {
        self.chunks_of(title)
            .await
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn titles(docs: &BTreeMap<String, Document>) -> Vec<&str> {
    docs.keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_site_syncs_libraries_and_pages_then_only_what_changed() {
    let rig = rig("sharepoint", json!({})).await;
    let s = populate_site(&rig.graph);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    // Both libraries and the page; the logo is not knowledge.
    assert_eq!(
        titles(&docs),
        ["Escalation", "old.txt", "ports.txt", "setup.md"]
    );
    assert!(docs.values().all(|d| d.status == DocumentStatus::Indexed));
    let ports = &docs["ports.txt"];
    assert_eq!(ports.metadata["source"], json!("sharepoint"));
    assert_eq!(ports.metadata["site"], json!("Support Center"));
    assert_eq!(ports.metadata["library"], json!("Documents"));
    assert_eq!(ports.metadata["folder_path"], json!("/Guides/Network"));
    assert_eq!(ports.metadata["author"], json!("Grace Writer"));
    assert!(ports.metadata["updated_at"].is_string());
    assert_eq!(
        ports.url.as_deref(),
        Some("https://contoso.sharepoint.com/sites/Support/Shared%20Documents/Guides/Network/ports.txt")
    );
    assert_eq!(docs["old.txt"].metadata["library"], json!("Archive"));
    assert!(rig.text_of("setup.md").await.contains("--locked"));
    let page = rig.chunks_of("Escalation").await;
    assert!(
        page.iter()
            .any(|(h, t)| h == &["Escalation", "Tiers"] && t.contains("on-call lead")),
        "{page:?}"
    );
    assert_eq!(
        docs["Escalation"].url.as_deref(),
        Some("https://contoso.sharepoint.com/sites/Support/SitePages/Escalation.aspx")
    );
    assert_eq!(
        rig.graph.changed_served(),
        0,
        "a first sync walks everything"
    );
    assert!(
        rig.graph.hits("delta") >= 3,
        "several delta pages were read"
    );

    // Edit, add, delete; edit the page: the next sync reads only the delta.
    rig.graph
        .edit_file(&s.ports, b"The API now listens on port 9090.");
    let docs_lib = docs["setup.md"].metadata["drive_id"]
        .as_str()
        .unwrap()
        .to_owned();
    rig.graph.add_file(
        &docs_lib,
        "/Guides/backup.md",
        "text/markdown",
        b"# Backups\n\nNightly at 02:00.",
    );
    rig.graph.delete_item(&s.old);
    rig.graph.edit_page(
        &s.page,
        &["<h2>Tiers</h2><p>Call the duty manager first.</p>"],
    );
    let downloads = rig.graph.hits("content");
    let page_reads = rig.graph.hits("page");
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(
        rig.graph.changed_served(),
        3,
        "the edited, the new and the deleted file only"
    );
    assert_eq!(
        rig.graph.hits("content") - downloads,
        2,
        "only changed files are downloaded"
    );
    assert_eq!(
        rig.graph.hits("page") - page_reads,
        1,
        "only the edited page is read"
    );
    let docs = rig.docs().await;
    assert_eq!(
        titles(&docs),
        ["Escalation", "backup.md", "ports.txt", "setup.md"]
    );
    let ports = rig.text_of("ports.txt").await;
    assert!(ports.contains("9090") && !ports.contains("8080"), "{ports}");
    assert!(rig.text_of("Escalation").await.contains("duty manager"));

    // A deleted page goes on the next sync.
    rig.graph.delete_page(&s.page);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(!rig.docs().await.contains_key("Escalation"));
}

#[tokio::test(flavor = "multi_thread")]
async fn library_and_include_pages_limit_a_site() {
    let rig = rig(
        "sharepoint",
        json!({"library": "Archive", "include_pages": false}),
    )
    .await;
    populate_site(&rig.graph);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(titles(&rig.docs().await), ["old.txt"]);
    assert_eq!(rig.graph.hits("pages"), 0);

    // "Shared Documents" (the URL name) finds the "Documents" library too.
    let by_url = self::rig("sharepoint", json!({"library": "Shared Documents"})).await;
    populate_site(&by_url.graph);
    let ds = by_url.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(
        titles(&by_url.docs().await),
        ["Escalation", "ports.txt", "setup.md"]
    );

    let missing = self::rig("sharepoint", json!({"library": "Nope"})).await;
    populate_site(&missing.graph);
    let ds = missing.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(
        err.contains("config.library") && err.contains("Archive"),
        "{err}"
    );

    let nosite = self::rig(
        "sharepoint",
        json!({"site_url": "https://contoso.sharepoint.com/sites/Nope"}),
    )
    .await;
    populate_site(&nosite.graph);
    let ds = nosite.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    assert!(ds.last_error.unwrap().contains("config.site_url"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_onedrive_folder_syncs_with_a_token_refreshed_mid_sync() {
    let rig = rig("onedrive", json!({"folder_path": "/Work/"})).await;
    let g = &rig.graph;
    let drive = g.add_user_drive("ada@contoso.com");
    g.add_file(
        &drive,
        "/Work/plan.md",
        "text/markdown",
        b"# Plan\n\nShip the connector.",
    );
    let notes = g.add_file(
        &drive,
        "/Work/Sub/notes.txt",
        "text/plain",
        b"Notes from the planning meeting.",
    );
    g.add_file(&drive, "/Personal/diary.txt", "text/plain", b"Dear diary.");
    g.add_file(&drive, "/Workshop/other.txt", "text/plain", b"Not in Work.");
    // Tokens live 2 s and each request takes 150 ms: the sync outlives its first token.
    g.set_token_lifetime(2);
    g.set_page_size(1);
    g.faults.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(
        t.elapsed() > Duration::from_secs(2),
        "the sync outlived a token"
    );
    assert!(
        g.hits("token") >= 2,
        "the token was refreshed: {}",
        g.hits("token")
    );
    let docs = rig.docs().await;
    assert_eq!(titles(&docs), ["notes.txt", "plan.md"]);
    let n = &docs["notes.txt"];
    assert_eq!(n.metadata["source"], json!("onedrive"));
    assert_eq!(n.metadata["drive"], json!("OneDrive"));
    assert_eq!(n.metadata["folder_path"], json!("/Work/Sub"));

    g.faults.set_latency(Duration::ZERO);
    g.delete_item(&notes);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(titles(&rig.docs().await), ["plan.md"]);

    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.message, "Connection successful, found 1 files");

    let nobody = self::rig("onedrive", json!({"user": "nobody@contoso.com"})).await;
    nobody.graph.add_user_drive("ada@contoso.com");
    let ds = nobody.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    assert!(ds.last_error.unwrap().contains("config.user"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_delta_link_walks_again_and_prunes() {
    let rig = rig("sharepoint", json!({"include_pages": false})).await;
    let s = populate_site(&rig.graph);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(rig.docs().await.len(), 3);
    rig.graph.delete_item(&s.ports);
    rig.graph.expire_delta_tokens();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(
        titles(&rig.docs().await),
        ["old.txt", "setup.md"],
        "the file deleted behind the expired link is pruned"
    );
    assert_eq!(rig.graph.changed_served(), 0, "the walk started over");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_fail_at_once_with_the_identity_platforms_reason() {
    let bad = rig("sharepoint", json!({"client_secret": "wrong"})).await;
    populate_site(&bad.graph);
    let ds = bad.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.clone().unwrap();
    assert!(
        err.contains("AADSTS7000215") && err.contains("config.client_secret"),
        "{err}"
    );
    assert!(!err.contains("Trace ID"), "{err}");
    assert_eq!(bad.graph.hits("token"), 1, "no retries");
    assert_eq!(bad.graph.hits("site"), 0);
    let t = bad.files.test_connection(&ds).await.unwrap();
    assert!(
        !t.ok && t.message.contains("config.client_secret"),
        "{}",
        t.message
    );

    let tenant = rig("onedrive", json!({"tenant_id": "fabrikam.onmicrosoft.com"})).await;
    let ds = tenant.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(
        err.contains("AADSTS90002") && err.contains("config.tenant_id"),
        "{err}"
    );

    let app = rig(
        "onedrive",
        json!({"client_id": "99999999-2222-3333-4444-555555555555"}),
    )
    .await;
    let ds = app.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    assert!(ds.last_error.unwrap().contains("config.client_id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_waited_out_and_a_server_error_storm_fails_clearly() {
    let rig = rig("sharepoint", json!({})).await;
    populate_site(&rig.graph);
    rig.graph.faults.throttle_next(1);
    let t = Instant::now();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured"
    );
    assert_eq!(rig.docs().await.len(), 4);

    let storm = self::rig("sharepoint", json!({})).await;
    populate_site(&storm.graph);
    storm.graph.faults.always(Some(500));
    let ds = storm.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(err.contains("500") && err.contains("attempts"), "{err}");
    assert!(
        storm.graph.faults.requests() >= 3,
        "server errors are retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_test_counts_files_and_big_files_are_skipped() {
    let rig = rig("sharepoint", json!({})).await;
    populate_site(&rig.graph);
    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.items_found, Some(3));
    assert_eq!(t.message, "Connection successful, found 3 files");

    let docs = rig.docs().await;
    assert!(docs.is_empty(), "a test syncs nothing");
    let lib = {
        rig.sync().await;
        rig.docs().await["setup.md"].metadata["drive_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    rig.graph
        .add_file(&lib, "/huge.txt", "text/plain", &vec![b'a'; 100 * 1024]);
    let downloads = rig.graph.hits("content");
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Partial, "{:?}", ds.last_error);
    let huge = &rig.docs().await["huge.txt"];
    assert_eq!(huge.status, DocumentStatus::Failed);
    assert!(huge.error.as_deref().unwrap().contains("max_file_bytes"));
    assert_eq!(
        rig.graph.hits("content"),
        downloads,
        "skipped by size, not downloaded"
    );
}
