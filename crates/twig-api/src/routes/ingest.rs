//! Syncs, their status, documents and file uploads of data sources.

use crate::auth::{Authed, Read, Write};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PageParams, PathId, Query};
use crate::AppState;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use twig_core::document::Document;
use twig_core::ingest::{ConnectionTest, SyncStatus, UploadLimits, UploadedDocument, UploadedFile};
use twig_core::job::Job;
use twig_core::service::{data_sources, ingest};
use twig_core::Error;
use utoipa::ToSchema;

/// Triggers a sync; while one is queued or running, answers that one. Requires Write scope.
#[utoipa::path(post, path = "/api/v1/data-sources/{id}/sync", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…")), security(("bearer" = [])),
    responses((status = 202, description = "The queued (or already running) sync job", body = Job),
        (status = "4XX", body = ErrorBody)))]
pub async fn sync(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
) -> Result<(StatusCode, axum::Json<Job>), ApiError> {
    let job = ingest::request_sync(s.store.as_ref(), &auth.key.org_id, &id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

/// Checks the source's credentials and access without syncing. Requires Write scope.
///
/// Answers 200 either way: `ok` tells whether the remote could be read, `message` what it said.
#[utoipa::path(post, path = "/api/v1/data-sources/{id}/test", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…")), security(("bearer" = [])),
    responses((status = 200, body = ConnectionTest,
        example = json!({"ok": true, "message": "Connection successful, found 42 pages", "items_found": 42})),
        (status = "4XX", body = ErrorBody)))]
pub async fn test(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
) -> Result<axum::Json<ConnectionTest>, ApiError> {
    Ok(axum::Json(
        ingest::test_connection(s.store.as_ref(), s.ingestor.as_ref(), &auth.key.org_id, &id)
            .await?,
    ))
}

/// Processing status and progress of the current (or last) sync. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/data-sources/{id}/status", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…")), security(("bearer" = [])),
    responses((status = 200, body = SyncStatus), (status = "4XX", body = ErrorBody)))]
pub async fn status(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathId(id): PathId,
) -> Result<axum::Json<SyncStatus>, ApiError> {
    Ok(axum::Json(
        ingest::status(s.store.as_ref(), &auth.key.org_id, &id).await?,
    ))
}

/// A page of documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    /// The documents, newest first.
    pub documents: Vec<Document>,
    /// All documents of the data source.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// Lists a data source's documents with their state. Requires Read scope.
#[utoipa::path(get, path = "/api/v1/data-sources/{id}/documents", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…"), PageParams), security(("bearer" = [])),
    responses((status = 200, body = DocumentList), (status = "4XX", body = ErrorBody)))]
pub async fn documents(
    State(s): State<AppState>,
    auth: Authed<Read>,
    PathId(id): PathId,
    Query(q): Query<PageParams>,
) -> Result<axum::Json<DocumentList>, ApiError> {
    let page = q.page()?;
    let listed = ingest::list_documents(s.store.as_ref(), &auth.key.org_id, &id, page).await?;
    Ok(axum::Json(DocumentList {
        documents: listed.items,
        total: listed.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Deletes a document and its chunks from every index. Requires Write scope.
#[utoipa::path(delete, path = "/api/v1/documents/{id}", tag = "documents",
    params(("id" = twig_core::id::DocumentId, Path, description = "doc_…")), security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
pub async fn delete_document(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    ingest::delete_document(s.retriever.as_ref(), &auth.key.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answer of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResponse {
    /// Ids of the documents, in upload order (zip entries expanded).
    pub document_ids: Vec<String>,
    /// The documents with their state (`queued`, or `failed` with the reason).
    pub documents: Vec<UploadedDocument>,
    /// The sync job that ingests them.
    pub job: Job,
}

/// Multipart body of an upload.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub struct UploadForm {
    /// One or more files (repeat the field); PDF, DOCX, PPTX, XLSX, CSV, HTML, Markdown, text, JSON or ZIP.
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
}

/// Uploads files into a `file` data source (multipart, repeatable field `files`); they are
/// stored and ingested by a sync job. Requires Write scope.
#[utoipa::path(post, path = "/api/v1/data-sources/{id}/files", tag = "data-sources",
    params(("id" = twig_core::id::DataSourceId, Path, description = "ds_…")), security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 202, body = UploadResponse), (status = "4XX", body = ErrorBody)))]
pub async fn upload(
    State(s): State<AppState>,
    auth: Authed<Write>,
    PathId(id): PathId,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, axum::Json<UploadResponse>), ApiError> {
    let org = &auth.key.org_id;
    // Refuse an unknown source before reading a large body.
    data_sources::get(s.store.as_ref(), org, &id).await?;
    let mut form = multipart.map_err(|e| {
        Error::invalid(format!(
            "Expected a multipart/form-data body with files in the field `files`: {}",
            e.body_text()
        ))
    })?;
    let staging = s.ingestor.staging_dir();
    tokio::fs::create_dir_all(&staging)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    let mut files = Vec::new();
    let read = read_files(&mut form, &staging, s.ingestor.limits(), &mut files).await;
    let result = match read {
        Ok(()) => ingest::upload(
            s.store.as_ref(),
            s.ingestor.as_ref(),
            org,
            &id,
            files.clone(),
        )
        .await
        .map_err(ApiError),
        Err(e) => Err(e),
    };
    // Staged files not taken over by the ingestor (errors, refusals) are removed.
    for f in &files {
        if let Some(p) = &f.path {
            let _ = tokio::fs::remove_file(p).await;
        }
    }
    let (documents, job) = result?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(UploadResponse {
            document_ids: documents.iter().map(|d| d.id.to_string()).collect(),
            documents,
            job,
        }),
    ))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError(Error::invalid(format!(
        "Cannot read the multipart body: {}",
        e.body_text()
    )))
}

/// The last path component of a client-supplied file name.
fn clean_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    let name: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    if name.is_empty() {
        "upload".into()
    } else {
        name
    }
}

async fn read_files(
    form: &mut Multipart,
    staging: &Path,
    limits: UploadLimits,
    files: &mut Vec<UploadedFile>,
) -> Result<(), ApiError> {
    let mut total = 0u64;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("files") {
            return Err(ApiError(Error::invalid_field(
                "files",
                format!(
                    "Unexpected multipart field {:?}: send files in the repeatable field `files`",
                    field.name().unwrap_or_default()
                ),
            )));
        }
        if field.file_name().is_none() {
            // A plain form value is not a file (the document says each part is binary).
            return Err(ApiError(Error::invalid_field(
                "files",
                "Each `files` part must be a file: its Content-Disposition needs a filename",
            )));
        }
        let path = staging.join(twig_core::id::random_base62(24));
        let f = stage(field, path, limits, &mut total, files.len()).await;
        match f {
            Ok(f) => files.push(f),
            Err((e, partial)) => {
                if let Some(p) = partial {
                    let _ = tokio::fs::remove_file(p).await;
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Streams one field to `path`, hashing it; past the per-file cap it only counts and hashes.
async fn stage(
    mut field: Field<'_>,
    path: PathBuf,
    limits: UploadLimits,
    total: &mut u64,
    index: usize,
) -> Result<UploadedFile, (ApiError, Option<PathBuf>)> {
    let filename = clean_name(field.file_name());
    let content_type = field.content_type().map(str::to_owned);
    let cap = limits.max_file_bytes.max(limits.max_zip_bytes);
    let io = |e: std::io::Error| ApiError(Error::Internal(e.into()));
    let mut out = Some(
        tokio::fs::File::create(&path)
            .await
            .map_err(|e| (io(e), None))?,
    );
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err((multipart_error(e), Some(path))),
        };
        size += chunk.len() as u64;
        *total += chunk.len() as u64;
        if *total > limits.max_request_bytes {
            return Err((
                ApiError(Error::invalid(format!(
                    "The upload exceeds the limit of {} bytes for one request (at file {} {filename:?})",
                    limits.max_request_bytes,
                    index + 1
                ))),
                Some(path),
            ));
        }
        hasher.update(&chunk);
        if size > cap {
            // Over every limit: keep counting for the message, stop storing.
            out = None;
            continue;
        }
        if let Some(o) = out.as_mut() {
            o.write_all(&chunk)
                .await
                .map_err(|e| (io(e), Some(path.clone())))?;
        }
    }
    let stored = match out {
        Some(mut o) => {
            o.flush().await.map_err(|e| (io(e), Some(path.clone())))?;
            Some(path)
        }
        None => {
            let _ = tokio::fs::remove_file(&path).await;
            None
        }
    };
    Ok(UploadedFile {
        filename,
        content_type,
        path: stored,
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn file_names_lose_their_paths() {
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("C:\\docs\\a b.pdf")), "a b.pdf");
        assert_eq!(clean_name(Some("")), "upload");
        assert_eq!(clean_name(None), "upload");
    }
}
