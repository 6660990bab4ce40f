//! Data-source records.

use super::{backend, bounds, from_micros, from_micros_opt, micros};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use twig_core::datasource::{DataSource, DataSourceStatus, DataSourceType, SyncFrequency};
use twig_core::id::{DataSourceId, OrgId};
use twig_core::ingest::SyncCounters;
use twig_core::page::{Listed, Page};
use twig_core::store::StoreResult;
use twig_core::time::Timestamp;

use crate::secrets::SecretBox;

/// The config as stored: secret fields sealed.
pub(super) fn seal_config(
    kind: DataSourceType,
    config: &Map<String, Value>,
    secrets: &SecretBox,
) -> String {
    let mut out = config.clone();
    for name in kind.secret_fields() {
        if let Some(Value::String(v)) = out.get_mut(name) {
            *v = secrets.seal(v);
        }
    }
    Value::Object(out).to_string()
}

/// The stored config with its secret fields opened.
fn open_config(
    kind: DataSourceType,
    mut config: Map<String, Value>,
    secrets: &SecretBox,
) -> StoreResult<Map<String, Value>> {
    for name in kind.secret_fields() {
        if let Some(Value::String(v)) = config.get_mut(name) {
            *v = secrets.open(v).map_err(backend)?;
        }
    }
    Ok(config)
}

const SELECT: &str =
    "SELECT id, org_id, type, name, config, sync_frequency, status, chunks_indexed,
    last_synced_at, last_error, created_at, updated_at FROM data_sources";

fn row(r: &AnyRow, secrets: &SecretBox) -> StoreResult<DataSource> {
    let kind: String = r.try_get("type").map_err(backend)?;
    let freq: String = r.try_get("sync_frequency").map_err(backend)?;
    let status: String = r.try_get("status").map_err(backend)?;
    let config: String = r.try_get("config").map_err(backend)?;
    let kind = DataSourceType::parse_stored(&kind)
        .ok_or_else(|| backend(anyhow::anyhow!("unknown stored type {kind:?}")))?;
    Ok(DataSource {
        id: DataSourceId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        kind,
        name: r.try_get("name").map_err(backend)?,
        config: open_config(
            kind,
            serde_json::from_str(&config).map_err(backend)?,
            secrets,
        )?,
        sync_frequency: SyncFrequency::parse(&freq)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored sync_frequency {freq:?}")))?,
        status: DataSourceStatus::parse(&status)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored status {status:?}")))?,
        chunks_indexed: r
            .try_get::<i64, _>("chunks_indexed")
            .map_err(backend)?
            .max(0) as u64,
        last_synced_at: from_micros_opt(r.try_get("last_synced_at").map_err(backend)?)?,
        last_error: r.try_get("last_error").map_err(backend)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

pub(super) async fn insert(
    tx: &mut Transaction<'static, Any>,
    d: &DataSource,
    secrets: &SecretBox,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO data_sources (id, org_id, type, name, config, sync_frequency, status, chunks_indexed,
            last_synced_at, last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(d.id.as_str())
    .bind(d.org_id.as_str())
    .bind(d.kind.as_str())
    .bind(&d.name)
    .bind(seal_config(d.kind, &d.config, secrets))
    .bind(d.sync_frequency.as_str())
    .bind(d.status.as_str())
    .bind(d.chunks_indexed as i64)
    .bind(d.last_synced_at.as_ref().map(micros))
    .bind(&d.last_error)
    .bind(micros(&d.created_at))
    .bind(micros(&d.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(super) async fn get(
    pool: &AnyPool,
    org: &OrgId,
    id: &DataSourceId,
    secrets: &SecretBox,
) -> StoreResult<Option<DataSource>> {
    let r = sqlx::query(&format!("{SELECT} WHERE org_id = $1 AND id = $2"))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    r.as_ref().map(|r| row(r, secrets)).transpose()
}

pub(super) async fn list(
    pool: &AnyPool,
    org: &OrgId,
    status: Option<DataSourceStatus>,
    page: Page,
    secrets: &SecretBox,
) -> StoreResult<Listed<DataSource>> {
    let status = status.map(|s| s.as_str());
    let filter = "org_id = $1 AND ($2 IS NULL OR status = $2)";
    let total: i64 =
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM data_sources WHERE {filter}"))
            .bind(org.as_str())
            .bind(status)
            .fetch_one(pool)
            .await
            .map_err(backend)?;
    let (limit, offset) = bounds(page);
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(org.as_str())
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let items = rows
        .iter()
        .map(|r| row(r, secrets))
        .collect::<StoreResult<_>>()?;
    Ok(Listed {
        items,
        total: total as u64,
    })
}

pub(super) async fn update(
    tx: &mut Transaction<'static, Any>,
    d: &DataSource,
    secrets: &SecretBox,
) -> StoreResult<bool> {
    let res = sqlx::query(
        "UPDATE data_sources SET name = $1, config = $2, sync_frequency = $3, updated_at = $4 WHERE id = $5 AND org_id = $6",
    )
    .bind(&d.name)
    .bind(seal_config(d.kind, &d.config, secrets))
    .bind(d.sync_frequency.as_str())
    .bind(micros(&d.updated_at))
    .bind(d.id.as_str())
    .bind(d.org_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}

pub(super) async fn delete(
    tx: &mut Transaction<'static, Any>,
    org: &OrgId,
    id: &DataSourceId,
) -> StoreResult<bool> {
    let res = sqlx::query("DELETE FROM data_sources WHERE id = $1 AND org_id = $2")
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}

pub(super) async fn save_counters(
    tx: &mut Transaction<'static, Any>,
    id: &DataSourceId,
    c: &SyncCounters,
    begin: bool,
) -> StoreResult<bool> {
    let status = if begin { Some("processing") } else { None };
    let res = sqlx::query(
        "UPDATE data_sources SET sync_total = $1, sync_done = $2, sync_failed = $3, sync_started_at = $4,
            status = COALESCE($5, status) WHERE id = $6",
    )
    .bind(c.total as i64)
    .bind(c.done as i64)
    .bind(c.failed as i64)
    .bind(c.started_at.as_ref().map(micros))
    .bind(status)
    .bind(id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}

pub(super) async fn counters(
    pool: &AnyPool,
    org: &OrgId,
    id: &DataSourceId,
) -> StoreResult<Option<SyncCounters>> {
    let r = sqlx::query(
        "SELECT sync_total, sync_done, sync_failed, sync_started_at FROM data_sources WHERE org_id = $1 AND id = $2",
    )
    .bind(org.as_str())
    .bind(id.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    let Some(r) = r else { return Ok(None) };
    let n = |c: &str| -> StoreResult<u64> {
        Ok(r.try_get::<i64, _>(c).map_err(backend)?.max(0) as u64)
    };
    Ok(Some(SyncCounters {
        total: n("sync_total")?,
        done: n("sync_done")?,
        failed: n("sync_failed")?,
        started_at: from_micros_opt(r.try_get("sync_started_at").map_err(backend)?)?,
    }))
}

pub(super) async fn record_outcome(
    tx: &mut Transaction<'static, Any>,
    id: &DataSourceId,
    status: DataSourceStatus,
    error: Option<&str>,
    at: Timestamp,
) -> StoreResult<bool> {
    let synced = (status != DataSourceStatus::Failed).then(|| micros(&at));
    let res = sqlx::query(
        "UPDATE data_sources SET status = $1, last_error = $2, last_synced_at = COALESCE($3, last_synced_at),
            updated_at = $4 WHERE id = $5",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(synced)
    .bind(micros(&at))
    .bind(id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}

pub(super) async fn scheduled(
    pool: &AnyPool,
    secrets: &SecretBox,
) -> StoreResult<Vec<(DataSource, Option<Timestamp>)>> {
    let rows = sqlx::query(
        "SELECT id, org_id, type, name, config, sync_frequency, status, chunks_indexed, last_synced_at,
            last_error, created_at, updated_at, sync_started_at FROM data_sources
         WHERE sync_frequency != 'manual' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok((
                row(r, secrets)?,
                from_micros_opt(r.try_get("sync_started_at").map_err(backend)?)?,
            ))
        })
        .collect()
}

pub(super) async fn in_status(
    pool: &AnyPool,
    status: DataSourceStatus,
    secrets: &SecretBox,
) -> StoreResult<Vec<DataSource>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE status = $1 ORDER BY id"))
        .bind(status.as_str())
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(|r| row(r, secrets)).collect()
}
