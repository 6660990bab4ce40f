//! The one mapping from errors to the documented body, and the request-id middleware.
//!
//! Handlers return [`ApiError`]; it renders as a bare status carrying an
//! [`ErrorPayload`] extension. [`request_context`] then writes the body with
//! the request's id, so every error (including router fallbacks, body-limit
//! and panic responses) has the same shape and the same `X-Request-Id`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::Instrument as _;
use twig_core::id::RequestId;
use twig_core::{Error, ErrorCode};
use utoipa::ToSchema;

/// Header carrying the request id on every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A domain error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

/// What the middleware needs to render an error body.
#[derive(Debug, Clone)]
pub struct ErrorPayload {
    code: ErrorCode,
    message: String,
    details: Map<String, Value>,
    /// Full cause chain, logged (never shown) for 5xx.
    cause: Option<String>,
    /// A status other than the code's own (405 for a wrong method).
    status: Option<StatusCode>,
}

impl ErrorPayload {
    /// A payload for `code` with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Map::new(),
            cause: None,
            status: None,
        }
    }

    /// Answers with `status` instead of the code's own.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        })
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Map<String, Value>) -> Self {
        self.details = details;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let cause = match &self.0 {
            Error::Internal(e) => Some(format!("{e:#}")),
            Error::Unavailable(m) => Some(m.clone()),
            _ => None,
        };
        let payload = ErrorPayload {
            code,
            message: self.0.public_message(),
            details: self.0.details(),
            cause,
            status: None,
        };
        payload.into_response()
    }
}

impl IntoResponse for ErrorPayload {
    fn into_response(self) -> Response {
        let mut res = self.status().into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// The documented error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
    /// Id of the request, also in `X-Request-Id`.
    #[schema(example = "req_8fKq2LmZ0xYb7Lz0aHc1")]
    pub request_id: String,
}

/// Inner object of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// One of `invalid_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `rate_limit_exceeded`, `internal_error`, `service_unavailable`.
    #[schema(example = "invalid_request")]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured context, e.g. the offending field.
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

impl ErrorBody {
    /// The documented body of `e` for request `rid` (for errors sent inside a stream);
    /// 5xx causes are logged, never shown.
    pub fn of(e: &Error, rid: &RequestId) -> Self {
        let code = e.code();
        if code.http_status() >= 500 {
            let cause = match e {
                Error::Internal(inner) => format!("{inner:#}"),
                other => other.to_string(),
            };
            tracing::error!(request_id = %rid, %cause, "streamed request failed");
        }
        ErrorBody {
            error: ErrorObject {
                code: code.as_str().to_owned(),
                message: e.public_message(),
                details: e.details(),
            },
            request_id: rid.to_string(),
        }
    }
}

/// Paths whose contract is OpenAI's (the compatible endpoint): errors in OpenAI's shape.
fn is_openai_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// OpenAI's error body, `{"error": {"message", "type", "param", "code"}}`.
fn openai_shape(code: ErrorCode, message: &str, details: &Map<String, Value>) -> Value {
    let kind = match code {
        ErrorCode::InvalidRequest | ErrorCode::NotFound => "invalid_request_error",
        ErrorCode::Unauthorized => "authentication_error",
        ErrorCode::Forbidden => "permission_error",
        ErrorCode::RateLimitExceeded => "rate_limit_error",
        _ => "server_error",
    };
    let unknown_agent =
        code == ErrorCode::NotFound && details.get("resource") == Some(&"agent".into());
    let (oa_code, param) = match code {
        // `model` names an agent on this surface.
        _ if unknown_agent => ("model_not_found", Value::from("model")),
        ErrorCode::Unauthorized => ("invalid_api_key", Value::Null),
        c => (
            c.as_str(),
            details.get("field").cloned().unwrap_or(Value::Null),
        ),
    };
    serde_json::json!({"error": {
        "message": message,
        "type": kind,
        "param": param,
        "code": oa_code,
    }})
}

/// OpenAI's error body for an error inside a stream (5xx causes logged, never shown).
pub fn openai_body(e: &Error, rid: &RequestId) -> Value {
    let body = ErrorBody::of(e, rid);
    openai_shape(e.code(), &body.error.message, &body.error.details)
}

/// Id of the current request, stored in request extensions.
#[derive(Debug, Clone)]
pub struct CurrentRequestId(pub RequestId);

fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        429 => ErrorCode::RateLimitExceeded,
        503 => ErrorCode::ServiceUnavailable,
        400..=499 => ErrorCode::InvalidRequest,
        _ => ErrorCode::InternalError,
    }
}

/// The span of one request (exported as an OTLP server span when tracing is on): the request
/// id is an attribute, and a caller's W3C `traceparent` makes it a child of the caller's span.
fn request_span(req: &Request, rid: &RequestId) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let method = req.method().as_str();
    let span = tracing::info_span!(
        "request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        url.path = req.uri().path(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        request_id = %rid,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
    });
    // Without a pipeline (or without a valid header) there is no parent to set.
    let _ = span.set_parent(parent);
    span
}

/// Names the current request span after its route template, once routing found one.
pub(crate) fn record_route(route: &str, method: &str) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::Span::current();
    span.record("http.route", route);
    // Once the span has a parent set, tracing-opentelemetry ignores a recorded `otel.name`:
    // rename the OpenTelemetry span itself.
    span.context()
        .span()
        .update_name(format!("{method} {route}"));
}

/// Assigns a request id, and renders every error response in the documented shape.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let rid = RequestId::generate();
    req.extensions_mut().insert(CurrentRequestId(rid.clone()));
    let slot = crate::auth::RateSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = request_span(&req, &rid);
    let mut res = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", res.status().as_u16());
    if res.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }

    let payload = res.extensions_mut().remove::<ErrorPayload>();
    let status = res.status();
    // MCP's transport answers with its own statuses and JSON-RPC bodies, which clients act on.
    let own_protocol = path == "/mcp";
    if !own_protocol && (payload.is_some() || status.is_client_error() || status.is_server_error())
    {
        let payload = payload.unwrap_or_else(|| {
            let code = code_for_status(status);
            let p = ErrorPayload::new(code, status.canonical_reason().unwrap_or("Error"));
            // Keep statuses the table has no code of its own for (405), under the closest code.
            if status.as_u16() == 405 {
                p.with_status(status)
            } else {
                p
            }
        });
        let code = payload.code;
        let final_status = payload.status();
        if code.http_status() >= 500 {
            tracing::error!(request_id = %rid, %method, %path, cause = payload.cause.as_deref().unwrap_or("-"),
                "request failed: {}", payload.message);
        }
        let json = if is_openai_path(&path) {
            serde_json::to_vec(&openai_shape(code, &payload.message, &payload.details))
        } else {
            serde_json::to_vec(&ErrorBody {
                error: ErrorObject {
                    code: code.as_str().to_owned(),
                    message: payload.message,
                    details: payload.details,
                },
                request_id: rid.to_string(),
            })
        }
        .unwrap_or_default();
        let (mut parts, _) = res.into_parts();
        parts.status = final_status;
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        res = Response::from_parts(parts, Body::from(json));
    }
    if let Ok(v) = HeaderValue::from_str(rid.as_str()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    if let Some(d) = slot.get() {
        let h = res.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_unix));
        if !d.allowed {
            h.insert(header::RETRY_AFTER, HeaderValue::from(d.retry_after_secs));
        }
    }
    res
}

/// Turns a handler panic into a 500 whose body the middleware renders.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    let mut p = ErrorPayload::new(ErrorCode::InternalError, "Internal server error");
    p.cause = Some(format!("handler panicked: {what}"));
    p.into_response()
}
