//! Scale-out on PostgreSQL: `twig serve` nodes, each with a data directory of its own, sharing
//! one database are one deployment. Keys, records and jobs are shared; a sync runs once,
//! on whichever node's worker claims it, and a killed node's sync is resumed by another;
//! search runs in the database, so a write committed through one node is found (or, deleted,
//! no longer found) on every node at once.

use crate::helpers::TestServer;
use crate::ingest::{big_site, create_ds, documents, org_id, search, wait_synced};
use crate::site::Site;
use serde_json::json;
use std::time::{Duration, Instant};
use twig_store::scratch::ScratchDb;

const KEY: &str = "5ec0e7a1c0ffee5ec0e7a1c0ffee5ec0e7a1c0ffee5ec0e7a1c0ffee5ec0e7a1";

fn env(db: &ScratchDb) -> Vec<(&'static str, String)> {
    [
        ("TWIG_DATABASE_URL", db.url.clone()),
        ("TWIG_SECRET_KEY", KEY.to_owned()),
        ("TWIG_INGEST__ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ("TWIG_INGEST__JOB_LEASE_SECS", "3".to_owned()),
        // Lexical scores (no embedder here) are low: let the answerer use them.
        ("TWIG_ANSWER__SIMILARITY_THRESHOLD", "0.05".to_owned()),
    ]
    .into_iter()
    .chain(
        crate::webhooks::OPEN
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned())),
    )
    .collect()
}

async fn node(dir: &std::path::Path, env: &[(&'static str, String)]) -> TestServer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_in(dir, &env).await
}

/// `query` finds something in `ds` on `s`, with no wait: nodes hold no index of their own.
async fn searchable(s: &TestServer, query: &str, ds: &str) {
    assert!(
        !search(s, query, ds).await.is_empty(),
        "{query:?} not found on {}",
        s.base
    );
}

#[tokio::test]
async fn nodes_sharing_a_postgres_database_are_one_deployment() {
    let db = ScratchDb::create().await;
    let mut env = env(&db);
    // Hybrid search in PostgreSQL: tsvector and pgvector's HNSW, fused.
    env.push(("TWIG_EMBEDDING__PROVIDER", "local".to_owned()));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(dir_a.path(), &env).await;
    let key = a.admin().to_owned();
    let mut b = node(dir_b.path(), &env).await;
    assert!(
        b.key.is_none(),
        "the second node finds the deployment bootstrapped"
    );
    b.key = Some(key.clone());
    for s in [&a, &b] {
        let r = s.get("/readyz", "").await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    // A key minted on A works on B; a record made on B is read on A.
    let r = a
        .post(
            "/api/v1/api-keys",
            &key,
            json!({"name": "made on A", "scopes": ["read", "write"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let minted = r.body["secret"].as_str().unwrap().to_owned();
    let r = b.get("/api/v1/agents", &minted).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A site synced once, by whichever node's worker claims the job; found on both nodes.
    let site = Site::start(&[
        (
            "/",
            crate::site::page(
                "Otters",
                "Sea otters hold hands while they sleep so they do not drift apart.",
                &["/kelp"],
            ),
        ),
        (
            "/kelp",
            crate::site::page(
                "Kelp",
                "Otters wrap themselves in giant kelp forests to anchor in place.",
                &[],
            ),
        ),
    ])
    .await;
    let ds = create_ds(
        &a,
        json!({"type": "website", "name": "Otters", "config": {"url": format!("{}/", site.base)}}),
    )
    .await;
    let r = b
        .post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let st = wait_synced(&a, &ds, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(site.hits("/kelp"), 1, "crawled once, not once per node");
    assert_eq!(documents(&b, &ds).await.len(), 2);
    searchable(&a, "giant kelp forests", &ds).await;
    searchable(&b, "giant kelp forests", &ds).await;
    // No word in common with either page: only the vector side (pgvector) can find it.
    let hits = search(&b, "marine mammals", &ds).await;
    assert!(!hits.is_empty(), "found by meaning");
    assert!(
        hits.iter()
            .all(|h| h["similarity_score"].as_f64().unwrap() > 0.5),
        "cosine similarities, rescaled: {hits:?}"
    );

    // Events caused on either node are delivered once per endpoint.
    let (hooks, hook_url) = crate::webhooks::receiver(&[]).await;
    let r = a
        .post(
            "/api/v1/webhooks",
            &key,
            json!({"url": hook_url, "events": ["agent.created"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = a
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "made on A", "data_source_ids": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // An agent made on B answers on A, citing the synced page.
    let r = b
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "Otter facts", "data_source_ids": [ds]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let agent = r.body["id"].as_str().unwrap().to_owned();
    let r = a
        .post(
            "/api/v1/query",
            &key,
            json!({"agent_id": agent, "query": "Why do sea otters hold hands?"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("drift apart"),
        "answered from the page: {}",
        r.text
    );
    let got = hooks.wait_for(2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_now = hooks.wait_for(2).await;
    assert_eq!(got_now.len(), 2, "one delivery per event: {got:?}");
    let mut names: Vec<String> = got_now
        .iter()
        .map(|(_, body)| {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            v["data"]["agent"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["Otter facts", "made on A"]);

    // Deleted on A: gone from B's search at once (nothing to replay).
    let r = a.delete(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = b.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let org = org_id(&b).await;
    let r = b
        .post(
            "/api/v1/semantic-search",
            &key,
            json!({"query": "giant kelp forests", "org_id": org, "top_k": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("kelp"), "still found on B: {}", r.text);
}

/// Creates a website source over `site` on `s`, starts its sync, and returns once 6 pages are
/// in while it is still running (the moment the tests kill whoever runs it).
async fn sync_until_mid_way(s: &TestServer, key: &str, site: &Site) -> String {
    let ds = create_ds(
        s,
        json!({"type": "website", "name": "Guide", "config": {"url": format!("{}/", site.base), "requests_per_second": 12}}),
    )
    .await;
    let r = s
        .post(&format!("/api/v1/data-sources/{ds}/sync"), key, json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = s
            .get(&format!("/api/v1/data-sources/{ds}/status"), key)
            .await
            .body;
        if st["documents_done"].as_u64().unwrap_or(0) >= 6 {
            assert_eq!(st["status"], "processing", "killed mid-sync: {st}");
            return ds;
        }
        assert!(Instant::now() < deadline, "the sync did not start: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_sync_on_a_killed_node_is_finished_by_another_without_duplicates() {
    let db = ScratchDb::create().await;
    let env = env(&db);
    let pages = big_site(30);
    let refs: Vec<(&str, String)> = pages.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let site = Site::start(&refs).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Only A runs jobs at first, so the sync is A's.
    let mut a_env = env.clone();
    a_env.push(("TWIG_INGEST__WORKERS", "1".to_owned()));
    let mut a = node(dir_a.path(), &a_env).await;
    let key = a.admin().to_owned();
    let ds = sync_until_mid_way(&a, &key, &site).await;
    a.kill9();
    // B takes over once A's lease lapses, and finishes from where A's last commit left off.
    let mut b = node(dir_b.path(), &env).await;
    b.key = Some(key.clone());
    let st = wait_synced(&b, &ds, Duration::from_secs(120)).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&b, &ds).await;
    assert_eq!(docs.len(), 31, "every page once");
    let mut keys: Vec<&str> = docs.iter().map(|d| d["url"].as_str().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 31, "no page twice");
    assert!(
        site.hits("/p0") <= 2,
        "a page fetched at most once per run: {}",
        site.hits("/p0")
    );
    searchable(&b, "species 29 lives in habitat", &ds).await;
}

fn redis_url() -> String {
    std::env::var("TWIG_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[tokio::test]
async fn a_keys_rate_limit_holds_exactly_across_nodes_in_redis() {
    let db = ScratchDb::create().await;
    let mut env = env(&db);
    env.extend([
        ("TWIG_RATE_LIMITS__ENABLED", "true".to_owned()),
        ("TWIG_RATE_LIMITS__BACKEND", "redis".to_owned()),
        ("TWIG_RATE_LIMITS__REDIS_URL", redis_url()),
        // One write a minute after the burst: nothing refills during the test.
        ("TWIG_RATE_LIMITS__WRITE_PER_MINUTE", "1".to_owned()),
        ("TWIG_RATE_LIMITS__WRITE_BURST", "6".to_owned()),
    ]);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(dir_a.path(), &env).await;
    let mut b = node(dir_b.path(), &env).await;
    b.key = a.key.clone();
    let (_, key) = a.key_with(&["read", "write"]).await;
    // 20 creates at once, alternating nodes: exactly the burst of 6 gets through.
    let mut calls = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { &a } else { &b };
        calls.push(s.post(
            "/api/v1/agents",
            &key,
            json!({"name": format!("agent {i}"), "data_source_ids": []}),
        ));
    }
    let results = futures::future::join_all(calls).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    let refused = results.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (created, refused),
        (6, 14),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let r = b.get("/api/v1/agents", &key).await;
    assert_eq!(r.body["total"], 6, "refused requests changed nothing");
}

#[tokio::test]
async fn with_redis_down_limited_routes_answer_503_unless_fail_open() {
    let dir = tempfile::tempdir().unwrap();
    let closed = [
        ("TWIG_RATE_LIMITS__ENABLED", "true"),
        ("TWIG_RATE_LIMITS__BACKEND", "redis"),
        // Nothing listens on port 1.
        (
            "TWIG_RATE_LIMITS__REDIS_URL",
            "redis://:hunter2@127.0.0.1:1",
        ),
    ];
    let s = TestServer::start_in(dir.path(), &closed).await;
    let r = s.get("/api/v1/agents", s.admin()).await;
    crate::helpers::assert_error(&r, 503, "service_unavailable");
    assert!(!r.text.contains("hunter2"), "{}", r.text);
    let r = s.get("/readyz", "").await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(s.get("/healthz", "").await.status == 200);
    drop(s);

    let dir = tempfile::tempdir().unwrap();
    let mut open = closed.to_vec();
    open.push(("TWIG_RATE_LIMITS__FAIL_OPEN", "true"));
    let s = TestServer::start_in(dir.path(), &open).await;
    let r = s.get("/api/v1/agents", s.admin()).await;
    assert_eq!(r.status, 200, "fail_open lets requests through: {}", r.text);
}

#[tokio::test]
async fn an_upload_to_one_node_is_synced_by_another_through_s3() {
    let db = ScratchDb::create().await;
    let (endpoint, bucket) = twig_ingest::originals::scratch_bucket().await;
    let mut env = env(&db);
    env.extend([
        ("TWIG_STORAGE__KIND", "s3".to_owned()),
        ("TWIG_STORAGE__BUCKET", bucket.clone()),
        ("TWIG_STORAGE__ENDPOINT", endpoint.clone()),
        ("TWIG_STORAGE__PREFIX", "originals".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
    ]);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A takes uploads but runs no jobs; B runs them and has never seen the file.
    let mut a_env = env.clone();
    a_env.push(("TWIG_INGEST__WORKERS", "0".to_owned()));
    let a = node(dir_a.path(), &a_env).await;
    let key = a.admin().to_owned();
    let r = a.get("/readyz", "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ds = create_ds(&a, json!({"type": "file", "name": "Handbook"})).await;
    let r = crate::ingest::upload(
        &a,
        &key,
        &ds,
        &[(
            "pangolins.md",
            b"# Pangolins\n\nPangolins roll into a ball of overlapping scales when threatened.",
        )],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(
        std::fs::read_dir(dir_a.path().join("files"))
            .map(|d| d.flatten().all(|e| e.file_name() == ".staging"))
            .unwrap_or(true),
        "nothing kept in A's data dir"
    );
    let mut b = node(dir_b.path(), &env).await;
    b.key = Some(key.clone());
    let st = wait_synced(&b, &ds, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(st["documents_failed"], 0, "{st}");
    searchable(&b, "overlapping scales", &ds).await;
    searchable(&a, "overlapping scales", &ds).await;
    let listing = |bucket: String, endpoint: String| async move {
        reqwest::get(format!("{endpoint}/{bucket}?prefix=originals/"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(listing(bucket.clone(), endpoint.clone())
        .await
        .contains(&ds));
    // Deleting the source removes its originals from the bucket.
    let r = b.delete(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(20);
    while listing(bucket.clone(), endpoint.clone())
        .await
        .contains(&ds)
    {
        assert!(Instant::now() < deadline, "originals left in the bucket");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn an_unreachable_bucket_fails_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(
        dir.path(),
        &[
            ("TWIG_STORAGE__KIND", "s3"),
            ("TWIG_STORAGE__BUCKET", "twig-no-such-bucket"),
            ("TWIG_STORAGE__ENDPOINT", "http://127.0.0.1:1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
    .await;
    let r = s.get("/readyz", "").await;
    crate::helpers::assert_error(&r, 503, "service_unavailable");
}

#[tokio::test]
async fn an_embedded_deployment_migrated_to_postgres_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut local = vec![("TWIG_EMBEDDING__PROVIDER", "local")];
    local.extend(crate::webhooks::OPEN.iter().copied());
    let s = TestServer::start_in(dir.path(), &local).await;
    let key = s.admin().to_owned();
    let ds = create_ds(&s, json!({"type": "file", "name": "Handbook"})).await;
    let r = crate::ingest::upload(
        &s,
        &key,
        &ds,
        &[(
            "pangolins.md",
            b"# Pangolins\n\nPangolins roll into a ball of overlapping scales when threatened.",
        )],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let st = wait_synced(&s, &ds, Duration::from_secs(60)).await;
    assert_eq!(st["documents_done"], 1, "{st}");
    let r = s
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "Zoo", "data_source_ids": [ds]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let agent = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            "/api/v1/query",
            &key,
            json!({"agent_id": agent, "query": "What do pangolins do when threatened?"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (_hooks, hook_url) = crate::webhooks::receiver(&[]).await;
    let r = s
        .post(
            "/api/v1/webhooks",
            &key,
            json!({"url": hook_url, "events": ["agent.created"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let before: Vec<serde_json::Value> = futures::future::join_all(
        [
            "/api/v1/agents",
            "/api/v1/webhooks",
            "/api/v1/interactions",
            "/api/v1/api-keys",
        ]
        .map(|p| async { s.get(p, &key).await.body }),
    )
    .await;
    drop(s);

    let db = ScratchDb::create().await;
    let from = format!("sqlite://{}", dir.path().join("twig.db").display());
    let (ok, out, err) =
        crate::helpers::twig_cmd(dir.path(), &["migrate", "--from", &from, "--to", &db.url]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("every table's count matches"), "{out}");
    assert!(
        out.contains("secret.key"),
        "says which key to start with: {out}"
    );
    let (ok, out, err) =
        crate::helpers::twig_cmd(dir.path(), &["migrate", "--from", &from, "--to", &db.url]);
    assert!(
        !ok && err.contains("already holds a deployment"),
        "{out}{err}"
    );

    // The same data dir (uploaded originals stay local) on PostgreSQL, with the key file's key.
    let secret = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();
    let url = db.url.clone();
    let env = [
        ("TWIG_EMBEDDING__PROVIDER", "local"),
        ("TWIG_DATABASE_URL", url.as_str()),
        ("TWIG_SECRET_KEY", secret.trim()),
    ];
    let mut p = TestServer::start_in(dir.path(), &env).await;
    assert!(
        p.key.is_none(),
        "the deployment came along: no new bootstrap"
    );
    p.key = Some(key.clone());
    let after: Vec<serde_json::Value> = futures::future::join_all(
        [
            "/api/v1/agents",
            "/api/v1/webhooks",
            "/api/v1/interactions",
            "/api/v1/api-keys",
        ]
        .map(|path| async { p.get(path, &key).await.body }),
    )
    .await;
    assert_eq!(before, after);
    assert_eq!(documents(&p, &ds).await.len(), 1);
    // Lexically, and by meaning alone with the copied vectors (nothing was re-embedded).
    searchable(&p, "overlapping scales", &ds).await;
    let hits = search(&p, "scaly anteater defence", &ds).await;
    assert!(!hits.is_empty());
    let r = p
        .post(
            "/api/v1/query",
            &key,
            json!({"agent_id": agent, "query": "What do pangolins do when threatened?"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("ball"), "{}", r.text);
}

/// A `twig worker` process on the shared database; killed (SIGKILL) on drop.
struct Worker(std::process::Child);

impl Worker {
    fn start(dir: &std::path::Path, env: &[(&'static str, String)]) -> Worker {
        let mut cmd = std::process::Command::new(crate::helpers::twig_bin());
        cmd.arg("worker")
            .arg("--data-dir")
            .arg(dir)
            .env_remove("RUST_LOG")
            .env("TWIG_EMBEDDING__PROVIDER", "none")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Worker(cmd.spawn().expect("spawn twig worker"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn api_nodes_without_workers_and_separate_workers_share_the_jobs() {
    let db = ScratchDb::create().await;
    let mut env = env(&db);
    env.push(("TWIG_INGEST__WORKERS", "0".to_owned()));
    let pages = big_site(30);
    let refs: Vec<(&str, String)> = pages.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let site = Site::start(&refs).await;
    let (dir_a, dir_w1, dir_w2) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    // The API node runs no jobs: only the worker processes do.
    let a = node(dir_a.path(), &env).await;
    let key = a.admin().to_owned();
    let worker_env: Vec<(&'static str, String)> = env
        .iter()
        .filter(|(k, _)| *k != "TWIG_INGEST__WORKERS")
        .cloned()
        .collect();
    let w1 = Worker::start(dir_w1.path(), &worker_env);
    let ds = sync_until_mid_way(&a, &key, &site).await;
    drop(w1);
    // Another worker resumes it once the lease lapses; the API node still runs nothing.
    let _w2 = Worker::start(dir_w2.path(), &worker_env);
    let st = wait_synced(&a, &ds, Duration::from_secs(120)).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&a, &ds).await;
    let mut urls: Vec<&str> = docs.iter().map(|d| d["url"].as_str().unwrap()).collect();
    urls.sort();
    urls.dedup();
    assert_eq!((docs.len(), urls.len()), (31, 31), "every page once");
    searchable(&a, "species 29 lives in habitat", &ds).await;
}
