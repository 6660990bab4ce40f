//! An in-memory Zendesk Help Center (and a few solved tickets) speaking Zendesk's wire format.
//!
//! Served: the incremental article export (`start_time`, `next_page`, `end_time`, `count`;
//! inclusive of `start_time`, pages end at the last article's change time), offset-paginated
//! listings of categories, sections and articles (with or without a `{locale}` segment, with
//! or without `.json`), the time-based incremental ticket export and ticket comments. Every
//! route wants Basic `{email}/token:{api_token}` and answers Zendesk's 401 body otherwise.
//! Archived articles are gone from every listing and export, as in Zendesk; drafts are listed
//! with `draft: true` (agents see them).

use crate::{has_basic, serve, Faults, Served};
use axum::extract::{Query, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A new article's fields; `Default` gives a published `en-us` article.
#[derive(Debug, Clone)]
pub struct NewArticle {
    /// Section it lives in.
    pub section_id: u64,
    /// Title.
    pub title: String,
    /// HTML body.
    pub body: String,
    /// Locale, e.g. `en-us`.
    pub locale: String,
    /// Unpublished.
    pub draft: bool,
    /// `label_names`.
    pub labels: Vec<String>,
    /// Author's user id.
    pub author_id: u64,
}

impl Default for NewArticle {
    fn default() -> Self {
        Self {
            section_id: 0,
            title: String::new(),
            body: String::new(),
            locale: "en-us".into(),
            draft: false,
            labels: Vec::new(),
            author_id: 9001,
        }
    }
}

#[derive(Debug, Clone)]
struct Article {
    a: NewArticle,
    created_at: i64,
    updated_at: i64,
    archived: bool,
}

#[derive(Debug, Clone)]
struct Ticket {
    subject: String,
    status: String,
    created_at: i64,
    updated_at: i64,
    /// (id, body, public, author_id, created_at).
    comments: Vec<(u64, String, bool, u64, i64)>,
}

#[derive(Default)]
struct St {
    email: String,
    token: String,
    clock: i64,
    next_id: u64,
    page_size: usize,
    categories: BTreeMap<u64, (String, String)>,
    /// id -> (name, category_id, locale).
    sections: BTreeMap<u64, (String, u64, String)>,
    articles: BTreeMap<u64, Article>,
    tickets: BTreeMap<u64, Ticket>,
    /// Article ids served by the incremental export, in order.
    exported: Vec<u64>,
    /// `start_time` of every export request, in order.
    export_starts: Vec<i64>,
    /// Origin written in `next_page` and `html_url` instead of the request's.
    public_origin: Option<String>,
    /// The token's user is an end user: the incremental exports answer 403.
    end_user: bool,
}

impl St {
    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// A Help Center the tests change between syncs; clones share it.
#[derive(Clone)]
pub struct HelpCenter {
    st: Arc<Mutex<St>>,
    /// Faults in front of every route.
    pub faults: Faults,
}

impl HelpCenter {
    /// An empty Help Center accepting `email` with API token `token`.
    pub fn new(email: &str, token: &str) -> Self {
        Self {
            st: Arc::new(Mutex::new(St {
                email: email.into(),
                token: token.into(),
                // A day ago, so recent tickets fall inside a lookback window; each change
                // moves the clock one second, so change times are distinct.
                clock: Utc::now().timestamp() - 86_400,
                next_id: 360_000_000_000,
                page_size: 1000,
                ..St::default()
            })),
            faults: Faults::default(),
        }
    }

    /// Articles (and tickets) per export page; Zendesk's is 1000.
    pub fn set_page_size(&self, n: usize) {
        self.st.lock().unwrap().page_size = n.max(1);
    }

    /// Writes `origin` in `next_page` and `html_url`, as Zendesk writes
    /// `https://{subdomain}.zendesk.com` behind a host-mapped or proxied base URL.
    pub fn set_public_origin(&self, origin: &str) {
        self.st.lock().unwrap().public_origin = Some(origin.into());
    }

    /// Makes the token's user an end user (not an agent), whom the exports refuse.
    pub fn set_end_user(&self, yes: bool) {
        self.st.lock().unwrap().end_user = yes;
    }

    /// Adds a category; answers its id.
    pub fn add_category(&self, name: &str) -> u64 {
        let mut s = self.st.lock().unwrap();
        let id = s.id();
        s.categories.insert(id, (name.into(), "en-us".into()));
        id
    }

    /// Adds a section to a category; answers its id.
    pub fn add_section(&self, category_id: u64, name: &str) -> u64 {
        let mut s = self.st.lock().unwrap();
        let id = s.id();
        s.sections
            .insert(id, (name.into(), category_id, "en-us".into()));
        id
    }

    /// Adds an article; answers its id.
    pub fn add_article(&self, a: NewArticle) -> u64 {
        let mut s = self.st.lock().unwrap();
        let id = s.id();
        let t = s.tick();
        s.articles.insert(
            id,
            Article {
                a,
                created_at: t,
                updated_at: t,
                archived: false,
            },
        );
        id
    }

    /// Adds a published `en-us` article to a section; answers its id.
    pub fn add(&self, section_id: u64, title: &str, body: &str) -> u64 {
        self.add_article(NewArticle {
            section_id,
            title: title.into(),
            body: body.into(),
            ..NewArticle::default()
        })
    }

    /// Replaces an article's body (and title, when given).
    pub fn edit_article(&self, id: u64, title: Option<&str>, body: &str) {
        self.change(id, |a| {
            a.a.body = body.into();
            if let Some(t) = title {
                a.a.title = t.into();
            }
        });
    }

    /// Publishes or unpublishes an article.
    pub fn set_draft(&self, id: u64, draft: bool) {
        self.change(id, |a| a.a.draft = draft);
    }

    /// Archives an article: Zendesk's "delete", gone from listings and the export.
    pub fn archive_article(&self, id: u64) {
        self.change(id, |a| a.archived = true);
    }

    fn change(&self, id: u64, f: impl FnOnce(&mut Article)) {
        let mut s = self.st.lock().unwrap();
        let t = s.tick();
        let a = s.articles.get_mut(&id).expect("no such article");
        f(a);
        a.updated_at = t;
    }

    /// Adds a ticket with `status` and comments `(body, public)`; answers its id.
    pub fn add_ticket(&self, subject: &str, status: &str, comments: &[(&str, bool)]) -> u64 {
        let mut s = self.st.lock().unwrap();
        let id = s.id();
        let t = s.tick();
        let mut cs = Vec::new();
        for (body, public) in comments {
            let cid = s.id();
            cs.push((cid, (*body).to_owned(), *public, 9002, t));
        }
        s.tickets.insert(
            id,
            Ticket {
                subject: subject.into(),
                status: status.into(),
                created_at: t,
                updated_at: t,
                comments: cs,
            },
        );
        id
    }

    /// Changes a ticket's status (`solved`, `open`, `deleted`, ...).
    pub fn set_ticket_status(&self, id: u64, status: &str) {
        let mut s = self.st.lock().unwrap();
        let t = s.tick();
        let tk = s.tickets.get_mut(&id).expect("no such ticket");
        tk.status = status.into();
        tk.updated_at = t;
    }

    /// Article ids the incremental export served so far, in order.
    pub fn exported(&self) -> Vec<u64> {
        self.st.lock().unwrap().exported.clone()
    }

    /// The `start_time` of every incremental export request so far, in order.
    pub fn export_starts(&self) -> Vec<i64> {
        self.st.lock().unwrap().export_starts.clone()
    }

    /// Published, unarchived articles now.
    pub fn published(&self) -> usize {
        let s = self.st.lock().unwrap();
        s.articles
            .values()
            .filter(|a| !a.archived && !a.a.draft)
            .count()
    }

    /// The routes, faults and auth included.
    pub fn router(&self) -> Router {
        let r = Router::new();
        let r = both(r, "/api/v2/help_center/incremental/articles", export);
        let r = both(r, "/api/v2/help_center/categories", categories);
        let r = both(r, "/api/v2/help_center/{locale}/categories", categories);
        let r = both(r, "/api/v2/help_center/sections", sections);
        let r = both(r, "/api/v2/help_center/{locale}/sections", sections);
        let r = both(r, "/api/v2/help_center/articles", articles);
        let r = both(r, "/api/v2/help_center/{locale}/articles", articles);
        let r = both(r, "/api/v2/incremental/tickets", tickets);
        let r = both(r, "/api/v2/tickets/{id}/comments", comments);
        let st = self.st.clone();
        let r = r
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"error": "InvalidEndpoint", "description": "Not found"})),
                )
            })
            .layer(axum::middleware::from_fn(
                move |req: Request, next: Next| {
                    let st = st.clone();
                    async move { auth(st, req, next).await }
                },
            ))
            .with_state(self.st.clone());
        self.faults.wrap(r)
    }

    /// Serves this Help Center on a loopback port.
    pub async fn serve(&self) -> std::io::Result<Served> {
        serve(self.router()).await
    }
}

/// Routes `path` with and without `.json`, as Zendesk answers both.
fn both<H, T>(r: Router<Arc<Mutex<St>>>, path: &str, h: H) -> Router<Arc<Mutex<St>>>
where
    H: Handler<T, Arc<Mutex<St>>>,
    T: 'static,
{
    r.route(path, get(h.clone()))
        .route(&format!("{path}.json"), get(h))
}

async fn auth(st: Arc<Mutex<St>>, req: Request, next: Next) -> Response {
    let ok = {
        let s = st.lock().unwrap();
        has_basic(req.headers(), &format!("{}/token", s.email), &s.token)
    };
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"Web Password\"")],
            Json(json!({"error": "Couldn't authenticate you"})),
        )
            .into_response();
    }
    next.run(req).await
}

type Shared = State<Arc<Mutex<St>>>;

fn time(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The origin Zendesk writes in absolute URLs: the public one if set, else the request's host.
fn origin(h: &HeaderMap, st: &Arc<Mutex<St>>) -> String {
    if let Some(o) = st.lock().unwrap().public_origin.clone() {
        return o;
    }
    let host = h
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn article_json(o: &str, id: u64, a: &Article) -> Value {
    let slug: String =
        a.a.title
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
    json!({
        "id": id,
        "url": format!("{o}/api/v2/help_center/{}/articles/{id}.json", a.a.locale),
        "html_url": format!("{o}/hc/{}/articles/{id}-{slug}", a.a.locale),
        "author_id": a.a.author_id,
        "comments_disabled": false,
        "draft": a.a.draft,
        "promoted": false,
        "position": 0,
        "vote_sum": 0,
        "vote_count": 0,
        "section_id": a.a.section_id,
        "created_at": time(a.created_at),
        "updated_at": time(a.updated_at),
        "edited_at": time(a.updated_at),
        "name": a.a.title,
        "title": a.a.title,
        "source_locale": "en-us",
        "locale": a.a.locale,
        "outdated": false,
        "outdated_locales": [],
        "permission_group_id": 1,
        "user_segment_id": null,
        "label_names": a.a.labels,
        "content_tag_ids": [],
        "body": a.a.body,
    })
}

/// Zendesk's answer to an end user asking for an agents-only endpoint.
fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({"error": "Forbidden", "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."})),
    )
        .into_response()
}

fn bad_request(what: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "InvalidPaginationParameter", "description": what})),
    )
        .into_response()
}

async fn export(
    State(st): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if st.lock().unwrap().end_user {
        return forbidden();
    }
    let Some(start) = q.get("start_time").and_then(|s| s.parse::<i64>().ok()) else {
        return bad_request("start_time is required and must be a unix time");
    };
    let o = origin(&headers, &st);
    let mut s = st.lock().unwrap();
    s.export_starts.push(start);
    let mut changed: Vec<(i64, u64)> = s
        .articles
        .iter()
        .filter(|(_, a)| !a.archived && a.updated_at >= start)
        .map(|(id, a)| (a.updated_at, *id))
        .collect();
    changed.sort();
    let more = changed.len() > s.page_size;
    changed.truncate(s.page_size);
    let end_time = changed.last().map_or(start, |(t, _)| *t);
    let list: Vec<Value> = changed
        .iter()
        .map(|(_, id)| article_json(&o, *id, &s.articles[id]))
        .collect();
    s.exported.extend(changed.iter().map(|(_, id)| *id));
    let next_page = more
        .then(|| format!("{o}/api/v2/help_center/incremental/articles.json?start_time={end_time}"));
    Json(json!({
        "articles": list,
        "next_page": next_page,
        "end_time": end_time,
        "count": changed.len(),
    }))
    .into_response()
}

/// Offset pagination as the Help Center API does it (`page`, `per_page` up to 100).
fn offset_page(
    o: &str,
    path: &str,
    key: &str,
    all: Vec<Value>,
    q: &HashMap<String, String>,
) -> Response {
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let count = all.len();
    let page_count = count.div_ceil(per_page).max(1);
    let items: Vec<Value> = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link = |p: usize| format!("{o}{path}?page={p}&per_page={per_page}");
    Json(json!({
        key: items,
        "page": page,
        "per_page": per_page,
        "page_count": page_count,
        "count": count,
        "next_page": (page < page_count).then(|| link(page + 1)),
        "previous_page": (page > 1).then(|| link(page - 1)),
        "sort_by": "position",
        "sort_order": "asc",
    }))
    .into_response()
}

/// The `{locale}` of `/api/v2/help_center/{locale}/<what>`, if the path has one.
fn locale_of(uri: &axum::http::Uri) -> Option<String> {
    let segs: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    (segs.len() == 5).then(|| segs[3].to_ascii_lowercase())
}

async fn categories(
    State(st): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    req: axum::http::Uri,
) -> Response {
    let o = origin(&headers, &st);
    let loc = locale_of(&req);
    let s = st.lock().unwrap();
    let all = s
        .categories
        .iter()
        .filter(|(_, (_, l))| loc.as_ref().is_none_or(|x| x == l))
        .map(|(id, (name, l))| {
            json!({"id": id, "name": name, "locale": l, "source_locale": "en-us", "position": 0,
                   "outdated": false, "description": "",
                   "html_url": format!("{o}/hc/{l}/categories/{id}"),
                   "url": format!("{o}/api/v2/help_center/{l}/categories/{id}.json")})
        })
        .collect();
    offset_page(&o, req.path(), "categories", all, &q)
}

async fn sections(
    State(st): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    req: axum::http::Uri,
) -> Response {
    let o = origin(&headers, &st);
    let loc = locale_of(&req);
    let s = st.lock().unwrap();
    let all = s
        .sections
        .iter()
        .filter(|(_, (_, _, l))| loc.as_ref().is_none_or(|x| x == l))
        .map(|(id, (name, cat, l))| {
            json!({"id": id, "name": name, "category_id": cat, "locale": l,
                   "source_locale": "en-us", "position": 0, "outdated": false,
                   "parent_section_id": null, "theme_template": "section_page",
                   "html_url": format!("{o}/hc/{l}/sections/{id}"),
                   "url": format!("{o}/api/v2/help_center/{l}/sections/{id}.json")})
        })
        .collect();
    offset_page(&o, req.path(), "sections", all, &q)
}

async fn articles(
    State(st): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    req: axum::http::Uri,
) -> Response {
    let o = origin(&headers, &st);
    let loc = locale_of(&req);
    let s = st.lock().unwrap();
    let all = s
        .articles
        .iter()
        .filter(|(_, a)| !a.archived && loc.as_ref().is_none_or(|x| *x == a.a.locale))
        .map(|(id, a)| article_json(&o, *id, a))
        .collect();
    offset_page(&o, req.path(), "articles", all, &q)
}

async fn tickets(
    State(st): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if st.lock().unwrap().end_user {
        return forbidden();
    }
    let Some(start) = q.get("start_time").and_then(|s| s.parse::<i64>().ok()) else {
        return bad_request("start_time is required and must be a unix time");
    };
    let o = origin(&headers, &st);
    let s = st.lock().unwrap();
    let mut changed: Vec<(i64, u64)> = s
        .tickets
        .iter()
        .filter(|(_, t)| t.updated_at >= start)
        .map(|(id, t)| (t.updated_at, *id))
        .collect();
    changed.sort();
    let more = changed.len() > s.page_size;
    changed.truncate(s.page_size);
    let end_time = changed.last().map_or(start, |(t, _)| *t);
    let list: Vec<Value> = changed
        .iter()
        .map(|(_, id)| {
            let t = &s.tickets[id];
            json!({"id": id, "subject": t.subject, "raw_subject": t.subject,
                   "status": t.status, "type": "question", "priority": null,
                   "url": format!("{o}/api/v2/tickets/{id}.json"),
                   "created_at": time(t.created_at), "updated_at": time(t.updated_at),
                   "generated_timestamp": t.updated_at, "tags": [],
                   "description": t.comments.first().map(|c| c.1.clone()).unwrap_or_default()})
        })
        .collect();
    Json(json!({
        "tickets": list,
        "count": changed.len(),
        "end_time": end_time,
        "end_of_stream": !more,
        "next_page": more.then(|| format!("{o}/api/v2/incremental/tickets.json?start_time={end_time}")),
    }))
    .into_response()
}

async fn comments(
    State(st): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    req: axum::http::Uri,
) -> Response {
    let o = origin(&headers, &st);
    // /api/v2/tickets/{id}/comments
    let id = req
        .path()
        .split('/')
        .nth(4)
        .and_then(|i| i.parse::<u64>().ok())
        .unwrap_or(0);
    let s = st.lock().unwrap();
    let Some(t) = s.tickets.get(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "RecordNotFound", "description": "Not found"})),
        )
            .into_response();
    };
    let all = t
        .comments
        .iter()
        .map(|(cid, body, public, author, at)| {
            json!({"id": cid, "type": "Comment", "author_id": author, "body": body,
                   "html_body": format!("<div class=\"zd-comment\"><p>{body}</p></div>"),
                   "plain_body": body, "public": public, "created_at": time(*at),
                   "attachments": [], "audit_id": cid + 1})
        })
        .collect();
    offset_page(&o, req.path(), "comments", all, &q)
}
