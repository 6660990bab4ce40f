//! Crawl-level errors (per-page problems are reported as outcomes instead).

/// Errors that stop a crawl before or instead of running it.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The configuration cannot be used.
    #[error("invalid crawl configuration: {0}")]
    InvalidConfig(String),
    /// The start URL was refused by the SSRF guard.
    #[error("start URL {url} refused: {reason}")]
    Blocked {
        /// The refused URL.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The start URL itself is refused for good (4xx, or robots.txt forbids it):
    /// retrying cannot help until the site or the configuration changes.
    #[error("start URL {url} refused: {reason}")]
    StartRefused {
        /// The refused URL.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build HTTP client: {0}")]
    Client(String),
}
