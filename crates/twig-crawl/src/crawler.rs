//! The crawl loop: frontier, politeness, redirects, outcomes.

use crate::domain::same_site;
use crate::error::CrawlError;
use crate::fetch::{FetchError, Fetcher, Purpose, Reply};
use crate::normalize::{normalize_url, resolve};
use crate::patterns::allowed_by_filters;
use crate::robots::Robots;
use crate::types::{CrawlSummary, LinkExtractor, PageOutcome, PreviousPage};
use crate::{ssrf, CrawlConfig};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Crawl the site of `config.start_url`, calling `on_page` for every outcome.
///
/// Pages are fetched one at a time (politeness over speed). Returns `Ok` with
/// `cancelled = true` when `cancel` fires; `Err` for unusable config and for a start
/// URL refused for good (SSRF guard, a 4xx answer, robots.txt), so the caller can fail
/// at once instead of retrying.
///
/// Depth: the start URL and sitemap URLs are depth 0, a link leads one level deeper, and
/// a frame (`<iframe>`, `<frame>`) is part of its page, so it keeps the page's depth.
/// Every page gets the smallest depth by which it can be reached (0-1 breadth-first
/// order), so a chapter listed in a table-of-contents frame is not pushed out of
/// `max_depth` by the prev/next chain that happened to reach it first.
pub async fn crawl(
    config: CrawlConfig,
    previous: &[PreviousPage],
    extractor: Arc<dyn LinkExtractor>,
    on_page: impl FnMut(PageOutcome) + Send,
    cancel: CancellationToken,
) -> Result<CrawlSummary, CrawlError> {
    let rps = config.requests_per_second;
    if !(rps.is_finite() && rps > 0.0) {
        return Err(CrawlError::InvalidConfig(format!(
            "requests_per_second must be > 0, got {rps}"
        )));
    }
    let start = normalize_url(&config.start_url).ok_or_else(|| {
        CrawlError::InvalidConfig(format!("start URL {} is not http(s)", config.start_url))
    })?;
    ssrf::check_url(&start, config.allow_private_networks)
        .await
        .map_err(|reason| CrawlError::Blocked {
            url: start.to_string(),
            reason,
        })?;
    let fetcher = Fetcher::new(&config).map_err(|e| CrawlError::Client(e.to_string()))?;
    let previous = previous
        .iter()
        .filter_map(|p| {
            let key = Url::parse(&p.url).ok().and_then(|u| normalize_url(&u))?;
            Some((key.to_string(), p.clone()))
        })
        .collect();
    let mut crawler = Crawler {
        config,
        start,
        extractor,
        fetcher,
        cancel,
        previous,
        robots: HashMap::new(),
        queue: VecDeque::new(),
        queued: HashMap::new(),
        refused: None,
        done: HashSet::new(),
        kept: HashSet::new(),
        links_unknown: false,
        pages_requested: 0,
        summary: CrawlSummary::default(),
        on_page,
    };
    crawler.run().await;
    if let Some(reason) = crawler.refused.take() {
        return Err(CrawlError::StartRefused {
            url: crawler.start.to_string(),
            reason,
        });
    }
    Ok(crawler.finish())
}

/// Mutable state of one crawl.
pub(crate) struct Crawler<F: FnMut(PageOutcome) + Send> {
    pub config: CrawlConfig,
    pub start: Url,
    extractor: Arc<dyn LinkExtractor>,
    pub fetcher: Fetcher,
    pub cancel: CancellationToken,
    previous: HashMap<String, PreviousPage>,
    /// robots.txt per origin (scheme://host:port).
    pub robots: HashMap<String, Robots>,
    /// Frontier in nondecreasing depth: links go to the back, frames to the front.
    queue: VecDeque<(Url, usize)>,
    /// Smallest depth each URL was queued at; a URL is queued again only at a smaller one.
    queued: HashMap<String, usize>,
    /// Why the start URL is refused for good, which ends the crawl.
    refused: Option<String>,
    /// URLs whose fetch finished, and page identities already reported.
    done: HashSet<String>,
    /// Identities still alive or not to be deleted (Fetched/304/Gone/Failed).
    kept: HashSet<String>,
    /// A 304 page had no stored links, so reachability is unknown.
    links_unknown: bool,
    pages_requested: usize,
    summary: CrawlSummary,
    on_page: F,
}

impl<F: FnMut(PageOutcome) + Send> Crawler<F> {
    async fn run(&mut self) {
        let start = self.start.clone();
        self.enqueue(start.clone(), 0, true, false);
        match self.robots_for(&start).await {
            Err(()) => return self.stop_cancelled(),
            // A robots.txt that cannot be read (5xx) may come back; one that forbids does not.
            Ok(false) if !self.robots_unavailable(&start) => {
                self.refused = Some("robots.txt forbids crawling it".into());
                return;
            }
            Ok(_) => {}
        }
        if self.load_sitemaps().await.is_err() {
            return self.stop_cancelled();
        }
        while let Some((url, depth)) = self.queue.pop_front() {
            if self.cancel.is_cancelled() {
                return self.stop_cancelled();
            }
            if self.done.contains(url.as_str())
                || self.queued.get(url.as_str()).is_some_and(|&d| d < depth)
            {
                continue; // fetched already, or queued again at a smaller depth
            }
            if self.pages_requested >= self.config.max_pages {
                tracing::debug!("max_pages reached; frontier left: {}", self.queue.len() + 1);
                return;
            }
            match self.robots_for(&url).await {
                Err(()) => return self.stop_cancelled(),
                Ok(false) => {
                    self.done.insert(url.to_string());
                    let reason = self.robots_refusal(&url);
                    self.emit(PageOutcome::Skipped {
                        url: url.to_string(),
                        reason,
                    });
                    continue;
                }
                Ok(true) => {}
            }
            self.pages_requested += 1;
            if self.process(url, depth).await.is_err() {
                return self.stop_cancelled();
            }
            if self.refused.is_some() {
                return;
            }
        }
        self.summary.complete = true;
    }

    fn stop_cancelled(&mut self) {
        self.summary.cancelled = true;
    }

    /// Queue `url` at `depth` if in scope; the start URL bypasses the filters.
    /// A frame (`embedded`) goes to the front: it has its page's depth, not one more.
    pub fn enqueue(&mut self, url: Url, depth: usize, is_start: bool, embedded: bool) {
        let key = url.to_string();
        if depth > self.config.max_depth
            || self.queued.get(&key).is_some_and(|&d| d <= depth)
            || self.done.contains(&key)
        {
            return;
        }
        if !same_site(&self.start, &url) {
            return;
        }
        let cfg = &self.config;
        if !is_start && !allowed_by_filters(&url, &cfg.include_patterns, &cfg.exclude_patterns) {
            return;
        }
        self.queued.insert(key, depth);
        if embedded {
            self.queue.push_front((url, depth));
        } else {
            self.queue.push_back((url, depth));
        }
    }

    pub fn emit(&mut self, outcome: PageOutcome) {
        let s = &mut self.summary;
        match &outcome {
            PageOutcome::Fetched { .. } => s.fetched += 1,
            PageOutcome::NotModified { .. } => s.not_modified += 1,
            PageOutcome::Gone { .. } => s.gone += 1,
            PageOutcome::Failed { .. } => s.failed += 1,
            PageOutcome::Skipped { .. } => s.skipped += 1,
        }
        (self.on_page)(outcome);
    }

    /// Fetch one page following redirects; `Err` only on cancellation.
    async fn process(&mut self, url: Url, depth: usize) -> Result<(), ()> {
        let original = url.to_string();
        self.done.insert(original.clone());
        let mut current = url;
        let mut chain = vec![original.clone()];
        let reply = loop {
            if let Err(reason) = ssrf::check_url(&current, self.config.allow_private_networks).await
            {
                self.fail_page(&original, format!("refused: {reason}"));
                return Ok(());
            }
            let prev = self.previous.get(current.as_str()).cloned();
            match self
                .fetcher
                .get(&current, prev.as_ref(), Purpose::Page, &self.cancel)
                .await
            {
                Err(FetchError::Cancelled) => return Err(()),
                Err(FetchError::Network(reason)) => {
                    self.fail_page(&original, reason);
                    return Ok(());
                }
                Ok(Reply::Redirect(loc)) => {
                    let Some(next) = resolve(&current, &loc) else {
                        self.fail_page(&original, format!("bad redirect target {loc:?}"));
                        return Ok(());
                    };
                    let key = next.to_string();
                    let problem = if chain.contains(&key) {
                        Some(format!("redirect loop via {key}"))
                    } else if chain.len() > self.config.max_redirects {
                        Some(format!("more than {} redirects", self.config.max_redirects))
                    } else if !same_site(&self.start, &next) {
                        Some(format!("redirect leaves the site: {key}"))
                    } else {
                        None
                    };
                    if let Some(reason) = problem {
                        self.fail_page(&original, reason);
                        return Ok(());
                    }
                    if self.done.contains(&key) {
                        self.emit(PageOutcome::Skipped {
                            url: original,
                            reason: format!("redirects to already crawled {key}"),
                        });
                        return Ok(());
                    }
                    match self.robots_for(&next).await {
                        Err(()) => return Err(()),
                        Ok(false) => {
                            let reason = format!("redirect target {key} disallowed by robots.txt");
                            self.emit(PageOutcome::Skipped {
                                url: original,
                                reason,
                            });
                            return Ok(());
                        }
                        Ok(true) => {}
                    }
                    self.done.insert(key.clone());
                    chain.push(key);
                    current = next;
                }
                Ok(other) => break other,
            }
        };
        let url = current.to_string();
        match reply {
            Reply::Redirect(_) => {}
            Reply::NotModified => {
                self.kept.insert(url.clone());
                self.emit(PageOutcome::NotModified { url: url.clone() });
                // A 304 has no body: follow the links stored from the last sync.
                match self.previous.get(&url).cloned() {
                    Some(p) if !(p.links.is_empty() && p.frames.is_empty()) => {
                        self.follow(&current, &p.links, depth, false);
                        self.follow(&current, &p.frames, depth, true);
                    }
                    _ => self.links_unknown = true,
                }
            }
            // The start URL answering 4xx (but for 408/429, which pass) is a wrong URL.
            Reply::Status(status @ 400..=499)
                if original == self.start.as_str() && !matches!(status, 408 | 429) =>
            {
                self.refused = Some(format!("it answered HTTP {status}"));
            }
            Reply::Status(status @ (404 | 410)) => {
                self.kept.insert(url.clone());
                self.emit(PageOutcome::Gone { url, status });
            }
            Reply::Status(status) => {
                self.kept.insert(url.clone());
                self.emit(PageOutcome::Failed {
                    url,
                    reason: format!("HTTP status {status}"),
                });
            }
            Reply::WrongType(ct) => {
                let reason = format!("unsupported content type {ct:?}");
                self.emit(PageOutcome::Skipped { url, reason });
            }
            Reply::TooLarge(cap) => {
                let reason = format!("too large (over {cap} bytes)");
                self.emit(PageOutcome::Skipped { url, reason });
            }
            Reply::Body {
                content_type,
                etag,
                last_modified,
                body,
                is_html,
            } => {
                let mut identity = url.clone();
                let mut links = Vec::new();
                let mut frames = Vec::new();
                if is_html {
                    let info = self.extractor.inspect(&current, &body);
                    if !info.nofollow {
                        // Frames first: they go to the front of the queue, at this depth.
                        frames = self.follow(&current, &info.frames, depth, true);
                        links = self.follow(&current, &info.links, depth, false);
                    }
                    let canonical = info.canonical.as_deref().and_then(|c| resolve(&current, c));
                    if let Some(canon) = canonical.filter(|c| same_site(&self.start, c)) {
                        let key = canon.to_string();
                        if key != url && !self.done.insert(key.clone()) {
                            let reason = format!("duplicate of canonical {key}");
                            self.emit(PageOutcome::Skipped { url, reason });
                            return Ok(());
                        }
                        identity = key;
                    }
                    if info.noindex {
                        self.emit(PageOutcome::Skipped {
                            url,
                            reason: "noindex".into(),
                        });
                        return Ok(());
                    }
                }
                self.kept.insert(identity.clone());
                self.emit(PageOutcome::Fetched {
                    url: identity,
                    content_type,
                    body,
                    etag,
                    last_modified,
                    depth,
                    links,
                    frames,
                });
            }
        }
        Ok(())
    }

    /// Report a failure; the page is kept (a transient error must not delete it).
    fn fail_page(&mut self, url: &str, reason: String) {
        self.kept.insert(url.to_string());
        self.emit(PageOutcome::Failed {
            url: url.to_string(),
            reason,
        });
    }

    /// Queue in-scope links (one level deeper) or frames (same depth) of a page at `depth`;
    /// returns them normalised.
    fn follow(&mut self, base: &Url, hrefs: &[String], depth: usize, frames: bool) -> Vec<String> {
        let mut out = Vec::new();
        let next = if frames { depth } else { depth + 1 };
        for href in hrefs {
            if let Some(u) = resolve(base, href).filter(|u| same_site(&self.start, u)) {
                out.push(u.to_string());
                self.enqueue(u, next, false, frames);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn finish(mut self) -> CrawlSummary {
        self.summary.requests = self.fetcher.requests;
        if self.summary.complete && !self.links_unknown {
            let mut gone: Vec<String> = self
                .previous
                .iter()
                .filter(|(key, _)| !self.kept.contains(*key))
                .map(|(_, p)| p.url.clone()) // the caller's own spelling
                .collect();
            gone.sort();
            self.summary.unreachable_previous = gone;
        }
        self.summary
    }
}
