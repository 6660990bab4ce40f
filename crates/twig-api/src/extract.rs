//! Request extractors whose rejections are documented error bodies.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use twig_core::page::Page;
use twig_core::Error;

/// A JSON body: content type checked, size-limited, and parsed with the failing field named.
pub struct Json<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let Ok(mime) = content_type.parse::<mime::Mime>() else {
        return false;
    };
    mime.type_() == "application"
        && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match ct {
            Some(ct) if is_json(&ct) => {}
            Some(ct) => {
                return Err(Error::invalid(format!(
                    "Content-Type must be application/json, got {ct:?}"
                ))
                .into())
            }
            None => return Err(Error::invalid("Content-Type must be application/json").into()),
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses JSON, naming the path of the offending field when there is one.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body the API takes is an object; serde's derive would also read a struct from an
    // array (`[null, null]`), which the document does not allow.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(Error::invalid("Request body must be a JSON object").into()),
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            return Err(Error::invalid("Request body must be a JSON object").into())
        }
        Some(_) => {}
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut err = if inner.is_syntax() || inner.is_eof() {
            Error::invalid(format!("Malformed JSON body: {inner}"))
        } else if path == "." {
            Error::invalid(format!("Invalid JSON body: {inner}"))
        } else {
            Error::invalid_field(&path, format!("Invalid value for {path}: {inner}"))
        };
        if let Error::InvalidRequest { message, .. } = &mut err {
            // serde appends " at line L column C"; keep it, it helps clients find the spot.
            *message = message.replace("  ", " ");
        }
        ApiError(err)
    })?;
    // Only whitespace may follow the value: `{}` and then garbage is not a JSON body.
    de.end()
        .map_err(|e| ApiError(Error::invalid(format!("Malformed JSON body: {e}"))))?;
    Ok(value)
}

fn body_error(e: BytesRejection) -> ApiError {
    let status = e.status();
    if status.as_u16() == 413 {
        ApiError(Error::invalid(
            "Request body is larger than the server's limit",
        ))
    } else {
        ApiError(Error::invalid(format!(
            "Cannot read request body: {}",
            e.body_text()
        )))
    }
}

/// Query parameters, with parse failures as `invalid_request`.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(query_error(e)),
        }
    }
}

fn query_error(e: QueryRejection) -> ApiError {
    let text = e.body_text();
    let text = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text)
        .to_owned();
    ApiError(Error::invalid(format!("Invalid query parameters: {text}")))
}

/// A single path parameter (an id), as text; the service parses it.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| PathId(id))
            .map_err(|e: PathRejection| {
                ApiError(Error::invalid(format!("Invalid path: {}", e.body_text())))
            })
    }
}

/// Two path parameters (an id and a sub-resource id), as text.
pub struct PathIds(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path((a, b))| PathIds(a, b))
            .map_err(|e: PathRejection| {
                ApiError(Error::invalid(format!("Invalid path: {}", e.body_text())))
            })
    }
}

/// `limit` and `offset` of list endpoints.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Max results (default 50, max 200).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl PageParams {
    /// Validates into a [`Page`].
    pub fn page(&self) -> Result<Page, ApiError> {
        Ok(Page::new(self.limit, self.offset)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/vnd.api+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
