//! Behaviour every [`Store`] implementation must have, run against each backend.
//!
//! Each check takes a fresh, empty store. Backends call them from their own
//! tests through [`conformance_tests!`](crate::conformance_tests).

use serde_json::json;
use std::time::Duration;
use twig_core::agent::{Agent, AgentInput, RagStrategy};
use twig_core::apikey::{ApiKey, Environment, KeyHash, Scope};
use twig_core::datasource::{DataSource, DataSourceInput, DataSourceStatus, SyncFrequency};
use twig_core::document::{Document, DocumentStatus, StoredChunk};
use twig_core::id::{
    AgentId, ChunkId, DataSourceId, DeliveryId, DocumentId, InteractionId, KeyId, OrgId, SessionId,
    WebhookId,
};
use twig_core::ingest::SyncCounters;
use twig_core::interaction::{
    Feedback, FeedbackFilter, Interaction, InteractionFilter, InteractionStatus, SessionAppend,
    Source, Turn, TurnRole,
};
use twig_core::job::{Job, JobOutcome, JobStatus, NewJob};
use twig_core::kb::{Article, ArticleInput, ArticleStatus};
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::ratelimit::{LimitOverrides, RateLimit};
use twig_core::store::{AttemptRecord, Store, StoreError};
use twig_core::time;
use twig_core::user::{Role, User, UserInput};
use twig_core::webhook::{DeliveryAttempt, DeliveryStatus, EventKind, Webhook, DELIVER_JOB};

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
    assert_eq!(
        q.job_counts().await.unwrap(),
        vec![
            ("sync".to_owned(), JobStatus::Queued, 2),
            ("sync".to_owned(), JobStatus::Succeeded, 1),
        ]
    );
}

/// Many claimers at once (threads of several nodes): each job is taken exactly once.
pub async fn jobs_concurrent_claimers_take_each_job_once(store: &dyn Store) {
    let o = org(store, "o").await;
    let q = store.jobs();
    let now = time::now();
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(q.enqueue(job(&o, None)).await.unwrap().0.id);
    }
    let lease = Duration::from_secs(30);
    let claimer = |w: usize| async move {
        let mut got = Vec::new();
        while let Some(j) = q
            .claim(&format!("w{w}"), &["sync"], now, lease)
            .await
            .unwrap()
        {
            got.push(j.id);
        }
        got
    };
    let all = futures::future::join_all((0..6).map(claimer)).await;
    let mut taken: Vec<_> = all.into_iter().flatten().collect();
    assert_eq!(taken.len(), 24, "no job taken twice");
    taken.sort();
    taken.dedup();
    ids.sort();
    assert_eq!(taken, ids, "every job taken");
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

fn user(org: &Org, email: &str, role: &str) -> User {
    User::create(
        org.id.clone(),
        UserInput {
            email: Some(email.into()),
            name: Some("U".into()),
            role: Some(role.into()),
        },
    )
    .expect("valid user")
}

fn owned_key(org: &Org, user: &User, scopes: Vec<Scope>) -> (ApiKey, KeyHash) {
    let (mut k, h, _) = ApiKey::mint(org.id.clone(), "k", scopes, Environment::Live, None).unwrap();
    k.user_id = Some(user.id.clone());
    (k, h)
}

/// Users: create, read, list, update; emails unique per org regardless of case; orgs isolated.
pub async fn users_crud_and_unique_email(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let us = store.users();
    let u1 = user(&a, "Jo@Example.com", "train");
    us.create_user(&u1).await.unwrap();
    assert_eq!(us.get_user(&a.id, &u1.id).await.unwrap(), Some(u1.clone()));
    assert_eq!(us.get_user(&b.id, &u1.id).await.unwrap(), None);
    let dup = user(&a, "jo@EXAMPLE.com", "admin");
    assert!(matches!(
        us.create_user(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    // Another org may use the same address.
    us.create_user(&user(&b, "jo@example.com", "admin"))
        .await
        .unwrap();
    let u2 = user(&a, "second@example.com", "readonly");
    us.create_user(&u2).await.unwrap();
    let listed = us.list_users(&a.id, Page::default()).await.unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items, vec![u1.clone(), u2.clone()], "oldest first");
    let page = us
        .list_users(
            &a.id,
            Page {
                limit: 1,
                offset: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (2, 1));
    assert_eq!(page.items[0].id, u2.id);
    // Taking another user's email on update conflicts; keeping one's own does not.
    let mut taken = u2.clone();
    taken.email = "JO@example.com".into();
    assert!(matches!(
        us.update_user(&taken, time::now()).await,
        Err(StoreError::Conflict(_))
    ));
    let mut renamed = u2.clone();
    renamed.name = Some("Renamed".into());
    renamed.email = "SECOND@example.com".into();
    assert!(us.update_user(&renamed, time::now()).await.unwrap());
    assert_eq!(us.get_user(&a.id, &u2.id).await.unwrap(), Some(renamed));
    let mut foreign = u1.clone();
    foreign.org_id = b.id.clone();
    assert!(!us.update_user(&foreign, time::now()).await.unwrap());
    assert!(!us.delete_user(&b.id, &u1.id, time::now()).await.unwrap());
    assert!(us.delete_user(&a.id, &u1.id, time::now()).await.unwrap());
    assert_eq!(us.get_user(&a.id, &u1.id).await.unwrap(), None);
}

/// Keys of a user: created only within the role; a lower role narrows them, removal revokes them.
pub async fn user_keys_follow_the_role(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let us = store.users();
    let mut u = user(&a, "c@example.com", "configure");
    us.create_user(&u).await.unwrap();
    let (k_rw, h_rw) = owned_key(&a, &u, vec![Scope::Read, Scope::Write]);
    store.create_api_key(&k_rw, &h_rw).await.unwrap();
    let (k_w, h_w) = owned_key(&a, &u, vec![Scope::Write]);
    store.create_api_key(&k_w, &h_w).await.unwrap();
    let (found, _) = store.find_api_key(&h_rw).await.unwrap().unwrap();
    assert_eq!(found.user_id.as_ref(), Some(&u.id));
    assert_eq!(found.owner_role, Some(Role::Configure));
    // Beyond the role, or for a user of another org: refused.
    let (k_admin, h_admin) = owned_key(&a, &u, vec![Scope::Admin]);
    assert!(matches!(
        store.create_api_key(&k_admin, &h_admin).await,
        Err(StoreError::Conflict(_))
    ));
    let (mut k_foreign, h_foreign) = owned_key(&b, &u, vec![Scope::Read]);
    k_foreign.org_id = b.id.clone();
    assert!(matches!(
        store.create_api_key(&k_foreign, &h_foreign).await,
        Err(StoreError::Conflict(_))
    ));
    // Lowering the role narrows and revokes in the same write.
    u.role = Role::Readonly;
    assert!(us.update_user(&u, time::now()).await.unwrap());
    let (rw, _) = store.find_api_key(&h_rw).await.unwrap().unwrap();
    assert_eq!(rw.scopes, vec![Scope::Read]);
    assert!(rw.revoked_at.is_none());
    assert_eq!(rw.owner_role, Some(Role::Readonly));
    let (w, _) = store.find_api_key(&h_w).await.unwrap().unwrap();
    assert!(
        w.revoked_at.is_some(),
        "a key left with no scope is revoked"
    );
    // Raising it again does not widen keys back.
    u.role = Role::Admin;
    assert!(us.update_user(&u, time::now()).await.unwrap());
    let (rw, _) = store.find_api_key(&h_rw).await.unwrap().unwrap();
    assert_eq!(rw.scopes, vec![Scope::Read]);
    // An unowned key of the org is untouched by user changes.
    let (plain, h_plain, _) = ApiKey::mint(
        a.id.clone(),
        "plain",
        vec![Scope::Write],
        Environment::Live,
        None,
    )
    .unwrap();
    store.create_api_key(&plain, &h_plain).await.unwrap();
    assert!(us.delete_user(&a.id, &u.id, time::now()).await.unwrap());
    let (rw, _) = store.find_api_key(&h_rw).await.unwrap().unwrap();
    assert!(rw.revoked_at.is_some(), "removing the user revokes the key");
    let (p, _) = store.find_api_key(&h_plain).await.unwrap().unwrap();
    assert!(p.revoked_at.is_none());
}

/// Rate-limit overrides of keys and orgs are stored and come back with the key.
pub async fn rate_limit_overrides_roundtrip(store: &dyn Store) {
    let a = org(store, "a").await;
    let three = RateLimit {
        per_minute: 3,
        burst: 3,
    };
    let (mut k, h, _) = ApiKey::mint(
        a.id.clone(),
        "k",
        vec![Scope::Read],
        Environment::Live,
        None,
    )
    .unwrap();
    k.rate_limits.write = Some(three);
    store.create_api_key(&k, &h).await.unwrap();
    let (found, _) = store.find_api_key(&h).await.unwrap().unwrap();
    assert_eq!(found.rate_limits, k.rate_limits);
    assert!(found.org_rate_limits.is_empty());
    let org_limits = LimitOverrides {
        read: Some(RateLimit {
            per_minute: 7,
            burst: 9,
        }),
        ..Default::default()
    };
    assert!(store.set_org_rate_limits(&a.id, &org_limits).await.unwrap());
    assert!(!store
        .set_org_rate_limits(&Org::new("ghost").unwrap().id, &org_limits)
        .await
        .unwrap());
    assert_eq!(
        store.get_org(&a.id).await.unwrap().unwrap().rate_limits,
        org_limits
    );
    let (found, _) = store.find_api_key(&h).await.unwrap().unwrap();
    assert_eq!(found.org_rate_limits, org_limits);
    let listed = store
        .list_api_keys(&a.id, false, Page::default())
        .await
        .unwrap();
    assert_eq!(listed.items[0].org_rate_limits, org_limits);
    // Updating replaces name and overrides; a revoked key cannot be updated.
    let mut changed = found.clone();
    changed.name = "renamed".into();
    changed.rate_limits = LimitOverrides::default();
    assert!(store.update_api_key(&changed).await.unwrap());
    let got = store
        .get_api_key(Some(&a.id), &k.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.name, "renamed");
    assert!(got.rate_limits.is_empty());
    let mut foreign = changed.clone();
    foreign.org_id = OrgId::generate();
    assert!(!store.update_api_key(&foreign).await.unwrap());
    assert!(store
        .revoke_api_key(None, &k.id, time::now())
        .await
        .unwrap());
    assert!(!store.update_api_key(&changed).await.unwrap());
}

fn hook(org: &Org, events: &[EventKind]) -> Webhook {
    let now = time::now();
    Webhook {
        id: WebhookId::generate(),
        org_id: org.id.clone(),
        url: "https://hooks.example.com/twig".into(),
        description: None,
        events: events.to_vec(),
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    }
}

async fn deliver_jobs(store: &dyn Store) -> Vec<Job> {
    let mut out = Vec::new();
    while let Some(j) = store
        .jobs()
        .claim("t", &[DELIVER_JOB], time::now(), Duration::from_secs(30))
        .await
        .unwrap()
    {
        out.push(j);
    }
    out
}

/// Endpoints are per org; updates, secrets and deletion behave.
pub async fn webhooks_crud(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let w = store.webhooks();
    let mut h = hook(&a, &[EventKind::AgentUpdated]);
    w.create_webhook(&h, "whsec_one").await.unwrap();
    assert_eq!(w.get_webhook(&a.id, &h.id).await.unwrap().unwrap(), h);
    assert!(w.get_webhook(&b.id, &h.id).await.unwrap().is_none());
    assert_eq!(
        w.list_webhooks(&a.id, Page::default()).await.unwrap().total,
        1
    );
    assert_eq!(
        w.list_webhooks(&b.id, Page::default()).await.unwrap().total,
        0
    );
    h.url = "https://other.example.com/".into();
    h.events = vec![EventKind::AgentCreated, EventKind::AgentDeleted];
    h.enabled = false;
    assert!(w.update_webhook(&h).await.unwrap());
    assert_eq!(w.get_webhook(&a.id, &h.id).await.unwrap().unwrap(), h);
    let mut foreign = h.clone();
    foreign.org_id = b.id.clone();
    assert!(!w.update_webhook(&foreign).await.unwrap());
    let until = time::now() + chrono::Duration::hours(1);
    assert!(!w
        .rotate_webhook_secret(&b.id, &h.id, "whsec_x", until)
        .await
        .unwrap());
    assert!(w
        .rotate_webhook_secret(&a.id, &h.id, "whsec_two", until)
        .await
        .unwrap());
    let ping = w.send_ping(&a.id, &h.id).await.unwrap().unwrap();
    assert!(w.send_ping(&b.id, &h.id).await.unwrap().is_none());
    let t = w.delivery_target(&ping.id).await.unwrap().unwrap();
    assert_eq!(t.secrets.current, "whsec_two");
    assert_eq!(t.secrets.previous, Some(("whsec_one".into(), until)));
    assert_eq!(
        t.secrets.active(time::now()),
        vec!["whsec_two", "whsec_one"]
    );
    assert!(!w.delete_webhook(&b.id, &h.id).await.unwrap());
    assert!(w.delete_webhook(&a.id, &h.id).await.unwrap());
    assert!(w.delivery_target(&ping.id).await.unwrap().is_none());
}

/// Agent changes queue deliveries (and their jobs) to subscribed, enabled endpoints only.
pub async fn webhook_outbox_follows_agent_changes(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let w = store.webhooks();
    let updated = hook(&a, &[EventKind::AgentUpdated]);
    w.create_webhook(&updated, "s1").await.unwrap();
    let mut off = hook(&a, &[EventKind::AgentUpdated]);
    off.enabled = false;
    w.create_webhook(&off, "s2").await.unwrap();
    let other_org = hook(&b, &[EventKind::AgentUpdated, EventKind::AgentCreated]);
    w.create_webhook(&other_org, "s3").await.unwrap();

    let mut ag = agent(&a, "bot", &[]);
    store.create_agent(&ag).await.unwrap();
    assert!(
        deliver_jobs(store).await.is_empty(),
        "nobody subscribed to agent.created in org a"
    );
    ag.name = "renamed".into();
    assert!(store.update_agent(&ag).await.unwrap());
    let jobs = deliver_jobs(store).await;
    assert_eq!(jobs.len(), 1);
    let id = DeliveryId::parse(jobs[0].payload["delivery_id"].as_str().unwrap()).unwrap();
    let d = w
        .get_delivery(&a.id, &updated.id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.event, EventKind::AgentUpdated);
    assert_eq!(d.status, DeliveryStatus::Pending);
    let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(body["event"], "agent.updated");
    assert_eq!(body["id"], d.event_id.as_str());
    assert_eq!(body["data"]["agent_id"], ag.id.as_str());
    assert_eq!(body["data"]["agent"]["name"], "renamed");
    assert!(w
        .get_delivery(&b.id, &updated.id, &id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        w.list_deliveries(&a.id, &off.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        w.list_deliveries(&b.id, &other_org.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(store.delete_agent(&a.id, &ag.id).await.unwrap());
    assert!(deliver_jobs(store).await.is_empty());
}

/// Attempts accumulate; success clears the failure run; a long failure run disables the endpoint.
pub async fn webhook_attempts_and_auto_disable(store: &dyn Store) {
    let a = org(store, "a").await;
    let w = store.webhooks();
    let h = hook(&a, &[EventKind::AgentUpdated]);
    w.create_webhook(&h, "s").await.unwrap();
    let d = w.send_ping(&a.id, &h.id).await.unwrap().unwrap();
    let t0 = time::now();
    let attempt = |code: Option<u16>, err: Option<&str>| DeliveryAttempt {
        at: t0,
        status_code: code,
        latency_ms: 12,
        response_body: Some("nope".into()),
        error: err.map(str::to_owned),
    };
    let next = t0 + chrono::Duration::minutes(1);
    let after = w
        .record_attempt(
            &d.id,
            &AttemptRecord {
                attempt: attempt(Some(503), Some("HTTP 503")),
                status: DeliveryStatus::Pending,
                next_attempt_at: Some(next),
                disable_if_failing_since: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.failing_since, Some(t0));
    assert!(after.enabled);
    let stored = w.get_delivery(&a.id, &h.id, &d.id).await.unwrap().unwrap();
    assert_eq!(stored.attempts.len(), 1);
    assert_eq!(stored.next_attempt_at, Some(next));
    // Failing for good, but the run is younger than the threshold: stays enabled.
    let after = w
        .record_attempt(
            &d.id,
            &AttemptRecord {
                attempt: attempt(Some(500), Some("HTTP 500")),
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                disable_if_failing_since: Some(t0 - chrono::Duration::hours(1)),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(after.enabled);
    // Redelivery starts a new series on the same delivery.
    let again = w.redeliver(&a.id, &h.id, &d.id).await.unwrap().unwrap();
    assert_eq!(again.status, DeliveryStatus::Pending);
    assert_eq!(again.series_start, 2);
    assert_eq!(again.event_id, d.event_id);
    assert_eq!(again.body, d.body);
    let after = w
        .record_attempt(
            &d.id,
            &AttemptRecord {
                attempt: attempt(None, Some("connection refused")),
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                disable_if_failing_since: Some(t0),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!after.enabled);
    assert!(after
        .disabled_reason
        .unwrap()
        .contains("connection refused"));
    // A success later (e.g. a manual test) clears the failure run.
    let d2 = w.send_ping(&a.id, &h.id).await.unwrap().unwrap();
    let after = w
        .record_attempt(
            &d2.id,
            &AttemptRecord {
                attempt: attempt(Some(200), None),
                status: DeliveryStatus::Succeeded,
                next_attempt_at: None,
                disable_if_failing_since: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.failing_since, None);
    let listed = w
        .list_deliveries(&a.id, &h.id, Page::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items[0].id, d2.id, "newest first");
}

/// Articles keep every version; the kb data source is one per org; orgs are isolated.
pub async fn kb_articles_and_versions(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let kb = store.kb();
    let ds = kb.kb_data_source(&a.id).await.unwrap();
    assert_eq!(ds.kind, twig_core::datasource::DataSourceType::Kb);
    assert_eq!(
        kb.kb_data_source(&a.id).await.unwrap().id,
        ds.id,
        "one per org"
    );
    assert_ne!(kb.kb_data_source(&b.id).await.unwrap().id, ds.id);
    let mut art = Article::create(
        a.id.clone(),
        ds.id.clone(),
        ArticleInput {
            title: Some("Reset password".into()),
            content: Some("Click *Forgot password*.".into()),
            ..Default::default()
        },
    )
    .unwrap();
    kb.create_article(&art).await.unwrap();
    assert_eq!(kb.get_article(&a.id, &art.id).await.unwrap().unwrap(), art);
    assert!(kb.get_article(&b.id, &art.id).await.unwrap().is_none());
    let v1 = art.clone();
    assert!(art
        .apply(ArticleInput {
            status: Some("published".into()),
            content: Some("New steps.".into()),
            ..Default::default()
        })
        .unwrap());
    assert!(kb.update_article(&art).await.unwrap());
    assert!(
        !kb.update_article(&art).await.unwrap(),
        "a stale version is refused"
    );
    let list = kb
        .list_article_versions(&a.id, &art.id, Page::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(list.total, 2);
    assert_eq!(list.items[0].version, 2);
    assert_eq!(list.items[1].content, v1.content);
    assert_eq!(
        kb.get_article_version(&a.id, &art.id, 1)
            .await
            .unwrap()
            .unwrap(),
        v1.as_version()
    );
    assert!(kb
        .get_article_version(&b.id, &art.id, 1)
        .await
        .unwrap()
        .is_none());
    assert!(kb
        .list_article_versions(&b.id, &art.id, Page::default())
        .await
        .unwrap()
        .is_none());
    let published = kb
        .list_articles(&a.id, Some(ArticleStatus::Published), Page::default())
        .await
        .unwrap();
    assert_eq!(published.total, 1);
    assert_eq!(
        kb.list_articles(&a.id, Some(ArticleStatus::Draft), Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        kb.article_ids(None, 10).await.unwrap(),
        vec![(a.id.clone(), art.id.clone())]
    );
    assert!(!kb.delete_article(&b.id, &art.id).await.unwrap());
    assert!(kb.delete_article(&a.id, &art.id).await.unwrap());
    assert!(kb
        .get_article_version(&a.id, &art.id, 1)
        .await
        .unwrap()
        .is_none());
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

/// An indexed document of `ds` titled `title`, one chunk per text with its embedding.
fn indexed_doc(
    ds: &DataSource,
    title: &str,
    heading: &[&str],
    token_count: u32,
    texts: &[(&str, [f32; 3])],
) -> (Document, Vec<StoredChunk>) {
    let mut d = record(ds, title, DocumentStatus::Indexed, None);
    d.chunks = texts.len() as u32;
    let chunks = texts
        .iter()
        .enumerate()
        .map(|(i, (t, v))| StoredChunk {
            id: ChunkId::generate(),
            document_id: d.id.clone(),
            position: i as u32,
            text: (*t).into(),
            heading_path: heading.iter().map(|h| (*h).into()).collect(),
            token_count,
            page: None,
            embedding: Some(v.to_vec()),
        })
        .collect();
    (d, chunks)
}

/// Chunks with their embeddings round-trip; every change is logged in commit order, and the
/// log's high-water mark is what the indexes resume from.
pub async fn chunks_and_the_change_log(store: &dyn Store) {
    let o = org(store, "o").await;
    let ds = website(store, &o, "docs").await;
    let docs = store.documents();
    assert_eq!(docs.last_change().await.unwrap(), 0);
    let chunk = |doc: &Document, pos: u32, text: &str, v: Option<Vec<f32>>| StoredChunk {
        id: ChunkId::generate(),
        document_id: doc.id.clone(),
        position: pos,
        text: text.into(),
        heading_path: vec!["Guide".into(), text.into()],
        token_count: 3 + pos,
        page: (pos > 0).then_some(pos),
        embedding: v,
    };
    let mut a = record(&ds, "a", DocumentStatus::Indexed, None);
    a.chunks = 2;
    let a_chunks = vec![
        chunk(&a, 0, "first", Some(vec![0.6, 0.8, 0.0])),
        chunk(&a, 1, "second", Some(vec![0.0, 0.0, 1.0])),
    ];
    let s1 = docs.upsert_document(&a, &a_chunks).await.unwrap();
    let mut b = record(&ds, "b", DocumentStatus::Indexed, None);
    b.chunks = 1;
    let b_chunks = vec![chunk(&b, 0, "lexical only", None)];
    let s2 = docs.upsert_document(&b, &b_chunks).await.unwrap();
    assert!(s2 > s1, "{s1} then {s2}");
    let (got, chunks) = docs.document_with_chunks(&a.id).await.unwrap().unwrap();
    assert_eq!(got.chunks, 2);
    assert_eq!(
        chunks, a_chunks,
        "text, headings, pages and embeddings round-trip"
    );
    assert_eq!(docs.count_chunks(&o.id, None).await.unwrap(), 3);
    assert_eq!(
        docs.count_chunks(&o.id, Some(std::slice::from_ref(&ds.id)))
            .await
            .unwrap(),
        3
    );
    assert_eq!(docs.count_chunks(&o.id, Some(&[])).await.unwrap(), 0);
    let rows = docs.vector_rows(None, 10).await.unwrap();
    assert_eq!(rows.len(), 2, "only chunks with embeddings");
    assert!(rows
        .iter()
        .all(|r| r.document_id == a.id && r.org_id == o.id));
    let details = docs
        .chunk_details(&o.id, &[b_chunks[0].id.clone(), a_chunks[1].id.clone()])
        .await
        .unwrap();
    assert_eq!(details.len(), 2);
    let deleted = docs.delete_document(&o.id, &a.id).await.unwrap();
    let s3 = deleted.expect("a existed");
    assert!(s3 > s2);
    let log = docs.changes_since(0, 10).await.unwrap();
    let order: Vec<(u64, DocumentId)> =
        log.iter().map(|c| (c.seq, c.document_id.clone())).collect();
    assert_eq!(
        order,
        vec![(s1, a.id.clone()), (s2, b.id.clone()), (s3, a.id.clone())]
    );
    assert_eq!(docs.changes_since(s2, 10).await.unwrap().len(), 1);
    assert_eq!(docs.last_change().await.unwrap(), s3);
    assert!(docs.document_with_chunks(&a.id).await.unwrap().is_none());
    assert_eq!(docs.count_chunks(&o.id, None).await.unwrap(), 1);
    // Pruning never lowers the high-water mark a restarted index resumes from.
    docs.prune_changes(s3).await.unwrap();
    assert_eq!(docs.last_change().await.unwrap(), s3);
    assert!(docs.changes_since(s3, 10).await.unwrap().is_empty());
}

/// In-database search (for backends that have it): both retrievers stay inside the org and
/// the data sources asked for, stem and OR the query's words, rank by cosine, and see a write
/// or a delete the moment it commits.
pub async fn database_search(store: &dyn Store) {
    let search = store
        .chunk_search()
        .expect("this backend searches in the database");
    let o = org(store, "o").await;
    let other = org(store, "other").await;
    let ds1 = website(store, &o, "one").await;
    let ds2 = website(store, &o, "two").await;
    let ds3 = website(store, &other, "three").await;
    let docs = store.documents();
    let put = |ds: &DataSource, title: &str, texts: &[(&str, [f32; 3])]| {
        indexed_doc(ds, title, &["Help center"], 5, texts)
    };
    let (a, a_chunks) = put(
        &ds1,
        "Returns guide",
        &[
            (
                "The refund policy allows returns within thirty days",
                [1.0, 0.0, 0.0],
            ),
            ("Shipping takes five business days", [0.0, 1.0, 0.0]),
        ],
    );
    let (b, b_chunks) = put(
        &ds2,
        "Enterprise",
        &[("Refunds for enterprise customers", [0.9, 0.1, 0.0])],
    );
    let (c, c_chunks) = put(
        &ds3,
        "Secret",
        &[("refund policy of another org", [1.0, 0.0, 0.0])],
    );
    for (d, ch) in [(&a, &a_chunks), (&b, &b_chunks), (&c, &c_chunks)] {
        docs.upsert_document(d, ch).await.unwrap();
    }
    search.prepare(Some(3)).await.unwrap();
    search
        .prepare(Some(3))
        .await
        .expect("preparing twice is harmless");
    let ids = |v: &[twig_core::store::ScoredChunk]| -> Vec<ChunkId> {
        v.iter().map(|h| h.chunk_id.clone()).collect()
    };

    let lex = search
        .lexical(&o.id, None, "refund policy", 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&lex),
        vec![a_chunks[0].id.clone(), b_chunks[0].id.clone()],
        "both words beat one (\"Refunds\" stems to refund); another org's chunk is never seen"
    );
    assert!(lex[0].score > lex[1].score && lex[1].score > 0.0);
    let only_two = search
        .lexical(
            &o.id,
            Some(std::slice::from_ref(&ds2.id)),
            "refund policy",
            10,
        )
        .await
        .unwrap();
    assert_eq!(ids(&only_two), vec![b_chunks[0].id.clone()]);
    let by_title = search.lexical(&o.id, None, "guide", 10).await.unwrap();
    assert_eq!(
        by_title.len(),
        2,
        "the title is searched with every chunk of its document"
    );
    assert!(
        search
            .lexical(&o.id, None, "the of and", 10)
            .await
            .unwrap()
            .is_empty(),
        "stop words only"
    );
    for odd in ["refund & | ! ( :* <->", "'refund'", "\\", "refund:*A"] {
        let got = search.lexical(&o.id, None, odd, 10).await.unwrap();
        assert!(got.len() <= 2, "{odd:?} is text, never query syntax");
    }
    assert!(search
        .lexical(&o.id, Some(&[]), "refund", 10)
        .await
        .unwrap()
        .is_empty());

    let q = [1.0, 0.0, 0.0];
    let near = search.nearest(&o.id, None, &q, 10).await.unwrap();
    assert_eq!(
        ids(&near),
        vec![
            a_chunks[0].id.clone(),
            b_chunks[0].id.clone(),
            a_chunks[1].id.clone()
        ]
    );
    assert!(
        (near[0].score - 1.0).abs() < 1e-5,
        "cosine, not distance: {}",
        near[0].score
    );
    assert!(near[2].score.abs() < 1e-5);
    let exact = search.nearest_exact(&o.id, None, &q, 10).await.unwrap();
    assert_eq!(ids(&exact), ids(&near));
    let near_two = search
        .nearest(&o.id, Some(std::slice::from_ref(&ds2.id)), &q, 10)
        .await
        .unwrap();
    assert_eq!(ids(&near_two), vec![b_chunks[0].id.clone()]);
    assert_eq!(search.nearest(&o.id, None, &q, 1).await.unwrap().len(), 1);
    let cos = search
        .cosines(&o.id, &q, &[a_chunks[1].id.clone(), c_chunks[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(
        ids(&cos),
        vec![a_chunks[1].id.clone()],
        "another org's id is skipped"
    );

    docs.delete_document(&o.id, &a.id).await.unwrap();
    assert_eq!(
        ids(&search
            .lexical(&o.id, None, "refund policy", 10)
            .await
            .unwrap()),
        vec![b_chunks[0].id.clone()]
    );
    assert_eq!(
        ids(&search.nearest(&o.id, None, &q, 10).await.unwrap()),
        vec![b_chunks[0].id.clone()]
    );
    store.delete_data_source(&o.id, &ds2.id).await.unwrap();
    assert!(search
        .nearest(&o.id, None, &q, 10)
        .await
        .unwrap()
        .is_empty());
}

/// PostgreSQL only: the word frequencies the lexical search reads stay equal to a recount
/// through every write, and the bounded search ranks the rarest words' chunks. `url` is the
/// store's database, read directly for the recount.
pub async fn database_lexical_statistics(store: &crate::sql::SqlStore, url: &str) {
    use sqlx::Connection;
    let search = store
        .chunk_search()
        .expect("this backend searches in the database");
    let mut raw = sqlx::AnyConnection::connect(url).await.unwrap();
    // Rows of either side the other lacks: 0 when the triggers kept count.
    async fn drift(c: &mut sqlx::AnyConnection) -> i64 {
        let sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM (
            (SELECT org_id, lexeme, data_source_id, chunks FROM lexeme_stats
             EXCEPT SELECT c.org_id, u.lexeme, c.data_source_id, COUNT(*) FROM chunks c, unnest(c.tsv) u
                    WHERE c.org_id IS NOT NULL GROUP BY 1, 2, 3)
            UNION ALL
            (SELECT c.org_id, u.lexeme, c.data_source_id, COUNT(*) FROM chunks c, unnest(c.tsv) u
                    WHERE c.org_id IS NOT NULL GROUP BY 1, 2, 3
             EXCEPT SELECT org_id, lexeme, data_source_id, chunks FROM lexeme_stats)) d";
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(c)
            .await
            .unwrap()
    }
    let o = org(store, "o").await;
    let other = org(store, "other").await;
    let ds1 = website(store, &o, "one").await;
    let ds2 = website(store, &o, "two").await;
    let ds3 = website(store, &other, "three").await;
    let docs = store.documents();
    let put = |ds: &DataSource, key: &str, texts: &[&str]| {
        let texts: Vec<(&str, [f32; 3])> = texts.iter().map(|t| (*t, [1.0, 0.0, 0.0])).collect();
        indexed_doc(ds, key, &[], 4, &texts)
    };
    // Two chunks hold the rare word, six more only the common one.
    let (rare, rare_chunks) = put(&ds1, "rare", &["zebra common lorem", "zebra common ipsum"]);
    let (common, common_chunks) = put(&ds2, "common", &["common dolor"; 6]);
    let (foreign, foreign_chunks) = put(&ds3, "foreign", &["zebra zebra common"]);
    for (d, ch) in [
        (&rare, &rare_chunks),
        (&common, &common_chunks),
        (&foreign, &foreign_chunks),
    ] {
        docs.upsert_document(d, ch).await.unwrap();
    }
    search.prepare(Some(3)).await.unwrap();
    assert_eq!(drift(&mut raw).await, 0, "after inserts");

    let bounded = store
        .lexical_within(&o.id, None, "zebra common", 10, Some(3))
        .await
        .unwrap();
    let mut got: Vec<ChunkId> = bounded.iter().map(|h| h.chunk_id.clone()).collect();
    got.sort();
    let mut want: Vec<ChunkId> = rare_chunks.iter().map(|c| c.id.clone()).collect();
    want.sort();
    assert_eq!(got, want, "candidates come from the rarer word only");
    let exact = search
        .lexical_exact(&o.id, None, "zebra common", 10)
        .await
        .unwrap();
    assert_eq!(exact.len(), 8, "every chunk of the org holding either word");
    assert_eq!(
        &exact[..2].iter().map(|h| h.score).collect::<Vec<_>>(),
        &bounded.iter().map(|h| h.score).collect::<Vec<_>>(),
        "the same BM25 where both rank the same chunks"
    );
    assert_eq!(
        store
            .lexical_within(&o.id, None, "common", 10, Some(3))
            .await
            .unwrap()
            .len(),
        3,
        "a word more common than the bound still finds that many"
    );
    assert_eq!(
        search
            .lexical(
                &o.id,
                Some(std::slice::from_ref(&ds2.id)),
                "zebra common",
                10
            )
            .await
            .unwrap()
            .len(),
        6,
        "frequencies are those of the data sources searched"
    );

    // Rewriting a document's chunks, deleting one, deleting a data source, and rows that only
    // get their scope at `prepare` (as `twig migrate` copies them) all keep the counts true.
    let (_, mut rewritten) = put(&ds1, "rare", &["zebra quagga", "okapi"]);
    for c in &mut rewritten {
        c.document_id = rare.id.clone();
    }
    docs.upsert_document(&rare, &rewritten).await.unwrap();
    assert_eq!(drift(&mut raw).await, 0, "after a rewrite");
    docs.delete_document(&o.id, &common.id).await.unwrap();
    assert_eq!(drift(&mut raw).await, 0, "after a delete");
    sqlx::query("UPDATE chunks SET org_id = NULL, data_source_id = NULL WHERE document_id = $1")
        .bind(rare.id.as_str())
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(drift(&mut raw).await, 0, "after losing the scope");
    search.prepare(Some(3)).await.unwrap();
    assert_eq!(drift(&mut raw).await, 0, "after prepare fills the scope in");
    assert_eq!(
        search
            .lexical(&o.id, None, "quagga", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.delete_data_source(&other.id, &ds3.id).await.unwrap();
    assert_eq!(drift(&mut raw).await, 0, "after a data source is deleted");
    let left: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM lexeme_stats WHERE org_id = $1")
            .bind(other.id.as_str())
            .fetch_one(&mut raw)
            .await
            .unwrap();
    assert_eq!(left, 0, "no zero counts are left behind");
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
/// Connector cursors are kept per data source, replaced, cleared, and go with the source.
pub async fn sync_cursors_roundtrip(store: &dyn Store) {
    let o = org(store, "o").await;
    let a = website(store, &o, "a").await;
    let b = website(store, &o, "b").await;
    assert_eq!(store.sync_cursor(&a.id).await.unwrap(), None);
    let c1 = json!({"since": "2024-01-01T00:00:00Z", "page": "abc"});
    store.save_sync_cursor(&a.id, Some(&c1)).await.unwrap();
    assert_eq!(store.sync_cursor(&a.id).await.unwrap(), Some(c1));
    assert_eq!(store.sync_cursor(&b.id).await.unwrap(), None);
    let c2 = json!({"since": "2024-02-01T00:00:00Z"});
    store.save_sync_cursor(&a.id, Some(&c2)).await.unwrap();
    assert_eq!(store.sync_cursor(&a.id).await.unwrap(), Some(c2));
    store.save_sync_cursor(&a.id, None).await.unwrap();
    assert_eq!(store.sync_cursor(&a.id).await.unwrap(), None);
    store
        .save_sync_cursor(&b.id, Some(&json!(1)))
        .await
        .unwrap();
    assert!(store.delete_data_source(&o.id, &b.id).await.unwrap());
    assert_eq!(store.sync_cursor(&b.id).await.unwrap(), None);
}

/// Secret config fields come back as written (the backend seals them at rest).
pub async fn data_source_secrets_roundtrip(store: &dyn Store) {
    let o = org(store, "o").await;
    let mut ds = DataSource::create(
        o.id.clone(),
        DataSourceInput {
            kind: Some("slack".into()),
            name: Some("S".into()),
            config: Some(json!({"channel_ids": ["C1"], "bot_token": "xoxb-first"})),
            sync_frequency: None,
        },
    )
    .unwrap();
    store.create_data_source(&ds).await.unwrap();
    let got = store.get_data_source(&o.id, &ds.id).await.unwrap().unwrap();
    // `bot_token` is the alias of `token`, stored under `token`.
    assert_eq!(got.config["token"], json!("xoxb-first"));
    // A config written before the alias existed still keeps `bot_token` sealed.
    ds.config.insert("bot_token".into(), json!("xoxb-second"));
    assert!(store.update_data_source(&ds).await.unwrap());
    let listed = store
        .list_data_sources(&o.id, None, Page::default())
        .await
        .unwrap();
    assert_eq!(listed.items[0].config["bot_token"], json!("xoxb-second"));
}

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

fn interaction_of(
    org: &Org,
    agent: &AgentId,
    session: Option<&SessionId>,
    query: &str,
) -> Interaction {
    Interaction {
        id: InteractionId::generate(),
        org_id: org.id.clone(),
        agent_id: agent.clone(),
        session_id: session.cloned(),
        key_id: None,
        query: query.into(),
        rewritten_query: Some(format!("{query} rewritten")),
        response: "The answer [1].".into(),
        sources: vec![Source {
            chunk_id: ChunkId::generate(),
            document_title: "Doc".into(),
            document_url: Some("https://example.com/doc".into()),
            similarity_score: 0.875,
            chunk_text: "The answer.".into(),
        }],
        model: "extractive".into(),
        rag_strategy: RagStrategy::Cedar,
        tokens_input: 12,
        tokens_output: 4,
        cost_usd: 0.25,
        latency_ms: 17,
        status: InteractionStatus::Completed,
        error: None,
        feedback: None,
        feedback_comment: None,
        created_at: time::now(),
    }
}

fn turn(role: TurnRole, content: &str) -> Turn {
    Turn {
        role,
        content: content.into(),
        timestamp: time::now(),
        sources: vec![ChunkId::generate()],
    }
}

/// An interaction round-trips; its session is created on the first record and grows after.
pub async fn interactions_record_and_session_turns(store: &dyn Store) {
    let o = org(store, "a").await;
    let other = org(store, "b").await;
    let s = store.interactions();
    let agent = AgentId::generate();
    let sid = SessionId::generate();
    let first = interaction_of(&o, &agent, Some(&sid), "q1");
    let append = |turns: Vec<Turn>| SessionAppend {
        session_id: sid.clone(),
        agent_id: agent.clone(),
        turns,
        expires_at: time::now() + chrono::Duration::days(30),
    };
    assert!(s
        .get_session(&o.id, &sid, time::now())
        .await
        .unwrap()
        .is_none());
    s.record_interaction(
        &first,
        Some(&append(vec![
            turn(TurnRole::User, "q1"),
            turn(TurnRole::Assistant, "a1"),
        ])),
    )
    .await
    .unwrap();
    let got = s.get_interaction(&o.id, &first.id).await.unwrap();
    assert_eq!(got.as_ref(), Some(&first));
    assert!(s
        .get_interaction(&other.id, &first.id)
        .await
        .unwrap()
        .is_none());
    let sess = s
        .get_session(&o.id, &sid, time::now())
        .await
        .unwrap()
        .expect("session");
    assert_eq!(
        (sess.agent_id.clone(), sess.org_id.clone()),
        (agent.clone(), o.id.clone())
    );
    assert!(s
        .get_session(&other.id, &sid, time::now())
        .await
        .unwrap()
        .is_none());

    let second = interaction_of(&o, &agent, Some(&sid), "q2");
    s.record_interaction(
        &second,
        Some(&append(vec![
            turn(TurnRole::User, "q2"),
            turn(TurnRole::Assistant, "a2"),
        ])),
    )
    .await
    .unwrap();
    let turns = s.session_turns(&o.id, &sid, 3).await.unwrap();
    let texts: Vec<&str> = turns.iter().map(|t| t.content.as_str()).collect();
    assert_eq!(texts, vec!["a1", "q2", "a2"], "last turns, oldest first");
    assert_eq!(turns[1].role, TurnRole::User);
    assert_eq!(turns[0].sources.len(), 1);
    assert!(s
        .session_turns(&other.id, &sid, 10)
        .await
        .unwrap()
        .is_empty());

    // Another agent (or org) cannot write into the session, and nothing is stored then.
    let foreign = interaction_of(&o, &AgentId::generate(), Some(&sid), "q3");
    let bad = SessionAppend {
        agent_id: foreign.agent_id.clone(),
        ..append(vec![turn(TurnRole::User, "q3")])
    };
    assert!(matches!(
        s.record_interaction(&foreign, Some(&bad)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s
        .get_interaction(&o.id, &foreign.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.session_turns(&o.id, &sid, 10).await.unwrap().len(), 4);

    // Without a session (a failed query).
    let mut failed = interaction_of(&o, &agent, None, "q4");
    failed.status = InteractionStatus::Failed;
    failed.error = Some("the model provider timed out".into());
    s.record_interaction(&failed, None).await.unwrap();
    assert_eq!(
        s.get_interaction(&o.id, &failed.id).await.unwrap(),
        Some(failed)
    );
}

/// List filters (agent, dates, feedback) and feedback overwrite.
pub async fn interactions_filters_and_feedback(store: &dyn Store) {
    let o = org(store, "a").await;
    let other = org(store, "b").await;
    let s = store.interactions();
    let a1 = AgentId::generate();
    let a2 = AgentId::generate();
    let base = time::now() - chrono::Duration::days(10);
    let mut ids = Vec::new();
    for (n, agent) in [&a1, &a1, &a2, &a1].into_iter().enumerate() {
        let mut i = interaction_of(&o, agent, None, &format!("q{n}"));
        i.created_at = base + chrono::Duration::days(n as i64);
        s.record_interaction(&i, None).await.unwrap();
        ids.push(i.id);
    }
    s.record_interaction(&interaction_of(&other, &a1, None, "theirs"), None)
        .await
        .unwrap();
    let all = s
        .list_interactions(&o.id, &InteractionFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(all.total, 4);
    let order: Vec<&InteractionId> = all.items.iter().map(|i| &i.id).collect();
    assert_eq!(order, ids.iter().rev().collect::<Vec<_>>(), "newest first");
    let by_agent = InteractionFilter {
        agent_id: Some(a1.clone()),
        ..Default::default()
    };
    assert_eq!(
        s.list_interactions(&o.id, &by_agent, Page::default())
            .await
            .unwrap()
            .total,
        3
    );
    let window = InteractionFilter {
        start: Some(base + chrono::Duration::days(1)),
        end: Some(base + chrono::Duration::days(3)),
        ..Default::default()
    };
    let w = s
        .list_interactions(&o.id, &window, Page::default())
        .await
        .unwrap();
    assert_eq!(
        w.items.iter().map(|i| &i.id).collect::<Vec<_>>(),
        vec![&ids[2], &ids[1]]
    );

    assert!(s
        .set_feedback(&other.id, &ids[0], Feedback::Positive, None)
        .await
        .unwrap()
        .is_none());
    let f = s
        .set_feedback(&o.id, &ids[0], Feedback::Positive, Some("great"))
        .await
        .unwrap()
        .expect("updated");
    assert_eq!(
        (f.feedback, f.feedback_comment.as_deref()),
        (Some(Feedback::Positive), Some("great"))
    );
    let f = s
        .set_feedback(&o.id, &ids[0], Feedback::Negative, None)
        .await
        .unwrap()
        .expect("updated");
    assert_eq!(
        (f.feedback, f.feedback_comment),
        (Some(Feedback::Negative), None),
        "overwritten"
    );
    s.set_feedback(&o.id, &ids[1], Feedback::Positive, None)
        .await
        .unwrap();
    let oid = &o.id;
    let count = |fb| {
        let filter = InteractionFilter {
            feedback: Some(fb),
            ..Default::default()
        };
        async move {
            s.list_interactions(oid, &filter, Page::default())
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count(FeedbackFilter::Is(Feedback::Negative)).await.items[0].id,
        ids[0]
    );
    assert_eq!(count(FeedbackFilter::Is(Feedback::Positive)).await.total, 1);
    assert_eq!(count(FeedbackFilter::None).await.total, 2);
    let page = s
        .list_interactions(
            &o.id,
            &InteractionFilter::default(),
            Page::new(Some(1), Some(1)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        (page.total, page.items.len(), &page.items[0].id),
        (4, 1, &ids[2])
    );
}

/// Expired sessions are invisible, then deleted with their turns, one org at a time.
pub async fn sessions_expire_and_stay_in_their_org(store: &dyn Store) {
    let o = org(store, "a").await;
    let other = org(store, "b").await;
    let s = store.interactions();
    let agent = AgentId::generate();
    let now = time::now();
    let mut sessions = Vec::new();
    for (owner, days) in [(&o, -1i64), (&o, 5), (&other, -1)] {
        let sid = SessionId::generate();
        let i = interaction_of(owner, &agent, Some(&sid), "q");
        s.record_interaction(
            &i,
            Some(&SessionAppend {
                session_id: sid.clone(),
                agent_id: agent.clone(),
                turns: vec![turn(TurnRole::User, "q")],
                expires_at: now + chrono::Duration::days(days),
            }),
        )
        .await
        .unwrap();
        sessions.push(sid);
    }
    assert!(
        s.get_session(&o.id, &sessions[0], now)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(s
        .get_session(&o.id, &sessions[1], now)
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.delete_expired_sessions(&o.id, now).await.unwrap(), 1);
    assert_eq!(s.delete_expired_sessions(&o.id, now).await.unwrap(), 0);
    assert!(s
        .session_turns(&o.id, &sessions[0], 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.session_turns(&o.id, &sessions[1], 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.session_turns(&other.id, &sessions[2], 10)
            .await
            .unwrap()
            .len(),
        1,
        "other org untouched"
    );
    assert_eq!(s.delete_expired_sessions(&other.id, now).await.unwrap(), 1);
}

/// Analytics equal what this test computes from the interactions it stored.
pub async fn analytics_match_a_hand_computation(store: &dyn Store) {
    use twig_core::analytics::{AnalyticsQuery, Granularity};
    let o = org(store, "a").await;
    let other = org(store, "b").await;
    let s = store.interactions();
    let (a1, a2) = (AgentId::generate(), AgentId::generate());
    let (s1, s2, s3) = (
        SessionId::generate(),
        SessionId::generate(),
        SessionId::generate(),
    );
    let at = |d: u32, h: u32| {
        chrono::NaiveDate::from_ymd_opt(2024, 1, d)
            .unwrap()
            .and_hms_opt(h, 30, 0)
            .unwrap()
            .and_utc()
    };
    // (agent, session, day, hour, latency, cost, status, cited, feedback)
    let rows = [
        (
            &a1,
            &s1,
            15,
            9,
            100,
            0.5,
            "completed",
            true,
            Some("positive"),
        ),
        (
            &a1,
            &s1,
            15,
            9,
            300,
            0.25,
            "completed",
            true,
            Some("negative"),
        ),
        (&a1, &s2, 15, 10, 200, 0.0, "completed", false, None),
        (&a2, &s3, 15, 23, 900, 1.0, "failed", false, None),
        (
            &a1,
            &s2,
            16,
            0,
            50,
            0.125,
            "completed",
            true,
            Some("positive"),
        ),
        (&a2, &s3, 17, 12, 400, 0.5, "cancelled", true, None),
        (
            &a1,
            &s1,
            14,
            23,
            7,
            9.0,
            "completed",
            true,
            Some("negative"),
        ), // before the range
        (&a1, &s1, 18, 0, 7, 9.0, "completed", true, Some("negative")), // after it
    ];
    let mut stored = Vec::new();
    for (agent, sess, d, h, lat, cost, st, cited, fb) in rows {
        let mut i = interaction_of(&o, agent, Some(sess), "q");
        i.created_at = at(d, h);
        i.latency_ms = lat;
        i.cost_usd = cost;
        i.status = InteractionStatus::parse(st).unwrap();
        if !cited {
            i.sources.clear();
        }
        i.feedback = fb.and_then(Feedback::parse);
        s.record_interaction(&i, None).await.unwrap();
        stored.push(i);
    }
    let mut foreign = interaction_of(&other, &a1, Some(&s1), "q");
    foreign.created_at = at(15, 9);
    s.record_interaction(&foreign, None).await.unwrap();

    let start = at(15, 0) - chrono::Duration::minutes(30);
    let end = at(18, 0) - chrono::Duration::minutes(30);
    let q = |agent: Option<&AgentId>, g| AnalyticsQuery {
        agent_id: agent.cloned(),
        start,
        end,
        granularity: g,
    };
    let expect = |agent: Option<&AgentId>| {
        let inr: Vec<&Interaction> = stored
            .iter()
            .filter(|i| i.created_at >= start && i.created_at < end)
            .filter(|i| agent.is_none_or(|a| &i.agent_id == a))
            .collect();
        let n = inr.len() as u64;
        let sessions: std::collections::HashSet<_> =
            inr.iter().map(|i| i.session_id.clone()).collect();
        let rated: Vec<_> = inr.iter().filter_map(|i| i.feedback).collect();
        let answered: Vec<_> = inr
            .iter()
            .filter(|i| i.status == InteractionStatus::Completed)
            .collect();
        let lat: u64 = inr.iter().map(|i| i.latency_ms).sum();
        (
            n,
            sessions.len() as u64,
            if n == 0 {
                0
            } else {
                (lat as f64 / n as f64).round() as u64
            },
            (!rated.is_empty()).then(|| {
                rated.iter().filter(|f| **f == Feedback::Positive).count() as f64
                    / rated.len() as f64
            }),
            if answered.is_empty() {
                0.0
            } else {
                answered.iter().filter(|i| !i.sources.is_empty()).count() as f64
                    / answered.len() as f64
            },
            inr.iter().map(|i| i.cost_usd).sum::<f64>(),
        )
    };
    for agent in [None, Some(&a1), Some(&a2)] {
        let (m, buckets) = s
            .analytics(&o.id, &q(agent, Granularity::Day))
            .await
            .unwrap();
        let (n, users, avg, acc, cit, cost) = expect(agent);
        assert_eq!(
            (m.total_queries, m.unique_users, m.avg_latency_ms),
            (n, users, avg),
            "{agent:?}"
        );
        assert_eq!(m.accuracy_rate, acc, "{agent:?}");
        assert!((m.citation_rate - cit).abs() < 1e-12, "{agent:?}");
        assert!((m.total_cost_usd - cost).abs() < 1e-9, "{agent:?}");
        assert_eq!(buckets.iter().map(|b| b.queries).sum::<u64>(), n);
    }
    // Day buckets of all agents: 15th has latencies [100, 200, 300, 900]; nearest rank:
    // p50 = 2nd smallest (200), p95 = 4th (900). 16th: [50]. 17th: [400].
    let (_, days) = s
        .analytics(&o.id, &q(None, Granularity::Day))
        .await
        .unwrap();
    let got: Vec<_> = days
        .iter()
        .map(|b| (b.timestamp, b.queries, b.latency_p50, b.latency_p95))
        .collect();
    let day = |d| at(d, 0) - chrono::Duration::minutes(30);
    assert_eq!(
        got,
        vec![
            (day(15), 4, 200, 900),
            (day(16), 1, 50, 50),
            (day(17), 1, 400, 400)
        ]
    );
    let (_, hours) = s
        .analytics(&o.id, &q(None, Granularity::Hour))
        .await
        .unwrap();
    assert_eq!(hours.len(), 5);
    assert_eq!(
        (hours[0].queries, hours[0].latency_p50, hours[0].latency_p95),
        (2, 100, 300)
    );
    let (_, weeks) = s
        .analytics(&o.id, &q(None, Granularity::Week))
        .await
        .unwrap();
    assert_eq!(weeks.len(), 1);
    assert_eq!(weeks[0].timestamp, day(15), "2024-01-15 is a Monday");
    let (_, months) = s
        .analytics(&o.id, &q(None, Granularity::Month))
        .await
        .unwrap();
    assert_eq!(
        months[0].timestamp,
        at(1, 0) - chrono::Duration::minutes(30)
    );
    // An empty range is zeros, not an error.
    let empty = AnalyticsQuery {
        agent_id: None,
        start: at(1, 0),
        end: at(2, 0),
        granularity: Granularity::Day,
    };
    let (m, b) = s.analytics(&o.id, &empty).await.unwrap();
    assert_eq!(
        (
            m.total_queries,
            m.unique_users,
            m.avg_latency_ms,
            m.accuracy_rate
        ),
        (0, 0, 0, None)
    );
    assert_eq!((m.citation_rate, m.total_cost_usd), (0.0, 0.0));
    assert!(b.is_empty());
}

/// Slack settings: one workspace per org, replaced whole, found by team; events remembered by
/// id (a retry writes nothing, not even its job) until they are a day older than the newest.
pub async fn slack_settings_and_event_memory(store: &dyn Store) {
    use twig_core::slack::{ReceivedEvent, SlackSettings, ANSWER_JOB};
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let agent_a = agent(&a, "Support", &[]);
    store.create_agent(&agent_a).await.unwrap();
    let slack = store.slack();
    assert_eq!(slack.get_slack_settings(&a.id).await.unwrap(), None);
    assert_eq!(
        slack.slack_settings_for_team("T0000000A").await.unwrap(),
        None
    );
    let created = time::now();
    let mut s = SlackSettings {
        org_id: a.id.clone(),
        team_id: "T0000000A".into(),
        default_agent_id: agent_a.id.clone(),
        allowed_channel_ids: vec!["C00000001".into(), "D00000002".into()],
        show_citations: true,
        created_at: created,
        updated_at: created,
    };
    slack.put_slack_settings(&s).await.unwrap();
    assert_eq!(
        slack.get_slack_settings(&a.id).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        slack.slack_settings_for_team("T0000000A").await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(slack.get_slack_settings(&b.id).await.unwrap(), None);

    // Replaced whole; the connection time stays.
    s.team_id = "T0000000B".into();
    s.allowed_channel_ids = vec![];
    s.show_citations = false;
    s.created_at = created + chrono::Duration::seconds(5);
    s.updated_at = created + chrono::Duration::seconds(5);
    slack.put_slack_settings(&s).await.unwrap();
    let got = slack.get_slack_settings(&a.id).await.unwrap().unwrap();
    assert_eq!(got.created_at, created);
    assert_eq!(
        (got.team_id.as_str(), got.show_citations),
        ("T0000000B", false)
    );
    assert!(got.allowed_channel_ids.is_empty());
    assert_eq!(
        slack.slack_settings_for_team("T0000000A").await.unwrap(),
        None
    );

    // Another org cannot take a connected workspace.
    let mut other = s.clone();
    other.org_id = b.id.clone();
    assert!(matches!(
        slack.put_slack_settings(&other).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(slack.get_slack_settings(&b.id).await.unwrap(), None);

    let now = time::now();
    let event = |id: &str, at| ReceivedEvent {
        org_id: a.id.clone(),
        team_id: "T0000000B".into(),
        event_id: id.into(),
        received_at: at,
    };
    let job = |n: i64| NewJob::now(a.id.clone(), ANSWER_JOB, json!({ "n": n }));
    let old = now - chrono::Duration::hours(30);
    assert!(slack
        .accept_slack_event(&event("Ev1", old), &job(1))
        .await
        .unwrap());
    assert!(slack
        .accept_slack_event(&event("Ev2", now), &job(2))
        .await
        .unwrap());
    assert!(!slack
        .accept_slack_event(&event("Ev2", now), &job(3))
        .await
        .unwrap());
    // The same id in another workspace is another event.
    let mut elsewhere = event("Ev2", now);
    elsewhere.team_id = "T0000000C".into();
    assert!(slack.accept_slack_event(&elsewhere, &job(4)).await.unwrap());
    // Ev1 is more than a day older than Ev2: forgotten, so taken again.
    assert!(slack
        .accept_slack_event(&event("Ev1", now), &job(5))
        .await
        .unwrap());
    let mut queued = Vec::new();
    while let Some(j) = store
        .jobs()
        .claim("w", &[ANSWER_JOB], time::now(), Duration::from_secs(60))
        .await
        .unwrap()
    {
        queued.push(j.payload["n"].as_i64().unwrap());
    }
    queued.sort();
    assert_eq!(queued, vec![1, 2, 4, 5], "the duplicate wrote no job");
}

/// Generates one test per conformance check for a backend; `$make` yields a fresh store.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            bootstrap_only_once, api_keys_roundtrip_and_revoke, chunks_and_the_change_log, api_key_needs_existing_org, agents_crud,
            agents_reject_foreign_data_sources, org_isolation, data_sources_crud, jobs_dedupe,
            jobs_claim_is_exclusive, jobs_concurrent_claimers_take_each_job_once, jobs_lease_expiry_and_retries, jobs_exhaust_attempts_and_stay_in_their_org,
            users_crud_and_unique_email, user_keys_follow_the_role, rate_limit_overrides_roundtrip,
            webhooks_crud, webhook_outbox_follows_agent_changes, webhook_attempts_and_auto_disable,
            kb_articles_and_versions, document_records_and_states, sync_progress_and_outcome,
            sync_cursors_roundtrip, data_source_secrets_roundtrip,
            interactions_record_and_session_turns, interactions_filters_and_feedback, sessions_expire_and_stay_in_their_org,
            analytics_match_a_hand_computation, slack_settings_and_event_memory);
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
