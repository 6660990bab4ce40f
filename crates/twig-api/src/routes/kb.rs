//! `/api/v1/kb`: knowledge-base articles and their versions.

use crate::auth::{Authed, Read, Write};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, PageParams, PathId, PathIds, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use twig_core::kb::{Article, ArticleInput, ArticleVersion};
use utoipa::{IntoParams, ToSchema};

/// A page of articles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleList {
    /// Articles, newest first.
    pub articles: Vec<Article>,
    /// Articles matching the filter.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// A page of an article's versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// Versions, newest first.
    pub versions: Vec<ArticleVersion>,
    /// All versions of the article.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// Filters of `GET /kb`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KbQuery {
    /// `draft` or `published`.
    #[param(value_type = Option<twig_core::kb::ArticleStatus>)]
    pub status: Option<String>,
    /// Max results (default 50, max 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Lists articles. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/kb", tag = "kb", params(KbQuery), security(("bearer" = [])),
    responses((status = 200, body = ArticleList), (status = "4XX", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    auth: Authed<Read>,
    Query(q): Query<KbQuery>,
) -> Result<axum::Json<ArticleList>, ApiError> {
    let page = twig_core::page::Page::new(q.limit, q.offset)?;
    let listed = twig_kb::list(
        s.store.as_ref(),
        &auth.key.org_id,
        q.status.as_deref(),
        page,
    )
    .await?;
    Ok(axum::Json(ArticleList {
        articles: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Creates an article (version 1); a published one is searchable when this answers. Requires Write scope.
#[utoipa::path(post, path = "/api/v1/kb", tag = "kb", request_body = ArticleInput, security(("bearer" = [])),
    responses((status = 201, body = Article), (status = "4XX", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    auth: Authed<Write>,
    Json(input): Json<ArticleInput>,
) -> Result<(StatusCode, axum::Json<Article>), ApiError> {
    let a = twig_kb::create(
        s.store.as_ref(),
        s.retriever.as_ref(),
        &auth.key.org_id,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(a)))
}

/// Gets an article at its latest version. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/kb/{id}", tag = "kb", params(("id" = twig_core::id::ArticleId, Path, description = "kb_…")),
    security(("bearer" = [])), responses((status = 200, body = Article), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathId(id): PathId,
) -> Result<axum::Json<Article>, ApiError> {
    Ok(axum::Json(
        twig_kb::get(s.store.as_ref(), &auth.key.org_id, &id).await?,
    ))
}

/// Updates an article, creating a new version when anything changed; unpublishing removes it from search at once. Requires Write scope.
#[utoipa::path(put, path = "/api/v1/kb/{id}", tag = "kb", params(("id" = twig_core::id::ArticleId, Path, description = "kb_…")),
    request_body = ArticleInput, security(("bearer" = [])),
    responses((status = 200, body = Article), (status = "4XX", body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
    Json(input): Json<ArticleInput>,
) -> Result<axum::Json<Article>, ApiError> {
    Ok(axum::Json(
        twig_kb::update(
            s.store.as_ref(),
            s.retriever.as_ref(),
            &auth.key.org_id,
            &id,
            input,
        )
        .await?,
    ))
}

/// Deletes an article with its versions and removes it from search. Requires Write scope.
#[utoipa::path(delete, path = "/api/v1/kb/{id}", tag = "kb", params(("id" = twig_core::id::ArticleId, Path, description = "kb_…")),
    security(("bearer" = [])), responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    twig_kb::delete(
        s.store.as_ref(),
        s.retriever.as_ref(),
        &auth.key.org_id,
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists an article's versions, newest first. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/kb/{id}/versions", tag = "kb",
    params(("id" = twig_core::id::ArticleId, Path, description = "kb_…"), PageParams), security(("bearer" = [])),
    responses((status = 200, body = VersionList), (status = "4XX", body = ErrorBody)))]
pub async fn versions(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathId(id): PathId,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<VersionList>, ApiError> {
    let page = q.page()?;
    let listed = twig_kb::versions(s.store.as_ref(), &auth.key.org_id, &id, page).await?;
    Ok(axum::Json(VersionList {
        versions: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Gets one version of an article. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/kb/{id}/versions/{version}", tag = "kb",
    params(("id" = twig_core::id::ArticleId, Path, description = "kb_…"), ("version" = u32, Path, minimum = 1, maximum = 4294967295_u64, description = "1, 2, …")),
    security(("bearer" = [])), responses((status = 200, body = ArticleVersion), (status = "4XX", body = ErrorBody)))]
pub async fn version(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathIds(id, n): PathIds,
) -> Result<axum::Json<ArticleVersion>, ApiError> {
    Ok(axum::Json(
        twig_kb::version(s.store.as_ref(), &auth.key.org_id, &id, &n).await?,
    ))
}
