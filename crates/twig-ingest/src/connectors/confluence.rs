//! Confluence Cloud: pages (storage format, ancestors as the heading path) and attachments.
//!
//! A first sync lists every page of each space through REST API v2 (cursor pagination by
//! `_links.next`). Later syncs ask CQL (`/rest/api/content/search`, v1: CQL has no v2 twin)
//! for pages and attachments modified since the previous sync started, written as
//! `lastmodified >= now("-<n>m")` because CQL reads absolute dates in the account's time zone,
//! which a token cannot tell us. Confluence has no deletion feed: the sync driver prunes with
//! [`Connector::list_ids`].

use super::http::{Auth, ConnectorEnv, Remote};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ego_tree::NodeRef;
use scraper::{Html, Node};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use twig_core::connector::{
    ChangePage, ConnectionReport, Connector, ConnectorError, Item, ItemContent,
};
use twig_core::datasource::DataSource;
use twig_core::retrieval::SectionInput;
use url::Url;

/// Pages per v2 listing request (bodies included, so below the API's 250).
const PAGE_LIMIT: usize = 50;
/// Results per CQL request.
const CQL_LIMIT: usize = 50;
/// Extra minutes asked of CQL, for clock skew between us and Confluence.
const CQL_MARGIN_MINUTES: i64 = 10;

/// Where a sync is; saved by the driver after each committed page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum Cursor {
    /// Listing every page, space by space (spaces in id order).
    Full {
        started: DateTime<Utc>,
        space_id: String,
        next: Option<String>,
    },
    /// Asking CQL for what changed since `since`.
    Incremental {
        started: DateTime<Utc>,
        since: DateTime<Utc>,
        next: Option<String>,
    },
    /// Between syncs: the next one asks for changes since `since`.
    Done { since: DateTime<Utc> },
}

#[derive(Debug, Clone)]
struct SpaceInfo {
    id: String,
    key: String,
    name: String,
}

/// The Confluence connector.
pub(crate) struct Confluence {
    remote: Remote,
    /// Path of the base URL (`/wiki`), which v2's site-relative links start with.
    base_path: String,
    space_keys: Vec<String>,
    include_attachments: bool,
    lookback: Option<chrono::Duration>,
    max_file_bytes: u64,
    spaces: tokio::sync::OnceCell<Vec<SpaceInfo>>,
    /// Page id -> (title, parent id), so ancestors cost one lookup per sync.
    pages: tokio::sync::Mutex<HashMap<String, (String, Option<String>)>>,
}

fn config_error(field: &str, message: String) -> ConnectorError {
    ConnectorError::Config {
        field: Some(field.into()),
        message,
    }
}

/// Opens a Confluence connector from a validated config.
pub(crate) fn open(
    ds: &DataSource,
    env: &ConnectorEnv,
) -> Result<Box<dyn Connector>, ConnectorError> {
    let c = &ds.config;
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let base = match (s("base_url"), s("domain")) {
        (Some(b), _) => b,
        (None, Some(d)) => format!("https://{d}/wiki"),
        (None, None) => {
            return Err(config_error(
                "config.domain",
                "config.domain is missing (e.g. acme.atlassian.net)".into(),
            ))
        }
    };
    let email =
        s("email").ok_or_else(|| config_error("config.email", "config.email is missing".into()))?;
    let token = s("api_token")
        .ok_or_else(|| config_error("config.api_token", "config.api_token is missing".into()))?;
    let mut space_keys: Vec<String> = s("space_key").into_iter().collect();
    for k in c
        .get("space_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(k) = k.as_str().filter(|k| !space_keys.iter().any(|x| x == k)) {
            space_keys.push(k.to_owned());
        }
    }
    let remote = Remote::new(
        "Confluence",
        &base,
        Auth::Basic {
            user: email,
            password: token,
        },
        "config.api_token",
        env,
    )?;
    let base_path = Url::parse(&base)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    Ok(Box::new(Confluence {
        remote,
        base_path,
        space_keys,
        include_attachments: c
            .get("include_attachments")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        lookback: c
            .get("lookback_days")
            .and_then(Value::as_i64)
            .map(chrono::Duration::days),
        max_file_bytes: env.max_file_bytes,
        spaces: tokio::sync::OnceCell::new(),
        pages: tokio::sync::Mutex::new(HashMap::new()),
    }))
}

#[async_trait]
impl Connector for Confluence {
    async fn test(&self) -> Result<ConnectionReport, ConnectorError> {
        // Resolving the spaces first makes a named space the account cannot see the answer.
        self.spaces().await?;
        let pages = self.list("page").await?.len() as u64;
        Ok(ConnectionReport {
            items_found: pages,
            message: format!("Connection successful, found {pages} pages"),
        })
    }

    async fn changes(&self, cursor: Option<&Value>) -> Result<ChangePage, ConnectorError> {
        let cursor = match cursor {
            None => None,
            Some(v) => Some(serde_json::from_value::<Cursor>(v.clone()).map_err(|e| {
                ConnectorError::Permanent(format!("the saved Confluence cursor is unreadable: {e}"))
            })?),
        };
        match cursor {
            None => {
                let started = Utc::now();
                match self.spaces().await?.first() {
                    None => Ok(done(started, Vec::new())),
                    Some(first) => self.full_page(started, first.id.clone(), None).await,
                }
            }
            Some(Cursor::Full {
                started,
                space_id,
                next,
            }) => self.full_page(started, space_id, next).await,
            Some(Cursor::Done { since }) => self.incremental(Utc::now(), since, None).await,
            Some(Cursor::Incremental {
                started,
                since,
                next,
            }) => self.incremental(started, since, next).await,
        }
    }

    async fn list_ids(&self) -> Result<Option<Vec<String>>, ConnectorError> {
        let kinds = if self.include_attachments {
            "page,attachment"
        } else {
            "page"
        };
        Ok(Some(self.list(kinds).await?))
    }
}

fn done(since: DateTime<Utc>, items: Vec<Item>) -> ChangePage {
    ChangePage {
        items,
        deleted: Vec::new(),
        cursor: json!(Cursor::Done { since }),
        done: true,
        total: None,
    }
}

#[derive(Deserialize)]
struct Listing<T> {
    results: Vec<T>,
    #[serde(default, rename = "_links")]
    links: Links,
}

#[derive(Deserialize, Default)]
struct Links {
    next: Option<String>,
}

#[derive(Deserialize)]
struct V2Space {
    id: String,
    key: String,
    name: String,
}

#[derive(Deserialize)]
struct V2Page {
    id: String,
    title: String,
    #[serde(rename = "parentId")]
    parent_id: Option<String>,
    #[serde(rename = "authorId")]
    author_id: Option<String>,
    version: Option<V2Version>,
    body: Option<Body>,
    labels: Option<Listing<Label>>,
    #[serde(default, rename = "_links")]
    links: PageLinks,
}

#[derive(Deserialize)]
struct V2Version {
    number: Option<u64>,
    #[serde(rename = "createdAt")]
    created_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
struct PageLinks {
    webui: Option<String>,
    download: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    storage: Option<Storage>,
}

#[derive(Deserialize)]
struct Storage {
    value: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct V2Attachment {
    id: String,
    title: String,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(rename = "fileSize")]
    file_size: Option<u64>,
    #[serde(rename = "downloadLink")]
    download_link: Option<String>,
    #[serde(rename = "webuiLink")]
    webui_link: Option<String>,
    version: Option<V2Version>,
}

/// A v1 content-search result: a page or an attachment.
#[derive(Deserialize)]
struct V1Content {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    title: String,
    space: Option<V1Space>,
    version: Option<V1Version>,
    #[serde(default)]
    ancestors: Vec<V1Ancestor>,
    body: Option<Body>,
    metadata: Option<V1Metadata>,
    container: Option<V1Ancestor>,
    extensions: Option<V1Extensions>,
    #[serde(default, rename = "_links")]
    links: PageLinks,
}

#[derive(Deserialize)]
struct V1Space {
    key: String,
    name: String,
}

#[derive(Deserialize)]
struct V1Version {
    number: Option<u64>,
    when: Option<DateTime<Utc>>,
    by: Option<V1User>,
}

#[derive(Deserialize)]
struct V1User {
    #[serde(rename = "displayName")]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct V1Ancestor {
    id: String,
    title: Option<String>,
}

#[derive(Deserialize)]
struct V1Metadata {
    labels: Option<Listing<Label>>,
}

#[derive(Deserialize)]
struct V1Extensions {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(rename = "fileSize")]
    file_size: Option<u64>,
}

/// The page fields every item is built from, whichever API they came from.
struct PageFacts {
    id: String,
    title: String,
    storage: String,
    space: Option<(String, String)>,
    ancestors: Vec<String>,
    labels: Vec<String>,
    author: Option<String>,
    version: Option<u64>,
    updated: Option<DateTime<Utc>>,
    webui: Option<String>,
}

impl Confluence {
    /// A link from an answer: v2's start with the base path (`/wiki/...`), v1's do not.
    fn resolve(&self, link: &str) -> Result<Url, ConnectorError> {
        if link.starts_with("http://") || link.starts_with("https://") {
            return self.remote.url(link);
        }
        let rel = match link.strip_prefix(&self.base_path) {
            Some(rest) if !self.base_path.is_empty() && rest.starts_with('/') => rest,
            _ => link,
        };
        self.remote.url(rel)
    }

    /// Where a reader opens a page (`_links.base` + `webui`).
    fn web_url(&self, webui: Option<&str>) -> Option<String> {
        let webui = webui?;
        self.resolve(webui).ok().map(String::from)
    }

    /// The spaces to sync, in id order; named spaces that are not visible are a config error.
    async fn spaces(&self) -> Result<&Vec<SpaceInfo>, ConnectorError> {
        self.spaces
            .get_or_try_init(|| async {
                let mut url = self.remote.url("api/v2/spaces")?;
                url.query_pairs_mut().append_pair("limit", "250");
                if !self.space_keys.is_empty() {
                    url.query_pairs_mut()
                        .append_pair("keys", &self.space_keys.join(","));
                }
                let mut out = Vec::new();
                let mut next = Some(url);
                while let Some(u) = next.take() {
                    let l: Listing<V2Space> = self.remote.get_json(u).await?;
                    out.extend(l.results.into_iter().map(|s| SpaceInfo {
                        id: s.id,
                        key: s.key,
                        name: s.name,
                    }));
                    if let Some(n) = l.links.next {
                        next = Some(self.resolve(&n)?);
                    }
                }
                if let Some(missing) = self
                    .space_keys
                    .iter()
                    .find(|k| !out.iter().any(|s| &s.key == *k))
                {
                    return Err(config_error(
                        "config.space_key",
                        format!(
                            "Confluence has no space {missing:?} visible to this account; check config.space_key"
                        ),
                    ));
                }
                out.sort_by_key(|s| (s.id.parse::<u64>().unwrap_or(u64::MAX), s.id.clone()));
                Ok(out)
            })
            .await
    }

    /// `space in ("A","B")` for CQL, or nothing when every space is synced.
    async fn cql_spaces(&self) -> Result<String, ConnectorError> {
        if self.space_keys.is_empty() {
            return Ok(String::new());
        }
        let keys: Vec<String> = self
            .spaces()
            .await?
            .iter()
            .map(|s| format!("\"{}\"", s.key))
            .collect();
        Ok(format!(" AND space in ({})", keys.join(",")))
    }

    /// Ids of every page (and attachment) visible now, through CQL without bodies.
    async fn list(&self, kinds: &str) -> Result<Vec<String>, ConnectorError> {
        let cql = format!("type in ({kinds}){}", self.cql_spaces().await?);
        let mut url = self.remote.url("rest/api/content/search")?;
        url.query_pairs_mut()
            .append_pair("cql", &cql)
            .append_pair("limit", "100");
        let mut ids = Vec::new();
        let mut next = Some(url);
        while let Some(u) = next.take() {
            let l: Listing<V1Ancestor> = self.remote.get_json(u).await?;
            ids.extend(l.results.into_iter().map(|r| r.id));
            if let Some(n) = l.links.next {
                next = Some(self.resolve(&n)?);
            }
        }
        Ok(ids)
    }

    /// One v2 listing page of a space's pages.
    async fn full_page(
        &self,
        started: DateTime<Utc>,
        space_id: String,
        next: Option<String>,
    ) -> Result<ChangePage, ConnectorError> {
        let spaces = self.spaces().await?;
        let url = match &next {
            Some(n) => self.resolve(n)?,
            None => {
                let mut u = self
                    .remote
                    .url(&format!("api/v2/spaces/{space_id}/pages"))?;
                u.query_pairs_mut()
                    .append_pair("limit", &PAGE_LIMIT.to_string())
                    .append_pair("body-format", "storage")
                    .append_pair("include-labels", "true")
                    .append_pair("status", "current");
                u
            }
        };
        let listing: Option<Listing<V2Page>> = self.remote.get_json_opt(url).await?;
        // A space deleted mid-sync lists nothing more.
        let listing = listing.unwrap_or(Listing {
            results: Vec::new(),
            links: Links::default(),
        });
        let space = spaces
            .iter()
            .find(|s| s.id == space_id)
            .map(|s| (s.key.clone(), s.name.clone()));
        let cutoff = self.lookback.map(|d| Utc::now() - d);
        let mut items = Vec::new();
        {
            let mut known = self.pages.lock().await;
            for p in &listing.results {
                known.insert(p.id.clone(), (p.title.clone(), p.parent_id.clone()));
            }
        }
        for p in listing.results {
            let updated = p.version.as_ref().and_then(|v| v.created_at);
            if cutoff.is_some_and(|c| updated.is_some_and(|u| u < c)) {
                continue;
            }
            let ancestors = self.ancestors(p.parent_id.clone()).await?;
            let facts = PageFacts {
                id: p.id.clone(),
                title: p.title,
                storage: p
                    .body
                    .and_then(|b| b.storage)
                    .map(|s| s.value)
                    .unwrap_or_default(),
                space: space.clone(),
                ancestors,
                labels: p
                    .labels
                    .map(|l| l.results.into_iter().map(|l| l.name).collect())
                    .unwrap_or_default(),
                author: p.author_id,
                version: p.version.as_ref().and_then(|v| v.number),
                updated,
                webui: p.links.webui,
            };
            let breadcrumb = self.breadcrumb(&facts);
            items.push(self.page_item(facts));
            if self.include_attachments {
                items.extend(self.attachments_of(&p.id, &breadcrumb).await?);
            }
        }
        let cursor = match listing.links.next {
            Some(n) => Cursor::Full {
                started,
                space_id,
                next: Some(n),
            },
            None => {
                let after = |s: &SpaceInfo| {
                    let key = |id: &str| (id.parse::<u64>().unwrap_or(u64::MAX), id.to_owned());
                    key(&s.id) > key(&space_id)
                };
                match spaces.iter().find(|s| after(s)) {
                    Some(s) => Cursor::Full {
                        started,
                        space_id: s.id.clone(),
                        next: None,
                    },
                    None => return Ok(done(started, items)),
                }
            }
        };
        Ok(ChangePage {
            items,
            deleted: Vec::new(),
            cursor: json!(cursor),
            done: false,
            total: None,
        })
    }

    /// Titles from the top ancestor down to the parent.
    async fn ancestors(&self, mut parent: Option<String>) -> Result<Vec<String>, ConnectorError> {
        let mut out = Vec::new();
        let mut known = self.pages.lock().await;
        while let Some(id) = parent.take() {
            if out.len() > 100 {
                break; // a cycle in a broken tree
            }
            let (title, up) = match known.get(&id) {
                Some(k) => k.clone(),
                None => {
                    let url = self.remote.url(&format!("api/v2/pages/{id}"))?;
                    match self.remote.get_json_opt::<V2Page>(url).await? {
                        Some(p) => {
                            let k = (p.title, p.parent_id);
                            known.insert(id.clone(), k.clone());
                            k
                        }
                        None => break,
                    }
                }
            };
            out.push(title);
            parent = up;
        }
        out.reverse();
        Ok(out)
    }

    /// "Space › Ancestor › Page", the path answers cite.
    fn breadcrumb(&self, p: &PageFacts) -> Vec<String> {
        let mut path: Vec<String> = p.space.iter().map(|(_, name)| name.clone()).collect();
        path.extend(p.ancestors.iter().cloned());
        path.push(p.title.clone());
        path
    }

    fn page_item(&self, p: PageFacts) -> Item {
        let breadcrumb = self.breadcrumb(&p);
        let mut metadata = Map::new();
        metadata.insert("source".into(), json!("confluence"));
        metadata.insert("kind".into(), json!("page"));
        if let Some((key, name)) = &p.space {
            metadata.insert("space_key".into(), json!(key));
            metadata.insert("space_name".into(), json!(name));
        }
        metadata.insert("ancestors".into(), json!(p.ancestors));
        metadata.insert("breadcrumb".into(), json!(breadcrumb));
        metadata.insert("labels".into(), json!(p.labels));
        if let Some(a) = &p.author {
            metadata.insert("author".into(), json!(a));
        }
        if let Some(v) = p.version {
            metadata.insert("version".into(), json!(v));
        }
        let mut prefix = p.ancestors.clone();
        prefix.push(p.title.clone());
        let sections = storage_to_sections(&p.storage, &prefix);
        Item {
            external_id: p.id,
            title: p.title,
            url: self.web_url(p.webui.as_deref()),
            updated_at: p.updated,
            metadata,
            content: ItemContent::Sections(sections),
        }
    }

    /// A page's attachments the parsers can read, as file items.
    async fn attachments_of(
        &self,
        page_id: &str,
        breadcrumb: &[String],
    ) -> Result<Vec<Item>, ConnectorError> {
        let mut url = self
            .remote
            .url(&format!("api/v2/pages/{page_id}/attachments"))?;
        url.query_pairs_mut().append_pair("limit", "250");
        let mut out = Vec::new();
        let mut next = Some(url);
        while let Some(u) = next.take() {
            let Some(l) = self.remote.get_json_opt::<Listing<V2Attachment>>(u).await? else {
                break; // the page went away mid-sync
            };
            for a in l.results {
                let Some(download) = a.download_link else {
                    continue;
                };
                let updated = a.version.as_ref().and_then(|v| v.created_at);
                if let Some(item) = self
                    .attachment_item(
                        a.id,
                        a.title,
                        a.media_type,
                        a.file_size,
                        &download,
                        a.webui_link.as_deref(),
                        updated,
                        page_id,
                        breadcrumb,
                    )
                    .await?
                {
                    out.push(item);
                }
            }
            if let Some(n) = l.links.next {
                next = Some(self.resolve(&n)?);
            }
        }
        Ok(out)
    }

    /// An attachment as an item; `None` for files no parser reads (images, videos).
    #[allow(clippy::too_many_arguments)]
    async fn attachment_item(
        &self,
        id: String,
        filename: String,
        media_type: Option<String>,
        size: Option<u64>,
        download: &str,
        webui: Option<&str>,
        updated: Option<DateTime<Utc>>,
        page_id: &str,
        breadcrumb: &[String],
    ) -> Result<Option<Item>, ConnectorError> {
        let mt = media_type.as_deref().unwrap_or("");
        let readable = !["image/", "video/", "audio/"]
            .iter()
            .any(|p| mt.starts_with(p))
            && twig_parse::detect(&filename, media_type.as_deref(), &[]).is_some();
        if !readable {
            return Ok(None);
        }
        let mut metadata = Map::new();
        metadata.insert("source".into(), json!("confluence"));
        metadata.insert("kind".into(), json!("attachment"));
        metadata.insert("page_id".into(), json!(page_id));
        metadata.insert("breadcrumb".into(), json!(breadcrumb));
        let url = self.web_url(webui);
        let content = if size.is_some_and(|s| s > self.max_file_bytes) {
            ItemContent::Skipped(format!(
                "skipped: larger than ingest.max_file_bytes ({} bytes)",
                self.max_file_bytes
            ))
        } else {
            match self
                .remote
                .get_bytes(self.resolve(download)?, self.max_file_bytes)
                .await?
            {
                Ok(bytes) => ItemContent::File {
                    filename: filename.clone(),
                    content_type: media_type,
                    bytes,
                },
                Err(reason) if reason.starts_with("skipped") => ItemContent::Skipped(reason),
                Err(reason) => ItemContent::Failed(reason),
            }
        };
        Ok(Some(Item {
            external_id: id,
            title: filename,
            url,
            updated_at: updated,
            metadata,
            content,
        }))
    }

    /// One CQL page of pages and attachments changed since `since`.
    async fn incremental(
        &self,
        started: DateTime<Utc>,
        since: DateTime<Utc>,
        next: Option<String>,
    ) -> Result<ChangePage, ConnectorError> {
        let url = match &next {
            Some(n) => self.resolve(n)?,
            None => {
                let minutes = (Utc::now() - since).num_minutes().max(0) + CQL_MARGIN_MINUTES;
                let kinds = if self.include_attachments {
                    "page,attachment"
                } else {
                    "page"
                };
                let cql = format!(
                    "type in ({kinds}){} AND lastmodified >= now(\"-{minutes}m\")",
                    self.cql_spaces().await?
                );
                let mut u = self.remote.url("rest/api/content/search")?;
                u.query_pairs_mut()
                    .append_pair("cql", &cql)
                    .append_pair("limit", &CQL_LIMIT.to_string())
                    .append_pair(
                        "expand",
                        "body.storage,version,space,ancestors,metadata.labels,container",
                    );
                u
            }
        };
        let listing: Listing<V1Content> = self.remote.get_json(url).await?;
        let mut items = Vec::new();
        for c in listing.results {
            match c.kind.as_str() {
                "page" => {
                    let facts = PageFacts {
                        id: c.id,
                        title: c.title,
                        storage: c
                            .body
                            .and_then(|b| b.storage)
                            .map(|s| s.value)
                            .unwrap_or_default(),
                        space: c.space.map(|s| (s.key, s.name)),
                        ancestors: c.ancestors.into_iter().filter_map(|a| a.title).collect(),
                        labels: c
                            .metadata
                            .and_then(|m| m.labels)
                            .map(|l| l.results.into_iter().map(|l| l.name).collect())
                            .unwrap_or_default(),
                        author: c
                            .version
                            .as_ref()
                            .and_then(|v| v.by.as_ref())
                            .and_then(|b| b.display_name.clone()),
                        version: c.version.as_ref().and_then(|v| v.number),
                        updated: c.version.as_ref().and_then(|v| v.when),
                        webui: c.links.webui,
                    };
                    items.push(self.page_item(facts));
                }
                "attachment" => {
                    let Some(download) = c.links.download.clone() else {
                        continue;
                    };
                    let page = c.container.as_ref();
                    let page_id = page.map_or("", |p| p.id.as_str()).to_owned();
                    let breadcrumb: Vec<String> =
                        page.and_then(|p| p.title.clone()).into_iter().collect();
                    let ext = c.extensions.as_ref();
                    if let Some(item) = self
                        .attachment_item(
                            c.id,
                            c.title,
                            ext.and_then(|e| e.media_type.clone()),
                            ext.and_then(|e| e.file_size),
                            &download,
                            c.links.webui.as_deref(),
                            c.version.as_ref().and_then(|v| v.when),
                            &page_id,
                            &breadcrumb,
                        )
                        .await?
                    {
                        items.push(item);
                    }
                }
                _ => {}
            }
        }
        Ok(match listing.links.next {
            Some(n) => ChangePage {
                items,
                deleted: Vec::new(),
                cursor: json!(Cursor::Incremental {
                    started,
                    since,
                    next: Some(n),
                }),
                done: false,
                total: None,
            },
            None => done(started, items),
        })
    }
}

/// Storage format (XHTML with `ac:`/`ri:` macros) to sections under `prefix` + the page's headings.
pub(crate) fn storage_to_sections(storage: &str, prefix: &[String]) -> Vec<SectionInput> {
    let html = storage_to_html(storage);
    let page = twig_parse::parse_html(&format!("<html><body>{html}</body></html>"), None);
    page.sections
        .into_iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| SectionInput {
            heading_path: prefix.iter().cloned().chain(s.heading_path).collect(),
            text: s.text,
            page: None,
        })
        .collect()
}

/// Macros that only lay a page out or pull in other content: nothing of their own to index.
const LAYOUT_ONLY: &[&str] = &[
    "toc",
    "children",
    "pagetree",
    "anchor",
    "recently-updated",
    "contentbylabel",
    "content-by-label",
    "attachments",
    "jira",
    "include",
    "excerpt-include",
    "livesearch",
    "create-from-template",
    "space-details",
    "gallery",
    "widget",
    "roadmap",
];

/// Rewrites storage format into plain HTML the page parser reads.
///
/// Written by hand: no crate reads Confluence storage format, and the HTML parser needs two
/// fixes first (CDATA is a comment to it; `<ri:page/>` would swallow its siblings).
fn storage_to_html(storage: &str) -> String {
    let prepared = close_empty_macro_tags(&cdata_to_text(storage));
    let doc = Html::parse_fragment(&prepared);
    let mut out = String::with_capacity(storage.len());
    for child in doc.root_element().children() {
        render(child, &mut out);
    }
    out
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
}

/// `<![CDATA[x]]>` becomes escaped text.
fn cdata_to_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("<![CDATA[") {
        out.push_str(&rest[..i]);
        let body = &rest[i + 9..];
        let end = body.find("]]>").unwrap_or(body.len());
        escape(&body[..end], &mut out);
        rest = body.get(end + 3..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// `<ac:x .../>` and `<ri:x .../>` become `<ac:x ...></ac:x>`.
fn close_empty_macro_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 64);
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tag = &rest[i..];
        let is_macro = tag.starts_with("<ac:") || tag.starts_with("<ri:");
        let Some(end) = tag_end(tag).filter(|_| is_macro) else {
            out.push('<');
            rest = &tag[1..];
            continue;
        };
        let t = &tag[..=end];
        if let Some(open) = t.strip_suffix("/>") {
            let name: String = open[1..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            let _ = write!(out, "{}></{name}>", open.trim_end());
        } else {
            out.push_str(t);
        }
        rest = &tag[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Index of the `>` that ends the tag `s` starts with, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

fn attr<'a>(el: &'a scraper::node::Element, name: &str) -> Option<&'a str> {
    el.attrs().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn children(node: NodeRef<'_, Node>, out: &mut String) {
    for c in node.children() {
        render(c, out);
    }
}

/// Text of a node, for the bodies of code macros.
fn text_of(node: NodeRef<'_, Node>, out: &mut String) {
    for d in node.descendants() {
        if let Node::Text(t) = d.value() {
            escape(t, out);
        }
    }
}

fn render(node: NodeRef<'_, Node>, out: &mut String) {
    let el = match node.value() {
        Node::Text(t) => return escape(t, out),
        Node::Element(el) => el,
        _ => return,
    };
    let name = el.name();
    if let Some(mac) = name.strip_prefix("ac:") {
        return render_macro(mac, el, node, out);
    }
    if name.starts_with("ri:") {
        return; // references: their text lives in the enclosing ac:link
    }
    match name {
        "script" | "style" | "template" => {}
        "br" | "hr" => {
            let _ = write!(out, "<{name}>");
        }
        "img" => {}
        _ => {
            let span = |k: &str| attr(el, k).filter(|v| v.bytes().all(|b| b.is_ascii_digit()));
            let _ = write!(out, "<{name}");
            for k in ["colspan", "rowspan"] {
                if let Some(v) = span(k) {
                    let _ = write!(out, " {k}=\"{v}\"");
                }
            }
            out.push('>');
            children(node, out);
            let _ = write!(out, "</{name}>");
        }
    }
}

fn render_macro(mac: &str, el: &scraper::node::Element, node: NodeRef<'_, Node>, out: &mut String) {
    match mac {
        "structured-macro" | "macro" => {
            let kind = attr(el, "ac:name").unwrap_or("").to_ascii_lowercase();
            if LAYOUT_ONLY.contains(&kind.as_str()) {
                return;
            }
            let param = |want: &str| {
                node.children().find_map(|c| match c.value() {
                    Node::Element(e)
                        if e.name() == "ac:parameter" && attr(e, "ac:name") == Some(want) =>
                    {
                        let mut t = String::new();
                        text_of(c, &mut t);
                        Some(t)
                    }
                    _ => None,
                })
            };
            match kind.as_str() {
                "code" | "noformat" => {
                    out.push_str("<pre><code>");
                    for c in node.children() {
                        if matches!(c.value(), Node::Element(e) if e.name() == "ac:plain-text-body")
                        {
                            text_of(c, out);
                        }
                    }
                    out.push_str("</code></pre>");
                }
                "status" => {
                    if let Some(t) = param("title") {
                        let _ = write!(out, " [{t}] ");
                    }
                }
                _ => {
                    out.push_str("<div>");
                    if let Some(t) = param("title").filter(|t| !t.trim().is_empty()) {
                        let _ = write!(out, "<p><strong>{t}</strong></p>");
                    }
                    children(node, out);
                    out.push_str("</div>");
                }
            }
        }
        "parameter" | "image" | "emoticon" | "placeholder" | "task-id" | "task-status"
        | "task-uuid" => {}
        "plain-text-body" => {
            out.push_str("<pre>");
            text_of(node, out);
            out.push_str("</pre>");
        }
        "task-list" => {
            out.push_str("<ul>");
            children(node, out);
            out.push_str("</ul>");
        }
        "task" => {
            out.push_str("<li>");
            children(node, out);
            out.push_str("</li>");
        }
        "layout" | "layout-section" | "layout-cell" | "rich-text-body" => {
            out.push_str("<div>");
            children(node, out);
            out.push_str("</div>");
        }
        "link" => {
            let has_body = node.children().any(|c| {
                matches!(c.value(), Node::Element(e)
                    if e.name() == "ac:link-body" || e.name() == "ac:plain-text-link-body")
            });
            if has_body {
                children(node, out);
            } else if let Some(t) = node.children().find_map(|c| match c.value() {
                Node::Element(e) => attr(e, "ri:content-title").or(attr(e, "ri:filename")),
                _ => None,
            }) {
                escape(t, out);
            }
        }
        _ => children(node, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(storage: &str) -> Vec<(Vec<String>, String)> {
        storage_to_sections(storage, &["Root".into()])
            .into_iter()
            .map(|s| (s.heading_path, s.text))
            .collect()
    }

    #[test]
    fn headings_macros_and_tables_become_text() {
        let s = r#"<p>Intro with <ac:link><ri:page ri:content-title="Other"/><ac:link-body>a link</ac:link-body></ac:link> and <ac:emoticon ac:name="smile"/> more.</p>
<ac:structured-macro ac:name="toc"><ac:parameter ac:name="maxLevel">2</ac:parameter></ac:structured-macro>
<h1>Install</h1>
<ac:structured-macro ac:name="info"><ac:parameter ac:name="title">Heads up</ac:parameter><ac:rich-text-body><p>Back up first.</p></ac:rich-text-body></ac:structured-macro>
<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[cargo install twig --locked && echo "<done>"]]></ac:plain-text-body></ac:structured-macro>
<h2>Ports</h2>
<table><tbody><tr><th>Port</th><th>Use</th></tr><tr><td>8080</td><td>API</td></tr></tbody></table>
<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><p>Left cell</p></ac:layout-cell><ac:layout-cell><p>See <ac:link><ri:attachment ri:filename="guide.pdf"/></ac:link></p></ac:layout-cell></ac:layout-section></ac:layout>
<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Open the firewall</ac:task-body></ac:task></ac:task-list>"#;
        let secs = text(s);
        let all: String = secs
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("Intro with a link and more."), "{all}");
        assert!(
            !all.contains("maxLevel") && !all.contains("bash\n"),
            "{all}"
        );
        assert!(
            all.contains("Heads up") && all.contains("Back up first."),
            "{all}"
        );
        assert!(
            all.contains(r#"cargo install twig --locked && echo "<done>""#),
            "{all}"
        );
        assert!(all.contains("8080") && all.contains("API"), "{all}");
        assert!(
            all.contains("Left cell") && all.contains("See guide.pdf"),
            "{all}"
        );
        assert!(
            all.contains("Open the firewall") && !all.contains("incomplete"),
            "{all}"
        );
        let install = secs
            .iter()
            .find(|(_, t)| t.contains("Back up first."))
            .unwrap();
        assert_eq!(install.0, ["Root", "Install"]);
        let ports = secs.iter().find(|(_, t)| t.contains("8080")).unwrap();
        assert_eq!(ports.0, ["Root", "Install", "Ports"]);
    }

    #[test]
    fn the_cursor_round_trips() {
        let c = Cursor::Full {
            started: Utc::now(),
            space_id: "12".into(),
            next: Some("/wiki/api/v2/spaces/12/pages?cursor=x".into()),
        };
        assert_eq!(serde_json::from_value::<Cursor>(json!(c)).unwrap(), c);
    }

    #[test]
    fn empty_macro_tags_are_closed_and_cdata_escaped() {
        assert_eq!(
            close_empty_macro_tags(r#"<p><ri:page ri:content-title="a/b>c"/>x<br/></p>"#),
            r#"<p><ri:page ri:content-title="a/b>c"></ri:page>x<br/></p>"#
        );
        assert_eq!(cdata_to_text("a<![CDATA[<b>&]]>c"), "a&lt;b&gt;&amp;c");
    }
}
