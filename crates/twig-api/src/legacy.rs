//! Legacy paths: every `/api/v1/X` is also served at `/api/X`, and the old
//! `/api/chat` is `/api/v1/query` (which the reference says replaces it).

use axum::extract::Request;
use axum::http::Uri;
use axum::Router;
use tower::Layer;

/// Rewrites `/api/X` to `/api/v1/X` before routing.
fn rewrite(mut req: Request) -> Request {
    let path = req.uri().path();
    let legacy = path
        .strip_prefix("/api/")
        .filter(|rest| !(rest.starts_with("v1/") || *rest == "v1"));
    if let Some(rest) = legacy {
        let rest = if rest == "chat" { "query" } else { rest };
        let new_path = format!("/api/v1/{rest}");
        let pq = match req.uri().query() {
            Some(q) => format!("{new_path}?{q}"),
            None => new_path,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// The router with rewriting applied before route matching.
pub(crate) type LegacyService = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// Wraps the router so rewriting happens before route matching.
pub(crate) fn with_legacy_paths(router: Router) -> LegacyService {
    tower::util::MapRequestLayer::new(rewrite as fn(Request) -> Request).layer(router)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(p: &str) -> String {
        rewrite(
            Request::builder()
                .uri(p)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .uri()
        .to_string()
    }

    #[test]
    fn legacy_paths_map_to_v1() {
        assert_eq!(path_of("/api/agents?limit=2"), "/api/v1/agents?limit=2");
        assert_eq!(path_of("/api/v1/agents"), "/api/v1/agents");
        assert_eq!(path_of("/api/v1"), "/api/v1");
        assert_eq!(path_of("/healthz"), "/healthz");
        assert_eq!(path_of("/api/v10/x"), "/api/v1/v10/x");
        assert_eq!(path_of("/api/chat"), "/api/v1/query");
        assert_eq!(path_of("/api/v1/chat"), "/api/v1/chat");
    }
}
