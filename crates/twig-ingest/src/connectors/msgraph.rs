//! SharePoint (document libraries and site pages) and OneDrive through Microsoft Graph.
//!
//! Auth is the identity platform's client-credentials grant: an app token is fetched at
//! `{login_base_url}/{tenant}/oauth2/v2.0/token` and refreshed before it expires. Files come
//! from each drive's delta feed (`/drives/{id}/root/delta`): the first walk lists everything,
//! its last page's `@odata.deltaLink` is the cursor, and later syncs read only what changed,
//! deletions included (`deleted` facets). An expired link (410 `resyncRequired`) restarts a
//! full walk, after which [`Connector::list_ids`] prunes what the walk no longer saw. Site
//! pages have no delta feed: each sync lists them, fetches the ones modified since the last
//! pass, and reports the ones no longer listed as deleted.

use super::http::{Auth, ConnectorEnv, Remote};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use twig_core::connector::{
    ChangePage, ConnectionReport, Connector, ConnectorError, Item, ItemContent,
};
use twig_core::datasource::{DataSource, DataSourceType};
use twig_core::retrieval::SectionInput;
use url::Url;

const DEFAULT_BASE: &str = "https://graph.microsoft.com/v1.0";
const DEFAULT_LOGIN: &str = "https://login.microsoftonline.com";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Items per delta page (Graph's own default is about 200).
const DELTA_TOP: usize = 200;
/// A token is replaced this long before it expires (at most half its lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

fn config_error(field: &str, message: String) -> ConnectorError {
    ConnectorError::Config {
        field: Some(field.into()),
        message,
    }
}

struct Token {
    refresh_at: Instant,
}

/// Graph with an app token kept fresh.
struct Graph {
    api: Remote,
    login: Remote,
    token_url: Url,
    client_id: String,
    secret: String,
    scope: String,
    token: tokio::sync::Mutex<Option<Token>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Which config field an AADSTS error blames.
fn blamed_field(message: &str) -> &'static str {
    if message.contains("AADSTS90002") || message.contains("AADSTS900023") {
        "config.tenant_id"
    } else if message.contains("AADSTS700016") || message.contains("AADSTS90014") {
        "config.client_id"
    } else {
        "config.client_secret"
    }
}

impl Graph {
    /// A token valid for a while; `force` replaces one Graph refused.
    async fn ensure_token(&self, force: bool) -> Result<(), ConnectorError> {
        let mut slot = self.token.lock().await;
        if !force && slot.as_ref().is_some_and(|t| t.refresh_at > Instant::now()) {
            return Ok(());
        }
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.as_str()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        let answer: TokenAnswer = self
            .login
            .post_form(self.token_url.clone(), &form)
            .await
            .map_err(|e| match e {
                // The identity platform refuses bad tenants, apps and secrets with 400 or 401.
                ConnectorError::Auth { message, .. } | ConnectorError::Permanent(message) => {
                    let field = blamed_field(&message);
                    // AADSTS descriptions go on with trace ids on further lines.
                    let first = message.lines().next().unwrap_or(&message);
                    let first = first.split("; check ").next().unwrap_or(first);
                    ConnectorError::Auth {
                        field: field.into(),
                        message: format!("{first}; check {field}"),
                    }
                }
                other => other,
            })?;
        let life = Duration::from_secs(answer.expires_in.unwrap_or(3599));
        let margin = REFRESH_MARGIN.min(life / 2);
        self.api.set_auth(Auth::Bearer(answer.access_token));
        *slot = Some(Token {
            refresh_at: Instant::now() + life - margin,
        });
        Ok(())
    }

    /// Runs a Graph call with a fresh token; a 401 (a token revoked or expired in flight)
    /// gets one more try with a new token.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, ConnectorError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        self.ensure_token(false).await?;
        match f().await {
            Err(ConnectorError::Auth { message, .. }) if message.contains("401") => {
                self.ensure_token(true).await?;
                f().await
            }
            r => r,
        }
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, ConnectorError> {
        self.call(|| self.api.get_json(url.clone())).await
    }

    async fn get_opt<T: DeserializeOwned>(&self, url: Url) -> Result<Option<T>, ConnectorError> {
        self.call(|| self.api.get_json_opt(url.clone())).await
    }

    fn url(&self, path: &str) -> Result<Url, ConnectorError> {
        self.api.url(path)
    }
}

/// What is synced.
enum Target {
    SharePoint {
        site_url: Url,
        library: Option<String>,
        include_pages: bool,
    },
    OneDrive {
        user: String,
        /// `/A/B`, no trailing slash; `None` for the whole drive.
        folder: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct DriveInfo {
    id: String,
    name: String,
}

#[derive(Debug, Clone)]
struct SiteInfo {
    id: String,
    name: String,
    web_url: String,
}

/// The SharePoint and OneDrive connector.
pub(crate) struct MsGraph {
    graph: Graph,
    kind: DataSourceType,
    target: Target,
    max_file_bytes: u64,
    site: tokio::sync::OnceCell<Option<SiteInfo>>,
    drives: tokio::sync::OnceCell<Vec<DriveInfo>>,
    /// (drive id, folder id) -> `/A/B` (empty for the root), so each folder costs one lookup.
    folders: tokio::sync::Mutex<HashMap<(String, String), String>>,
    /// A delta walk restarted from scratch in this sync: deletions must be found by listing.
    resynced: AtomicBool,
}

/// Opens a SharePoint or OneDrive connector from a validated config.
pub(crate) fn open(
    ds: &DataSource,
    env: &ConnectorEnv,
) -> Result<Box<dyn Connector>, ConnectorError> {
    let c = &ds.config;
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let need = |k: &str| {
        s(k).ok_or_else(|| config_error(&format!("config.{k}"), format!("config.{k} is missing")))
    };
    let tenant = need("tenant_id")?;
    let client_id = need("client_id")?;
    let secret = need("client_secret")?;
    let base = s("base_url").unwrap_or_else(|| DEFAULT_BASE.into());
    let login_base = s("login_base_url").unwrap_or_else(|| DEFAULT_LOGIN.into());
    let api = Remote::new(
        "Microsoft Graph",
        &base,
        Auth::None,
        "config.client_secret",
        env,
    )?;
    let login = Remote::new(
        "The Microsoft identity platform",
        &login_base,
        Auth::None,
        "config.client_secret",
        env,
    )
    .map_err(|e| match e {
        ConnectorError::Config { message, .. } => config_error(
            "config.login_base_url",
            message.replace("config.base_url", "config.login_base_url"),
        ),
        other => other,
    })?;
    let token_url = login.url(&format!("{tenant}/oauth2/v2.0/token"))?;
    let target = match ds.kind {
        DataSourceType::Sharepoint => {
            let raw = need("site_url")?;
            let site_url = Url::parse(&raw).map_err(|e| {
                config_error(
                    "config.site_url",
                    format!("config.site_url {raw:?} is not a URL: {e}"),
                )
            })?;
            if site_url.host_str().is_none() {
                return Err(config_error(
                    "config.site_url",
                    format!("config.site_url {raw:?} has no host"),
                ));
            }
            Target::SharePoint {
                site_url,
                library: s("library"),
                include_pages: c
                    .get("include_pages")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            }
        }
        _ => Target::OneDrive {
            user: need("user")?,
            folder: s("folder_path")
                .map(|f| format!("/{}", f.trim_matches('/')))
                .filter(|f| f != "/"),
        },
    };
    Ok(Box::new(MsGraph {
        graph: Graph {
            scope: scope_for(&base),
            api,
            login,
            token_url,
            client_id,
            secret,
            token: tokio::sync::Mutex::new(None),
        },
        kind: ds.kind,
        target,
        max_file_bytes: env.max_file_bytes,
        site: tokio::sync::OnceCell::new(),
        drives: tokio::sync::OnceCell::new(),
        folders: tokio::sync::Mutex::new(HashMap::new()),
        resynced: AtomicBool::new(false),
    }))
}

/// National clouds have their own Graph host, and the token is asked for that resource.
fn scope_for(base: &str) -> String {
    let host = Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    const CLOUDS: &[&str] = &[
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    ];
    if CLOUDS.contains(&host.as_str()) {
        format!("https://{host}/.default")
    } else {
        GRAPH_SCOPE.into()
    }
}

/// Where a sync is; saved by the driver after each committed page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Drive id -> the delta link its last complete walk ended with.
    #[serde(default)]
    links: BTreeMap<String, String>,
    /// Drives whose walk this sync has finished.
    #[serde(default)]
    walked: Vec<String>,
    /// The drive being walked and its `@odata.nextLink`.
    #[serde(default)]
    next: Option<(String, String)>,
    /// A walk of this sync restarted after `resyncRequired`.
    #[serde(default)]
    resync: bool,
    /// Site pages seen by the last pass.
    #[serde(default)]
    pages: Option<PagesSeen>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PagesSeen {
    /// Latest `lastModifiedDateTime` seen.
    since: Option<DateTime<Utc>>,
    ids: Vec<String>,
}

#[derive(Deserialize)]
struct Collection<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

#[derive(Deserialize)]
struct GraphSite {
    id: String,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    name: Option<String>,
    #[serde(rename = "webUrl")]
    web_url: Option<String>,
}

#[derive(Deserialize)]
struct GraphDrive {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "webUrl")]
    web_url: Option<String>,
}

#[derive(Deserialize, Default)]
struct ParentRef {
    id: Option<String>,
    path: Option<String>,
}

#[derive(Deserialize)]
struct IdentitySet {
    user: Option<Identity>,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "displayName")]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct FileFacet {
    #[serde(rename = "mimeType")]
    mime_type: Option<String>,
}

#[derive(Deserialize)]
struct DriveItem {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "parentReference", default)]
    parent: ParentRef,
    file: Option<FileFacet>,
    folder: Option<Value>,
    root: Option<Value>,
    deleted: Option<Value>,
    size: Option<u64>,
    #[serde(rename = "webUrl")]
    web_url: Option<String>,
    #[serde(rename = "lastModifiedDateTime")]
    modified: Option<DateTime<Utc>>,
    #[serde(rename = "lastModifiedBy")]
    modified_by: Option<IdentitySet>,
}

#[derive(Deserialize)]
struct SitePage {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "webUrl")]
    web_url: Option<String>,
    #[serde(rename = "lastModifiedDateTime")]
    modified: Option<DateTime<Utc>>,
    #[serde(rename = "lastModifiedBy")]
    modified_by: Option<IdentitySet>,
    #[serde(rename = "canvasLayout")]
    canvas: Option<Value>,
}

fn who(s: &Option<IdentitySet>) -> Option<String> {
    s.as_ref()?.user.as_ref()?.display_name.clone()
}

/// `/A/B` from `parentReference.path` (`/drives/{id}/root:/A/B`).
fn dir_of_path(path: &str) -> Option<String> {
    let (_, rest) = path.split_once("root:")?;
    Some(rest.trim_end_matches('/').to_owned())
}

fn in_folder(dir: &str, folder: &str) -> bool {
    dir == folder
        || dir
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[async_trait]
impl Connector for MsGraph {
    async fn test(&self) -> Result<ConnectionReport, ConnectorError> {
        let files = self.list_files().await?.len() as u64;
        Ok(ConnectionReport {
            items_found: files,
            message: format!("Connection successful, found {files} files"),
        })
    }

    async fn changes(&self, cursor: Option<&Value>) -> Result<ChangePage, ConnectorError> {
        let mut c: Cursor = match cursor {
            None => Cursor::default(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                ConnectorError::Permanent(format!(
                    "the saved Microsoft Graph cursor is unreadable: {e}"
                ))
            })?,
        };
        if c.resync {
            self.resynced.store(true, Ordering::Relaxed);
        }
        let drives = self.drives().await?;
        if let Some(d) = drives.iter().find(|d| !c.walked.contains(&d.id)) {
            return self.delta_page(d, c).await;
        }
        let (items, deleted) = match &self.target {
            Target::SharePoint {
                include_pages: true,
                ..
            } => self.pages(&mut c).await?,
            _ => (Vec::new(), Vec::new()),
        };
        c.walked.clear();
        c.next = None;
        c.resync = false;
        c.links.retain(|k, _| drives.iter().any(|d| &d.id == k));
        Ok(ChangePage {
            items,
            deleted,
            cursor: json!(c),
            done: true,
            total: None,
        })
    }

    async fn list_ids(&self) -> Result<Option<Vec<String>>, ConnectorError> {
        // The delta feed reports deletions, except across a restarted walk.
        if !self.resynced.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut ids = self.list_files().await?;
        if let Target::SharePoint {
            include_pages: true,
            ..
        } = &self.target
        {
            ids.extend(
                self.list_pages()
                    .await?
                    .into_iter()
                    .map(|p| page_key(&p.id)),
            );
        }
        Ok(Some(ids))
    }
}

fn page_key(id: &str) -> String {
    format!("page:{id}")
}

fn item_key(drive: &str, item: &str) -> String {
    format!("{drive}:{item}")
}

impl MsGraph {
    fn source(&self) -> &'static str {
        self.kind.as_str()
    }

    async fn site(&self) -> Result<Option<&SiteInfo>, ConnectorError> {
        self.site
            .get_or_try_init(|| async {
                let Target::SharePoint { site_url, .. } = &self.target else {
                    return Ok(None);
                };
                let host = site_url.host_str().unwrap_or_default();
                let path = site_url.path().trim_matches('/');
                let rel = if path.is_empty() {
                    format!("sites/{host}")
                } else {
                    format!("sites/{host}:/{path}")
                };
                let found: Option<GraphSite> = self.graph.get_opt(self.graph.url(&rel)?).await?;
                let s = found.ok_or_else(|| {
                    config_error(
                        "config.site_url",
                        format!("Microsoft Graph has no site at {site_url}; check config.site_url"),
                    )
                })?;
                Ok(Some(SiteInfo {
                    name: s.display_name.or(s.name).unwrap_or_else(|| path.to_owned()),
                    web_url: s.web_url.unwrap_or_else(|| site_url.to_string()),
                    id: s.id,
                }))
            })
            .await
            .map(Option::as_ref)
    }

    /// The drives to walk, in id order.
    async fn drives(&self) -> Result<&Vec<DriveInfo>, ConnectorError> {
        self.drives
            .get_or_try_init(|| async {
                let mut out = match &self.target {
                    Target::OneDrive { user, .. } => {
                        let mut u = self.graph.url("users")?;
                        u.path_segments_mut()
                            .map_err(|_| ConnectorError::Permanent("bad base URL".into()))?
                            .push(user)
                            .push("drive");
                        let d: Option<GraphDrive> = self.graph.get_opt(u).await?;
                        let d = d.ok_or_else(|| {
                            config_error(
                                "config.user",
                                format!("Microsoft Graph has no OneDrive for user {user:?}; check config.user"),
                            )
                        })?;
                        vec![DriveInfo { id: d.id, name: d.name }]
                    }
                    Target::SharePoint { library, .. } => {
                        let site = self.site().await?.cloned();
                        let site = site.ok_or_else(|| ConnectorError::Permanent("no site".into()))?;
                        let mut next = Some(self.graph.url(&format!("sites/{}/drives", site.id))?);
                        let mut all = Vec::new();
                        while let Some(u) = next.take() {
                            let page: Collection<GraphDrive> = self.graph.get(u).await?;
                            all.extend(page.value);
                            if let Some(n) = page.next_link {
                                next = Some(self.graph.url(&n)?);
                            }
                        }
                        let named = |d: &GraphDrive, want: &str| {
                            let url_name = d
                                .web_url
                                .as_deref()
                                .and_then(|u| u.rsplit('/').next())
                                .map(|s| s.replace("%20", " "));
                            d.name.eq_ignore_ascii_case(want)
                                || url_name.is_some_and(|n| n.eq_ignore_ascii_case(want))
                        };
                        if let Some(want) = library {
                            let names: Vec<String> = all.iter().map(|d| d.name.clone()).collect();
                            all.retain(|d| named(d, want));
                            if all.is_empty() {
                                return Err(config_error(
                                    "config.library",
                                    format!(
                                        "the site has no document library {want:?} (it has: {}); check config.library",
                                        names.join(", ")
                                    ),
                                ));
                            }
                        }
                        all.into_iter()
                            .map(|d| DriveInfo { id: d.id, name: d.name })
                            .collect()
                    }
                };
                out.sort_by(|a, b| a.id.cmp(&b.id));
                Ok(out)
            })
            .await
    }

    fn fresh_delta(&self, drive: &str) -> Result<Url, ConnectorError> {
        let mut u = self.graph.url(&format!("drives/{drive}/root/delta"))?;
        u.query_pairs_mut()
            .append_pair("$top", &DELTA_TOP.to_string());
        Ok(u)
    }

    /// One delta page of drive `d`.
    async fn delta_page(&self, d: &DriveInfo, mut c: Cursor) -> Result<ChangePage, ConnectorError> {
        let url = match (&c.next, c.links.get(&d.id)) {
            (Some((id, link)), _) if id == &d.id => self.graph.url(link)?,
            (_, Some(link)) => self.graph.url(link)?,
            _ => self.fresh_delta(&d.id)?,
        };
        let from_scratch = c.next.is_none() && !c.links.contains_key(&d.id);
        let Some(page) = self.graph.get_opt::<Collection<DriveItem>>(url).await? else {
            if from_scratch {
                return Err(ConnectorError::Permanent(format!(
                    "Microsoft Graph answered 404 for the drive {:?}",
                    d.name
                )));
            }
            // 410 resyncRequired: the link expired; walk the drive again from the start.
            tracing::info!(drive = %d.id, "delta link expired; walking the drive again");
            c.links.remove(&d.id);
            c.next = None;
            c.resync = true;
            self.resynced.store(true, Ordering::Relaxed);
            return Ok(ChangePage {
                cursor: json!(c),
                ..ChangePage::default()
            });
        };
        let (items, deleted) = self.translate(d, page.value, true).await?;
        match (page.next_link, page.delta_link) {
            (Some(n), _) => c.next = Some((d.id.clone(), n)),
            (None, Some(link)) => {
                c.links.insert(d.id.clone(), link);
                c.walked.push(d.id.clone());
                c.next = None;
            }
            (None, None) => {
                return Err(ConnectorError::Transient(
                    "Microsoft Graph sent a delta page with neither @odata.nextLink nor @odata.deltaLink"
                        .into(),
                ))
            }
        }
        Ok(ChangePage {
            items,
            deleted,
            cursor: json!(c),
            done: false,
            total: None,
        })
    }

    /// `/A/B` of the folder holding an item.
    async fn dir_of(&self, drive: &str, parent: &ParentRef) -> Result<String, ConnectorError> {
        if let Some(dir) = parent.path.as_deref().and_then(dir_of_path) {
            return Ok(dir);
        }
        let Some(pid) = parent.id.clone() else {
            return Ok(String::new());
        };
        let key = (drive.to_owned(), pid.clone());
        if let Some(d) = self.folders.lock().await.get(&key) {
            return Ok(d.clone());
        }
        // Business drives leave `path` out of delta answers; a plain GET has it.
        let mut u = self.graph.url(&format!("drives/{drive}/items/{pid}"))?;
        u.query_pairs_mut()
            .append_pair("$select", "id,name,parentReference,root");
        let folder: Option<DriveItem> = self.graph.get_opt(u).await?;
        let dir = match folder {
            None => String::new(),
            Some(f) if f.root.is_some() => String::new(),
            Some(f) => {
                let above = f
                    .parent
                    .path
                    .as_deref()
                    .and_then(dir_of_path)
                    .unwrap_or_default();
                format!("{above}/{}", f.name)
            }
        };
        self.folders.lock().await.insert(key, dir.clone());
        Ok(dir)
    }

    /// Delta entries to items and deletions; with `fetch`, file contents are downloaded.
    async fn translate(
        &self,
        d: &DriveInfo,
        entries: Vec<DriveItem>,
        fetch: bool,
    ) -> Result<(Vec<Item>, Vec<String>), ConnectorError> {
        let mut items = Vec::new();
        let mut deleted = Vec::new();
        let site = self.site().await?.cloned();
        for e in entries {
            let key = item_key(&d.id, &e.id);
            if e.deleted.is_some() {
                deleted.push(key);
                continue;
            }
            if e.root.is_some() {
                self.folders
                    .lock()
                    .await
                    .insert((d.id.clone(), e.id.clone()), String::new());
                continue;
            }
            if e.folder.is_some() {
                // Parents come before children in delta answers: remember where they are.
                let known = match &e.parent.id {
                    Some(p) => self
                        .folders
                        .lock()
                        .await
                        .get(&(d.id.clone(), p.clone()))
                        .cloned(),
                    None => None,
                };
                if let Some(above) = known {
                    self.folders
                        .lock()
                        .await
                        .insert((d.id.clone(), e.id.clone()), format!("{above}/{}", e.name));
                }
                continue;
            }
            let Some(file) = &e.file else { continue };
            let dir = self.dir_of(&d.id, &e.parent).await?;
            if let Target::OneDrive {
                folder: Some(f), ..
            } = &self.target
            {
                if !in_folder(&dir, f) {
                    // Outside the folder, perhaps moved out of it: not (or no longer) synced.
                    deleted.push(key);
                    continue;
                }
            }
            let mt = file.mime_type.as_deref().unwrap_or("");
            let readable = !["image/", "video/", "audio/"]
                .iter()
                .any(|p| mt.starts_with(p))
                && twig_parse::detect(&e.name, file.mime_type.as_deref(), &[]).is_some();
            if !readable {
                // Not knowledge; reported as deleted in case it was renamed from a readable name.
                deleted.push(key);
                continue;
            }
            if !fetch {
                items.push(Item {
                    external_id: key,
                    title: e.name,
                    url: None,
                    updated_at: None,
                    metadata: Map::new(),
                    content: ItemContent::Skipped(String::new()),
                });
                continue;
            }
            let mut metadata = Map::new();
            metadata.insert("source".into(), json!(self.source()));
            if let Some(s) = &site {
                metadata.insert("site".into(), json!(s.name));
                metadata.insert("site_url".into(), json!(s.web_url));
                metadata.insert("library".into(), json!(d.name));
            } else {
                metadata.insert("drive".into(), json!(d.name));
            }
            metadata.insert("drive_id".into(), json!(d.id));
            metadata.insert("item_id".into(), json!(e.id));
            metadata.insert(
                "folder_path".into(),
                json!(if dir.is_empty() {
                    "/".into()
                } else {
                    dir.clone()
                }),
            );
            if let Some(a) = who(&e.modified_by) {
                metadata.insert("author".into(), json!(a));
            }
            let content = match e.size {
                Some(n) if n > self.max_file_bytes => ItemContent::Skipped(format!(
                    "skipped: {n} bytes, larger than ingest.max_file_bytes ({} bytes)",
                    self.max_file_bytes
                )),
                _ => {
                    let u = self
                        .graph
                        .url(&format!("drives/{}/items/{}/content", d.id, e.id))?;
                    let max = self.max_file_bytes;
                    // The answer is a 302 to a pre-authenticated URL, which the client follows.
                    match self
                        .graph
                        .call(|| self.graph.api.get_bytes(u.clone(), max))
                        .await?
                    {
                        Ok(bytes) => ItemContent::File {
                            filename: e.name.clone(),
                            content_type: file.mime_type.clone(),
                            bytes,
                        },
                        Err(reason) => ItemContent::Failed(reason),
                    }
                }
            };
            items.push(Item {
                external_id: key,
                title: e.name,
                url: e.web_url,
                updated_at: e.modified,
                metadata,
                content,
            });
        }
        Ok((items, deleted))
    }

    /// Keys of every file in scope now, through fresh delta walks without downloads.
    async fn list_files(&self) -> Result<Vec<String>, ConnectorError> {
        let mut out = Vec::new();
        for d in self.drives().await? {
            let mut next = Some(self.fresh_delta(&d.id)?);
            while let Some(u) = next.take() {
                let page: Collection<DriveItem> = self.graph.get(u).await?;
                let (items, _) = self.translate(d, page.value, false).await?;
                out.extend(items.into_iter().map(|i| i.external_id));
                if let Some(n) = page.next_link {
                    next = Some(self.graph.url(&n)?);
                }
            }
        }
        Ok(out)
    }

    async fn list_pages(&self) -> Result<Vec<SitePage>, ConnectorError> {
        let Some(site) = self.site().await? else {
            return Ok(Vec::new());
        };
        let mut next = Some(
            self.graph
                .url(&format!("sites/{}/pages/microsoft.graph.sitePage", site.id))?,
        );
        let mut out = Vec::new();
        while let Some(u) = next.take() {
            // Sites without modern pages answer 404.
            let Some(page) = self.graph.get_opt::<Collection<SitePage>>(u).await? else {
                break;
            };
            out.extend(page.value);
            if let Some(n) = page.next_link {
                next = Some(self.graph.url(&n)?);
            }
        }
        Ok(out)
    }

    /// Site pages modified since the last pass, and the ones gone since.
    async fn pages(&self, c: &mut Cursor) -> Result<(Vec<Item>, Vec<String>), ConnectorError> {
        let Some(site) = self.site().await?.cloned() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let seen = c.pages.take().unwrap_or_default();
        let listed = self.list_pages().await?;
        let known: HashSet<&str> = seen.ids.iter().map(String::as_str).collect();
        let now: HashSet<&str> = listed.iter().map(|p| p.id.as_str()).collect();
        let deleted: Vec<String> = seen
            .ids
            .iter()
            .filter(|id| !now.contains(id.as_str()))
            .map(|id| page_key(id))
            .collect();
        let mut items = Vec::new();
        let mut latest = seen.since;
        for p in &listed {
            latest = latest.max(p.modified);
            let changed = !known.contains(p.id.as_str())
                || match (p.modified, seen.since) {
                    (Some(m), Some(s)) => m > s,
                    _ => true,
                };
            if !changed {
                continue;
            }
            let mut u = self.graph.url(&format!(
                "sites/{}/pages/{}/microsoft.graph.sitePage",
                site.id, p.id
            ))?;
            u.query_pairs_mut().append_pair("$expand", "canvasLayout");
            let Some(full) = self.graph.get_opt::<SitePage>(u).await? else {
                continue; // deleted since the listing: the next pass reports it
            };
            let title = full
                .title
                .clone()
                .or(full.name.clone())
                .unwrap_or_else(|| p.id.clone());
            let html = canvas_html(full.canvas.as_ref());
            let mut metadata = Map::new();
            metadata.insert("source".into(), json!(self.source()));
            metadata.insert("site".into(), json!(site.name));
            metadata.insert("site_url".into(), json!(site.web_url));
            metadata.insert("kind".into(), json!("site_page"));
            if let Some(a) = who(&full.modified_by) {
                metadata.insert("author".into(), json!(a));
            }
            items.push(Item {
                external_id: page_key(&p.id),
                title: title.clone(),
                url: full.web_url.clone(),
                updated_at: full.modified,
                metadata,
                content: ItemContent::Sections(html_to_sections(&html, &title)),
            });
        }
        c.pages = Some(PagesSeen {
            since: latest,
            ids: listed.into_iter().map(|p| p.id).collect(),
        });
        Ok((items, deleted))
    }
}

/// The HTML of a page's text web parts, in layout order (sections, columns, then the
/// vertical section). Other web parts (images, lists, embeds) carry no text of their own.
fn canvas_html(canvas: Option<&Value>) -> String {
    let mut out = String::new();
    let Some(canvas) = canvas else { return out };
    let mut parts = |webparts: &Value| {
        for w in webparts.as_array().into_iter().flatten() {
            if w["@odata.type"] == "#microsoft.graph.textWebPart" {
                if let Some(h) = w["innerHtml"].as_str() {
                    out.push_str(h);
                    out.push('\n');
                }
            }
        }
    };
    for s in canvas["horizontalSections"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for col in s["columns"].as_array().into_iter().flatten() {
            parts(&col["webparts"]);
        }
    }
    parts(&canvas["verticalSection"]["webparts"]);
    out
}

/// Page HTML to sections under the page title and the page's own headings.
fn html_to_sections(html: &str, title: &str) -> Vec<SectionInput> {
    let page = twig_parse::parse_html(&format!("<html><body>{html}</body></html>"), None);
    page.sections
        .into_iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| SectionInput {
            heading_path: std::iter::once(title.to_owned())
                .chain(s.heading_path)
                .collect(),
            text: s.text,
            page: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_folders() {
        assert_eq!(
            dir_of_path("/drives/b!x/root:/Guides/Setup").as_deref(),
            Some("/Guides/Setup")
        );
        assert_eq!(dir_of_path("/drive/root:").as_deref(), Some(""));
        assert!(in_folder("/Guides/Setup", "/Guides"));
        assert!(in_folder("/Guides", "/Guides"));
        assert!(!in_folder("/GuidesOld", "/Guides"));
    }

    #[test]
    fn aadsts_errors_blame_the_right_field() {
        assert_eq!(
            blamed_field("AADSTS90002: Tenant 'x' not found."),
            "config.tenant_id"
        );
        assert_eq!(
            blamed_field("AADSTS700016: Application with identifier"),
            "config.client_id"
        );
        assert_eq!(
            blamed_field("AADSTS7000215: Invalid client secret provided."),
            "config.client_secret"
        );
        assert_eq!(
            scope_for("https://graph.microsoft.us/v1.0"),
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(scope_for("http://127.0.0.1:9/v1.0"), GRAPH_SCOPE);
    }

    #[test]
    fn text_web_parts_become_sections() {
        let canvas = json!({
            "horizontalSections": [{"columns": [{"webparts": [
                {"@odata.type": "#microsoft.graph.textWebPart", "innerHtml": "<h2>Escalation</h2><p>Call the on-call lead.</p>"},
                {"@odata.type": "#microsoft.graph.standardWebPart", "data": {"title": "Image"}},
            ]}]}],
            "verticalSection": {"webparts": [{"@odata.type": "#microsoft.graph.textWebPart", "innerHtml": "<p>Side note.</p>"}]},
        });
        let secs = html_to_sections(&canvas_html(Some(&canvas)), "Support");
        assert!(secs
            .iter()
            .any(|s| s.heading_path == ["Support", "Escalation"] && s.text.contains("on-call")));
        assert!(secs.iter().any(|s| s.text.contains("Side note.")));
        assert!(!secs.iter().any(|s| s.text.contains("Image")));
    }

    #[test]
    fn the_cursor_round_trips() {
        let c = Cursor {
            links: [(
                "b!1".to_owned(),
                "https://g/v1.0/drives/b!1/root/delta?token=a".to_owned(),
            )]
            .into(),
            walked: vec!["b!1".into()],
            next: Some(("b!2".into(), "https://g/x".into())),
            resync: true,
            pages: Some(PagesSeen {
                since: Some(Utc::now()),
                ids: vec!["p".into()],
            }),
        };
        assert_eq!(serde_json::from_value::<Cursor>(json!(c)).unwrap(), c);
    }
}
