//! Organisations and API keys.

use super::{backend, bounds, from_micros, from_micros_opt, micros};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use twig_core::apikey::{ApiKey, Environment, KeyHash, Scope};
use twig_core::id::{KeyId, OrgId};
use twig_core::org::Org;
use twig_core::page::{Listed, Page};
use twig_core::store::{StoreError, StoreResult};
use twig_core::time::Timestamp;

const KEY_COLUMNS: &str =
    "id, org_id, name, prefix, hash, scopes, environment, created_at, expires_at, revoked_at";

pub(super) async fn insert_org(
    tx: &mut Transaction<'static, Sqlite>,
    org: &Org,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)")
        .bind(org.id.as_str())
        .bind(&org.name)
        .bind(micros(&org.created_at))
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

fn org_row(r: &SqliteRow) -> StoreResult<Org> {
    Ok(Org {
        id: OrgId::from_trusted(r.try_get("id").map_err(backend)?),
        name: r.try_get("name").map_err(backend)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
    })
}

pub(super) async fn get_org(pool: &SqlitePool, id: &OrgId) -> StoreResult<Option<Org>> {
    let row = sqlx::query("SELECT id, name, created_at FROM orgs WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(org_row).transpose()
}

pub(super) async fn list_orgs(pool: &SqlitePool) -> StoreResult<Vec<Org>> {
    let rows = sqlx::query("SELECT id, name, created_at FROM orgs ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(org_row).collect()
}

pub(super) async fn insert_key(
    tx: &mut Transaction<'static, Sqlite>,
    key: &ApiKey,
    hash: &KeyHash,
) -> StoreResult<()> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    let res = sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, hash, scopes, environment, created_at, expires_at, revoked_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM orgs WHERE id = ?)",
    )
    .bind(key.id.as_str())
    .bind(key.org_id.as_str())
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(hash.to_hex())
    .bind(scopes.join(","))
    .bind(key.environment.as_str())
    .bind(micros(&key.created_at))
    .bind(key.expires_at.as_ref().map(micros))
    .bind(key.revoked_at.as_ref().map(micros))
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

fn key_row(r: &SqliteRow) -> StoreResult<(ApiKey, KeyHash)> {
    let scopes: String = r.try_get("scopes").map_err(backend)?;
    let scopes = scopes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            Scope::parse(s).ok_or_else(|| backend(anyhow::anyhow!("unknown stored scope {s:?}")))
        })
        .collect::<StoreResult<Vec<_>>>()?;
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
    };
    let hash = KeyHash::from_hex(&hash)
        .ok_or_else(|| backend(anyhow::anyhow!("corrupt key hash for {}", key.id)))?;
    Ok((key, hash))
}

pub(super) async fn find_key(
    pool: &SqlitePool,
    hash: &KeyHash,
) -> StoreResult<Option<(ApiKey, KeyHash)>> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?"
    ))
    .bind(hash.to_hex())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.as_ref().map(key_row).transpose()
}

pub(super) async fn get_key(
    pool: &SqlitePool,
    org: Option<&OrgId>,
    id: &KeyId,
) -> StoreResult<Option<ApiKey>> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ? AND (? IS NULL OR org_id = ?)"
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
    pool: &SqlitePool,
    org: &OrgId,
    include_revoked: bool,
    page: Page,
) -> StoreResult<Listed<ApiKey>> {
    let filter = "org_id = ? AND (? OR revoked_at IS NULL)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM api_keys WHERE {filter}"))
        .bind(org.as_str())
        .bind(include_revoked)
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let (limit, offset) = bounds(page);
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
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
    tx: &mut Transaction<'static, Sqlite>,
    org: Option<&OrgId>,
    id: &KeyId,
    at: Timestamp,
) -> StoreResult<bool> {
    let res = sqlx::query(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND (? IS NULL OR org_id = ?)",
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
