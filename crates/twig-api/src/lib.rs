//! Twig's HTTP layer: the axum router, auth and scope extractors, the one
//! mapping from domain errors to the documented error body, and OpenAPI.
//!
//! Handlers are thin: authenticate, extract, call one `twig_core::service`
//! function, render.

pub mod auth;
pub mod error;
pub mod extract;
mod legacy;
pub mod metrics;
pub mod openapi;
mod openapi_refine;
mod routes;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use twig_core::ingest::Ingestor;
use twig_core::llm::{ModelRegistry, Reranker};
use twig_core::ratelimit::{RateLimiter, ScopeLimits};
use twig_core::retrieval::Retriever;
use twig_core::store::Store;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest JSON request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Per-key limits by scope; `None` turns rate limiting off.
    pub rate_limits: Option<ScopeLimits>,
    /// Which webhook URLs are accepted, and the secret-rotation grace period.
    pub webhooks: twig_webhooks::UrlPolicy,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            rate_limits: Some(ScopeLimits::default()),
            webhooks: twig_webhooks::UrlPolicy::default(),
        }
    }
}

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Record storage.
    pub store: Arc<dyn Store>,
    /// Ingestion into, and search of, the indexes.
    pub retriever: Arc<dyn Retriever>,
    /// HTTP settings.
    pub config: Arc<ApiConfig>,
    /// Per-key request limits.
    pub limiter: Arc<dyn RateLimiter>,
    /// Stored uploads and their ingestion.
    pub ingestor: Arc<dyn Ingestor>,
    /// Agent model names to providers (or the extractive answerer).
    pub models: Arc<dyn ModelRegistry>,
    /// Cross-encoder for cypress, when one is loaded.
    pub reranker: Option<Arc<dyn Reranker>>,
    /// The answering pipeline (built over the same store, retriever, models and reranker).
    pub answerer: Arc<twig_answer::Answerer>,
    /// Renders Prometheus metrics; `None` when metrics are off (then `/metrics` is not routed).
    pub metrics: Option<metrics::Render>,
    /// Checks Slack's request signatures; `None` when the Slack app is off (then Slack's
    /// routes are not routed).
    pub slack: Option<Arc<twig_slack::Verifier>>,
}

impl AppState {
    /// State whose answering pipeline runs over the same store, retriever, models and
    /// reranker; `embedder` counts the extractive answerer's tokens.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        retriever: Arc<dyn Retriever>,
        ingestor: Arc<dyn Ingestor>,
        config: Arc<ApiConfig>,
        limiter: Arc<dyn RateLimiter>,
        models: Arc<dyn ModelRegistry>,
        reranker: Option<Arc<dyn Reranker>>,
        embedder: Option<Arc<dyn twig_core::retrieval::Embedder>>,
        answer: twig_answer::AnswerConfig,
    ) -> Self {
        let answerer = Arc::new(twig_answer::Answerer::new(
            store.clone(),
            retriever.clone(),
            models.clone(),
            reranker.clone(),
            embedder,
            answer,
        ));
        Self {
            store,
            retriever,
            ingestor,
            config,
            limiter,
            models,
            reranker,
            answerer,
            metrics: None,
            slack: None,
        }
    }

    /// Serves `GET /metrics` (Admin keys) rendered by `render`.
    pub fn with_metrics(mut self, render: metrics::Render) -> Self {
        self.metrics = Some(render);
        self
    }

    /// Serves the Slack app's routes, verifying Slack's requests with `verifier`.
    pub fn with_slack(mut self, verifier: twig_slack::Verifier) -> Self {
        self.slack = Some(Arc::new(verifier));
        self
    }
}

/// The complete application router (without the legacy-path rewrite).
pub fn router(state: AppState) -> Router {
    let (mut router, _) = openapi::routes().split_for_parts();
    let limit = state.config.max_body_bytes;
    if state.metrics.is_some() {
        // An operator endpoint, outside the OpenAPI document of the hosted API.
        router = router.route("/metrics", axum::routing::get(metrics::route));
    }
    if state.slack.is_some() {
        // Slack's contract, not ours: outside the OpenAPI document.
        router = router.merge(routes::slack::router());
    }
    router
        .merge(routes::openai::router())
        .route_service("/mcp", routes::mcp::service(state.clone()))
        .fallback(routes::fallback)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .layer(axum::middleware::from_fn(error::request_context))
}

/// Serves the API on `listener` until `shutdown` resolves; in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = legacy::with_legacy_paths(router(state));
    let make = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
    axum::serve(listener, make)
        .with_graceful_shutdown(shutdown)
        .await
}
