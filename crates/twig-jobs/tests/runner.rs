//! The runner against a real SQLite queue.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use twig_core::job::{Job, JobStatus, NewJob};
use twig_core::org::Org;
use twig_core::store::Store;
use twig_core::time;
use twig_jobs::{Backoff, JobContext, JobError, JobHandler, Runner, RunnerConfig};
use twig_store::sql::SqlStore;

/// Behaves as its payload's `mode` says.
struct Scripted {
    runs: AtomicUsize,
    seen: std::sync::Mutex<Vec<(u32, Value)>>,
}

#[async_trait]
impl JobHandler for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    async fn run(&self, job: Job, ctx: JobContext) -> Result<Value, JobError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.seen
            .lock()
            .unwrap()
            .push((job.attempts, job.progress.clone()));
        match job.payload["mode"].as_str().unwrap_or("") {
            "ok" => Ok(json!({"done": true})),
            "retry" => Err(JobError::Retryable("upstream timed out".into())),
            "fatal" => Err(JobError::Permanent("bad config".into())),
            "panic" => panic!("handler bug"),
            "slow" => {
                for i in 0..5 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    assert!(ctx.checkpoint(&json!({"step": i})).await);
                }
                Ok(json!({"step": 5}))
            }
            other => Err(JobError::Permanent(format!("unknown mode {other}"))),
        }
    }
}

async fn setup(
    lease: Duration,
) -> (
    Arc<dyn Store>,
    Org,
    Arc<Scripted>,
    Runner,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&dir.path().join("t.db")).await.unwrap());
    let org = Org::new("o").unwrap();
    store.create_org(&org).await.unwrap();
    let handler = Arc::new(Scripted {
        runs: AtomicUsize::new(0),
        seen: Default::default(),
    });
    let cfg = RunnerConfig {
        worker_id: "w1".into(),
        lease,
        poll_interval: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        },
    };
    let runner = Runner::new(store.clone(), cfg).register(handler.clone());
    (store, org, handler, runner, dir)
}

async fn enqueue(store: &Arc<dyn Store>, org: &Org, mode: &str) -> Job {
    let mut j = NewJob::now(org.id.clone(), "scripted", json!({"mode": mode}));
    j.run_at = time::now() - chrono::Duration::seconds(1);
    store.jobs().enqueue(j).await.unwrap().0
}

#[tokio::test]
async fn outcomes_are_recorded() {
    let (store, org, handler, runner, _d) = setup(Duration::from_secs(30)).await;
    let ok = enqueue(&store, &org, "ok").await;
    assert!(runner.run_once().await.unwrap());
    let done = store
        .jobs()
        .get_job(&org.id, &ok.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.progress, json!({"done": true}));

    let fatal = enqueue(&store, &org, "fatal").await;
    assert!(runner.run_once().await.unwrap());
    let f = store
        .jobs()
        .get_job(&org.id, &fatal.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (f.status, f.error.as_deref()),
        (JobStatus::Failed, Some("bad config"))
    );

    let before = time::now();
    let retry = enqueue(&store, &org, "retry").await;
    assert!(runner.run_once().await.unwrap());
    let r = store
        .jobs()
        .get_job(&org.id, &retry.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, JobStatus::Queued);
    assert_eq!(r.error.as_deref(), Some("upstream timed out"));
    let delay = (r.run_at - before).num_milliseconds();
    assert!(
        (4_900..=10_500).contains(&delay),
        "first retry after 5-10 s with jitter, got {delay} ms"
    );
    assert!(
        !runner.run_once().await.unwrap(),
        "not due before its backoff"
    );

    let crash = enqueue(&store, &org, "panic").await;
    assert!(
        runner.run_once().await.unwrap(),
        "a panicking handler does not take the runner down"
    );
    let c = store
        .jobs()
        .get_job(&org.id, &crash.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status, JobStatus::Queued);
    assert!(c.error.unwrap().contains("crashed"));
    assert_eq!(handler.runs.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn the_lease_is_kept_alive_while_a_long_job_runs() {
    let (store, org, handler, runner, _d) = setup(Duration::from_millis(300)).await;
    let job = enqueue(&store, &org, "slow").await;
    let runner = Arc::new(runner);
    let r1 = runner.clone();
    let first = tokio::spawn(async move { r1.run_once().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let thief = Runner::new(
        store.clone(),
        RunnerConfig {
            worker_id: "w2".into(),
            lease: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .register(handler.clone());
    for _ in 0..6 {
        assert!(
            !thief.run_once().await.unwrap(),
            "the job is never claimed twice while its worker lives"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(first.await.unwrap());
    let done = store
        .jobs()
        .get_job(&org.id, &job.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(handler.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_dead_workers_job_resumes_from_its_checkpoint() {
    let (store, org, handler, runner, _d) = setup(Duration::from_secs(30)).await;
    let job = enqueue(&store, &org, "ok").await;
    // A worker claims it, checkpoints, and dies (kill -9: no finish, no more heartbeats).
    let lease = Duration::from_millis(200);
    store
        .jobs()
        .claim("dead", &["scripted"], time::now(), lease)
        .await
        .unwrap()
        .unwrap();
    store
        .jobs()
        .heartbeat(
            &job.id,
            "dead",
            time::now(),
            lease,
            Some(&json!({"done_docs": 2})),
        )
        .await
        .unwrap();
    assert!(
        !runner.run_once().await.unwrap(),
        "not while the lease holds"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(runner.run_once().await.unwrap());
    assert_eq!(
        handler.seen.lock().unwrap().last().cloned(),
        Some((2, json!({"done_docs": 2})))
    );
    assert_eq!(
        store
            .jobs()
            .get_job(&org.id, &job.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Succeeded
    );
}

#[tokio::test]
async fn run_loop_stops_when_told() {
    let (store, org, handler, runner, _d) = setup(Duration::from_secs(30)).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(Arc::new(runner).run(rx));
    enqueue(&store, &org, "ok").await;
    enqueue(&store, &org, "ok").await;
    for _ in 0..100 {
        if handler.runs.load(Ordering::SeqCst) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("runner stops")
        .unwrap();
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_a_cap() {
    let b = Backoff {
        base: Duration::from_secs(5),
        max: Duration::from_secs(60),
    };
    for _ in 0..50 {
        let d1 = b.delay(1).as_secs_f64();
        assert!((2.5..=5.0).contains(&d1), "{d1}");
        let d3 = b.delay(3).as_secs_f64();
        assert!((10.0..=20.0).contains(&d3), "{d3}");
        let d10 = b.delay(10).as_secs_f64();
        assert!((30.0..=60.0).contains(&d10), "{d10}");
    }
}
