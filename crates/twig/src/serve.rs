//! `twig serve`: bootstrap on first start, then serve until a signal arrives.

use crate::cli::open_store;
use crate::config::Settings;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use twig_api::{ApiConfig, AppState};
use twig_core::service::keys;

/// Runs the server with `settings`.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    // Before anything else: a bad provider or a missing key stops the start here.
    let models = crate::models::open(&settings)?;
    let store = open_store(&settings).await?;
    if let Some((org, key, secret)) = keys::bootstrap(store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))?
    {
        // stdout, not the log: logs are often shipped elsewhere; this must be seen once and only here.
        println!(
            "\nCreated organisation \"{}\" ({}) and API key {} with every scope:\n\n    {}\n\n\
             This key will not be shown again. Store it now.\n",
            org.name,
            org.id,
            key.id,
            secret.expose()
        );
    }
    let embedder = crate::retrieval::embedder(&settings).await?;
    let retriever = crate::retrieval::open_with(&settings, store.clone(), embedder.clone()).await?;
    // Repair the knowledge-base index after a crash between an article write and its indexing.
    {
        let (store, retriever) = (store.clone(), retriever.clone());
        tokio::spawn(async move {
            match twig_kb::reconcile(store.as_ref(), retriever.as_ref()).await {
                Ok(n) => tracing::debug!(articles = n, "knowledge base index reconciled"),
                Err(e) => tracing::error!(error = %e, "knowledge base reconcile failed"),
            }
        });
    }
    // Cross-encoder for the cypress strategy; `None` unless `[rerank] enabled`, so a disabled
    // reranker costs startup nothing (cypress then says in metadata that no reranker ran).
    let reranker = crate::rerank::reranker(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (setting `addr`, TWIG_ADDR, --addr)",
                settings.addr
            )
        })?;
    let local = listener.local_addr()?;
    tracing::info!(data_dir = %settings.data_dir.display(), "listening on http://{local}");
    let limiter: Arc<dyn twig_core::ratelimit::RateLimiter> =
        if settings.rate_limits.backend == "redis" {
            // Redis expires idle buckets itself.
            Arc::new(twig_ratelimit::RedisLimiter::new(
                &settings.rate_limits.redis_url,
                settings.rate_limits.fail_open,
            )?)
        } else {
            let local = Arc::new(twig_core::ratelimit::InProcessLimiter::default());
            // Forget full buckets now and then so idle keys cost no memory.
            let pruned = local.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    pruned.prune(twig_core::time::now().timestamp_micros());
                }
            });
            local
        };
    let files = crate::ingest::file_store(&settings, store.clone())?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = crate::ingest::start(
        &settings,
        settings.ingest.workers,
        store.clone(),
        retriever.clone(),
        files.clone(),
        stop_rx.clone(),
    )?;
    let metrics = crate::metrics::install(&settings)?;
    let separate = !settings.metrics.addr.trim().is_empty();
    if let (Some(render), true) = (&metrics, separate) {
        crate::metrics::serve_separately(&settings, store.clone(), render.clone()).await?;
    }
    let mut state = AppState::new(
        store,
        retriever,
        files,
        Arc::new(ApiConfig {
            max_body_bytes: settings.server.max_body_bytes,
            rate_limits: settings.rate_limits.limits(),
            webhooks: settings.webhooks.url_policy(),
        }),
        limiter,
        models,
        reranker,
        embedder,
        settings.answer.pipeline(),
    );
    if let (Some(render), false) = (metrics, separate) {
        state = state.with_metrics(render);
    }
    if settings.slack_app.enabled {
        state = state.with_slack(twig_slack::Verifier::new(
            settings.slack_app.signing_secret.clone(),
        ));
        workers.extend(crate::slack::start(
            &settings,
            state.store.clone(),
            state.answerer.clone(),
            stop_rx,
        )?);
    }
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(twig_api::serve(listener, state, async move {
        let _ = rx.await;
    }));
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = tx.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(res) => res.context("server task failed")?.context("server error")?,
        Err(_) => tracing::warn!(
            "in-flight requests did not finish within {}s; exiting",
            grace.as_secs()
        ),
    }
    // A sync in hand may take long: past the grace period its lease lapses and it resumes later.
    let _ = stop_tx.send(true);
    let all = futures::future::join_all(workers);
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!(
            "sync workers did not stop within {}s; their jobs resume on the next start",
            grace.as_secs()
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
