//! One rate-limited HTTP request with a streamed, size-capped body.

use crate::ssrf::GuardedResolver;
use crate::types::PreviousPage;
use reqwest::header::{self, HeaderMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

/// What the body is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A crawl page: only HTML or PDF is downloaded.
    Page,
    /// robots.txt or a sitemap: any type, capped at the given size.
    Resource(u64),
}

/// Result of one request (no redirect following here).
#[derive(Debug)]
pub(crate) enum Reply {
    /// 3xx with a Location header.
    Redirect(String),
    /// 304.
    NotModified,
    /// Non-success status other than the above (body not read).
    Status(u16),
    /// Declared or sniffed type is not wanted.
    WrongType(String),
    /// Body exceeded the cap.
    TooLarge(u64),
    /// 2xx with a wanted body.
    Body {
        content_type: String,
        etag: Option<String>,
        last_modified: Option<String>,
        body: Vec<u8>,
        is_html: bool,
    },
}

/// Why a request produced no reply.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The caller cancelled the crawl.
    Cancelled,
    /// Timeout, connection or protocol error.
    Network(String),
}

/// HTTP client plus the politeness clock.
pub(crate) struct Fetcher {
    client: reqwest::Client,
    interval: Duration,
    next_at: Instant,
    max_page_bytes: u64,
    timeout: Duration,
    /// Requests sent so far.
    pub requests: usize,
}

impl Fetcher {
    /// Build the client: no automatic redirects, no proxies, guarded DNS.
    pub fn new(cfg: &crate::CrawlConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy() // a proxy would bypass the SSRF guard
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: cfg.allow_private_networks,
            }))
            .build()?;
        Ok(Self {
            client,
            interval: Duration::from_secs_f64(1.0 / cfg.requests_per_second),
            next_at: Instant::now(),
            max_page_bytes: cfg.max_page_bytes,
            timeout: cfg.request_timeout,
            requests: 0,
        })
    }

    /// Raise the minimum gap between requests (robots.txt Crawl-delay).
    pub fn slow_down_to(&mut self, gap: Duration) {
        self.interval = self.interval.max(gap);
    }

    /// Send one GET, waiting for our turn first; conditional if `prev` is given.
    pub async fn get(
        &mut self,
        url: &Url,
        prev: Option<&PreviousPage>,
        purpose: Purpose,
        cancel: &CancellationToken,
    ) -> Result<Reply, FetchError> {
        tokio::select! {
            _ = cancel.cancelled() => return Err(FetchError::Cancelled),
            _ = tokio::time::sleep_until(self.next_at) => {}
        }
        self.requests += 1;
        let mut req = self.client.get(url.clone());
        if let Some(p) = prev {
            if let Some(etag) = &p.etag {
                req = req.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &p.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
        }
        let result = tokio::select! {
            _ = cancel.cancelled() => Err(FetchError::Cancelled),
            r = self.exchange(req, purpose) => r,
        };
        // The gap counts from the end of a request so slow servers get breathing room.
        self.next_at = Instant::now() + self.interval;
        result
    }

    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        purpose: Purpose,
    ) -> Result<Reply, FetchError> {
        let mut resp = req.send().await.map_err(|e| self.describe(e))?;
        let status = resp.status();
        if status.is_redirection() {
            if status.as_u16() == 304 {
                return Ok(Reply::NotModified);
            }
            if let Some(loc) = header_str(resp.headers(), header::LOCATION) {
                return Ok(Reply::Redirect(loc));
            }
            return Ok(Reply::Status(status.as_u16()));
        }
        if !status.is_success() {
            return Ok(Reply::Status(status.as_u16()));
        }
        let cap = match purpose {
            Purpose::Page => self.max_page_bytes,
            Purpose::Resource(cap) => cap,
        };
        if resp.content_length().is_some_and(|len| len > cap) {
            return Ok(Reply::TooLarge(cap));
        }
        let headers = resp.headers().clone();
        let declared = header_str(&headers, header::CONTENT_TYPE).unwrap_or_default();
        let essence = declared
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let generic = essence.is_empty()
            || essence == "application/octet-stream"
            || essence == "binary/octet-stream";
        let declared_html = essence == "text/html" || essence == "application/xhtml+xml";
        if purpose == Purpose::Page && !generic && !declared_html && essence != "application/pdf" {
            return Ok(Reply::WrongType(declared));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.describe(e))? {
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Ok(Reply::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        let (content_type, is_html) = match purpose {
            Purpose::Resource(_) => (declared, false),
            Purpose::Page if !generic => (declared, declared_html),
            Purpose::Page => match sniff(&body) {
                Some(t) => (t.to_string(), t == "text/html"),
                None => return Ok(Reply::WrongType(declared)),
            },
        };
        Ok(Reply::Body {
            content_type,
            etag: header_str(&headers, header::ETAG),
            last_modified: header_str(&headers, header::LAST_MODIFIED),
            body,
            is_html,
        })
    }

    fn describe(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Network(format!("timed out after {:?}", self.timeout))
        } else {
            // The source chain carries the useful part (DNS guard, refused...).
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            FetchError::Network(msg)
        }
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Identify PDF or HTML by their first bytes when the server gave no useful type.
fn sniff(body: &[u8]) -> Option<&'static str> {
    if body.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    let head: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    if head.starts_with(b"<!doctype html") || head.starts_with(b"<html") {
        Some("text/html")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn sniffs_pdf_and_html() {
        assert_eq!(sniff(b"%PDF-1.7 ..."), Some("application/pdf"));
        assert_eq!(sniff(b"  <!DOCTYPE html><p>"), Some("text/html"));
        assert_eq!(sniff(b"\x89PNG"), None);
    }
}
