//! Connector syncs: drives any [`Connector`] the same way inside the durable `sync` job.
//!
//! The job asks for a page of changes after the stored cursor, indexes the page's items (an
//! unchanged text costs no embedding), removes the deleted ones, and only then saves the
//! page's cursor with the data source. A crash therefore resumes after the last committed page
//! and redoes at most one page, whose documents are replaced, never duplicated (a document's
//! identity is its external id). After the last page, remotes without a deletion feed are
//! listed in full (ids only) every `prune_every` syncs and documents no longer listed go.

use super::http::ConnectorEnv;
use crate::blocking;
use crate::sync::{outcome, record_failed, remove_document, retry, sections, Report, SyncHandler};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;
use twig_core::connector::{Connector, ConnectorError, Item, ItemContent, ItemLimit};
use twig_core::datasource::DataSource;
use twig_core::ingest::SyncCounters;
use twig_core::retrieval::DocumentInput;
use twig_jobs::{JobContext, JobError};

/// What is saved with the data source between pages and syncs.
#[derive(Debug, Clone, Default, PartialEq)]
struct Saved {
    /// The connector's own cursor (`None`: list everything).
    cursor: Option<Value>,
    /// Syncs finished so far, for the pruning schedule.
    completed: u64,
}

impl Saved {
    fn from_stored(v: Option<Value>) -> Self {
        let Some(v) = v else { return Self::default() };
        Self {
            cursor: v.get("cursor").filter(|c| !c.is_null()).cloned(),
            completed: v.get("completed").and_then(Value::as_u64).unwrap_or(0),
        }
    }

    fn to_stored(&self) -> Value {
        json!({"cursor": self.cursor, "completed": self.completed})
    }
}

/// How the job reacts to a connector failure.
pub(crate) fn job_error(e: ConnectorError) -> JobError {
    match e {
        ConnectorError::Auth { .. }
        | ConnectorError::Config { .. }
        | ConnectorError::Permanent(_) => JobError::Permanent(e.to_string()),
        ConnectorError::RateLimited {
            ref message,
            retry_after,
        } => JobError::RetryAfter(
            message.clone(),
            retry_after.unwrap_or(Duration::from_secs(60)),
        ),
        ConnectorError::Transient(m) => JobError::Retryable(m),
    }
}

/// Syncs a connector-backed data source.
pub(crate) async fn sync(
    h: &SyncHandler,
    ds: &DataSource,
    ctx: &JobContext,
    mut c: SyncCounters,
) -> Result<Report, JobError> {
    let env: ConnectorEnv = h.config.connector_env();
    let conn = (h.opener)(ds, &env).map_err(job_error)?;
    run(h, ds, ctx, conn.as_ref(), &mut c).await?;
    // Like file sources, the status tells of every failed document of the source, not only
    // this run's: an item that failed and has not changed since is still a problem to show.
    let n = h
        .store
        .documents()
        .count_documents(&ds.id)
        .await
        .map_err(retry)?;
    let (status, error) = outcome(n.indexed, n.failed, "items");
    Ok(Report {
        status,
        error,
        counters: c,
    })
}

/// The page loop, split out so tests can drive any connector.
pub(crate) async fn run(
    h: &SyncHandler,
    ds: &DataSource,
    ctx: &JobContext,
    conn: &dyn Connector,
    c: &mut SyncCounters,
) -> Result<(), JobError> {
    let store = &h.store;
    let mut saved = Saved::from_stored(store.sync_cursor(&ds.id).await.map_err(retry)?);
    let mut capped = match conn.item_limit() {
        Some(limit) => Some(Capped::load(h, ds, limit).await?),
        None => None,
    };
    loop {
        if ctx.lease_lost() {
            return Err(JobError::Retryable(
                "the job's lease was lost to another worker".into(),
            ));
        }
        let mut page = conn
            .changes(saved.cursor.as_ref())
            .await
            .map_err(job_error)?;
        if let Some(cap) = capped.as_mut() {
            for id in &page.deleted {
                cap.keys.remove(id);
            }
            page.items.retain(|i| cap.admit(&i.external_id));
        }
        let listed = page.items.len() as u64;
        if let Some(t) = page.total {
            c.total = c.total.max(t);
        }
        c.total = c.total.max(c.done + c.failed + listed);
        let (ok, failed) = index_items(h, ds, page.items).await?;
        c.done += ok;
        c.failed += failed;
        for id in &page.deleted {
            remove_document(h, ds, id).await?;
        }
        saved.cursor = Some(page.cursor);
        if page.done {
            break;
        }
        store
            .save_sync_cursor(&ds.id, Some(&saved.to_stored()))
            .await
            .map_err(retry)?;
        h.checkpoint(&ds.id, c, ctx).await?;
    }
    if saved
        .completed
        .is_multiple_of(u64::from(h.config.prune_every.max(1)))
    {
        if let Some(ids) = conn.list_ids().await.map_err(job_error)? {
            prune(h, ds, ids.into_iter().collect()).await?;
        }
    }
    saved.completed += 1;
    store
        .save_sync_cursor(&ds.id, Some(&saved.to_stored()))
        .await
        .map_err(retry)?;
    c.total = c.done + c.failed;
    h.checkpoint(&ds.id, c, ctx).await
}

/// An [`ItemLimit`] with the source's documents of the capped kind.
struct Capped {
    limit: ItemLimit,
    keys: HashSet<String>,
}

impl Capped {
    async fn load(h: &SyncHandler, ds: &DataSource, limit: ItemLimit) -> Result<Self, JobError> {
        let states = h
            .store
            .documents()
            .sync_states(&ds.id)
            .await
            .map_err(retry)?;
        let keys = states
            .into_iter()
            .map(|(d, _)| d.source_key)
            .filter(|k| k.starts_with(&limit.key_prefix))
            .collect();
        Ok(Self { limit, keys })
    }

    /// Whether an item goes in: another kind, a document the source has, or room left.
    fn admit(&mut self, key: &str) -> bool {
        if !key.starts_with(&self.limit.key_prefix) || self.keys.contains(key) {
            return true;
        }
        if (self.keys.len() as u64) < self.limit.max {
            self.keys.insert(key.to_owned());
            return true;
        }
        tracing::debug!(key, field = %self.limit.field, max = self.limit.max, "over the cap: not imported");
        false
    }
}

/// Removes the source's documents whose external id the remote no longer lists.
async fn prune(h: &SyncHandler, ds: &DataSource, listed: HashSet<String>) -> Result<(), JobError> {
    let states = h
        .store
        .documents()
        .sync_states(&ds.id)
        .await
        .map_err(retry)?;
    for (d, _) in states {
        if !listed.contains(&d.source_key) {
            tracing::debug!(data_source = %ds.id, key = %d.source_key, "no longer listed: removing");
            remove_document(h, ds, &d.source_key).await?;
        }
    }
    Ok(())
}

/// Indexes one page of items; answers how many were indexed (or unchanged) and how many failed.
async fn index_items(
    h: &SyncHandler,
    ds: &DataSource,
    items: Vec<Item>,
) -> Result<(u64, u64), JobError> {
    let limits = h.config.parse_limits();
    let mut failed = 0u64;
    let mut inputs = Vec::new();
    for item in items {
        let Item {
            external_id,
            title,
            url,
            updated_at,
            mut metadata,
            content,
        } = item;
        if let Some(t) = updated_at {
            metadata.insert(
                "updated_at".into(),
                json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            );
        }
        let secs = match content {
            ItemContent::Sections(s) => s,
            ItemContent::File {
                filename,
                content_type,
                bytes,
            } => {
                let limits = limits.clone();
                let name = filename.clone();
                let parsed = blocking(move || {
                    twig_parse::parse(&name, content_type.as_deref(), &bytes, &limits)
                })
                .await
                .map_err(|e| JobError::Retryable(format!("{e:#}")))?;
                match parsed {
                    Ok(p) => {
                        metadata.insert("format".into(), json!(p.format.as_str()));
                        metadata.insert("filename".into(), json!(filename));
                        sections(p.sections)
                    }
                    Err(e) => {
                        failed += 1;
                        record_failed(h, ds, &external_id, &title, url.as_deref(), &e.to_string())
                            .await?;
                        continue;
                    }
                }
            }
            ItemContent::Failed(reason) | ItemContent::Skipped(reason) => {
                failed += 1;
                record_failed(h, ds, &external_id, &title, url.as_deref(), &reason).await?;
                continue;
            }
        };
        if secs.iter().all(|s| s.text.trim().is_empty()) {
            failed += 1;
            record_failed(
                h,
                ds,
                &external_id,
                &title,
                url.as_deref(),
                "no text could be extracted",
            )
            .await?;
            continue;
        }
        inputs.push(DocumentInput {
            org_id: ds.org_id.clone(),
            data_source_id: ds.id.clone(),
            source_key: external_id.clone(),
            title: if title.trim().is_empty() {
                external_id
            } else {
                title
            },
            url,
            filename: None,
            metadata,
            sections: secs,
            chunking: ds.chunking(),
        });
    }
    let (ok, bad) = h
        .upsert_each(inputs.into_iter().map(|i| (None, i)).collect())
        .await?;
    Ok((ok, failed + bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_round_trips() {
        let s = Saved {
            cursor: Some(json!({"since": "x"})),
            completed: 3,
        };
        assert_eq!(Saved::from_stored(Some(s.to_stored())), s);
        assert_eq!(Saved::from_stored(None), Saved::default());
        let fresh = Saved::default();
        assert_eq!(Saved::from_stored(Some(fresh.to_stored())), fresh);
    }

    #[test]
    fn connector_errors_map_to_the_job_policy() {
        let auth = ConnectorError::Auth {
            field: "config.api_token".into(),
            message: "401".into(),
        };
        assert!(matches!(job_error(auth), JobError::Permanent(_)));
        let rl = ConnectorError::RateLimited {
            message: "slow".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(matches!(job_error(rl), JobError::RetryAfter(_, d) if d == Duration::from_secs(7)));
        assert!(matches!(
            job_error(ConnectorError::Transient("x".into())),
            JobError::Retryable(_)
        ));
    }
}
