//! Prometheus metrics: installs the recorder every crate's `metrics::counter!` reports to, and
//! serves `GET /metrics` on `[metrics] addr` when one is set (else the API port serves it to
//! Admin keys).

use crate::config::Settings;
use anyhow::Context;
use metrics_exporter_prometheus::PrometheusBuilder;
use std::sync::Arc;
use std::time::Duration;
use twig_api::metrics::Render;
use twig_core::store::Store;

/// Latency buckets (seconds) of every histogram: request, search and embedding times.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the recorder when `[metrics] enabled`; answers how to render what it holds.
pub fn install(settings: &Settings) -> anyhow::Result<Option<Render>> {
    if !settings.metrics.enabled {
        return Ok(None);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .context("metrics buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    // Without the exporter's own HTTP listener, its upkeep (draining histogram samples) is ours.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(Some(Arc::new(move || handle.render())))
}

/// Serves `GET /metrics` without a key on `[metrics] addr` (an address operators keep private).
pub async fn serve_separately(
    settings: &Settings,
    store: Arc<dyn Store>,
    render: Render,
) -> anyhow::Result<()> {
    let addr = settings.metrics.addr.trim();
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (setting `metrics.addr`, TWIG_METRICS__ADDR)")
    })?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (store, render) = (store.clone(), render.clone());
            async move {
                let body = twig_api::metrics::render(store.as_ref(), &render).await;
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(())
}
