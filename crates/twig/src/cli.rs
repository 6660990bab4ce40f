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
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Retrieval quality (nDCG@10, recall, MRR) and speed on a BEIR data set, in a fresh temporary data dir.
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
    },
    /// Analytics aggregation time over many stored interactions, in a fresh temporary database.
    Analytics {
        /// Interactions to store first.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
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
pub async fn run(cli: Cli) -> anyhow::Result<()> {
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
    crate::telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { .. } => crate::serve::run(settings).await,
        Command::Orgs(cmd) => orgs(&settings, cmd).await,
        Command::Keys(cmd) => keys_cmd(&settings, cmd).await,
        Command::Config(_) => Ok(()),
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
        }) => crate::bench::retrieval(&settings, &dataset, json, max_docs).await,
        Command::Bench(BenchCommand::Analytics { rows }) => crate::analytics_bench::run(rows).await,
    }
}

/// Opens the configured store, creating the data directory if needed.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    Ok(twig_store::open(&settings.database_url()).await?)
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
            };
            let (key, secret) = keys::create(store.as_ref(), &org, input)
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
