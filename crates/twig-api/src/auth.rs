//! Authentication and scope checks as extractors: `Authed<Write>` in a handler
//! signature means "a valid key of some org that holds the Write scope".

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::marker::PhantomData;
use twig_core::apikey::{ApiKey, Scope};
use twig_core::ratelimit::Decision;
use twig_core::service::keys;
use twig_core::Error;

/// Where the extractor leaves the limiter's answer for the response headers.
#[derive(Clone, Default)]
pub struct RateSlot(std::sync::Arc<std::sync::Mutex<Option<Decision>>>);

impl RateSlot {
    fn set(&self, d: Decision) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(d);
        }
    }

    /// The decision taken for this request, if any.
    pub fn get(&self) -> Option<Decision> {
        self.0.lock().ok().and_then(|g| *g)
    }
}

/// The scope a handler requires.
pub trait RequiredScope: Send + Sync + 'static {
    /// `None`: any valid key.
    const SCOPE: Option<Scope>;

    /// A check beyond the scope (e.g. the owning user's role); none by default.
    fn check(_key: &ApiKey) -> Result<(), Error> {
        Ok(())
    }
}

/// Marker: Read scope (list/get).
pub struct Read;
/// Marker: Write scope (create/update/delete).
pub struct Write;
/// Marker: Execute scope (queries, feedback).
pub struct Execute;
/// Marker: Admin scope (keys, users, analytics).
pub struct Admin;
/// Marker: any valid key.
pub struct AnyScope;
/// Marker: Execute scope, and a key of no user or of a user whose role is train or above
/// (giving feedback is what separates role train from readonly).
pub struct Feedback;

impl RequiredScope for Read {
    const SCOPE: Option<Scope> = Some(Scope::Read);
}
impl RequiredScope for Write {
    const SCOPE: Option<Scope> = Some(Scope::Write);
}
impl RequiredScope for Execute {
    const SCOPE: Option<Scope> = Some(Scope::Execute);
}
impl RequiredScope for Admin {
    const SCOPE: Option<Scope> = Some(Scope::Admin);
}
impl RequiredScope for AnyScope {
    const SCOPE: Option<Scope> = None;
}
impl RequiredScope for Feedback {
    const SCOPE: Option<Scope> = Some(Scope::Execute);

    fn check(key: &ApiKey) -> Result<(), Error> {
        keys::require_feedback(key)
    }
}

/// An authenticated caller whose key holds scope `S`.
pub struct Authed<S: RequiredScope> {
    /// The caller's key (its `org_id` scopes every query).
    pub key: ApiKey,
    _scope: PhantomData<S>,
}

fn bearer(parts: &Parts) -> Result<&str, Error> {
    let missing = || {
        Error::Unauthorized(
            "Missing or malformed Authorization header: expected \"Bearer twigsk_live_...\"".into(),
        )
    };
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

impl<S: RequiredScope> FromRequestParts<AppState> for Authed<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let key = keys::authenticate(state.store.as_ref(), token).await?;
        if let Some(scope) = S::SCOPE {
            keys::require(&key, scope)?;
        }
        S::check(&key)?;
        if let Some(limits) = &state.config.rate_limits {
            // Scope-free routes (`/me`) count against the Read allowance.
            let scope = S::SCOPE.unwrap_or(Scope::Read);
            // The key's and its org's overrides came with the key: no extra query.
            let limit = key.limit_for(scope, limits);
            let now = twig_core::time::now().timestamp_micros();
            let decision = state
                .limiter
                .check(&format!("{}:{}", key.id, scope.as_str()), limit, now)
                .await
                .map_err(|e| {
                    // Refused rather than let through unlimited (`fail_open` says otherwise).
                    tracing::error!(error = %format!("{e:#}"), "rate limiter unavailable");
                    Error::Unavailable("Rate limiting is unavailable; try again shortly".into())
                })?;
            if let Some(slot) = parts.extensions.get::<RateSlot>() {
                slot.set(decision);
            }
            if !decision.allowed {
                metrics::counter!("twig_rate_limit_refusals_total", "scope" => scope.as_str())
                    .increment(1);
                return Err(Error::RateLimited {
                    scope,
                    limit,
                    decision,
                }
                .into());
            }
        }
        Ok(Self {
            key,
            _scope: PhantomData,
        })
    }
}
