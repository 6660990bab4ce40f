//! Logging to stderr (stdout is kept for what commands print, such as secrets shown once), and
//! OpenTelemetry trace export over OTLP/HTTP when `[telemetry] otlp_endpoint` is set.

use crate::config::{LogSettings, TelemetrySettings};
use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use std::io::IsTerminal;
use std::time::Duration;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the trace pipeline alive; [`Telemetry::shutdown`] exports what is still buffered.
#[must_use]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporter (spans of the last requests would be lost otherwise).
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The SDK's shutdown blocks until its export thread is done; that thread's requests
        // run on this runtime, so it must not block a runtime thread.
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            eprintln!("twig: exporting the last traces failed: {e}");
        }
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides the configured filter.
pub fn init(log: &LogSettings, tel: &TelemetrySettings) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = if log.format == "json" {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let provider = tracer_provider(tel)?;
    // Traces get twig's own spans at info whatever the log level: a quiet log must not
    // silence tracing, and dependencies' spans would only be noise.
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("twig"))
            .with_tracked_inactivity(false)
            .with_filter(Targets::new().with_target("twig", Level::INFO))
    });
    if provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
    }
    // A second init (tests calling twice) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    Ok(Telemetry { provider })
}

fn tracer_provider(tel: &TelemetrySettings) -> anyhow::Result<Option<SdkTracerProvider>> {
    let endpoint = tel.otlp_endpoint.trim().trim_end_matches('/');
    if endpoint.is_empty() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .with_timeout(Duration::from_secs(10))
        .with_headers(tel.otlp_headers.clone().into_iter().collect())
        .with_http_client(ExportClient::new()?)
        .build()
        .context("setting `telemetry.otlp_endpoint`: cannot build the OTLP exporter")?;
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(tel.sample_ratio)));
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(tel.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler)
            .with_resource(resource)
            .build(),
    ))
}

/// The OTLP exporter's HTTP client: the workspace's reqwest (one TLS stack, no second reqwest
/// major as opentelemetry-http's own adapter would bring). The SDK exports from its own thread,
/// outside any runtime, so each request is spawned onto the runtime that built the client.
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ExportClient {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .build()
                .context("cannot build the OTLP HTTP client")?,
            runtime: tokio::runtime::Handle::try_current()
                .context("the OTLP exporter needs the tokio runtime")?,
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let request = reqwest::Request::try_from(request)?;
        let sent = self.runtime.spawn(async move {
            let res = client.execute(request).await?;
            let mut out = http::Response::builder().status(res.status());
            if let Some(h) = out.headers_mut() {
                *h = res.headers().clone();
            }
            let body = res.bytes().await?;
            Ok::<_, opentelemetry_http::HttpError>(out.body(body)?)
        });
        sent.await?
    }
}
