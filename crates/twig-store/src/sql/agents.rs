//! Agents and their data-source links.

use super::{backend, bounds, from_micros, micros, Dialect};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use twig_core::agent::{Agent, AgentStatus, RagStrategy};
use twig_core::id::{AgentId, DataSourceId, OrgId};
use twig_core::page::{Listed, Page};
use twig_core::store::{StoreError, StoreResult};

/// The agent columns with its data-source ids as a JSON array, in order.
fn select(d: Dialect) -> String {
    let ds_ids = match d {
        Dialect::Sqlite => {
            "(SELECT json_group_array(data_source_id) FROM
                (SELECT data_source_id FROM agent_data_sources WHERE agent_id = a.id ORDER BY position))"
        }
        Dialect::Postgres => {
            "(SELECT COALESCE(json_agg(data_source_id ORDER BY position), '[]')::text
                FROM agent_data_sources WHERE agent_id = a.id)"
        }
    };
    format!(
        "SELECT a.id, a.org_id, a.name, a.system_prompt, a.rag_strategy, a.model, a.temperature,
            a.max_tokens, a.status, a.created_at, a.updated_at, {ds_ids} AS ds_ids FROM agents a"
    )
}

fn row(r: &AnyRow) -> StoreResult<Agent> {
    let strategy: String = r.try_get("rag_strategy").map_err(backend)?;
    let status: String = r.try_get("status").map_err(backend)?;
    let ds_json: String = r.try_get("ds_ids").map_err(backend)?;
    let ds_ids: Vec<String> = serde_json::from_str(&ds_json).map_err(backend)?;
    Ok(Agent {
        id: AgentId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        name: r.try_get("name").map_err(backend)?,
        system_prompt: r.try_get("system_prompt").map_err(backend)?,
        rag_strategy: RagStrategy::parse(&strategy)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored rag_strategy {strategy:?}")))?,
        model: r.try_get("model").map_err(backend)?,
        temperature: r.try_get("temperature").map_err(backend)?,
        max_tokens: r.try_get::<i64, _>("max_tokens").map_err(backend)? as u32,
        status: AgentStatus::parse(&status)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored status {status:?}")))?,
        data_source_ids: ds_ids.into_iter().map(DataSourceId::from_trusted).collect(),
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

/// Replaces the agent's links after checking every data source belongs to its org.
async fn link(tx: &mut Transaction<'static, Any>, agent: &Agent) -> StoreResult<()> {
    let mut unknown = Vec::new();
    for ds in &agent.data_source_ids {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM data_sources WHERE id = $1 AND org_id = $2")
                .bind(ds.as_str())
                .bind(agent.org_id.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
        if found.is_none() {
            unknown.push(ds.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(StoreError::UnknownDataSources(unknown));
    }
    sqlx::query("DELETE FROM agent_data_sources WHERE agent_id = $1")
        .bind(agent.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    for (pos, ds) in agent.data_source_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO agent_data_sources (agent_id, data_source_id, position) VALUES ($1, $2, $3)",
        )
        .bind(agent.id.as_str())
        .bind(ds.as_str())
        .bind(pos as i64)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

pub(super) async fn insert(tx: &mut Transaction<'static, Any>, a: &Agent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO agents (id, org_id, name, system_prompt, rag_strategy, model, temperature, max_tokens, status,
            created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(a.id.as_str())
    .bind(a.org_id.as_str())
    .bind(&a.name)
    .bind(&a.system_prompt)
    .bind(a.rag_strategy.as_str())
    .bind(&a.model)
    .bind(a.temperature)
    .bind(i64::from(a.max_tokens))
    .bind(a.status.as_str())
    .bind(micros(&a.created_at))
    .bind(micros(&a.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    link(tx, a).await
}

pub(super) async fn get(
    pool: &AnyPool,
    d: Dialect,
    org: &OrgId,
    id: &AgentId,
) -> StoreResult<Option<Agent>> {
    let r = sqlx::query(&format!("{} WHERE a.org_id = $1 AND a.id = $2", select(d)))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    r.as_ref().map(row).transpose()
}

pub(super) async fn list(
    pool: &AnyPool,
    d: Dialect,
    org: &OrgId,
    page: Page,
) -> StoreResult<Listed<Agent>> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE org_id = $1")
        .bind(org.as_str())
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let (limit, offset) = bounds(page);
    let rows = sqlx::query(&format!(
        "{} WHERE a.org_id = $1 ORDER BY a.created_at DESC, a.id DESC LIMIT $2 OFFSET $3",
        select(d)
    ))
    .bind(org.as_str())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    let items = rows.iter().map(row).collect::<StoreResult<_>>()?;
    Ok(Listed {
        items,
        total: total as u64,
    })
}

pub(super) async fn update(tx: &mut Transaction<'static, Any>, a: &Agent) -> StoreResult<bool> {
    let res = sqlx::query(
        "UPDATE agents SET name = $1, system_prompt = $2, rag_strategy = $3, model = $4, temperature = $5,
            max_tokens = $6, status = $7, updated_at = $8 WHERE id = $9 AND org_id = $10",
    )
    .bind(&a.name)
    .bind(&a.system_prompt)
    .bind(a.rag_strategy.as_str())
    .bind(&a.model)
    .bind(a.temperature)
    .bind(i64::from(a.max_tokens))
    .bind(a.status.as_str())
    .bind(micros(&a.updated_at))
    .bind(a.id.as_str())
    .bind(a.org_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if res.rows_affected() == 0 {
        return Ok(false);
    }
    link(tx, a).await?;
    Ok(true)
}

pub(super) async fn delete(
    tx: &mut Transaction<'static, Any>,
    org: &OrgId,
    id: &AgentId,
) -> StoreResult<bool> {
    let res = sqlx::query("DELETE FROM agents WHERE id = $1 AND org_id = $2")
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(res.rows_affected() == 1)
}
