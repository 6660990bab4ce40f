//! `/api/v1/data-sources`.

use crate::auth::{Authed, Read, Write};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, PathId, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::page::Page;
use twig_core::service::data_sources;
use utoipa::{IntoParams, ToSchema};

/// A page of data sources.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataSourceList {
    /// The data sources, newest first.
    pub data_sources: Vec<DataSource>,
    /// All matching data sources.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// Filters of the data-source list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataSourceFilter {
    /// Max results (default 50, max 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// `pending`, `processing`, `active`, `failed` or `partial`.
    #[param(value_type = Option<twig_core::datasource::DataSourceStatus>)]
    pub status: Option<String>,
}

/// Lists data sources. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/data-sources", tag = "data-sources", params(DataSourceFilter),
    security(("bearer" = [])), responses((status = 200, body = DataSourceList), (status = "4XX", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Authed<Read>,
    Query(q): Query<DataSourceFilter>,
) -> Result<axum::Json<DataSourceList>, ApiError> {
    let page = Page::new(q.limit, q.offset)?;
    let listed = data_sources::list(
        s.store.as_ref(),
        &auth.key.org_id,
        q.status.as_deref(),
        page,
    )
    .await?;
    Ok(axum::Json(DataSourceList {
        data_sources: listed.items.iter().map(DataSource::redacted).collect(),
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Creates a data source (status `pending`). Requires Write scope.
#[utoipa::path(post, path = "/api/v1/data-sources", tag = "data-sources", request_body = DataSourceInput,
    security(("bearer" = [])), responses((status = 201, body = DataSource), (status = "4XX", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Authed<Write>,
    Json(input): Json<DataSourceInput>,
) -> Result<(StatusCode, axum::Json<DataSource>), ApiError> {
    let ds = data_sources::create(s.store.as_ref(), &auth.key.org_id, input).await?;
    Ok((StatusCode::CREATED, axum::Json(ds.redacted())))
}

/// Gets a data source. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/data-sources/{id}", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…")), security(("bearer" = [])),
    responses((status = 200, body = DataSource), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathId(id): PathId,
) -> Result<axum::Json<DataSource>, ApiError> {
    Ok(axum::Json(
        data_sources::get(s.store.as_ref(), &auth.key.org_id, &id)
            .await?
            .redacted(),
    ))
}

/// Updates a data source; every field is optional, `type` cannot change. Requires Write scope.
#[utoipa::path(put, path = "/api/v1/data-sources/{id}", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…")), request_body = DataSourceInput, security(("bearer" = [])),
    responses((status = 200, body = DataSource), (status = "4XX", body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
    Json(input): Json<DataSourceInput>,
) -> Result<axum::Json<DataSource>, ApiError> {
    Ok(axum::Json(
        data_sources::update(s.store.as_ref(), &auth.key.org_id, &id, input)
            .await?
            .redacted(),
    ))
}

/// Deletes a data source with its documents, chunks and stored files; agents stop listing it. Requires Write scope.
#[utoipa::path(delete, path = "/api/v1/data-sources/{id}", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…")), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    twig_core::service::ingest::delete_data_source(
        s.store.as_ref(),
        s.retriever.as_ref(),
        s.ingestor.as_ref(),
        &auth.key.org_id,
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
