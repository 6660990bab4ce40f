//! Data-source use cases.

use crate::datasource::{DataSource, DataSourceInput, DataSourceStatus};
use crate::error::{Error, Result};
use crate::id::{DataSourceId, OrgId};
use crate::page::{Listed, Page};
use crate::retrieval::Retriever;
use crate::store::Store;

/// Creates a data source in `pending` state.
pub async fn create(store: &dyn Store, org: &OrgId, input: DataSourceInput) -> Result<DataSource> {
    let ds = DataSource::create(org.clone(), input)?;
    store.create_data_source(&ds).await?;
    Ok(ds)
}

/// Reads one data source of the org.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<DataSource> {
    let id = DataSourceId::parse(id)?;
    store
        .get_data_source(org, &id)
        .await?
        .ok_or_else(|| Error::not_found("Data source", id.as_str()))
}

/// Lists the org's data sources, optionally by status name.
pub async fn list(
    store: &dyn Store,
    org: &OrgId,
    status: Option<&str>,
    page: Page,
) -> Result<Listed<DataSource>> {
    let status = match status {
        None => None,
        Some(s) => Some(DataSourceStatus::parse(s).ok_or_else(|| {
            Error::invalid_field(
                "status",
                format!(
                    "status must be one of pending, processing, active, failed, partial; got {s:?}"
                ),
            )
        })?),
    };
    Ok(store.list_data_sources(org, status, page).await?)
}

/// Applies a partial update.
pub async fn update(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    input: DataSourceInput,
) -> Result<DataSource> {
    let mut ds = get(store, org, id).await?;
    ds.apply(input)?;
    if store.update_data_source(&ds).await? {
        Ok(ds)
    } else {
        Err(Error::not_found("Data source", ds.id.as_str()))
    }
}

/// Deletes a data source with its documents and chunks (from every index); agents stop listing it.
pub async fn delete(
    store: &dyn Store,
    retriever: &dyn Retriever,
    org: &OrgId,
    id: &str,
) -> Result<()> {
    let id = DataSourceId::parse(id)?;
    if store
        .get_data_source(org, &id)
        .await?
        .is_some_and(|d| d.kind == crate::datasource::DataSourceType::Kb)
    {
        return Err(Error::invalid(
            "The knowledge-base data source is built in: delete or unpublish its articles through /api/v1/kb",
        ));
    }
    if store.delete_data_source(org, &id).await? {
        retriever.sync().await?;
        Ok(())
    } else {
        Err(Error::not_found("Data source", id.as_str()))
    }
}
