//! The Google Drive connector through the real sync job, against a loopback Drive API v3 and
//! Google's token endpoint (service-account JWTs checked against the key's public half).

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::{Duration, Instant};
use twig_core::datasource::DataSourceStatus;
use twig_core::document::{Document, DocumentStatus};
use twig_core::ingest::Ingestor;
use twig_loopback::gdrive::FakeDrive;
use twig_loopback::Served;

const ACCOUNT: &str = "twig-sync@acme-support.iam.gserviceaccount.com";

struct Rig {
    job: support::SyncRig,
    drive: FakeDrive,
    _served: Served,
}

impl Deref for Rig {
    type Target = support::SyncRig;
    fn deref(&self) -> &support::SyncRig {
        &self.job
    }
}

/// A Drive with a "Support" folder (a Doc, a Sheet, Slides, a Markdown upload, a logo and a
/// sub-folder with a text file) and, outside it, a "Private" folder.
struct Support {
    support: String,
    doc: String,
    notes: String,
    private: String,
}

fn populate(d: &FakeDrive) -> Support {
    let support = d.folder(None, "Support");
    let doc = d.add_doc(
        Some(&support),
        "Returns policy",
        "# Returns\n\nItems can be returned within 30 days.\n\n## Refunds\n\nRefunds reach the card in five days.",
    );
    d.add_sheet(
        Some(&support),
        "Price list",
        "plan,price\nBasic,10\nPro,25\n",
    );
    d.add_slides(
        Some(&support),
        "Onboarding deck",
        "Welcome aboard\nThe first week is for shadowing.",
    );
    d.add_file(
        Some(&support),
        "setup.md",
        "text/markdown",
        b"# Setup\n\nRun the installer with the --locked flag.",
    );
    d.add_file(
        Some(&support),
        "logo.png",
        "image/png",
        b"\x89PNG\r\n\x1a\nnot really",
    );
    let sub = d.folder(Some(&support), "Network");
    let notes = d.add_file(
        Some(&sub),
        "ports.txt",
        "text/plain",
        b"The API listens on port 8080.",
    );
    let private = d.folder(None, "Private");
    d.add_file(
        Some(&private),
        "salaries.txt",
        "text/plain",
        b"Not for the index.",
    );
    Support {
        support,
        doc,
        notes,
        private,
    }
}

async fn rig(config: impl FnOnce(&FakeDrive, &Support) -> Value) -> (Rig, Support) {
    let drive = FakeDrive::new(ACCOUNT);
    // Small pages, so a listing and a change list take several pages.
    drive.set_page_size(2);
    let s = populate(&drive);
    let (served, base, token_url) = drive.serve().await.unwrap();
    let mut cfg = json!({
        "service_account_json": drive.service_account_json(),
        "base_url": base, "token_url": token_url,
    });
    for (k, v) in config(&drive, &s).as_object().unwrap() {
        cfg[k] = v.clone();
    }
    cfg.as_object_mut().unwrap().retain(|_, v| !v.is_null());
    let job = support::SyncRig::tuned("google_drive", cfg, |c| {
        c.connector_retry.max_inline_wait = Duration::from_secs(3);
        c.limits.max_file_bytes = 64 * 1024;
        c.prune_every = 1;
    })
    .await;
    (
        Rig {
            job,
            drive,
            _served: served,
        },
        s,
    )
}

impl Rig {
    async fn docs(&self) -> BTreeMap<String, Document> {
        self.job
            .docs()
            .await
            .into_values()
            .map(|(d, _)| (d.title.clone(), d))
            .collect()
    }

    async fn text_of(&self, title: &str) -> String {
        let docs = self.job.docs().await;
        let (_, chunks) = docs
            .values()
            .find(|(d, _)| d.title == title)
            .unwrap_or_else(|| panic!("no document {title}"));
        chunks
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn titles(docs: &BTreeMap<String, Document>) -> Vec<&str> {
    docs.keys().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_syncs_then_only_what_changed() {
    let (rig, s) = rig(|_, s| json!({"folder_ids": [s.support]})).await;
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    // Docs, Sheets, Slides and uploads of the folder and its sub-folder; not the logo, not
    // the Private folder.
    assert_eq!(
        titles(&docs),
        [
            "Onboarding deck",
            "Price list",
            "Returns policy",
            "ports.txt",
            "setup.md"
        ]
    );
    assert!(docs.values().all(|d| d.status == DocumentStatus::Indexed));
    let policy = &docs["Returns policy"];
    assert_eq!(policy.metadata["source"], json!("google_drive"));
    assert_eq!(policy.metadata["folder_id"], json!(s.support));
    assert_eq!(policy.metadata["author"], json!("Grace Writer"));
    assert_eq!(
        policy.url.as_deref(),
        Some(format!("https://docs.google.com/document/d/{}/edit", s.doc).as_str())
    );
    // Exported as Markdown: its headings survive.
    let chunks = &rig.job.docs().await[&s.doc].1;
    assert!(
        chunks
            .iter()
            .any(|c| c.heading_path.iter().any(|h| h == "Refunds") && c.text.contains("five days")),
        "{chunks:?}"
    );
    assert!(rig.text_of("Price list").await.contains("Pro"));
    assert!(rig.text_of("Onboarding deck").await.contains("shadowing"));
    assert!(rig.drive.hits("export") >= 3 && rig.drive.hits("media") >= 2);
    assert_eq!(rig.drive.changed_served(), 0, "a first sync lists");

    // Edit, add, trash, and a file moved out of the folder: the next sync reads changes only.
    rig.drive.edit(
        &s.doc,
        b"# Returns\n\nItems can be returned within 60 days.",
    );
    rig.drive.add_file(
        Some(&s.support),
        "backup.md",
        "text/markdown",
        b"# Backups\n\nNightly at 02:00.",
    );
    rig.drive.trash(&s.notes);
    let setup = docs["setup.md"].source_key.clone();
    rig.drive.move_to(&setup, &s.private);
    let (exports, media, lists) = (
        rig.drive.hits("export"),
        rig.drive.hits("media"),
        rig.drive.hits("list"),
    );
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(rig.drive.changed_served(), 4, "the four changed files only");
    assert_eq!(rig.drive.hits("export") - exports, 1, "only the edited Doc");
    assert_eq!(rig.drive.hits("media") - media, 1, "only the new upload");
    let docs = rig.docs().await;
    assert_eq!(
        titles(&docs),
        [
            "Onboarding deck",
            "Price list",
            "Returns policy",
            "backup.md"
        ]
    );
    let policy = rig.text_of("Returns policy").await;
    assert!(
        policy.contains("60 days") && !policy.contains("30 days"),
        "{policy}"
    );
    // The folder-scoped source is also listed (ids only) on this schedule: no download.
    assert!(rig.drive.hits("list") > lists);

    // A removed file (deleted for good, or unshared) goes too; a sync with no change reads
    // one change page and fetches nothing.
    rig.drive.remove(&s.doc);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(!rig.docs().await.contains_key("Returns policy"));
    let (exports, media) = (rig.drive.hits("export"), rig.drive.hits("media"));
    let served = rig.drive.changed_served();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(rig.drive.changed_served(), served);
    assert_eq!(
        (rig.drive.hits("export"), rig.drive.hits("media")),
        (exports, media)
    );

    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.message, "Connection successful, found 3 files");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_drive_or_a_shared_drive_with_a_refresh_token() {
    let (all, _) = rig(|_, _| json!({})).await;
    let ds = all.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert_eq!(
        titles(&all.docs().await),
        [
            "Onboarding deck",
            "Price list",
            "Returns policy",
            "ports.txt",
            "salaries.txt",
            "setup.md"
        ]
    );

    let (shared, _) = rig(|d, _| {
        d.allow_oauth(
            "c1.apps.googleusercontent.com",
            "GOCSPX-secret",
            "1//refresh",
        );
        let team = d.shared_drive("Team KB");
        let f = d.folder(Some(&team), "Guides");
        d.add_doc(
            Some(&f),
            "Escalation",
            "# Tiers\n\nPage the duty manager after ten minutes.",
        );
        for i in 1..=3 {
            d.add_doc(
                Some(&f),
                &format!("Guide {i}"),
                &format!("# Guide {i}\n\nStep {i}."),
            );
        }
        json!({
            "service_account_json": null, "drive_id": team,
            "client_id": "c1.apps.googleusercontent.com", "client_secret": "GOCSPX-secret",
            "refresh_token": "1//refresh",
        })
    })
    .await;
    // Tokens live 1 s (renewed after half of it) and each request takes 200 ms: the sync
    // outlives its first token.
    shared.drive.set_token_lifetime(1);
    shared.drive.faults.set_latency(Duration::from_millis(200));
    let ds = shared.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(
        shared.drive.hits("token") >= 2,
        "renewed: {}",
        shared.drive.hits("token")
    );
    let docs = shared.docs().await;
    assert_eq!(
        titles(&docs),
        ["Escalation", "Guide 1", "Guide 2", "Guide 3"],
        "only the shared drive"
    );
    assert!(docs["Escalation"].metadata["drive_id"].is_string());
    shared.drive.faults.set_latency(Duration::ZERO);
    let t = shared.files.test_connection(&shared.ds).await.unwrap();
    assert_eq!(t.message, "Connection successful, found 4 files");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_files_are_reported_and_big_files_skipped() {
    let (rig, s) = rig(|_, s| json!({"folder_ids": [s.support]})).await;
    rig.drive.make_unreadable(&s.notes);
    rig.drive.make_unreadable(&s.doc);
    rig.drive.add_file(
        Some(&s.support),
        "huge.txt",
        "text/plain",
        &vec![b'a'; 100 * 1024],
    );
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Partial, "{:?}", ds.last_error);
    assert!(
        ds.last_error.as_deref().unwrap().contains("3 of 6"),
        "{:?}",
        ds.last_error
    );
    let docs = rig.docs().await;
    for t in ["ports.txt", "Returns policy"] {
        assert_eq!(docs[t].status, DocumentStatus::Failed);
        let e = docs[t].error.as_deref().unwrap();
        assert!(e.contains("not readable") && e.contains("403"), "{e}");
        assert!(!e.contains("service_account_json"), "{e}");
    }
    assert!(docs["huge.txt"]
        .error
        .as_deref()
        .unwrap()
        .contains("max_file_bytes"));
    assert_eq!(docs["setup.md"].status, DocumentStatus::Indexed);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_and_folders_fail_at_once_with_googles_reason() {
    // A key the account does not have: Google checks the signature.
    let (bad, _) = rig(|d, _| {
        let mut key: Value = serde_json::from_str(&d.service_account_json()).unwrap();
        key["client_email"] = json!("someone-else@acme.iam.gserviceaccount.com");
        json!({"service_account_json": key.to_string()})
    })
    .await;
    let ds = bad.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.clone().unwrap();
    assert!(
        err.contains("invalid_grant") || err.contains("account not found"),
        "{err}"
    );
    assert!(err.contains("config.service_account_json"), "{err}");
    assert_eq!(bad.drive.hits("token"), 1, "no retries");
    assert_eq!(bad.drive.hits("list"), 0);
    let t = bad.files.test_connection(&ds).await.unwrap();
    assert!(
        !t.ok && t.message.contains("config.service_account_json"),
        "{}",
        t.message
    );

    let (revoked, _) = rig(|d, _| {
        d.allow_oauth("c1", "s1", "1//good");
        json!({"service_account_json": null, "client_id": "c1", "client_secret": "s1", "refresh_token": "1//old"})
    })
    .await;
    let ds = revoked.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(
        err.contains("expired or revoked") && err.contains("config.refresh_token"),
        "{err}"
    );

    let (nofolder, _) = rig(|_, _| json!({"folder_ids": ["1NoSuchFolder000"]})).await;
    let ds = nofolder.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    assert!(ds.last_error.unwrap().contains("config.folder_ids"));
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_waited_out_and_a_server_error_storm_fails_clearly() {
    let (rig, _) = rig(|_, s| json!({"folder_id": s.support})).await;
    // Drive's own 403 rate limit, then a 429 with Retry-After.
    rig.drive.rate_limit_next(2);
    rig.drive.faults.throttle_next(1);
    let t = Instant::now();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(
        t.elapsed() >= Duration::from_secs(3),
        "waited: {:?}",
        t.elapsed()
    );
    assert_eq!(rig.docs().await.len(), 5);

    let (storm, _) = self::rig(|_, _| json!({})).await;
    storm.drive.faults.always(Some(500));
    let ds = storm.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(err.contains("500") && err.contains("attempts"), "{err}");
}
