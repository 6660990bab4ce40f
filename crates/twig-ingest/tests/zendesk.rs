//! The Zendesk connector, synced by the real job runner against a loopback Help Center that
//! speaks Zendesk's wire format.

mod support;

use serde_json::{json, Value};
use std::ops::Deref;
use std::time::{Duration, Instant};
use twig_core::datasource::DataSourceStatus;
use twig_core::ingest::Ingestor;
use twig_loopback::zendesk::{HelpCenter, NewArticle};
use twig_loopback::Served;

const EMAIL: &str = "agent@acme.example";
const TOKEN: &str = "zd-token-123";

struct Rig {
    job: support::SyncRig,
    hc: HelpCenter,
    _served: Served,
}

impl Deref for Rig {
    type Target = support::SyncRig;
    fn deref(&self) -> &support::SyncRig {
        &self.job
    }
}

async fn rig(hc: HelpCenter, extra: Value) -> Rig {
    rig_pruning_every(hc, extra, 1).await
}

/// A rig whose syncs list every article (to prune) only every `prune_every` syncs.
async fn rig_pruning_every(hc: HelpCenter, extra: Value, prune_every: u32) -> Rig {
    let served = hc.serve().await.unwrap();
    let mut cfg = json!({
        "subdomain": "acme",
        "email": EMAIL,
        "api_token": TOKEN,
        "base_url": served.origin,
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let job = support::SyncRig::tuned("zendesk", cfg, move |c| c.prune_every = prune_every).await;
    Rig {
        job,
        hc,
        _served: served,
    }
}

fn key(id: u64) -> String {
    format!("article:{id}")
}

const GUIDE: &str = "<p>Open the billing page to find every invoice.</p>\
    <h2>Downloading a PDF</h2><p>Press the download button next to the invoice.</p>\
    <h3>Old invoices</h3><p>Invoices older than seven years are archived by law.</p>";

#[tokio::test(flavor = "multi_thread")]
async fn syncs_published_articles_then_only_what_changed() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    hc.set_page_size(2); // several export pages per sync
    let billing = hc.add_category("Billing");
    let invoices = hc.add_section(billing, "Invoices");
    let a = hc.add_article(NewArticle {
        section_id: invoices,
        title: "Finding invoices".into(),
        body: GUIDE.into(),
        labels: vec!["billing".into(), "pdf".into()],
        ..NewArticle::default()
    });
    let b = hc.add(
        invoices,
        "Refunds",
        "<p>Refunds reach your card within five days.</p>",
    );
    let c = hc.add(
        invoices,
        "VAT",
        "<p>VAT numbers go on the company profile.</p>",
    );
    let draft = hc.add_article(NewArticle {
        section_id: invoices,
        title: "Unreleased plan".into(),
        body: "<p>The platinum plan launches next spring.</p>".into(),
        draft: true,
        ..NewArticle::default()
    });
    let e = hc.add(
        invoices,
        "Receipts",
        "<p>Receipts are mailed after payment.</p>",
    );
    let rig = rig(hc, json!({})).await;

    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        [key(a), key(b), key(c), key(e)],
        "published articles only"
    );
    assert!(!docs.contains_key(&key(draft)));
    let (doc_a, chunks_a) = &docs[&key(a)];
    assert_eq!(doc_a.title, "Finding invoices");
    assert!(doc_a
        .url
        .as_deref()
        .unwrap()
        .contains(&format!("/hc/en-us/articles/{a}-")));
    assert_eq!(doc_a.metadata["source"], "zendesk");
    assert_eq!(doc_a.metadata["category"], "Billing");
    assert_eq!(doc_a.metadata["section"], "Invoices");
    assert_eq!(doc_a.metadata["labels"], json!(["billing", "pdf"]));
    assert_eq!(doc_a.metadata["author_id"], 9001);
    assert_eq!(doc_a.metadata["locale"], "en-us");
    let updated = doc_a.metadata["updated_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(updated).is_ok(),
        "{updated}"
    );
    let paths: Vec<Vec<String>> = chunks_a.iter().map(|c| c.heading_path.clone()).collect();
    assert!(
        paths.contains(&vec![
            "Billing".to_string(),
            "Invoices".into(),
            "Finding invoices".into(),
            "Downloading a PDF".into(),
            "Old invoices".into(),
        ]),
        "{paths:?}"
    );
    assert!(paths
        .iter()
        .all(|p| p[..3] == ["Billing", "Invoices", "Finding invoices"]));
    let first_export = rig.hc.exported().len();

    // Edit one, add one, archive one, unpublish one.
    rig.hc.edit_article(
        b,
        None,
        "<p>Refunds now reach your card within two days.</p>",
    );
    let f = rig.hc.add(
        invoices,
        "Credit notes",
        "<p>Credit notes cancel an invoice.</p>",
    );
    rig.hc.archive_article(c);
    rig.hc.set_draft(e, true);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        [key(a), key(b), key(f)],
        "archived and unpublished articles are removed"
    );
    let texts: String = docs[&key(b)].1.iter().map(|c| c.text.clone()).collect();
    assert!(
        texts.contains("two days") && !texts.contains("five days"),
        "{texts}"
    );
    assert_eq!(
        docs[&key(a)]
            .1
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        chunks_a.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        "an unchanged article keeps its chunks (no re-embedding)"
    );
    // The second export starts where the first ended: the changed articles, plus the last
    // one of the first sync again (the export's start time is inclusive).
    let mut second: Vec<u64> = rig.hc.exported()[first_export..].to_vec();
    second.sort();
    second.dedup();
    let mut want = vec![b, e, f];
    want.extend(rig.hc.exported()[..first_export].last());
    want.sort();
    want.dedup();
    assert_eq!(second, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn drafts_stay_out_without_waiting_for_a_prune() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    let a = hc.add(s, "Hello", "<p>Welcome aboard.</p>");
    let b = hc.add(s, "Pricing", "<p>Plans start at ten euros.</p>");
    // The first sync prunes; the second does not, so only the export can keep drafts out.
    let rig = rig_pruning_every(hc, json!({}), 1000).await;
    rig.sync().await;
    assert_eq!(rig.docs().await.len(), 2);
    let draft = rig.hc.add_article(NewArticle {
        section_id: s,
        title: "Unreleased plan".into(),
        body: "<p>The platinum plan launches next spring.</p>".into(),
        draft: true,
        ..NewArticle::default()
    });
    rig.hc.set_draft(b, true);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        [key(a)],
        "{:?}",
        docs.keys()
    );
    assert!(
        rig.hc.exported().contains(&draft),
        "the draft was in the export"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_fails_the_sync_at_once() {
    let hc = HelpCenter::new(EMAIL, "the-real-token");
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    hc.add(s, "Hello", "<p>Welcome aboard.</p>");
    let rig = rig(hc, json!({})).await;
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(err.contains("config.api_token"), "{err}");
    assert!(err.contains("Couldn't authenticate you"), "{err}");
    assert!(err.contains("401"), "{err}");
    assert_eq!(rig.hc.faults.requests(), 1, "no retries on 401");
    assert!(rig.docs().await.is_empty());

    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(!t.ok);
    assert!(t.message.contains("config.api_token"), "{}", t.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_error_storm_is_retried_then_fails_clearly() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    hc.add(s, "Hello", "<p>Welcome aboard.</p>");
    hc.faults.always(Some(500));
    let rig = rig(hc, json!({})).await;
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(err.contains("Zendesk answered 500"), "{err}");
    assert!(err.contains("after 3 attempts"), "{err}");
    // Each job attempt retried its request; the job itself was retried too.
    assert!(rig.hc.faults.requests() > 3, "{}", rig.hc.faults.requests());

    // Once the remote recovers, the next sync succeeds.
    rig.hc.faults.always(None);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(rig.docs().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_waits_as_told_by_retry_after() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    hc.add(s, "Hello", "<p>Welcome aboard.</p>");
    let rig = rig(hc, json!({})).await;
    rig.hc.faults.throttle_next(2);
    let t = Instant::now();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(rig.docs().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_end_user_s_token_is_refused_by_the_test_and_the_sync() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    hc.add(s, "Hello", "<p>Welcome aboard.</p>");
    hc.set_end_user(true);
    let rig = rig(hc, json!({})).await;
    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(!t.ok);
    assert!(
        t.message.contains("403") && t.message.contains("config.api_token"),
        "{}",
        t.message
    );
    assert!(
        t.message.contains("You do not have access"),
        "{}",
        t.message
    );
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    assert!(ds.last_error.unwrap().contains("config.api_token"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_test_counts_published_articles() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    for i in 0..3 {
        hc.add(s, &format!("Article {i}"), "<p>Text.</p>");
    }
    hc.add_article(NewArticle {
        section_id: s,
        title: "Draft".into(),
        body: "<p>Not yet.</p>".into(),
        draft: true,
        ..NewArticle::default()
    });
    let rig = rig(hc, json!({})).await;
    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.message, "Connection successful, found 3 articles");
    assert_eq!(t.items_found, Some(3));
    assert!(rig.docs().await.is_empty(), "a test does not sync");
}

#[tokio::test(flavor = "multi_thread")]
async fn locale_and_max_articles_limit_what_is_imported() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    let mut en = Vec::new();
    for i in 0..3 {
        en.push(hc.add(s, &format!("Article {i}"), "<p>English text.</p>"));
    }
    let fr = hc.add_article(NewArticle {
        section_id: s,
        title: "Bonjour".into(),
        body: "<p>Texte en français.</p>".into(),
        locale: "fr".into(),
        ..NewArticle::default()
    });
    let rig = rig(hc, json!({"locale": "en-US", "max_articles": 2})).await;
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        [key(en[0]), key(en[1])]
    );
    assert!(!docs.contains_key(&key(fr)));

    // The cap holds for the source, not per sync: a new article stays out on the next sync
    // while a change to an imported one still comes in.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let late = rig.hc.add(s, "Article late", "<p>Newer text.</p>");
    rig.hc
        .edit_article(en[1], None, "<p>Edited English text.</p>");
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        [key(en[0]), key(en[1])]
    );
    assert!(!docs.contains_key(&key(late)));
    assert!(rig
        .chunk_texts()
        .await
        .iter()
        .any(|t| t.contains("Edited English text")));
}

#[tokio::test(flavor = "multi_thread")]
async fn next_pages_on_zendesk_s_own_host_stay_on_the_base_url() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    hc.set_page_size(2);
    hc.set_public_origin("https://acme.zendesk.com");
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    for i in 0..5 {
        hc.add(s, &format!("Article {i}"), "<p>Some text.</p>");
    }
    let rig = rig(hc, json!({})).await;
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert_eq!(docs.len(), 5);
    assert!(rig.hc.export_starts().len() > 2, "several pages");
    let (d, _) = docs.values().next().unwrap();
    assert!(d
        .url
        .as_deref()
        .unwrap()
        .starts_with("https://acme.zendesk.com/hc/en-us/articles/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn solved_tickets_are_imported_with_public_comments_only() {
    let hc = HelpCenter::new(EMAIL, TOKEN);
    hc.set_public_origin("https://acme.zendesk.com");
    hc.set_page_size(2); // two export pages of tickets
    let s = hc.add_section(hc.add_category("General"), "FAQ");
    hc.add(s, "Hello", "<p>Welcome aboard.</p>");
    let solved = hc.add_ticket(
        "Printer on fire",
        "solved",
        &[
            ("My printer is on fire.", true),
            ("Internal note: customer owes us money.", false),
            ("Unplug it and call the fire brigade.", true),
        ],
    );
    let open = hc.add_ticket("Still broken", "open", &[("Nothing works.", true)]);
    let closed = hc.add_ticket("Password reset", "closed", &[("Use the reset link.", true)]);
    let rig = rig(hc, json!({"include_tickets": true})).await;
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    let tk = format!("ticket:{solved}");
    assert_eq!(docs.len(), 3, "{:?}", docs.keys());
    assert!(docs.contains_key(&format!("ticket:{closed}")));
    assert!(!docs.contains_key(&format!("ticket:{open}")));
    let text: String = docs[&tk].1.iter().map(|c| c.text.clone()).collect();
    assert!(
        text.contains("fire brigade") && text.contains("on fire"),
        "{text}"
    );
    assert!(!text.contains("owes us money"), "private comments stay out");
    assert_eq!(
        docs[&tk].0.title,
        "#".to_owned() + &solved.to_string() + " Printer on fire"
    );

    // Reopened: no longer an answer.
    rig.hc.set_ticket_status(solved, "open");
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(!rig.docs().await.contains_key(&tk));
}
