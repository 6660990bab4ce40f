//! Connectors: one module per vendor, each only translating the vendor's API into
//! [`Item`](twig_core::connector::Item)s behind core's [`Connector`] port. Scheduling, retries
//! of whole syncs, embedding and indexing belong to the sync job; auth, pagination helpers,
//! `Retry-After` and error mapping to [`http::Remote`].

mod confluence;
mod gdrive;
pub mod http;
mod msgraph;
pub mod notion;
mod slack;
pub(crate) mod sync;
pub(crate) mod test;
pub mod zendesk;

use http::ConnectorEnv;
use twig_core::connector::{Connector, ConnectorError};
use twig_core::datasource::{DataSource, DataSourceType};

/// The connector that reads `ds`, built from its validated config.
pub fn open(ds: &DataSource, env: &ConnectorEnv) -> Result<Box<dyn Connector>, ConnectorError> {
    match ds.kind {
        DataSourceType::Confluence => confluence::open(ds, env),
        DataSourceType::Notion => Ok(Box::new(notion::NotionConnector::open(ds, env)?)),
        DataSourceType::Zendesk => Ok(Box::new(zendesk::Zendesk::open(ds, env)?)),
        DataSourceType::Slack => slack::open(ds, env),
        DataSourceType::Sharepoint | DataSourceType::Onedrive => msgraph::open(ds, env),
        DataSourceType::GoogleDrive => gdrive::open(ds, env),
        // Read by the file and crawl syncs, and the knowledge base, not through a connector.
        DataSourceType::Website | DataSourceType::File | DataSourceType::Kb => {
            Err(ConnectorError::Permanent(format!(
                "{} data sources are not synced through a connector",
                ds.kind.as_str()
            )))
        }
    }
}
