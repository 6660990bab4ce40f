//! Public data types exchanged with the caller.

use url::Url;

/// A page known from the previous sync, used for conditional requests.
#[derive(Debug, Clone, Default)]
pub struct PreviousPage {
    /// The page identity reported last time (normalised URL).
    pub url: String,
    /// ETag from the last fetch, sent as `If-None-Match`.
    pub etag: Option<String>,
    /// Last-Modified from the last fetch, sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// Outgoing links reported last time (`PageOutcome::Fetched::links`); followed on a 304.
    pub links: Vec<String>,
    /// Embedded documents reported last time (`PageOutcome::Fetched::frames`); followed on a 304.
    pub frames: Vec<String>,
}

/// What happened to one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOutcome {
    /// An HTML or PDF page was downloaded.
    Fetched {
        /// Page identity: final normalised URL, or its canonical URL.
        url: String,
        /// Content-Type header (or the sniffed type when absent/generic).
        content_type: String,
        /// Raw body, at most `max_page_bytes`.
        body: Vec<u8>,
        /// ETag header, for the next sync.
        etag: Option<String>,
        /// Last-Modified header, for the next sync.
        last_modified: Option<String>,
        /// Link depth at which the page was reached.
        depth: usize,
        /// Normalised in-scope links found on the page; store them for the next sync.
        links: Vec<String>,
        /// Normalised in-scope frames (`<iframe>`, `<frame>`) of the page; store them too.
        frames: Vec<String>,
    },
    /// The server answered 304 to a conditional request.
    NotModified {
        /// Page identity.
        url: String,
    },
    /// The server answered 404 or 410.
    Gone {
        /// Page URL.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// The request failed (timeout, network error, HTTP error, redirect loop...).
    Failed {
        /// Page URL.
        url: String,
        /// Human-readable reason.
        reason: String,
    },
    /// The page was deliberately not fetched or not reported.
    Skipped {
        /// Page URL.
        url: String,
        /// Why (robots, content type, too large, noindex, duplicate...).
        reason: String,
    },
}

/// Link information the caller's HTML parser extracts from a page.
#[derive(Debug, Clone, Default)]
pub struct PageLinks {
    /// `href` values (absolute or relative to `base`), followed one level deeper.
    pub links: Vec<String>,
    /// Embedded documents (`<iframe src>`, `<frame src>`), fetched at the page's own depth:
    /// they are part of the page, such as mdBook's table of contents.
    pub frames: Vec<String>,
    /// `<link rel=canonical>` target, if any.
    pub canonical: Option<String>,
    /// `<meta name=robots content=nofollow>`: do not follow links.
    pub nofollow: bool,
    /// `<meta name=robots content=noindex>`: do not report as Fetched.
    pub noindex: bool,
}

/// Caller-supplied HTML link extraction, keeping this crate parser-free.
pub trait LinkExtractor: Send + Sync {
    /// Raw link targets found in `html`.
    fn links(&self, base: &Url, html: &[u8]) -> Vec<String>;

    /// Links plus canonical and robots meta; defaults to [`LinkExtractor::links`] only.
    fn inspect(&self, base: &Url, html: &[u8]) -> PageLinks {
        PageLinks {
            links: self.links(base, html),
            ..PageLinks::default()
        }
    }
}

/// Counts and leftovers of a finished (or stopped) crawl.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrawlSummary {
    /// Pages reported as Fetched.
    pub fetched: usize,
    /// Pages reported as NotModified.
    pub not_modified: usize,
    /// Pages reported as Gone.
    pub gone: usize,
    /// Pages reported as Failed.
    pub failed: usize,
    /// Pages reported as Skipped.
    pub skipped: usize,
    /// HTTP requests sent, robots.txt, sitemaps and redirect hops included.
    pub requests: usize,
    /// True when the crawl exhausted its frontier (not cancelled, not cut by `max_pages`).
    pub complete: bool,
    /// True when the crawl stopped because of cancellation.
    pub cancelled: bool,
    /// Previous pages neither reached nor reported Gone/Failed; the caller may delete them.
    /// Empty unless `complete` and every reached 304 page had stored links.
    pub unreachable_previous: Vec<String>,
}
