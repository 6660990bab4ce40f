//! Notion: the pages shared with an internal integration, as sections under heading paths.
//!
//! Listing is `POST /v1/search` (pages only, newest edit first); content is
//! `GET /v1/blocks/{id}/children`, recursively. Notion has no change feed, so a sync lists
//! pages until it reaches the previous sync's newest `last_edited_time` (less a margin, as
//! Notion rounds edit times to the minute) and deletions are found by listing ids
//! ([`Connector::list_ids`]): archived, trashed and unshared pages leave search.

use super::http::{Auth, ConnectorEnv, Remote};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use tokio::sync::Mutex;
use twig_core::connector::{
    ChangePage, ConnectionReport, Connector, ConnectorError, Item, ItemContent,
};
use twig_core::datasource::DataSource;
use twig_core::retrieval::SectionInput;
use twig_core::time::Timestamp;

/// The API version this connector reads (block and page shapes depend on it).
const NOTION_VERSION: &str = "2022-06-28";
const DEFAULT_BASE: &str = "https://api.notion.com";
/// Pages per change page: each needs its block tree fetched (Notion allows ~3 requests/s),
/// so smaller pages commit progress more often than Notion's maximum of 100 would.
const CHANGE_PAGE_SIZE: u32 = 25;
/// Id-only listings (tests, pruning, scope) use Notion's maximum.
const LIST_PAGE_SIZE: u32 = 100;
/// Edit times are rounded to the minute, and an edit during a sync may carry the same minute
/// as pages already read: re-list that much before the last high-water mark. Re-listed pages
/// whose text did not change cost their block fetches, not an embedding.
const MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// Deeper nesting than this is not read (it would be a runaway, not a document).
const MAX_DEPTH: usize = 16;

/// Reads a `notion` data source.
pub struct NotionConnector {
    remote: Remote,
    /// `root_page_ids`, as dashed lowercase UUIDs; empty: every shared page.
    roots: HashSet<String>,
    /// Page id -> parent, from the last full listing; only needed with `roots`.
    tree: Mutex<Option<HashMap<String, ParentRef>>>,
    /// Block or database id -> what holds it (parents of pages nested in blocks or databases).
    holder_parents: Mutex<HashMap<String, ParentRef>>,
}

/// Where a page or block hangs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ParentRef {
    Workspace,
    Page(String),
    Block(String),
    Database(String),
}

impl ParentRef {
    fn from_json(v: &Value) -> ParentRef {
        let id = |k: &str| v[k].as_str().map(normalize_id).unwrap_or_default();
        match v["type"].as_str() {
            Some("page_id") => ParentRef::Page(id("page_id")),
            Some("block_id") => ParentRef::Block(id("block_id")),
            Some("database_id") => ParentRef::Database(id("database_id")),
            _ => ParentRef::Workspace,
        }
    }
}

#[derive(Debug, Deserialize)]
struct List<T> {
    results: Vec<T>,
    next_cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct PageObj {
    id: String,
    #[serde(default)]
    url: Option<String>,
    last_edited_time: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    in_trash: bool,
    #[serde(default)]
    parent: Value,
    #[serde(default)]
    properties: Map<String, Value>,
}

/// Where a sync stands: `since` bounds the listing, `start` resumes it mid-way, `high` is the
/// newest edit seen so far in this sync (the next sync's `since`, less [`MARGIN`]).
#[derive(Debug, Default, Clone, PartialEq)]
struct Cursor {
    since: Option<Timestamp>,
    start: Option<String>,
    high: Option<Timestamp>,
}

impl Cursor {
    fn from_json(v: Option<&Value>) -> Cursor {
        let Some(v) = v else {
            return Cursor::default();
        };
        let t = |k: &str| v[k].as_str().and_then(parse_time);
        Cursor {
            since: t("since"),
            start: v["start"].as_str().map(str::to_owned),
            high: t("high"),
        }
    }

    fn to_json(&self) -> Value {
        let t = |t: &Option<Timestamp>| t.map(|t| t.to_rfc3339());
        json!({"since": t(&self.since), "start": self.start, "high": t(&self.high)})
    }
}

fn parse_time(s: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Notion ids are UUIDs, written with or without dashes; compared dashed and lowercase.
fn normalize_id(id: &str) -> String {
    let hex: String = id
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() != 32 {
        return id.to_ascii_lowercase();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl NotionConnector {
    /// The connector for `ds` (config already validated: `token`, `root_page_ids`, `base_url`).
    pub fn open(ds: &DataSource, env: &ConnectorEnv) -> Result<Self, ConnectorError> {
        let token = ds
            .config
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConnectorError::Config {
                field: Some("config.token".into()),
                message: "config.token is required: the integration's secret".into(),
            })?;
        let base = ds
            .config
            .get("base_url")
            .and_then(Value::as_str)
            .filter(|b| !b.is_empty())
            .unwrap_or(DEFAULT_BASE);
        let roots = ds
            .config
            .get("root_page_ids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(normalize_id)
                    .collect()
            })
            .unwrap_or_default();
        let remote = Remote::new(
            "Notion",
            base,
            Auth::Bearer(token.to_owned()),
            "config.token",
            env,
        )?
        .with_header("notion-version", NOTION_VERSION);
        Ok(Self {
            remote,
            roots,
            tree: Mutex::new(None),
            holder_parents: Mutex::new(HashMap::new()),
        })
    }

    async fn search(
        &self,
        start: Option<&str>,
        page_size: u32,
    ) -> Result<List<PageObj>, ConnectorError> {
        let mut body = json!({
            "filter": {"property": "object", "value": "page"},
            "sort": {"timestamp": "last_edited_time", "direction": "descending"},
            "page_size": page_size,
        });
        if let Some(s) = start {
            body["start_cursor"] = json!(s);
        }
        self.remote
            .post_json(self.remote.url("v1/search")?, &body)
            .await
    }

    /// Ids of the databases shared with the integration (they may be roots).
    async fn database_ids(&self) -> Result<HashSet<String>, ConnectorError> {
        let mut out = HashSet::new();
        let mut start: Option<String> = None;
        loop {
            let mut body = json!({
                "filter": {"property": "object", "value": "database"},
                "page_size": LIST_PAGE_SIZE,
            });
            if let Some(s) = &start {
                body["start_cursor"] = json!(s);
            }
            let list: List<Value> = self
                .remote
                .post_json(self.remote.url("v1/search")?, &body)
                .await?;
            out.extend(
                list.results
                    .iter()
                    .filter_map(|d| d["id"].as_str())
                    .map(normalize_id),
            );
            match list.next_cursor {
                Some(c) if list.has_more => start = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// Every visible page (archived and trashed ones left out), with its parent.
    async fn list_all(&self) -> Result<Vec<(String, ParentRef)>, ConnectorError> {
        let mut out = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let list = self.search(start.as_deref(), LIST_PAGE_SIZE).await?;
            for p in list.results {
                if !(p.archived || p.in_trash) {
                    out.push((normalize_id(&p.id), ParentRef::from_json(&p.parent)));
                }
            }
            match list.next_cursor {
                Some(c) if list.has_more => start = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The visible pages within `root_page_ids` (all of them without roots).
    async fn scoped_ids(&self) -> Result<Vec<String>, ConnectorError> {
        let all = self.list_all().await?;
        let tree: HashMap<String, ParentRef> = all.iter().cloned().collect();
        *self.tree.lock().await = Some(tree);
        let mut ids = Vec::new();
        for (id, parent) in all {
            if self.in_scope(&id, &parent).await? {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Whether a page is a root or below one.
    ///
    /// Decided by walking parent chains (page -> parent page, block or database -> its holder) over the
    /// search listing, not by traversing `child_page` blocks from the roots: the listing is
    /// one request per 100 pages, so an incremental sync stays incremental and a page moved
    /// out from under a root drops out, where a traversal would read every block of every
    /// page below the roots on every sync.
    async fn in_scope(&self, id: &str, parent: &ParentRef) -> Result<bool, ConnectorError> {
        if self.roots.is_empty() || self.roots.contains(id) {
            return Ok(true);
        }
        if self.tree.lock().await.is_none() {
            let all = self.list_all().await?;
            *self.tree.lock().await = Some(all.into_iter().collect());
        }
        let mut seen = HashSet::from([id.to_owned()]);
        let mut cur = parent.clone();
        loop {
            let next_id = match &cur {
                ParentRef::Workspace => return Ok(false),
                ParentRef::Page(p) | ParentRef::Database(p) | ParentRef::Block(p) => p.clone(),
            };
            if self.roots.contains(&next_id) {
                return Ok(true);
            }
            if !seen.insert(next_id.clone()) {
                return Ok(false);
            }
            cur = match cur {
                ParentRef::Page(p) => match self.tree.lock().await.as_ref().and_then(|t| t.get(&p))
                {
                    Some(up) => up.clone(),
                    // An ancestor the integration cannot see: not under a shared root.
                    None => return Ok(false),
                },
                ParentRef::Block(b) => self.holder_parent("blocks", &b).await?,
                ParentRef::Database(d) => self.holder_parent("databases", &d).await?,
                ParentRef::Workspace => return Ok(false),
            };
        }
    }

    /// Where a block or database (`kind`: `blocks`, `databases`) hangs; the workspace when
    /// it cannot be seen.
    async fn holder_parent(&self, kind: &str, id: &str) -> Result<ParentRef, ConnectorError> {
        if let Some(p) = self.holder_parents.lock().await.get(id) {
            return Ok(p.clone());
        }
        let url = self.remote.url(&format!("v1/{kind}/{id}"))?;
        let parent = match self.remote.get_json_opt::<Value>(url).await? {
            Some(b) => ParentRef::from_json(&b["parent"]),
            None => ParentRef::Workspace,
        };
        self.holder_parents
            .lock()
            .await
            .insert(id.to_owned(), parent.clone());
        Ok(parent)
    }

    /// A block's children, recursively; `None` when the block is gone or no longer shared.
    async fn children(&self, id: &str, depth: usize) -> Result<Option<Vec<Node>>, ConnectorError> {
        let mut out = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let mut url = self.remote.url(&format!("v1/blocks/{id}/children"))?;
            url.query_pairs_mut()
                .append_pair("page_size", &LIST_PAGE_SIZE.to_string());
            if let Some(s) = &start {
                url.query_pairs_mut().append_pair("start_cursor", s);
            }
            let Some(list) = self.remote.get_json_opt::<List<Value>>(url).await? else {
                return Ok(None);
            };
            for b in list.results {
                let kind = b["type"].as_str().unwrap_or_default();
                // Subpages and databases are documents of their own.
                let nested = b["has_children"].as_bool().unwrap_or(false)
                    && !matches!(kind, "child_page" | "child_database")
                    && depth < MAX_DEPTH;
                let kids = match (nested, b["id"].as_str()) {
                    (true, Some(bid)) => Box::pin(self.children(bid, depth + 1))
                        .await?
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                out.push(Node {
                    block: b,
                    children: kids,
                });
            }
            match list.next_cursor {
                Some(c) if list.has_more => start = Some(c),
                _ => break,
            }
        }
        Ok(Some(out))
    }

    /// The page as an item; `None` when it vanished between listing and reading.
    async fn item(&self, p: PageObj) -> Result<Option<Item>, ConnectorError> {
        let id = normalize_id(&p.id);
        let Some(blocks) = self.children(&id, 0).await? else {
            return Ok(None);
        };
        let title = page_title(&p.properties);
        let shown = if title.trim().is_empty() {
            "Untitled".to_owned()
        } else {
            title.clone()
        };
        let parent = ParentRef::from_json(&p.parent);
        let mut metadata = Map::new();
        metadata.insert("source".into(), json!("notion"));
        metadata.insert("page_id".into(), json!(id));
        let (ptype, pid) = match &parent {
            ParentRef::Workspace => ("workspace", None),
            ParentRef::Page(x) => ("page", Some(x)),
            ParentRef::Block(x) => ("block", Some(x)),
            ParentRef::Database(x) => ("database", Some(x)),
        };
        metadata.insert("parent_type".into(), json!(ptype));
        if let Some(pid) = pid {
            metadata.insert("parent_id".into(), json!(pid));
        }
        metadata.insert("last_edited_time".into(), json!(p.last_edited_time));
        if let Some(u) = &p.url {
            metadata.insert("url".into(), json!(u));
        }
        Ok(Some(Item {
            external_id: id,
            title: shown.clone(),
            url: p.url.clone(),
            updated_at: parse_time(&p.last_edited_time),
            metadata,
            content: ItemContent::Sections(render(&shown, &blocks)),
        }))
    }
}

#[async_trait]
impl Connector for NotionConnector {
    async fn test(&self) -> Result<ConnectionReport, ConnectorError> {
        let ids = self.scoped_ids().await?;
        let n = ids.len() as u64;
        // A root the integration cannot see would sync nothing from it, silently.
        let listed: HashSet<&String> = ids.iter().collect();
        let mut missing: Vec<&String> = self.roots.iter().filter(|r| !listed.contains(r)).collect();
        if !missing.is_empty() {
            let dbs = self.database_ids().await?;
            missing.retain(|r| !dbs.contains(*r));
        }
        if !missing.is_empty() {
            missing.sort();
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Err(ConnectorError::Config {
                field: Some("config.root_page_ids".into()),
                message: format!(
                    "config.root_page_ids: {} not shared with the integration (in Notion: the page's ••• menu, Connections)",
                    list.join(", ")
                ),
            });
        }
        Ok(ConnectionReport {
            items_found: n,
            message: format!("Connection successful, found {n} pages"),
        })
    }

    async fn changes(&self, cursor: Option<&Value>) -> Result<ChangePage, ConnectorError> {
        let mut c = Cursor::from_json(cursor);
        let list = match self.search(c.start.as_deref(), CHANGE_PAGE_SIZE).await {
            // A saved cursor can go stale (Notion's cursors name a page, which may since have
            // been archived or unshared): list again from the top, still bounded by `since`.
            Err(e)
                if e.is_permanent()
                    && c.start.is_some()
                    && !matches!(e, ConnectorError::Auth { .. }) =>
            {
                tracing::info!(error = %e, "Notion refused the saved cursor; listing from the top");
                c.start = None;
                self.search(None, CHANGE_PAGE_SIZE).await?
            }
            r => r?,
        };
        let mut page = ChangePage::default();
        let mut reached = false;
        for p in list.results {
            let Some(edited) = parse_time(&p.last_edited_time) else {
                return Err(ConnectorError::Permanent(format!(
                    "Notion sent page {} with a bad last_edited_time {:?}",
                    p.id, p.last_edited_time
                )));
            };
            if c.since.is_some_and(|s| edited < s) {
                reached = true;
                break;
            }
            c.high = Some(c.high.map_or(edited, |h| h.max(edited)));
            let id = normalize_id(&p.id);
            if p.archived || p.in_trash {
                page.deleted.push(id);
                continue;
            }
            if !self.in_scope(&id, &ParentRef::from_json(&p.parent)).await? {
                // Possibly moved out from under a root since the last sync.
                page.deleted.push(id);
                continue;
            }
            match self.item(p).await? {
                Some(item) => page.items.push(item),
                None => page.deleted.push(id),
            }
        }
        page.done = reached || !list.has_more || list.next_cursor.is_none();
        c = if page.done {
            Cursor {
                since: c.high.map(|h| h - MARGIN).or(c.since),
                start: None,
                high: None,
            }
        } else {
            Cursor {
                start: list.next_cursor,
                ..c
            }
        };
        page.cursor = c.to_json();
        Ok(page)
    }

    async fn list_ids(&self) -> Result<Option<Vec<String>>, ConnectorError> {
        self.scoped_ids().await.map(Some)
    }
}

/// A block with its children.
#[derive(Debug, Clone)]
struct Node {
    block: Value,
    children: Vec<Node>,
}

/// Concatenated `plain_text` of a rich text array.
fn plain(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().filter_map(|t| t["plain_text"].as_str()).collect())
        .unwrap_or_default()
}

/// The title property (named "title" on pages, anything in databases, typed `title`).
fn page_title(props: &Map<String, Value>) -> String {
    props
        .values()
        .find(|p| p["type"] == "title")
        .map(|p| plain(&p["title"]))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Splits a page's blocks into sections under `[title, heading_1, heading_2, heading_3]`.
fn render(title: &str, blocks: &[Node]) -> Vec<SectionInput> {
    let mut sections = Vec::new();
    let mut headings: Vec<(u8, String)> = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, headings: &[(u8, String)], out: &mut Vec<SectionInput>| {
        let t = text.trim();
        if !t.is_empty() {
            let mut path = vec![title.to_owned()];
            path.extend(headings.iter().map(|(_, h)| h.clone()));
            out.push(SectionInput {
                heading_path: path,
                text: t.to_owned(),
                page: None,
            });
        }
        text.clear();
    };
    let mut number = 0u32;
    for node in blocks {
        let kind = node.block["type"].as_str().unwrap_or_default();
        let level = match kind {
            "heading_1" => Some(1),
            "heading_2" => Some(2),
            "heading_3" => Some(3),
            _ => None,
        };
        if let Some(level) = level {
            flush(&mut text, &headings, &mut sections);
            while headings.last().is_some_and(|(l, _)| *l >= level) {
                headings.pop();
            }
            let h = plain(&node.block[kind]["rich_text"]);
            headings.push((level, h.trim().to_owned()));
            // A toggleable heading holds its content as children.
            write_children(&node.children, 0, &mut text);
            number = 0;
            continue;
        }
        write_block(node, 0, &mut number, &mut text);
    }
    flush(&mut text, &headings, &mut sections);
    if sections.is_empty() {
        // A page with only a title (a container of subpages) is still found by its title.
        sections.push(SectionInput {
            heading_path: vec![title.to_owned()],
            text: title.to_owned(),
            page: None,
        });
    }
    sections
}

fn write_children(children: &[Node], indent: usize, out: &mut String) {
    let mut number = 0u32;
    for c in children {
        write_block(c, indent, &mut number, out);
    }
}

/// Appends one block as Markdown-like lines; `number` counts consecutive numbered items.
fn write_block(node: &Node, indent: usize, number: &mut u32, out: &mut String) {
    let b = &node.block;
    let kind = b["type"].as_str().unwrap_or_default();
    let data = &b[kind];
    let text = plain(&data["rich_text"]);
    let pad = " ".repeat(indent);
    let line = |s: &str, out: &mut String| {
        for l in s.lines() {
            out.push_str(&pad);
            out.push_str(l);
            out.push('\n');
        }
    };
    if kind != "numbered_list_item" {
        *number = 0;
    }
    let mut child_indent = indent;
    match kind {
        "paragraph" | "heading_1" | "heading_2" | "heading_3" => {
            if !text.trim().is_empty() {
                line(&text, out);
                out.push('\n');
            }
        }
        "bulleted_list_item" => {
            line(&format!("- {text}"), out);
            child_indent += 2;
        }
        "numbered_list_item" => {
            *number += 1;
            line(&format!("{number}. {text}"), out);
            child_indent += 3;
        }
        "to_do" => {
            let mark = if data["checked"].as_bool() == Some(true) {
                "x"
            } else {
                " "
            };
            line(&format!("- [{mark}] {text}"), out);
            child_indent += 2;
        }
        "toggle" => {
            line(&text, out);
            child_indent += 2;
        }
        "quote" => line(&format!("> {text}"), out),
        "callout" => {
            let icon = data["icon"]["emoji"].as_str().unwrap_or("");
            line(format!("{icon} {text}").trim(), out);
        }
        "code" => {
            let lang = data["language"].as_str().unwrap_or("");
            out.push_str(&format!("{pad}```{lang}\n"));
            line(&text, out);
            out.push_str(&format!("{pad}```\n\n"));
        }
        "table" => {
            let header = data["has_column_header"].as_bool().unwrap_or(false);
            for (i, row) in node.children.iter().enumerate() {
                let cells: Vec<String> = row.block["table_row"]["cells"]
                    .as_array()
                    .map(|c| c.iter().map(|c| plain(c).replace('|', "\\|")).collect())
                    .unwrap_or_default();
                line(&format!("| {} |", cells.join(" | ")), out);
                if i == 0 && header {
                    let rule = vec!["---"; cells.len()].join(" | ");
                    line(&format!("| {rule} |"), out);
                }
            }
            out.push('\n');
            return; // the rows were its children
        }
        // A link to the subpage, which is its own document.
        "child_page" | "child_database" => line(data["title"].as_str().unwrap_or(""), out),
        "divider" => line("---", out),
        "equation" => line(data["expression"].as_str().unwrap_or(""), out),
        // Media and links: their caption is the only text.
        _ => {
            let caption = plain(&data["caption"]);
            if !text.is_empty() {
                line(&text, out);
            } else if !caption.is_empty() {
                line(&caption, out);
            }
        }
    }
    write_children(&node.children, child_indent, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &str, text: &str, children: Vec<Node>) -> Node {
        let mut b = json!({"type": kind, "has_children": !children.is_empty()});
        b[kind] = json!({"rich_text": [{"plain_text": text}]});
        Node { block: b, children }
    }

    #[test]
    fn headings_split_sections_and_lists_nest() {
        let blocks = vec![
            node("paragraph", "Intro.", vec![]),
            node("heading_1", "Setup", vec![]),
            node(
                "numbered_list_item",
                "Install",
                vec![node("bulleted_list_item", "cargo", vec![])],
            ),
            node("numbered_list_item", "Run", vec![]),
            node("heading_2", "Config", vec![]),
            node("quote", "Be careful", vec![]),
            node("heading_1", "Usage", vec![]),
            node(
                "toggle",
                "More",
                vec![node("paragraph", "Hidden detail", vec![])],
            ),
        ];
        let s = render("Guide", &blocks);
        let got: Vec<(Vec<String>, String)> =
            s.into_iter().map(|s| (s.heading_path, s.text)).collect();
        assert_eq!(
            got,
            vec![
                (vec!["Guide".into()], "Intro.".into()),
                (
                    vec!["Guide".into(), "Setup".into()],
                    "1. Install\n   - cargo\n2. Run".into()
                ),
                (
                    vec!["Guide".into(), "Setup".into(), "Config".into()],
                    "> Be careful".into()
                ),
                (
                    vec!["Guide".into(), "Usage".into()],
                    "More\n  Hidden detail".into()
                ),
            ]
        );
    }

    #[test]
    fn cursors_round_trip_and_ids_normalize() {
        let c = Cursor {
            since: parse_time("2024-01-02T03:04:00.000Z"),
            start: Some("abc".into()),
            high: None,
        };
        assert_eq!(Cursor::from_json(Some(&c.to_json())), c);
        assert_eq!(
            normalize_id("598337872CF94FDF8782E53DB20768A5"),
            "59833787-2cf9-4fdf-8782-e53db20768a5"
        );
    }
}
