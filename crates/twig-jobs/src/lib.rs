//! The job runner: claims due jobs from the store's durable queue, runs the
//! handler registered for each kind, keeps the lease alive while it runs,
//! and records the outcome, retrying failures with exponential backoff and
//! full jitter up to the job's attempt limit.

use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use twig_core::id::JobId;
use twig_core::job::{Job, JobOutcome};
use twig_core::store::Store;
use twig_core::time;

/// How a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (timeouts, unavailable services).
    #[error("{0}")]
    Retryable(String),
    /// Will fail again (bad configuration, invalid input).
    #[error("{0}")]
    Permanent(String),
    /// Worth another attempt after a delay the handler chose (its own retry schedule).
    #[error("{0}")]
    RetryAfter(String, Duration),
}

/// Runs one kind of job.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The job kind this handler runs.
    fn kind(&self) -> &'static str;
    /// Runs (or resumes, from `job.progress`) a job; returns its final progress.
    async fn run(&self, job: Job, ctx: JobContext) -> Result<Value, JobError>;
}

/// What a running handler can do with its job.
#[derive(Clone)]
pub struct JobContext {
    store: Arc<dyn Store>,
    id: JobId,
    worker: String,
    lease: Duration,
    lost: Arc<AtomicBool>,
}

impl JobContext {
    /// Saves progress (the checkpoint a resumed attempt starts from); false once the lease is lost.
    pub async fn checkpoint(&self, progress: &Value) -> bool {
        self.renew(Some(progress)).await
    }

    async fn renew(&self, progress: Option<&Value>) -> bool {
        let ok = self
            .store
            .jobs()
            .heartbeat(&self.id, &self.worker, time::now(), self.lease, progress)
            .await
            .unwrap_or(false);
        if !ok {
            self.lost.store(true, Ordering::SeqCst);
        }
        ok
    }

    /// Whether another worker took the job over; a handler should stop doing work then.
    pub fn lease_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

/// Retry delays: `min(max, base * 2^(attempt-1))`, scaled by a random factor in [0.5, 1].
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// Delay before the attempt after `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(30)));
        let cap = exp.min(self.max);
        // Jitter spreads retries of jobs that failed together (e.g. one outage).
        cap.mul_f64(rand::random::<f64>() * 0.5 + 0.5)
    }
}

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Name written into leases; unique per process.
    pub worker_id: String,
    /// Lease length; renewed every third of it while a job runs.
    pub lease: Duration,
    /// Sleep when no job is due.
    pub poll_interval: Duration,
    /// Retry delays.
    pub backoff: Backoff,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            worker_id: format!(
                "worker-{}-{}",
                std::process::id(),
                twig_core::id::random_base62(6)
            ),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            backoff: Backoff::default(),
        }
    }
}

/// Claims and runs jobs of the registered kinds.
pub struct Runner {
    store: Arc<dyn Store>,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    config: RunnerConfig,
}

impl Runner {
    /// A runner with no handlers yet.
    pub fn new(store: Arc<dyn Store>, config: RunnerConfig) -> Self {
        Self {
            store,
            handlers: HashMap::new(),
            config,
        }
    }

    /// Registers the handler of one kind.
    pub fn register(mut self, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(handler.kind(), handler);
        self
    }

    /// Claims one due job and runs it to an outcome; false if none was due.
    pub async fn run_once(&self) -> anyhow::Result<bool> {
        let kinds: Vec<&str> = self.handlers.keys().copied().collect();
        let Some(job) = self
            .store
            .jobs()
            .claim(
                &self.config.worker_id,
                &kinds,
                time::now(),
                self.config.lease,
            )
            .await?
        else {
            return Ok(false);
        };
        let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
            return Ok(false);
        };
        let ctx = JobContext {
            store: self.store.clone(),
            id: job.id.clone(),
            worker: self.config.worker_id.clone(),
            lease: self.config.lease,
            lost: Arc::new(AtomicBool::new(false)),
        };
        let id = job.id.clone();
        let attempt = job.attempts;
        let renew = tokio::spawn(keep_alive(ctx.clone()));
        // A panicking handler is a failed attempt, not a dead runner.
        let span = tracing::info_span!("job", job.kind = %job.kind, job.id = %job.id, job.attempt = attempt);
        let result = tokio::spawn({
            let ctx = ctx.clone();
            tracing::Instrument::instrument(async move { handler.run(job, ctx).await }, span)
        })
        .await;
        renew.abort();
        let outcome = match result {
            Ok(Ok(progress)) => JobOutcome::Succeeded { progress },
            Ok(Err(JobError::Permanent(error))) => JobOutcome::Failed { error },
            Ok(Err(JobError::RetryAfter(error, delay))) => JobOutcome::Retry {
                error,
                run_at: time::now() + chrono::Duration::from_std(delay)?,
            },
            Ok(Err(JobError::Retryable(error))) => JobOutcome::Retry {
                error,
                run_at: time::now()
                    + chrono::Duration::from_std(self.config.backoff.delay(attempt))?,
            },
            Err(join) => JobOutcome::Retry {
                error: format!("the job handler crashed: {join}"),
                run_at: time::now()
                    + chrono::Duration::from_std(self.config.backoff.delay(attempt))?,
            },
        };
        if let JobOutcome::Retry { error, .. } | JobOutcome::Failed { error } = &outcome {
            tracing::warn!(job = %id, attempt, %error, "job attempt failed");
        }
        if !self
            .store
            .jobs()
            .finish(&id, &self.config.worker_id, outcome)
            .await?
        {
            tracing::warn!(job = %id, "lost the lease before finishing; another worker owns the job");
        }
        Ok(true)
    }

    /// Runs jobs until `stop` turns true; finishes the job in hand first.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let ran = match self.run_once().await {
                Ok(ran) => ran,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "job runner error");
                    false
                }
            };
            if !ran {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Renews the lease every third of its length while the handler runs (progress untouched).
async fn keep_alive(ctx: JobContext) {
    let every = ctx.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        if !ctx.renew(None).await {
            return;
        }
    }
}
