//! Durable background jobs: records and the outcomes a worker reports.

use crate::id::{JobId, OrgId};
use crate::time::{self, Timestamp};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Lifecycle of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker holding a lease.
    Running,
    /// Done.
    Succeeded,
    /// Gave up (attempts exhausted or a permanent error).
    Failed,
}

impl JobStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// What to run, e.g. `sync`.
    pub kind: String,
    /// Input of the handler.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Lifecycle state.
    pub status: JobStatus,
    /// Claims so far (the running one included).
    pub attempts: u32,
    /// Claims allowed before the job fails for good.
    pub max_attempts: u32,
    /// Earliest time it may run.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub run_at: Timestamp,
    /// Worker holding the lease.
    #[serde(skip)]
    pub lease_owner: Option<String>,
    /// When the lease lapses and another worker may take over.
    #[serde(skip)]
    pub lease_expires_at: Option<Timestamp>,
    /// Handler-defined progress and checkpoint.
    #[schema(value_type = Object)]
    pub progress: Value,
    /// Last error.
    pub error: Option<String>,
    /// At most one unfinished job per key (e.g. one sync per data source).
    #[serde(skip)]
    pub dedupe_key: Option<String>,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Owning organisation.
    pub org_id: OrgId,
    /// What to run.
    pub kind: String,
    /// Input of the handler.
    pub payload: Value,
    /// Claims allowed.
    pub max_attempts: u32,
    /// Earliest time it may run.
    pub run_at: Timestamp,
    /// At most one unfinished job per key.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    /// A job due now with 5 attempts.
    pub fn now(org_id: OrgId, kind: &str, payload: Value) -> Self {
        Self {
            org_id,
            kind: kind.to_owned(),
            payload,
            max_attempts: 5,
            run_at: time::now(),
            dedupe_key: None,
        }
    }
}

/// What a worker reports when it stops working on a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Done, with final progress.
    Succeeded {
        /// Final progress.
        progress: Value,
    },
    /// Failed this time; run again at `run_at` if attempts remain, else fail for good.
    Retry {
        /// Why.
        error: String,
        /// When to try again.
        run_at: Timestamp,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: String,
    },
}
