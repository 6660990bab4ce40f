//! End-to-end crawls against loopback sites served by the tests themselves.

mod common;

use common::{brief, path_of, start_site, HrefExtractor, BOOK_CHAPTERS};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use twig_crawl::{
    crawl, CancellationToken, CrawlConfig, CrawlError, CrawlSummary, PageOutcome, PreviousPage,
};
use url::Url;

fn config(start: &str) -> CrawlConfig {
    let mut c = CrawlConfig::new(Url::parse(start).unwrap());
    c.allow_private_networks = true;
    c.requests_per_second = 200.0;
    c.request_timeout = Duration::from_millis(700);
    c.max_page_bytes = 1024 * 1024;
    c
}

async fn run(cfg: CrawlConfig, previous: &[PreviousPage]) -> (CrawlSummary, Vec<PageOutcome>) {
    let mut outs = Vec::new();
    let summary = crawl(
        cfg,
        previous,
        Arc::new(HrefExtractor),
        |o| outs.push(o),
        CancellationToken::new(),
    )
    .await
    .expect("crawl runs");
    (summary, outs)
}

fn find<'a>(outs: &'a [PageOutcome], path: &str) -> &'a PageOutcome {
    outs.iter()
        .find(|o| path_of(o) == path)
        .unwrap_or_else(|| panic!("no outcome for {path}: {}", brief(outs)))
}

fn reason(o: &PageOutcome) -> &str {
    match o {
        PageOutcome::Failed { reason, .. } | PageOutcome::Skipped { reason, .. } => reason,
        other => panic!("expected Failed/Skipped, got {other:?}"),
    }
}

#[tokio::test]
async fn full_site_crawl_obeys_rules() {
    let (site, offsite) = start_site().await;
    let (summary, outs) = run(config(&site.url("/")), &[]).await;
    let st = &site.state;

    let fetched: BTreeSet<String> = outs
        .iter()
        .filter(|o| matches!(o, PageOutcome::Fetched { .. }))
        .map(path_of)
        .collect();
    let expected = [
        "/",
        "/a",
        "/b",
        "/orphan",
        "/doc.pdf",
        "/canonical-target",
        "/via-noindex",
        "/nofollow",
    ];
    assert_eq!(
        fetched,
        expected.iter().map(|s| s.to_string()).collect(),
        "{}",
        brief(&outs)
    );
    assert!(summary.complete && !summary.cancelled);
    assert_eq!(summary.fetched, expected.len());

    // Link cycle, fragments and dot segments: each page fetched exactly once.
    for p in ["/", "/a", "/b", "/robots.txt", "/orphan"] {
        assert_eq!(st.count(p), 1, "{p} hits: {:?}", st.hits.lock().unwrap());
    }
    // robots.txt Disallow, orphan from the sitemap index, off-site link.
    assert_eq!(st.count("/private/secret"), 0);
    assert!(reason(find(&outs, "/private/secret")).contains("robots"));
    assert_eq!(offsite.state.hits.lock().unwrap().len(), 0);
    // Redirect loop, 404, size cap, timeout, content type.
    assert!(reason(find(&outs, "/loop1")).contains("redirect loop"));
    assert_eq!(
        find(&outs, "/missing"),
        &PageOutcome::Gone {
            url: site.url("/missing"),
            status: 404
        }
    );
    assert!(reason(find(&outs, "/huge")).contains("too large"));
    assert!(reason(find(&outs, "/slow")).contains("timed out"));
    assert!(reason(find(&outs, "/image.png")).contains("content type"));
    // Redirect to an already crawled page, canonical duplicates, robots meta.
    assert!(reason(find(&outs, "/redir")).contains("already crawled"));
    assert!(reason(find(&outs, "/canon-dup")).contains("duplicate of canonical"));
    assert_eq!(
        st.count("/canonical-target"),
        0,
        "canonical identity is not refetched"
    );
    assert_eq!(
        st.count("/hidden"),
        0,
        "nofollow page links are not followed"
    );
    assert!(reason(find(&outs, "/noindex")).contains("noindex"));
    // PDF sniffed from a generic content type.
    match find(&outs, "/doc.pdf") {
        PageOutcome::Fetched {
            content_type, body, ..
        } => {
            assert_eq!(content_type, "application/pdf");
            assert!(body.starts_with(b"%PDF-"));
        }
        other => panic!("{other:?}"),
    }
    // Fetched pages carry validators, depth and normalised links; UA is ours.
    match find(&outs, "/") {
        PageOutcome::Fetched {
            etag, depth, links, ..
        } => {
            assert_eq!(etag.as_deref(), Some("\"v1\""));
            assert_eq!(*depth, 0);
            assert!(links.contains(&site.url("/b")) && !links.iter().any(|l| l.contains('#')));
        }
        other => panic!("{other:?}"),
    }
    let headers = st.headers.lock().unwrap();
    let ua = headers["/"]
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ua.starts_with("TwigBot/"), "{ua}");
    assert_eq!(summary.requests, st.hits.lock().unwrap().len());
}

#[tokio::test]
async fn resync_uses_conditional_requests() {
    let (site, _offsite) = start_site().await;
    let prev = |p: &str, etag: Option<&str>, lm: Option<&str>, links: &[&str]| PreviousPage {
        url: site.url(p),
        etag: etag.map(str::to_string),
        last_modified: lm.map(str::to_string),
        links: links.iter().map(|l| site.url(l)).collect(),
        frames: Vec::new(),
    };
    let previous = vec![
        prev("/", Some("\"v1\""), None, &["/a", "/b", "/removed"]),
        prev("/a", Some("\"a1\""), None, &["/"]),
        prev("/b", None, Some("Wed, 21 Oct 2015 07:28:00 GMT"), &["/a"]),
        prev("/removed", Some("\"r1\""), None, &[]),
        prev("/old-unlinked", Some("\"o1\""), None, &[]),
    ];
    let (summary, outs) = run(config(&site.url("/")), &previous).await;
    for p in ["/", "/a", "/b"] {
        assert_eq!(
            find(&outs, p),
            &PageOutcome::NotModified { url: site.url(p) }
        );
    }
    assert_eq!(
        find(&outs, "/removed"),
        &PageOutcome::Gone {
            url: site.url("/removed"),
            status: 404
        }
    );
    assert!(matches!(
        find(&outs, "/orphan"),
        PageOutcome::Fetched { .. }
    ));
    assert_eq!(summary.not_modified, 3);
    assert_eq!(
        summary.unreachable_previous,
        vec![site.url("/old-unlinked")]
    );
    assert_eq!(site.state.count("/old-unlinked"), 0);
    let headers = site.state.headers.lock().unwrap();
    assert_eq!(headers["/"].get("if-none-match").unwrap(), "\"v1\"");
    assert!(headers["/b"].get("if-modified-since").is_some());
}

#[tokio::test]
async fn resync_304_without_stored_links_keeps_previous_pages() {
    let (site, _offsite) = start_site().await;
    let previous = vec![
        PreviousPage {
            url: site.url("/"),
            etag: Some("\"v1\"".into()),
            ..Default::default()
        },
        PreviousPage {
            url: site.url("/old"),
            ..Default::default()
        },
    ];
    let (summary, _outs) = run(config(&site.url("/")), &previous).await;
    assert!(summary.complete);
    assert!(
        summary.unreachable_previous.is_empty(),
        "links unknown: nothing is declared unreachable"
    );
}

#[tokio::test]
async fn private_addresses_refused_unless_allowed() {
    let (site, _offsite) = start_site().await;
    for start in [
        site.url("/"),
        site.url("/").replace("127.0.0.1", "localhost"),
    ] {
        let mut cfg = config(&start);
        cfg.allow_private_networks = false;
        let err = crawl(
            cfg,
            &[],
            Arc::new(HrefExtractor),
            |_| {},
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, CrawlError::Blocked { .. }), "{err}");
        assert!(err.to_string().contains("allow_private_networks"), "{err}");
    }
    assert_eq!(
        site.state.hits.lock().unwrap().len(),
        0,
        "no request reached the server"
    );
    let (summary, _) = run(config(&site.url("/a")), &[]).await;
    assert!(summary.fetched > 0);
}

#[tokio::test]
async fn depth_include_exclude_and_max_pages() {
    let (site, _offsite) = start_site().await;
    let chain = |cfg: CrawlConfig| async { run(cfg, &[]).await };
    let fetched = |outs: &[PageOutcome]| -> Vec<String> {
        outs.iter()
            .filter(|o| matches!(o, PageOutcome::Fetched { .. }))
            .map(path_of)
            .collect()
    };

    let mut cfg = config(&site.url("/chain/0"));
    cfg.include_patterns = vec!["/chain/*".into()];
    cfg.max_depth = 2;
    let (s, outs) = chain(cfg.clone()).await;
    assert_eq!(
        fetched(&outs),
        ["/chain/0", "/chain/1", "/chain/2"],
        "sitemap seeds filtered out"
    );
    assert!(s.complete);

    cfg.max_depth = 50;
    cfg.exclude_patterns = vec!["/chain/2".into()];
    let (_, outs) = chain(cfg.clone()).await;
    assert_eq!(fetched(&outs), ["/chain/0", "/chain/1"]);

    cfg.exclude_patterns.clear();
    cfg.max_pages = 4;
    let (s, outs) = chain(cfg).await;
    assert_eq!(fetched(&outs).len(), 4);
    assert!(!s.complete && s.unreachable_previous.is_empty());
}

#[tokio::test]
async fn rate_limit_and_crawl_delay() {
    let (site, _offsite) = start_site().await;
    let mut cfg = config(&site.url("/chain/0"));
    cfg.include_patterns = vec!["/chain/*".into()];
    cfg.max_pages = 3;
    cfg.requests_per_second = 10.0;
    let t = Instant::now();
    let (s, _) = run(cfg.clone(), &[]).await;
    let min = Duration::from_millis(100) * (s.requests as u32 - 1);
    assert!(
        t.elapsed() >= min,
        "{:?} < {min:?} for {} requests",
        t.elapsed(),
        s.requests
    );

    site.state.crawl_delay.store(true, Ordering::SeqCst);
    cfg.requests_per_second = 100.0;
    let t = Instant::now();
    let (s, _) = run(cfg, &[]).await;
    // robots.txt comes first; every later gap is at least the 0.25 s Crawl-delay.
    let min = Duration::from_millis(250) * (s.requests as u32 - 2);
    assert!(t.elapsed() >= min, "{:?} < {min:?}", t.elapsed());
}

#[tokio::test]
async fn cancellation_stops_promptly() {
    let (site, _offsite) = start_site().await;
    // Cancelled while waiting for the rate limiter.
    let mut cfg = config(&site.url("/chain/0"));
    cfg.requests_per_second = 2.0;
    cfg.max_depth = 1000;
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        c2.cancel();
    });
    let t = Instant::now();
    let s = crawl(cfg, &[], Arc::new(HrefExtractor), |_| {}, cancel)
        .await
        .unwrap();
    assert!(s.cancelled && !s.complete);
    assert!(
        t.elapsed() < Duration::from_millis(1700),
        "{:?}",
        t.elapsed()
    );

    // Cancelled in the middle of a slow request.
    let mut cfg = config(&site.url("/slow"));
    cfg.request_timeout = Duration::from_secs(20);
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.cancel();
    });
    let t = Instant::now();
    let s = crawl(cfg, &[], Arc::new(HrefExtractor), |_| {}, cancel)
        .await
        .unwrap();
    assert!(s.cancelled);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn redirect_cap_and_offsite_redirect() {
    let (site, offsite) = start_site().await;
    let mut cfg = config(&site.url("/hop/0"));
    cfg.max_redirects = 3;
    let (_, outs) = run(cfg, &[]).await;
    assert!(
        reason(find(&outs, "/hop/0")).contains("more than 3 redirects"),
        "{}",
        brief(&outs)
    );
    assert_eq!(site.state.count("/hop/3"), 1);
    assert_eq!(site.state.count("/hop/4"), 0, "never past the cap");

    let (_, outs) = run(config(&site.url("/to-offsite")), &[]).await;
    assert!(reason(find(&outs, "/to-offsite")).contains("leaves the site"));
    assert_eq!(offsite.state.hits.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn previous_page_gone_from_links_is_unreachable_and_keeps_caller_spelling() {
    let (site, _offsite) = start_site().await;
    let old = format!("{}#frag", site.url("/old-page"));
    let previous = vec![PreviousPage {
        url: old.clone(),
        ..Default::default()
    }];
    let (summary, _) = run(config(&site.url("/a")), &previous).await;
    assert!(summary.complete);
    assert_eq!(summary.unreachable_previous, vec![old]);
}

#[test]
fn crawl_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let cfg = config("http://127.0.0.1:9/");
    let fut = crawl(
        cfg,
        &[],
        Arc::new(HrefExtractor),
        |_| {},
        CancellationToken::new(),
    );
    assert_send(&fut);
}

#[tokio::test]
async fn robots_server_error_means_host_not_crawled() {
    let (site, _offsite) = start_site().await;
    site.state.robots_broken.store(true, Ordering::SeqCst);
    let (summary, outs) = run(config(&site.url("/")), &[]).await;
    assert_eq!(summary.fetched, 0);
    assert!(reason(find(&outs, "/")).contains("robots.txt unavailable"));
    assert_eq!(site.state.count("/"), 0);
}

/// Fetched pages' paths and depths.
fn depths(outs: &[PageOutcome]) -> Vec<(String, usize)> {
    outs.iter()
        .filter_map(|o| match o {
            PageOutcome::Fetched { depth, .. } => Some((path_of(o), *depth)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn frames_are_part_of_their_page_so_a_toc_frame_reaches_every_chapter() {
    let (site, _offsite) = start_site().await;
    let mut cfg = config(&site.url("/book/"));
    cfg.include_patterns = vec!["/book/*".into()];
    // One level: only the TOC frame (depth 0, like its page) can reach the last chapter.
    cfg.max_depth = 1;
    let (summary, outs) = run(cfg.clone(), &[]).await;
    assert!(summary.complete, "{}", brief(&outs));
    let got = depths(&outs);
    for n in 0..BOOK_CHAPTERS {
        let path = format!("/book/ch{n}.html");
        assert!(
            got.iter().any(|(p, d)| *p == path && *d == 1),
            "{path} at depth 1: {got:?}"
        );
    }
    // The TOC is fetched and followed but noindex, so it is not reported as a page.
    assert!(reason(find(&outs, "/book/toc.html")).contains("noindex"));
    assert_eq!(
        site.state.count("/book/toc.html"),
        1,
        "one frame, fetched once"
    );
    match find(&outs, "/book/ch3.html") {
        PageOutcome::Fetched { frames, links, .. } => {
            assert_eq!(frames, &[site.url("/book/toc.html")]);
            assert!(links.contains(&site.url("/book/ch4.html")), "{links:?}");
        }
        other => panic!("{other:?}"),
    }

    // A frameset's frames keep the frameset's depth.
    let mut cfg = config(&site.url("/frames"));
    cfg.max_depth = 0;
    let (_, outs) = run(cfg, &[]).await;
    let got = depths(&outs);
    assert!(got.contains(&("/frames/left".into(), 0)), "{got:?}");
    assert!(got.contains(&("/frames/right".into(), 0)), "{got:?}");
}

#[tokio::test]
async fn start_url_refused_for_good_is_an_error() {
    let (site, _offsite) = start_site().await;
    let attempt = |path: &'static str| {
        let cfg = config(&site.url(path));
        async move {
            crawl(
                cfg,
                &[],
                Arc::new(HrefExtractor),
                |_| {},
                CancellationToken::new(),
            )
            .await
        }
    };
    for (path, why) in [
        ("/missing", "HTTP 404"),
        ("/gone-start", "HTTP 410"),
        ("/private/secret", "robots.txt forbids"),
    ] {
        match attempt(path).await {
            Err(e @ CrawlError::StartRefused { .. }) => {
                assert!(e.to_string().contains(why), "{path}: {e}")
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    assert_eq!(site.state.count("/private/secret"), 0);
    // 429 says "later", not "never": an ordinary failed page.
    let s = attempt("/busy-start").await.expect("429 is not a refusal");
    assert!(s.failed >= 1, "{s:?}");
}
