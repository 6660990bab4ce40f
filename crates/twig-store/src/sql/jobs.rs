//! The job queue on SQLite: claims are atomic because every write runs in a
//! `BEGIN IMMEDIATE` transaction on the single writer connection.

use super::{backend, from_micros, from_micros_opt, micros, Dialect, Sql, SqlStore};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::time::Duration;
use twig_core::id::{JobId, OrgId};
use twig_core::job::{Job, JobOutcome, JobStatus, NewJob};
use twig_core::store::{JobStore, StoreResult};
use twig_core::time::{self, Timestamp};

const COLUMNS: &str =
    "id, org_id, kind, payload, status, attempts, max_attempts, run_at, lease_owner,
    lease_expires_at, progress, error, dedupe_key, created_at, updated_at";

fn row(r: &AnyRow) -> StoreResult<Job> {
    let status: String = r.try_get("status").map_err(backend)?;
    let payload: String = r.try_get("payload").map_err(backend)?;
    let progress: String = r.try_get("progress").map_err(backend)?;
    Ok(Job {
        id: JobId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        kind: r.try_get("kind").map_err(backend)?,
        payload: serde_json::from_str(&payload).map_err(backend)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown job status {status:?}")))?,
        attempts: r.try_get::<i64, _>("attempts").map_err(backend)? as u32,
        max_attempts: r.try_get::<i64, _>("max_attempts").map_err(backend)? as u32,
        run_at: from_micros(r.try_get("run_at").map_err(backend)?)?,
        lease_owner: r.try_get("lease_owner").map_err(backend)?,
        lease_expires_at: from_micros_opt(r.try_get("lease_expires_at").map_err(backend)?)?,
        progress: serde_json::from_str(&progress).map_err(backend)?,
        error: r.try_get("error").map_err(backend)?,
        dedupe_key: r.try_get("dedupe_key").map_err(backend)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn until(now: Timestamp, lease: Duration) -> i64 {
    micros(&now).saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

/// Inserts a queued job inside the caller's transaction (no dedupe check), so a job
/// commits or rolls back with the change that caused it.
pub(super) async fn insert(tx: &mut Transaction<'static, Any>, job: &NewJob) -> StoreResult<JobId> {
    let now = time::now();
    let id = JobId::generate();
    sqlx::query(
        "INSERT INTO jobs (id, org_id, kind, payload, status, attempts, max_attempts, run_at, progress, dedupe_key,
            created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, '{}', $7, $8, $9)",
    )
    .bind(id.as_str())
    .bind(job.org_id.as_str())
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(i64::from(job.max_attempts.max(1)))
    .bind(micros(&job.run_at))
    .bind(&job.dedupe_key)
    .bind(micros(&now))
    .bind(micros(&now))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(id)
}

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue(&self, job: NewJob) -> StoreResult<(Job, bool)> {
        let mut tx = self.begin().await?;
        if let Some(key) = &job.dedupe_key {
            let existing = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE dedupe_key = $1 AND status IN ('queued', 'running')"
            ))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            if let Some(r) = existing {
                return Ok((row(&r)?, false));
            }
        }
        let id = insert(&mut tx, &job).await?;
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let created = row(&r)?;
        tx.commit().await.map_err(backend)?;
        Ok((created, true))
    }

    async fn claim(
        &self,
        worker: &str,
        kinds: &[&str],
        now: Timestamp,
        lease: Duration,
    ) -> StoreResult<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let mut tx = self.begin_row_writes().await?;
        let now_us = micros(&now);
        loop {
            let mut q = Sql::new(format!("SELECT {COLUMNS} FROM jobs WHERE kind IN "));
            q.push_list(kinds.iter().copied())
                .push(" AND ((status = 'queued' AND run_at <= ")
                .push_bind(now_us)
                .push(") OR (status = 'running' AND lease_expires_at <= ")
                .push_bind(now_us)
                .push(")) ORDER BY run_at, created_at LIMIT 1");
            if self.dialect == Dialect::Postgres {
                // Claimers on other nodes skip the row this one took instead of queueing on it.
                q.push(" FOR UPDATE SKIP LOCKED");
            }
            let Some(r) = q.build().fetch_optional(&mut *tx).await.map_err(backend)? else {
                tx.commit().await.map_err(backend)?;
                return Ok(None);
            };
            let job = row(&r)?;
            if job.status == JobStatus::Running && job.attempts >= job.max_attempts {
                // Its worker died on the last allowed attempt: give up rather than loop forever.
                sqlx::query(
                    "UPDATE jobs SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1,
                        error = COALESCE(error, 'the worker stopped responding on the last attempt') WHERE id = $2",
                )
                .bind(now_us)
                .bind(job.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                continue;
            }
            sqlx::query(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, lease_expires_at = $2,
                    updated_at = $3 WHERE id = $4",
            )
            .bind(worker)
            .bind(until(now, lease))
            .bind(now_us)
            .bind(job.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            let r = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
                .bind(job.id.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
            let claimed = row(&r)?;
            tx.commit().await.map_err(backend)?;
            return Ok(Some(claimed));
        }
    }

    async fn heartbeat(
        &self,
        id: &JobId,
        worker: &str,
        now: Timestamp,
        lease: Duration,
        progress: Option<&serde_json::Value>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_row_writes().await?;
        let res = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, progress = COALESCE($2, progress), updated_at = $3
             WHERE id = $4 AND status = 'running' AND lease_owner = $5",
        )
        .bind(until(now, lease))
        .bind(progress.map(|p| p.to_string()))
        .bind(micros(&now))
        .bind(id.as_str())
        .bind(worker)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn finish(&self, id: &JobId, worker: &str, outcome: JobOutcome) -> StoreResult<bool> {
        let mut tx = self.begin_row_writes().await?;
        let now = micros(&time::now());
        let q = match &outcome {
            JobOutcome::Succeeded { progress } => sqlx::query(
                "UPDATE jobs SET status = 'succeeded', progress = $1, error = NULL, lease_owner = NULL,
                    lease_expires_at = NULL, updated_at = $2 WHERE id = $3 AND status = 'running' AND lease_owner = $4",
            )
            .bind(progress.to_string()),
            JobOutcome::Retry { error, run_at } => sqlx::query(
                "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                    run_at = $1, error = $2, lease_owner = NULL, lease_expires_at = NULL, updated_at = $3
                 WHERE id = $4 AND status = 'running' AND lease_owner = $5",
            )
            .bind(micros(run_at))
            .bind(error),
            JobOutcome::Failed { error } => sqlx::query(
                "UPDATE jobs SET status = 'failed', error = $1, lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = $2 WHERE id = $3 AND status = 'running' AND lease_owner = $4",
            )
            .bind(error),
        };
        let res = q
            .bind(now)
            .bind(id.as_str())
            .bind(worker)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn latest_job(&self, dedupe_key: &str) -> StoreResult<Option<Job>> {
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE dedupe_key = $1 ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(dedupe_key)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(row).transpose()
    }

    async fn job_counts(&self) -> StoreResult<Vec<(String, JobStatus, u64)>> {
        let rows = sqlx::query(
            "SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status ORDER BY kind, status",
        )
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        let mut out = Vec::new();
        for r in rows {
            let status: String = r.get("status");
            let status = JobStatus::parse(&status)
                .ok_or_else(|| backend(anyhow::anyhow!("unknown job status {status:?}")))?;
            out.push((r.get("kind"), status, r.get::<i64, _>("n") as u64));
        }
        Ok(out)
    }

    async fn get_job(&self, org: &OrgId, id: &JobId) -> StoreResult<Option<Job>> {
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(row).transpose()
    }
}
