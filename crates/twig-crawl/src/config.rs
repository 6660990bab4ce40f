//! Crawl configuration.

use std::time::Duration;
use url::Url;

/// Settings for one crawl; build with [`CrawlConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct CrawlConfig {
    /// First page; its registrable domain bounds the crawl.
    pub start_url: Url,
    /// Maximum number of page URLs requested (robots/sitemap and redirect hops not counted).
    pub max_pages: usize,
    /// Maximum link depth from the start URL and sitemap seeds (depth 0).
    pub max_depth: usize,
    /// URL filters, one of which must match when non-empty (the start URL is exempt).
    /// A pattern containing `*` is a whole-string glob over path+query (`/docs/*`);
    /// one without `*` is a substring of path+query (`/blog/`).
    pub include_patterns: Vec<String>,
    /// URL filters (same syntax as `include_patterns`) that reject a URL; exclusion wins.
    pub exclude_patterns: Vec<String>,
    /// Upper bound on request rate, all requests included.
    pub requests_per_second: f64,
    /// Allow hosts resolving to private/loopback/link-local/... addresses.
    pub allow_private_networks: bool,
    /// User-Agent header; robots.txt is matched against the token `TwigBot`.
    pub user_agent: String,
    /// Body size cap; larger pages are Skipped without buffering more.
    pub max_page_bytes: u64,
    /// Whole-request timeout (connect, headers and body).
    pub request_timeout: Duration,
    /// Maximum redirects followed per URL.
    pub max_redirects: usize,
}

impl CrawlConfig {
    /// Config with the documented defaults for `start_url`.
    pub fn new(start_url: Url) -> Self {
        Self {
            start_url,
            max_pages: 10_000,
            max_depth: 3,
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
            requests_per_second: 1.0,
            allow_private_networks: false,
            user_agent: "TwigBot/0.1 (+https://github.com/twig)".to_string(),
            max_page_bytes: 20 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_redirects: 5,
        }
    }
}
