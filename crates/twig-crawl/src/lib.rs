//! Polite same-site web crawler for Twig: fetches pages, follows links, obeys
//! robots.txt and reports each page so the caller can ingest while crawling.
//!
//! HTML parsing is deliberately left to the caller through [`LinkExtractor`],
//! so this crate carries no HTML parser.
//!
//! Design decisions (see the item docs for details):
//! - Sequential crawl, one request at a time; the gap between request starts is
//!   `max(1 / requests_per_second, robots Crawl-delay)` and covers robots.txt,
//!   sitemaps and redirect hops. The Crawl-delay of any origin raises the gap
//!   for the whole crawl (clamped to one hour).
//! - Scope: same registrable domain as the start URL ([`site_key`], a built-in
//!   heuristic with a short list of multi-label public suffixes, not the full PSL);
//!   IP literals and single-label hosts must match host and port exactly.
//! - robots.txt: own parser ([`Robots`]) for token `TwigBot`, falling back to `*`;
//!   longest match wins, Allow wins ties, `*` and `$` wildcards. Per RFC 9309 a
//!   4xx robots.txt allows everything and a 5xx/unreachable one disallows the host.
//! - Sitemaps: `Sitemap:` lines of the start origin's robots.txt, else `/sitemap.xml`;
//!   index files followed; at most 20 files of at most 50 MiB; gzip-compressed
//!   `.xml.gz` files are not supported. Their URLs are depth-0 seeds.
//! - Links: `<a>`/`<area>` and `<link rel=next|prev|alternate>` are one level deeper;
//!   frames (`<iframe>`, `<frame>`) keep their page's depth; each page gets its smallest depth.
//! - A start URL refused for good (SSRF guard, 4xx, robots.txt) is an error, not a page.
//! - Normalisation ([`normalize_url`]): query order and `index.html` are kept.
//!   `<link rel=canonical>` (same site only) becomes the page identity; the
//!   canonical URL itself is then not fetched, and a second page naming an
//!   already reported canonical is Skipped as a duplicate.
//! - Re-sync: a 304 has no body, so the links stored in [`PreviousPage::links`]
//!   are followed instead. If a 304 page has no stored links, reachability is
//!   unknown and `unreachable_previous` is left empty rather than risk deletions.
//! - SSRF: the host is checked before every request and redirect hop, and the
//!   reqwest DNS resolver drops forbidden addresses, so the connection goes only
//!   to checked addresses (no DNS rebinding). Proxies from the environment are ignored.

mod config;
mod crawler;
mod discover;
mod domain;
mod error;
mod fetch;
mod normalize;
mod patterns;
mod robots;
mod sitemap;
mod ssrf;
mod types;

pub use config::CrawlConfig;
pub use crawler::crawl;
pub use domain::{same_site, site_key};
pub use error::CrawlError;
pub use normalize::normalize_url;
pub use patterns::wildcard_match;
pub use robots::Robots;
pub use ssrf::{check_url, is_forbidden_ip, GuardedResolver};
pub use tokio_util::sync::CancellationToken;
pub use types::{CrawlSummary, LinkExtractor, PageLinks, PageOutcome, PreviousPage};
