//! The storage port: every read and write of records goes through [`Store`].
//!
//! Every method that touches tenant data takes the caller's [`OrgId`], so a
//! record of another organisation is indistinguishable from a missing one.

use crate::agent::Agent;
use crate::analytics::{AnalyticsQuery, Bucket, Metrics};
use crate::apikey::{ApiKey, KeyHash};
use crate::datasource::{DataSource, DataSourceStatus};
use crate::document::{
    ChunkDetail, Document, DocumentCounts, DocumentStatus, IndexChange, StoredChunk, VectorRow,
};
use crate::error::Error;
use crate::id::{
    AgentId, ArticleId, ChunkId, DataSourceId, DeliveryId, DocumentId, InteractionId, JobId, KeyId,
    OrgId, SessionId, UserId, WebhookId,
};
use crate::ingest::SyncCounters;
use crate::interaction::{Feedback, Interaction, InteractionFilter, Session, SessionAppend, Turn};
use crate::job::{Job, JobOutcome, NewJob};
use crate::kb::{Article, ArticleStatus, ArticleVersion};
use crate::org::Org;
use crate::page::{Listed, Page};
use crate::ratelimit::LimitOverrides;
use crate::slack::{ReceivedEvent, SlackSettings};
use crate::time::Timestamp;
use crate::user::User;
use crate::webhook::{Delivery, DeliveryAttempt, DeliveryStatus, SigningSecrets, Webhook};
use async_trait::async_trait;

/// What can go wrong in a store, beyond "not found" (which is `Ok(None)` / `Ok(false)`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Referenced data sources do not exist in the organisation.
    #[error("unknown data source(s): {}", .0.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", "))]
    UnknownDataSources(Vec<DataSourceId>),
    /// A uniqueness rule was violated.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed (I/O, corruption, pool exhausted…).
    #[error("storage backend error")]
    Backend(#[source] anyhow::Error),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            // A referenced record that does not exist is a 404, as the reference's own example
            // ("404: Agent not found" for a body's agent_id) has it.
            StoreError::UnknownDataSources(ids) => {
                let list: Vec<&str> = ids.iter().map(|d| d.as_str()).collect();
                Error::not_found("Data source", list.join(", "))
            }
            StoreError::Conflict(m) => Error::invalid(m),
            StoreError::Backend(err) => Error::Internal(err.context("storage backend error")),
        }
    }
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Record storage for one deployment (SQLite embedded, PostgreSQL scaled out).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the backend answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates `org` and `key` only if no organisation exists yet; tells whether it did.
    async fn bootstrap(&self, org: &Org, key: &ApiKey, hash: &KeyHash) -> StoreResult<bool>;

    /// Inserts an organisation.
    async fn create_org(&self, org: &Org) -> StoreResult<()>;
    /// Reads an organisation.
    async fn get_org(&self, id: &OrgId) -> StoreResult<Option<Org>>;
    /// All organisations, oldest first (operator use).
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;
    /// Replaces an organisation's rate-limit overrides; false if it does not exist.
    async fn set_org_rate_limits(&self, id: &OrgId, limits: &LimitOverrides) -> StoreResult<bool>;

    /// Inserts a key record with the hash of its secret.
    async fn create_api_key(&self, key: &ApiKey, hash: &KeyHash) -> StoreResult<()>;
    /// Finds the key whose secret hashes to `hash`, revoked or not.
    async fn find_api_key(&self, hash: &KeyHash) -> StoreResult<Option<(ApiKey, KeyHash)>>;
    /// Reads a key; `org = None` is the operator's unscoped view.
    async fn get_api_key(&self, org: Option<&OrgId>, id: &KeyId) -> StoreResult<Option<ApiKey>>;
    /// Lists an organisation's keys, newest first.
    async fn list_api_keys(
        &self,
        org: &OrgId,
        include_revoked: bool,
        page: Page,
    ) -> StoreResult<Listed<ApiKey>>;
    /// Saves a non-revoked key's `name` and `rate_limits`; false if missing or revoked.
    async fn update_api_key(&self, key: &ApiKey) -> StoreResult<bool>;
    /// Marks a key revoked at `at`; false if missing or already revoked.
    async fn revoke_api_key(
        &self,
        org: Option<&OrgId>,
        id: &KeyId,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// Inserts an agent; its data sources must exist in its organisation.
    async fn create_agent(&self, agent: &Agent) -> StoreResult<()>;
    /// Reads an agent.
    async fn get_agent(&self, org: &OrgId, id: &AgentId) -> StoreResult<Option<Agent>>;
    /// Lists agents, newest first.
    async fn list_agents(&self, org: &OrgId, page: Page) -> StoreResult<Listed<Agent>>;
    /// Replaces an agent's fields; false if it does not exist.
    async fn update_agent(&self, agent: &Agent) -> StoreResult<bool>;
    /// Deletes an agent; false if it did not exist.
    async fn delete_agent(&self, org: &OrgId, id: &AgentId) -> StoreResult<bool>;

    /// Inserts a data source.
    async fn create_data_source(&self, ds: &DataSource) -> StoreResult<()>;
    /// Reads a data source.
    async fn get_data_source(
        &self,
        org: &OrgId,
        id: &DataSourceId,
    ) -> StoreResult<Option<DataSource>>;
    /// Lists data sources, newest first, optionally by status.
    async fn list_data_sources(
        &self,
        org: &OrgId,
        status: Option<DataSourceStatus>,
        page: Page,
    ) -> StoreResult<Listed<DataSource>>;
    /// Replaces a data source's user-editable fields; false if it does not exist.
    async fn update_data_source(&self, ds: &DataSource) -> StoreResult<bool>;
    /// Deletes a data source with its documents (logging their removal); false if it did not exist.
    async fn delete_data_source(&self, org: &OrgId, id: &DataSourceId) -> StoreResult<bool>;

    /// Starts (or resumes) a sync run: status `processing`, counters as given.
    async fn begin_sync(&self, ds: &DataSourceId, counters: &SyncCounters) -> StoreResult<bool>;
    /// Saves the counters of the running sync.
    async fn save_sync_counters(
        &self,
        ds: &DataSourceId,
        counters: &SyncCounters,
    ) -> StoreResult<()>;
    /// Counters of the current or last sync of a data source of the org.
    async fn sync_counters(
        &self,
        org: &OrgId,
        ds: &DataSourceId,
    ) -> StoreResult<Option<SyncCounters>>;
    /// Writes the final status of a sync (and `last_synced_at = at` unless it failed), with
    /// `last_error`. The one place a sync's outcome is written: a webhook outbox row for
    /// `data_source.synced` / `data_source.failed` belongs in this transaction.
    async fn record_sync_outcome(
        &self,
        ds: &DataSourceId,
        status: DataSourceStatus,
        error: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Where the next connector sync of `ds` resumes: the cursor saved after its last committed page.
    async fn sync_cursor(&self, ds: &DataSourceId) -> StoreResult<Option<serde_json::Value>>;
    /// Saves (or, with `None`, clears) the connector cursor of `ds`.
    async fn save_sync_cursor(
        &self,
        ds: &DataSourceId,
        cursor: Option<&serde_json::Value>,
    ) -> StoreResult<()>;
    /// Data sources of every org in `status` (e.g. `processing`, to find syncs whose job died).
    async fn data_sources_in_status(
        &self,
        status: DataSourceStatus,
    ) -> StoreResult<Vec<DataSource>>;
    /// Data sources of every org with an automatic schedule, with when their last sync started.
    async fn scheduled_data_sources(&self) -> StoreResult<Vec<(DataSource, Option<Timestamp>)>>;

    /// Documents, chunks and the index change log.
    fn documents(&self) -> &dyn DocumentStore;

    /// The durable job queue.
    fn jobs(&self) -> &dyn JobStore;

    /// Users of organisations, and the keys they own.
    fn users(&self) -> &dyn UserStore;
    /// Webhook endpoints and the outbox of their deliveries.
    fn webhooks(&self) -> &dyn WebhookStore;

    /// Knowledge-base articles and their versions.
    fn kb(&self) -> &dyn KbStore;

    /// Sessions and interactions (queries, answers, feedback).
    fn interactions(&self) -> &dyn InteractionStore;

    /// The Slack app: workspaces connected to organisations, and the events already taken.
    fn slack(&self) -> &dyn SlackStore;

    /// Search inside the database, when the backend has it (PostgreSQL with pgvector): the
    /// engine then keeps no index of its own, so every node sees every write at once.
    fn chunk_search(&self) -> Option<&dyn ChunkSearch> {
        None
    }
}

/// A chunk a database-side retriever found, with that retriever's raw score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredChunk {
    /// The chunk.
    pub chunk_id: ChunkId,
    /// Lexical rank score, or cosine similarity for vector search; higher is better.
    pub score: f32,
}

/// Lexical and vector candidates computed by the database, scoped to an org and, optionally,
/// some of its data sources inside the query.
#[async_trait]
pub trait ChunkSearch: Send + Sync {
    /// Builds what search needs: the scope of chunks copied in without it and, for embeddings
    /// of `dim`, the vector index and the vectors of chunks written before it existed.
    /// Idempotent, and safe on several nodes at once.
    async fn prepare(&self, dim: Option<usize>) -> StoreResult<()>;
    /// The `limit` best lexical matches of `query`, ranking a bounded number of candidates.
    async fn lexical(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &str,
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>>;
    /// The same matches ranked over every chunk holding a query word (what the bounded
    /// search is measured against).
    async fn lexical_exact(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &str,
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>>;
    /// The `limit` chunks nearest to `query` by cosine (approximate index search).
    async fn nearest(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &[f32],
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>>;
    /// The same `limit` nearest chunks by an exact scan (the reference recall is measured against).
    async fn nearest_exact(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
        query: &[f32],
        limit: usize,
    ) -> StoreResult<Vec<ScoredChunk>>;
    /// Cosine similarity of `query` to each of `ids` of the org that has an embedding.
    async fn cosines(
        &self,
        org: &OrgId,
        query: &[f32],
        ids: &[ChunkId],
    ) -> StoreResult<Vec<ScoredChunk>>;
}

/// Slack app settings per organisation, and the durable memory of Slack events.
#[async_trait]
pub trait SlackStore: Send + Sync {
    /// The org's Slack settings.
    async fn get_slack_settings(&self, org: &OrgId) -> StoreResult<Option<SlackSettings>>;
    /// The settings of whichever org connected workspace `team_id` (Slack's requests name
    /// only the workspace).
    async fn slack_settings_for_team(&self, team_id: &str) -> StoreResult<Option<SlackSettings>>;
    /// Creates or replaces the org's settings (`created_at` of existing ones is kept);
    /// `Conflict` if another org has connected the same workspace.
    async fn put_slack_settings(&self, settings: &SlackSettings) -> StoreResult<()>;
    /// Remembers `event` and enqueues `job` in one transaction, unless the workspace's event
    /// id was seen before: then nothing is written and the answer is false. Events older
    /// than [`crate::slack::EVENT_MEMORY`] before this one are forgotten.
    async fn accept_slack_event(&self, event: &ReceivedEvent, job: &NewJob) -> StoreResult<bool>;
}

/// Multi-turn sessions and the record of every query.
#[async_trait]
pub trait InteractionStore: Send + Sync {
    /// A session of the org that has not expired at `now`.
    async fn get_session(
        &self,
        org: &OrgId,
        id: &SessionId,
        now: Timestamp,
    ) -> StoreResult<Option<Session>>;
    /// The last `limit` turns of a session of the org, oldest first.
    async fn session_turns(
        &self,
        org: &OrgId,
        id: &SessionId,
        limit: u32,
    ) -> StoreResult<Vec<Turn>>;
    /// Stores an interaction and, in the same transaction, appends turns to its session
    /// (creating it if new). Fails with `Conflict` if the session belongs to another
    /// org or agent. The one write of a finished query (an outbox row will join it).
    async fn record_interaction(
        &self,
        interaction: &Interaction,
        session: Option<&SessionAppend>,
    ) -> StoreResult<()>;
    /// An interaction of the org.
    async fn get_interaction(
        &self,
        org: &OrgId,
        id: &InteractionId,
    ) -> StoreResult<Option<Interaction>>;
    /// Interactions of the org, newest first.
    async fn list_interactions(
        &self,
        org: &OrgId,
        filter: &InteractionFilter,
        page: Page,
    ) -> StoreResult<Listed<Interaction>>;
    /// Sets (overwrites) the feedback of an interaction; the updated record, or `None` if missing.
    async fn set_feedback(
        &self,
        org: &OrgId,
        id: &InteractionId,
        feedback: Feedback,
        comment: Option<&str>,
    ) -> StoreResult<Option<Interaction>>;
    /// Deletes the org's sessions (with their turns) that expired at or before `now`; how many.
    async fn delete_expired_sessions(&self, org: &OrgId, now: Timestamp) -> StoreResult<u64>;
    /// Totals over the org's interactions in the query's range, and its non-empty buckets
    /// (oldest first), aggregated by the database.
    async fn analytics(
        &self,
        org: &OrgId,
        query: &AnalyticsQuery,
    ) -> StoreResult<(Metrics, Vec<Bucket>)>;
}

/// Knowledge-base articles; every write of an article also writes its version row.
#[async_trait]
pub trait KbStore: Send + Sync {
    /// The org's built-in `kb` data source, created on first use (one per org).
    async fn kb_data_source(&self, org: &OrgId) -> StoreResult<DataSource>;
    /// Inserts an article and its version 1.
    async fn create_article(&self, article: &Article) -> StoreResult<()>;
    /// Reads an article at its latest version.
    async fn get_article(&self, org: &OrgId, id: &ArticleId) -> StoreResult<Option<Article>>;
    /// Lists articles, newest first, optionally by status.
    async fn list_articles(
        &self,
        org: &OrgId,
        status: Option<ArticleStatus>,
        page: Page,
    ) -> StoreResult<Listed<Article>>;
    /// Stores `article` as its next version, only if the stored one is `article.version - 1`
    /// (a concurrent writer makes this return false); writes the version row.
    async fn update_article(&self, article: &Article) -> StoreResult<bool>;
    /// Deletes an article with its versions; false if missing.
    async fn delete_article(&self, org: &OrgId, id: &ArticleId) -> StoreResult<bool>;
    /// Versions of an article, newest first (`None` if the article does not exist).
    async fn list_article_versions(
        &self,
        org: &OrgId,
        id: &ArticleId,
        page: Page,
    ) -> StoreResult<Option<Listed<ArticleVersion>>>;
    /// One version of an article.
    async fn get_article_version(
        &self,
        org: &OrgId,
        id: &ArticleId,
        version: u32,
    ) -> StoreResult<Option<ArticleVersion>>;
    /// Ids of every article (all orgs) after `after`, in id order, for reconciling the index.
    async fn article_ids(
        &self,
        after: Option<&ArticleId>,
        limit: u32,
    ) -> StoreResult<Vec<(OrgId, ArticleId)>>;
}

/// What a delivery worker needs to send one attempt.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    /// The delivery (its body is the exact bytes to send).
    pub delivery: Delivery,
    /// The endpoint.
    pub webhook: Webhook,
    /// Its signing secrets.
    pub secrets: SigningSecrets,
}

/// How a delivery attempt ended, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The attempt.
    pub attempt: DeliveryAttempt,
    /// `Succeeded`, `Failed` (for good), or `Pending` with the next attempt's time.
    pub status: DeliveryStatus,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// Disable the endpoint if this failed for good and it has been failing since before this.
    pub disable_if_failing_since: Option<Timestamp>,
}

/// Webhook endpoints and deliveries. Events enter the outbox inside the
/// transaction of the change that caused them (see each store method's doc);
/// delivery jobs are enqueued in that same transaction.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts an endpoint with its secret; `Conflict` past [`crate::webhook::MAX_WEBHOOKS`].
    async fn create_webhook(&self, hook: &Webhook, secret: &str) -> StoreResult<()>;
    /// Reads an endpoint.
    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> StoreResult<Option<Webhook>>;
    /// Lists endpoints, newest first.
    async fn list_webhooks(&self, org: &OrgId, page: Page) -> StoreResult<Listed<Webhook>>;
    /// Replaces url, description, events, enabled, disabled_reason and failing_since; false if missing.
    async fn update_webhook(&self, hook: &Webhook) -> StoreResult<bool>;
    /// Deletes an endpoint and its deliveries; false if missing.
    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> StoreResult<bool>;
    /// Makes `secret` current, keeping the old one valid until `previous_until`; false if missing.
    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: &str,
        previous_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Queues a `ping` event to one endpoint (enabled or not); `None` if it does not exist.
    async fn send_ping(&self, org: &OrgId, id: &WebhookId) -> StoreResult<Option<Delivery>>;
    /// Lists an endpoint's deliveries, newest first.
    async fn list_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        page: Page,
    ) -> StoreResult<Listed<Delivery>>;
    /// Reads one delivery of an endpoint.
    async fn get_delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: &DeliveryId,
    ) -> StoreResult<Option<Delivery>>;
    /// Sends a delivery again (same event id and body): pending, with a new delivery job.
    async fn redeliver(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: &DeliveryId,
    ) -> StoreResult<Option<Delivery>>;
    /// A delivery with its endpoint and secrets, for the worker; `None` if either is gone.
    async fn delivery_target(&self, id: &DeliveryId) -> StoreResult<Option<DeliveryTarget>>;
    /// Appends an attempt and moves the delivery and the endpoint's failure run along;
    /// returns the endpoint as it now stands (it may have been disabled).
    async fn record_attempt(
        &self,
        id: &DeliveryId,
        record: &AttemptRecord,
    ) -> StoreResult<Option<Webhook>>;
}

/// Users; each write keeps the user's keys within the user's role in the same transaction.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user; `Conflict` if the org already has the email (compared case-insensitively).
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// Reads a user of the org.
    async fn get_user(&self, org: &OrgId, id: &UserId) -> StoreResult<Option<User>>;
    /// Lists the org's users, oldest first.
    async fn list_users(&self, org: &OrgId, page: Page) -> StoreResult<Listed<User>>;
    /// Replaces a user's fields and narrows the scopes of the user's active keys to the
    /// (new) role, revoking keys left with none at `at`; false if the user does not exist.
    /// `Conflict` if the new email is taken.
    async fn update_user(&self, user: &User, at: Timestamp) -> StoreResult<bool>;
    /// Deletes a user and revokes the user's keys at `at`, atomically; false if missing.
    async fn delete_user(&self, org: &OrgId, id: &UserId, at: Timestamp) -> StoreResult<bool>;
}

/// The durable job queue, in the same database as the records.
///
/// A claim is atomic and takes a lease; a worker that dies leaves a lease that
/// expires, and the job is claimed again (its progress is the checkpoint).
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Enqueues a job, unless an unfinished job with the same dedupe key exists:
    /// then that one is returned and `false` tells nothing was created.
    async fn enqueue(&self, job: NewJob) -> StoreResult<(Job, bool)>;
    /// Claims the oldest due job of `kinds` (queued and due, or running with a lapsed lease)
    /// for `worker` until `now + lease`. A lapsed job with no attempts left fails instead.
    async fn claim(
        &self,
        worker: &str,
        kinds: &[&str],
        now: Timestamp,
        lease: std::time::Duration,
    ) -> StoreResult<Option<Job>>;
    /// Extends the lease and saves progress when given; false if `worker` no longer holds the job.
    async fn heartbeat(
        &self,
        id: &JobId,
        worker: &str,
        now: Timestamp,
        lease: std::time::Duration,
        progress: Option<&serde_json::Value>,
    ) -> StoreResult<bool>;
    /// Records the outcome of the current attempt; false if `worker` no longer holds the job.
    async fn finish(&self, id: &JobId, worker: &str, outcome: JobOutcome) -> StoreResult<bool>;
    /// The newest job with `dedupe_key` (finished or not).
    async fn latest_job(&self, dedupe_key: &str) -> StoreResult<Option<Job>>;
    /// Reads a job of the org.
    async fn get_job(&self, org: &OrgId, id: &JobId) -> StoreResult<Option<Job>>;
    /// How many jobs there are of each kind and status (for metrics), sorted by kind, status.
    async fn job_counts(&self) -> StoreResult<Vec<(String, crate::job::JobStatus, u64)>>;
}

/// Storage of documents and chunks, and the change log derived indexes replay.
///
/// Every write appends to the change log in the same transaction, so an index
/// that crashed mid-update catches up by replaying from its last applied seq.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// The document with `source_key` in a data source.
    async fn find_document(
        &self,
        ds: &DataSourceId,
        source_key: &str,
    ) -> StoreResult<Option<Document>>;
    /// A document of the org.
    async fn get_document(&self, org: &OrgId, id: &DocumentId) -> StoreResult<Option<Document>>;
    /// Inserts or replaces a document and all its chunks atomically; returns the change seq.
    /// Fails with `Conflict` if the data source no longer exists.
    async fn upsert_document(&self, doc: &Document, chunks: &[StoredChunk]) -> StoreResult<u64>;
    /// Deletes a document and its chunks; returns the change seq, or `None` if it did not exist.
    async fn delete_document(&self, org: &OrgId, id: &DocumentId) -> StoreResult<Option<u64>>;
    /// Changes after `seq`, oldest first.
    async fn changes_since(&self, seq: u64, limit: u32) -> StoreResult<Vec<IndexChange>>;
    /// Highest change seq so far (0 when none).
    async fn last_change(&self) -> StoreResult<u64>;
    /// Forgets changes up to `seq` once every index has applied them.
    async fn prune_changes(&self, upto: u64) -> StoreResult<()>;
    /// A document with its chunks (embeddings included), by id alone (index replay).
    async fn document_with_chunks(
        &self,
        id: &DocumentId,
    ) -> StoreResult<Option<(Document, Vec<StoredChunk>)>>;
    /// Embeddings of all chunks after `after` (a chunk id, in id order), for loading the vector index.
    async fn vector_rows(&self, after: Option<&ChunkId>, limit: u32)
        -> StoreResult<Vec<VectorRow>>;
    /// Chunks of the org by id, with their document's title and URL; unknown ids are skipped.
    async fn chunk_details(&self, org: &OrgId, ids: &[ChunkId]) -> StoreResult<Vec<ChunkDetail>>;
    /// Chunks searchable by the org, optionally within some data sources.
    async fn count_chunks(
        &self,
        org: &OrgId,
        data_sources: Option<&[DataSourceId]>,
    ) -> StoreResult<u64>;
    /// Ids of all documents after `after`, in id order (for re-embedding everything).
    async fn document_ids(
        &self,
        after: Option<&DocumentId>,
        limit: u32,
    ) -> StoreResult<Vec<DocumentId>>;
    /// Inserts a document record without chunks (a queued upload, or a failure), unless the
    /// data source has one with the same source key: that one is returned instead, requeued
    /// (or its error replaced) if it had failed. The flag tells whether a record was created.
    async fn insert_document_record(&self, doc: &Document) -> StoreResult<(Document, bool)>;
    /// Sets a document's state; false if it does not exist.
    async fn set_document_status(
        &self,
        id: &DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
    ) -> StoreResult<bool>;
    /// Documents of a data source of the org, newest first.
    async fn list_documents(
        &self,
        org: &OrgId,
        ds: &DataSourceId,
        page: Page,
    ) -> StoreResult<Listed<Document>>;
    /// Documents of a data source in one of `statuses`, oldest first.
    async fn documents_with_status(
        &self,
        ds: &DataSourceId,
        statuses: &[DocumentStatus],
        limit: u32,
    ) -> StoreResult<Vec<Document>>;
    /// Documents of a data source by state.
    async fn count_documents(&self, ds: &DataSourceId) -> StoreResult<DocumentCounts>;
    /// Saves a document's source-specific resume state (e.g. ETag and links of a page).
    async fn set_sync_state(&self, id: &DocumentId, state: &serde_json::Value) -> StoreResult<()>;
    /// Every document of a data source with its resume state.
    async fn sync_states(
        &self,
        ds: &DataSourceId,
    ) -> StoreResult<Vec<(Document, serde_json::Value)>>;
    /// Data sources (with their org) holding documents queued since before `before`.
    async fn stale_queued_sources(
        &self,
        before: Timestamp,
    ) -> StoreResult<Vec<(OrgId, DataSourceId)>>;
    /// Reads an index setting.
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Writes an index setting.
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
}
