//! Organisations and API keys.

use super::{backend, bounds, from_micros, from_micros_opt, micros};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use twig_core::apikey::{ApiKey, Environment, KeyHash, Scope};
use twig_core::id::{KeyId, OrgId, UserId};
use twig_core::org::Org;
use twig_core::page::{Listed, Page};
use twig_core::ratelimit::LimitOverrides;
use twig_core::store::{StoreError, StoreResult};
use twig_core::time::Timestamp;
use twig_core::user::Role;

/// Key columns with the owner's role and the org's overrides, so one query loads all auth needs.
const KEY_SELECT: &str = "SELECT k.id, k.org_id, k.name, k.prefix, k.hash, k.scopes, k.environment,
        k.created_at, k.expires_at, k.revoked_at, k.user_id, k.rate_limits,
        o.rate_limits AS org_rate_limits, u.role AS owner_role
    FROM api_keys k JOIN orgs o ON o.id = k.org_id LEFT JOIN users u ON u.id = k.user_id";

/// Overrides to their stored JSON (NULL when there are none).
pub(super) fn limits_json(l: &LimitOverrides) -> StoreResult<Option<String>> {
    if l.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(l).map(Some).map_err(backend)
}

fn limits_from(v: Option<String>) -> StoreResult<LimitOverrides> {
    match v {
        None => Ok(LimitOverrides::default()),
        Some(s) => serde_json::from_str(&s).map_err(backend),
    }
}

/// Scopes to their stored form.
pub(super) fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses stored scopes.
pub(super) fn parse_scopes(s: &str) -> StoreResult<Vec<Scope>> {
    s.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            Scope::parse(s).ok_or_else(|| backend(anyhow::anyhow!("unknown stored scope {s:?}")))
        })
        .collect()
}

pub(super) async fn insert_org(tx: &mut Transaction<'static, Any>, org: &Org) -> StoreResult<()> {
    sqlx::query("INSERT INTO orgs (id, name, created_at, rate_limits) VALUES ($1, $2, $3, $4)")
        .bind(org.id.as_str())
        .bind(&org.name)
        .bind(micros(&org.created_at))
        .bind(limits_json(&org.rate_limits)?)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

fn org_row(r: &AnyRow) -> StoreResult<Org> {
    Ok(Org {
        id: OrgId::from_trusted(r.try_get("id").map_err(backend)?),
        name: r.try_get("name").map_err(backend)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        rate_limits: limits_from(r.try_get("rate_limits").map_err(backend)?)?,
    })
}

pub(super) async fn get_org(pool: &AnyPool, id: &OrgId) -> StoreResult<Option<Org>> {
    let row = sqlx::query("SELECT id, name, created_at, rate_limits FROM orgs WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(org_row).transpose()
}

pub(super) async fn list_orgs(pool: &AnyPool) -> StoreResult<Vec<Org>> {
    let rows =
        sqlx::query("SELECT id, name, created_at, rate_limits FROM orgs ORDER BY created_at, id")
            .fetch_all(pool)
            .await
            .map_err(backend)?;
    rows.iter().map(org_row).collect()
}

pub(super) async fn set_org_limits(
    tx: &mut Transaction<'static, Any>,
    id: &OrgId,
    limits: &LimitOverrides,
) -> StoreResult<bool> {
    let res = sqlx::query("UPDATE orgs SET rate_limits = $1 WHERE id = $2")
        .bind(limits_json(limits)?)
        .bind(id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}

pub(super) async fn insert_key(
    tx: &mut Transaction<'static, Any>,
    key: &ApiKey,
    hash: &KeyHash,
) -> StoreResult<()> {
    if let Some(uid) = &key.user_id {
        // Checked again inside the write transaction: the user may have been removed
        // or demoted since the caller looked.
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND org_id = $2")
                .bind(uid.as_str())
                .bind(key.org_id.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
        let Some(role) = role else {
            return Err(StoreError::Conflict(format!("User not found: {uid}")));
        };
        let role = parse_role(&role)?;
        if role.narrow(&key.scopes) != key.scopes {
            return Err(StoreError::Conflict(format!(
                "User {uid} has role {role}, which does not allow these scopes"
            )));
        }
    }
    let res = sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, hash, scopes, environment, created_at, expires_at, revoked_at, user_id, rate_limits)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = $13)",
    )
    .bind(key.id.as_str())
    .bind(key.org_id.as_str())
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(hash.to_hex())
    .bind(scopes_text(&key.scopes))
    .bind(key.environment.as_str())
    .bind(micros(&key.created_at))
    .bind(key.expires_at.as_ref().map(micros))
    .bind(key.revoked_at.as_ref().map(micros))
    .bind(key.user_id.as_ref().map(|u| u.as_str()))
    .bind(limits_json(&key.rate_limits)?)
    .bind(key.org_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if res.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "organisation {} does not exist",
            key.org_id
        )));
    }
    Ok(())
}

/// Parses a stored role.
pub(super) fn parse_role(s: &str) -> StoreResult<Role> {
    Role::parse(s).ok_or_else(|| backend(anyhow::anyhow!("unknown stored role {s:?}")))
}

fn key_row(r: &AnyRow) -> StoreResult<(ApiKey, KeyHash)> {
    let scopes: String = r.try_get("scopes").map_err(backend)?;
    let scopes = parse_scopes(&scopes)?;
    let user_id: Option<String> = r.try_get("user_id").map_err(backend)?;
    let owner_role: Option<String> = r.try_get("owner_role").map_err(backend)?;
    let env: String = r.try_get("environment").map_err(backend)?;
    let hash: String = r.try_get("hash").map_err(backend)?;
    let key = ApiKey {
        id: KeyId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        name: r.try_get("name").map_err(backend)?,
        prefix: r.try_get("prefix").map_err(backend)?,
        scopes,
        environment: Environment::parse(&env)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored environment {env:?}")))?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        expires_at: from_micros_opt(r.try_get("expires_at").map_err(backend)?)?,
        revoked_at: from_micros_opt(r.try_get("revoked_at").map_err(backend)?)?,
        user_id: user_id.map(UserId::from_trusted),
        rate_limits: limits_from(r.try_get("rate_limits").map_err(backend)?)?,
        owner_role: owner_role.as_deref().map(parse_role).transpose()?,
        org_rate_limits: limits_from(r.try_get("org_rate_limits").map_err(backend)?)?,
    };
    let hash = KeyHash::from_hex(&hash)
        .ok_or_else(|| backend(anyhow::anyhow!("corrupt key hash for {}", key.id)))?;
    Ok((key, hash))
}

pub(super) async fn find_key(
    pool: &AnyPool,
    hash: &KeyHash,
) -> StoreResult<Option<(ApiKey, KeyHash)>> {
    let row = sqlx::query(&format!("{KEY_SELECT} WHERE k.hash = $1"))
        .bind(hash.to_hex())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(key_row).transpose()
}

pub(super) async fn get_key(
    pool: &AnyPool,
    org: Option<&OrgId>,
    id: &KeyId,
) -> StoreResult<Option<ApiKey>> {
    let row = sqlx::query(&format!(
        "{KEY_SELECT} WHERE k.id = $1 AND ($2 IS NULL OR k.org_id = $3)"
    ))
    .bind(id.as_str())
    .bind(org.map(|o| o.as_str()))
    .bind(org.map(|o| o.as_str()))
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    Ok(row.as_ref().map(key_row).transpose()?.map(|(k, _)| k))
}

pub(super) async fn list_keys(
    pool: &AnyPool,
    org: &OrgId,
    include_revoked: bool,
    page: Page,
) -> StoreResult<Listed<ApiKey>> {
    let filter = "k.org_id = $1 AND ($2 OR k.revoked_at IS NULL)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM api_keys k WHERE {filter}"))
        .bind(org.as_str())
        .bind(include_revoked)
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let (limit, offset) = bounds(page);
    let rows = sqlx::query(&format!(
        "{KEY_SELECT} WHERE {filter} ORDER BY k.created_at DESC, k.id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(org.as_str())
    .bind(include_revoked)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let items = rows
        .iter()
        .map(|r| key_row(r).map(|(k, _)| k))
        .collect::<StoreResult<_>>()?;
    Ok(Listed {
        items,
        total: total as u64,
    })
}

pub(super) async fn revoke_key(
    tx: &mut Transaction<'static, Any>,
    org: Option<&OrgId>,
    id: &KeyId,
    at: Timestamp,
) -> StoreResult<bool> {
    let res = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR org_id = $4)",
    )
    .bind(micros(&at))
    .bind(id.as_str())
    .bind(org.map(|o| o.as_str()))
    .bind(org.map(|o| o.as_str()))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}

pub(super) async fn update_key(
    tx: &mut Transaction<'static, Any>,
    key: &ApiKey,
) -> StoreResult<bool> {
    let res = sqlx::query(
        "UPDATE api_keys SET name = $1, rate_limits = $2 WHERE id = $3 AND org_id = $4 AND revoked_at IS NULL",
    )
    .bind(&key.name)
    .bind(limits_json(&key.rate_limits)?)
    .bind(key.id.as_str())
    .bind(key.org_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}
