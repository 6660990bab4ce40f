//! The one table of error codes and the domain error every layer returns.
//!
//! The HTTP layer maps [`Error`] to the documented body
//! `{"error":{"code","message","details"},"request_id"}` in exactly one place.

use serde_json::{json, Map, Value};

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The documented error codes, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: missing required field, invalid format.
    InvalidRequest,
    /// 401: invalid or missing API key.
    Unauthorized,
    /// 403: insufficient scope.
    Forbidden,
    /// 404: resource does not exist.
    NotFound,
    /// 429: too many requests.
    RateLimitExceeded,
    /// 500: server error.
    InternalError,
    /// 503: maintenance or overload.
    ServiceUnavailable,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 7] = [
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::RateLimitExceeded,
        Self::InternalError,
        Self::ServiceUnavailable,
    ];

    /// The code as it appears in error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::InternalError => "internal_error",
            Self::ServiceUnavailable => "service_unavailable",
        }
    }

    /// The HTTP status the API reference pairs with this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::RateLimitExceeded => 429,
            Self::InternalError => 500,
            Self::ServiceUnavailable => 503,
        }
    }
}

/// A domain error: what went wrong, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or fails validation.
    #[error("{message}")]
    InvalidRequest {
        /// Human-readable explanation.
        message: String,
        /// Structured context (e.g. the offending field).
        details: Map<String, Value>,
    },
    /// No credentials, or credentials that are not (or no longer) valid.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the needed permission.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist in the caller's organisation.
    #[error("{kind} not found")]
    NotFound {
        /// Human name of the resource kind, e.g. "Agent".
        kind: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// The key used up its allowance for a scope.
    #[error("Rate limit exceeded for {} scope: {} requests per minute (burst {}); retry after {} s", .scope.title(), .limit.per_minute, .limit.burst, .decision.retry_after_secs)]
    RateLimited {
        /// Scope whose bucket is empty.
        scope: crate::apikey::Scope,
        /// Its limit.
        limit: crate::ratelimit::RateLimit,
        /// The limiter's answer (reset time, retry delay).
        decision: crate::ratelimit::Decision,
    },
    /// A dependency (storage, model) cannot serve right now.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure; the cause is logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// A validation error without details.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            details: Map::new(),
        }
    }

    /// A validation error naming the offending field in `details.field`.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let mut details = Map::new();
        details.insert("field".into(), json!(field));
        Self::InvalidRequest {
            message: message.into(),
            details,
        }
    }

    /// A missing resource.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// The code of the documented table this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::RateLimited { .. } => ErrorCode::RateLimitExceeded,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The message safe to show a client (internal causes are hidden).
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "Internal server error".to_owned(),
            other => other.to_string(),
        }
    }

    /// Structured details safe to show a client.
    pub fn details(&self) -> Map<String, Value> {
        match self {
            Self::InvalidRequest { details, .. } => details.clone(),
            Self::NotFound { kind, id } => {
                let mut m = Map::new();
                m.insert("resource".into(), json!(kind.to_lowercase()));
                m.insert("id".into(), json!(id));
                m
            }
            Self::RateLimited {
                scope,
                limit,
                decision,
            } => {
                let mut m = Map::new();
                m.insert("scope".into(), json!(scope.as_str()));
                m.insert("limit".into(), json!(limit.per_minute));
                m.insert("burst".into(), json!(limit.burst));
                m.insert("reset".into(), json!(decision.reset_unix));
                m
            }
            _ => Map::new(),
        }
    }
}

impl From<crate::id::InvalidId> for Error {
    fn from(e: crate::id::InvalidId) -> Self {
        let mut details = Map::new();
        details.insert("id".into(), json!(e.value));
        Self::InvalidRequest {
            message: e.to_string(),
            details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table_matches_the_reference() {
        let table: Vec<(u16, &str)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.http_status(), c.as_str()))
            .collect();
        assert_eq!(
            table,
            vec![
                (400, "invalid_request"),
                (401, "unauthorized"),
                (403, "forbidden"),
                (404, "not_found"),
                (429, "rate_limit_exceeded"),
                (500, "internal_error"),
                (503, "service_unavailable"),
            ]
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = Error::Internal(anyhow::anyhow!("database password is hunter2"));
        assert_eq!(e.public_message(), "Internal server error");
        assert!(e.details().is_empty());
    }
}
