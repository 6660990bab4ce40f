//! The HTTP client every connector uses: base URL, auth, retries and error mapping in one place.
//!
//! Policy (the same for every vendor): 401/403 fail at once with what the remote said and the
//! config field to fix; 429 (and 503 with `Retry-After`) waits as asked, inline up to
//! [`RetryPolicy::max_inline_wait`], beyond that the sync is retried later; 5xx, timeouts and
//! connection failures retry with exponential backoff and jitter; other 4xx fail the call.
//! Requests go through the crawler's SSRF-guarded resolver, so a `base_url` pointing at a
//! private address is refused unless `ingest.allow_private_networks` is set.

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use twig_core::connector::ConnectorError;
use url::Url;

/// Largest JSON answer read from a remote.
const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

/// How a remote's failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call (the first included).
    pub max_attempts: u32,
    /// First backoff delay; doubled each retry.
    pub base_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for inline: the sync is retried later.
    pub max_inline_wait: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_inline_wait: Duration::from_secs(120),
            timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry `n` (0-based): exponential with equal jitter.
    fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let half = exp / 2;
        half + Duration::from_millis(rand::thread_rng().gen_range(0..=half.as_millis() as u64))
    }
}

/// What every connector is opened with.
#[derive(Debug, Clone)]
pub struct ConnectorEnv {
    /// Remotes may be on private, loopback and link-local addresses (on-premises installs, tests).
    pub allow_private_networks: bool,
    /// Items (attachments, files) larger than this are skipped with a reason.
    pub max_file_bytes: u64,
    /// Retries and timeouts.
    pub retry: RetryPolicy,
}

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// HTTP Basic (`email:api_token`, `email/token:api_token`).
    Basic {
        /// User part.
        user: String,
        /// Password part (a token).
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    // Credentials never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "Auth::None",
            Self::Basic { .. } => "Auth::Basic(********)",
            Self::Bearer(_) => "Auth::Bearer(********)",
        })
    }
}

/// A vendor's API at one base URL.
#[derive(Debug, Clone)]
pub struct Remote {
    client: reqwest::Client,
    base: Url,
    auth: Arc<std::sync::RwLock<Auth>>,
    headers: HeaderMap,
    /// Vendor name for messages ("Confluence").
    vendor: &'static str,
    /// Config field to fix when credentials are refused (`config.api_token`).
    auth_field: &'static str,
    retry: RetryPolicy,
    allow_private: bool,
}

impl Remote {
    /// A client for `base_url` (its path is kept: `https://x/wiki` + `api/v2/pages`).
    pub fn new(
        vendor: &'static str,
        base_url: &str,
        auth: Auth,
        auth_field: &'static str,
        env: &ConnectorEnv,
    ) -> Result<Self, ConnectorError> {
        let mut base = Url::parse(base_url).map_err(|e| ConnectorError::Config {
            field: Some("config.base_url".into()),
            message: format!("config.base_url {base_url:?} is not a URL: {e}"),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(ConnectorError::Config {
                field: Some("config.base_url".into()),
                message: format!("config.base_url must be an http(s) URL, got {base_url:?}"),
            });
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let client = reqwest::Client::builder()
            .no_proxy() // a proxy would bypass the SSRF guard
            .redirect(reqwest::redirect::Policy::limited(5))
            .timeout(env.retry.timeout)
            .connect_timeout(env.retry.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("twig/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(twig_crawl::GuardedResolver {
                allow_private: env.allow_private_networks,
            }))
            .build()
            .map_err(|e| ConnectorError::Permanent(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            client,
            base,
            auth: Arc::new(std::sync::RwLock::new(auth)),
            headers: HeaderMap::new(),
            vendor,
            auth_field,
            retry: env.retry,
            allow_private: env.allow_private_networks,
        })
    }

    /// Adds a header sent with every request (`Notion-Version`).
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }

    /// Replaces the credentials (a refreshed access token).
    pub fn set_auth(&self, auth: Auth) {
        if let Ok(mut a) = self.auth.write() {
            *a = auth;
        }
    }

    /// The vendor name used in messages.
    pub fn vendor(&self) -> &'static str {
        self.vendor
    }

    /// `path` (relative to the base URL) or an absolute URL on the base URL's origin
    /// (`_links.next`, `@odata.nextLink`); other origins are refused so credentials stay home.
    pub fn url(&self, path_or_url: &str) -> Result<Url, ConnectorError> {
        let url = match Url::parse(path_or_url) {
            Ok(u) => u,
            Err(url::ParseError::RelativeUrlWithoutBase) => self
                .base
                .join(path_or_url.trim_start_matches('/'))
                .map_err(|e| ConnectorError::Permanent(format!("bad path {path_or_url:?}: {e}")))?,
            Err(e) => {
                return Err(ConnectorError::Permanent(format!(
                    "{} sent a bad URL {path_or_url:?}: {e}",
                    self.vendor
                )))
            }
        };
        if url.origin() != self.base.origin() {
            return Err(ConnectorError::Permanent(format!(
                "{} pointed at {url}, outside config.base_url {}",
                self.vendor, self.base
            )));
        }
        Ok(url)
    }

    /// GET `url` and decode its JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, ConnectorError> {
        let resp = self.send(Method::GET, url, None).await?;
        self.json(resp).await
    }

    /// GET `url` and decode its JSON; `None` on 404/410.
    pub async fn get_json_opt<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<Option<T>, ConnectorError> {
        match self.send_allowing(Method::GET, url, None, true).await? {
            None => Ok(None),
            Some(resp) => self.json(resp).await.map(Some),
        }
    }

    /// POST a JSON body to `url` and decode the JSON answer.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        url: Url,
        body: &Value,
    ) -> Result<T, ConnectorError> {
        let resp = self.send(Method::POST, url, Some(body)).await?;
        self.json(resp).await
    }

    /// POST a form (`application/x-www-form-urlencoded`, what OAuth token endpoints take) and
    /// decode the JSON answer.
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<T, ConnectorError> {
        let resp = self
            .send_payload(Method::POST, url.clone(), Payload::Form(form), false)
            .await?
            .ok_or_else(|| {
                ConnectorError::Permanent(format!("{} answered 404 for {url}", self.vendor))
            })?;
        self.json(resp).await
    }

    /// GET a file's bytes, at most `max_bytes`: `Ok(Err(reason))` when it is larger or gone.
    pub async fn get_bytes(
        &self,
        url: Url,
        max_bytes: u64,
    ) -> Result<Result<Vec<u8>, String>, ConnectorError> {
        let Some(mut resp) = self.send_allowing(Method::GET, url, None, true).await? else {
            return Ok(Err(format!(
                "{} answered 404: the file is gone",
                self.vendor
            )));
        };
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Ok(Err(too_large(max_bytes)));
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(e))? {
            if (out.len() + chunk.len()) as u64 > max_bytes {
                return Ok(Err(too_large(max_bytes)));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Ok(out))
    }

    /// Sends a request with the retry policy; any non-2xx is an error.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, ConnectorError> {
        match self.send_allowing(method, url.clone(), body, false).await? {
            Some(r) => Ok(r),
            None => Err(ConnectorError::Permanent(format!(
                "{} answered 404 for {url}",
                self.vendor
            ))),
        }
    }

    /// [`Self::send`]; with `missing_ok`, 404/410 answer `None` instead of an error.
    async fn send_allowing(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        missing_ok: bool,
    ) -> Result<Option<reqwest::Response>, ConnectorError> {
        let payload = body.map_or(Payload::None, Payload::Json);
        self.send_payload(method, url, payload, missing_ok).await
    }

    async fn send_payload(
        &self,
        method: Method,
        url: Url,
        body: Payload<'_>,
        missing_ok: bool,
    ) -> Result<Option<reqwest::Response>, ConnectorError> {
        twig_crawl::check_url(&url, self.allow_private)
            .await
            .map_err(|e| ConnectorError::Config {
                field: Some("config.base_url".into()),
                message: format!("{} at {url}: {e}", self.vendor),
            })?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let mut req = self
                .client
                .request(method.clone(), url.clone())
                .headers(self.headers.clone());
            req = match self.auth.read().map(|a| a.clone()).unwrap_or(Auth::None) {
                Auth::None => req,
                Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
                Auth::Bearer(t) => req.bearer_auth(t),
            };
            req = match body {
                Payload::None => req,
                Payload::Json(b) => req.json(b),
                Payload::Form(f) => req.form(f),
            };
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if last => return Err(self.transport(e)),
                Err(e) => {
                    tracing::debug!(vendor = self.vendor, error = %e, attempt, "request failed; retrying");
                    tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
                    continue;
                }
            };
            let status = resp.status();
            if status.is_success() {
                return Ok(Some(resp));
            }
            if missing_ok && matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
                return Ok(None);
            }
            let wait = rate_limit_wait(resp.headers());
            let throttled = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && wait.is_some());
            let message = self.describe(status, resp).await;
            if throttled {
                let wait = wait.unwrap_or_else(|| self.retry.backoff(attempt - 1));
                if last || wait > self.retry.max_inline_wait {
                    return Err(ConnectorError::RateLimited {
                        message,
                        retry_after: Some(wait),
                    });
                }
                tracing::debug!(vendor = self.vendor, ?wait, "rate limited; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                if last {
                    return Err(ConnectorError::Transient(format!(
                        "{message} (after {attempt} attempts)"
                    )));
                }
                tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
                continue;
            }
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                return Err(ConnectorError::Auth {
                    field: self.auth_field.into(),
                    message: format!("{message}; check {}", self.auth_field),
                });
            }
            return Err(ConnectorError::Permanent(message));
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        mut resp: reqwest::Response,
    ) -> Result<T, ConnectorError> {
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(e))? {
            if buf.len() + chunk.len() > MAX_JSON_BYTES {
                return Err(ConnectorError::Permanent(format!(
                    "{} sent an answer over {MAX_JSON_BYTES} bytes",
                    self.vendor
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&buf).map_err(|e| {
            ConnectorError::Transient(format!("{} sent JSON we cannot read: {e}", self.vendor))
        })
    }

    /// "Confluence answered 401 Unauthorized: <the remote's own message>".
    async fn describe(&self, status: StatusCode, resp: reqwest::Response) -> String {
        let body = read_prefix(resp, 16 * 1024).await;
        let said = remote_message(&body);
        match said {
            Some(m) => format!("{} answered {status}: {m}", self.vendor),
            None => format!("{} answered {status}", self.vendor),
        }
    }

    fn transport(&self, e: reqwest::Error) -> ConnectorError {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        ConnectorError::Transient(format!("{}: {kind}: {}", self.vendor, error_chain(&e)))
    }
}

/// What a request carries.
#[derive(Clone, Copy)]
enum Payload<'a> {
    None,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

fn too_large(max: u64) -> String {
    format!("skipped: larger than ingest.max_file_bytes ({max} bytes)")
}

/// `Retry-After`, else the reset of the common `X-RateLimit-Reset`/`RateLimit-Reset` headers.
pub fn rate_limit_wait(h: &HeaderMap) -> Option<Duration> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    if let Some(d) = get("retry-after").and_then(twig_core::time::parse_retry_after) {
        return Some(d);
    }
    // Seconds until reset (IETF draft), or an epoch timestamp (GitHub/Zendesk style).
    let v: u64 = get("ratelimit-reset")
        .or_else(|| get("x-ratelimit-reset"))?
        .trim()
        .parse()
        .ok()?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    Some(Duration::from_secs(if v > 1_000_000_000 {
        v.saturating_sub(now)
    } else {
        v
    }))
}

async fn read_prefix(mut resp: reqwest::Response, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() >= max {
            out.truncate(max);
            break;
        }
    }
    out
}

/// The remote's own explanation in an error body: the usual JSON fields, else the text.
pub fn remote_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let s = |v: &Value| v.as_str().map(str::to_owned);
        let found = s(&v["message"])
            .or_else(|| s(&v["error"]["message"]))
            .or_else(|| s(&v["error_description"]))
            .or_else(|| s(&v["description"]))
            .or_else(|| s(&v["errors"][0]["message"]))
            .or_else(|| s(&v["errors"][0]["title"]))
            .or_else(|| s(&v["errors"][0]["detail"]))
            .or_else(|| s(&v["error"]))
            .or_else(|| s(&v["detail"]));
        if let Some(m) = found.filter(|m| !m.trim().is_empty()) {
            return Some(clip(&m));
        }
    }
    Some(clip(text))
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap as AxHeaders, StatusCode as Ax};
    use axum::routing::get;
    use axum::Router;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn env() -> ConnectorEnv {
        ConnectorEnv {
            allow_private_networks: true,
            max_file_bytes: 1024,
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
                max_inline_wait: Duration::from_secs(2),
                timeout: Duration::from_secs(5),
            },
        }
    }

    async fn serve(app: Router) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        format!("http://{addr}/base")
    }

    fn remote(base: &str) -> Remote {
        Remote::new(
            "Vendor",
            base,
            Auth::Basic {
                user: "me@example.com".into(),
                password: "tok".into(),
            },
            "config.api_token",
            &env(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn waits_out_retry_after_then_succeeds() {
        let hits = Arc::new(AtomicU32::new(0));
        let h = hits.clone();
        let app = Router::new().route(
            "/base/items",
            get(move |headers: AxHeaders| {
                let h = h.clone();
                async move {
                    assert!(headers["authorization"]
                        .to_str()
                        .unwrap()
                        .starts_with("Basic "));
                    if h.fetch_add(1, Ordering::SeqCst) == 0 {
                        (
                            Ax::TOO_MANY_REQUESTS,
                            [("retry-after", "1")],
                            "{}".to_string(),
                        )
                    } else {
                        (Ax::OK, [("retry-after", "0")], r#"{"n": 7}"#.to_string())
                    }
                }
            }),
        );
        let r = remote(&serve(app).await);
        let t = std::time::Instant::now();
        let v: Value = r.get_json(r.url("items").unwrap()).await.unwrap();
        assert_eq!(v["n"], 7);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert!(t.elapsed() >= Duration::from_millis(900));
    }

    #[tokio::test]
    async fn forms_are_posted_url_encoded() {
        let app = Router::new().route(
            "/base/token",
            axum::routing::post(|headers: AxHeaders, body: String| async move {
                let ct = headers["content-type"].to_str().unwrap().to_owned();
                format!(r#"{{"ct": "{ct}", "body": "{body}"}}"#)
            }),
        );
        let r = remote(&serve(app).await);
        let v: Value = r
            .post_form(
                r.url("token").unwrap(),
                &[
                    ("scope", "https://g/.default"),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(v["ct"], "application/x-www-form-urlencoded");
        assert_eq!(
            v["body"],
            "scope=https%3A%2F%2Fg%2F.default&grant_type=client_credentials"
        );
    }

    #[tokio::test]
    async fn a_long_retry_after_is_left_to_the_job() {
        let app = Router::new().route(
            "/base/items",
            get(|| async {
                (
                    Ax::TOO_MANY_REQUESTS,
                    [("retry-after", "3600")],
                    "slow down",
                )
            }),
        );
        let r = remote(&serve(app).await);
        let e = r
            .get_json::<Value>(r.url("items").unwrap())
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ConnectorError::RateLimited {
                message: "Vendor answered 429 Too Many Requests: slow down".into(),
                retry_after: Some(Duration::from_secs(3600)),
            }
        );
    }

    #[tokio::test]
    async fn refused_credentials_fail_at_once_with_the_remote_reason() {
        let hits = Arc::new(AtomicU32::new(0));
        let h = hits.clone();
        let app = Router::new().route(
            "/base/items",
            get(move || {
                h.fetch_add(1, Ordering::SeqCst);
                async { (Ax::UNAUTHORIZED, r#"{"message":"token expired"}"#) }
            }),
        );
        let r = remote(&serve(app).await);
        let e = r
            .get_json::<Value>(r.url("items").unwrap())
            .await
            .unwrap_err();
        assert!(e.is_permanent());
        assert_eq!(
            e.to_string(),
            "Vendor answered 401 Unauthorized: token expired; check config.api_token"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 1, "no retries on 401");
    }

    #[tokio::test]
    async fn server_errors_retry_then_give_up_as_transient() {
        let hits = Arc::new(AtomicU32::new(0));
        let h = hits.clone();
        let app = Router::new().route(
            "/base/items",
            get(move || {
                h.fetch_add(1, Ordering::SeqCst);
                async {
                    (
                        Ax::INTERNAL_SERVER_ERROR,
                        r#"{"errors":[{"message":"boom"}]}"#,
                    )
                }
            }),
        );
        let r = remote(&serve(app).await);
        let e = r
            .get_json::<Value>(r.url("items").unwrap())
            .await
            .unwrap_err();
        assert!(!e.is_permanent());
        assert_eq!(
            e.to_string(),
            "Vendor answered 500 Internal Server Error: boom (after 3 attempts)"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn files_over_the_limit_are_skipped_and_missing_ones_reported() {
        let app = Router::new()
            .route("/base/big", get(|| async { vec![b'x'; 4096] }))
            .route("/base/small", get(|| async { "hello" }))
            .route("/base/gone", get(|| async { Ax::NOT_FOUND }));
        let r = remote(&serve(app).await);
        let big = r.get_bytes(r.url("big").unwrap(), 1024).await.unwrap();
        assert!(big.unwrap_err().contains("max_file_bytes"));
        let small = r.get_bytes(r.url("small").unwrap(), 1024).await.unwrap();
        assert_eq!(small.unwrap(), b"hello");
        assert!(r
            .get_bytes(r.url("gone").unwrap(), 1024)
            .await
            .unwrap()
            .is_err());
        assert!(r
            .get_json_opt::<Value>(r.url("gone").unwrap())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn urls_stay_on_the_base_origin() {
        let r = remote("https://acme.atlassian.net/wiki");
        assert_eq!(
            r.url("/api/v2/pages?limit=5").unwrap().as_str(),
            "https://acme.atlassian.net/wiki/api/v2/pages?limit=5"
        );
        assert!(r
            .url("https://acme.atlassian.net/wiki/api/v2/pages?cursor=x")
            .is_ok());
        assert!(r.url("https://evil.example/steal").is_err());
    }

    #[tokio::test]
    async fn private_addresses_need_the_setting() {
        let strict = ConnectorEnv {
            allow_private_networks: false,
            ..env()
        };
        let r = Remote::new(
            "Vendor",
            "http://127.0.0.1:9/x",
            Auth::None,
            "config.token",
            &strict,
        )
        .unwrap();
        let e = r.get_json::<Value>(r.url("a").unwrap()).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Config { .. }), "{e:?}");
    }

    #[test]
    fn remote_messages_are_found_in_common_shapes() {
        for (body, want) in [
            (r#"{"message":"a"}"#, "a"),
            (r#"{"error":{"message":"b"}}"#, "b"),
            (r#"{"error":"invalid_auth"}"#, "invalid_auth"),
            (r#"{"errors":[{"title":"c"}]}"#, "c"),
            ("plain text", "plain text"),
        ] {
            assert_eq!(remote_message(body.as_bytes()).as_deref(), Some(want));
        }
        assert_eq!(remote_message(b"  "), None);
    }

    #[test]
    fn reset_headers_give_a_wait() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "30".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(30)));
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(2)));
    }
}
