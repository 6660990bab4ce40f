//! The Notion connector, driven by the real sync job against a loopback Notion workspace that
//! speaks Notion's wire format (search, block children, auth, version header, errors).

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::time::{Duration, Instant};
use twig_core::datasource::DataSourceStatus;
use twig_core::document::StoredChunk;
use twig_core::ingest::Ingestor;
use twig_loopback::notion::{Block, Notion, Parent};
use twig_loopback::Served;

const TOKEN: &str = "secret_integration_token";

struct Rig {
    job: support::SyncRig,
    notion: Notion,
    _served: Served,
}

impl Deref for Rig {
    type Target = support::SyncRig;
    fn deref(&self) -> &support::SyncRig {
        &self.job
    }
}

/// A sync job runner over a fresh store, and a `notion` source on the served workspace.
async fn rig(notion: Notion, config: Value) -> Rig {
    let served = notion.serve().await.unwrap();
    let mut config = config;
    config["base_url"] = json!(served.origin);
    let job = support::SyncRig::new("notion", config).await;
    Rig {
        job,
        notion,
        _served: served,
    }
}

/// Pages fetched (block children listed at the top level) since the log was cleared.
fn pages_fetched(n: &Notion, pages: &[&String]) -> BTreeSet<String> {
    n.children_fetched()
        .into_iter()
        .filter(|id| pages.contains(&id))
        .collect()
}

struct Wiki {
    eng: String,
    runbooks: String,
    onboarding: String,
    recipes: String,
    /// A page inside a toggle of Runbooks (its parent is a block).
    nested: String,
}

/// A small workspace, each page edited 10 minutes after the previous one.
fn wiki(n: &Notion) -> Wiki {
    let step = Duration::from_secs(600);
    let eng = n.add_page(
        "Engineering",
        Parent::Workspace,
        &[Block::paragraph("The engineering handbook home.")],
    );
    n.advance(step);
    let runbooks = n.add_page(
        "Runbooks",
        Parent::Page(eng.clone()),
        &[
            Block::paragraph("How we run the platform."),
            Block::heading(1, "Deploys"),
            Block::text("numbered_list_item", "Build the release")
                .with_children(vec![Block::text("bulleted_list_item", "staging first")]),
            Block::text("numbered_list_item", "Ship it"),
            Block::heading(2, "Rollback"),
            Block::code("bash", "git revert HEAD && make deploy"),
            Block::text("toggle", "Subpages and details")
                .with_children(vec![Block::paragraph("Ask the on-call engineer.")]),
            Block::table(&[&["Service", "Owner"], &["api", "Team Falcon"]]),
            Block::divider(),
            Block::heading(1, "Incidents"),
            Block::text("quote", "Blameless postmortems, always."),
        ],
    );
    n.advance(step);
    let onboarding = n.add_page(
        "Onboarding",
        Parent::Page(eng.clone()),
        &[
            Block::to_do("Get a laptop", true),
            Block::to_do("Read the handbook", false),
            Block::text("callout", "Welcome aboard")
                .with_children(vec![Block::paragraph("Your buddy will reach out.")]),
        ],
    );
    n.advance(step);
    let recipes = n.add_page(
        "Recipes",
        Parent::Workspace,
        &[Block::paragraph("Lacinato kale soup with beans.")],
    );
    n.advance(step);
    let toggle = n
        .blocks_of(&runbooks)
        .into_iter()
        .nth(6)
        .expect("the toggle block");
    let nested = n.add_page(
        "Pager duty",
        Parent::Block(toggle),
        &[Block::paragraph("The pager rotates every Monday.")],
    );
    n.advance(step);
    Wiki {
        eng,
        runbooks,
        onboarding,
        recipes,
        nested,
    }
}

fn chunk_with<'a>(chunks: &'a [StoredChunk], needle: &str) -> &'a StoredChunk {
    chunks
        .iter()
        .find(|c| c.text.contains(needle))
        .unwrap_or_else(|| panic!("no chunk with {needle:?}: {chunks:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn syncs_pages_with_heading_paths_then_only_what_changed() {
    let n = Notion::new(TOKEN);
    // Two results per answer: search and block children both paginate.
    n.set_max_page_size(2);
    let w = wiki(&n);
    let rig = rig(n.clone(), json!({"token": TOKEN})).await;

    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(
        docs.keys().cloned().collect::<BTreeSet<_>>(),
        [&w.eng, &w.runbooks, &w.onboarding, &w.recipes, &w.nested]
            .into_iter()
            .cloned()
            .collect::<BTreeSet<_>>()
    );
    let (doc, chunks) = &docs[&w.runbooks];
    assert_eq!(doc.title, "Runbooks");
    assert_eq!(doc.metadata["source"], "notion");
    assert_eq!(doc.metadata["parent_type"], "page");
    assert_eq!(doc.metadata["parent_id"], json!(w.eng));
    assert!(doc.metadata["last_edited_time"]
        .as_str()
        .unwrap()
        .ends_with(":00.000Z"));
    assert!(doc
        .url
        .as_deref()
        .unwrap()
        .ends_with(&w.runbooks.replace('-', "")));
    let deploys = chunk_with(chunks, "Build the release");
    assert_eq!(deploys.heading_path, ["Runbooks", "Deploys"]);
    assert!(
        deploys
            .text
            .contains("1. Build the release\n   - staging first\n2. Ship it"),
        "{}",
        deploys.text
    );
    let rollback = chunk_with(chunks, "git revert");
    assert_eq!(rollback.heading_path, ["Runbooks", "Deploys", "Rollback"]);
    assert!(rollback
        .text
        .contains("```bash\ngit revert HEAD && make deploy\n```"));
    assert!(
        rollback.text.contains("Ask the on-call engineer."),
        "toggle children"
    );
    assert!(
        rollback.text.contains("Pager duty"),
        "the nested subpage's link"
    );
    assert!(rollback
        .text
        .contains("| Service | Owner |\n| --- | --- |\n| api | Team Falcon |"));
    let incidents = chunk_with(chunks, "Blameless");
    assert_eq!(incidents.heading_path, ["Runbooks", "Incidents"]);
    let (_, onboarding) = &docs[&w.onboarding];
    let todo = chunk_with(onboarding, "Get a laptop");
    assert!(todo
        .text
        .contains("- [x] Get a laptop\n- [ ] Read the handbook"));
    assert!(todo
        .text
        .contains("💡 Welcome aboard\nYour buddy will reach out."));
    let (nested, _) = &docs[&w.nested];
    assert_eq!(nested.metadata["parent_type"], "block");
    let before: BTreeMap<String, Vec<String>> = docs
        .iter()
        .map(|(k, (_, c))| (k.clone(), c.iter().map(|c| c.id.to_string()).collect()))
        .collect();

    // An hour later: Onboarding is edited, Recipes archived.
    n.advance(Duration::from_secs(3600));
    n.set_blocks(
        &w.onboarding,
        &[Block::paragraph(
            "Onboarding now starts with a security briefing.",
        )],
    );
    n.archive(&w.recipes);
    n.clear_log();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let all = [&w.eng, &w.runbooks, &w.onboarding, &w.recipes, &w.nested];
    // The edited page, and the newest page of the last sync (inside the margin): no others.
    assert_eq!(
        pages_fetched(&n, &all),
        [w.onboarding.clone(), w.nested.clone()].into()
    );
    let docs = rig.docs().await;
    assert!(!docs.contains_key(&w.recipes), "archived pages are removed");
    assert_eq!(docs.len(), 4);
    let texts: Vec<&str> = docs[&w.onboarding]
        .1
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("security briefing")),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("laptop")));
    for (k, (_, chunks)) in &docs {
        let ids: Vec<String> = chunks.iter().map(|c| c.id.to_string()).collect();
        if *k == w.onboarding {
            assert_ne!(ids, before[k], "the edited page is re-indexed");
        } else {
            assert_eq!(&ids, &before[k], "{k}: unchanged pages keep their chunks");
        }
    }

    // A page no longer shared with the integration goes too.
    n.unshare(&w.eng);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(!rig.docs().await.contains_key(&w.eng));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_saved_cursor_lists_again_from_the_top() {
    let n = Notion::new(TOKEN);
    let w = wiki(&n);
    let rig = rig(n.clone(), json!({"token": TOKEN})).await;
    // As if a sync had stopped after a page whose cursor named Recipes, since archived.
    rig.store
        .save_sync_cursor(
            &rig.ds.id,
            Some(&json!({"cursor": {"since": null, "start": w.recipes, "high": null}, "completed": 0})),
        )
        .await
        .unwrap();
    n.archive(&w.recipes);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(n.search_cursors()[0].as_deref(), Some(w.recipes.as_str()));
    assert_eq!(rig.docs().await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn root_page_ids_restrict_to_those_pages_and_their_descendants() {
    let n = Notion::new(TOKEN);
    let w = wiki(&n);
    // A database under a root: its rows are in scope through the database's parent.
    let alerts = n.add_database("Alerts", Parent::Page(w.runbooks.clone()));
    let row = n.add_page(
        "Disk full",
        Parent::Database(alerts),
        &[Block::paragraph(
            "Free space on the volume, then page storage.",
        )],
    );
    let elsewhere = n.add_database("Menu", Parent::Page(w.recipes.clone()));
    n.add_page(
        "Soup of the day",
        Parent::Database(elsewhere),
        &[Block::paragraph("Not under the root.")],
    );
    // Dashes are optional in ids.
    let root = w.runbooks.replace('-', "").to_uppercase();
    let scoped = rig(n.clone(), json!({"token": TOKEN, "root_page_ids": [root]})).await;
    let t = scoped.files.test_connection(&scoped.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.message, "Connection successful, found 3 pages");
    assert_eq!(t.items_found, Some(3));
    let ds = scoped.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let keys: BTreeSet<String> = scoped.docs().await.into_keys().collect();
    assert_eq!(
        keys,
        [w.runbooks.clone(), w.nested.clone(), row.clone()].into()
    );
    let docs = scoped.docs().await;
    assert_eq!(docs[&row].0.title, "Disk full", "a row's title column");
    assert_eq!(docs[&row].0.metadata["parent_type"], "database");
    assert!(
        docs[&w.runbooks]
            .1
            .iter()
            .any(|c| c.text.contains("Alerts")),
        "the database's link"
    );

    // A root the integration cannot see is named by the connection test.
    n.unshare(&w.onboarding);
    let two = rig(
        n.clone(),
        json!({"token": TOKEN, "root_page_ids": [w.runbooks, w.onboarding]}),
    )
    .await;
    let t = two.files.test_connection(&two.ds).await.unwrap();
    assert!(!t.ok);
    assert_eq!(
        t.message,
        format!(
            "config.root_page_ids: {} not shared with the integration (in Notion: the page's ••• menu, Connections)",
            w.onboarding
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_test_counts_shared_pages() {
    let n = Notion::new(TOKEN);
    n.set_max_page_size(2);
    wiki(&n);
    let good = rig(n.clone(), json!({"token": TOKEN})).await;
    let t = good.files.test_connection(&good.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.message, "Connection successful, found 5 pages");
    assert_eq!(t.items_found, Some(5));

    let bad = rig(Notion::new(TOKEN), json!({"token": "secret_wrong"})).await;
    let t = bad.files.test_connection(&bad.ds).await.unwrap();
    assert!(!t.ok);
    assert!(t.message.contains("API token is invalid"), "{}", t.message);
    assert!(t.message.contains("config.token"), "{}", t.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_fails_at_once_naming_the_field() {
    let n = Notion::new(TOKEN);
    wiki(&n);
    let rig = rig(n.clone(), json!({"token": "secret_wrong"})).await;
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert_eq!(
        err,
        "Notion answered 401 Unauthorized: API token is invalid.; check config.token"
    );
    assert_eq!(rig.notion.faults.requests(), 1, "no retries");
    assert!(rig.docs().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_storm_is_retried_then_fails_clearly() {
    let n = Notion::new(TOKEN);
    wiki(&n);
    let rig = rig(n.clone(), json!({"token": TOKEN})).await;
    n.faults.always(Some(500));
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    assert_eq!(
        ds.last_error.as_deref(),
        Some("Notion answered 500 Internal Server Error: injected 500 (after 3 attempts)")
    );
    // 3 attempts per call, 5 attempts of the job.
    assert_eq!(n.faults.requests(), 15);

    // Once Notion recovers, the next sync completes.
    n.faults.always(None);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(rig.docs().await.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let n = Notion::new(TOKEN);
    wiki(&n);
    let rig = rig(n.clone(), json!({"token": TOKEN})).await;
    n.faults.throttle_next(2);
    let t = Instant::now();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(rig.docs().await.len(), 5);
}

#[tokio::test]
async fn the_version_header_and_auth_are_required_by_the_loopback() {
    // The connector's tests are only as good as the server's strictness.
    let n = Notion::new(TOKEN);
    let s = n.serve().await.unwrap();
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/v1/search", s.origin))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "missing_version");
    let r = c
        .post(format!("{}/v1/search", s.origin))
        .header("Notion-Version", "2022-06-28")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "error");
    assert_eq!(body["code"], "unauthorized");
}
