//! `twig migrate`: a whole embedded deployment (SQLite) copied into an empty PostgreSQL
//! database, row for row, embeddings included, so nothing is re-embedded or re-crawled.
//!
//! Both schemas keep the same columns, so each table is copied generically: the columns both
//! sides have, each read as the type PostgreSQL declares for it. The copy is one transaction on
//! PostgreSQL under the write lock: it lands whole, with every table's count verified, or not
//! at all. Sealed secrets are copied as they are, so the PostgreSQL nodes must use the key the
//! SQLite deployment sealed them with.

use super::{backend, Sql, SqlStore};
use anyhow::{bail, Context};
use sqlx::any::AnyRow;
use sqlx::{Row, ValueRef};
use twig_core::document::decode_embedding;
use twig_core::store::ChunkSearch;

/// Tables in an order that keeps every foreign key satisfied. The index change log is not
/// copied: PostgreSQL searches in the database and replays nothing.
pub const TABLES: &[&str] = &[
    "orgs",
    "users",
    "api_keys",
    "data_sources",
    "agents",
    "agent_data_sources",
    "documents",
    "chunks",
    "index_meta",
    "jobs",
    "sessions",
    "session_turns",
    "interactions",
    "webhooks",
    "webhook_deliveries",
    "kb_articles",
    "kb_article_versions",
    "slack_settings",
    "slack_events",
];

/// Tables deliberately left behind.
pub const NOT_COPIED: &[&str] = &["index_changes"];

/// Rows read and written per statement.
const PAGE: i64 = 200;

/// Rows copied into one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Table name.
    pub table: &'static str,
    /// Rows in the source, and now in the destination.
    pub rows: u64,
}

/// How a column's values are read from SQLite and bound for PostgreSQL.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Float,
    Text,
    Bytes,
}

impl SqlStore {
    /// Copies every record of this (SQLite) store into `dest` (PostgreSQL), which must hold no
    /// organisation yet; returns the rows per table, each verified against the source.
    pub async fn copy_into(&self, dest: &SqlStore) -> anyhow::Result<Vec<Copied>> {
        if self.dialect != super::Dialect::Sqlite || dest.dialect != super::Dialect::Postgres {
            bail!("the copy goes from SQLite to PostgreSQL");
        }
        let mut tx = dest.begin().await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
            .fetch_one(&mut *tx)
            .await?;
        if existing > 0 {
            bail!("the PostgreSQL database already holds a deployment ({existing} organisations): migrate into an empty one");
        }
        let mut report = Vec::new();
        for &table in TABLES {
            let src_cols: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&self.read)
                    .await?;
            let dst: Vec<(String, String)> = sqlx::query_as(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
                 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut *tx)
            .await?;
            let mut cols: Vec<(String, Kind)> = Vec::new();
            for name in &src_cols {
                let Some((_, ty)) = dst.iter().find(|(n, _)| n == name) else {
                    bail!("column {table}.{name} has no place in the PostgreSQL schema");
                };
                let kind = match ty.as_str() {
                    "bigint" | "integer" | "smallint" => Kind::Int,
                    "double precision" | "real" => Kind::Float,
                    "text" => Kind::Text,
                    "bytea" => Kind::Bytes,
                    other => bail!("column {table}.{name}: no copy for PostgreSQL type {other}"),
                };
                cols.push((name.clone(), kind));
            }
            let list = cols
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let mut after = i64::MIN;
            let mut rows = 0u64;
            loop {
                let page: Vec<AnyRow> = sqlx::query(&format!(
                    "SELECT rowid AS twig_rowid, {list} FROM {table} WHERE rowid > $1 ORDER BY rowid LIMIT $2"
                ))
                .bind(after)
                .bind(PAGE)
                .fetch_all(&self.read)
                .await?;
                let Some(last) = page.last() else { break };
                after = last.try_get("twig_rowid")?;
                let mut q = Sql::new(format!("INSERT INTO {table} ({list}) VALUES "));
                for (i, r) in page.iter().enumerate() {
                    q.push(if i == 0 { "(" } else { ", (" });
                    for (j, (name, kind)) in cols.iter().enumerate() {
                        if j > 0 {
                            q.push(", ");
                        }
                        bind(&mut q, r, name, *kind).with_context(|| format!("{table}.{name}"))?;
                    }
                    q.push(")");
                }
                q.build()
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("writing {table}"))?;
                rows += page.len() as u64;
            }
            let src_n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&self.read)
                .await?;
            let dst_n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut *tx)
                .await?;
            if src_n as u64 != rows || dst_n as u64 != rows {
                bail!("{table}: {src_n} rows in SQLite, {rows} copied, {dst_n} in PostgreSQL");
            }
            report.push(Copied { table, rows });
        }
        tx.commit().await.map_err(backend)?;
        // What in-database search needs: each chunk's scope and vector, and the HNSW index.
        let first: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT embedding FROM chunks WHERE embedding IS NOT NULL LIMIT 1")
                .fetch_optional(&dest.read)
                .await?;
        let dim = first.as_deref().and_then(decode_embedding).map(|v| v.len());
        dest.prepare(dim).await?;
        Ok(report)
    }
}

/// Binds column `name` of `r` as `kind` (NULL stays NULL).
fn bind(q: &mut Sql<'_>, r: &AnyRow, name: &str, kind: Kind) -> anyhow::Result<()> {
    if r.try_get_raw(name)?.is_null() {
        q.push("NULL");
        return Ok(());
    }
    match kind {
        Kind::Int => q.push_bind(r.try_get::<i64, _>(name)?),
        Kind::Float => q.push_bind(r.try_get::<f64, _>(name)?),
        Kind::Text => q.push_bind(r.try_get::<String, _>(name)?),
        Kind::Bytes => q.push_bind(r.try_get::<Vec<u8>, _>(name)?),
    };
    Ok(())
}
