//! API key use cases: authentication, minting, revocation, bootstrap.

use crate::apikey::{looks_like_key, ApiKey, Environment, KeyHash, Scope, Secret};
use crate::error::{Error, Result};
use crate::id::{KeyId, OrgId};
use crate::org::Org;
use crate::page::{Listed, Page};
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
    /// Label for the key.
    pub name: Option<String>,
    /// Any of `read`, `write`, `execute`, `admin`.
    pub scopes: Option<Vec<String>>,
    /// `live` (default) or `test`.
    pub environment: Option<String>,
    /// Optional RFC 3339 expiry, in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default, with = "crate::time::rfc3339::option")]
    pub expires_at: Option<Timestamp>,
}

/// Mints and stores a key; the secret is returned once and never stored.
pub async fn create(store: &dyn Store, org: &OrgId, input: KeyInput) -> Result<(ApiKey, Secret)> {
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
    let (key, hash, secret) =
        ApiKey::mint(org.clone(), &name, scopes, environment, input.expires_at)?;
    store.create_api_key(&key, &hash).await?;
    Ok((key, secret))
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
