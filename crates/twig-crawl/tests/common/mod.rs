//! Loopback test site and a tiny substring-based link extractor.
#![allow(dead_code)]

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use twig_crawl::{LinkExtractor, PageLinks, PageOutcome};
use url::Url;

/// Shared state of a test site: request log and knobs.
#[derive(Default)]
pub struct SiteState {
    /// Request paths (with query) in arrival order.
    pub hits: Mutex<Vec<String>>,
    /// Request headers per path (last request wins).
    pub headers: Mutex<HashMap<String, HeaderMap>>,
    /// Port of the off-site server linked from `/`.
    pub offsite_port: AtomicU16,
    /// Add `Crawl-delay: 0.25` to robots.txt.
    pub crawl_delay: AtomicBool,
    /// Answer robots.txt with HTTP 500.
    pub robots_broken: AtomicBool,
}

impl SiteState {
    pub fn count(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// A running loopback server.
pub struct Site {
    pub base: String,
    pub state: Arc<SiteState>,
}

impl Site {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// Start the main test site on 127.0.0.1 plus an off-site counter on 127.0.0.2.
pub async fn start_site() -> (Site, Site) {
    let offsite = serve("127.0.0.2:0", Arc::new(SiteState::default())).await;
    let state = Arc::new(SiteState::default());
    let port: u16 = offsite
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    state.offsite_port.store(port, Ordering::SeqCst);
    (serve("127.0.0.1:0", state).await, offsite)
}

async fn serve(addr: &str, state: Arc<SiteState>) -> Site {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Site {
        base: format!("http://{local}"),
        state,
    }
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

fn links(hrefs: &[&str]) -> String {
    let a: String = hrefs
        .iter()
        .map(|h| format!("<a href=\"{h}\">x</a>\n"))
        .collect();
    format!("<!doctype html><html><body>{a}</body></html>")
}

/// Serve `body` with an ETag / Last-Modified, honouring conditional requests.
fn conditional(req_headers: &HeaderMap, etag: &str, last_mod: &str, body: String) -> Response {
    let inm = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let ims = req_headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    if inm == Some(etag) || ims == Some(last_mod) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut r = html(body);
    r.headers_mut().insert(header::ETAG, etag.parse().unwrap());
    r.headers_mut()
        .insert(header::LAST_MODIFIED, last_mod.parse().unwrap());
    r
}

async fn handle(State(st): State<Arc<SiteState>>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    st.hits.lock().unwrap().push(path.clone());
    st.headers
        .lock()
        .unwrap()
        .insert(path.clone(), req.headers().clone());
    let h = req.headers();
    let offsite = format!(
        "http://127.0.0.2:{}/offsite",
        st.offsite_port.load(Ordering::SeqCst)
    );
    const LM: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
    match path.as_str() {
        "/robots.txt" if st.robots_broken.load(Ordering::SeqCst) => {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        "/robots.txt" => {
            let delay = if st.crawl_delay.load(Ordering::SeqCst) { "Crawl-delay: 0.25\n" } else { "" };
            format!("User-agent: *\nDisallow: /private\n{delay}\nSitemap: /sitemap.xml\n").into_response()
        }
        "/sitemap.xml" => "<?xml version=\"1.0\"?><sitemapindex><sitemap><loc>/sitemap-pages.xml</loc></sitemap></sitemapindex>".into_response(),
        "/sitemap-pages.xml" => {
            let host = h.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            format!("<urlset><url><loc>http://{host}/orphan</loc></url><url><loc>http://{host}/a</loc></url></urlset>").into_response()
        }
        "/" => conditional(h, "\"v1\"", LM, links(&[
            "/a", "/b#frag", "/./a", "/a/../b", "/private/secret", "/loop1", "/missing", "/huge",
            "/slow", "/image.png", "/redir", "/canon-dup", "/canon-new", "/doc.pdf", "/nofollow",
            "/noindex", &offsite, "mailto:someone@example.com",
        ])),
        "/a" => conditional(h, "\"a1\"", LM, links(&["/", "/b"])),
        "/b" => conditional(h, "\"b1\"", LM, links(&["/a", "HTTP://127.0.0.1:1/ignored-other-port"])),
        "/orphan" | "/private/secret" | "/hidden" | "/via-noindex" | "/canonical-target" => html(links(&[])),
        "/loop1" => redirect("/loop2"),
        "/loop2" => redirect("/loop1"),
        "/redir" => redirect("/b"),
        "/to-offsite" => redirect(&offsite),
        p if p.starts_with("/hop/") => {
            let n: u64 = p[5..].parse().unwrap_or(0);
            redirect(&format!("/hop/{}", n + 1))
        }
        "/huge" => {
            // 3 MiB streamed in chunks, no Content-Length, so the client must cap while reading.
            let chunks = (0..48).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]));
            let body = Body::from_stream(futures_util::stream::iter(chunks));
            ([(header::CONTENT_TYPE, "text/html")], body).into_response()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            html(links(&[]))
        }
        "/image.png" => ([(header::CONTENT_TYPE, "image/png")], b"\x89PNG\r\n".to_vec()).into_response(),
        "/doc.pdf" => ([(header::CONTENT_TYPE, "application/octet-stream")], b"%PDF-1.4 fake".to_vec()).into_response(),
        "/canon-dup" => html("<html><head><link rel=\"canonical\" href=\"/a\"></head></html>".into()),
        "/canon-new" => html("<html><head><link rel=\"canonical\" href=\"/canonical-target\"></head></html>".into()),
        "/nofollow" => html("<meta name=\"robots\" content=\"nofollow\"><a href=\"/hidden\">h</a>".into()),
        "/noindex" => html("<meta name=\"robots\" content=\"noindex\"><a href=\"/via-noindex\">v</a>".into()),
        // An mdBook-like book: chapters chained by rel=next, all listed only in a TOC frame.
        "/book/" | "/book/index.html" => html(book_page(0)),
        "/book/toc.html" => {
            let items: Vec<String> = (0..BOOK_CHAPTERS).map(|i| format!("ch{i}.html")).collect();
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            html(format!("<meta name=\"robots\" content=\"noindex\">{}", links(&refs)))
        }
        p if p.starts_with("/book/ch") => match p[8..].trim_end_matches(".html").parse() {
            Ok(n) if n < BOOK_CHAPTERS => html(book_page(n)),
            _ => StatusCode::NOT_FOUND.into_response(),
        },
        "/frames" => html("<frameset><frame src=\"/frames/left\"><frame src=\"/frames/right\"></frameset>".into()),
        "/frames/left" | "/frames/right" => html(links(&[])),
        "/gone-start" => StatusCode::GONE.into_response(),
        "/busy-start" => StatusCode::TOO_MANY_REQUESTS.into_response(),
        p if p.starts_with("/chain/") => {
            let n: u64 = p[7..].parse().unwrap_or(0);
            html(links(&[&format!("/chain/{}", n + 1)]))
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Chapters of the book under `/book/`.
pub const BOOK_CHAPTERS: usize = 12;

/// Chapter `n`: a TOC iframe inside <noscript> (as mdBook writes it) and rel=prev/next links.
fn book_page(n: usize) -> String {
    let prev = n
        .checked_sub(1)
        .map(|p| format!("<a rel=\"prev\" href=\"ch{p}.html\">p</a>"));
    let next =
        (n + 1 < BOOK_CHAPTERS).then(|| format!("<a rel=\"next\" href=\"ch{}.html\">n</a>", n + 1));
    format!(
        "<!doctype html><html><body><noscript><iframe class=\"sidebar\" src=\"toc.html\"></iframe></noscript>\
         <main>Chapter {n}</main>{}{}</body></html>",
        prev.unwrap_or_default(),
        next.unwrap_or_default()
    )
}

/// Substring-based extractor: `<a href>`, `<(i)frame src>`, `<link rel=canonical>`, meta robots.
pub struct HrefExtractor;

impl LinkExtractor for HrefExtractor {
    fn links(&self, base: &Url, html: &[u8]) -> Vec<String> {
        self.inspect(base, html).links
    }

    fn inspect(&self, _base: &Url, html: &[u8]) -> PageLinks {
        let text = String::from_utf8_lossy(html);
        let mut out = PageLinks::default();
        for tag in text.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            let href = tag.find("href=\"").map(|i| {
                let rest = &tag[i + 6..];
                rest[..rest.find('"').unwrap_or(rest.len())].to_string()
            });
            if tag.starts_with("link") && tag.contains("rel=\"canonical\"") {
                out.canonical = href;
            } else if tag.starts_with("a ") {
                out.links.extend(href);
            } else if tag.starts_with("iframe ") || tag.starts_with("frame ") {
                let src = tag.find("src=\"").map(|i| {
                    let rest = &tag[i + 5..];
                    rest[..rest.find('"').unwrap_or(rest.len())].to_string()
                });
                out.frames.extend(src);
            } else if tag.starts_with("meta") && tag.contains("name=\"robots\"") {
                out.nofollow |= tag.contains("nofollow");
                out.noindex |= tag.contains("noindex");
            }
        }
        out
    }
}

/// URL (path only) of an outcome, for compact assertions.
pub fn path_of(o: &PageOutcome) -> String {
    let url = match o {
        PageOutcome::Fetched { url, .. }
        | PageOutcome::NotModified { url }
        | PageOutcome::Gone { url, .. }
        | PageOutcome::Failed { url, .. }
        | PageOutcome::Skipped { url, .. } => url,
    };
    Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

/// One line per outcome (kind, path, reason), for readable assertion messages.
pub fn brief(outs: &[PageOutcome]) -> String {
    outs.iter()
        .map(|o| match o {
            PageOutcome::Fetched { .. } => format!("Fetched {}", path_of(o)),
            PageOutcome::NotModified { .. } => format!("NotModified {}", path_of(o)),
            PageOutcome::Gone { status, .. } => format!("Gone {} {status}", path_of(o)),
            PageOutcome::Failed { reason, .. } => format!("Failed {} {reason}", path_of(o)),
            PageOutcome::Skipped { reason, .. } => format!("Skipped {} {reason}", path_of(o)),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
