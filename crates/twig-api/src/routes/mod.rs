//! Handlers, one module per resource.

pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod data_sources;
pub mod health;
pub mod ingest;
pub mod integrations;
pub mod interactions;
pub mod kb;
pub mod mcp;
pub mod me;
pub mod openai;
pub mod query;
pub mod search;
pub mod slack;
pub mod users;
pub mod webhooks;

use crate::error::ErrorPayload;
use axum::http::{Method, StatusCode, Uri};
use twig_core::ErrorCode;

/// Unknown route: 404 in the documented shape.
pub async fn fallback(method: Method, uri: Uri) -> ErrorPayload {
    let mut details = serde_json::Map::new();
    details.insert("method".into(), method.as_str().into());
    details.insert("path".into(), uri.path().into());
    ErrorPayload::new(
        ErrorCode::NotFound,
        format!("Unrecognized request URL ({method} {})", uri.path()),
    )
    .with_details(details)
}

/// A method the route does not serve: 405 `invalid_request` in the documented shape; axum adds
/// the `Allow` header listing the route's methods.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ErrorPayload {
    let mut details = serde_json::Map::new();
    details.insert("method".into(), method.as_str().into());
    details.insert("path".into(), uri.path().into());
    ErrorPayload::new(
        ErrorCode::InvalidRequest,
        format!(
            "Method {method} is not allowed on {} (see the Allow header)",
            uri.path()
        ),
    )
    .with_details(details)
    .with_status(StatusCode::METHOD_NOT_ALLOWED)
}
