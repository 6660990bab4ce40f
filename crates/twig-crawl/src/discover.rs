//! robots.txt and sitemap discovery for a crawl.

use crate::crawler::Crawler;
use crate::domain::same_site;
use crate::fetch::{FetchError, Purpose, Reply};
use crate::normalize::resolve;
use crate::robots::Robots;
use crate::types::PageOutcome;
use crate::{sitemap, ssrf};
use std::time::Duration;
use url::Url;

/// User-agent token matched in robots.txt.
const ROBOTS_TOKEN: &str = "TwigBot";
/// robots.txt size cap (RFC 9309 requires at least 500 KiB to be parsed).
const ROBOTS_MAX_BYTES: u64 = 512 * 1024;
/// Sitemap size cap (the sitemap protocol's own limit).
const SITEMAP_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// At most this many sitemap files are read (index files included).
const MAX_SITEMAP_FILES: usize = 20;
/// Crawl-delay values above this are clamped so a hostile file cannot stall us forever.
const MAX_CRAWL_DELAY_SECS: f64 = 3600.0;

/// Outcome of fetching a non-page resource.
enum Resource {
    Body(String),
    Status(u16),
    Unavailable(String),
}

impl<F: FnMut(PageOutcome) + Send> Crawler<F> {
    /// Whether robots.txt of `url`'s origin allows it; `Err` on cancellation.
    pub(crate) async fn robots_for(&mut self, url: &Url) -> Result<bool, ()> {
        let origin = url.origin().ascii_serialization();
        if !self.robots.contains_key(&origin) {
            let robots_url = url.join("/robots.txt").map_err(|_| ())?;
            let robots = match self.fetch_resource(robots_url, ROBOTS_MAX_BYTES).await? {
                Resource::Body(body) => Robots::parse(&body, ROBOTS_TOKEN),
                // RFC 9309: 4xx means no restrictions, 5xx/unreachable means full disallow.
                Resource::Status(s) if (400..500).contains(&s) => Robots::allow_all(),
                Resource::Status(s) => {
                    tracing::warn!("robots.txt for {origin} answered {s}; not crawling it");
                    Robots::disallow_all()
                }
                Resource::Unavailable(why) => {
                    tracing::warn!("robots.txt for {origin} unavailable ({why}); not crawling it");
                    Robots::disallow_all()
                }
            };
            if let Some(delay) = robots.crawl_delay() {
                let delay = delay.min(MAX_CRAWL_DELAY_SECS);
                self.fetcher.slow_down_to(Duration::from_secs_f64(delay));
            }
            self.robots.insert(origin.clone(), robots);
        }
        Ok(self.robots.get(&origin).is_some_and(|r| r.allowed(url)))
    }

    /// Whether `url`'s origin has a robots.txt that could not be read (5xx/unreachable).
    pub(crate) fn robots_unavailable(&self, url: &Url) -> bool {
        let origin = url.origin().ascii_serialization();
        self.robots.get(&origin).is_some_and(Robots::is_unavailable)
    }

    /// Skip reason for a URL refused by robots.txt handling.
    pub(crate) fn robots_refusal(&self, url: &Url) -> String {
        if self.robots_unavailable(url) {
            "robots.txt unavailable (server error or unreachable); host not crawled".into()
        } else {
            "disallowed by robots.txt".into()
        }
    }

    /// Queue sitemap URLs as depth-0 seeds; `Err` on cancellation.
    pub(crate) async fn load_sitemaps(&mut self) -> Result<(), ()> {
        let origin = self.start.origin().ascii_serialization();
        let listed: Vec<String> = self
            .robots
            .get(&origin)
            .map(|r| r.sitemaps().to_vec())
            .unwrap_or_default();
        let mut pending: Vec<Url> = listed
            .iter()
            .filter_map(|s| resolve(&self.start, s))
            .filter(|u| same_site(&self.start, u))
            .collect();
        if pending.is_empty() {
            pending.extend(self.start.join("/sitemap.xml").ok());
        }
        let mut read = 0usize;
        let mut seeds = 0usize;
        let cap = self.config.max_page_bytes.min(SITEMAP_MAX_BYTES);
        while let Some(url) = pending.pop() {
            if read >= MAX_SITEMAP_FILES {
                tracing::debug!("sitemap file limit reached");
                break;
            }
            read += 1;
            if !self.robots_for(&url).await? {
                continue;
            }
            let body = match self.fetch_resource(url.clone(), cap).await? {
                Resource::Body(b) => b,
                _ => continue,
            };
            let parsed = sitemap::parse(&body);
            for loc in parsed.locs {
                let Some(u) = resolve(&url, &loc).filter(|u| same_site(&self.start, u)) else {
                    continue;
                };
                if parsed.is_index {
                    pending.push(u);
                } else if seeds < self.config.max_pages {
                    seeds += 1;
                    self.enqueue(u, 0, false, false);
                }
            }
        }
        Ok(())
    }

    /// GET a resource, following same-site redirects; `Err` on cancellation.
    async fn fetch_resource(&mut self, mut url: Url, cap: u64) -> Result<Resource, ()> {
        for _ in 0..=self.config.max_redirects {
            if let Err(why) = ssrf::check_url(&url, self.config.allow_private_networks).await {
                return Ok(Resource::Unavailable(why));
            }
            let reply = self
                .fetcher
                .get(&url, None, Purpose::Resource(cap), &self.cancel)
                .await;
            match reply {
                Err(FetchError::Cancelled) => return Err(()),
                Err(FetchError::Network(why)) => return Ok(Resource::Unavailable(why)),
                Ok(Reply::Body { body, .. }) => {
                    return Ok(Resource::Body(String::from_utf8_lossy(&body).into_owned()))
                }
                Ok(Reply::Redirect(loc)) => match resolve(&url, &loc) {
                    Some(next) if same_site(&self.start, &next) => url = next,
                    _ => return Ok(Resource::Unavailable(format!("bad redirect to {loc}"))),
                },
                Ok(Reply::Status(s)) => return Ok(Resource::Status(s)),
                Ok(Reply::NotModified) => return Ok(Resource::Status(304)),
                Ok(Reply::TooLarge(c)) => {
                    return Ok(Resource::Unavailable(format!("over {c} bytes")))
                }
                Ok(Reply::WrongType(t)) => return Ok(Resource::Unavailable(t)),
            }
        }
        Ok(Resource::Unavailable("too many redirects".into()))
    }
}
