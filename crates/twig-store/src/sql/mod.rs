//! The SQL backends: one code base over sqlx's `Any` driver, on SQLite (embedded: one file in
//! WAL mode) or PostgreSQL (scaled out: many nodes, one database).
//!
//! Statements are written once, in the SQL both engines accept, with `$n` placeholders (SQLite
//! takes them too); the few that differ ask [`Dialect`]. Writes are serialized the same way on
//! both: SQLite through a single connection with `BEGIN IMMEDIATE`, PostgreSQL by a
//! transaction-level advisory lock taken first in every write transaction. So commit order is
//! `index_changes.seq` order on both (indexes replay the log by seq and must not miss a change
//! committed late under a smaller seq), and a check-then-write in one transaction cannot race
//! one on another node.

mod agents;
mod analytics;
mod data_sources;
mod documents;
mod interactions;
mod jobs;
mod kb;
mod keys;
mod search;
mod slack;
mod transfer;
mod users;
mod webhooks;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::{Any, AnyPool, Arguments, Encode, Transaction, Type};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;
use twig_core::agent::Agent;
use twig_core::apikey::{ApiKey, KeyHash};
use twig_core::datasource::{DataSource, DataSourceStatus};
use twig_core::id::{AgentId, DataSourceId, KeyId, OrgId, UserId};
use twig_core::ingest::SyncCounters;
use twig_core::org::Org;
use twig_core::page::{Listed, Page};
use twig_core::ratelimit::LimitOverrides;
use twig_core::store::{
    DocumentStore, InteractionStore, JobStore, KbStore, SlackStore, Store, StoreError, StoreResult,
    UserStore, WebhookStore,
};
use twig_core::time::Timestamp;
use twig_core::user::User;
use twig_core::webhook::EventKind;

use crate::secrets::SecretBox;
pub use transfer::{Copied, NOT_COPIED, TABLES};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock every PostgreSQL write transaction takes ("twig" in ASCII).
const WRITE_LOCK: i64 = 0x7477_6967;

/// Which SQL engine a store talks to, for the statements that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3 (bundled by sqlx).
    Sqlite,
    /// PostgreSQL 15 or later.
    Postgres,
}

/// Store backed by SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    read: AnyPool,
    write: AnyPool,
    dialect: Dialect,
    secrets: SecretBox,
}

impl SqlStore {
    /// Opens or creates the SQLite database at `path` and runs pending migrations; secrets are
    /// sealed with the key in `secret.key` beside it (created on first start).
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with_key(path, None).await
    }

    /// [`Self::open`] with the secret key given (hex or base64 of 32 bytes) instead of the key file.
    pub async fn open_with_key(path: &Path, secret_key: Option<&str>) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let url = format!("sqlite://{}", path.display());
        let write = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| sqlite_pragmas(conn, false))
            .connect(&format!("{url}?mode=rwc"))
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        SQLITE_MIGRATOR
            .run(&write)
            .await
            .context("running migrations")?;
        let read = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(|conn, _| sqlite_pragmas(conn, true))
            .connect(&format!("{url}?mode=ro"))
            .await
            .context("opening read connections")?;
        let secrets = match secret_key {
            Some(k) => SecretBox::parse(k)?,
            None => {
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
                SecretBox::load_or_create(&dir.unwrap_or(Path::new(".")).join("secret.key"))?
            }
        };
        let store = Self {
            read,
            write,
            dialect: Dialect::Sqlite,
            secrets,
        };
        store.seal_plain_secrets().await?;
        Ok(store)
    }

    /// Connects to the PostgreSQL database at `url` and runs pending migrations. Every node of
    /// a deployment must be given the same `secret_key`: there is no key file to share.
    pub async fn connect_postgres(url: &str, secret_key: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let secrets = SecretBox::parse(secret_key)?;
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .context("connecting")?;
        POSTGRES_MIGRATOR
            .run(&pool)
            .await
            .context("running migrations")?;
        let store = Self {
            read: pool.clone(),
            write: pool,
            dialect: Dialect::Postgres,
            secrets,
        };
        store.seal_plain_secrets().await?;
        Ok(store)
    }

    /// The engine this store talks to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Seals secrets written before encryption at rest existed (runs at every open; cheap).
    async fn seal_plain_secrets(&self) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, type, config FROM data_sources")
                .fetch_all(&mut *tx)
                .await?;
        for (id, kind, config) in rows {
            let Some(kind) = twig_core::datasource::DataSourceType::parse_stored(&kind) else {
                continue;
            };
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&config)?;
            let sealed = data_sources::seal_config(kind, &map, &self.secrets);
            if sealed != config {
                sqlx::query("UPDATE data_sources SET config = $1 WHERE id = $2")
                    .bind(sealed)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for col in ["secret", "previous_secret"] {
            let rows: Vec<(String, String)> = sqlx::query_as(&format!(
                "SELECT id, {col} FROM webhooks WHERE {col} IS NOT NULL AND {col} NOT LIKE 'enc:v1:%'"
            ))
            .fetch_all(&mut *tx)
            .await?;
            for (id, plain) in rows {
                sqlx::query(&format!("UPDATE webhooks SET {col} = $1 WHERE id = $2"))
                    .bind(self.secrets.seal(&plain))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A write transaction for statements that each touch one row and re-check its state in
    /// their own WHERE (job claims, heartbeats, outcomes): PostgreSQL's row locks order them,
    /// so they skip the global write lock there and job traffic does not queue behind it.
    /// On SQLite it is [`Self::begin`].
    async fn begin_row_writes(&self) -> StoreResult<Transaction<'static, Any>> {
        match self.dialect {
            Dialect::Sqlite => self.begin().await,
            Dialect::Postgres => self.write.begin().await.map_err(backend),
        }
    }

    /// A write transaction, serialized with every other one (see the module doc).
    async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        match self.dialect {
            Dialect::Sqlite => self
                .write
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(backend),
            Dialect::Postgres => {
                let mut tx = self.write.begin().await.map_err(backend)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                Ok(tx)
            }
        }
    }
}

/// Sets up a SQLite connection: sqlx's URL options cannot set these. Operator commands may
/// write while the server runs, so writers wait for the lock instead of failing.
fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    read_only: bool,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        let mut pragmas = vec![
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
            "PRAGMA busy_timeout = 10000",
        ];
        if read_only {
            pragmas.push("PRAGMA query_only = ON");
        }
        for p in pragmas {
            sqlx::Executor::execute(&mut *conn, p).await?;
        }
        Ok(())
    })
}

/// A statement assembled at run time with numbered (`$n`) placeholders. sqlx's `QueryBuilder`
/// writes `?` for the `Any` driver, which PostgreSQL rejects.
pub(crate) struct Sql<'q> {
    text: String,
    args: AnyArguments<'q>,
}

impl<'q> Sql<'q> {
    /// Starts with `text`.
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            args: AnyArguments::default(),
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn push_bind<T: 'q + Encode<'q, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        // Encoding into the Any buffer only copies the value; it cannot fail for our types.
        self.args
            .add(value)
            .expect("Any arguments take plain values");
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Appends `(v1, v2, …)`, each value bound.
    pub(crate) fn push_list<T: 'q + Encode<'q, Any> + Type<Any>>(
        &mut self,
        values: impl IntoIterator<Item = T>,
    ) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.push_bind(v);
        }
        self.text.push(')');
        self
    }

    /// The statement, ready to run.
    pub(crate) fn build<'s>(&'s mut self) -> sqlx::query::Query<'s, Any, AnyArguments<'s>>
    where
        'q: 's,
    {
        sqlx::query_with(&self.text, std::mem::take(&mut self.args))
    }

    /// The statement as a one-column query.
    pub(crate) fn build_scalar<'s, O>(
        &'s mut self,
    ) -> sqlx::query::QueryScalar<'s, Any, O, AnyArguments<'s>>
    where
        'q: 's,
        (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(&self.text, std::mem::take(&mut self.args))
    }
}

/// Wraps a backend failure.
pub(crate) fn backend(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Backend(e.into())
}

/// Timestamp to stored microseconds.
pub(crate) fn micros(t: &Timestamp) -> i64 {
    t.timestamp_micros()
}

/// Stored microseconds to timestamp.
pub(crate) fn from_micros(v: i64) -> StoreResult<Timestamp> {
    chrono::DateTime::from_timestamp_micros(v)
        .ok_or_else(|| backend(anyhow::anyhow!("timestamp out of range: {v}")))
}

/// Optional stored microseconds to timestamp.
pub(crate) fn from_micros_opt(v: Option<i64>) -> StoreResult<Option<Timestamp>> {
    v.map(from_micros).transpose()
}

/// Page bounds as SQL integers.
pub(crate) fn bounds(page: Page) -> (i64, i64) {
    (
        i64::from(page.limit),
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    )
}

/// Queues `data_source.synced` or `data_source.failed` in the transaction writing the outcome.
async fn sync_event(
    tx: &mut Transaction<'static, Any>,
    ds: &DataSourceId,
    status: DataSourceStatus,
    error: Option<&str>,
    at: Timestamp,
) -> StoreResult<()> {
    let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT org_id, name, chunks_indexed, sync_total, sync_failed FROM data_sources WHERE id = $1",
    )
    .bind(ds.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    let Some((org, name, chunks, total, failed)) = row else {
        return Ok(());
    };
    let (kind, data) = if status == DataSourceStatus::Failed {
        (
            EventKind::DataSourceFailed,
            serde_json::json!({ "data_source_id": ds.as_str(), "name": name, "status": status.as_str(),
                "error": error }),
        )
    } else {
        (
            EventKind::DataSourceSynced,
            serde_json::json!({ "data_source_id": ds.as_str(), "name": name, "status": status.as_str(),
                "chunks_indexed": chunks, "documents_total": total, "documents_failed": failed,
                "last_synced_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "error": error }),
        )
    };
    webhooks::emit(tx, &OrgId::from_trusted(org), kind, data).await
}

/// Webhook data of agent events: its id and the agent as the API shows it.
fn agent_event(agent: &Agent) -> serde_json::Value {
    serde_json::json!({ "agent_id": agent.id.as_str(), "agent": agent })
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn bootstrap(&self, org: &Org, key: &ApiKey, hash: &KeyHash) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        if n > 0 {
            return Ok(false);
        }
        keys::insert_org(&mut tx, org).await?;
        keys::insert_key(&mut tx, key, hash).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn create_org(&self, org: &Org) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        keys::insert_org(&mut tx, org).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>> {
        keys::get_org(&self.read, id).await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        keys::list_orgs(&self.read).await
    }

    async fn set_org_rate_limits(&self, id: &OrgId, limits: &LimitOverrides) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = keys::set_org_limits(&mut tx, id, limits).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn create_api_key(&self, key: &ApiKey, hash: &KeyHash) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        keys::insert_key(&mut tx, key, hash).await?;
        tx.commit().await.map_err(backend)
    }

    async fn find_api_key(&self, hash: &KeyHash) -> StoreResult<Option<(ApiKey, KeyHash)>> {
        keys::find_key(&self.read, hash).await
    }

    async fn get_api_key(&self, org: Option<&OrgId>, id: &KeyId) -> StoreResult<Option<ApiKey>> {
        keys::get_key(&self.read, org, id).await
    }

    async fn list_api_keys(
        &self,
        org: &OrgId,
        include_revoked: bool,
        page: Page,
    ) -> StoreResult<Listed<ApiKey>> {
        keys::list_keys(&self.read, org, include_revoked, page).await
    }

    async fn update_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = keys::update_key(&mut tx, key).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn revoke_api_key(
        &self,
        org: Option<&OrgId>,
        id: &KeyId,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = keys::revoke_key(&mut tx, org, id, at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn create_agent(&self, agent: &Agent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        agents::insert(&mut tx, agent).await?;
        webhooks::emit(
            &mut tx,
            &agent.org_id,
            EventKind::AgentCreated,
            agent_event(agent),
        )
        .await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_agent(&self, org: &OrgId, id: &AgentId) -> StoreResult<Option<Agent>> {
        agents::get(&self.read, self.dialect, org, id).await
    }

    async fn list_agents(&self, org: &OrgId, page: Page) -> StoreResult<Listed<Agent>> {
        agents::list(&self.read, self.dialect, org, page).await
    }

    async fn update_agent(&self, agent: &Agent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = agents::update(&mut tx, agent).await?;
        if done {
            webhooks::emit(
                &mut tx,
                &agent.org_id,
                EventKind::AgentUpdated,
                agent_event(agent),
            )
            .await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn delete_agent(&self, org: &OrgId, id: &AgentId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = agents::delete(&mut tx, org, id).await?;
        if done {
            let data = serde_json::json!({ "agent_id": id.as_str() });
            webhooks::emit(&mut tx, org, EventKind::AgentDeleted, data).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn create_data_source(&self, ds: &DataSource) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        data_sources::insert(&mut tx, ds, &self.secrets).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_data_source(
        &self,
        org: &OrgId,
        id: &DataSourceId,
    ) -> StoreResult<Option<DataSource>> {
        data_sources::get(&self.read, org, id, &self.secrets).await
    }

    async fn list_data_sources(
        &self,
        org: &OrgId,
        status: Option<DataSourceStatus>,
        page: Page,
    ) -> StoreResult<Listed<DataSource>> {
        data_sources::list(&self.read, org, status, page, &self.secrets).await
    }

    async fn update_data_source(&self, ds: &DataSource) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = data_sources::update(&mut tx, ds, &self.secrets).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn delete_data_source(&self, org: &OrgId, id: &DataSourceId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if data_sources::get(&self.read, org, id, &self.secrets)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        documents::log_data_source_removal(&mut tx, id).await?;
        let done = data_sources::delete(&mut tx, org, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn begin_sync(&self, ds: &DataSourceId, counters: &SyncCounters) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = data_sources::save_counters(&mut tx, ds, counters, true).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn save_sync_counters(
        &self,
        ds: &DataSourceId,
        counters: &SyncCounters,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        data_sources::save_counters(&mut tx, ds, counters, false).await?;
        tx.commit().await.map_err(backend)
    }

    async fn sync_counters(
        &self,
        org: &OrgId,
        ds: &DataSourceId,
    ) -> StoreResult<Option<SyncCounters>> {
        data_sources::counters(&self.read, org, ds).await
    }

    async fn sync_cursor(&self, ds: &DataSourceId) -> StoreResult<Option<serde_json::Value>> {
        let raw: Option<Option<String>> =
            sqlx::query_scalar("SELECT sync_cursor FROM data_sources WHERE id = $1")
                .bind(ds.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(backend)?;
        raw.flatten()
            .map(|s| serde_json::from_str(&s).map_err(backend))
            .transpose()
    }

    async fn save_sync_cursor(
        &self,
        ds: &DataSourceId,
        cursor: Option<&serde_json::Value>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE data_sources SET sync_cursor = $1 WHERE id = $2")
            .bind(cursor.map(|c| c.to_string()))
            .bind(ds.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn record_sync_outcome(
        &self,
        ds: &DataSourceId,
        status: DataSourceStatus,
        error: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = data_sources::record_outcome(&mut tx, ds, status, error, at).await?;
        if done {
            sync_event(&mut tx, ds, status, error, at).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn data_sources_in_status(
        &self,
        status: DataSourceStatus,
    ) -> StoreResult<Vec<DataSource>> {
        data_sources::in_status(&self.read, status, &self.secrets).await
    }

    async fn scheduled_data_sources(&self) -> StoreResult<Vec<(DataSource, Option<Timestamp>)>> {
        data_sources::scheduled(&self.read, &self.secrets).await
    }

    fn documents(&self) -> &dyn DocumentStore {
        self
    }

    fn jobs(&self) -> &dyn JobStore {
        self
    }

    fn users(&self) -> &dyn UserStore {
        self
    }
    fn webhooks(&self) -> &dyn WebhookStore {
        self
    }

    fn kb(&self) -> &dyn KbStore {
        self
    }

    fn interactions(&self) -> &dyn InteractionStore {
        self
    }

    fn slack(&self) -> &dyn SlackStore {
        self
    }

    fn chunk_search(&self) -> Option<&dyn twig_core::store::ChunkSearch> {
        match self.dialect {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(self),
        }
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        users::insert(&mut tx, user).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_user(&self, org: &OrgId, id: &UserId) -> StoreResult<Option<User>> {
        users::get(&self.read, org, id).await
    }

    async fn list_users(&self, org: &OrgId, page: Page) -> StoreResult<Listed<User>> {
        users::list(&self.read, org, page).await
    }

    async fn update_user(&self, user: &User, at: Timestamp) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = users::update(&mut tx, user, at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }

    async fn delete_user(&self, org: &OrgId, id: &UserId, at: Timestamp) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = users::delete(&mut tx, org, id, at).await?;
        tx.commit().await.map_err(backend)?;
        Ok(done)
    }
}
