//! Command-line interface. Every subcommand reads the same settings as `serve`
//! and acts on the data directory directly, so operators can bootstrap or
//! recover without the HTTP API, even while the server runs.

use crate::config::{self, FlagOverrides, Settings};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use twig_core::apikey::{Environment, Scope};
use twig_core::id::OrgId;
use twig_core::org::Org;
use twig_core::page::{Page, MAX_LIMIT};
use twig_core::ratelimit::{LimitChanges, RateLimit};
use twig_core::service::keys::{self, KeyInput};
use twig_core::store::Store;

/// Twig: a self-hostable RAG agent platform.
#[derive(Debug, Parser)]
#[command(name = "twig", version, about)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
struct GlobalArgs {
    /// Config file (default: ./twig.toml if present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory (env TWIG_DATA_DIR, default ./twig-data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (env TWIG_DATABASE_URL, default: SQLite inside the data directory).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP API server.
    Serve {
        /// Listen address (env TWIG_ADDR, default 127.0.0.1:8080).
        #[arg(long)]
        addr: Option<String>,
    },
    /// Run only the sync job workers and the scheduler (no HTTP); `ingest.workers` of them (at least 1).
    Worker,
    /// Manage organisations.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Re-embed every chunk with the configured embedding model (stop the server first).
    Reindex,
    /// Copy a whole embedded deployment into an empty PostgreSQL database (records, documents,
    /// chunks with their embeddings, jobs, webhooks, sessions), verifying every table's count.
    /// Stop the server first.
    Migrate {
        /// The SQLite database (sqlite://PATH, e.g. sqlite://twig-data/twig.db).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The PostgreSQL database (postgres://USER:PASSWORD@HOST/DB), with no deployment yet.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Ingestion speed through the sync job (a file batch and a local crawl), with time shares.
    Ingest {
        /// BEIR directory whose abstracts become the files and pages (generated text if absent).
        #[arg(long, default_value = "../shared/datasets/scifact")]
        dataset: PathBuf,
        /// Files in the batch.
        #[arg(long, default_value_t = 300)]
        files: usize,
        /// Pages of the crawled site (plus its index page).
        #[arg(long, default_value_t = 100)]
        pages: usize,
        /// Instead, sync this connector against its vendor's API served on loopback.
        #[arg(long, value_parser = ["confluence"])]
        connector: Option<String>,
        /// Items (pages) the loopback vendor holds, with --connector.
        #[arg(long, default_value_t = 2000)]
        items: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Retrieval quality (nDCG@10, recall, MRR) and speed on a BEIR data set, in a fresh temporary data dir
    /// (with `--database-url postgres://…`, on the PostgreSQL engine in a scratch database there).
    Retrieval {
        /// BEIR directory (corpus.jsonl, queries.jsonl, qrels/test.tsv).
        #[arg(long, default_value = "../shared/datasets/scifact")]
        dataset: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Ingest only the first N documents (quick runs).
        #[arg(long)]
        max_docs: Option<usize>,
        /// Set from the global `--database-url`: here it names a PostgreSQL server to measure
        /// that engine on, in a scratch database created there and dropped afterwards.
        #[arg(skip)]
        database_url: Option<String>,
    },
    /// The answering pipeline per strategy (redwood, cedar, cypress) with the extractive
    /// answerer: latency without model time, and answer recall@k, on a BEIR data set.
    Answer {
        /// BEIR directory (corpus.jsonl, queries.jsonl, qrels/test.tsv).
        #[arg(long, default_value = "../shared/datasets/scifact")]
        dataset: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Ingest only the first N documents (quick runs).
        #[arg(long)]
        max_docs: Option<usize>,
        /// Ask only the first N judged queries.
        #[arg(long)]
        max_queries: Option<usize>,
    },
    /// Analytics aggregation time over many stored interactions, in a fresh temporary database.
    Analytics {
        /// Interactions to store first.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// In-database search at scale: synthetic chunks in a scratch PostgreSQL database on the
    /// server of the global `--database-url`; prints filtered and unfiltered search p95 and the
    /// HNSW search's recall@10 against an exact scan.
    Scale {
        /// Chunks to load.
        #[arg(long, default_value_t = 1_000_000)]
        chunks: usize,
        /// Queries per scenario.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Embedding size.
        #[arg(long, default_value_t = 384)]
        dim: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Set from the global `--database-url`.
        #[arg(skip)]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OrgsCommand {
    /// Create an organisation and print its id.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// List organisations.
    List,
    /// Override an organisation's rate limits for some scopes (every key of the org gets
    /// that allowance; a key's own override still wins), or clear the override; then print
    /// the limits in force.
    SetLimits {
        /// Organisation id (org_…).
        #[arg(long)]
        org: String,
        /// Comma-separated scopes: read,write,execute,admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Sustained requests per minute.
        #[arg(long, requires = "burst", conflicts_with = "clear")]
        per_minute: Option<u32>,
        /// Requests allowed at once after a quiet period.
        #[arg(long, requires = "per_minute", conflicts_with = "clear")]
        burst: Option<u32>,
        /// Remove the override: the configured default applies again.
        #[arg(long, required_unless_present = "per_minute")]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key and print its secret (shown once).
    Create {
        /// Organisation id (org_…).
        #[arg(long)]
        org: String,
        /// Label for the key.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: read,write,execute,admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Make a test key (twigsk_test_…) instead of a live one.
        #[arg(long)]
        test: bool,
        /// The user (usr_…) the key belongs to; its scopes must be within the user's role.
        #[arg(long)]
        user: Option<String>,
    },
    /// List an organisation's keys, revoked ones included.
    List {
        /// Organisation id (org_…).
        #[arg(long)]
        org: String,
    },
    /// Revoke a key at once.
    Revoke {
        /// Key id (key_…).
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the default configuration, commented.
    PrintDefault,
}

/// Runs the parsed command.
pub async fn run(mut cli: Cli) -> anyhow::Result<()> {
    // `bench retrieval --database-url` names a server to benchmark on, not the store to open.
    if let Command::Bench(
        BenchCommand::Retrieval { database_url, .. } | BenchCommand::Scale { database_url, .. },
    ) = &mut cli.command
    {
        *database_url = cli.global.database_url.take();
    }
    if let Command::Config(ConfigCommand::PrintDefault) = cli.command {
        print!("{}", config::DEFAULT_TOML);
        return Ok(());
    }
    let addr = match &cli.command {
        Command::Serve { addr } => addr.clone(),
        _ => None,
    };
    let flags = FlagOverrides {
        addr,
        data_dir: cli.global.data_dir.clone(),
        database_url: cli.global.database_url.clone(),
    };
    let settings = config::load(cli.global.config.as_deref(), &flags)?;
    let telemetry = crate::telemetry::init(&settings.log, &settings.telemetry)?;
    let result = run_command(cli.command, settings).await;
    telemetry.shutdown().await;
    result
}

async fn run_command(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => crate::serve::run(settings).await,
        Command::Worker => crate::ingest::run_worker(settings).await,
        Command::Orgs(cmd) => orgs(&settings, cmd).await,
        Command::Keys(cmd) => keys_cmd(&settings, cmd).await,
        Command::Config(_) => Ok(()),
        Command::Migrate { from, to } => migrate(&settings, &from, &to).await,
        Command::Reindex => {
            let store = open_store(&settings).await?;
            let Some(embedder) = crate::retrieval::embedder(&settings).await? else {
                anyhow::bail!("embedding.provider is \"none\": there is nothing to embed with");
            };
            let model = embedder.model_id().to_owned();
            let n = twig_index::engine::reindex(store, embedder).await?;
            println!("re-embedded {n} chunks with {model}");
            Ok(())
        }
        Command::Bench(BenchCommand::Retrieval {
            dataset,
            json,
            max_docs,
            database_url,
        }) => {
            crate::bench::retrieval(&settings, &dataset, json, max_docs, database_url.as_deref())
                .await
        }
        Command::Bench(BenchCommand::Ingest {
            dataset,
            connector: Some(connector),
            items,
            json,
            ..
        }) => crate::bench_ingest::connector(&settings, &dataset, &connector, items, json).await,
        Command::Bench(BenchCommand::Ingest {
            dataset,
            files,
            pages,
            json,
            ..
        }) => crate::bench_ingest::ingest(&settings, &dataset, files, pages, json).await,
        Command::Bench(BenchCommand::Answer {
            dataset,
            json,
            max_docs,
            max_queries,
        }) => crate::bench_answer::answer(&settings, &dataset, json, max_docs, max_queries).await,
        Command::Bench(BenchCommand::Analytics { rows }) => crate::analytics_bench::run(rows).await,
        Command::Bench(BenchCommand::Scale {
            chunks,
            queries,
            dim,
            json,
            database_url,
        }) => {
            let server = database_url.context(
                "bench scale measures PostgreSQL: give --database-url postgres://USER:PASSWORD@HOST/DB (a scratch database is made there)",
            )?;
            crate::bench_scale::run(crate::bench_scale::ScaleArgs {
                server,
                chunks,
                queries,
                dim,
                json,
            })
            .await
        }
    }
}

/// `twig migrate`: SQLite into PostgreSQL, secrets kept sealed with the key they were sealed with.
async fn migrate(settings: &Settings, from: &str, to: &str) -> anyhow::Result<()> {
    let Some(path) = from
        .strip_prefix("sqlite://")
        .or_else(|| from.strip_prefix("sqlite:"))
    else {
        anyhow::bail!("--from must be sqlite://PATH, the embedded deployment's database");
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        anyhow::bail!("--to must be postgres://…, the database the nodes will share");
    }
    let path = std::path::Path::new(path);
    if !path.is_file() {
        anyhow::bail!("no SQLite database at {}", path.display());
    }
    let source = twig_store::sql::SqlStore::open_with_key(path, settings.secret_key.as_deref())
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    // Secrets move sealed: PostgreSQL nodes open them with the key that sealed them.
    let key_file = path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("secret.key");
    let key = match &settings.secret_key {
        Some(k) => k.clone(),
        None => std::fs::read_to_string(&key_file)
            .with_context(|| format!("reading the secret key {}", key_file.display()))?
            .trim()
            .to_owned(),
    };
    let dest = twig_store::sql::SqlStore::connect_postgres(to, &key)
        .await
        .with_context(|| format!("connecting to {}", twig_store::redact(to)))?;
    let copied = source.copy_into(&dest).await?;
    for c in &copied {
        println!("{:<20} {:>10}", c.table, c.rows);
    }
    println!(
        "copied {} rows into {}; every table's count matches",
        copied.iter().map(|c| c.rows).sum::<u64>(),
        twig_store::redact(to)
    );
    if settings.secret_key.is_none() {
        println!(
            "start every node with secret_key set to the key in {} (TWIG_SECRET_KEY=$(cat {})): the copied secrets are sealed with it",
            key_file.display(),
            key_file.display()
        );
    }
    Ok(())
}

/// Opens the configured store, creating the data directory if needed.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    Ok(twig_store::open_with_key(&settings.database_url(), settings.secret_key.as_deref()).await?)
}

async fn orgs(settings: &Settings, cmd: OrgsCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match cmd {
        OrgsCommand::Create { name } => {
            let org = Org::new(&name).map_err(|e| anyhow::anyhow!("{}", e.public_message()))?;
            store
                .create_org(&org)
                .await
                .map_err(twig_core::Error::from)
                .map_err(public)?;
            println!("{}", org.id);
        }
        OrgsCommand::List => {
            for o in store
                .list_orgs()
                .await
                .map_err(twig_core::Error::from)
                .map_err(public)?
            {
                println!("{}\t{}\t{}", o.id, o.name, o.created_at.to_rfc3339());
            }
        }
        OrgsCommand::SetLimits {
            org,
            scope,
            per_minute,
            burst,
            clear,
        } => {
            let org = OrgId::parse(&org)?;
            let scopes = Scope::parse_list(&scope).map_err(public)?;
            let limit = match (per_minute, burst, clear) {
                (Some(per_minute), Some(burst), false) => Some(RateLimit { per_minute, burst }),
                _ => None,
            };
            let mut changes = LimitChanges::default();
            for sc in scopes {
                let slot = match sc {
                    Scope::Read => &mut changes.read,
                    Scope::Write => &mut changes.write,
                    Scope::Execute => &mut changes.execute,
                    Scope::Admin => &mut changes.admin,
                };
                *slot = Some(limit);
            }
            let limits = keys::set_org_limits(store.as_ref(), &org, &changes)
                .await
                .map_err(public)?;
            let defaults = settings.rate_limits.limits();
            if defaults.is_none() {
                eprintln!("note: rate limiting is off (rate_limits.enabled = false); overrides apply once it is on");
            }
            let defaults = defaults.unwrap_or_default();
            for sc in Scope::ALL {
                let (l, from) = match limits.of(sc) {
                    Some(l) => (l, "org override"),
                    None => (defaults.of(sc), "default"),
                };
                println!(
                    "{}\t{}/min\tburst {}\t{from}",
                    sc.as_str(),
                    l.per_minute,
                    l.burst
                );
            }
        }
    }
    Ok(())
}

fn public(e: twig_core::Error) -> anyhow::Error {
    match e {
        twig_core::Error::Internal(inner) => inner,
        other => anyhow::anyhow!("{}", other.public_message()),
    }
}

async fn keys_cmd(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match cmd {
        KeysCommand::Create {
            org,
            name,
            scopes,
            test,
            user,
        } => {
            let org = OrgId::parse(&org)?;
            if store
                .get_org(&org)
                .await
                .map_err(twig_core::Error::from)
                .map_err(public)?
                .is_none()
            {
                anyhow::bail!("organisation {org} does not exist");
            }
            let input = KeyInput {
                name: Some(name),
                scopes: Some(scopes),
                environment: Some(
                    if test {
                        Environment::Test
                    } else {
                        Environment::Live
                    }
                    .as_str()
                    .to_owned(),
                ),
                expires_at: None,
                user_id: user,
                rate_limits: None,
            };
            // Operators are not held to the org's allowance (no ceiling).
            let (key, secret) = keys::create(store.as_ref(), &org, input, None)
                .await
                .map_err(public)?;
            eprintln!(
                "Created API key {} ({}). The secret below will not be shown again:",
                key.id,
                scope_list(&key.scopes)
            );
            println!("{}", secret.expose());
        }
        KeysCommand::List { org } => {
            let org = OrgId::parse(&org)?;
            let now = twig_core::time::now();
            let mut offset = 0;
            loop {
                let page = Page {
                    limit: MAX_LIMIT,
                    offset,
                };
                let listed = store
                    .list_api_keys(&org, true, page)
                    .await
                    .map_err(twig_core::Error::from)
                    .map_err(public)?;
                for k in &listed.items {
                    println!(
                        "{}\t{}\t{}…\t{}\t{}\t{}",
                        k.id,
                        k.state(now),
                        k.prefix,
                        scope_list(&k.scopes),
                        k.environment.as_str(),
                        k.name
                    );
                }
                offset += listed.items.len() as u64;
                if listed.items.is_empty() || offset >= listed.total {
                    break;
                }
            }
        }
        KeysCommand::Revoke { key_id } => {
            keys::revoke(store.as_ref(), None, &key_id)
                .await
                .map_err(public)?;
            println!("revoked {key_id}");
        }
    }
    Ok(())
}

fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
