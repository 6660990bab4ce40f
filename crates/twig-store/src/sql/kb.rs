//! Knowledge-base articles and their versions on SQLite.

use super::{backend, bounds, data_sources, from_micros, micros, SqlStore};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use twig_core::datasource::DataSource;
use twig_core::id::{ArticleId, DataSourceId, OrgId};
use twig_core::kb::{Article, ArticleStatus, ArticleVersion};
use twig_core::page::{Listed, Page};
use twig_core::store::{KbStore, StoreResult};

const COLUMNS: &str =
    "id, org_id, data_source_id, title, content, tags, status, version, created_at, updated_at";

fn status(s: &str) -> StoreResult<ArticleStatus> {
    ArticleStatus::parse(s).ok_or_else(|| backend(anyhow::anyhow!("unknown article status {s:?}")))
}

fn row(r: &AnyRow) -> StoreResult<Article> {
    let tags: String = r.try_get("tags").map_err(backend)?;
    Ok(Article {
        id: ArticleId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        data_source_id: DataSourceId::from_trusted(r.try_get("data_source_id").map_err(backend)?),
        title: r.try_get("title").map_err(backend)?,
        content: r.try_get("content").map_err(backend)?,
        tags: serde_json::from_str(&tags).map_err(backend)?,
        status: status(r.try_get("status").map_err(backend)?)?,
        version: r.try_get::<i64, _>("version").map_err(backend)? as u32,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn version_row(r: &AnyRow) -> StoreResult<ArticleVersion> {
    let tags: String = r.try_get("tags").map_err(backend)?;
    Ok(ArticleVersion {
        article_id: ArticleId::from_trusted(r.try_get("article_id").map_err(backend)?),
        version: r.try_get::<i64, _>("version").map_err(backend)? as u32,
        title: r.try_get("title").map_err(backend)?,
        content: r.try_get("content").map_err(backend)?,
        tags: serde_json::from_str(&tags).map_err(backend)?,
        status: status(r.try_get("status").map_err(backend)?)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
    })
}

async fn insert_version(tx: &mut Transaction<'static, Any>, a: &Article) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO kb_article_versions (article_id, version, title, content, tags, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.id.as_str())
    .bind(i64::from(a.version))
    .bind(&a.title)
    .bind(&a.content)
    .bind(serde_json::to_string(&a.tags).map_err(backend)?)
    .bind(a.status.as_str())
    .bind(micros(&a.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn owned(pool: &sqlx::AnyPool, org: &OrgId, id: &ArticleId) -> StoreResult<bool> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM kb_articles WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    Ok(n.is_some())
}

#[async_trait]
impl KbStore for SqlStore {
    async fn kb_data_source(&self, org: &OrgId) -> StoreResult<DataSource> {
        let mut tx = self.begin().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM data_sources WHERE org_id = $1 AND type = 'kb'")
                .bind(org.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let id = match existing {
            Some(id) => DataSourceId::from_trusted(id),
            None => {
                let ds = DataSource::knowledge_base(org.clone());
                data_sources::insert(&mut tx, &ds, &self.secrets).await?;
                ds.id
            }
        };
        tx.commit().await.map_err(backend)?;
        data_sources::get(&self.read, org, &id, &self.secrets)
            .await?
            .ok_or_else(|| backend(anyhow::anyhow!("kb data source {id} vanished")))
    }

    async fn create_article(&self, a: &Article) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO kb_articles ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(a.id.as_str())
        .bind(a.org_id.as_str())
        .bind(a.data_source_id.as_str())
        .bind(&a.title)
        .bind(&a.content)
        .bind(serde_json::to_string(&a.tags).map_err(backend)?)
        .bind(a.status.as_str())
        .bind(i64::from(a.version))
        .bind(micros(&a.created_at))
        .bind(micros(&a.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        insert_version(&mut tx, a).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_article(&self, org: &OrgId, id: &ArticleId) -> StoreResult<Option<Article>> {
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM kb_articles WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(row).transpose()
    }

    async fn list_articles(
        &self,
        org: &OrgId,
        status: Option<ArticleStatus>,
        page: Page,
    ) -> StoreResult<Listed<Article>> {
        let st = status.map(|s| s.as_str());
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM kb_articles WHERE org_id = $1 AND ($2 IS NULL OR status = $3)",
        )
        .bind(org.as_str())
        .bind(st)
        .bind(st)
        .fetch_one(&self.read)
        .await
        .map_err(backend)?;
        let (limit, offset) = bounds(page);
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM kb_articles WHERE org_id = $1 AND ($2 IS NULL OR status = $3)
             ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(org.as_str())
        .bind(st)
        .bind(st)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        Ok(Listed {
            items: rows.iter().map(row).collect::<StoreResult<_>>()?,
            total: total as u64,
        })
    }

    async fn update_article(&self, a: &Article) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE kb_articles SET title = $1, content = $2, tags = $3, status = $4, version = $5, updated_at = $6
             WHERE org_id = $7 AND id = $8 AND version = $9",
        )
        .bind(&a.title)
        .bind(&a.content)
        .bind(serde_json::to_string(&a.tags).map_err(backend)?)
        .bind(a.status.as_str())
        .bind(i64::from(a.version))
        .bind(micros(&a.updated_at))
        .bind(a.org_id.as_str())
        .bind(a.id.as_str())
        .bind(i64::from(a.version) - 1)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        insert_version(&mut tx, a).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn delete_article(&self, org: &OrgId, id: &ArticleId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM kb_articles WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn list_article_versions(
        &self,
        org: &OrgId,
        id: &ArticleId,
        page: Page,
    ) -> StoreResult<Option<Listed<ArticleVersion>>> {
        if !owned(&self.read, org, id).await? {
            return Ok(None);
        }
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM kb_article_versions WHERE article_id = $1")
                .bind(id.as_str())
                .fetch_one(&self.read)
                .await
                .map_err(backend)?;
        let (limit, offset) = bounds(page);
        let rows = sqlx::query(
            "SELECT article_id, version, title, content, tags, status, created_at FROM kb_article_versions
             WHERE article_id = $1 ORDER BY version DESC LIMIT $2 OFFSET $3",
        )
        .bind(id.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        Ok(Some(Listed {
            items: rows.iter().map(version_row).collect::<StoreResult<_>>()?,
            total: total as u64,
        }))
    }

    async fn get_article_version(
        &self,
        org: &OrgId,
        id: &ArticleId,
        version: u32,
    ) -> StoreResult<Option<ArticleVersion>> {
        if !owned(&self.read, org, id).await? {
            return Ok(None);
        }
        let r = sqlx::query(
            "SELECT article_id, version, title, content, tags, status, created_at FROM kb_article_versions
             WHERE article_id = $1 AND version = $2",
        )
        .bind(id.as_str())
        .bind(i64::from(version))
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(version_row).transpose()
    }

    async fn article_ids(
        &self,
        after: Option<&ArticleId>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, ArticleId)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT org_id, id FROM kb_articles WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after.map(|a| a.as_str()).unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(o, a)| (OrgId::from_trusted(o), ArticleId::from_trusted(a)))
            .collect())
    }
}
