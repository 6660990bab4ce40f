//! Users, and keeping their keys within their role.

use super::keys::{parse_role, parse_scopes, scopes_text};
use super::{backend, bounds, from_micros, micros};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use twig_core::id::{OrgId, UserId};
use twig_core::page::{Listed, Page};
use twig_core::store::{StoreError, StoreResult};
use twig_core::time::Timestamp;
use twig_core::user::{email_key, User};

const COLUMNS: &str = "id, org_id, email, name, role, created_at, updated_at";

fn row(r: &AnyRow) -> StoreResult<User> {
    let role: String = r.try_get("role").map_err(backend)?;
    Ok(User {
        id: UserId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        email: r.try_get("email").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        role: parse_role(&role)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

/// A unique-index violation becomes `Conflict`; anything else is a backend error.
fn unique_or_backend(e: sqlx::Error, email: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("email {email:?} is already in use"))
        }
        _ => backend(e),
    }
}

pub(super) async fn insert(tx: &mut Transaction<'static, Any>, u: &User) -> StoreResult<()> {
    let res = sqlx::query(
        "INSERT INTO users (id, org_id, email, email_key, name, role, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = $9)",
    )
    .bind(u.id.as_str())
    .bind(u.org_id.as_str())
    .bind(&u.email)
    .bind(email_key(&u.email))
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(micros(&u.created_at))
    .bind(micros(&u.updated_at))
    .bind(u.org_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_or_backend(e, &u.email))?;
    if res.rows_affected() == 0 {
        return Err(StoreError::Backend(anyhow::anyhow!(
            "organisation {} does not exist",
            u.org_id
        )));
    }
    Ok(())
}

pub(super) async fn get(pool: &AnyPool, org: &OrgId, id: &UserId) -> StoreResult<Option<User>> {
    let r = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE id = $1 AND org_id = $2"
    ))
    .bind(id.as_str())
    .bind(org.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    r.as_ref().map(row).transpose()
}

pub(super) async fn list(pool: &AnyPool, org: &OrgId, page: Page) -> StoreResult<Listed<User>> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE org_id = $1")
        .bind(org.as_str())
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let (limit, offset) = bounds(page);
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE org_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
    ))
    .bind(org.as_str())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    Ok(Listed {
        items: rows.iter().map(row).collect::<StoreResult<_>>()?,
        total: total as u64,
    })
}

/// Narrows the user's active keys to the role's scopes; revokes those left with none.
async fn narrow_keys(
    tx: &mut Transaction<'static, Any>,
    u: &User,
    at: Timestamp,
) -> StoreResult<()> {
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, scopes FROM api_keys WHERE user_id = $1 AND org_id = $2 AND revoked_at IS NULL",
    )
    .bind(u.id.as_str())
    .bind(u.org_id.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    for (id, scopes) in keys {
        let scopes = parse_scopes(&scopes)?;
        let kept = u.role.narrow(&scopes);
        if kept == scopes {
            continue;
        }
        let q = if kept.is_empty() {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
                .bind(micros(&at))
                .bind(id)
        } else {
            sqlx::query("UPDATE api_keys SET scopes = $1 WHERE id = $2")
                .bind(scopes_text(&kept))
                .bind(id)
        };
        q.execute(&mut **tx).await.map_err(backend)?;
    }
    Ok(())
}

pub(super) async fn update(
    tx: &mut Transaction<'static, Any>,
    u: &User,
    at: Timestamp,
) -> StoreResult<bool> {
    let res = sqlx::query(
        "UPDATE users SET email = $1, email_key = $2, name = $3, role = $4, updated_at = $5
         WHERE id = $6 AND org_id = $7",
    )
    .bind(&u.email)
    .bind(email_key(&u.email))
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(micros(&u.updated_at))
    .bind(u.id.as_str())
    .bind(u.org_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_or_backend(e, &u.email))?;
    if res.rows_affected() == 0 {
        return Ok(false);
    }
    narrow_keys(tx, u, at).await?;
    Ok(true)
}

pub(super) async fn delete(
    tx: &mut Transaction<'static, Any>,
    org: &OrgId,
    id: &UserId,
    at: Timestamp,
) -> StoreResult<bool> {
    sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND org_id = $3 AND revoked_at IS NULL",
    )
    .bind(micros(&at))
    .bind(id.as_str())
    .bind(org.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    let res = sqlx::query("DELETE FROM users WHERE id = $1 AND org_id = $2")
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}
