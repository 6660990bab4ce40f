//! Ingestion end to end: uploads of every format and of bad files, website crawls of a
//! loopback site, incremental re-sync, concurrent sync requests, and a server killed mid-sync.

use crate::helpers::{assert_error, TestServer};
use crate::site::{page, Site};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const CRAWL_ENV: &[(&str, &str)] = &[
    ("TWIG_INGEST__ALLOW_PRIVATE_NETWORKS", "true"),
    ("TWIG_INGEST__JOB_LEASE_SECS", "3"),
];

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../twig-parse/tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            z.start_file(*name, opts).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

/// A multipart/form-data body with every file in the field `files`.
pub(crate) fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "twigtestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, data) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) async fn upload(
    s: &TestServer,
    key: &str,
    ds: &str,
    files: &[(&str, &[u8])],
) -> crate::helpers::Resp {
    let (ct, body) = multipart(files);
    let path = format!("/api/v1/data-sources/{ds}/files");
    let key = key.to_owned();
    s.raw(move |c, base| {
        c.post(format!("{base}{path}"))
            .bearer_auth(key)
            .header("content-type", ct)
            .body(body)
    })
    .await
}

pub(crate) async fn create_ds(s: &TestServer, body: Value) -> String {
    let r = s.post("/api/v1/data-sources", s.admin(), body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Polls the status until a sync settles after `since` (the `last_synced_at` seen before
/// the request, if any); returns the last status body.
pub(crate) async fn wait_synced_after(
    s: &TestServer,
    ds: &str,
    since: Option<&str>,
    timeout: Duration,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let r = s
            .get(&format!("/api/v1/data-sources/{ds}/status"), s.admin())
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let st = r.body["status"].as_str().unwrap().to_owned();
        let settled = matches!(st.as_str(), "active" | "partial" | "failed");
        let fresh = since.is_none() || r.body["last_synced_at"].as_str() != since;
        if settled && fresh {
            // The job is marked finished right after the source's status is written.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return r.body;
        }
        assert!(Instant::now() < deadline, "sync did not finish: {}", r.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn wait_synced(s: &TestServer, ds: &str, timeout: Duration) -> Value {
    wait_synced_after(s, ds, None, timeout).await
}

/// Starts a sync of `ds`, kills the server with SIGKILL once `after` documents are done
/// (the sync still running), restarts it on the same data dir with `env`, and waits for the
/// resumed sync to settle; answers its status.
pub(crate) async fn sync_killed_midway(
    s: &mut TestServer,
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
    ds: &str,
    after: u64,
) -> Value {
    let key = s.admin().to_owned();
    let r = s
        .post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let st = s
            .get(&format!("/api/v1/data-sources/{ds}/status"), &key)
            .await
            .body;
        if st["documents_done"].as_u64().unwrap_or(0) >= after {
            assert_eq!(st["status"], "processing", "killed mid-sync: {st}");
            break;
        }
        assert!(Instant::now() < deadline, "sync did not start: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.kill9();
    *s = TestServer::start_in(data_dir, env).await;
    s.key = Some(key);
    wait_synced(s, ds, Duration::from_secs(120)).await
}

/// Polls until a sync has succeeded at least once (`last_synced_at` set) and settled.
pub(crate) async fn wait_first_sync(s: &TestServer, ds: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let st = wait_synced(s, ds, timeout).await;
        if st["last_synced_at"].is_string() {
            return st;
        }
        assert!(Instant::now() < deadline, "no sync succeeded: {st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn documents(s: &TestServer, ds: &str) -> Vec<Value> {
    let r = s
        .get(
            &format!("/api/v1/data-sources/{ds}/documents?limit=200"),
            s.admin(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["limit"], 200);
    r.body["documents"].as_array().unwrap().clone()
}

fn by_name<'a>(docs: &'a [Value], field: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d[field].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no document with {field} {name}: {docs:#?}"))
}

pub(crate) async fn org_id(s: &TestServer) -> String {
    let me = s.get("/api/v1/me", s.admin()).await;
    me.body["org_id"].as_str().unwrap().to_owned()
}

pub(crate) async fn search(s: &TestServer, query: &str, ds: &str) -> Vec<Value> {
    let org = org_id(s).await;
    let r = s
        .post(
            "/api/v1/semantic-search",
            s.admin(),
            json!({"query": query, "org_id": org, "data_source_ids": [ds], "top_k": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["chunks"].as_array().unwrap().clone()
}

#[tokio::test]
async fn uploads_of_every_format_and_of_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[("TWIG_INGEST__MAX_FILE_BYTES", "1000000")]).await;
    let ds = create_ds(&s, json!({"type": "file", "name": "Handbook"})).await;
    let bomb = zip_of(&[("zeros.txt", &vec![0u8; 40 << 20])]);
    let archive = zip_of(&[
        (
            "guide/one.md",
            b"# Archive one\n\nThe zebra protocol is described here.",
        ),
        ("two.txt", b"Second entry mentions the walrus handshake."),
    ]);
    let latin1: &[u8] = b"Caf\xe9 cr\xe8me br\xfbl\xe9e is served with the pelican dessert menu.\n";
    let over = vec![b'a'; 1_500_000];
    let md: &[u8] = b"# Onboarding\n\nNew hires get a capybara badge on day one.\n";
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("onboarding.md", md.to_vec()),
        ("sample.pdf", fixture("sample.pdf")),
        ("sample.docx", fixture("sample.docx")),
        ("sample.pptx", fixture("sample.pptx")),
        ("sample.xlsx", fixture("sample.xlsx")),
        (
            "prices.csv",
            b"product,price\nllama saddle,12\nyak bell,7\n".to_vec(),
        ),
        (
            "page.html",
            page("Kestrel page", "The kestrel hovers over the field.", &[]).into_bytes(),
        ),
        ("notes.txt", latin1.to_vec()),
        (
            "data.json",
            br#"{"animal": "narwhal", "habitat": "arctic"}"#.to_vec(),
        ),
        ("truncated.pdf", fixture("truncated.pdf")),
        ("encrypted.pdf", fixture("encrypted.pdf")),
        ("bomb.zip", bomb),
        ("archive.zip", archive),
        ("big.txt", over),
        ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00binary".to_vec()),
        ("copy-of-onboarding.md", md.to_vec()),
    ];
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let r = upload(&s, s.admin(), &ds, &refs).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let ids = r.body["document_ids"].as_array().unwrap();
    // The zip's two entries replace it; the duplicate content is the same document.
    assert_eq!(ids.len(), 17, "{}", r.text);
    assert_eq!(
        ids[0], ids[16],
        "same content uploaded twice is one document"
    );
    assert!(r.body["job"]["id"].as_str().unwrap().starts_with("job_"));
    let big = &r.body["documents"][14];
    assert_eq!(big["status"], "failed", "{big}");
    assert!(
        big["error"].as_str().unwrap().contains("too large"),
        "{big}"
    );

    let st = wait_synced(&s, &ds, Duration::from_secs(120)).await;
    assert_eq!(st["status"], "partial", "{st}");
    for field in [
        "chunks_indexed",
        "progress_pct",
        "documents_total",
        "documents_done",
        "documents_failed",
    ] {
        assert!(st[field].is_u64(), "{field}: {st}");
    }
    assert!(
        st.get("estimated_completion").is_some() && st["last_synced_at"].is_string(),
        "{st}"
    );
    assert_eq!(st["documents_total"], 16, "{st}");
    assert_eq!(st["documents_failed"], 5, "{st}");
    assert_eq!(st["documents_done"], 11, "{st}");
    assert_eq!(st["progress_pct"], 100);
    assert!(
        st["last_error"].as_str().unwrap().contains("5 of 16"),
        "{st}"
    );

    let docs = documents(&s, &ds).await;
    assert_eq!(docs.len(), 16);
    let reason = |name: &str| {
        let d = by_name(&docs, "filename", name);
        assert_eq!(d["status"], "failed", "{d}");
        assert_eq!(d["chunks"], 0);
        d["error"].as_str().unwrap().to_owned()
    };
    assert!(reason("truncated.pdf").contains("damaged"));
    assert!(reason("encrypted.pdf").contains("password"));
    assert!(reason("bomb.zip").contains("zip bomb"));
    assert!(reason("big.txt").contains("too large"));
    assert!(reason("program.exe").contains("unsupported"));
    for name in [
        "onboarding.md",
        "sample.pdf",
        "sample.docx",
        "sample.pptx",
        "sample.xlsx",
        "prices.csv",
        "page.html",
        "notes.txt",
        "data.json",
        "archive.zip/guide/one.md",
        "archive.zip/two.txt",
    ] {
        let d = by_name(&docs, "filename", name);
        assert_eq!(d["status"], "indexed", "{d}");
        assert!(d["chunks"].as_u64().unwrap() >= 1, "{d}");
        assert!(d["error"].is_null());
        assert!(d["updated_at"].is_string() && d["id"].as_str().unwrap().starts_with("doc_"));
    }
    // Content is searchable, the non-UTF-8 text decoded, the PDF's page kept.
    let hits = search(&s, "pelican dessert", &ds).await;
    assert!(
        hits[0]["text"].as_str().unwrap().contains("Café crème"),
        "{hits:?}"
    );
    let hits = search(&s, "walrus handshake", &ds).await;
    assert_eq!(hits[0]["document_title"], "archive.zip/two.txt");
    let hits = search(&s, "quick brown fox", &ds).await;
    assert!(!hits.is_empty());

    // Deleting a document removes it from the list, the counts and search.
    let walrus = by_name(&docs, "filename", "archive.zip/two.txt")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = s
        .get(&format!("/api/v1/data-sources/{ds}"), s.admin())
        .await
        .body["chunks_indexed"]
        .as_u64()
        .unwrap();
    assert_eq!(
        s.delete(&format!("/api/v1/documents/{walrus}"), s.admin())
            .await
            .status,
        204
    );
    assert_error(
        &s.delete(&format!("/api/v1/documents/{walrus}"), s.admin())
            .await,
        404,
        "not_found",
    );
    assert_error(
        &s.delete("/api/v1/documents/nope", s.admin()).await,
        400,
        "invalid_request",
    );
    assert!(search(&s, "walrus handshake", &ds)
        .await
        .iter()
        .all(|h| h["document_id"] != walrus.as_str()));
    let after = s
        .get(&format!("/api/v1/data-sources/{ds}"), s.admin())
        .await
        .body["chunks_indexed"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before - 1);
    assert_eq!(documents(&s, &ds).await.len(), 15);

    // Deleting the source removes its documents, chunks and stored originals.
    let files_dir = dir.path().join("files");
    assert!(files_dir.exists());
    assert_eq!(
        s.delete(&format!("/api/v1/data-sources/{ds}"), s.admin())
            .await
            .status,
        204
    );
    assert_error(
        &s.get(&format!("/api/v1/data-sources/{ds}/documents"), s.admin())
            .await,
        404,
        "not_found",
    );
    let r = s
        .post(
            "/api/v1/semantic-search",
            s.admin(),
            json!({"query": "capybara badge", "org_id": org_id(&s).await}),
        )
        .await;
    assert_eq!(r.body["chunks"].as_array().unwrap().len(), 0, "{}", r.text);
    let org_dirs: Vec<_> = std::fs::read_dir(&files_dir).unwrap().flatten().collect();
    for o in org_dirs {
        assert!(
            !o.path().join(&ds).exists(),
            "stored files of the deleted source remain"
        );
    }
}

#[tokio::test]
async fn upload_errors_and_scopes() {
    let (s, _dir) = TestServer::start().await;
    let files = create_ds(&s, json!({"type": "file", "name": "F"})).await;
    let site = create_ds(
        &s,
        json!({"type": "website", "name": "W", "config": {"url": "https://example.com"}}),
    )
    .await;
    let f: &[(&str, &[u8])] = &[("a.txt", b"hello")];
    assert_error(
        &upload(&s, s.admin(), &site, f).await,
        400,
        "invalid_request",
    );
    assert_error(
        &upload(&s, s.admin(), "ds_missing", f).await,
        404,
        "not_found",
    );
    let (_, read) = s.key_with(&["read"]).await;
    let m = assert_error(&upload(&s, &read, &files, f).await, 403, "forbidden");
    assert!(m.contains("Write"), "{m}");
    assert_error(
        &s.post(
            &format!("/api/v1/data-sources/{files}/sync"),
            &read,
            json!({}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_eq!(
        s.get(&format!("/api/v1/data-sources/{files}/status"), &read)
            .await
            .status,
        200
    );
    // Not multipart, and a wrong field name.
    let r = s
        .post(
            &format!("/api/v1/data-sources/{files}/files"),
            s.admin(),
            json!({"files": []}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    let (ct, body) = multipart(&[("a.txt", b"x")]);
    let body = String::from_utf8(body)
        .unwrap()
        .replace("name=\"files\"", "name=\"file\"");
    let path = format!("/api/v1/data-sources/{files}/files");
    let key = s.admin().to_owned();
    let r = s
        .raw(move |c, base| {
            c.post(format!("{base}{path}"))
                .bearer_auth(key)
                .header("content-type", ct)
                .body(body)
        })
        .await;
    assert_error(&r, 400, "invalid_request");
    // A new source reports pending with no progress yet.
    let st = s
        .get(&format!("/api/v1/data-sources/{files}/status"), s.admin())
        .await
        .body;
    assert_eq!(
        (st["status"].as_str(), st["progress_pct"].as_u64()),
        (Some("pending"), Some(0)),
        "{st}"
    );
    assert!(st["estimated_completion"].is_null() && st["last_synced_at"].is_null());
    // Hundreds of files in one request.
    let many: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| {
            (
                format!("n{i}.txt"),
                format!("Note number {i} about topic t{i}.").into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let r = upload(&s, s.admin(), &files, &refs).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["document_ids"].as_array().unwrap().len(), 300);
    let st = wait_synced(&s, &files, Duration::from_secs(120)).await;
    assert_eq!(
        (st["status"].as_str(), st["documents_done"].as_u64()),
        (Some("active"), Some(300)),
        "{st}"
    );
    let r = s
        .get(
            &format!("/api/v1/data-sources/{files}/documents?limit=10&offset=295"),
            s.admin(),
        )
        .await;
    assert_eq!(
        (
            r.body["total"].as_u64(),
            r.body["documents"].as_array().unwrap().len()
        ),
        (Some(300), 5)
    );
}

fn site_pages() -> Vec<(&'static str, String)> {
    vec![
        ("/", page("Home", "Welcome to the otter documentation.", &["/a", "/b", "/private/secret", "/loop1", "/missing", "/huge", "/slow", "#top"])),
        ("/a", page("Page A", "Alpha page talks about the heron migration.", &["/", "/b"])),
        ("/b", page("Page B", "Beta page explains the badger tunnels.", &["/a"])),
        ("/c", page("Page C", "Gamma page only in the sitemap, about the ibis nest.", &[])),
        ("/slow", page("Slow", "A slow page about the sloth.", &[])),
        ("/private/secret", page("Secret", "Robots forbid the cobra page.", &[])),
        ("/sitemap.xml", "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"><url><loc>{base}/c</loc></url></urlset>".into()),
    ]
}

#[tokio::test]
async fn crawl_resync_and_concurrent_requests() {
    let site = Site::start(&site_pages()).await;
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), CRAWL_ENV).await;
    let ds = create_ds(
        &s,
        json!({"type": "website", "name": "Site", "config": {"url": format!("{}/", site.base), "requests_per_second": 50}}),
    )
    .await;
    // Two syncs requested at once: one job.
    let path = format!("/api/v1/data-sources/{ds}/sync");
    let (a, b) = tokio::join!(
        s.post(&path, s.admin(), json!({})),
        s.post(&path, s.admin(), json!({}))
    );
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (202, 202),
        "{} {}",
        a.text,
        b.text
    );
    assert_eq!(a.body["id"], b.body["id"]);
    assert!(
        matches!(a.body["status"].as_str(), Some("queued" | "running")),
        "{}",
        a.text
    );

    let st = wait_synced(&s, &ds, Duration::from_secs(90)).await;
    assert_eq!(st["status"], "partial", "the redirect loop fails: {st}");
    assert!(
        st["last_error"].as_str().unwrap().contains("redirect loop"),
        "{st}"
    );
    let docs = documents(&s, &ds).await;
    let url = |p: &str| format!("{}{p}", site.base);
    for p in ["/", "/a", "/b", "/c", "/slow"] {
        let d = by_name(&docs, "url", &url(p));
        assert_eq!(d["status"], "indexed", "{d}");
        assert!(d["chunks"].as_u64().unwrap() >= 1);
    }
    assert_eq!(by_name(&docs, "url", &url("/a"))["title"], "Page A");
    assert_eq!(by_name(&docs, "url", &url("/loop1"))["status"], "failed");
    assert_eq!(
        docs.len(),
        6,
        "no robots-disallowed, missing or huge page: {docs:#?}"
    );
    assert_eq!(site.hits("/private/secret"), 0, "robots.txt obeyed");
    assert_eq!(site.hits("/"), 1, "a page is fetched once");
    // Navigation and footers are not indexed; page text is, with its URL for citations.
    let hits = search(&s, "heron migration", &ds).await;
    assert_eq!(hits[0]["document_url"], url("/a"));
    assert!(search(&s, "Copyright footer", &ds).await.is_empty());

    // Re-sync: /a changes, /b disappears (404), the rest answers 304.
    site.set(
        "/a",
        Some(page(
            "Page A",
            "Alpha page now covers the puffin colony.",
            &["/"],
        )),
    );
    site.set("/b", None);
    let before_304 = site.state.lock().unwrap().not_modified;
    let r = s.post(&path, s.admin(), json!({})).await;
    assert_eq!(r.status, 202);
    assert_ne!(
        r.body["id"], a.body["id"],
        "a finished job does not absorb new requests"
    );
    let st2 = wait_synced_after(
        &s,
        &ds,
        st["last_synced_at"].as_str(),
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(st2["status"], "partial", "{st2}");
    let not_modified = site.state.lock().unwrap().not_modified - before_304;
    assert!(
        not_modified >= 3,
        "unchanged pages answered 304: {not_modified}"
    );
    let docs = documents(&s, &ds).await;
    assert!(
        docs.iter().all(|d| d["url"] != url("/b").as_str()),
        "gone page removed"
    );
    assert!(search(&s, "badger tunnels", &ds).await.is_empty());
    assert_eq!(
        search(&s, "puffin colony", &ds).await[0]["document_url"],
        url("/a")
    );
    assert!(
        search(&s, "heron migration", &ds).await.is_empty(),
        "old text replaced"
    );
}

#[tokio::test]
async fn crawl_refuses_private_networks_by_default() {
    let site = Site::start(&site_pages()).await;
    let (s, _dir) = TestServer::start().await;
    let ds = create_ds(
        &s,
        json!({"type": "website", "name": "Site", "config": {"url": format!("{}/", site.base)}}),
    )
    .await;
    let r = s
        .post(
            &format!("/api/v1/data-sources/{ds}/sync"),
            s.admin(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202);
    let st = wait_synced(&s, &ds, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "failed", "{st}");
    assert!(
        st["last_error"].as_str().unwrap().contains("refused")
            || st["last_error"].as_str().unwrap().contains("private"),
        "{st}"
    );
    assert_eq!(site.hits("/"), 0);
}

/// Many pages, crawled slowly enough to kill the server in the middle.
pub(crate) fn big_site(n: usize) -> Vec<(String, String)> {
    let mut pages = Vec::new();
    let links: Vec<String> = (0..n).map(|i| format!("/p{i}")).collect();
    let refs: Vec<&str> = links.iter().map(String::as_str).collect();
    pages.push((
        "/".to_owned(),
        page("Index", "The index of the field guide.", &refs),
    ));
    for i in 0..n {
        let body = format!(
            "Field guide entry {i}: species {i} lives in habitat {} and eats food {}. ",
            i % 7,
            i % 5
        )
        .repeat(40);
        pages.push((format!("/p{i}"), page(&format!("Entry {i}"), &body, &[])));
    }
    pages
}

async fn crawl_run(pages: &[(String, String)], kill_after: Option<u64>) -> (Value, usize) {
    let refs: Vec<(&str, String)> = pages.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let site = Site::start(&refs).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), CRAWL_ENV).await;
    let key = s.admin().to_owned();
    let ds = create_ds(
        &s,
        json!({"type": "website", "name": "Guide", "config": {"url": format!("{}/", site.base), "requests_per_second": 12}}),
    )
    .await;
    let r = s
        .post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    assert_eq!(r.status, 202);
    if let Some(n) = kill_after {
        // Wait until the sync is visibly under way, then kill -9 and restart on the same data.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let st = s
                .get(&format!("/api/v1/data-sources/{ds}/status"), &key)
                .await
                .body;
            let done = st["documents_done"].as_u64().unwrap_or(0);
            if done >= n {
                assert_eq!(st["status"], "processing", "{st}");
                assert!(st["progress_pct"].as_u64().unwrap() < 100, "{st}");
                assert!(
                    st["estimated_completion"].is_string(),
                    "measured rate gives an estimate: {st}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "sync did not start: {st}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        s.kill9();
        s = TestServer::start_in(dir.path(), CRAWL_ENV).await;
        s.key = Some(key.clone());
    }
    let st = wait_synced(&s, &ds, Duration::from_secs(120)).await;
    let docs = documents(&s, &ds).await;
    (st, docs.len())
}

#[tokio::test]
async fn killed_mid_sync_resumes_and_matches_a_clean_run() {
    let pages = big_site(40);
    let (clean, clean_docs) = crawl_run(&pages, None).await;
    let (resumed, resumed_docs) = crawl_run(&pages, Some(8)).await;
    assert_eq!(clean["status"], "active", "{clean}");
    assert_eq!(resumed["status"], "active", "{resumed}");
    assert_eq!(clean_docs, 41);
    assert_eq!(resumed_docs, clean_docs);
    assert_eq!(
        resumed["chunks_indexed"], clean["chunks_indexed"],
        "no chunk duplicated or lost"
    );
    assert_eq!(resumed["documents_done"], clean["documents_done"]);
}

/// Kills a spawned process when dropped.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_separate_worker_process_runs_the_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[("TWIG_INGEST__WORKERS", "0")]).await;
    let ds = create_ds(&s, json!({"type": "file", "name": "F"})).await;
    let r = upload(
        &s,
        s.admin(),
        &ds,
        &[("a.md", b"# Heading\n\nThe quokka smiles at visitors.")],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let st = s
        .get(&format!("/api/v1/data-sources/{ds}/status"), s.admin())
        .await
        .body;
    assert_eq!(st["status"], "pending", "no worker in serve: {st}");
    let worker = ChildGuard(
        std::process::Command::new(crate::helpers::twig_bin())
            .arg("worker")
            .arg("--data-dir")
            .arg(dir.path())
            .env("TWIG_EMBEDDING__PROVIDER", "none")
            .env_remove("RUST_LOG")
            .current_dir(dir.path())
            .spawn()
            .expect("spawn twig worker"),
    );
    let st = wait_synced(&s, &ds, Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    // The server's indexes pick up what the worker wrote, from the store's change log.
    let deadline = Instant::now() + Duration::from_secs(20);
    while search(&s, "quokka", &ds).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "worker's document never became searchable"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(worker);
}
