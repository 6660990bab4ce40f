//! Loopback servers that speak vendors' documented wire formats (paths, pagination, auth
//! headers, error bodies, rate-limit headers), so connector tests and `twig bench ingest`
//! exercise the real HTTP clients instead of mocks of our own traits.
//!
//! Each vendor module holds an in-memory site that tests change between syncs (add, edit,
//! delete), plus shared [`Faults`] to inject 5xx storms, throttling and latency.

// Handlers bail out early with a whole `Response`; boxing it buys nothing in a test server.
#![allow(clippy::result_large_err)]

pub mod confluence;
pub mod gdrive;
pub mod msgraph;
pub mod notion;
pub mod slack;
pub mod zendesk;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A server running on 127.0.0.1 until dropped.
pub struct Served {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` on a random loopback port.
pub async fn serve(app: Router) -> std::io::Result<Served> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Served { origin, task })
}

/// Failures to inject in front of a vendor's routes; clones share one state.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<FaultState>,
}

#[derive(Default)]
struct FaultState {
    /// Next requests to answer with a status (and a Retry-After for 429/503).
    queued: Mutex<Vec<(StatusCode, Option<u64>)>>,
    /// Every request from now on answers this status (a 500 storm), until cleared.
    always: Mutex<Option<StatusCode>>,
    /// Delay before each answer.
    latency_ms: AtomicU64,
    /// Requests seen, faults included.
    requests: AtomicU64,
}

impl Faults {
    /// The next `n` requests answer `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        let s = StatusCode::from_u16(status).expect("a status code");
        self.inner
            .queued
            .lock()
            .unwrap()
            .extend((0..n).map(|_| (s, None)));
    }

    /// The next request answers 429 with `Retry-After: secs`.
    pub fn throttle_next(&self, secs: u64) {
        self.inner
            .queued
            .lock()
            .unwrap()
            .push((StatusCode::TOO_MANY_REQUESTS, Some(secs)));
    }

    /// Every request answers `status` (`None` ends it).
    pub fn always(&self, status: Option<u16>) {
        *self.inner.always.lock().unwrap() =
            status.map(|s| StatusCode::from_u16(s).expect("a status code"));
    }

    /// Waits this long before each answer (to make a sync slow enough to interrupt).
    pub fn set_latency(&self, d: Duration) {
        self.inner
            .latency_ms
            .store(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Wraps `app` so every request passes through these faults first.
    pub fn wrap(&self, app: Router) -> Router {
        let me = self.clone();
        app.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let me = me.clone();
                async move { me.handle(req, next).await }
            },
        ))
    }

    async fn handle(&self, req: Request, next: Next) -> Response {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let ms = self.inner.latency_ms.load(Ordering::Relaxed);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let fault = {
            let always = *self.inner.always.lock().unwrap();
            always.map(|s| (s, None)).or_else(|| {
                let mut q = self.inner.queued.lock().unwrap();
                (!q.is_empty()).then(|| q.remove(0))
            })
        };
        match fault {
            None => next.run(req).await,
            Some((status, retry_after)) => {
                let mut resp = Response::builder().status(status);
                if let Some(s) = retry_after {
                    resp = resp.header("retry-after", s.to_string());
                }
                resp.header("content-type", "application/json")
                    .body(Body::from(format!(
                        r#"{{"message":"injected {}"}}"#,
                        status.as_u16()
                    )))
                    .unwrap()
                    .into_response()
            }
        }
    }
}

/// True when `headers` carry HTTP Basic credentials `user:password`.
pub fn has_basic(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let want = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {want}"))
}

/// True when `headers` carry `Authorization: Bearer <token>`.
pub fn has_bearer(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {token}"))
}

/// An RFC 3339 time in UTC with milliseconds, as most vendors write them.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
