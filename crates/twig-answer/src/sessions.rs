//! Session retention: the `sessions.expire` job deletes an organisation's sessions
//! whose last turn is older than the retention (their `expires_at` has passed).

use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use twig_core::job::{Job, NewJob};
use twig_core::store::{Store, StoreError};
use twig_core::time;
use twig_jobs::{JobContext, JobError, JobHandler};

/// Job kind of the session sweep.
pub const EXPIRE_KIND: &str = "sessions.expire";

/// Deletes expired sessions of the job's organisation.
pub struct ExpireSessions {
    store: Arc<dyn Store>,
}

impl ExpireSessions {
    /// A handler over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl JobHandler for ExpireSessions {
    fn kind(&self) -> &'static str {
        EXPIRE_KIND
    }

    async fn run(&self, job: Job, _ctx: JobContext) -> Result<Value, JobError> {
        let deleted = self
            .store
            .interactions()
            .delete_expired_sessions(&job.org_id, time::now())
            .await
            .map_err(|e| JobError::Retryable(format!("{:#}", anyhow::Error::from(e))))?;
        if deleted > 0 {
            tracing::info!(org = %job.org_id, deleted, "deleted expired sessions");
        }
        Ok(json!({ "deleted": deleted }))
    }
}

/// Enqueues one sweep per organisation (deduplicated: at most one pending per org).
/// A scheduler calls this periodically.
pub async fn enqueue_sweeps(store: &dyn Store) -> Result<usize, StoreError> {
    let mut created = 0;
    for org in store.list_orgs().await? {
        let mut job = NewJob::now(org.id.clone(), EXPIRE_KIND, json!({}));
        job.dedupe_key = Some(format!("{EXPIRE_KIND}:{}", org.id));
        job.max_attempts = 3;
        if store.jobs().enqueue(job).await?.1 {
            created += 1;
        }
    }
    Ok(created)
}
