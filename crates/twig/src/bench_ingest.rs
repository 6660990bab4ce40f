//! `twig bench ingest`: ingestion speed through the real sync job, for a batch of
//! uploaded files and for a crawl of a site served on loopback, with the share of
//! wall time spent parsing, chunking, embedding and the rest (storing, indexing,
//! and for the crawl fetching at the polite request rate).
//!
//! Embedding time is measured inside the job (a timing wrapper around the model).
//! Parsing and chunking are timed in a separate pass over the same inputs, since
//! the job interleaves them with the other steps.

use crate::config::Settings;
use anyhow::Context;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::ingest::{Ingestor, UploadedFile};
use twig_core::org::Org;
use twig_core::retrieval::Embedder;
use twig_core::service::ingest::enqueue_sync;
use twig_core::store::Store;
use twig_index::{chunk_sections, ChunkingConfig, Section, TokenCounter, WhitespaceCounter};
use twig_jobs::{Runner, RunnerConfig};

/// Counts the time the model spends embedding.
struct TimedEmbedder {
    inner: Arc<dyn Embedder>,
    nanos: AtomicU64,
}

impl Embedder for TimedEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn max_tokens(&self) -> usize {
        self.inner.max_tokens()
    }
    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let t = Instant::now();
        let r = self.inner.embed(texts);
        self.nanos
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }
    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        self.inner.token_offsets(text)
    }
}

struct ModelCounter(Option<Arc<dyn Embedder>>);

impl TokenCounter for ModelCounter {
    fn count(&self, text: &str) -> usize {
        match &self.0 {
            Some(e) => e.count_tokens(text),
            None => WhitespaceCounter.count(text),
        }
    }
    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        match &self.0 {
            Some(e) => e.token_offsets(text),
            None => WhitespaceCounter.token_offsets(text),
        }
    }
}

/// Texts to ingest: BEIR abstracts when the data set is there, else generated prose.
fn corpus(dataset: &Path, n: usize) -> Vec<(String, String)> {
    if let Ok(data) = twig_index::beir::load(dataset) {
        return data
            .corpus
            .into_iter()
            .take(n)
            .map(|d| (d.title, d.text))
            .collect();
    }
    (0..n)
        .map(|i| {
            let body: String = (0..40)
                .map(|j| {
                    format!(
                        "Sentence {j} of document {i} discusses topic {} in detail. ",
                        (i * 7 + j) % 97
                    )
                })
                .collect();
            (format!("Document {i}"), body)
        })
        .collect()
}

fn html_page(title: &str, text: &str, links: &str) -> String {
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body><nav>menu</nav>\
         <main><h1>{title}</h1><p>{text}</p>{links}</main><footer>footer</footer></body></html>"
    )
}

/// The files of the batch: markdown, HTML and text in turn.
fn files(texts: &[(String, String)]) -> Vec<(String, Vec<u8>)> {
    texts
        .iter()
        .enumerate()
        .map(|(i, (title, text))| match i % 3 {
            0 => (
                format!("doc{i}.md"),
                format!("# {title}\n\n{text}\n").into_bytes(),
            ),
            1 => (
                format!("doc{i}.html"),
                html_page(title, text, "").into_bytes(),
            ),
            _ => (
                format!("doc{i}.txt"),
                format!("{title}\n\n{text}\n").into_bytes(),
            ),
        })
        .collect()
}

/// Parse and chunk time of `files`, in a pass of their own.
fn parse_and_chunk(files: &[(String, Vec<u8>)], counter: &dyn TokenCounter) -> (f64, f64) {
    let limits = twig_parse::Limits::default();
    let cfg = ChunkingConfig {
        max_tokens: 512,
        overlap_tokens: 50,
    };
    let mut parse = Duration::ZERO;
    let mut chunk = Duration::ZERO;
    for (name, bytes) in files {
        let t = Instant::now();
        let Ok(doc) = twig_parse::parse(name, None, bytes, &limits) else {
            continue;
        };
        parse += t.elapsed();
        let sections: Vec<Section> = doc
            .sections
            .into_iter()
            .map(|s| Section {
                heading_path: s.heading_path,
                text: s.text,
            })
            .collect();
        let t = Instant::now();
        let _ = chunk_sections(&sections, counter, &cfg);
        chunk += t.elapsed();
    }
    (parse.as_secs_f64(), chunk.as_secs_f64())
}

struct Phase {
    name: &'static str,
    docs: u64,
    chunks: u64,
    wall: f64,
    parse: f64,
    chunk: f64,
    embed: f64,
}

impl Phase {
    fn json(&self) -> serde_json::Value {
        let rest = (self.wall - self.parse - self.chunk - self.embed).max(0.0);
        json!({
            "documents": self.docs, "chunks": self.chunks, "wall_s": self.wall,
            "documents_per_s": self.docs as f64 / self.wall, "chunks_per_s": self.chunks as f64 / self.wall,
            "share": {
                "parsing": self.parse / self.wall, "chunking": self.chunk / self.wall,
                "embedding": self.embed / self.wall, "storing_indexing_and_fetching": rest / self.wall,
            }
        })
    }

    fn print(&self) {
        let pct = |x: f64| 100.0 * x / self.wall;
        let rest = (self.wall - self.parse - self.chunk - self.embed).max(0.0);
        println!(
            "{}: {} documents, {} chunks in {:.1} s: {:.1} documents/s, {:.1} chunks/s",
            self.name,
            self.docs,
            self.chunks,
            self.wall,
            self.docs as f64 / self.wall,
            self.chunks as f64 / self.wall
        );
        println!(
            "  parsing {:.1}%, chunking {:.1}%, embedding {:.1}%, storing + indexing{} {:.1}%",
            pct(self.parse),
            pct(self.chunk),
            pct(self.embed),
            if self.name == "crawl" {
                " + fetching"
            } else {
                ""
            },
            pct(rest)
        );
    }
}

/// A temporary data dir with a store, the model (timed) and a job runner.
struct Rig {
    settings: Settings,
    store: Arc<dyn Store>,
    model: Option<Arc<dyn Embedder>>,
    timed: Option<Arc<TimedEmbedder>>,
    files_store: Arc<twig_ingest::files::FileStore>,
    runner: Runner,
    org: Org,
    _tmp: tempfile::TempDir,
}

impl Rig {
    async fn new(settings: &Settings) -> anyhow::Result<Rig> {
        let tmp = tempfile::tempdir()?;
        let mut settings = settings.clone();
        settings.data_dir = tmp.path().to_path_buf();
        settings.database_url = None;
        settings.ingest.allow_private_networks = true;
        let store: Arc<dyn Store> = crate::cli::open_store(&settings).await?;
        let model = crate::retrieval::embedder(&settings).await?;
        let timed = model.clone().map(|inner| {
            Arc::new(TimedEmbedder {
                inner,
                nanos: AtomicU64::new(0),
            })
        });
        let embedder = timed.clone().map(|t| t as Arc<dyn Embedder>);
        let retriever = crate::retrieval::open_with(&settings, store.clone(), embedder).await?;
        let files_store = crate::ingest::file_store(&settings, store.clone())?;
        let handler = Arc::new(twig_ingest::sync::SyncHandler::new(
            store.clone(),
            retriever,
            files_store.clone(),
            crate::ingest::config(&settings),
        ));
        let runner = Runner::new(store.clone(), RunnerConfig::default()).register(handler);
        let org = Org::new("bench")?;
        store.create_org(&org).await?;
        Ok(Rig {
            settings,
            store,
            model,
            timed,
            files_store,
            runner,
            org,
            _tmp: tmp,
        })
    }

    /// Seconds the model has spent embedding so far.
    fn embed_s(&self) -> f64 {
        self.timed
            .as_ref()
            .map_or(0.0, |t| t.nanos.load(Ordering::Relaxed) as f64 / 1e9)
    }

    /// Syncs `ds` to the end; answers the wall time.
    async fn sync(&self, ds: &DataSource) -> anyhow::Result<f64> {
        let t = Instant::now();
        enqueue_sync(self.store.as_ref(), &self.org.id, &ds.id).await?;
        drain(&self.runner).await?;
        Ok(t.elapsed().as_secs_f64())
    }
}

/// `twig bench ingest --connector <name>`: a connector's sync against its vendor on loopback,
/// in pages/s, with the share of wall time outside embedding (requests, conversion, storing,
/// indexing), then a re-sync after 1% of the pages changed.
pub async fn connector(
    settings: &Settings,
    dataset: &Path,
    name: &str,
    items: usize,
    as_json: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        name == "confluence",
        "no loopback vendor for connector {name:?}"
    );
    let rig = Rig::new(settings).await?;
    let texts = corpus(dataset, items);
    let site = twig_loopback::confluence::FakeConfluence::new("bench@twig.test", "bench-token");
    let (_served, base) = site.serve().await?;
    let space = site.add_space("BENCH", "Benchmark");
    let mut ids = Vec::new();
    let mut parent = None;
    for (i, (title, text)) in texts.iter().enumerate() {
        // A tree: every 50th page is a section the next 49 hang under.
        let id = site.add_page(
            space,
            if i % 50 == 0 { None } else { parent },
            title,
            &format!(
                "<h1>{}</h1><p>{}</p>",
                escape_html(title),
                escape_html(text)
            ),
        );
        if i % 50 == 0 {
            parent = Some(id);
        }
        ids.push(id);
    }
    site.backdate_all(1);
    let ds = DataSource::create(
        rig.org.id.clone(),
        DataSourceInput {
            kind: Some("confluence".into()),
            name: Some("confluence".into()),
            config: Some(
                json!({"base_url": base, "email": "bench@twig.test", "api_token": "bench-token"}),
            ),
            ..Default::default()
        },
    )?;
    rig.store.create_data_source(&ds).await?;
    if !as_json {
        eprintln!(
            "syncing {} Confluence pages from a loopback site ...",
            ids.len()
        );
    }
    let e0 = rig.embed_s();
    let wall = rig.sync(&ds).await?;
    let embed = rig.embed_s() - e0;
    let got = rig
        .store
        .get_data_source(&rig.org.id, &ds.id)
        .await?
        .context("data source vanished")?;
    let counts = rig.store.documents().count_documents(&ds.id).await?;
    anyhow::ensure!(
        counts.indexed == ids.len() as u64,
        "indexed {} of {} pages: {:?}",
        counts.indexed,
        ids.len(),
        got.last_error
    );
    let changed = (ids.len() / 100).max(1);
    for id in ids.iter().take(changed) {
        site.edit_page(
            *id,
            "<p>This page was edited for the re-sync benchmark.</p>",
        );
    }
    let e1 = rig.embed_s();
    let resync = rig.sync(&ds).await?;
    let resync_embed = rig.embed_s() - e1;
    let outside = (wall - embed).max(0.0) / wall;
    if as_json {
        println!(
            "{}",
            json!({
                "connector": name, "model": rig.settings.embedding.provider,
                "pages": counts.indexed, "chunks": got.chunks_indexed, "wall_s": wall,
                "pages_per_s": counts.indexed as f64 / wall,
                "share": {"embedding": embed / wall, "outside_embedding": outside},
                "resync": {"changed": changed, "wall_s": resync, "embedding_s": resync_embed},
            })
        );
    } else {
        println!(
            "{name}: {} pages, {} chunks in {wall:.1} s: {:.1} pages/s",
            counts.indexed,
            got.chunks_indexed,
            counts.indexed as f64 / wall
        );
        println!(
            "  embedding {:.1}%, outside embedding {:.1}% (requests, conversion, storing, indexing; target < 20%)",
            100.0 * embed / wall,
            100.0 * outside
        );
        println!(
            "  re-sync after {changed} pages changed: {resync:.2} s ({resync_embed:.2} s embedding)"
        );
    }
    Ok(())
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Runs jobs until none is due.
async fn drain(runner: &Runner) -> anyhow::Result<()> {
    while runner.run_once().await? {}
    Ok(())
}

/// Runs the ingestion benchmark and prints its figures.
pub async fn ingest(
    settings: &Settings,
    dataset: &Path,
    n_files: usize,
    n_pages: usize,
    as_json: bool,
) -> anyhow::Result<()> {
    let rig = Rig::new(settings).await?;
    let Rig {
        settings,
        store,
        model,
        files_store,
        runner,
        org,
        ..
    } = &rig;
    let (store, runner, org) = (store.clone(), runner, org);
    let files_store = files_store.clone();
    let counter = ModelCounter(model.clone());
    let embed_s = || rig.embed_s();
    let texts = corpus(dataset, n_files + n_pages);
    let (file_texts, page_texts) = texts.split_at(n_files.min(texts.len()));

    // A batch of uploaded files, through the sync job.
    let batch = files(file_texts);
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("file".into()),
            name: Some("files".into()),
            ..Default::default()
        },
    )?;
    store.create_data_source(&ds).await?;
    let staging = files_store.staging_dir();
    std::fs::create_dir_all(&staging)?;
    let mut uploads = Vec::new();
    for (i, (name, bytes)) in batch.iter().enumerate() {
        let path = staging.join(format!("b{i}"));
        std::fs::write(&path, bytes)?;
        uploads.push(UploadedFile {
            filename: name.clone(),
            content_type: None,
            path: Some(path),
            size: bytes.len() as u64,
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
        });
    }
    if !as_json {
        eprintln!("ingesting {} files ...", batch.len());
    }
    let e0 = embed_s();
    let t = Instant::now();
    files_store.add_files(&org.id, &ds.id, uploads).await?;
    enqueue_sync(store.as_ref(), &org.id, &ds.id).await?;
    drain(runner).await?;
    let wall = t.elapsed().as_secs_f64();
    let got = store
        .get_data_source(&org.id, &ds.id)
        .await?
        .context("data source vanished")?;
    let counts = store.documents().count_documents(&ds.id).await?;
    let (parse, chunk) = tokio::task::spawn_blocking({
        let batch = batch.clone();
        move || parse_and_chunk(&batch, &counter)
    })
    .await?;
    let file_phase = Phase {
        name: "files",
        docs: counts.indexed,
        chunks: got.chunks_indexed,
        wall,
        parse,
        chunk,
        embed: embed_s() - e0,
    };

    // A crawl of a local site.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut pages = std::collections::HashMap::new();
    let links: String = (0..page_texts.len())
        .map(|i| format!("<a href=\"/p{i}\">p{i}</a> "))
        .collect();
    pages.insert("/".to_owned(), html_page("Index", "Site index.", &links));
    for (i, (title, text)) in page_texts.iter().enumerate() {
        pages.insert(format!("/p{i}"), html_page(title, text, ""));
    }
    let page_bytes: Vec<(String, Vec<u8>)> = pages
        .values()
        .enumerate()
        .map(|(i, p)| (format!("p{i}.html"), p.clone().into_bytes()))
        .collect();
    let pages = Arc::new(pages);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let pages = pages.clone();
        async move {
            match pages.get(uri.path()) {
                Some(p) => axum::response::Html(p.clone()).into_response_parts(),
                None => (axum::http::StatusCode::NOT_FOUND, String::new()).into_response_parts(),
            }
        }
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let site = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("website".into()),
            name: Some("site".into()),
            config: Some(
                json!({"url": format!("{base}/"), "requests_per_second": 100, "max_depth": 2}),
            ),
            ..Default::default()
        },
    )?;
    store.create_data_source(&site).await?;
    if !as_json {
        eprintln!(
            "crawling {} pages at 100 requests/s ...",
            page_texts.len() + 1
        );
    }
    let e0 = embed_s();
    let t = Instant::now();
    enqueue_sync(store.as_ref(), &org.id, &site.id).await?;
    drain(runner).await?;
    let wall = t.elapsed().as_secs_f64();
    server.abort();
    let got = store
        .get_data_source(&org.id, &site.id)
        .await?
        .context("data source vanished")?;
    let counts = store.documents().count_documents(&site.id).await?;
    let counter = ModelCounter(model.clone());
    let (parse, chunk) =
        tokio::task::spawn_blocking(move || parse_and_chunk(&page_bytes, &counter)).await?;
    let crawl_phase = Phase {
        name: "crawl",
        docs: counts.indexed,
        chunks: got.chunks_indexed,
        wall,
        parse,
        chunk,
        embed: embed_s() - e0,
    };
    if as_json {
        println!(
            "{}",
            json!({"model": settings.embedding.provider, "files": file_phase.json(), "crawl": crawl_phase.json()})
        );
    } else {
        file_phase.print();
        crawl_phase.print();
    }
    Ok(())
}

/// Response helper so both arms of the fallback have one type.
trait IntoParts {
    fn into_response_parts(self) -> axum::response::Response;
}

impl<T: axum::response::IntoResponse> IntoParts for T {
    fn into_response_parts(self) -> axum::response::Response {
        self.into_response()
    }
}
