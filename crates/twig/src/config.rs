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
    /// HTTP server settings.
    pub server: ServerSettings,
    /// Embedding model.
    pub embedding: EmbeddingSettings,
    /// Retrieval.
    pub search: SearchSettings,
    /// Per-key request limits.
    pub rate_limits: RateLimitSettings,
    /// Answering.
    pub answer: AnswerSettings,
    /// Logging.
    pub log: LogSettings,
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
            server: ServerSettings::default(),
            embedding: EmbeddingSettings::default(),
            search: SearchSettings::default(),
            rate_limits: RateLimitSettings::default(),
            answer: AnswerSettings::default(),
            log: LogSettings::default(),
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
# The scheme picks the backend: sqlite://PATH.
# database_url = "sqlite://./twig-data/twig.db"

# Directory of the embedding model files (TWIG_MODEL_DIR). Unset: ~/.cache/twig/models/all-MiniLM-L6-v2
# ($XDG_CACHE_HOME is honoured). `twig serve` fetches the model there on first start.
# model_dir = "./models/all-MiniLM-L6-v2"

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

[rate_limits]
# Per API key and scope, as in the API reference: sustained requests per minute and burst.
# Responses carry X-RateLimit-Limit/Remaining/Reset; a refused request answers 429 with Retry-After.
enabled = true
read_per_minute = 200
read_burst = 250
write_per_minute = 10
write_burst = 15
execute_per_minute = 100
execute_burst = 120
admin_per_minute = 50
admin_burst = 60

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
            if let (toml::Value::Table(sub), serde_json::Value::Object(_)) = (v, known_v) {
                walk(sub, known_v, &name)?;
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
        let rl = &self.rate_limits;
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
        self.answer.validate()?;
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
}
