//! The scheduler: enqueues syncs of data sources by `sync_frequency`
//! (`manual` never), and re-queues uploads whose sync ended before they arrived.

use chrono::Duration;
use std::sync::Arc;
use twig_core::datasource::{DataSourceStatus, SyncFrequency};
use twig_core::ingest::sync_dedupe_key;
use twig_core::job::JobStatus;
use twig_core::service::ingest::enqueue_sync;
use twig_core::store::Store;
use twig_core::time::{self, Timestamp};

/// Period of a schedule; `None` for manual.
pub fn period(f: SyncFrequency) -> Option<Duration> {
    match f {
        SyncFrequency::Hourly => Some(Duration::hours(1)),
        SyncFrequency::Daily => Some(Duration::days(1)),
        SyncFrequency::Weekly => Some(Duration::weeks(1)),
        SyncFrequency::Manual => None,
    }
}

/// Whether a source with `f`, whose last sync started at `last`, is due at `now`.
pub fn is_due(f: SyncFrequency, last: Option<Timestamp>, now: Timestamp) -> bool {
    match (period(f), last) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(p), Some(t)) => t + p <= now,
    }
}

/// One scheduler pass; returns how many jobs it created.
pub async fn tick(store: &dyn Store, now: Timestamp) -> anyhow::Result<usize> {
    let mut created = 0;
    for (ds, last) in store.scheduled_data_sources().await? {
        if is_due(ds.sync_frequency, last, now) {
            let (_, new) = enqueue_sync(store, &ds.org_id, &ds.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            created += usize::from(new);
        }
    }
    // An upload that raced the end of a running sync is picked up here.
    let stale = store
        .documents()
        .stale_queued_sources(now - Duration::seconds(10))
        .await?;
    for (org, ds) in stale {
        let (_, new) = enqueue_sync(store, &org, &ds)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        created += usize::from(new);
    }
    fail_orphaned_syncs(store, now).await?;
    Ok(created)
}

/// A source left `processing` whose sync job ended without writing an outcome (its worker
/// died on the last attempt, or the handler crashed) is marked failed with the job's error.
async fn fail_orphaned_syncs(store: &dyn Store, now: Timestamp) -> anyhow::Result<()> {
    for ds in store
        .data_sources_in_status(DataSourceStatus::Processing)
        .await?
    {
        let job = store.jobs().latest_job(&sync_dedupe_key(&ds.id)).await?;
        if let Some(job) = job.filter(|j| j.status == JobStatus::Failed) {
            let error = job
                .error
                .unwrap_or_else(|| "the sync job failed".to_owned());
            tracing::warn!(data_source = %ds.id, %error, "sync job ended without an outcome");
            // The same one place the sync handler writes outcomes through.
            store
                .record_sync_outcome(&ds.id, DataSourceStatus::Failed, Some(&error), now)
                .await?;
        }
    }
    Ok(())
}

/// Runs [`tick`] every `every` until `stop` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match tick(store.as_ref(), time::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "scheduled syncs queued"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "sync scheduler pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let now = time::now();
        assert!(!is_due(SyncFrequency::Manual, None, now));
        assert!(is_due(SyncFrequency::Daily, None, now));
        assert!(!is_due(
            SyncFrequency::Hourly,
            Some(now - Duration::minutes(59)),
            now
        ));
        assert!(is_due(
            SyncFrequency::Hourly,
            Some(now - Duration::minutes(60)),
            now
        ));
        assert!(!is_due(
            SyncFrequency::Weekly,
            Some(now - Duration::days(6)),
            now
        ));
        assert!(is_due(
            SyncFrequency::Weekly,
            Some(now - Duration::days(7)),
            now
        ));
    }
}
