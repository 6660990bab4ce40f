//! `POST /data-sources/:id/test`: can the source's remote be read with its config?

use super::http::{Auth, Remote};
use crate::IngestConfig;
use reqwest::Method;
use twig_core::connector::ConnectorError;
use twig_core::datasource::{DataSource, DataSourceType};
use twig_core::ingest::ConnectionTest;
use twig_core::store::Store;

/// Tests `ds` without syncing: remote failures are an `ok: false` answer, not an error.
pub(crate) async fn test_connection(
    store: &dyn Store,
    config: &IngestConfig,
    ds: &DataSource,
) -> twig_core::Result<ConnectionTest> {
    let found = match ds.kind {
        DataSourceType::File | DataSourceType::Kb => {
            let n = store.documents().count_documents(&ds.id).await?;
            let what = if ds.kind == DataSourceType::Kb {
                "published articles"
            } else {
                "uploaded files"
            };
            let total = n.indexed + n.failed + n.queued + n.processing;
            Ok((
                total,
                format!("Connection successful, found {total} {what}"),
            ))
        }
        DataSourceType::Website => website(config, ds).await,
        _ => match super::open(ds, &config.connector_env()) {
            Ok(conn) => conn.test().await.map(|r| (r.items_found, r.message)),
            Err(e) => Err(e),
        },
    };
    Ok(match found {
        Ok((n, message)) => ConnectionTest {
            ok: true,
            message,
            items_found: Some(n),
        },
        Err(e) => ConnectionTest {
            ok: false,
            message: e.to_string(),
            items_found: None,
        },
    })
}

/// A website answers its start URL; the links found there are what a crawl starts from.
async fn website(config: &IngestConfig, ds: &DataSource) -> Result<(u64, String), ConnectorError> {
    let raw = ds.config.get("url").and_then(|v| v.as_str()).unwrap_or("");
    let remote = Remote::new(
        "The website",
        raw,
        Auth::None,
        "config.url",
        &config.connector_env(),
    )?;
    let url = url::Url::parse(raw).map_err(|e| ConnectorError::Config {
        field: Some("config.url".into()),
        message: format!("config.url {raw:?} is invalid: {e}"),
    })?;
    let resp = remote.send(Method::GET, url.clone(), None).await?;
    let html = resp
        .text()
        .await
        .map_err(|e| ConnectorError::Transient(format!("cannot read {url}: {e}")))?;
    let page = twig_parse::parse_html(&html, Some(url.as_str()));
    let links = page
        .links
        .iter()
        .filter_map(|l| url::Url::parse(l).ok())
        .filter(|l| l.host_str() == url.host_str())
        .count() as u64;
    Ok((
        links,
        format!("Connection successful, found {links} links on {url}"),
    ))
}
