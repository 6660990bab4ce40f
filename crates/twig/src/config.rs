//! Settings: built-in defaults < `twig.toml` < `TWIG_*` environment < flags.
//!
//! Nested keys use a double underscore in the environment:
//! `[server] max_body_bytes` is `TWIG_SERVER__MAX_BODY_BYTES`.

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every setting of `twig`, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address `serve` listens on.
    pub addr: SocketAddr,
    /// Directory holding the database, indexes and uploaded files.
    pub data_dir: PathBuf,
    /// Database URL; default: a SQLite file inside `data_dir`. The scheme picks the backend.
    pub database_url: Option<String>,
    /// Directory of the embedding model files (TWIG_MODEL_DIR); default: the user's cache.
    pub model_dir: Option<PathBuf>,
    /// Key sealing stored secrets (TWIG_SECRET_KEY: 64 hex characters or base64 of 32 bytes);
    /// default: `secret.key` in the data directory, created on first start.
    pub secret_key: Option<String>,
    /// HTTP server settings.
    pub server: ServerSettings,
    /// Embedding model.
    pub embedding: EmbeddingSettings,
    /// Retrieval.
    pub search: SearchSettings,
    /// Cross-encoder reranking (the `cypress` strategy).
    pub rerank: RerankSettings,
    /// Per-key request limits.
    pub rate_limits: RateLimitSettings,
    /// Webhook delivery.
    pub webhooks: WebhookSettings,
    /// Chat models: providers, default model, prices.
    pub llm: twig_llm::LlmConfig,
    /// Ingestion: sync workers, upload limits, crawling.
    pub ingest: IngestSettings,
    /// Connector syncs (Confluence, Zendesk, Notion, ...): retries and deletion checks.
    pub connectors: ConnectorSettings,
    /// Answering.
    pub answer: AnswerSettings,
    /// Logging.
    pub log: LogSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// OpenTelemetry trace export.
    pub telemetry: TelemetrySettings,
    /// The Slack app (answers mentions, direct messages and `/twig ask`).
    pub slack_app: SlackAppSettings,
    /// Where uploaded originals are kept.
    pub storage: StorageSettings,
}

/// `[storage]` section: the originals of uploaded files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `local` (`<data_dir>/files`) or `s3` (a bucket every node reads).
    pub kind: String,
    /// The bucket (`s3`).
    pub bucket: String,
    /// The bucket's region (`s3`).
    pub region: String,
    /// An S3-compatible service other than AWS, e.g. `http://minio:9000` (`s3`).
    pub endpoint: String,
    /// Keys start with this inside the bucket (`s3`).
    pub prefix: String,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            kind: "local".into(),
            bucket: String::new(),
            region: "us-east-1".into(),
            endpoint: String::new(),
            prefix: String::new(),
        }
    }
}

impl StorageSettings {
    /// What the ingestion crate opens.
    pub fn config(&self) -> twig_ingest::originals::StorageConfig {
        match self.kind.as_str() {
            "s3" => twig_ingest::originals::StorageConfig::S3 {
                bucket: self.bucket.clone(),
                region: self.region.clone(),
                endpoint: (!self.endpoint.is_empty()).then(|| self.endpoint.clone()),
                prefix: self.prefix.clone(),
            },
            _ => twig_ingest::originals::StorageConfig::Local,
        }
    }
}

/// `[server]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
}

/// `[embedding]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddingSettings {
    /// `local` (all-MiniLM-L6-v2 in process), `openai` (an OpenAI-compatible endpoint) or `none` (lexical only).
    pub provider: String,
    /// Threads the local model uses (0: all cores).
    pub threads: usize,
    /// `openai`: base URL up to the version.
    pub base_url: String,
    /// `openai`: model name.
    pub model: String,
    /// `openai`: environment variable holding the key (empty: no key).
    pub api_key_env: String,
    /// `openai`: inputs per request.
    pub batch_size: usize,
    /// `openai`: seconds per request.
    pub timeout_secs: u64,
}

impl Default for EmbeddingSettings {
    fn default() -> Self {
        Self {
            provider: "local".into(),
            threads: 0,
            base_url: "https://api.openai.com/v1".into(),
            model: "text-embedding-3-small".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            batch_size: 64,
            timeout_secs: 30,
        }
    }
}

/// `[rate_limits]` section: requests per minute and burst per key and scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Off only for trusted, internal deployments.
    pub enabled: bool,
    /// Read scope (list/get) per minute.
    pub read_per_minute: u32,
    /// Read scope burst.
    pub read_burst: u32,
    /// Write scope (create/update/delete) per minute.
    pub write_per_minute: u32,
    /// Write scope burst.
    pub write_burst: u32,
    /// Execute scope (queries, feedback) per minute.
    pub execute_per_minute: u32,
    /// Execute scope burst.
    pub execute_burst: u32,
    /// Admin scope per minute.
    pub admin_per_minute: u32,
    /// Admin scope burst.
    pub admin_burst: u32,
    /// Where buckets live: `memory` (this process) or `redis` (shared by every node).
    pub backend: String,
    /// The Redis of the `redis` backend, e.g. `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// With Redis down: let requests through unlimited (true) or refuse them with 503 (false).
    pub fail_open: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let d = twig_core::ratelimit::ScopeLimits::default();
        Self {
            enabled: true,
            read_per_minute: d.read.per_minute,
            read_burst: d.read.burst,
            write_per_minute: d.write.per_minute,
            write_burst: d.write.burst,
            execute_per_minute: d.execute.per_minute,
            execute_burst: d.execute.burst,
            admin_per_minute: d.admin.per_minute,
            admin_burst: d.admin.burst,
            backend: "memory".into(),
            redis_url: String::new(),
            fail_open: false,
        }
    }
}

impl RateLimitSettings {
    /// The limits in effect, or `None` when disabled.
    pub fn limits(&self) -> Option<twig_core::ratelimit::ScopeLimits> {
        use twig_core::ratelimit::{RateLimit, ScopeLimits};
        self.enabled.then_some(ScopeLimits {
            read: RateLimit {
                per_minute: self.read_per_minute,
                burst: self.read_burst,
            },
            write: RateLimit {
                per_minute: self.write_per_minute,
                burst: self.write_burst,
            },
            execute: RateLimit {
                per_minute: self.execute_per_minute,
                burst: self.execute_burst,
            },
            admin: RateLimit {
                per_minute: self.admin_per_minute,
                burst: self.admin_burst,
            },
        })
    }
}

/// `[ingest]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestSettings {
    /// Sync jobs run at once by `serve` (0: none; run `twig worker` instead).
    pub workers: usize,
    /// Let crawls reach private, loopback, link-local and metadata addresses (intranets, tests).
    pub allow_private_networks: bool,
    /// Largest uploaded file, in bytes.
    pub max_file_bytes: u64,
    /// Largest uploaded zip archive, in bytes.
    pub max_zip_bytes: u64,
    /// Largest upload request (all files together), in bytes.
    pub max_upload_bytes: u64,
    /// Largest crawled page, in bytes; larger pages are skipped.
    pub max_page_bytes: u64,
    /// Seconds a worker holds a job before another may take it over (renewed while it runs).
    pub job_lease_secs: u64,
    /// Seconds between passes of the sync scheduler.
    pub schedule_interval_secs: u64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            allow_private_networks: false,
            max_file_bytes: 50 * 1024 * 1024,
            max_zip_bytes: 200 * 1024 * 1024,
            max_upload_bytes: 1024 * 1024 * 1024,
            max_page_bytes: 20 * 1024 * 1024,
            job_lease_secs: 60,
            schedule_interval_secs: 30,
        }
    }
}

/// `[connectors]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectorSettings {
    /// Attempts of one remote call (the first included) on 5xx, timeouts and throttling.
    pub max_attempts: u32,
    /// First retry delay in milliseconds, doubled each time (with jitter).
    pub backoff_base_ms: u64,
    /// Longest retry delay in milliseconds.
    pub backoff_max_ms: u64,
    /// A `Retry-After` longer than this (seconds) is not waited for inline: the sync is retried later.
    pub max_inline_wait_secs: u64,
    /// Seconds per remote request.
    pub timeout_secs: u64,
    /// Remotes without a deletion feed are listed in full (ids only) every this many syncs.
    pub prune_every: u32,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff_base_ms: 500,
            backoff_max_ms: 8000,
            max_inline_wait_secs: 120,
            timeout_secs: 60,
            prune_every: 1,
        }
    }
}

/// `[search]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchSettings {
    /// `rrf` (reciprocal-rank fusion) or `score` (blend of similarity and normalised BM25).
    pub fusion: String,
    /// RRF rank offset k.
    pub rrf_k: f32,
    /// Weight of the vector similarity in `score` fusion.
    pub score_alpha: f32,
    /// Candidates each retriever contributes before fusion.
    pub candidates: usize,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            fusion: "rrf".into(),
            rrf_k: 60.0,
            score_alpha: 0.5,
            candidates: 100,
        }
    }
}

/// `[webhooks]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Accept `http://` endpoint URLs (development only; production endpoints use https).
    pub allow_http: bool,
    /// Accept endpoints on private, loopback or link-local addresses.
    pub allow_private_networks: bool,
    /// Seconds allowed for one delivery attempt.
    pub timeout_secs: f64,
    /// Seconds before each retry (jittered by ±20%); attempts are one more than the entries.
    pub retry_delays_secs: Vec<f64>,
    /// Hours an endpoint may keep failing before a delivery that fails for good disables it.
    pub disable_after_hours: f64,
    /// Hours the previous secret still signs after a rotation.
    pub rotation_grace_hours: f64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private_networks: false,
            timeout_secs: 10.0,
            retry_delays_secs: vec![60.0, 300.0, 1800.0, 3600.0, 10800.0, 21600.0, 43200.0],
            disable_after_hours: 72.0,
            rotation_grace_hours: 24.0,
        }
    }
}

impl WebhookSettings {
    /// Endpoint URL rules for the API.
    pub fn url_policy(&self) -> twig_webhooks::UrlPolicy {
        twig_webhooks::UrlPolicy {
            allow_http: self.allow_http,
            allow_private_networks: self.allow_private_networks,
            rotation_grace: Duration::from_secs_f64(self.rotation_grace_hours * 3600.0),
        }
    }

    /// Delivery settings for the worker.
    pub fn delivery_policy(&self) -> twig_webhooks::DeliveryPolicy {
        twig_webhooks::DeliveryPolicy {
            timeout: Duration::from_secs_f64(self.timeout_secs),
            retry_delays: self
                .retry_delays_secs
                .iter()
                .map(|s| Duration::from_secs_f64(*s))
                .collect(),
            disable_after: Duration::from_secs_f64(self.disable_after_hours * 3600.0),
            allow_private_networks: self.allow_private_networks,
        }
    }
}

/// `[rerank]` section (all off/empty by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RerankSettings {
    /// Load the in-process cross-encoder (ms-marco-MiniLM-L6-v2) at startup.
    pub enabled: bool,
    /// Directory of its files; default: `$TWIG_RERANK_MODEL_DIR` or the user's model cache.
    pub model_dir: Option<PathBuf>,
    /// sha256 the weights must have (hex); empty: the hub's declared sha256 checks downloads.
    pub sha256: String,
    /// Threads one scoring call uses (0: all cores).
    pub threads: usize,
}

/// `[answer]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerSettings {
    /// Answer given when no chunk reaches the similarity threshold.
    pub no_answer_text: String,
    /// Minimum similarity_score of a chunk given to the model, 0 to 1.
    pub similarity_threshold: f32,
    /// Earlier session messages (user and assistant) the strategies see.
    pub history_turns: usize,
    /// Days after its last turn a session is deleted.
    pub session_retention_days: u32,
    /// Chunks redwood and cedar retrieve.
    pub top_k: usize,
    /// Queries cypress searches, the question included.
    pub cypress_queries: usize,
    /// Candidates cypress retrieves per query.
    pub cypress_candidates: usize,
    /// Chunks cypress keeps after reranking.
    pub cypress_top: usize,
}

impl Default for AnswerSettings {
    fn default() -> Self {
        let d = twig_answer::AnswerConfig::default();
        Self {
            no_answer_text: d.no_answer_text,
            similarity_threshold: d.similarity_threshold,
            history_turns: d.history_turns,
            session_retention_days: d.session_retention.num_days() as u32,
            top_k: d.top_k,
            cypress_queries: d.cypress_queries,
            cypress_candidates: d.cypress_candidates,
            cypress_top: d.cypress_top,
        }
    }
}

impl AnswerSettings {
    /// The pipeline's configuration.
    pub fn pipeline(&self) -> twig_answer::AnswerConfig {
        twig_answer::AnswerConfig {
            no_answer_text: self.no_answer_text.clone(),
            similarity_threshold: self.similarity_threshold,
            history_turns: self.history_turns,
            session_retention: chrono::Duration::days(i64::from(self.session_retention_days)),
            top_k: self.top_k,
            cypress_queries: self.cypress_queries,
            cypress_candidates: self.cypress_candidates,
            cypress_top: self.cypress_top,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.no_answer_text.trim().is_empty() {
            bail!(
                "setting `answer.no_answer_text` (TWIG_ANSWER__NO_ANSWER_TEXT): must not be empty"
            );
        }
        if !(0.0..=1.0).contains(&self.similarity_threshold) {
            bail!("setting `answer.similarity_threshold` (TWIG_ANSWER__SIMILARITY_THRESHOLD): must be between 0 and 1");
        }
        if self.history_turns > 50 {
            bail!(
                "setting `answer.history_turns` (TWIG_ANSWER__HISTORY_TURNS): must be at most 50"
            );
        }
        if !(1..=3650).contains(&self.session_retention_days) {
            bail!("setting `answer.session_retention_days` (TWIG_ANSWER__SESSION_RETENTION_DAYS): must be between 1 and 3650");
        }
        for (name, v) in [
            ("top_k", self.top_k),
            ("cypress_queries", self.cypress_queries),
            ("cypress_candidates", self.cypress_candidates),
            ("cypress_top", self.cypress_top),
        ] {
            if !(1..=100).contains(&v) {
                bail!(
                    "setting `answer.{name}` (TWIG_ANSWER__{}): must be between 1 and 100",
                    name.to_uppercase()
                );
            }
        }
        Ok(())
    }
}

/// `[metrics]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct MetricsSettings {
    /// Record metrics and serve them at `GET /metrics`.
    pub enabled: bool,
    /// Where `/metrics` listens, without a key (`127.0.0.1:9090`); empty: on the API port, for Admin keys.
    pub addr: String,
}

/// `[telemetry]` section: OTLP trace export, off unless an endpoint is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// OTLP/HTTP collector base URL (`http://127.0.0.1:4318`); spans go to `<it>/v1/traces`.
    pub otlp_endpoint: String,
    /// Extra headers for the collector (a vendor's API key).
    pub otlp_headers: std::collections::BTreeMap<String, String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of traces kept, 0 to 1 (a caller's sampled `traceparent` is always followed).
    pub sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            otlp_headers: Default::default(),
            service_name: "twig".into(),
            sample_ratio: 1.0,
        }
    }
}

/// `[slack_app]` section. Its secrets never appear in `Debug` output (logs).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackAppSettings {
    /// Serve `/integrations/slack/events` and `/integrations/slack/commands` and answer.
    pub enabled: bool,
    /// The app's Signing Secret (Basic Information page), checking Slack's requests.
    pub signing_secret: String,
    /// The Bot User OAuth Token (`xoxb-…`) answers are posted with.
    pub bot_token: String,
    /// Slack's Web API.
    pub base_url: String,
    /// Answer jobs run at once.
    pub workers: usize,
    /// Seconds allowed for one post to Slack.
    pub timeout_secs: u64,
}

impl Default for SlackAppSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            signing_secret: String::new(),
            bot_token: String::new(),
            base_url: "https://slack.com/api".into(),
            workers: 2,
            timeout_secs: 10,
        }
    }
}

impl std::fmt::Debug for SlackAppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "********" };
        f.debug_struct("SlackAppSettings")
            .field("enabled", &self.enabled)
            .field("signing_secret", &hidden(&self.signing_secret))
            .field("bot_token", &hidden(&self.bot_token))
            .field("base_url", &self.base_url)
            .field("workers", &self.workers)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl SlackAppSettings {
    fn validate(&self) -> anyhow::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.signing_secret.trim().is_empty() {
            bail!("setting `slack_app.signing_secret` (TWIG_SLACK_APP__SIGNING_SECRET): required when the Slack app is enabled");
        }
        if self.bot_token.trim().is_empty() {
            bail!("setting `slack_app.bot_token` (TWIG_SLACK_APP__BOT_TOKEN): required when the Slack app is enabled");
        }
        let url = self.base_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            bail!("setting `slack_app.base_url` (TWIG_SLACK_APP__BASE_URL): must be an http(s) URL, got {url:?}");
        }
        if !(1..=64).contains(&self.workers) {
            bail!(
                "setting `slack_app.workers` (TWIG_SLACK_APP__WORKERS): must be between 1 and 64"
            );
        }
        if !(1..=300).contains(&self.timeout_secs) {
            bail!("setting `slack_app.timeout_secs` (TWIG_SLACK_APP__TIMEOUT_SECS): must be between 1 and 300");
        }
        Ok(())
    }
}

/// `[log]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// A tracing filter, e.g. `info` or `twig=debug,tower_http=info`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./twig-data"),
            database_url: None,
            model_dir: None,
            secret_key: None,
            server: ServerSettings::default(),
            embedding: EmbeddingSettings::default(),
            search: SearchSettings::default(),
            rerank: RerankSettings::default(),
            rate_limits: RateLimitSettings::default(),
            webhooks: WebhookSettings::default(),
            llm: twig_llm::LlmConfig::default(),
            ingest: IngestSettings::default(),
            connectors: ConnectorSettings::default(),
            answer: AnswerSettings::default(),
            log: LogSettings::default(),
            metrics: MetricsSettings::default(),
            telemetry: TelemetrySettings::default(),
            slack_app: SlackAppSettings::default(),
            storage: StorageSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_grace_secs: 30,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// The commented default configuration printed by `twig config print-default`.
pub const DEFAULT_TOML: &str = r#"# twig.toml: every setting with its default.
# Precedence: these defaults < this file < TWIG_* environment variables < command-line flags.
# A nested key uses a double underscore in the environment: [server] max_body_bytes is
# TWIG_SERVER__MAX_BODY_BYTES.

# Address the HTTP server listens on (TWIG_ADDR, --addr).
addr = "127.0.0.1:8080"

# Directory for the database, indexes and uploaded files (TWIG_DATA_DIR, --data-dir).
data_dir = "./twig-data"

# Database URL (TWIG_DATABASE_URL, --database-url). Unset: a SQLite file inside data_dir.
# The scheme picks the backend: sqlite://PATH (one node), or postgres://USER:PASSWORD@HOST/DB
# for many nodes sharing one database (then `secret_key` must be set, the same on every node).
# database_url = "sqlite://./twig-data/twig.db"

# Directory of the embedding model files (TWIG_MODEL_DIR). Unset: ~/.cache/twig/models/all-MiniLM-L6-v2
# ($XDG_CACHE_HOME is honoured). `twig serve` fetches the model there on first start.
# model_dir = "./models/all-MiniLM-L6-v2"

# Key sealing stored secrets (connector tokens, webhook secrets) with AES-256-GCM
# (TWIG_SECRET_KEY): 64 hex characters or base64 of 32 bytes. Unset: secret.key in data_dir,
# created with mode 0600 on first start. Nodes sharing one database need the same key.
# secret_key = "…"

[server]
# Largest JSON request body accepted, in bytes.
max_body_bytes = 2097152
# Seconds that in-flight requests get to finish after SIGINT or SIGTERM.
shutdown_grace_secs = 30

[embedding]
# "local": all-MiniLM-L6-v2 runs inside twig on the CPU (hybrid search).
# "openai": any OpenAI-compatible embeddings endpoint (OpenAI, Ollama, TEI, vLLM), settings below.
# "none": no embedding model; search is lexical (BM25) only, as /readyz and search metadata report.
# Vectors of different models are never mixed: changing the model needs `twig reindex`.
provider = "local"
# Threads of the local model (0: all cores).
threads = 0
# provider = "openai": base URL up to the version, model name, the environment variable holding
# the key (empty for none), inputs per request, seconds per request.
base_url = "https://api.openai.com/v1"
model = "text-embedding-3-small"
api_key_env = "OPENAI_API_KEY"
batch_size = 64
timeout_secs = 30

[search]
# How the lexical (BM25) and vector result lists are combined: "rrf" or "score".
fusion = "rrf"
# Rank offset k of reciprocal-rank fusion.
rrf_k = 60.0
# Weight of the vector similarity in "score" fusion (the rest is min-max normalised BM25).
score_alpha = 0.5
# Candidates each retriever contributes before fusion.
candidates = 100

[rerank]
# In-process cross-encoder (cross-encoder/ms-marco-MiniLM-L6-v2) that the cypress strategy uses to
# rerank its candidates. Off: nothing is loaded and cypress reports that no reranker ran.
# On: `twig serve` loads it at startup, fetching model.safetensors, tokenizer.json and config.json
# from the Hugging Face hub into model_dir when missing, and refuses to start if it cannot.
enabled = false
# Directory of the files (TWIG_RERANK__MODEL_DIR). Unset: $TWIG_RERANK_MODEL_DIR, else
# ~/.cache/twig/models/ms-marco-MiniLM-L6-v2.
# model_dir = "./models/ms-marco-MiniLM-L6-v2"
# sha256 (hex) the weights must have; empty: downloads are checked against the hub's declared sha256.
sha256 = ""
# Threads one scoring call uses (0: all cores).
threads = 0

[rate_limits]
# Per API key and scope, as in the API reference: sustained requests per minute and burst.
# Responses carry X-RateLimit-Limit/Remaining/Reset; a refused request answers 429 with Retry-After.
# These are defaults: `twig orgs set-limits` overrides them for an org, and `rate_limits` on
# /api/v1/api-keys for one key (key > org > these). `enabled = false` turns all limiting off.
enabled = true
read_per_minute = 200
read_burst = 250
write_per_minute = 10
write_burst = 15
execute_per_minute = 100
execute_burst = 120
admin_per_minute = 50
admin_burst = 60
# Where the buckets live: "memory" (this process) or "redis" (one allowance across every node,
# decided atomically in Redis). With Redis unreachable, limited routes answer 503
# service_unavailable unless fail_open = true lets requests through unlimited.
backend = "memory"
redis_url = ""
fail_open = false

[webhooks]
# Endpoint URLs must be https and resolve to public addresses unless these allow otherwise
# (development and intranets; tests set both).
allow_http = false
allow_private_networks = false
# Seconds allowed for one delivery attempt.
timeout_secs = 10.0
# Seconds before each retry of a delivery that timed out, could not connect, or got 429/5xx
# (jittered by 20%): 8 attempts over about 22 hours. Other 4xx answers are not retried.
retry_delays_secs = [60.0, 300.0, 1800.0, 3600.0, 10800.0, 21600.0, 43200.0]
# An endpoint failing for this many hours is disabled when one more delivery fails for good;
# its `disabled_reason` says why, and PUT enabled=true turns it back on.
disable_after_hours = 72.0
# Hours the previous secret keeps signing (a second v1 in X-Twig-Signature) after a rotation.
rotation_grace_hours = 24.0
[llm]
# Chat models that answer queries. Without providers only "extractive" exists: the offline
# answerer that composes answers from the retrieved passages and needs no key.
# Model of new agents that name none (TWIG_LLM__DEFAULT_MODEL). Unset: "extractive" without
# providers, else the first model of the first provider (providers sorted by name).
# default_model = "gpt-4o-mini"

# One table per provider, named as you like. kind: "openai" (any OpenAI-compatible Chat
# Completions server: OpenAI, Ollama, vLLM, llama.cpp, LM Studio), "azure" (Azure OpenAI) or
# "anthropic". Keys are read from the environment variable api_key_env names, never from here.
# A model name may be served by one provider only; `upstream` maps agent model names to the
# provider's names (Azure: deployment names). Startup fails on a bad provider or a missing key.
#
# [llm.providers.openai]
# kind = "openai"
# base_url = "https://api.openai.com/v1"        # the default for kind "openai"
# api_key_env = "OPENAI_API_KEY"
# models = ["gpt-4o", "gpt-4o-mini"]
# upstream = { "gpt-4" = "gpt-4o" }
# max_tokens_field = "max_tokens"              # "max_completion_tokens" for reasoning models
# stream_usage = true                           # stream_options.include_usage; false if refused
#
# [llm.providers.ollama]
# kind = "openai"
# base_url = "http://127.0.0.1:11434/v1"       # no api_key_env: no key
# upstream = { "llama" = "llama3.2:3b" }
#
# [llm.providers.azure]
# kind = "azure"
# base_url = "https://RESOURCE.openai.azure.com"
# api_key_env = "AZURE_OPENAI_API_KEY"
# api_version = "2024-10-21"
# upstream = { "gpt-4o-azure" = "my-gpt4o-deployment" }
#
# [llm.providers.anthropic]
# kind = "anthropic"
# base_url = "https://api.anthropic.com/v1"     # the default for kind "anthropic"
# api_key_env = "ANTHROPIC_API_KEY"
# api_version = "2023-06-01"                    # the anthropic-version header
# models = ["claude-sonnet-4-5", "claude-haiku-4-5"]
# upstream = { "claude-3-sonnet" = "claude-sonnet-4-5" }
# default_max_tokens = 1024                     # the API requires max_tokens
#
# Call policy of every provider, with these defaults (milliseconds): retries only on 429
# (honouring Retry-After up to retry_after_max_ms), 5xx and connection failures; streams
# retry only before their first text; after breaker_failures consecutive failures the
# provider is not called for breaker_cooldown_ms, then one probe decides.
# connect_timeout_ms = 5000
# first_byte_timeout_ms = 30000                 # streaming: until the first text
# idle_timeout_ms = 30000                       # streaming: longest silence
# request_timeout_ms = 120000                   # non-streaming: the whole answer
# max_retries = 2
# backoff_base_ms = 500
# backoff_max_ms = 8000
# retry_after_max_ms = 30000
# breaker_failures = 5
# breaker_cooldown_ms = 30000
# max_in_flight = 64                            # calls and open streams at once; more are refused

# Prices in US dollars per million tokens, for cost_usd. Common OpenAI and Anthropic models
# are built in (dated snapshots such as gpt-4o-2024-08-06 cost what their family does);
# entries here override them or add others, by agent model name or upstream name.
# [llm.prices]
# "gpt-4o" = { input_per_mtok = 2.5, output_per_mtok = 10.0 }
# "llama" = { input_per_mtok = 0.0, output_per_mtok = 0.0 }
[ingest]
# Sync jobs `twig serve` runs at once (0: none here; run `twig worker` instead).
workers = 2
# Crawls refuse hosts resolving to private, loopback, link-local or metadata addresses unless
# this is true (intranets, tests).
allow_private_networks = false
# Upload limits in bytes: one file, one zip archive, one request (all files together).
max_file_bytes = 52428800
max_zip_bytes = 209715200
max_upload_bytes = 1073741824
# Largest crawled page in bytes; larger pages are skipped.
max_page_bytes = 20971520
# Seconds a worker holds a job before another worker may take it over (renewed while it runs).
job_lease_secs = 60
# Seconds between passes of the scheduler that queues hourly/daily/weekly syncs.
schedule_interval_secs = 30

[connectors]
# Remote calls of connector syncs: attempts on 5xx, timeouts and 429 (the first included),
# backoff from backoff_base_ms doubling up to backoff_max_ms with jitter. 401/403 fail at once.
max_attempts = 5
backoff_base_ms = 500
backoff_max_ms = 8000
# A Retry-After longer than this many seconds is not waited for inline: the sync job is
# retried after it instead.
max_inline_wait_secs = 120
# Seconds per remote request.
timeout_secs = 60
# Remotes without a deletion feed (Confluence, Notion) are listed in full, ids only, every
# this many syncs; documents no longer listed are removed.
prune_every = 1

[answer]
# Answer given, without calling any model, when no chunk reaches the similarity threshold.
no_answer_text = "I don't have information about that."
# Minimum similarity_score ((1 + cosine) / 2) of a chunk given to the model.
similarity_threshold = 0.7
# Earlier session messages (user and assistant) the strategies see.
history_turns = 4
# Days after its last turn a session is deleted (by the sessions.expire job).
session_retention_days = 30
# Chunks redwood and cedar retrieve.
top_k = 8
# cypress: queries searched (the question included), candidates per query, chunks kept after reranking.
cypress_queries = 4
cypress_candidates = 50
cypress_top = 10

[log]
# Tracing filter: "info", "debug", or per target such as "twig=debug,tower_http=info" (RUST_LOG wins if set).
level = "info"
# "text" for people, "json" for log shippers.
format = "text"

[metrics]
# Record Prometheus metrics and serve them at GET /metrics.
enabled = false
# Where /metrics listens, with no key asked (keep it private), e.g. "127.0.0.1:9090".
# Empty: on the API port, for Admin keys only. `twig worker` needs an address here.
addr = ""

[telemetry]
# OTLP/HTTP (protobuf) collector to export traces to, e.g. "http://127.0.0.1:4318"
# (spans are posted to <endpoint>/v1/traces). Empty: no traces are exported.
otlp_endpoint = ""
# Share of requests traced, 0 to 1; a caller's sampled `traceparent` header is always followed.
sample_ratio = 1.0
# service.name of the exported spans.
service_name = "twig"
# Headers sent to the collector, e.g. a vendor's key.
# [telemetry.otlp_headers]
# x-api-key = "..."
[slack_app]
# The Slack app (integrations/slack/manifest.yml): answers @mentions in their thread, direct
# messages, and `/twig ask <question>`, with the sources as links. Off: its routes
# (/integrations/slack/events and /integrations/slack/commands) do not exist. Which workspace
# belongs to which organisation, and which agent answers, is set per organisation with
# PUT /api/v1/integrations/slack. Answers are produced by `twig serve` (not `twig worker`).
enabled = false
# The app's Signing Secret (Basic Information) and Bot User OAuth Token (xoxb-…); required
# when enabled. Prefer the environment: TWIG_SLACK_APP__SIGNING_SECRET, TWIG_SLACK_APP__BOT_TOKEN.
signing_secret = ""
bot_token = ""
# Slack's Web API (chat.postMessage is called there).
base_url = "https://slack.com/api"
# Answer jobs run at once, and seconds allowed for one post to Slack.
workers = 2
timeout_secs = 10

[storage]
# Where uploaded originals are kept: "local" (data_dir/files, one node) or "s3": an
# S3-compatible bucket every node and worker reads. Credentials come from the environment
# (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
kind = "local"
bucket = ""
region = "us-east-1"
# For S3-compatible services other than AWS (MinIO, R2, moto…), e.g. "http://minio:9000".
endpoint = ""
# Keys start with this inside the bucket.
prefix = ""
"#;

/// Values given as command-line flags; only those present override.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    /// `--addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// Loads settings from every layer and validates them.
pub fn load(config: Option<&Path>, flags: &FlagOverrides) -> anyhow::Result<Settings> {
    load_with_env(config, flags, Env::prefixed("TWIG_").split("__"))
}

fn load_with_env(
    config: Option<&Path>,
    flags: &FlagOverrides,
    env: Env,
) -> anyhow::Result<Settings> {
    let file = match config {
        Some(p) if !p.exists() => bail!("config file {} does not exist", p.display()),
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from("twig.toml")).filter(|p| p.exists()),
    };
    let mut fig = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = &file {
        check_unknown_keys(path)?;
        fig = fig.merge(Toml::file(path));
    }
    fig = fig.merge(env).merge(Serialized::defaults(flags));
    let settings: Settings = fig.extract().map_err(|e| {
        let msgs: Vec<String> = e.into_iter().map(describe).collect();
        anyhow::anyhow!("invalid settings:\n  {}", msgs.join("\n  "))
    })?;
    settings.validate()?;
    Ok(settings)
}

/// One figment error as "setting `a.b` (from SOURCE): problem".
fn describe(e: figment::Error) -> String {
    let key = if e.path.is_empty() {
        "?".to_owned()
    } else {
        e.path.join(".")
    };
    let source = e
        .metadata
        .as_ref()
        .map(|m| m.name.to_string())
        .unwrap_or_else(|| "settings".into());
    let env_hint = format!("TWIG_{}", e.path.join("__").to_uppercase());
    format!(
        "setting `{key}` (from {source}; env {env_hint}): {}",
        e.kind
    )
}

/// Refuses keys the file sets that no setting has (usually a typo).
fn check_unknown_keys(path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let known = serde_json::to_value(Settings::default())?;
    fn walk(table: &toml::Table, known: &serde_json::Value, prefix: &str) -> anyhow::Result<()> {
        for (k, v) in table {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let Some(known_v) = known.get(k) else {
                bail!("unknown setting `{name}` in the config file")
            };
            // An empty object in the defaults is a map with free keys (`llm.providers`);
            // its entries are checked by serde's `deny_unknown_fields` instead.
            if let (toml::Value::Table(sub), serde_json::Value::Object(o)) = (v, known_v) {
                if !o.is_empty() {
                    walk(sub, known_v, &name)?;
                }
            }
        }
        Ok(())
    }
    walk(&file, &known, "").with_context(|| format!("in {}", path.display()))
}

impl Settings {
    fn validate(&self) -> anyhow::Result<()> {
        if self.data_dir.as_os_str().is_empty() {
            bail!("setting `data_dir` (TWIG_DATA_DIR): must not be empty");
        }
        if self.server.max_body_bytes < 1024 {
            bail!("setting `server.max_body_bytes` (TWIG_SERVER__MAX_BODY_BYTES): must be at least 1024");
        }
        if let Some(url) = &self.database_url {
            if !url.contains(':') {
                bail!("setting `database_url` (TWIG_DATABASE_URL): {url:?} is not a URL such as sqlite://PATH");
            }
            let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
            if postgres && self.secret_key.is_none() {
                bail!("setting `database_url` (TWIG_DATABASE_URL) names PostgreSQL: set `secret_key` (TWIG_SECRET_KEY) too, the same on every node, since there is no key file to share");
            }
        }
        if !matches!(
            self.embedding.provider.as_str(),
            "local" | "openai" | "none"
        ) {
            bail!(
                "setting `embedding.provider` (TWIG_EMBEDDING__PROVIDER): must be \"local\", \"openai\" or \"none\", got {:?}",
                self.embedding.provider
            );
        }
        if self.embedding.batch_size == 0 || self.embedding.timeout_secs == 0 {
            bail!("settings `embedding.batch_size` and `embedding.timeout_secs` must be positive");
        }
        if !matches!(self.search.fusion.as_str(), "rrf" | "score") {
            bail!("setting `search.fusion` (TWIG_SEARCH__FUSION): must be \"rrf\" or \"score\", got {:?}", self.search.fusion);
        }
        if !(0.0..=1.0).contains(&self.search.score_alpha) {
            bail!(
                "setting `search.score_alpha` (TWIG_SEARCH__SCORE_ALPHA): must be between 0 and 1"
            );
        }
        if self.search.rrf_k <= 0.0 {
            bail!("setting `search.rrf_k` (TWIG_SEARCH__RRF_K): must be positive");
        }
        if !(1..=10_000).contains(&self.search.candidates) {
            bail!("setting `search.candidates` (TWIG_SEARCH__CANDIDATES): must be between 1 and 10000");
        }
        let sha = &self.rerank.sha256;
        if !sha.is_empty() && (sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit())) {
            bail!("setting `rerank.sha256` (TWIG_RERANK__SHA256): must be empty or 64 hex digits");
        }
        match (self.storage.kind.as_str(), self.storage.bucket.is_empty()) {
            ("local", _) | ("s3", false) => {}
            ("s3", true) => bail!("setting `storage.bucket` (TWIG_STORAGE__BUCKET): the s3 storage needs a bucket"),
            (other, _) => bail!("setting `storage.kind` (TWIG_STORAGE__KIND): must be \"local\" or \"s3\", got {other:?}"),
        }
        let rl = &self.rate_limits;
        match rl.backend.as_str() {
            "memory" => {}
            "redis" if rl.redis_url.starts_with("redis://") || rl.redis_url.starts_with("rediss://") => {}
            "redis" => bail!("setting `rate_limits.redis_url` (TWIG_RATE_LIMITS__REDIS_URL): the redis backend needs a redis:// URL"),
            other => bail!("setting `rate_limits.backend` (TWIG_RATE_LIMITS__BACKEND): must be \"memory\" or \"redis\", got {other:?}"),
        }
        for (name, v) in [
            ("read_per_minute", rl.read_per_minute),
            ("read_burst", rl.read_burst),
            ("write_per_minute", rl.write_per_minute),
            ("write_burst", rl.write_burst),
            ("execute_per_minute", rl.execute_per_minute),
            ("execute_burst", rl.execute_burst),
            ("admin_per_minute", rl.admin_per_minute),
            ("admin_burst", rl.admin_burst),
        ] {
            if v == 0 {
                bail!(
                    "setting `rate_limits.{name}` (TWIG_RATE_LIMITS__{}): must be at least 1",
                    name.to_uppercase()
                );
            }
        }
        let wh = &self.webhooks;
        if !(wh.timeout_secs > 0.0 && wh.timeout_secs <= 300.0) {
            bail!("setting `webhooks.timeout_secs` (TWIG_WEBHOOKS__TIMEOUT_SECS): must be above 0 and at most 300");
        }
        if wh.retry_delays_secs.len() > 20
            || wh
                .retry_delays_secs
                .iter()
                .any(|d| !(0.0..=7.0 * 86400.0).contains(d))
        {
            bail!("setting `webhooks.retry_delays_secs` (TWIG_WEBHOOKS__RETRY_DELAYS_SECS): at most 20 delays, each between 0 and 604800 seconds");
        }
        for (name, v) in [
            ("disable_after_hours", wh.disable_after_hours),
            ("rotation_grace_hours", wh.rotation_grace_hours),
        ] {
            if !(0.0..=24.0 * 365.0).contains(&v) {
                bail!(
                    "setting `webhooks.{name}` (TWIG_WEBHOOKS__{}): must be between 0 and 8760",
                    name.to_uppercase()
                );
            }
        }
        let tel = &self.telemetry;
        if !(0.0..=1.0).contains(&tel.sample_ratio) {
            bail!("setting `telemetry.sample_ratio` (TWIG_TELEMETRY__SAMPLE_RATIO): must be between 0 and 1");
        }
        let ep = tel.otlp_endpoint.trim();
        if !(ep.is_empty() || ep.starts_with("http://") || ep.starts_with("https://")) {
            bail!("setting `telemetry.otlp_endpoint` (TWIG_TELEMETRY__OTLP_ENDPOINT): must be an http:// or https:// URL, got {ep:?}");
        }
        if tel.service_name.trim().is_empty() {
            bail!("setting `telemetry.service_name` (TWIG_TELEMETRY__SERVICE_NAME): must not be empty");
        }
        let ing = &self.ingest;
        for (name, v) in [
            ("max_file_bytes", ing.max_file_bytes),
            ("max_zip_bytes", ing.max_zip_bytes),
            ("max_upload_bytes", ing.max_upload_bytes),
            ("max_page_bytes", ing.max_page_bytes),
            ("job_lease_secs", ing.job_lease_secs),
            ("schedule_interval_secs", ing.schedule_interval_secs),
        ] {
            if v == 0 {
                bail!(
                    "setting `ingest.{name}` (TWIG_INGEST__{}): must be at least 1",
                    name.to_uppercase()
                );
            }
        }
        if ing.workers > 64 {
            bail!("setting `ingest.workers` (TWIG_INGEST__WORKERS): at most 64");
        }
        let con = &self.connectors;
        for (name, v) in [
            ("max_attempts", u64::from(con.max_attempts)),
            ("backoff_base_ms", con.backoff_base_ms),
            ("backoff_max_ms", con.backoff_max_ms),
            ("timeout_secs", con.timeout_secs),
            ("prune_every", u64::from(con.prune_every)),
        ] {
            if v == 0 {
                bail!(
                    "setting `connectors.{name}` (TWIG_CONNECTORS__{}): must be at least 1",
                    name.to_uppercase()
                );
            }
        }
        if let Some(k) = &self.secret_key {
            twig_store::secrets::SecretBox::parse(k)
                .map_err(|e| anyhow::anyhow!("setting `secret_key` (TWIG_SECRET_KEY): {e}"))?;
        }
        self.answer.validate()?;
        self.slack_app.validate()?;
        let maddr = self.metrics.addr.trim();
        if !maddr.is_empty() && maddr.parse::<SocketAddr>().is_err() {
            bail!("setting `metrics.addr` (TWIG_METRICS__ADDR): must be an address such as 127.0.0.1:9090, got {maddr:?}");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            bail!(
                "setting `log.level` (TWIG_LOG__LEVEL): {:?} is not a valid filter",
                self.log.level
            );
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!(
                "setting `log.format` (TWIG_LOG__FORMAT): must be \"text\" or \"json\", got {:?}",
                self.log.format
            );
        }
        Ok(())
    }

    /// The embedding model directory in effect.
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir
            .clone()
            .unwrap_or_else(twig_embed::default_model_dir)
    }

    /// The reranker model directory in effect.
    pub fn rerank_dir(&self) -> PathBuf {
        self.rerank
            .model_dir
            .clone()
            .unwrap_or_else(twig_embed::default_rerank_dir)
    }

    /// Fusion settings for the engine.
    pub fn fusion(&self) -> twig_index::engine::Fusion {
        match self.search.fusion.as_str() {
            "score" => twig_index::engine::Fusion::Score {
                alpha: self.search.score_alpha,
            },
            _ => twig_index::engine::Fusion::Rrf {
                k: self.search.rrf_k,
            },
        }
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| twig_store::default_url(&self.data_dir))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closure signature, not ours
mod tests {
    use super::*;

    fn no_env() -> Env {
        Env::prefixed("TWIG_TEST_UNUSED_PREFIX_")
    }

    #[test]
    fn printed_default_equals_builtin_default() {
        let parsed: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twig.toml");
        std::fs::write(&path, "addr = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\n[server]\nmax_body_bytes = 4096\n")
            .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("TWIG_DATA_DIR", "/from/env");
            jail.set_env("TWIG_SERVER__MAX_BODY_BYTES", "8192");
            let flags = FlagOverrides {
                addr: Some("127.0.0.1:9100".into()),
                ..Default::default()
            };
            let s = load_with_env(Some(&path), &flags, Env::prefixed("TWIG_").split("__")).unwrap();
            assert_eq!(s.addr.port(), 9100, "flag beats file");
            assert_eq!(s.data_dir, PathBuf::from("/from/env"), "env beats file");
            assert_eq!(s.server.max_body_bytes, 8192, "nested env key");
            Ok(())
        });
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TWIG_ADDR", "not-an-address");
            let err = load_with_env(
                None,
                &FlagOverrides::default(),
                Env::prefixed("TWIG_").split("__"),
            )
            .unwrap_err();
            assert!(format!("{err:#}").contains("addr"), "{err:#}");
            Ok(())
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twig.toml");
        std::fs::write(&path, "[server]\nmax_body_bites = 1\n").unwrap();
        let err = load_with_env(Some(&path), &FlagOverrides::default(), no_env()).unwrap_err();
        assert!(
            format!("{err:#}").contains("server.max_body_bites"),
            "{err:#}"
        );
        for (toml, name) in [
            (
                "[telemetry]\nsample_ratio = 1.5\n",
                "telemetry.sample_ratio",
            ),
            (
                "[telemetry]\notlp_endpoint = \"collector:4318\"\n",
                "telemetry.otlp_endpoint",
            ),
            (
                "[telemetry]\nservice_name = \" \"\n",
                "telemetry.service_name",
            ),
        ] {
            std::fs::write(&path, toml).unwrap();
            let err = load_with_env(Some(&path), &FlagOverrides::default(), no_env()).unwrap_err();
            assert!(format!("{err:#}").contains(name), "{err:#}");
        }
        std::fs::write(&path, "[rerank]\nsha256 = \"abc\"\n").unwrap();
        let err = load_with_env(Some(&path), &FlagOverrides::default(), no_env()).unwrap_err();
        assert!(format!("{err:#}").contains("rerank.sha256"), "{err:#}");
        std::fs::write(&path, "[log]\nformat = \"xml\"\n").unwrap();
        let err = load_with_env(Some(&path), &FlagOverrides::default(), no_env()).unwrap_err();
        assert!(format!("{err:#}").contains("log.format"), "{err:#}");
        assert!(load_with_env(
            Some(&dir.path().join("missing.toml")),
            &FlagOverrides::default(),
            no_env()
        )
        .is_err());
    }

    #[test]
    fn llm_section_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twig.toml");
        std::fs::write(
            &path,
            r#"
[llm]
default_model = "gpt-4o"

[llm.providers.openai]
kind = "openai"
api_key_env = "OPENAI_API_KEY"
models = ["gpt-4o"]
upstream = { "gpt-4" = "gpt-4o" }
max_retries = 4

[llm.providers.claude]
kind = "anthropic"
api_key_env = "ANTHROPIC_API_KEY"
models = ["claude-sonnet-4-5"]

[llm.prices]
"gpt-4o" = { input_per_mtok = 2.0, output_per_mtok = 8.0 }
"#,
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("TWIG_LLM__DEFAULT_MODEL", "claude-sonnet-4-5");
            jail.set_env("TWIG_LLM__PROVIDERS__OPENAI__IDLE_TIMEOUT_MS", "1500");
            // A whole provider from the environment alone (containers).
            jail.set_env(
                "TWIG_LLM__PROVIDERS__LOCAL__BASE_URL",
                "http://127.0.0.1:8000/v1",
            );
            jail.set_env(
                "TWIG_LLM__PROVIDERS__LOCAL__MODELS",
                "[\"qwen\", \"mistral\"]",
            );
            let s = load_with_env(
                Some(&path),
                &FlagOverrides::default(),
                Env::prefixed("TWIG_").split("__"),
            )
            .unwrap();
            assert_eq!(s.llm.default_model.as_deref(), Some("claude-sonnet-4-5"));
            let openai = &s.llm.providers["openai"];
            assert_eq!(openai.kind, twig_llm::ProviderKind::OpenAi);
            assert_eq!(openai.upstream["gpt-4"], "gpt-4o");
            assert_eq!(openai.max_retries, 4);
            assert_eq!(openai.idle_timeout_ms, 1500, "env reaches into a provider");
            assert_eq!(
                openai.connect_timeout_ms, 5000,
                "unset fields keep defaults"
            );
            assert_eq!(
                s.llm.providers["claude"].kind,
                twig_llm::ProviderKind::Anthropic
            );
            assert_eq!(s.llm.prices["gpt-4o"].output_per_mtok, 8.0);
            let local = &s.llm.providers["local"];
            assert_eq!(local.models, vec!["qwen", "mistral"]);
            assert_eq!(local.base_url.as_deref(), Some("http://127.0.0.1:8000/v1"));
            Ok(())
        });
    }

    #[test]
    fn llm_section_rejects_typos_and_unknown_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twig.toml");
        for (toml, expect) in [
            ("[llm.providers.x]\nkind = \"gemini\"\n", "`gemini`"),
            ("[llm.providers.x]\napi_key = \"sk-secret\"\n", "api_key"),
            ("[llm]\ndefault_modle = \"x\"\n", "default_modle"),
            ("[llm.prices]\n\"m\" = { input = 1.0 }\n", "input"),
        ] {
            std::fs::write(&path, toml).unwrap();
            let err = load_with_env(Some(&path), &FlagOverrides::default(), no_env()).unwrap_err();
            let msg = format!("{err:#}");
            assert!(msg.contains(expect) && msg.contains("llm"), "{toml}: {msg}");
        }
    }

    #[test]
    fn commented_llm_example_is_a_valid_configuration() {
        // Uncomment the settings of the printed [llm] section and build the registry from them.
        let text: String = DEFAULT_TOML
            .lines()
            .skip_while(|l| *l != "[llm]")
            .take_while(|l| *l != "[log]")
            .filter_map(|l| match l.strip_prefix("# ") {
                Some(r) if r.starts_with("[llm") || r.contains(" = ") => Some(r),
                Some(_) => None,
                None => (!l.starts_with('#')).then_some(l),
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let llm: twig_llm::LlmConfig = Figment::from(Toml::string(&text))
            .extract_inner("llm")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(llm.providers.len(), 4, "{text}");
        let reg = twig_llm::Registry::from_config_with_env(&llm, |_| Some("key".into()))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        use twig_core::llm::ModelRegistry;
        assert_eq!(reg.default_model(), "gpt-4o-mini");
        assert!(reg.route("llama").is_some() && reg.route("claude-3-sonnet").is_some());
    }
}
