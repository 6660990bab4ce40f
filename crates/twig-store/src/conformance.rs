//! Behaviour every [`Store`] implementation must have, run against each backend.
//!
//! Each check takes a fresh, empty store. Backends call them from their own
//! tests through [`conformance_tests!`](crate::conformance_tests).

use serde_json::json;
use std::time::Duration;
use twig_core::agent::{Agent, AgentInput};
use twig_core::apikey::{ApiKey, Environment, KeyHash, Scope};
use twig_core::datasource::{DataSource, DataSourceInput, DataSourceStatus, SyncFrequency};
use twig_core::document::{Document, DocumentStatus, StoredChunk};
use twig_core::id::{AgentId, ChunkId, DataSourceId, DocumentId, KeyId};
use twig_core::ingest::SyncCounters;
use twig_core::job::{Job, JobOutcome, JobStatus, NewJob};
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::store::{Store, StoreError};
use twig_core::time;

async fn org(store: &dyn Store, name: &str) -> Org {
    let o = Org::new(name).expect("valid org");
    store.create_org(&o).await.expect("create org");
    o
}

async fn website(store: &dyn Store, org: &Org, name: &str) -> DataSource {
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("website".into()),
            name: Some(name.into()),
            config: Some(json!({"url": "https://docs.example.com"})),
            sync_frequency: None,
        },
    )
    .expect("valid data source");
    store
        .create_data_source(&ds)
        .await
        .expect("create data source");
    ds
}

fn agent(org: &Org, name: &str, ds: &[&DataSource]) -> Agent {
    Agent::create(
        org.id.clone(),
        AgentInput {
            name: Some(name.into()),
            data_source_ids: Some(ds.iter().map(|d| d.id.to_string()).collect()),
            ..Default::default()
        },
    )
    .expect("valid agent")
}

/// Bootstrap creates the first org and key once, never again.
pub async fn bootstrap_only_once(store: &dyn Store) {
    let o = Org::new("default").unwrap();
    let (k, h, _) = ApiKey::mint(
        o.id.clone(),
        "bootstrap",
        Scope::ALL.to_vec(),
        Environment::Live,
        None,
    )
    .unwrap();
    assert!(store.bootstrap(&o, &k, &h).await.unwrap());
    let o2 = Org::new("default").unwrap();
    let (k2, h2, _) = ApiKey::mint(
        o2.id.clone(),
        "bootstrap",
        Scope::ALL.to_vec(),
        Environment::Live,
        None,
    )
    .unwrap();
    assert!(!store.bootstrap(&o2, &k2, &h2).await.unwrap());
    assert_eq!(store.list_orgs().await.unwrap(), vec![o]);
}

/// Keys are found by hash only, scoped by org, and revocation sticks.
pub async fn api_keys_roundtrip_and_revoke(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let (k, h, secret) = ApiKey::mint(
        a.id.clone(),
        "k1",
        vec![Scope::Read, Scope::Admin],
        Environment::Test,
        None,
    )
    .unwrap();
    store.create_api_key(&k, &h).await.unwrap();
    let (found, fh) = store
        .find_api_key(&KeyHash::of(secret.expose()))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found, k);
    assert!(fh.matches(&h));
    assert!(store
        .find_api_key(&KeyHash::of("twigsk_test_nope"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.get_api_key(Some(&a.id), &k.id).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(store.get_api_key(Some(&b.id), &k.id).await.unwrap(), None);
    assert_eq!(
        store
            .list_api_keys(&b.id, true, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(!store
        .revoke_api_key(Some(&b.id), &k.id, time::now())
        .await
        .unwrap());
    assert!(store
        .revoke_api_key(Some(&a.id), &k.id, time::now())
        .await
        .unwrap());
    assert!(
        !store
            .revoke_api_key(Some(&a.id), &k.id, time::now())
            .await
            .unwrap(),
        "second revoke is a no-op"
    );
    let (after, _) = store.find_api_key(&h).await.unwrap().unwrap();
    assert!(after.revoked_at.is_some());
    assert_eq!(
        store
            .list_api_keys(&a.id, false, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .list_api_keys(&a.id, true, Page::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert!(!store
        .revoke_api_key(None, &KeyId::generate(), time::now())
        .await
        .unwrap());
}

/// A key cannot be created for an organisation that does not exist.
pub async fn api_key_needs_existing_org(store: &dyn Store) {
    let ghost = Org::new("ghost").unwrap();
    let (k, h, _) = ApiKey::mint(
        ghost.id.clone(),
        "k",
        vec![Scope::Read],
        Environment::Live,
        None,
    )
    .unwrap();
    assert!(matches!(
        store.create_api_key(&k, &h).await,
        Err(StoreError::Conflict(_))
    ));
}

/// Agents round-trip exactly, keep data-source order, and paginate newest first.
pub async fn agents_crud(store: &dyn Store) {
    let o = org(store, "o").await;
    let d1 = website(store, &o, "one").await;
    let d2 = website(store, &o, "two").await;
    let a = agent(&o, "first", &[&d2, &d1]);
    store.create_agent(&a).await.unwrap();
    assert_eq!(
        store.get_agent(&o.id, &a.id).await.unwrap(),
        Some(a.clone())
    );
    let mut b = agent(&o, "second", &[]);
    b.created_at = a.created_at + chrono::Duration::seconds(1);
    store.create_agent(&b).await.unwrap();
    let page = store
        .list_agents(
            &o.id,
            Page {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items, vec![b.clone()]);
    let page2 = store
        .list_agents(
            &o.id,
            Page {
                limit: 1,
                offset: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(page2.items, vec![a.clone()]);

    let mut changed = a.clone();
    changed.name = "renamed".into();
    changed.data_source_ids = vec![d1.id.clone()];
    assert!(store.update_agent(&changed).await.unwrap());
    assert_eq!(store.get_agent(&o.id, &a.id).await.unwrap(), Some(changed));
    assert!(store.delete_agent(&o.id, &a.id).await.unwrap());
    assert!(!store.delete_agent(&o.id, &a.id).await.unwrap());
    assert_eq!(store.get_agent(&o.id, &a.id).await.unwrap(), None);
    let mut ghost = b.clone();
    ghost.id = AgentId::generate();
    assert!(!store.update_agent(&ghost).await.unwrap());
}

/// Agents may only point at data sources of their own org; a refused write changes nothing.
pub async fn agents_reject_foreign_data_sources(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let foreign = website(store, &b, "theirs").await;
    let mine = website(store, &a, "mine").await;
    let bad = agent(&a, "x", &[&mine, &foreign]);
    match store.create_agent(&bad).await {
        Err(StoreError::UnknownDataSources(ids)) => assert_eq!(ids, vec![foreign.id.clone()]),
        other => panic!("expected UnknownDataSources, got {other:?}"),
    }
    assert_eq!(
        store
            .list_agents(&a.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    let good = agent(&a, "y", &[&mine]);
    store.create_agent(&good).await.unwrap();
    let mut worse = good.clone();
    worse.name = "changed".into();
    worse.data_source_ids = vec![DataSourceId::generate()];
    assert!(matches!(
        store.update_agent(&worse).await,
        Err(StoreError::UnknownDataSources(_))
    ));
    assert_eq!(store.get_agent(&a.id, &good.id).await.unwrap(), Some(good));
}

/// Records of one org are invisible to another.
pub async fn org_isolation(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let ds = website(store, &a, "docs").await;
    let ag = agent(&a, "bot", &[&ds]);
    store.create_agent(&ag).await.unwrap();
    assert_eq!(store.get_agent(&b.id, &ag.id).await.unwrap(), None);
    assert_eq!(store.get_data_source(&b.id, &ds.id).await.unwrap(), None);
    assert_eq!(
        store
            .list_agents(&b.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .list_data_sources(&b.id, None, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(!store.delete_agent(&b.id, &ag.id).await.unwrap());
    assert!(!store.delete_data_source(&b.id, &ds.id).await.unwrap());
    let mut hijack = ag.clone();
    hijack.org_id = b.id.clone();
    hijack.data_source_ids.clear();
    assert!(!store.update_agent(&hijack).await.unwrap());
    assert_eq!(store.get_agent(&a.id, &ag.id).await.unwrap(), Some(ag));
}

/// Data sources round-trip, filter by status, and deleting one unlinks it from agents.
pub async fn data_sources_crud(store: &dyn Store) {
    let o = org(store, "o").await;
    let d1 = website(store, &o, "one").await;
    let d2 = website(store, &o, "two").await;
    assert_eq!(
        store.get_data_source(&o.id, &d1.id).await.unwrap(),
        Some(d1.clone())
    );
    let pending = store
        .list_data_sources(&o.id, Some(DataSourceStatus::Pending), Page::default())
        .await
        .unwrap();
    assert_eq!(pending.total, 2);
    let active = store
        .list_data_sources(&o.id, Some(DataSourceStatus::Active), Page::default())
        .await
        .unwrap();
    assert_eq!(active.total, 0);
    let mut changed = d1.clone();
    changed.name = "renamed".into();
    changed.config.insert("max_pages".into(), json!(5));
    assert!(store.update_data_source(&changed).await.unwrap());
    assert_eq!(
        store.get_data_source(&o.id, &d1.id).await.unwrap(),
        Some(changed)
    );

    let ag = agent(&o, "bot", &[&d1, &d2]);
    store.create_agent(&ag).await.unwrap();
    assert!(store.delete_data_source(&o.id, &d1.id).await.unwrap());
    let after = store.get_agent(&o.id, &ag.id).await.unwrap().unwrap();
    assert_eq!(after.data_source_ids, vec![d2.id.clone()]);
    assert!(!store.delete_data_source(&o.id, &d1.id).await.unwrap());
}

fn job(org: &Org, key: Option<&str>) -> NewJob {
    // Due a second ago, so a `now` the test took just before enqueueing already sees it.
    NewJob {
        dedupe_key: key.map(str::to_owned),
        run_at: time::now() - chrono::Duration::seconds(1),
        ..NewJob::now(org.id.clone(), "sync", json!({"ds": "ds_1"}))
    }
}

/// One unfinished job per dedupe key; a finished one frees the key.
pub async fn jobs_dedupe(store: &dyn Store) {
    let o = org(store, "o").await;
    let q = store.jobs();
    let (a, created) = q.enqueue(job(&o, Some("sync:ds_1"))).await.unwrap();
    assert!(created);
    assert_eq!(a.status, JobStatus::Queued);
    assert!(a.id.as_str().starts_with("job_"));
    let (b, created) = q.enqueue(job(&o, Some("sync:ds_1"))).await.unwrap();
    assert!(!created);
    assert_eq!(b.id, a.id);
    let (c, created) = q.enqueue(job(&o, Some("sync:ds_2"))).await.unwrap();
    assert!(created && c.id != a.id);
    let now = time::now();
    let claimed = q
        .claim("w1", &["sync"], now, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, a.id, "oldest first");
    let (d, created) = q.enqueue(job(&o, Some("sync:ds_1"))).await.unwrap();
    assert!(
        !created && d.id == a.id,
        "a running job still holds its key"
    );
    assert!(q
        .finish(
            &a.id,
            "w1",
            JobOutcome::Succeeded {
                progress: json!({"done": 3})
            }
        )
        .await
        .unwrap());
    let (e, created) = q.enqueue(job(&o, Some("sync:ds_1"))).await.unwrap();
    assert!(created && e.id != a.id);
    assert_eq!(
        q.latest_job("sync:ds_1").await.unwrap().map(|j| j.id),
        Some(e.id.clone())
    );
    assert!(q.latest_job("sync:none").await.unwrap().is_none());
    let done = q.get_job(&o.id, &a.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.progress, json!({"done": 3}));
}

/// Concurrent claims hand a job to exactly one worker; only due jobs of the asked kinds are claimed.
pub async fn jobs_claim_is_exclusive(store: &dyn Store) {
    let o = org(store, "o").await;
    let q = store.jobs();
    let now = time::now();
    let (j, _) = q.enqueue(job(&o, None)).await.unwrap();
    let mut later = job(&o, None);
    later.run_at = now + chrono::Duration::seconds(60);
    q.enqueue(later).await.unwrap();
    let lease = Duration::from_secs(30);
    assert!(
        q.claim("w0", &["crawl"], now, lease)
            .await
            .unwrap()
            .is_none(),
        "other kinds are not claimed"
    );
    let (a, b, c) = tokio::join!(
        q.claim("w1", &["sync"], now, lease),
        q.claim("w2", &["sync"], now, lease),
        q.claim("w3", &["sync"], now, lease)
    );
    let winners: Vec<Job> = [a, b, c].into_iter().filter_map(|r| r.unwrap()).collect();
    assert_eq!(winners.len(), 1, "exactly one claim wins");
    assert_eq!(winners[0].id, j.id);
    assert_eq!(winners[0].attempts, 1);
    assert_eq!(winners[0].status, JobStatus::Running);
    assert!(
        q.claim("w4", &["sync"], now, lease)
            .await
            .unwrap()
            .is_none(),
        "the other job is not due yet"
    );
}

/// A lapsed lease lets another worker resume; the old worker's reports are refused.
pub async fn jobs_lease_expiry_and_retries(store: &dyn Store) {
    let o = org(store, "o").await;
    let q = store.jobs();
    let now = time::now();
    let lease = Duration::from_secs(10);
    let mut nj = job(&o, None);
    nj.max_attempts = 3;
    let (j, _) = q.enqueue(nj).await.unwrap();
    q.claim("w1", &["sync"], now, lease).await.unwrap().unwrap();
    assert!(q
        .heartbeat(&j.id, "w1", now, lease, Some(&json!({"cursor": 7})))
        .await
        .unwrap());
    assert!(q
        .claim("w2", &["sync"], now + chrono::Duration::seconds(5), lease)
        .await
        .unwrap()
        .is_none());
    let later = now + chrono::Duration::seconds(11);
    let resumed = q
        .claim("w2", &["sync"], later, lease)
        .await
        .unwrap()
        .expect("lapsed lease is claimable");
    assert_eq!(resumed.attempts, 2);
    assert_eq!(
        resumed.progress,
        json!({"cursor": 7}),
        "progress is the checkpoint"
    );
    assert!(
        !q.heartbeat(&j.id, "w1", later, lease, None).await.unwrap(),
        "w1 lost the lease"
    );
    assert!(!q
        .finish(
            &j.id,
            "w1",
            JobOutcome::Succeeded {
                progress: json!({})
            }
        )
        .await
        .unwrap());

    let retry_at = later + chrono::Duration::seconds(30);
    let outcome = JobOutcome::Retry {
        error: "timeout".into(),
        run_at: retry_at,
    };
    assert!(q.finish(&j.id, "w2", outcome).await.unwrap());
    let queued = q.get_job(&o.id, &j.id).await.unwrap().unwrap();
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!(queued.error.as_deref(), Some("timeout"));
    assert!(
        q.claim("w3", &["sync"], later, lease)
            .await
            .unwrap()
            .is_none(),
        "backoff is respected"
    );
    let third = q
        .claim("w3", &["sync"], retry_at, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.attempts, 3);
    // The last attempt's worker dies: the lapsed job fails instead of running a fourth time.
    let much_later = retry_at + chrono::Duration::seconds(60);
    assert!(q
        .claim("w4", &["sync"], much_later, lease)
        .await
        .unwrap()
        .is_none());
    let failed = q.get_job(&o.id, &j.id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.error.is_some());
}

/// A retry on the last attempt fails the job; jobs are org-scoped.
pub async fn jobs_exhaust_attempts_and_stay_in_their_org(store: &dyn Store) {
    let o = org(store, "o").await;
    let other = org(store, "other").await;
    let q = store.jobs();
    let now = time::now();
    let mut nj = job(&o, None);
    nj.max_attempts = 1;
    let (j, _) = q.enqueue(nj).await.unwrap();
    q.claim("w", &["sync"], now, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    let outcome = JobOutcome::Retry {
        error: "boom".into(),
        run_at: now,
    };
    assert!(q.finish(&j.id, "w", outcome).await.unwrap());
    assert_eq!(
        q.get_job(&o.id, &j.id).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
    assert!(q
        .claim("w", &["sync"], now, Duration::from_secs(5))
        .await
        .unwrap()
        .is_none());
    assert!(q.get_job(&other.id, &j.id).await.unwrap().is_none());
    let (k, _) = q.enqueue(job(&o, None)).await.unwrap();
    q.claim("w", &["sync"], now, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(q
        .finish(
            &k.id,
            "w",
            JobOutcome::Failed {
                error: "bad config".into()
            }
        )
        .await
        .unwrap());
    let f = q.get_job(&o.id, &k.id).await.unwrap().unwrap();
    assert_eq!(
        (f.status, f.error.as_deref()),
        (JobStatus::Failed, Some("bad config"))
    );
}

fn record(ds: &DataSource, key: &str, status: DocumentStatus, error: Option<&str>) -> Document {
    let now = time::now();
    Document {
        id: DocumentId::generate(),
        org_id: ds.org_id.clone(),
        data_source_id: ds.id.clone(),
        source_key: key.into(),
        title: key.into(),
        url: None,
        filename: Some(format!("{key}.txt")),
        content_hash: String::new(),
        metadata: Default::default(),
        chunks: 0,
        status,
        error: error.map(str::to_owned),
        created_at: now,
        updated_at: now,
    }
}

/// Document records: one per source key, failures requeued, states counted and listed per org.
pub async fn document_records_and_states(store: &dyn Store) {
    let o = org(store, "o").await;
    let other = org(store, "other").await;
    let ds = website(store, &o, "files").await;
    let docs = store.documents();
    let a = record(&ds, "sha256:a", DocumentStatus::Queued, None);
    let (got, created) = docs.insert_document_record(&a).await.unwrap();
    assert!(created);
    assert_eq!(got.status, DocumentStatus::Queued);
    let dup = record(&ds, "sha256:a", DocumentStatus::Queued, None);
    let (same, created) = docs.insert_document_record(&dup).await.unwrap();
    assert!(!created, "same source key is the same document");
    assert_eq!(same.id, a.id);
    let bad = record(&ds, "sha256:b", DocumentStatus::Failed, Some("encrypted"));
    docs.insert_document_record(&bad).await.unwrap();
    let counts = docs.count_documents(&ds.id).await.unwrap();
    assert_eq!((counts.queued, counts.failed, counts.total()), (1, 1, 2));
    // A failed document uploaded again is queued again.
    let retry = record(&ds, "sha256:b", DocumentStatus::Queued, None);
    let (again, created) = docs.insert_document_record(&retry).await.unwrap();
    assert!(!created);
    assert_eq!(
        (again.id.clone(), again.status),
        (bad.id.clone(), DocumentStatus::Queued)
    );
    assert_eq!(again.error, None);
    let stale = docs
        .stale_queued_sources(time::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(stale, vec![(o.id.clone(), ds.id.clone())]);
    let stale = docs
        .stale_queued_sources(time::now() - chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert!(stale.is_empty(), "fresh uploads are left to their own job");
    let queued = docs
        .documents_with_status(
            &ds.id,
            &[DocumentStatus::Queued, DocumentStatus::Processing],
            10,
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);
    assert!(docs
        .set_document_status(&a.id, DocumentStatus::Failed, Some("damaged"))
        .await
        .unwrap());
    let got = docs.get_document(&o.id, &a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.error.as_deref()),
        (DocumentStatus::Failed, Some("damaged"))
    );
    assert!(docs.get_document(&other.id, &a.id).await.unwrap().is_none());
    // Indexing a record replaces it with chunks and marks it indexed.
    let indexed = Document {
        status: DocumentStatus::Indexed,
        error: None,
        content_hash: "h".into(),
        chunks: 1,
        ..got.clone()
    };
    let chunk = StoredChunk {
        id: ChunkId::generate(),
        document_id: a.id.clone(),
        position: 0,
        text: "hello".into(),
        heading_path: vec![],
        token_count: 1,
        page: None,
        embedding: None,
    };
    docs.upsert_document(&indexed, &[chunk]).await.unwrap();
    let got = docs.get_document(&o.id, &a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.error, got.chunks),
        (DocumentStatus::Indexed, None, 1)
    );
    let listed = docs
        .list_documents(&o.id, &ds.id, Page::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(
        docs.list_documents(&other.id, &ds.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    let page = Page {
        limit: 1,
        offset: 1,
    };
    assert_eq!(
        docs.list_documents(&o.id, &ds.id, page)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    docs.set_sync_state(&a.id, &json!({"etag": "x"}))
        .await
        .unwrap();
    let states = docs.sync_states(&ds.id).await.unwrap();
    assert_eq!(states.len(), 2);
    let (_, st) = states.iter().find(|(d, _)| d.id == a.id).unwrap();
    assert_eq!(st, &json!({"etag": "x"}));
}

/// Sync counters and outcomes of a data source; schedules list only automatic sources.
pub async fn sync_progress_and_outcome(store: &dyn Store) {
    let o = org(store, "o").await;
    let ds = website(store, &o, "site").await;
    assert_eq!(
        store.sync_counters(&o.id, &ds.id).await.unwrap(),
        Some(SyncCounters::default())
    );
    let started = time::now();
    let c = SyncCounters {
        total: 10,
        done: 0,
        failed: 0,
        started_at: Some(started),
    };
    assert!(store.begin_sync(&ds.id, &c).await.unwrap());
    let got = store.get_data_source(&o.id, &ds.id).await.unwrap().unwrap();
    assert_eq!(got.status, DataSourceStatus::Processing);
    let processing = store
        .data_sources_in_status(DataSourceStatus::Processing)
        .await
        .unwrap();
    assert_eq!(processing.len(), 1);
    assert_eq!(processing[0].id, ds.id);
    let c2 = SyncCounters {
        done: 7,
        failed: 1,
        ..c
    };
    store.save_sync_counters(&ds.id, &c2).await.unwrap();
    let read = store.sync_counters(&o.id, &ds.id).await.unwrap().unwrap();
    assert_eq!((read.total, read.done, read.failed), (10, 7, 1));
    assert_eq!(
        read.started_at.map(|t| t.timestamp_micros()),
        Some(started.timestamp_micros())
    );
    let other = org(store, "other").await;
    assert_eq!(store.sync_counters(&other.id, &ds.id).await.unwrap(), None);
    let at = time::now();
    assert!(store
        .record_sync_outcome(&ds.id, DataSourceStatus::Partial, Some("1 of 8 failed"), at)
        .await
        .unwrap());
    let got = store.get_data_source(&o.id, &ds.id).await.unwrap().unwrap();
    assert_eq!(got.status, DataSourceStatus::Partial);
    assert_eq!(got.last_error.as_deref(), Some("1 of 8 failed"));
    assert_eq!(
        got.last_synced_at.map(|t| t.timestamp_micros()),
        Some(at.timestamp_micros())
    );
    // A failure keeps the last successful sync time.
    store
        .record_sync_outcome(&ds.id, DataSourceStatus::Failed, Some("dns"), time::now())
        .await
        .unwrap();
    let got = store.get_data_source(&o.id, &ds.id).await.unwrap().unwrap();
    assert_eq!(got.status, DataSourceStatus::Failed);
    assert_eq!(
        got.last_synced_at.map(|t| t.timestamp_micros()),
        Some(at.timestamp_micros())
    );
    assert!(
        store.scheduled_data_sources().await.unwrap().is_empty(),
        "manual is never scheduled"
    );
    let mut daily = got.clone();
    daily.sync_frequency = SyncFrequency::Daily;
    store.update_data_source(&daily).await.unwrap();
    let sched = store.scheduled_data_sources().await.unwrap();
    assert_eq!(sched.len(), 1);
    assert_eq!(sched[0].0.id, ds.id);
    assert_eq!(
        sched[0].1.map(|t| t.timestamp_micros()),
        Some(started.timestamp_micros())
    );
}

/// Generates one test per conformance check for a backend; `$make` yields a fresh store.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            bootstrap_only_once, api_keys_roundtrip_and_revoke, api_key_needs_existing_org, agents_crud,
            agents_reject_foreign_data_sources, org_isolation, data_sources_crud, jobs_dedupe,
            jobs_claim_is_exclusive, jobs_lease_expiry_and_retries, jobs_exhaust_attempts_and_stay_in_their_org,
            document_records_and_states, sync_progress_and_outcome);
    };
    (@each $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = $make.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}
