//! Confluence Cloud: the REST API v2 (spaces, pages, ancestors by parent id, attachments) and
//! the v1 CQL content search used for incremental syncs, under a `/wiki` context path.
//!
//! Wire details kept: ids are strings; list answers are `{"results": [...], "_links": {...}}`;
//! v2's `_links.next` is relative to the site (it starts with `/wiki`), v1's to `_links.base`;
//! both also send a `Link: <...>; rel="next"` header; auth is Basic `email:api_token`.

use crate::{has_basic, rfc3339, Faults};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A space.
#[derive(Debug, Clone)]
pub struct Space {
    /// Numeric id, sent as a string.
    pub id: u64,
    /// Key (`ENG`).
    pub key: String,
    /// Display name.
    pub name: String,
}

/// A page.
#[derive(Debug, Clone)]
pub struct Page {
    /// Numeric id, sent as a string.
    pub id: u64,
    /// Owning space.
    pub space_id: u64,
    /// Title.
    pub title: String,
    /// Parent page, if any.
    pub parent_id: Option<u64>,
    /// Body in storage format (XHTML with `ac:` macros).
    pub body: String,
    /// Version, bumped on each edit.
    pub version: u32,
    /// Last change.
    pub updated: DateTime<Utc>,
    /// Labels.
    pub labels: Vec<String>,
}

/// A file attached to a page.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// `att<digits>`.
    pub id: String,
    /// Page it hangs on.
    pub page_id: u64,
    /// File name.
    pub title: String,
    /// Content type.
    pub media_type: String,
    /// The file.
    pub bytes: Vec<u8>,
    /// Version, bumped on each upload.
    pub version: u32,
    /// Last change.
    pub updated: DateTime<Utc>,
}

#[derive(Default)]
struct Site {
    spaces: BTreeMap<u64, Space>,
    pages: BTreeMap<u64, Page>,
    attachments: BTreeMap<String, Attachment>,
    next_id: u64,
    /// Request counts by route, for tests that check what a sync fetched.
    hits: HashMap<&'static str, u64>,
    /// Results served by CQL searches with a `lastmodified` clause (incremental syncs).
    changed_served: u64,
}

/// A Confluence Cloud site in memory.
#[derive(Clone)]
pub struct FakeConfluence {
    site: Arc<Mutex<Site>>,
    /// The account allowed in.
    pub email: String,
    /// Its API token.
    pub token: String,
    /// Injected failures.
    pub faults: Faults,
    origin: Arc<Mutex<String>>,
}

impl FakeConfluence {
    /// An empty site accepting `email:token`.
    pub fn new(email: &str, token: &str) -> Self {
        Self {
            site: Arc::new(Mutex::new(Site {
                next_id: 1000,
                ..Site::default()
            })),
            email: email.into(),
            token: token.into(),
            faults: Faults::default(),
            origin: Arc::new(Mutex::new(String::new())),
        }
    }

    /// Serves the site; the answer's `base_url` is what a data source's `config.base_url` takes.
    pub async fn serve(&self) -> std::io::Result<(crate::Served, String)> {
        let served = crate::serve(self.router()).await?;
        *self.origin.lock().unwrap() = served.origin.clone();
        let base = format!("{}/wiki", served.origin);
        Ok((served, base))
    }

    /// The routes, faults in front.
    pub fn router(&self) -> Router {
        let app = Router::new()
            .route("/wiki/api/v2/spaces", get(spaces))
            .route("/wiki/api/v2/spaces/{id}/pages", get(space_pages))
            .route("/wiki/api/v2/pages/{id}", get(one_page))
            .route("/wiki/api/v2/pages/{id}/attachments", get(page_attachments))
            .route("/wiki/download/attachments/{page}/{name}", get(download))
            .route("/wiki/rest/api/content/search", get(cql_search))
            .with_state(self.clone());
        self.faults.wrap(app)
    }

    /// Adds a space; answers its id.
    pub fn add_space(&self, key: &str, name: &str) -> u64 {
        let mut s = self.site.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.spaces.insert(
            id,
            Space {
                id,
                key: key.into(),
                name: name.into(),
            },
        );
        id
    }

    /// Adds a page (version 1, updated now); answers its id.
    pub fn add_page(&self, space_id: u64, parent_id: Option<u64>, title: &str, body: &str) -> u64 {
        let mut s = self.site.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.pages.insert(
            id,
            Page {
                id,
                space_id,
                title: title.into(),
                parent_id,
                body: body.into(),
                version: 1,
                updated: Utc::now(),
                labels: Vec::new(),
            },
        );
        id
    }

    /// Replaces a page's body, bumping its version.
    pub fn edit_page(&self, id: u64, body: &str) {
        let mut s = self.site.lock().unwrap();
        let p = s.pages.get_mut(&id).expect("a page");
        p.body = body.into();
        p.version += 1;
        p.updated = Utc::now();
    }

    /// Sets a page's labels.
    pub fn set_labels(&self, id: u64, labels: &[&str]) {
        let mut s = self.site.lock().unwrap();
        let p = s.pages.get_mut(&id).expect("a page");
        p.labels = labels.iter().map(|l| l.to_string()).collect();
    }

    /// Moves a page's last change into the past (for `lookback_days`).
    pub fn backdate(&self, id: u64, days: i64) {
        let mut s = self.site.lock().unwrap();
        let p = s.pages.get_mut(&id).expect("a page");
        p.updated = Utc::now() - Span::days(days);
    }

    /// Moves every page's and attachment's last change `days` into the past.
    pub fn backdate_all(&self, days: i64) {
        let mut s = self.site.lock().unwrap();
        let t = Utc::now() - Span::days(days);
        s.pages.values_mut().for_each(|p| p.updated = t);
        s.attachments.values_mut().for_each(|a| a.updated = t);
    }

    /// Deletes a page and its attachments (they are no longer listed).
    pub fn delete_page(&self, id: u64) {
        let mut s = self.site.lock().unwrap();
        s.pages.remove(&id);
        s.attachments.retain(|_, a| a.page_id != id);
    }

    /// Attaches a file to a page; answers the attachment's id.
    pub fn attach(&self, page_id: u64, name: &str, media_type: &str, bytes: &[u8]) -> String {
        let mut s = self.site.lock().unwrap();
        s.next_id += 1;
        let id = format!("att{}", s.next_id);
        s.attachments.insert(
            id.clone(),
            Attachment {
                id: id.clone(),
                page_id,
                title: name.into(),
                media_type: media_type.into(),
                bytes: bytes.to_vec(),
                version: 1,
                updated: Utc::now(),
            },
        );
        id
    }

    /// Requests served for a route name (`space_pages`, `cql_search`, `download`, ...).
    pub fn hits(&self, route: &str) -> u64 {
        self.site
            .lock()
            .unwrap()
            .hits
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// Pages and attachments served as changed by incremental (CQL `lastmodified`) searches.
    pub fn changed_served(&self) -> u64 {
        self.site.lock().unwrap().changed_served
    }

    /// Pages on the site.
    pub fn page_count(&self) -> usize {
        self.site.lock().unwrap().pages.len()
    }

    fn origin(&self) -> String {
        self.origin.lock().unwrap().clone()
    }

    fn check(&self, headers: &HeaderMap, route: &'static str) -> Result<(), Box<Response>> {
        *self.site.lock().unwrap().hits.entry(route).or_default() += 1;
        if has_basic(headers, &self.email, &self.token) {
            Ok(())
        } else {
            // Confluence Cloud's answer to a wrong or revoked token.
            Err(Box::new(
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"code": 401, "message": "Unauthorized; scope does not match"})),
                )
                    .into_response(),
            ))
        }
    }
}

/// Offset pagination behind an opaque cursor, as the real cursors are opaque.
fn decode_cursor(c: Option<&String>) -> Result<usize, Box<Response>> {
    let Some(c) = c else { return Ok(0) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Box::new(bad_request("Invalid cursor")))
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(offset.to_string())
}

fn bad_request(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({"errors": [{"status": 400, "code": "INVALID_REQUEST_PARAMETER", "title": msg}]}),
        ),
    )
        .into_response()
}

fn limit_of(q: &HashMap<String, String>, max: usize) -> Result<usize, Box<Response>> {
    match q.get("limit") {
        None => Ok(25),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Box::new(bad_request("limit must be between 1 and 250"))),
    }
}

/// One page of `all`, with v2's `_links.next` (site-relative) and `Link` header.
fn v2_list(path: &str, q: &HashMap<String, String>, all: Vec<Value>, base: &str) -> Response {
    let limit = match limit_of(q, 250) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let start = match decode_cursor(q.get("cursor")) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let mut links = json!({"base": base});
    let mut headers = HeaderMap::new();
    if start + limit < all.len() {
        let mut next = url::Url::parse("http://x").unwrap();
        next.set_path(path);
        {
            let mut qp = next.query_pairs_mut();
            for (k, v) in q.iter().filter(|(k, _)| k.as_str() != "cursor") {
                qp.append_pair(k, v);
            }
            qp.append_pair("cursor", &encode_cursor(start + limit));
        }
        let rel = format!("{}?{}", next.path(), next.query().unwrap_or(""));
        headers.insert(
            "link",
            format!("<{rel}>; rel=\"next\", <{base}>; rel=\"base\"")
                .parse()
                .unwrap(),
        );
        links["next"] = rel.into();
    }
    (headers, Json(json!({"results": page, "_links": links}))).into_response()
}

fn space_json(s: &Space) -> Value {
    json!({
        "id": s.id.to_string(), "key": s.key, "name": s.name, "type": "global",
        "status": "current", "authorId": "557058:owner", "homepageId": null,
        "_links": {"webui": format!("/spaces/{}", s.key)},
    })
}

fn slug(title: &str) -> String {
    title.replace(' ', "+")
}

fn page_json(site: &Site, p: &Page, body: bool) -> Value {
    page_json_with(site, p, body, false)
}

fn page_json_with(site: &Site, p: &Page, body: bool, labels: bool) -> Value {
    let key = site.spaces.get(&p.space_id).map_or("", |s| s.key.as_str());
    let mut v = json!({
        "id": p.id.to_string(), "status": "current", "title": p.title,
        "spaceId": p.space_id.to_string(),
        "parentId": p.parent_id.map(|i| i.to_string()),
        "parentType": p.parent_id.map(|_| "page"),
        "position": 0, "authorId": "557058:author", "ownerId": "557058:author",
        "createdAt": rfc3339(p.updated),
        "version": {"number": p.version, "createdAt": rfc3339(p.updated),
                    "message": "", "minorEdit": false, "authorId": "557058:author"},
        "_links": {
            "webui": format!("/spaces/{key}/pages/{}/{}", p.id, slug(&p.title)),
            "editui": format!("/pages/resumedraft.action?draftId={}", p.id),
            "tinyui": format!("/x/{}", p.id),
        },
    });
    if body {
        v["body"] = json!({"storage": {"value": p.body, "representation": "storage"}});
    }
    if labels {
        v["labels"] = json!({
            "results": p.labels.iter().enumerate()
                .map(|(i, l)| json!({"id": i.to_string(), "name": l, "prefix": "global"}))
                .collect::<Vec<_>>(),
            "meta": {"hasMore": false, "cursor": ""},
            "_links": {},
        });
    }
    v
}

fn attachment_json(a: &Attachment) -> Value {
    let download = format!(
        "/download/attachments/{}/{}?version={}&modificationDate={}&api=v2",
        a.page_id,
        a.title,
        a.version,
        a.updated.timestamp_millis()
    );
    json!({
        "id": a.id, "status": "current", "title": a.title, "createdAt": rfc3339(a.updated),
        "pageId": a.page_id.to_string(), "mediaType": a.media_type,
        "mediaTypeDescription": "", "comment": "", "fileId": format!("file-{}", a.id),
        "fileSize": a.bytes.len(),
        "webuiLink": format!("/pages/viewpageattachments.action?pageId={}&preview=/{}/{}", a.page_id, a.page_id, a.title),
        "downloadLink": download,
        "version": {"number": a.version, "createdAt": rfc3339(a.updated), "minorEdit": false},
        "_links": {"webui": format!("/pages/viewpageattachments.action?pageId={}", a.page_id), "download": download},
    })
}

async fn spaces(
    State(f): State<FakeConfluence>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = f.check(&headers, "spaces") {
        return *r;
    }
    let keys: Option<Vec<String>> = q
        .get("keys")
        .map(|k| k.split(',').map(str::to_owned).collect());
    let all: Vec<Value> = {
        let s = f.site.lock().unwrap();
        s.spaces
            .values()
            .filter(|sp| keys.as_ref().is_none_or(|k| k.contains(&sp.key)))
            .map(space_json)
            .collect()
    };
    v2_list(
        "/wiki/api/v2/spaces",
        &q,
        all,
        &format!("{}/wiki", f.origin()),
    )
}

async fn space_pages(
    State(f): State<FakeConfluence>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = f.check(&headers, "space_pages") {
        return *r;
    }
    let Ok(id) = id.parse::<u64>() else {
        return bad_request("id must be a number");
    };
    let body = match q.get("body-format").map(String::as_str) {
        None => false,
        Some("storage") => true,
        Some(_) => return bad_request("body-format must be storage, atlas_doc_format or view"),
    };
    let labels = q.get("include-labels").is_some_and(|v| v == "true");
    let all: Vec<Value> = {
        let s = f.site.lock().unwrap();
        if !s.spaces.contains_key(&id) {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Space not found"}]})),
            )
                .into_response();
        }
        s.pages
            .values()
            .filter(|p| p.space_id == id)
            .map(|p| page_json_with(&s, p, body, labels))
            .collect()
    };
    v2_list(
        &format!("/wiki/api/v2/spaces/{id}/pages"),
        &q,
        all,
        &format!("{}/wiki", f.origin()),
    )
}

async fn one_page(
    State(f): State<FakeConfluence>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = f.check(&headers, "one_page") {
        return *r;
    }
    let s = f.site.lock().unwrap();
    match id.parse::<u64>().ok().and_then(|i| s.pages.get(&i)) {
        Some(p) => Json(page_json(&s, p, false)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]})),
        )
            .into_response(),
    }
}

async fn page_attachments(
    State(f): State<FakeConfluence>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = f.check(&headers, "page_attachments") {
        return *r;
    }
    let all: Vec<Value> = {
        let s = f.site.lock().unwrap();
        s.attachments
            .values()
            .filter(|a| a.page_id.to_string() == id)
            .map(attachment_json)
            .collect()
    };
    v2_list(
        &format!("/wiki/api/v2/pages/{id}/attachments"),
        &q,
        all,
        &format!("{}/wiki", f.origin()),
    )
}

async fn download(
    State(f): State<FakeConfluence>,
    headers: HeaderMap,
    Path((page, name)): Path<(String, String)>,
) -> Response {
    if let Err(r) = f.check(&headers, "download") {
        return *r;
    }
    let s = f.site.lock().unwrap();
    match s
        .attachments
        .values()
        .find(|a| a.page_id.to_string() == page && a.title == name)
    {
        Some(a) => ([("content-type", a.media_type.clone())], a.bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The CQL the connector sends: `type in (page,attachment)`, optionally
/// `AND space in ("A","B")`, and `AND lastmodified >= now("-<n>m")`.
struct Cql {
    types: Vec<String>,
    spaces: Option<Vec<String>>,
    since: Option<DateTime<Utc>>,
}

fn parse_cql(cql: &str) -> Option<Cql> {
    let mut out = Cql {
        types: Vec::new(),
        spaces: None,
        since: None,
    };
    for clause in cql.split(" AND ") {
        let c = clause.trim();
        let list = |s: &str| -> Option<Vec<String>> {
            let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
            Some(
                inner
                    .split(',')
                    .map(|x| x.trim().trim_matches('"').to_owned())
                    .collect(),
            )
        };
        if let Some(rest) = c.strip_prefix("type in ") {
            out.types = list(rest)?;
        } else if let Some(rest) = c.strip_prefix("type = ") {
            out.types = vec![rest.trim().to_owned()];
        } else if let Some(rest) = c.strip_prefix("space in ") {
            out.spaces = Some(list(rest)?);
        } else if let Some(rest) = c.strip_prefix("lastmodified >= now(\"-") {
            let mins: i64 = rest.strip_suffix("m\")")?.parse().ok()?;
            out.since = Some(Utc::now() - Span::minutes(mins));
        } else {
            return None;
        }
    }
    (!out.types.is_empty()).then_some(out)
}

async fn cql_search(
    State(f): State<FakeConfluence>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = f.check(&headers, "cql_search") {
        return *r;
    }
    let Some(cql) = q.get("cql").and_then(|c| parse_cql(c)) else {
        // v1's error shape differs from v2's.
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"statusCode": 400, "message": format!("Could not parse cql : {}", q.get("cql").map_or("", |s| s.as_str()))})),
        )
            .into_response();
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let start = match decode_cursor(q.get("cursor")) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let base = format!("{}/wiki", f.origin());
    let mut s = f.site.lock().unwrap();
    let incremental = cql.since.is_some();
    let space_ok = |space_id: u64| {
        cql.spaces.as_ref().is_none_or(|keys| {
            s.spaces
                .get(&space_id)
                .is_some_and(|sp| keys.contains(&sp.key))
        })
    };
    let fresh = |t: DateTime<Utc>| cql.since.is_none_or(|since| t >= since);
    let mut all: Vec<(DateTime<Utc>, Value)> = Vec::new();
    if cql.types.iter().any(|t| t == "page") {
        for p in s
            .pages
            .values()
            .filter(|p| space_ok(p.space_id) && fresh(p.updated))
        {
            let space = &s.spaces[&p.space_id];
            let mut ancestors = Vec::new();
            let mut cur = p.parent_id;
            while let Some(id) = cur {
                let Some(a) = s.pages.get(&id) else { break };
                ancestors.insert(0, json!({"id": a.id.to_string(), "type": "page", "status": "current", "title": a.title}));
                cur = a.parent_id;
            }
            let v2 = page_json(&s, p, false);
            all.push((
                p.updated,
                json!({
                    "id": p.id.to_string(), "type": "page", "status": "current", "title": p.title,
                    "space": {"id": space.id, "key": space.key, "name": space.name, "type": "global"},
                    "version": {"number": p.version, "when": rfc3339(p.updated),
                                "by": {"type": "known", "accountId": "557058:author", "displayName": "Ada Author"}},
                    "ancestors": ancestors,
                    "body": {"storage": {"value": p.body, "representation": "storage"}},
                    "metadata": {"labels": {"results": p.labels.iter().map(|l| json!({"prefix": "global", "name": l})).collect::<Vec<_>>()}},
                    "_links": {"webui": v2["_links"]["webui"], "self": format!("{base}/rest/api/content/{}", p.id)},
                }),
            ));
        }
    }
    if cql.types.iter().any(|t| t == "attachment") {
        for a in s.attachments.values() {
            let Some(p) = s.pages.get(&a.page_id) else {
                continue;
            };
            if !space_ok(p.space_id) || !fresh(a.updated) {
                continue;
            }
            let v2 = attachment_json(a);
            all.push((
                a.updated,
                json!({
                    "id": a.id, "type": "attachment", "status": "current", "title": a.title,
                    "version": {"number": a.version, "when": rfc3339(a.updated)},
                    "container": {"id": p.id.to_string(), "type": "page", "title": p.title},
                    "extensions": {"mediaType": a.media_type, "fileSize": a.bytes.len()},
                    "_links": {"webui": v2["webuiLink"], "download": v2["downloadLink"]},
                }),
            ));
        }
    }
    all.sort_by_key(|(t, _)| *t);
    let total = all.len();
    let results: Vec<Value> = all
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    if incremental {
        s.changed_served += results.len() as u64;
    }
    let mut links = json!({"base": base, "context": "/wiki"});
    if start + limit < total {
        let mut next = url::Url::parse("http://x/rest/api/content/search").unwrap();
        {
            let mut qp = next.query_pairs_mut();
            for (k, v) in q.iter().filter(|(k, _)| k.as_str() != "cursor") {
                qp.append_pair(k, v);
            }
            qp.append_pair("cursor", &encode_cursor(start + limit));
        }
        links["next"] = format!("{}?{}", next.path(), next.query().unwrap_or("")).into();
    }
    Json(json!({
        "results": results, "start": start, "limit": limit,
        "size": total.saturating_sub(start).min(limit), "_links": links,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cql_the_connector_sends_is_understood() {
        let c = parse_cql(r#"type in (page,attachment) AND space in ("ENG","HR") AND lastmodified >= now("-90m")"#).unwrap();
        assert_eq!(c.types, ["page", "attachment"]);
        assert_eq!(c.spaces.unwrap(), ["ENG", "HR"]);
        assert!(c.since.unwrap() < Utc::now());
        assert!(parse_cql("title ~ x").is_none());
    }
}
