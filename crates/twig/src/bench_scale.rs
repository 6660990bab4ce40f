//! `twig bench scale`: in-database search (PostgreSQL, pgvector HNSW + tsvector) over many
//! synthetic chunks, in a scratch database: search latency with and without a data-source
//! filter, and recall@10 of the HNSW search against an exact scan of the same rows.
//!
//! Vectors are clustered (a point near one of many random centres, as real embeddings of
//! related text are), since uniform random vectors have no neighbourhoods to find and make
//! every approximate index look worse than it is on real data. Text is drawn by Zipf's law so
//! lexical queries match the few-common, many-rare shape of real text; the bounded lexical
//! search is measured against BM25 over every matching chunk (recall@10).

use crate::bench::percentile;
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::time::Instant;
use twig_core::datasource::{DataSource, DataSourceInput};
use twig_core::document::{Document, DocumentStatus, StoredChunk};
use twig_core::id::{ChunkId, DataSourceId, DocumentId, OrgId};
use twig_core::org::Org;
use twig_core::store::{ScoredChunk, Store};

/// Chunks written per document.
const CHUNKS_PER_DOC: usize = 50;
/// Data sources of the big organisation (a filtered search asks for one of them).
const BIG_SOURCES: usize = 10;
/// Small organisations sharing a tenth of the chunks.
const SMALL_ORGS: usize = 10;
/// Chunks per cluster centre of the synthetic vectors: even the 1% scope then holds about 20
/// chunks near each query, so its exact top 10 are real neighbours rather than near-ties among
/// unrelated chunks (random directions in 384 dimensions are all about equally far).
const CHUNKS_PER_CENTRE: usize = 2000;
/// Distinct words of the synthetic vocabulary.
const VOCABULARY: usize = 20_000;
/// Words per chunk.
const WORDS: usize = 60;

/// What to load and measure.
pub struct ScaleArgs {
    /// PostgreSQL server (a URL of any database there).
    pub server: String,
    /// Chunks to load.
    pub chunks: usize,
    /// Queries per measured scenario.
    pub queries: usize,
    /// Embedding size.
    pub dim: usize,
    /// Print one JSON object instead of text.
    pub json: bool,
}

/// A unit vector near `centre`.
fn near(rng: &mut StdRng, centre: &[f32], spread: f32) -> Vec<f32> {
    let mut v: Vec<f32> = centre.iter().map(|c| c + spread * gaussian(rng)).collect();
    normalize(&mut v);
    v
}

/// A standard normal sample (Box-Muller; rand's distributions live in another crate).
fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn normalize(v: &mut [f32]) {
    let n = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    v.iter_mut().for_each(|x| *x /= n);
}

/// A word index drawn by Zipf's law (the r-th commonest word has frequency ~1/r, as in real
/// text once stop words are dropped): the inverse of its CDF, ln(r)/ln(V).
fn word(rng: &mut StdRng) -> usize {
    let u: f64 = rng.gen();
    ((VOCABULARY as f64).powf(u) as usize).clamp(1, VOCABULARY) - 1
}

/// Pseudo-words made of letters only, so the English stemmer leaves them alone.
fn spell(mut i: usize) -> String {
    let mut s = String::from("q");
    loop {
        s.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

/// One measured scenario.
struct Scenario {
    name: &'static str,
    org: OrgId,
    data_sources: Option<Vec<DataSourceId>>,
    rows: usize,
}

/// Loads the synthetic corpus and prints the figures.
pub async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    let db = twig_store::scratch::ScratchDb::create_on(&args.server).await?;
    // The HNSW build is much faster when its graph fits in maintenance memory.
    db.set("maintenance_work_mem", "4GB").await?;
    let key = hex::encode(rand::random::<[u8; 32]>());
    let store = twig_store::open_with_key(&db.url, Some(&key)).await?;
    let search = store
        .chunk_search()
        .context("this store does not search in the database")?;
    // A scratch database: a crash may lose its last commits, and nothing else.
    db.set("synchronous_commit", "off").await?;
    let mut rng = StdRng::seed_from_u64(7);
    let centre_count = (args.chunks / CHUNKS_PER_CENTRE).max(10);
    let centres: Vec<Vec<f32>> = (0..centre_count)
        .map(|_| {
            let mut c: Vec<f32> = (0..args.dim).map(|_| gaussian(&mut rng)).collect();
            normalize(&mut c);
            c
        })
        .collect();
    let words: Vec<String> = (0..VOCABULARY).map(spell).collect();

    // The big org holds 90% of the chunks over BIG_SOURCES sources; small orgs the rest.
    let big = Org::new("big")?;
    store.create_org(&big).await?;
    let mut sources: Vec<DataSource> = Vec::new();
    for i in 0..BIG_SOURCES {
        sources.push(source(&*store, &big, &format!("big-{i}")).await?);
    }
    let mut small_orgs = Vec::new();
    for i in 0..SMALL_ORGS {
        let o = Org::new(&format!("small-{i}"))?;
        store.create_org(&o).await?;
        sources.push(source(&*store, &o, "only").await?);
        small_orgs.push(o);
    }
    let big_share = args.chunks * 9 / 10;
    let started = Instant::now();
    let mut written = 0usize;
    let mut per_source = vec![0usize; sources.len()];
    while written < args.chunks {
        let n = CHUNKS_PER_DOC.min(args.chunks - written);
        let si = if written < big_share {
            (written / CHUNKS_PER_DOC) % BIG_SOURCES
        } else {
            BIG_SOURCES + (written / CHUNKS_PER_DOC) % SMALL_ORGS
        };
        per_source[si] += n;
        let ds = &sources[si];
        let now = twig_core::time::now();
        let doc = Document {
            id: DocumentId::generate(),
            org_id: ds.org_id.clone(),
            data_source_id: ds.id.clone(),
            source_key: format!("doc-{written}"),
            title: format!("{} {}", words[word(&mut rng)], words[word(&mut rng)]),
            url: None,
            filename: None,
            content_hash: String::new(),
            metadata: Default::default(),
            chunks: n as u32,
            status: DocumentStatus::Indexed,
            error: None,
            created_at: now,
            updated_at: now,
        };
        let chunks: Vec<StoredChunk> = (0..n)
            .map(|i| {
                let text: Vec<&str> = (0..WORDS).map(|_| words[word(&mut rng)].as_str()).collect();
                let ci = rng.gen_range(0..centre_count);
                let c = &centres[ci];
                // Some chunks sit close to their topic, others far: distances to a query
                // spread out, so its exact top 10 are well defined.
                let spread = rng.gen_range(0.02..0.1);
                StoredChunk {
                    id: ChunkId::generate(),
                    document_id: doc.id.clone(),
                    position: i as u32,
                    text: text.join(" "),
                    heading_path: vec![],
                    token_count: WORDS as u32,
                    page: None,
                    embedding: Some(near(&mut rng, c, spread)),
                }
            })
            .collect();
        store.documents().upsert_document(&doc, &chunks).await?;
        written += n;
        if !args.json && written % 100_000 < n {
            eprintln!(
                "loaded {written} chunks ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let load_s = started.elapsed().as_secs_f64();
    let t = Instant::now();
    search.prepare(Some(args.dim)).await?;
    let index_s = t.elapsed().as_secs_f64();
    if !args.json {
        eprintln!("loaded in {load_s:.0} s; HNSW index built in {index_s:.0} s");
    }

    let scenarios = [
        Scenario {
            name: "unfiltered (org, 90% of rows)",
            org: big.id.clone(),
            data_sources: None,
            rows: big_share,
        },
        Scenario {
            name: "filtered (1 data source, 9%)",
            org: big.id.clone(),
            data_sources: Some(vec![sources[0].id.clone()]),
            rows: per_source[0],
        },
        Scenario {
            name: "small org (1%)",
            org: small_orgs[0].id.clone(),
            data_sources: None,
            rows: per_source[BIG_SOURCES],
        },
    ];
    let mut out = Vec::new();
    for sc in &scenarios {
        let ds = sc.data_sources.as_deref();
        let (mut hnsw_ms, mut exact_ms, mut lex_ms) = (Vec::new(), Vec::new(), Vec::new());
        let (mut recall, mut lex_recall) = (0.0, 0.0);
        for _ in 0..args.queries {
            let ci = rng.gen_range(0..centre_count);
            let q = near(&mut rng, &centres[ci], 0.08);
            let t = Instant::now();
            let approx = search.nearest(&sc.org, ds, &q, 10).await?;
            hnsw_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let exact = search.nearest_exact(&sc.org, ds, &q, 10).await?;
            exact_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            recall += overlap(&approx, &exact);
            let text = format!(
                "{} {} {}",
                words[word(&mut rng)],
                words[word(&mut rng)],
                words[word(&mut rng)]
            );
            let t = Instant::now();
            let bounded = search.lexical(&sc.org, ds, &text, 100).await?;
            lex_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let every = search.lexical_exact(&sc.org, ds, &text, 10).await?;
            lex_recall += overlap(&bounded[..bounded.len().min(10)], &every);
        }
        for v in [&mut hnsw_ms, &mut exact_ms, &mut lex_ms] {
            v.sort_by(|a, b| a.total_cmp(b));
        }
        out.push(serde_json::json!({
            "scenario": sc.name,
            "rows_in_scope": sc.rows,
            "recall_at_10": recall / args.queries as f64,
            "hnsw_ms": {"p50": percentile(&hnsw_ms, 50.0), "p95": percentile(&hnsw_ms, 95.0)},
            "exact_ms": {"p50": percentile(&exact_ms, 50.0), "p95": percentile(&exact_ms, 95.0)},
            "lexical_top100_ms": {"p50": percentile(&lex_ms, 50.0), "p95": percentile(&lex_ms, 95.0)},
            "lexical_recall_at_10": lex_recall / args.queries as f64,
        }));
    }
    let report = serde_json::json!({
        "chunks": args.chunks,
        "dim": args.dim,
        "queries": args.queries,
        "load_seconds": load_s,
        "index_seconds": index_s,
        "scenarios": out,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} chunks of {} dimensions; load {:.0} s, HNSW build {:.0} s; {} queries per row",
            args.chunks, args.dim, load_s, index_s, args.queries
        );
        println!(
            "{:<31} {:>9} {:>10} {:>12} {:>12} {:>15} {:>18}",
            "",
            "rows",
            "recall@10",
            "HNSW p95 ms",
            "exact p95 ms",
            "lexical p95 ms",
            "lexical recall@10"
        );
        for s in &out {
            println!(
                "{:<31} {:>9} {:>10.3} {:>12.1} {:>12.1} {:>15.1} {:>18.3}",
                s["scenario"].as_str().unwrap_or(""),
                s["rows_in_scope"],
                s["recall_at_10"].as_f64().unwrap_or(0.0),
                s["hnsw_ms"]["p95"].as_f64().unwrap_or(0.0),
                s["exact_ms"]["p95"].as_f64().unwrap_or(0.0),
                s["lexical_top100_ms"]["p95"].as_f64().unwrap_or(0.0),
                s["lexical_recall_at_10"].as_f64().unwrap_or(0.0),
            );
        }
    }
    Ok(())
}

/// Share of the exact top 10 the approximate search found.
fn overlap(approx: &[ScoredChunk], exact: &[ScoredChunk]) -> f64 {
    if exact.is_empty() {
        return 1.0;
    }
    let got: HashSet<&ChunkId> = approx.iter().map(|h| &h.chunk_id).collect();
    exact.iter().filter(|h| got.contains(&h.chunk_id)).count() as f64 / exact.len() as f64
}

async fn source(store: &dyn Store, org: &Org, name: &str) -> anyhow::Result<DataSource> {
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("file".into()),
            name: Some(name.into()),
            ..Default::default()
        },
    )?;
    store.create_data_source(&ds).await?;
    Ok(ds)
}
