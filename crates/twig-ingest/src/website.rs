//! Website sources: a polite crawl (twig-crawl) feeding pages to the index as they arrive.
//!
//! Re-sync is incremental: each page's ETag, Last-Modified and links are kept as its
//! document's sync state and sent back as conditional requests; a 304 or an unchanged
//! text costs no embedding. Pages answering 404/410, or no longer linked after a complete
//! crawl, are removed from the index. A resumed attempt crawls again from the start: the
//! pages it already did are answered by 304s or have unchanged content, so they cost no
//! embedding and keep their chunks.

use crate::blocking;
use crate::sync::{outcome, record_failed, remove_document, retry, sections, Report, SyncHandler};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;
use twig_core::datasource::{DataSource, DataSourceStatus};
use twig_core::document::{Document, DocumentStatus};
use twig_core::ingest::SyncCounters;
use twig_core::retrieval::{DocumentInput, UpsertOutcome};
use twig_crawl::{
    CancellationToken, CrawlConfig, LinkExtractor, PageLinks, PageOutcome, PreviousPage,
};
use twig_jobs::{JobContext, JobError};
use url::Url;

/// Link extraction with the same HTML parser that cleans pages.
struct Extractor;

impl LinkExtractor for Extractor {
    fn links(&self, base: &Url, html: &[u8]) -> Vec<String> {
        self.inspect(base, html).links
    }

    fn inspect(&self, base: &Url, html: &[u8]) -> PageLinks {
        let run = || {
            let text = match twig_parse::decode_text(html) {
                Ok((s, _)) => s,
                Err(_) => String::from_utf8_lossy(html).into_owned(),
            };
            let page = twig_parse::parse_html(&text, Some(base.as_str()));
            PageLinks {
                links: page.links,
                frames: page.frames,
                canonical: page.canonical,
                nofollow: page.nofollow,
                noindex: page.noindex,
            }
        };
        // The crawler calls this inline; parsing a big page must not stall the runtime's worker.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
            _ => run(),
        }
    }
}

fn crawl_config(ds: &DataSource, h: &SyncHandler) -> Result<CrawlConfig, JobError> {
    let c = &ds.config;
    let raw = c.get("url").and_then(Value::as_str).unwrap_or_default();
    let url = Url::parse(raw)
        .map_err(|e| JobError::Permanent(format!("the website url {raw:?} is invalid: {e}")))?;
    let mut cfg = CrawlConfig::new(url);
    let list = |k: &str| -> Vec<String> {
        c.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(n) = c.get("max_pages").and_then(Value::as_u64) {
        cfg.max_pages = n as usize;
    }
    if let Some(n) = c.get("max_depth").and_then(Value::as_u64) {
        cfg.max_depth = n as usize;
    }
    if let Some(r) = c.get("requests_per_second").and_then(Value::as_f64) {
        cfg.requests_per_second = r;
    }
    cfg.include_patterns = list("include_patterns");
    cfg.exclude_patterns = list("exclude_patterns");
    cfg.allow_private_networks = h.config.allow_private_networks;
    cfg.max_page_bytes = h.config.max_page_bytes;
    Ok(cfg)
}

fn previous_pages(states: &[(Document, Value)]) -> Vec<PreviousPage> {
    states
        .iter()
        .filter(|(d, _)| d.status == DocumentStatus::Indexed && d.url.is_some())
        .map(|(d, st)| PreviousPage {
            url: d.source_key.clone(),
            etag: st.get("etag").and_then(Value::as_str).map(str::to_owned),
            last_modified: st
                .get("last_modified")
                .and_then(Value::as_str)
                .map(str::to_owned),
            links: strings(st.get("links")),
            frames: strings(st.get("frames")),
        })
        .collect()
}

/// The strings of a JSON array (none when absent).
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Crawls a website source and indexes its pages.
pub(crate) async fn sync(
    h: &SyncHandler,
    ds: &DataSource,
    ctx: &JobContext,
    started: SyncCounters,
) -> Result<Report, JobError> {
    let cfg = crawl_config(ds, h)?;
    let max_pages = cfg.max_pages;
    let states = h
        .store
        .documents()
        .sync_states(&ds.id)
        .await
        .map_err(retry)?;
    let previous = previous_pages(&states);
    let mut discovered: HashSet<String> = previous.iter().map(|p| p.url.clone()).collect();
    discovered.insert(cfg.start_url.to_string());
    // The crawl restarts on a resumed attempt, so its counters do too.
    let mut c = SyncCounters {
        started_at: started.started_at,
        ..SyncCounters::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let crawler = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            let on_page = move |o: PageOutcome| {
                let _ = tx.send(o);
            };
            twig_crawl::crawl(cfg, &previous, Arc::new(Extractor), on_page, cancel).await
        }
    });
    // Stops the crawl if this attempt ends early (error or lost lease).
    let _stop = cancel.clone().drop_guard();
    let mut not_counted = 0usize;
    let mut pending: Vec<Pending> = Vec::new();
    let mut first_problem: Option<String> = None;
    while let Some(page) = rx.recv().await {
        if ctx.lease_lost() {
            return Err(JobError::Retryable(
                "the job's lease was lost to another worker".into(),
            ));
        }
        match page {
            PageOutcome::Fetched {
                url,
                content_type,
                body,
                etag,
                last_modified,
                depth,
                links,
                frames,
            } => {
                discovered.insert(url.clone());
                for l in links.iter().chain(&frames) {
                    if discovered.len() >= max_pages.saturating_mul(4) {
                        break;
                    }
                    discovered.insert(l.clone());
                }
                match prepare_page(h, ds, &url, &content_type, body, depth).await? {
                    Ok(input) => {
                        let state = json!({"etag": etag, "last_modified": last_modified, "links": links, "frames": frames});
                        pending.push(Pending { url, input, state });
                    }
                    Err(reason) => {
                        c.failed += 1;
                        first_problem.get_or_insert_with(|| format!("{url}: {reason}"));
                        record_failed(h, ds, &url, &url, Some(&url), &reason).await?;
                    }
                }
            }
            PageOutcome::NotModified { url } => {
                discovered.insert(url);
                c.done += 1;
            }
            PageOutcome::Gone { url, status } => {
                not_counted += 1;
                tracing::debug!(%url, status, "page gone");
                remove_document(h, ds, &url).await?;
            }
            PageOutcome::Failed { url, reason } => {
                c.failed += 1;
                first_problem.get_or_insert_with(|| format!("{url}: {reason}"));
                record_failed(h, ds, &url, &url, Some(&url), &reason).await?;
            }
            PageOutcome::Skipped { url, reason } => {
                not_counted += 1;
                tracing::debug!(%url, %reason, "page skipped");
                if first_problem.is_none() && c.done == 0 {
                    first_problem = Some(format!("{url}: {reason}"));
                }
            }
        }
        // Pages waiting while the next one is already fetched are embedded and committed
        // together: one embedding batch and one index commit instead of one per page.
        if pending.len() >= PAGE_BATCH || rx.is_empty() {
            flush(h, ds, &mut pending, &mut c, &mut first_problem).await?;
        }
        let known = discovered.len().saturating_sub(not_counted).min(max_pages) as u64;
        c.total = known.max(c.done + c.failed + pending.len() as u64);
        h.checkpoint(&ds.id, &c, ctx).await?;
    }
    flush(h, ds, &mut pending, &mut c, &mut first_problem).await?;
    let summary = crawler
        .await
        .map_err(|e| JobError::Retryable(format!("the crawl task failed: {e}")))?
        .map_err(|e| JobError::Permanent(format!("cannot crawl the website: {e}")))?;
    if summary.cancelled {
        return Err(JobError::Retryable("the crawl was interrupted".into()));
    }
    if summary.complete {
        for url in &summary.unreachable_previous {
            remove_document(h, ds, url).await?;
        }
    }
    c.total = c.done + c.failed;
    let (status, error) = if c.done == 0 {
        (
            DataSourceStatus::Failed,
            Some(format!(
                "no page could be ingested ({})",
                first_problem.unwrap_or_else(|| "the site has no HTML or PDF pages".into())
            )),
        )
    } else {
        let (s, e) = outcome(c.done, c.failed, "pages");
        (
            s,
            e.map(|e| match &first_problem {
                Some(p) => format!("{e}; first: {p}"),
                None => e,
            }),
        )
    };
    Ok(Report {
        status,
        error,
        counters: c,
    })
}

/// Most pages embedded and committed together.
const PAGE_BATCH: usize = 16;

/// A parsed page waiting to be indexed, with its state for the next sync.
struct Pending {
    url: String,
    input: DocumentInput,
    state: Value,
}

/// Parses one page into a document; `Ok(Err(reason))` when the page itself is unusable.
async fn prepare_page(
    h: &SyncHandler,
    ds: &DataSource,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    depth: usize,
) -> Result<Result<DocumentInput, String>, JobError> {
    let limits = h.config.parse_limits();
    let is_pdf = content_type.contains("pdf");
    let page_url = url.to_owned();
    let parsed = blocking(move || -> Result<_, String> {
        if is_pdf {
            let p = twig_parse::parse("page.pdf", Some("application/pdf"), &body, &limits)
                .map_err(|e| e.to_string())?;
            return Ok((p.title, p.sections));
        }
        let (text, _) = twig_parse::decode_text(&body).map_err(|e| e.to_string())?;
        let page = twig_parse::parse_html(&text, Some(&page_url));
        let secs: Vec<_> = page
            .sections
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .collect();
        if secs.is_empty() {
            return Err("no text could be extracted: the page has no main content".into());
        }
        Ok((page.title, secs))
    })
    .await
    .map_err(|e| JobError::Retryable(format!("{e:#}")))?;
    let (title, secs) = match parsed {
        Ok(p) => p,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut metadata = Map::new();
    metadata.insert("content_type".into(), json!(content_type));
    metadata.insert("depth".into(), json!(depth));
    Ok(Ok(DocumentInput {
        org_id: ds.org_id.clone(),
        data_source_id: ds.id.clone(),
        source_key: url.to_owned(),
        title: title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| url.to_owned()),
        url: Some(url.to_owned()),
        filename: None,
        metadata,
        sections: sections(secs),
        chunking: ds.chunking(),
    }))
}

/// Indexes the pending pages in one call; if the batch is refused, page by page.
async fn flush(
    h: &SyncHandler,
    ds: &DataSource,
    pending: &mut Vec<Pending>,
    c: &mut SyncCounters,
    first_problem: &mut Option<String>,
) -> Result<(), JobError> {
    if pending.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(pending);
    let inputs: Vec<DocumentInput> = batch.iter().map(|p| p.input.clone()).collect();
    let docs = h.store.documents();
    match h.retriever.upsert_documents(inputs).await {
        Ok(outcomes) => {
            for (p, o) in batch.iter().zip(outcomes) {
                if let UpsertOutcome::Unchanged(id) = &o {
                    docs.set_document_status(id, DocumentStatus::Indexed, None)
                        .await
                        .map_err(retry)?;
                }
                docs.set_sync_state(o.document_id(), &p.state)
                    .await
                    .map_err(retry)?;
                c.done += 1;
            }
            Ok(())
        }
        Err(twig_core::Error::InvalidRequest { .. }) if batch.len() > 1 => {
            for p in batch {
                Box::pin(flush(h, ds, &mut vec![p], c, first_problem)).await?;
            }
            Ok(())
        }
        Err(twig_core::Error::InvalidRequest { message, .. }) => {
            for p in &batch {
                c.failed += 1;
                first_problem.get_or_insert_with(|| format!("{}: {message}", p.url));
                record_failed(h, ds, &p.url, &p.url, Some(&p.url), &message).await?;
            }
            Ok(())
        }
        Err(e) => Err(JobError::Retryable(format!("indexing failed: {e:#}"))),
    }
}
