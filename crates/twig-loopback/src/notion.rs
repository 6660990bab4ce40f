//! An in-memory Notion workspace speaking Notion's public API (version 2022-06-28) for the
//! endpoints Twig's connector uses: `POST /v1/search`, `GET /v1/blocks/{id}/children`,
//! `GET /v1/blocks/{id}` and `GET /v1/databases/{id}`, with Bearer auth, the required
//! `Notion-Version` header, cursor pagination and Notion's error bodies.
//!
//! Like Notion, `last_edited_time` is rounded down to the minute, archived pages leave search,
//! and a page's `last_edited_time` moves when its blocks change. Ids are UUIDs with dashes.

use crate::{has_bearer, Faults};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The API version the connector sends and this server requires.
pub const VERSION: &str = "2022-06-28";

/// Where a page lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// At the top of the workspace.
    Workspace,
    /// Under another page (it also gets a `child_page` block there).
    Page(String),
    /// Inside a block (a toggle or column) of another page.
    Block(String),
    /// A row of a database.
    Database(String),
}

fn parent_json(p: &Parent) -> Value {
    match p {
        Parent::Workspace => json!({"type": "workspace", "workspace": true}),
        Parent::Page(id) => json!({"type": "page_id", "page_id": id}),
        Parent::Block(id) => json!({"type": "block_id", "block_id": id}),
        Parent::Database(id) => json!({"type": "database_id", "database_id": id}),
    }
}

/// A block to put on a page: its type, its type object and its children.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Block type (`paragraph`, `heading_1`, `table_row`, ...).
    pub kind: String,
    /// The type-specific object (`{"rich_text": [...]}`).
    pub data: Value,
    /// Nested blocks.
    pub children: Vec<Block>,
}

impl Block {
    /// A block whose type object is just `rich_text` (paragraph, headings, lists, quote, toggle, callout).
    pub fn text(kind: &str, text: &str) -> Block {
        let mut data = json!({"rich_text": rich_text(text), "color": "default"});
        if kind.starts_with("heading_") {
            data["is_toggleable"] = json!(false);
        }
        if kind == "callout" {
            data["icon"] = json!({"type": "emoji", "emoji": "💡"});
        }
        Block {
            kind: kind.into(),
            data,
            children: Vec::new(),
        }
    }

    /// A paragraph.
    pub fn paragraph(text: &str) -> Block {
        Self::text("paragraph", text)
    }

    /// A heading of `level` 1 to 3.
    pub fn heading(level: u8, text: &str) -> Block {
        Self::text(&format!("heading_{level}"), text)
    }

    /// A to-do item.
    pub fn to_do(text: &str, checked: bool) -> Block {
        Block {
            kind: "to_do".into(),
            data: json!({"rich_text": rich_text(text), "checked": checked, "color": "default"}),
            children: Vec::new(),
        }
    }

    /// A code block.
    pub fn code(language: &str, text: &str) -> Block {
        Block {
            kind: "code".into(),
            data: json!({"rich_text": rich_text(text), "caption": [], "language": language}),
            children: Vec::new(),
        }
    }

    /// A table whose first row is a column header.
    pub fn table(rows: &[&[&str]]) -> Block {
        let width = rows.first().map_or(0, |r| r.len());
        Block {
            kind: "table".into(),
            data: json!({"table_width": width, "has_column_header": true, "has_row_header": false}),
            children: rows
                .iter()
                .map(|r| Block {
                    kind: "table_row".into(),
                    data: json!({"cells": r.iter().map(|c| rich_text(c)).collect::<Vec<_>>()}),
                    children: Vec::new(),
                })
                .collect(),
        }
    }

    /// A divider.
    pub fn divider() -> Block {
        Block {
            kind: "divider".into(),
            data: json!({}),
            children: Vec::new(),
        }
    }

    /// The same block with these children.
    pub fn with_children(mut self, children: Vec<Block>) -> Block {
        self.children = children;
        self
    }
}

/// Notion's rich text array for one unformatted run.
pub fn rich_text(text: &str) -> Value {
    json!([{
        "type": "text",
        "text": {"content": text, "link": null},
        "annotations": {"bold": false, "italic": false, "strikethrough": false,
                        "underline": false, "code": false, "color": "default"},
        "plain_text": text,
        "href": null,
    }])
}

#[derive(Debug, Clone)]
struct PageRec {
    title: String,
    parent: Parent,
    created: DateTime<Utc>,
    edited: DateTime<Utc>,
    archived: bool,
    /// Shared with the integration (else invisible, as in Notion).
    shared: bool,
}

#[derive(Debug, Clone)]
struct BlockRec {
    kind: String,
    data: Value,
    /// Page or block id holding it.
    parent: String,
    parent_is_page: bool,
    edited: DateTime<Utc>,
}

#[derive(Default)]
struct Workspace {
    pages: BTreeMap<String, PageRec>,
    /// Database id -> (title, parent, edit time).
    databases: BTreeMap<String, (String, Parent, DateTime<Utc>)>,
    blocks: HashMap<String, BlockRec>,
    /// Page or block id -> its child block ids, in order.
    children: HashMap<String, Vec<String>>,
    clock: DateTime<Utc>,
    next_id: u64,
    /// Largest page the server answers, whatever `page_size` asks (to exercise pagination).
    max_page_size: usize,
    /// `METHOD path` of every request that passed auth.
    log: Vec<String>,
    /// `start_cursor` of every search, in order.
    search_cursors: Vec<Option<String>>,
}

impl Workspace {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        let n = self.next_id;
        format!(
            "{:08x}-{:04x}-4{:03x}-8000-{:012x}",
            0x7e1d_0000u64 + n,
            n % 0xffff,
            n % 0xfff,
            n
        )
    }

    fn now(&self) -> DateTime<Utc> {
        // Notion reports edit times rounded down to the minute.
        self.clock
            .duration_trunc(TimeDelta::minutes(1))
            .unwrap_or(self.clock)
    }

    fn touch(&mut self, page: &str) {
        let now = self.now();
        if let Some(p) = self.pages.get_mut(page) {
            p.edited = now;
        }
    }

    /// Removes the block children of `parent` (child pages' blocks stay: they are pages).
    fn clear_blocks(&mut self, parent: &str) {
        let kids = self.children.remove(parent).unwrap_or_default();
        let mut kept = Vec::new();
        for k in kids {
            if self.pages.contains_key(&k) {
                kept.push(k);
                continue;
            }
            self.clear_blocks(&k);
            self.blocks.remove(&k);
        }
        if !kept.is_empty() {
            self.children.insert(parent.into(), kept);
        }
    }

    fn insert_blocks(&mut self, parent: &str, parent_is_page: bool, blocks: &[Block]) {
        let now = self.now();
        // New blocks go before child_page blocks, which stay at the end.
        let existing = self.children.remove(parent).unwrap_or_default();
        let mut ids = Vec::new();
        for b in blocks {
            let id = self.new_id();
            self.blocks.insert(
                id.clone(),
                BlockRec {
                    kind: b.kind.clone(),
                    data: b.data.clone(),
                    parent: parent.into(),
                    parent_is_page,
                    edited: now,
                },
            );
            self.insert_blocks(&id, false, &b.children);
            ids.push(id);
        }
        ids.extend(existing);
        self.children.insert(parent.into(), ids);
    }

    fn visible(&self, id: &str) -> bool {
        self.pages.get(id).is_some_and(|p| p.shared)
    }

    /// The page a block belongs to.
    fn page_of(&self, id: &str) -> Option<String> {
        let mut cur = id.to_owned();
        loop {
            if self.pages.contains_key(&cur) {
                return Some(cur);
            }
            cur = self.blocks.get(&cur)?.parent.clone();
        }
    }

    fn page_json(&self, id: &str, p: &PageRec) -> Value {
        let parent = parent_json(&p.parent);
        // A database row's title property is the database's title column.
        let title_key = match p.parent {
            Parent::Database(_) => "Name",
            _ => "title",
        };
        let slug: String = p.title.split_whitespace().collect::<Vec<_>>().join("-");
        json!({
            "object": "page",
            "id": id,
            "created_time": crate::rfc3339(p.created),
            "last_edited_time": crate::rfc3339(p.edited),
            "created_by": {"object": "user", "id": USER},
            "last_edited_by": {"object": "user", "id": USER},
            "cover": null,
            "icon": null,
            "parent": parent,
            "archived": p.archived,
            "in_trash": p.archived,
            "properties": {
                title_key: {"id": "title", "type": "title", "title": rich_text(&p.title)}
            },
            "url": format!("https://www.notion.so/{slug}-{}", id.replace('-', "")),
            "public_url": null,
        })
    }

    fn database_json(&self, id: &str) -> Option<Value> {
        let (title, parent, edited) = self.databases.get(id)?;
        Some(json!({
            "object": "database", "id": id,
            "created_time": crate::rfc3339(*edited),
            "last_edited_time": crate::rfc3339(*edited),
            "title": rich_text(title),
            "description": [],
            "parent": parent_json(parent),
            "properties": {"Name": {"id": "title", "name": "Name", "type": "title", "title": {}}},
            "archived": false, "in_trash": false, "is_inline": false,
            "url": format!("https://www.notion.so/{}", id.replace('-', "")),
        }))
    }

    fn block_json(&self, id: &str) -> Option<Value> {
        if let Some(p) = self.pages.get(id) {
            // A child page seen as a block of its parent.
            let parent = parent_json(&p.parent);
            return Some(json!({
                "object": "block", "id": id, "parent": parent,
                "created_time": crate::rfc3339(p.created),
                "last_edited_time": crate::rfc3339(p.edited),
                "created_by": {"object": "user", "id": USER},
                "last_edited_by": {"object": "user", "id": USER},
                "has_children": self.children.get(id).is_some_and(|c| !c.is_empty()),
                "archived": p.archived, "in_trash": p.archived,
                "type": "child_page", "child_page": {"title": p.title},
            }));
        }
        if let Some((title, parent, edited)) = self.databases.get(id) {
            return Some(json!({
                "object": "block", "id": id, "parent": parent_json(parent),
                "created_time": crate::rfc3339(*edited),
                "last_edited_time": crate::rfc3339(*edited),
                "has_children": false, "archived": false, "in_trash": false,
                "type": "child_database", "child_database": {"title": title},
            }));
        }
        let b = self.blocks.get(id)?;
        let parent = if b.parent_is_page {
            json!({"type": "page_id", "page_id": b.parent})
        } else {
            json!({"type": "block_id", "block_id": b.parent})
        };
        let mut v = json!({
            "object": "block", "id": id, "parent": parent,
            "created_time": crate::rfc3339(b.edited),
            "last_edited_time": crate::rfc3339(b.edited),
            "created_by": {"object": "user", "id": USER},
            "last_edited_by": {"object": "user", "id": USER},
            "has_children": self.children.get(id).is_some_and(|c| !c.is_empty()),
            "archived": false, "in_trash": false,
            "type": b.kind,
        });
        v[b.kind.as_str()] = b.data.clone();
        Some(v)
    }
}

const USER: &str = "ee5f0f84-409a-440f-983a-a5315961c6e4";

/// An in-memory Notion workspace; clones share one workspace.
#[derive(Clone)]
pub struct Notion {
    state: Arc<Mutex<Workspace>>,
    token: Arc<String>,
    /// Failures injected in front of every route.
    pub faults: Faults,
}

impl Notion {
    /// An empty workspace accepting `token`, its clock at the current minute.
    pub fn new(token: &str) -> Notion {
        let state = Workspace {
            clock: Utc::now(),
            max_page_size: 100,
            ..Workspace::default()
        };
        Notion {
            state: Arc::new(Mutex::new(state)),
            token: Arc::new(token.into()),
            faults: Faults::default(),
        }
    }

    /// The routes, wrapped in [`Notion::faults`].
    pub fn router(&self) -> Router {
        let app = Router::new()
            .route("/v1/search", post(search))
            .route("/v1/blocks/{id}/children", get(children))
            .route("/v1/blocks/{id}", get(block))
            .route("/v1/databases/{id}", get(database))
            .with_state(self.clone());
        self.faults.wrap(app)
    }

    /// Serves the workspace on a loopback port.
    pub async fn serve(&self) -> std::io::Result<crate::Served> {
        crate::serve(self.router()).await
    }

    /// Moves the workspace clock forward (edit times follow it).
    pub fn advance(&self, d: Duration) {
        let mut st = self.state.lock().unwrap();
        st.clock += TimeDelta::from_std(d).expect("a duration");
    }

    /// Answers at most `n` results per list, whatever `page_size` asks.
    pub fn set_max_page_size(&self, n: usize) {
        self.state.lock().unwrap().max_page_size = n.max(1);
    }

    /// Adds a page shared with the integration, with its blocks; answers its id.
    pub fn add_page(&self, title: &str, parent: Parent, blocks: &[Block]) -> String {
        let mut st = self.state.lock().unwrap();
        let id = st.new_id();
        let now = st.now();
        st.pages.insert(
            id.clone(),
            PageRec {
                title: title.into(),
                parent: parent.clone(),
                created: now,
                edited: now,
                archived: false,
                shared: true,
            },
        );
        st.insert_blocks(&id, true, blocks);
        // A subpage is also a `child_page` block of its parent, at the end of its blocks.
        let holder = match &parent {
            Parent::Page(p) | Parent::Block(p) => Some(p.clone()),
            Parent::Workspace | Parent::Database(_) => None,
        };
        if let Some(h) = holder {
            st.children.entry(h).or_default().push(id.clone());
        }
        id
    }

    /// Adds a database (a `child_database` block of its parent); rows are pages with
    /// [`Parent::Database`].
    pub fn add_database(&self, title: &str, parent: Parent) -> String {
        let mut st = self.state.lock().unwrap();
        let id = st.new_id();
        let now = st.now();
        st.databases
            .insert(id.clone(), (title.into(), parent.clone(), now));
        if let Parent::Page(h) | Parent::Block(h) = parent {
            st.children.entry(h).or_default().push(id.clone());
        }
        id
    }

    /// Replaces a page's blocks (its subpages stay); its edit time moves.
    pub fn set_blocks(&self, page: &str, blocks: &[Block]) {
        let mut st = self.state.lock().unwrap();
        assert!(st.pages.contains_key(page), "no page {page}");
        st.clear_blocks(page);
        st.insert_blocks(page, true, blocks);
        st.touch(page);
    }

    /// Renames a page; its edit time moves.
    pub fn set_title(&self, page: &str, title: &str) {
        let mut st = self.state.lock().unwrap();
        st.pages.get_mut(page).expect("a page").title = title.into();
        st.touch(page);
    }

    /// Archives (trashes) a page: it leaves search.
    pub fn archive(&self, page: &str) {
        let mut st = self.state.lock().unwrap();
        st.pages.get_mut(page).expect("a page").archived = true;
        st.touch(page);
    }

    /// Stops sharing a page with the integration: it becomes invisible, as if absent.
    pub fn unshare(&self, page: &str) {
        let mut st = self.state.lock().unwrap();
        st.pages.get_mut(page).expect("a page").shared = false;
    }

    /// Ids of a page's (or block's) child blocks, in order.
    pub fn blocks_of(&self, parent: &str) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.children.get(parent).cloned().unwrap_or_default()
    }

    /// Ids of the pages or blocks whose children were listed, in request order.
    pub fn children_fetched(&self) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.log
            .iter()
            .filter_map(|l| {
                l.strip_prefix("GET /v1/blocks/")
                    .and_then(|r| r.strip_suffix("/children"))
                    .map(str::to_owned)
            })
            .collect()
    }

    /// `POST /v1/search` requests answered so far.
    pub fn searches(&self) -> usize {
        let st = self.state.lock().unwrap();
        st.log.iter().filter(|l| *l == "POST /v1/search").count()
    }

    /// The `start_cursor` of each search so far (`None`: from the top).
    pub fn search_cursors(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().search_cursors.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// Checks auth and version like Notion; logs the request when it passes.
    fn admit(&self, headers: &HeaderMap, line: String) -> Result<(), Fail> {
        if !has_bearer(headers, &self.token) {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "API token is invalid.",
            ));
        }
        match headers.get("notion-version").and_then(|v| v.to_str().ok()) {
            Some(VERSION) => {}
            None => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "missing_version",
                    "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
                ))
            }
            Some(v) => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "validation_error",
                    &format!("Notion-Version header failed validation: `{v}` is not a supported version (this server speaks {VERSION})."),
                ))
            }
        }
        self.state.lock().unwrap().log.push(line);
        Ok(())
    }
}

/// A Notion error answer.
struct Fail {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({
                "object": "error",
                "status": self.status.as_u16(),
                "code": self.code,
                "message": self.message,
                "request_id": "00000000-0000-4000-8000-000000000000",
            })),
        )
            .into_response()
    }
}

fn fail(status: StatusCode, code: &'static str, message: &str) -> Fail {
    Fail {
        status,
        code,
        message: message.to_owned(),
    }
}

fn not_found(id: &str) -> Fail {
    fail(
        StatusCode::NOT_FOUND,
        "object_not_found",
        &format!("Could not find block with ID: {id}. Make sure the relevant pages and databases are shared with your integration."),
    )
}

fn invalid(message: &str) -> Fail {
    fail(StatusCode::BAD_REQUEST, "validation_error", message)
}

/// Notion accepts ids with or without dashes.
fn normalize(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// One page of `ids` after `start` (Notion's cursors name the next item).
fn paginate(
    ids: &[String],
    start: Option<&str>,
    page_size: usize,
) -> Result<(Vec<String>, Option<String>), Fail> {
    let from = match start {
        None => 0,
        Some(c) => ids
            .iter()
            .position(|i| i == c)
            .ok_or_else(|| invalid("The start_cursor provided is invalid: start_cursor."))?,
    };
    let page: Vec<String> = ids.iter().skip(from).take(page_size).cloned().collect();
    let next = ids.get(from + page.len()).cloned();
    Ok((page, next))
}

fn page_size(asked: Option<i64>, max: usize) -> Result<usize, Fail> {
    match asked {
        None => Ok(100.min(max)),
        Some(n) if (1..=100).contains(&n) => Ok((n as usize).min(max)),
        Some(n) => Err(invalid(&format!(
            "body failed validation: body.page_size should be ≤ `100` and ≥ `1`, instead was `{n}`."
        ))),
    }
}

fn list(results: Vec<Value>, next: Option<String>, kind: &str) -> Json<Value> {
    let mut v = json!({
        "object": "list",
        "results": results,
        "next_cursor": next,
        "has_more": next.is_some(),
        "type": kind,
    });
    v[kind] = json!({});
    Json(v)
}

#[derive(Deserialize, Default)]
struct SearchBody {
    query: Option<String>,
    filter: Option<Value>,
    sort: Option<Value>,
    start_cursor: Option<String>,
    page_size: Option<i64>,
}

async fn search(
    State(n): State<Notion>,
    headers: HeaderMap,
    body: Option<Json<SearchBody>>,
) -> Result<Json<Value>, Fail> {
    n.admit(&headers, "POST /v1/search".into())?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let (want_pages, want_dbs) =
        match &body.filter {
            None => (true, true),
            Some(f) if f["property"] == "object" && f["value"] == "page" => (true, false),
            Some(f) if f["property"] == "object" && f["value"] == "database" => (false, true),
            Some(_) => return Err(invalid(
                "body failed validation: body.filter.value should be `\"page\"` or `\"database\"`.",
            )),
        };
    let ascending = match &body.sort {
        None => false,
        Some(s) if s["timestamp"] == "last_edited_time" => s["direction"] == "ascending",
        Some(_) => {
            return Err(invalid(
                "body failed validation: body.sort.timestamp should be `\"last_edited_time\"`.",
            ))
        }
    };
    let mut st = n.state.lock().unwrap();
    st.search_cursors.push(body.start_cursor.clone());
    let size = page_size(body.page_size, st.max_page_size)?;
    let query = body.query.unwrap_or_default().to_lowercase();
    let matches = |title: &str| query.is_empty() || title.to_lowercase().contains(&query);
    let mut found: Vec<(DateTime<Utc>, &String)> = st
        .pages
        .iter()
        .filter(|(_, p)| want_pages && p.shared && !p.archived && matches(&p.title))
        .map(|(id, p)| (p.edited, id))
        .chain(
            st.databases
                .iter()
                .filter(|(_, (t, _, _))| want_dbs && matches(t))
                .map(|(id, (_, _, e))| (*e, id)),
        )
        .collect();
    // Ties broken by id so cursors are stable.
    found.sort();
    if !ascending {
        found.reverse();
    }
    let ids: Vec<String> = found.iter().map(|(_, i)| (*i).clone()).collect();
    let (page, next) = paginate(&ids, body.start_cursor.as_deref(), size)?;
    let results = page
        .iter()
        .filter_map(|id| match st.pages.get(id) {
            Some(p) => Some(st.page_json(id, p)),
            None => st.database_json(id),
        })
        .collect();
    Ok(list(results, next, "page_or_database"))
}

#[derive(Deserialize)]
struct ListQuery {
    start_cursor: Option<String>,
    page_size: Option<i64>,
}

async fn children(
    State(n): State<Notion>,
    Path(raw): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, Fail> {
    let id = normalize(&raw).ok_or_else(|| {
        invalid(&format!(
            "path failed validation: path.block_id should be a valid uuid, instead was `\"{raw}\"`."
        ))
    })?;
    n.admit(&headers, format!("GET /v1/blocks/{id}/children"))?;
    let st = n.state.lock().unwrap();
    if !st.page_of(&id).is_some_and(|p| st.visible(&p)) {
        return Err(not_found(&id));
    }
    let size = page_size(q.page_size, st.max_page_size)?;
    let kids = st.children.get(&id).cloned().unwrap_or_default();
    let (page, next) = paginate(&kids, q.start_cursor.as_deref(), size)?;
    let results = page.iter().filter_map(|b| st.block_json(b)).collect();
    Ok(list(results, next, "block"))
}

async fn block(
    State(n): State<Notion>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Fail> {
    let id = normalize(&raw).ok_or_else(|| not_found(&raw))?;
    n.admit(&headers, format!("GET /v1/blocks/{id}"))?;
    let st = n.state.lock().unwrap();
    if !st.page_of(&id).is_some_and(|p| st.visible(&p)) {
        return Err(not_found(&id));
    }
    st.block_json(&id).map(Json).ok_or_else(|| not_found(&id))
}

async fn database(
    State(n): State<Notion>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Fail> {
    let id = normalize(&raw).ok_or_else(|| not_found(&raw))?;
    n.admit(&headers, format!("GET /v1/databases/{id}"))?;
    let st = n.state.lock().unwrap();
    st.database_json(&id).map(Json).ok_or_else(|| {
        fail(
            StatusCode::NOT_FOUND,
            "object_not_found",
            &format!("Could not find database with ID: {id}. Make sure the relevant pages and databases are shared with your integration."),
        )
    })
}
