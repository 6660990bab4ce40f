//! API key use cases: authentication, minting, revocation, bootstrap.

use crate::apikey::{looks_like_key, ApiKey, Environment, KeyHash, Scope, Secret};
use crate::error::{Error, Result};
use crate::id::{KeyId, OrgId, UserId};
use crate::org::Org;
use crate::page::{Listed, Page};
use crate::ratelimit::{LimitChanges, LimitOverrides, ScopeLimits};
use crate::store::Store;
use crate::time::{self, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

/// Resolves a presented bearer token to a usable key.
pub async fn authenticate(store: &dyn Store, token: &str) -> Result<ApiKey> {
    if !looks_like_key(token) {
        return Err(Error::Unauthorized("Invalid API key".into()));
    }
    let presented = KeyHash::of(token);
    let Some((key, stored)) = store.find_api_key(&presented).await? else {
        return Err(Error::Unauthorized("Invalid API key".into()));
    };
    if !stored.matches(&presented) {
        return Err(Error::Unauthorized("Invalid API key".into()));
    }
    if key.revoked_at.is_some() {
        return Err(Error::Unauthorized("API key has been revoked".into()));
    }
    if !key.is_usable(time::now()) {
        return Err(Error::Unauthorized("API key has expired".into()));
    }
    Ok(key)
}

/// Refuses a key whose owning user's role does not allow giving feedback (readonly users).
pub fn require_feedback(key: &ApiKey) -> Result<()> {
    if key.may_give_feedback() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "API key belongs to a user with role readonly; giving feedback needs role train or above"
                .into(),
        ))
    }
}

/// Refuses a key that lacks `scope`, with the documented message.
pub fn require(key: &ApiKey, scope: Scope) -> Result<()> {
    if key.has(scope) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "API key lacks {} scope",
            scope.title()
        )))
    }
}

/// Body of `POST /api-keys`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// Label for the key (required).
    #[schema(value_type = String, max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$", example = "Production")]
    pub name: Option<String>,
    /// Any of `read`, `write`, `execute`, `admin` (required, at least one).
    #[schema(value_type = Vec<Scope>, min_items = 1, example = json!(["read", "execute"]))]
    pub scopes: Option<Vec<String>>,
    /// `live` (default) or `test`.
    #[schema(value_type = Option<crate::apikey::Environment>)]
    pub environment: Option<String>,
    /// Optional RFC 3339 expiry, in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, with = "crate::time::rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    /// The user (`usr_…`) the key belongs to; its scopes must be within the user's role.
    #[schema(value_type = Option<crate::id::UserId>)]
    pub user_id: Option<String>,
    /// Per-scope overrides of the rate limits, e.g. `{"write": {"per_minute": 3, "burst": 3}}`;
    /// at most the org's limit for the scope.
    pub rate_limits: Option<LimitChanges>,
}

/// Body of `PUT /api-keys/:id`: every field optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    /// New label.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// Per scope: an object sets the override, `null` removes it, absent leaves it.
    pub rate_limits: Option<LimitChanges>,
}

/// Refuses key overrides above the org's effective limit (its override, else the default):
/// an org admin may tune keys within the org's allowance; raising the allowance is an
/// operator's act (`twig orgs set-limits`). `defaults` is `None` when limiting is off.
fn within_org(
    overrides: &LimitOverrides,
    org: &LimitOverrides,
    defaults: Option<&ScopeLimits>,
) -> Result<()> {
    let Some(defaults) = defaults else {
        return Ok(());
    };
    for scope in Scope::ALL {
        if let Some(l) = overrides.of(scope) {
            let ceiling = org.of(scope).unwrap_or_else(|| defaults.of(scope));
            if l.per_minute > ceiling.per_minute || l.burst > ceiling.burst {
                let mut details = serde_json::Map::new();
                details.insert("field".into(), format!("rate_limits.{scope}").into());
                details.insert("max_per_minute".into(), ceiling.per_minute.into());
                details.insert("max_burst".into(), ceiling.burst.into());
                return Err(Error::InvalidRequest {
                    message: format!(
                        "rate_limits.{scope} may not exceed the organisation's limit of {} per minute (burst {})",
                        ceiling.per_minute, ceiling.burst
                    ),
                    details,
                });
            }
        }
    }
    Ok(())
}

/// Mints and stores a key; the secret is returned once and never stored.
///
/// `defaults` are the configured limits (None when limiting is off), the ceiling of overrides
/// together with the org's own overrides.
pub async fn create(
    store: &dyn Store,
    org: &OrgId,
    input: KeyInput,
    defaults: Option<&ScopeLimits>,
) -> Result<(ApiKey, Secret)> {
    let name = crate::validate::required(input.name, "name")?;
    let scopes = Scope::parse_list(&crate::validate::required(input.scopes, "scopes")?)?;
    let environment = match input.environment.as_deref() {
        None => Environment::Live,
        Some(e) => Environment::parse(e).ok_or_else(|| {
            Error::invalid_field(
                "environment",
                format!("environment must be live or test, got {e:?}"),
            )
        })?,
    };
    let (mut key, hash, secret) =
        ApiKey::mint(org.clone(), &name, scopes, environment, input.expires_at)?;
    if let Some(uid) = input.user_id {
        let uid =
            UserId::parse(&uid).map_err(|e| Error::invalid_field("user_id", e.to_string()))?;
        let user = store
            .users()
            .get_user(org, &uid)
            .await?
            // A named record that does not exist is a 404, like `data_source_ids`.
            .ok_or_else(|| Error::not_found("User", uid.as_str()))?;
        user.role.check_scopes(&uid, &key.scopes)?;
        key.owner_role = Some(user.role);
        key.user_id = Some(uid);
    }
    if let Some(changes) = input.rate_limits {
        let o = store
            .get_org(org)
            .await?
            .ok_or_else(|| Error::not_found("Organisation", org.as_str()))?;
        key.rate_limits = changes.apply(LimitOverrides::default(), "rate_limits")?;
        within_org(&key.rate_limits, &o.rate_limits, defaults)?;
        key.org_rate_limits = o.rate_limits;
    }
    store
        .create_api_key(&key, &hash)
        .await
        .map_err(|e| match e {
            // The user was removed or demoted between the check above and the insert.
            crate::store::StoreError::Conflict(m) if key.user_id.is_some() => {
                Error::invalid_field("user_id", m)
            }
            other => other.into(),
        })?;
    Ok((key, secret))
}

/// Changes a key's name and rate-limit overrides; takes effect on the key's next request.
pub async fn update(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    input: KeyUpdate,
    defaults: Option<&ScopeLimits>,
) -> Result<ApiKey> {
    let mut key = get(store, org, id).await?;
    if let Some(n) = input.name {
        key.name = crate::validate::name(&n, "name")?;
    }
    if let Some(changes) = input.rate_limits {
        key.rate_limits = changes.apply(key.rate_limits, "rate_limits")?;
        // Only the scopes set now must fit: an org limit lowered later does not lock the key.
        let set_now = changes.apply(LimitOverrides::default(), "rate_limits")?;
        within_org(&set_now, &key.org_rate_limits, defaults)?;
    }
    if store.update_api_key(&key).await? {
        Ok(key)
    } else {
        Err(Error::not_found("API key", key.id.as_str()))
    }
}

/// Sets (or with `None` clears) an org's override of `scope`s' limits; operator use.
pub async fn set_org_limits(
    store: &dyn Store,
    org: &OrgId,
    changes: &LimitChanges,
) -> Result<LimitOverrides> {
    let o = store
        .get_org(org)
        .await?
        .ok_or_else(|| Error::not_found("Organisation", org.as_str()))?;
    let limits = changes.apply(o.rate_limits, "rate_limits")?;
    if store.set_org_rate_limits(org, &limits).await? {
        Ok(limits)
    } else {
        Err(Error::not_found("Organisation", org.as_str()))
    }
}

/// Lists the org's keys that are not revoked.
pub async fn list(store: &dyn Store, org: &OrgId, page: Page) -> Result<Listed<ApiKey>> {
    Ok(store.list_api_keys(org, false, page).await?)
}

/// Reads one non-revoked key of the org.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<ApiKey> {
    let id = KeyId::parse(id)?;
    match store.get_api_key(Some(org), &id).await? {
        Some(k) if k.revoked_at.is_none() => Ok(k),
        _ => Err(Error::not_found("API key", id.as_str())),
    }
}

/// Revokes a key of the org (or of any org when `org` is `None`, for operators).
pub async fn revoke(store: &dyn Store, org: Option<&OrgId>, id: &str) -> Result<()> {
    let id = KeyId::parse(id)?;
    if store.revoke_api_key(org, &id, time::now()).await? {
        Ok(())
    } else {
        Err(Error::not_found("API key", id.as_str()))
    }
}

/// On an empty database, creates the `default` org and a key with every scope.
pub async fn bootstrap(store: &dyn Store) -> Result<Option<(Org, ApiKey, Secret)>> {
    let org = Org::new("default")?;
    let (key, hash, secret) = ApiKey::mint(
        org.id.clone(),
        "bootstrap",
        Scope::ALL.to_vec(),
        Environment::Live,
        None,
    )?;
    if store.bootstrap(&org, &key, &hash).await? {
        Ok(Some((org, key, secret)))
    } else {
        Ok(None)
    }
}
