//! Prometheus metrics of the HTTP layer, and `GET /metrics` serving everything the process
//! recorded (the recorder itself is installed by the binary).

use crate::auth::{Admin, Authed};
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use twig_core::job::JobStatus;
use twig_core::store::Store;

/// Renders the recorded metrics in Prometheus' text format.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Counts each request and its latency by method, route template and status.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    // The template (`/api/v1/agents/{id}`), never the raw path: ids would explode the series.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    crate::error::record_route(&route, &method);
    let res = next.run(req).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("twig_http_requests_total", &labels).increment(1);
    metrics::histogram!("twig_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}

/// Job kinds seen so far, so a kind whose jobs all finished shows zeros, not stale counts.
static JOB_KINDS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Sets the gauges read from storage at scrape time (jobs by kind and status), then renders.
pub async fn render(store: &dyn Store, render: &Render) -> String {
    match store.jobs().job_counts().await {
        Ok(counts) => {
            let mut kinds = JOB_KINDS.lock().unwrap_or_else(|e| e.into_inner());
            kinds.extend(counts.iter().map(|(k, _, _)| k.clone()));
            for kind in kinds.iter() {
                for status in [
                    JobStatus::Queued,
                    JobStatus::Running,
                    JobStatus::Succeeded,
                    JobStatus::Failed,
                ] {
                    let n = counts
                        .iter()
                        .find(|(k, s, _)| k == kind && *s == status)
                        .map_or(0, |(_, _, n)| *n);
                    metrics::gauge!("twig_jobs", "kind" => kind.clone(), "status" => status.as_str())
                        .set(n as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count jobs for /metrics"),
    }
    render()
}

/// `GET /metrics` on the API port: Admin keys only (the figures describe every org).
pub async fn route(State(s): State<AppState>, _auth: Authed<Admin>) -> Response {
    let Some(r) = s.metrics.as_ref() else {
        // Only routed when metrics are on; kept total rather than panicking.
        return crate::error::ErrorPayload::new(
            twig_core::error::ErrorCode::NotFound,
            "Metrics are off: set [metrics] enabled",
        )
        .into_response();
    };
    let body = render(s.store.as_ref(), r).await;
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}
