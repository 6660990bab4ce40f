//! A small website served on loopback by the test: pages with ETags, robots.txt,
//! a sitemap, a redirect loop, a 404, a huge page and a slow page.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared state: the pages (path -> HTML) and request counters.
#[derive(Default)]
pub struct SiteState {
    pub pages: BTreeMap<String, String>,
    /// Requests per path.
    pub hits: BTreeMap<String, u32>,
    /// 304 answers sent.
    pub not_modified: u32,
    /// Delay of `/slow`.
    pub slow: Duration,
}

/// A running site.
pub struct Site {
    pub base: String,
    pub state: Arc<Mutex<SiteState>>,
}

/// An HTML page with a title, a nav (dropped by the cleaner), a body and links.
pub fn page(title: &str, body: &str, links: &[&str]) -> String {
    let a: String = links
        .iter()
        .map(|l| format!("<li><a href=\"{l}\">{l}</a></li>"))
        .collect();
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body>\
         <nav><a href=\"/\">Home</a></nav><main><h1>{title}</h1><p>{body}</p><ul>{a}</ul></main>\
         <footer>Copyright footer text</footer></body></html>"
    )
}

fn etag_of(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

async fn serve(State(st): State<Arc<Mutex<SiteState>>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let headers: HeaderMap = req.headers().clone();
    let (body, slow) = {
        let mut s = st.lock().unwrap();
        *s.hits.entry(path.clone()).or_default() += 1;
        (s.pages.get(&path).cloned(), s.slow)
    };
    match path.as_str() {
        "/robots.txt" => {
            return "User-agent: *\nDisallow: /private/\n".into_response();
        }
        "/loop1" => return redirect("/loop2"),
        "/loop2" => return redirect("/loop1"),
        "/huge" => {
            // Over the crawler's 20 MiB page cap: skipped without being buffered whole.
            let big = "<p>filler text</p>".repeat(21 * 1024 * 1024 / 18 + 1);
            return ([(header::CONTENT_TYPE, "text/html")], big).into_response();
        }
        "/slow" => tokio::time::sleep(slow).await,
        _ => {}
    }
    let Some(body) = body else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = etag_of(&body);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        st.lock().unwrap().not_modified += 1;
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let ct = if path.ends_with(".xml") {
        "application/xml"
    } else {
        "text/html; charset=utf-8"
    };
    (
        [(header::CONTENT_TYPE, ct.to_owned()), (header::ETAG, etag)],
        body,
    )
        .into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
}

impl Site {
    /// Serves `pages` (plus the fixed special paths) on a loopback port.
    pub async fn start(pages: &[(&str, String)]) -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(SiteState {
            pages: pages
                .iter()
                .map(|(p, b)| (p.to_string(), b.replace("{base}", &base)))
                .collect(),
            slow: Duration::from_millis(1500),
            ..Default::default()
        }));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Site { base, state }
    }

    /// Replaces (or, with `None`, removes) a page.
    pub fn set(&self, path: &str, body: Option<String>) {
        let mut s = self.state.lock().unwrap();
        match body {
            Some(b) => s.pages.insert(path.into(), b),
            None => s.pages.remove(path),
        };
    }

    /// Requests `path` received.
    pub fn hits(&self, path: &str) -> u32 {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}
