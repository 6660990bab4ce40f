//! Microsoft Graph v1.0 (SharePoint sites, document libraries, OneDrive, site pages) and the
//! identity platform's client-credentials token endpoint, on one loopback origin.
//!
//! Wire details kept: the token endpoint takes a form and answers AADSTS errors as
//! `{"error", "error_description", "error_codes"}`; Graph errors are `{"error": {"code",
//! "message"}}`; collections are `{"value": [...]}` with absolute `@odata.nextLink`, delta's
//! last page carries `@odata.deltaLink`; delta items of business drives have no
//! `parentReference.path` (a plain item GET has it); deletions are `deleted` facets; an
//! expired delta token answers 410 `resyncRequired`; `/content` answers 302 to a
//! pre-authenticated download URL; pages list without `canvasLayout` unless expanded.

use crate::{has_bearer, rfc3339, Faults};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The scope a client-credentials request for Graph asks for.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

#[derive(Debug, Clone)]
struct SiteRec {
    id: String,
    host: String,
    path: String,
    display_name: String,
}

#[derive(Debug, Clone)]
struct DriveRec {
    id: String,
    name: String,
    /// `documentLibrary` or `business`.
    kind: &'static str,
    site_id: Option<String>,
    owner: Option<String>,
    web_url: String,
    root_id: String,
}

#[derive(Debug, Clone)]
struct ItemRec {
    id: String,
    drive_id: String,
    name: String,
    parent_id: Option<String>,
    folder: bool,
    bytes: Vec<u8>,
    mime: String,
    modified: DateTime<Utc>,
    /// Change sequence number of its last change; delta tokens are such numbers.
    seq: u64,
    deleted: bool,
    author: String,
}

#[derive(Debug, Clone)]
struct PageRec {
    id: String,
    site_id: String,
    name: String,
    title: String,
    /// Text web parts' HTML, one per part.
    parts: Vec<String>,
    modified: DateTime<Utc>,
}

#[derive(Default)]
struct Tenant {
    sites: Vec<SiteRec>,
    drives: BTreeMap<String, DriveRec>,
    items: BTreeMap<String, ItemRec>,
    pages: BTreeMap<String, PageRec>,
    next_id: u64,
    seq: u64,
    /// Delta tokens below this answer 410 resyncRequired.
    oldest_token: u64,
    /// Issued access tokens and when they expire.
    tokens: HashMap<String, Instant>,
    token_lifetime: u64,
    page_size: usize,
    /// Pre-authenticated download URLs handed out by `/content`.
    downloads: HashMap<String, String>,
    hits: HashMap<&'static str, u64>,
    /// Items (changed or deleted) served by delta calls made with a token (incremental ones).
    changed_served: u64,
}

/// A Microsoft 365 tenant in memory, with one app registration allowed in.
#[derive(Clone)]
pub struct FakeGraph {
    state: Arc<Mutex<Tenant>>,
    /// Tenant id or domain accepted by the token endpoint.
    pub tenant: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// Injected failures (token endpoint included).
    pub faults: Faults,
    origin: Arc<Mutex<String>>,
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(
            json!({"error": {"code": code, "message": message, "innerError": {
                "date": rfc3339(Utc::now()), "request-id": "00000000-0000-0000-0000-000000000000",
            }}}),
        ),
    )
        .into_response()
}

fn not_found() -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "itemNotFound",
        "The resource could not be found.",
    )
}

fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: 0000\r\nCorrelation ID: 0000\r\nTimestamp: {}", rfc3339(Utc::now())),
            "error_codes": [code],
            "timestamp": rfc3339(Utc::now()),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        })),
    )
        .into_response()
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn unb64(s: &str) -> Option<Value> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    serde_json::from_slice(&b).ok()
}

impl FakeGraph {
    /// An empty tenant accepting `client_id`/`client_secret` for `tenant`.
    pub fn new(tenant: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            state: Arc::new(Mutex::new(Tenant {
                next_id: 1000,
                token_lifetime: 3599,
                page_size: 200,
                ..Tenant::default()
            })),
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            faults: Faults::default(),
            origin: Arc::new(Mutex::new(String::new())),
        }
    }

    /// Serves the tenant; answers `(served, base_url, login_base_url)` for a data source's config.
    pub async fn serve(&self) -> std::io::Result<(crate::Served, String, String)> {
        let served = crate::serve(self.router()).await?;
        *self.origin.lock().unwrap() = served.origin.clone();
        let base = format!("{}/v1.0", served.origin);
        let login = served.origin.clone();
        Ok((served, base, login))
    }

    /// The routes, faults in front.
    pub fn router(&self) -> Router {
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/v1.0/sites/{*rest}", get(sites))
            .route("/v1.0/users/{user}/drive", get(user_drive))
            .route("/v1.0/drives/{*rest}", get(drives))
            .route("/download/{key}", get(download))
            .with_state(self.clone());
        self.faults.wrap(app)
    }

    fn id(t: &mut Tenant) -> String {
        t.next_id += 1;
        format!("01BYE5RZ{:016X}", t.next_id * 2_654_435_761)
    }

    fn bump(t: &mut Tenant) -> u64 {
        t.seq += 1;
        t.seq
    }

    fn new_drive(
        t: &mut Tenant,
        name: &str,
        kind: &'static str,
        site_id: Option<String>,
        owner: Option<String>,
        web_url: String,
    ) -> String {
        t.next_id += 1;
        let id = format!("b!{:x}-drive{}", t.next_id * 2_654_435_761, t.next_id);
        let root_id = Self::id(t);
        let seq = Self::bump(t);
        t.items.insert(
            root_id.clone(),
            ItemRec {
                id: root_id.clone(),
                drive_id: id.clone(),
                name: "root".into(),
                parent_id: None,
                folder: true,
                bytes: Vec::new(),
                mime: String::new(),
                modified: Utc::now(),
                seq,
                deleted: false,
                author: "System Account".into(),
            },
        );
        t.drives.insert(
            id.clone(),
            DriveRec {
                id: id.clone(),
                name: name.into(),
                kind,
                site_id,
                owner,
                web_url,
                root_id,
            },
        );
        id
    }

    /// Adds a site at `https://<host>/sites/<path>`; answers its id (`host,guid,guid`).
    pub fn add_site(&self, host: &str, path: &str, display_name: &str) -> String {
        let mut t = self.state.lock().unwrap();
        t.next_id += 1;
        let n = t.next_id;
        let id = format!(
            "{host},{n:08x}-1370-44e7-a1f5-426573fda80a,{n:08x}-251a-49ea-93a8-39e1c3a060fe"
        );
        t.sites.push(SiteRec {
            id: id.clone(),
            host: host.into(),
            path: path.into(),
            display_name: display_name.into(),
        });
        id
    }

    /// Adds a document library to a site; answers the drive id.
    pub fn add_library(&self, site_id: &str, name: &str) -> String {
        let mut t = self.state.lock().unwrap();
        let site = t
            .sites
            .iter()
            .find(|s| s.id == site_id)
            .expect("a site")
            .clone();
        // The default library is "Documents" at the URL "Shared Documents", as SharePoint does.
        let url_name = if name == "Documents" {
            "Shared%20Documents".to_owned()
        } else {
            name.replace(' ', "%20")
        };
        let web = format!("https://{}/sites/{}/{url_name}", site.host, site.path);
        Self::new_drive(&mut t, name, "documentLibrary", Some(site.id), None, web)
    }

    /// Gives a user (by UPN) a OneDrive; answers the drive id.
    pub fn add_user_drive(&self, upn: &str) -> String {
        let mut t = self.state.lock().unwrap();
        let personal = upn.replace(['@', '.'], "_");
        let web = format!("https://contoso-my.sharepoint.com/personal/{personal}/Documents");
        Self::new_drive(&mut t, "OneDrive", "business", None, Some(upn.into()), web)
    }

    /// Folder at `path` (`/A/B`) in a drive, created with its parents when missing.
    pub fn folder(&self, drive_id: &str, path: &str) -> String {
        let mut t = self.state.lock().unwrap();
        Self::ensure_folder(&mut t, drive_id, path)
    }

    fn ensure_folder(t: &mut Tenant, drive_id: &str, path: &str) -> String {
        let mut cur = t.drives[drive_id].root_id.clone();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let found = t
                .items
                .values()
                .find(|i| {
                    !i.deleted && i.folder && i.parent_id.as_deref() == Some(&cur) && i.name == part
                })
                .map(|i| i.id.clone());
            cur = match found {
                Some(id) => id,
                None => {
                    let id = Self::id(t);
                    let seq = Self::bump(t);
                    t.items.insert(
                        id.clone(),
                        ItemRec {
                            id: id.clone(),
                            drive_id: drive_id.into(),
                            name: part.into(),
                            parent_id: Some(cur.clone()),
                            folder: true,
                            bytes: Vec::new(),
                            mime: String::new(),
                            modified: Utc::now(),
                            seq,
                            deleted: false,
                            author: "Ada Admin".into(),
                        },
                    );
                    id
                }
            };
        }
        cur
    }

    /// Uploads a file at `path` (`/Guides/setup.md`); answers its item id.
    pub fn add_file(&self, drive_id: &str, path: &str, mime: &str, bytes: &[u8]) -> String {
        let mut t = self.state.lock().unwrap();
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = Self::ensure_folder(&mut t, drive_id, dir);
        let id = Self::id(&mut t);
        let seq = Self::bump(&mut t);
        t.items.insert(
            id.clone(),
            ItemRec {
                id: id.clone(),
                drive_id: drive_id.into(),
                name: name.into(),
                parent_id: Some(parent),
                folder: false,
                bytes: bytes.to_vec(),
                mime: mime.into(),
                modified: Utc::now(),
                seq,
                deleted: false,
                author: "Grace Writer".into(),
            },
        );
        id
    }

    /// Replaces a file's content.
    pub fn edit_file(&self, item_id: &str, bytes: &[u8]) {
        let mut t = self.state.lock().unwrap();
        let seq = Self::bump(&mut t);
        let i = t.items.get_mut(item_id).expect("an item");
        i.bytes = bytes.to_vec();
        i.modified = Utc::now();
        i.seq = seq;
    }

    /// Deletes an item (a folder with everything under it): delta reports `deleted` facets.
    pub fn delete_item(&self, item_id: &str) {
        let mut t = self.state.lock().unwrap();
        let mut todo = vec![item_id.to_owned()];
        while let Some(id) = todo.pop() {
            todo.extend(
                t.items
                    .values()
                    .filter(|i| i.parent_id.as_deref() == Some(&id) && !i.deleted)
                    .map(|i| i.id.clone()),
            );
            let seq = Self::bump(&mut t);
            let i = t.items.get_mut(&id).expect("an item");
            i.deleted = true;
            i.seq = seq;
        }
    }

    /// Adds a modern site page whose text web parts hold `parts` (HTML); answers its id.
    pub fn add_page(&self, site_id: &str, title: &str, parts: &[&str]) -> String {
        let mut t = self.state.lock().unwrap();
        t.next_id += 1;
        let id = format!(
            "{:08x}-5b1a-4d2c-9e2f-0c6a1d1e{:04x}",
            t.next_id,
            t.next_id % 65536
        );
        t.pages.insert(
            id.clone(),
            PageRec {
                id: id.clone(),
                site_id: site_id.into(),
                name: format!("{}.aspx", title.replace(' ', "-")),
                title: title.into(),
                parts: parts.iter().map(|p| p.to_string()).collect(),
                modified: Utc::now(),
            },
        );
        id
    }

    /// Replaces a page's text web parts.
    pub fn edit_page(&self, page_id: &str, parts: &[&str]) {
        let mut t = self.state.lock().unwrap();
        let p = t.pages.get_mut(page_id).expect("a page");
        p.parts = parts.iter().map(|p| p.to_string()).collect();
        p.modified = Utc::now();
    }

    /// Deletes a page.
    pub fn delete_page(&self, page_id: &str) {
        self.state.lock().unwrap().pages.remove(page_id);
    }

    /// Access tokens issued from now on live this long.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.state.lock().unwrap().token_lifetime = secs;
    }

    /// Delta pages hold at most `n` items, whatever `$top` asks (Graph may send fewer).
    pub fn set_page_size(&self, n: usize) {
        self.state.lock().unwrap().page_size = n.max(1);
    }

    /// Every delta token issued so far answers 410 resyncRequired.
    pub fn expire_delta_tokens(&self) {
        let mut t = self.state.lock().unwrap();
        t.oldest_token = t.seq + 1;
    }

    /// Requests served for a route name (`token`, `site`, `drives`, `delta`, `item`,
    /// `content`, `download`, `pages`, `page`, `user_drive`).
    pub fn hits(&self, route: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// Items served by incremental delta calls (made with a token).
    pub fn changed_served(&self) -> u64 {
        self.state.lock().unwrap().changed_served
    }

    fn origin(&self) -> String {
        self.origin.lock().unwrap().clone()
    }

    fn check(&self, headers: &HeaderMap, route: &'static str) -> Result<(), Response> {
        let mut t = self.state.lock().unwrap();
        *t.hits.entry(route).or_default() += 1;
        let now = Instant::now();
        let ok = t
            .tokens
            .iter()
            .any(|(tok, exp)| *exp > now && has_bearer(headers, tok));
        if ok {
            return Ok(());
        }
        let message = if headers.get("authorization").is_none() {
            "Access token is empty."
        } else if t.tokens.keys().any(|tok| has_bearer(headers, tok)) {
            "Lifetime validation failed, the token is expired."
        } else {
            "Access token validation failure. Invalid audience."
        };
        Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        ))
    }

    fn drive_json(&self, t: &Tenant, d: &DriveRec) -> Value {
        let owner = match &d.owner {
            Some(upn) => {
                json!({"user": {"displayName": upn.split('@').next().unwrap_or(upn), "email": upn}})
            }
            None => json!({"group": {"displayName": "Site Owners"}}),
        };
        let _ = t;
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#drives/$entity", self.origin()),
            "id": d.id, "name": d.name, "driveType": d.kind, "webUrl": d.web_url,
            "description": "", "createdDateTime": "2024-01-02T03:04:05Z",
            "lastModifiedDateTime": "2024-01-02T03:04:05Z", "owner": owner,
            "quota": {"deleted": 0, "remaining": 1_099_511_627_776u64, "state": "normal", "total": 1_099_511_627_776u64, "used": 0},
        })
    }

    /// `/A/B` of a folder (empty for the root).
    fn folder_path(t: &Tenant, folder_id: &str) -> String {
        let mut parts = Vec::new();
        let mut cur = t.items.get(folder_id);
        while let Some(i) = cur {
            if i.parent_id.is_none() {
                break;
            }
            parts.insert(0, i.name.clone());
            cur = i.parent_id.as_ref().and_then(|p| t.items.get(p));
        }
        parts.iter().map(|p| format!("/{p}")).collect()
    }

    fn item_json(&self, t: &Tenant, i: &ItemRec, with_path: bool) -> Value {
        let d = &t.drives[&i.drive_id];
        if i.deleted {
            return json!({
                "@odata.type": "#microsoft.graph.driveItem", "id": i.id, "name": i.name,
                "parentReference": {"driveType": d.kind, "driveId": d.id, "id": i.parent_id},
                "deleted": {"state": "deleted"}, "size": 0,
            });
        }
        let who = json!({"user": {"displayName": i.author, "email": format!("{}@contoso.com", i.author.split(' ').next().unwrap_or("x").to_lowercase())}});
        let mut v = json!({
            "@odata.type": "#microsoft.graph.driveItem",
            "id": i.id, "name": i.name,
            "eTag": format!("\"{{{}}},{}\"", i.id, i.seq), "cTag": format!("\"c:{{{}}},{}\"", i.id, i.seq),
            "createdDateTime": rfc3339(i.modified), "lastModifiedDateTime": rfc3339(i.modified),
            "size": if i.folder { 0 } else { i.bytes.len() },
            "createdBy": who, "lastModifiedBy": who,
            "fileSystemInfo": {"createdDateTime": rfc3339(i.modified), "lastModifiedDateTime": rfc3339(i.modified)},
        });
        match &i.parent_id {
            None => {
                v["root"] = json!({});
                v["webUrl"] = d.web_url.clone().into();
                v["parentReference"] = json!({"driveType": d.kind, "driveId": d.id});
            }
            Some(p) => {
                let dir = Self::folder_path(t, p);
                let path_in_url: String = format!("{dir}/{}", i.name).replace(' ', "%20");
                v["webUrl"] = format!("{}{path_in_url}", d.web_url).into();
                let mut parent = json!({"driveType": d.kind, "driveId": d.id, "id": p});
                if with_path {
                    parent["path"] = format!("/drives/{}/root:{dir}", d.id).into();
                }
                v["parentReference"] = parent;
            }
        }
        if i.folder {
            let n = t
                .items
                .values()
                .filter(|c| !c.deleted && c.parent_id.as_deref() == Some(&i.id))
                .count();
            v["folder"] = json!({"childCount": n});
        } else {
            v["file"] = json!({"mimeType": i.mime, "hashes": {"quickXorHash": b64(&json!(i.seq))}});
        }
        v
    }

    fn page_json(&self, t: &Tenant, p: &PageRec, canvas: bool) -> Value {
        let site = t.sites.iter().find(|s| s.id == p.site_id);
        let web = site.map_or(String::new(), |s| {
            format!("https://{}/sites/{}/SitePages/{}", s.host, s.path, p.name)
        });
        let mut v = json!({
            "@odata.type": "#microsoft.graph.sitePage",
            "id": p.id, "name": p.name, "title": p.title, "webUrl": web,
            "pageLayout": "article", "promotionKind": "page", "showComments": true,
            "createdDateTime": rfc3339(p.modified), "lastModifiedDateTime": rfc3339(p.modified),
            "createdBy": {"user": {"displayName": "Ada Admin", "email": "ada@contoso.com"}},
            "lastModifiedBy": {"user": {"displayName": "Ada Admin", "email": "ada@contoso.com"}},
            "publishingState": {"level": "published", "versionId": "1.0"},
            "parentReference": {"siteId": p.site_id},
        });
        if canvas {
            let webparts: Vec<Value> = p
                .parts
                .iter()
                .enumerate()
                .map(|(n, html)| json!({"@odata.type": "#microsoft.graph.textWebPart", "id": format!("{n}-text"), "innerHtml": html}))
                .chain(std::iter::once(json!({
                    "@odata.type": "#microsoft.graph.standardWebPart", "id": "img", "webPartType": "d1d91016-032f-456d-98a4-721247c305e8",
                    "data": {"dataVersion": "1.9", "title": "Image", "serverProcessedContent": {"imageSources": []}},
                })))
                .collect();
            v["canvasLayout"] = json!({
                "horizontalSections": [{"layout": "oneColumn", "id": "1", "emphasis": "none",
                    "columns": [{"id": "1", "width": 12, "webparts": webparts}]}],
            });
        }
        v
    }
}

async fn token(
    State(g): State<FakeGraph>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut t = g.state.lock().unwrap();
    *t.hits.entry("token").or_default() += 1;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if tenant != g.tenant {
        return aad_error(StatusCode::BAD_REQUEST, "invalid_request", 90002, &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."));
    }
    if get("grant_type") != "client_credentials" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if get("scope") != GRAPH_SCOPE {
        return aad_error(StatusCode::BAD_REQUEST, "invalid_scope", 1002012, &format!("The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", get("scope")));
    }
    if get("client_id") != g.client_id {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                get("client_id")
            ),
        );
    }
    if get("client_secret") != g.client_secret {
        return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", g.client_id));
    }
    t.next_id += 1;
    let tok = format!(
        "eyJ0eXAiOiJKV1QifQ.{}.sig",
        b64(&json!({"n": t.next_id, "tid": tenant}))
    );
    let life = t.token_lifetime;
    t.tokens
        .insert(tok.clone(), Instant::now() + Duration::from_secs(life));
    Json(json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": tok})).into_response()
}

async fn user_drive(
    State(g): State<FakeGraph>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Response {
    if let Err(r) = g.check(&headers, "user_drive") {
        return r;
    }
    let t = g.state.lock().unwrap();
    match t.drives.values().find(|d| {
        d.owner
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(&user))
    }) {
        Some(d) => Json(g.drive_json(&t, d)).into_response(),
        None => graph_error(StatusCode::NOT_FOUND, "ResourceNotFound", "User not found"),
    }
}

/// `/sites/{host}:/sites/{path}`, `/sites/{id}/drives`, `/sites/{id}/pages/microsoft.graph.sitePage`,
/// `/sites/{id}/pages/{page}/microsoft.graph.sitePage`.
async fn sites(
    State(g): State<FakeGraph>,
    headers: HeaderMap,
    Path(rest): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let parts: Vec<&str> = rest.split('/').collect();
    let route = match parts.as_slice() {
        [host, "sites", _] if host.ends_with(':') => "site",
        [_, "drives"] => "drives",
        [_, "pages", "microsoft.graph.sitePage"] => "pages",
        [_, "pages", _, "microsoft.graph.sitePage"] => "page",
        _ => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource not found for the segment '{rest}'."),
            )
        }
    };
    if let Err(r) = g.check(&headers, route) {
        return r;
    }
    let t = g.state.lock().unwrap();
    let site_of = |id: &str| t.sites.iter().find(|s| s.id == id).cloned();
    match (route, parts.as_slice()) {
        ("site", [host, _, path]) => {
            let host = host.trim_end_matches(':');
            match t.sites.iter().find(|s| s.host.eq_ignore_ascii_case(host) && s.path.eq_ignore_ascii_case(path)) {
                Some(s) => Json(json!({
                    "@odata.context": format!("{}/v1.0/$metadata#sites/$entity", g.origin()),
                    "id": s.id, "name": s.path, "displayName": s.display_name,
                    "webUrl": format!("https://{}/sites/{}", s.host, s.path),
                    "createdDateTime": "2024-01-02T03:04:05Z", "lastModifiedDateTime": "2024-01-02T03:04:05Z",
                    "siteCollection": {"hostname": s.host},
                }))
                .into_response(),
                None => graph_error(StatusCode::NOT_FOUND, "itemNotFound", "Requested site could not be found"),
            }
        }
        ("drives", [id, _]) => {
            if site_of(id).is_none() {
                return graph_error(
                    StatusCode::NOT_FOUND,
                    "itemNotFound",
                    "Requested site could not be found",
                );
            }
            let value: Vec<Value> = t
                .drives
                .values()
                .filter(|d| d.site_id.as_deref() == Some(*id))
                .map(|d| {
                    let mut v = g.drive_json(&t, d);
                    v.as_object_mut().unwrap().remove("@odata.context");
                    v
                })
                .collect();
            Json(json!({"@odata.context": format!("{}/v1.0/$metadata#drives", g.origin()), "value": value})).into_response()
        }
        ("pages", [id, ..]) => {
            if site_of(id).is_none() {
                return graph_error(
                    StatusCode::NOT_FOUND,
                    "itemNotFound",
                    "Requested site could not be found",
                );
            }
            let all: Vec<Value> = t
                .pages
                .values()
                .filter(|p| p.site_id == *id)
                .map(|p| g.page_json(&t, p, false))
                .collect();
            let top = q
                .get("$top")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(t.page_size)
                .max(1);
            let skip = q
                .get("$skiptoken")
                .and_then(|s| unb64(s))
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as usize;
            let value: Vec<Value> = all.iter().skip(skip).take(top).cloned().collect();
            let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#sites('{id}')/pages/microsoft.graph.sitePage", g.origin()), "value": value});
            if skip + top < all.len() {
                body["@odata.nextLink"] = format!(
                    "{}/v1.0/sites/{id}/pages/microsoft.graph.sitePage?$top={top}&$skiptoken={}",
                    g.origin(),
                    b64(&json!(skip + top))
                )
                .into();
            }
            Json(body).into_response()
        }
        ("page", [id, _, pid, _]) => match t.pages.get(*pid).filter(|p| p.site_id == *id) {
            Some(p) => {
                let canvas = q
                    .get("$expand")
                    .is_some_and(|e| e.split(',').any(|x| x.trim() == "canvasLayout"));
                Json(g.page_json(&t, p, canvas)).into_response()
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// `/drives/{id}/root/delta`, `/drives/{id}/items/{item}`, `/drives/{id}/items/{item}/content`.
async fn drives(
    State(g): State<FakeGraph>,
    headers: HeaderMap,
    Path(rest): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let parts: Vec<&str> = rest.split('/').collect();
    let route = match parts.as_slice() {
        [_, "root", "delta"] => "delta",
        [_, "items", _] => "item",
        [_, "items", _, "content"] => "content",
        _ => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource not found for the segment '{rest}'."),
            )
        }
    };
    if let Err(r) = g.check(&headers, route) {
        return r;
    }
    let mut t = g.state.lock().unwrap();
    let drive_id = parts[0].to_owned();
    if !t.drives.contains_key(&drive_id) {
        return graph_error(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            "The provided drive id appears to be malformed, or does not represent a valid drive.",
        );
    }
    match route {
        "delta" => {
            // token = {since, upto, offset}: changes after `since` up to the walk's snapshot.
            let (since, upto, offset, incremental) = match q.get("token") {
                None => (0, t.seq, 0usize, false),
                Some(tok) => match unb64(tok) {
                    Some(v) => (
                        v["since"].as_u64().unwrap_or(0),
                        // A delta link's token has no snapshot: it reads up to now.
                        v["upto"].as_u64().unwrap_or(t.seq),
                        v["offset"].as_u64().unwrap_or(0) as usize,
                        true,
                    ),
                    None => {
                        return graph_error(
                            StatusCode::BAD_REQUEST,
                            "invalidRequest",
                            "Invalid delta token.",
                        )
                    }
                },
            };
            if incremental && since < t.oldest_token && since > 0 {
                return graph_error(StatusCode::GONE, "resyncRequired", "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.");
            }
            // A walk that began without a token is a full listing: no tombstones.
            let full = since == 0;
            let mut changed: Vec<&ItemRec> = t
                .items
                .values()
                .filter(|i| {
                    i.drive_id == drive_id && i.seq > since && i.seq <= upto && !(full && i.deleted)
                })
                .collect();
            changed.sort_by_key(|i| i.seq);
            let top = q
                .get("$top")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(t.page_size)
                .min(t.page_size)
                .max(1);
            let total = changed.len();
            let value: Vec<Value> = changed
                .iter()
                .skip(offset)
                .take(top)
                .map(|i| g.item_json(&t, i, false))
                .collect();
            let n = value.len() as u64;
            let base = format!("{}/v1.0/drives/{drive_id}/root/delta", g.origin());
            let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#Collection(driveItem)", g.origin()), "value": value});
            if offset + top < total {
                body["@odata.nextLink"] = format!(
                    "{base}?token={}",
                    b64(
                        &json!({"since": since, "upto": upto, "offset": offset + top, "walk": true})
                    )
                )
                .into();
            } else {
                body["@odata.deltaLink"] =
                    format!("{base}?token={}", b64(&json!({"since": upto}))).into();
            }
            if incremental && since > 0 {
                t.changed_served += n;
            }
            Json(body).into_response()
        }
        "item" => match t
            .items
            .get(parts[2])
            .filter(|i| i.drive_id == drive_id && !i.deleted)
        {
            Some(i) => Json(g.item_json(&t, i, true)).into_response(),
            None => not_found(),
        },
        _ => {
            let Some(i) = t
                .items
                .get(parts[2])
                .filter(|i| i.drive_id == drive_id && !i.deleted && !i.folder)
            else {
                return not_found();
            };
            let key = b64(&json!({"item": i.id, "seq": i.seq}));
            let id = i.id.clone();
            t.downloads.insert(key.clone(), id);
            let location = format!("{}/download/{key}?tempauth=v1.{key}", g.origin());
            (StatusCode::FOUND, [("location", location)]).into_response()
        }
    }
}

/// The pre-authenticated download URL: no bearer token, as the real one lives on SharePoint.
async fn download(
    State(g): State<FakeGraph>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut t = g.state.lock().unwrap();
    *t.hits.entry("download").or_default() += 1;
    if q.get("tempauth") != Some(&format!("v1.{key}")) {
        return (StatusCode::UNAUTHORIZED, "401 UNAUTHORIZED").into_response();
    }
    let Some(id) = t.downloads.get(&key).cloned() else {
        return (StatusCode::NOT_FOUND, "404 FILE NOT FOUND").into_response();
    };
    match t.items.get(&id).filter(|i| !i.deleted) {
        Some(i) => ([("content-type", i.mime.clone())], i.bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "404 FILE NOT FOUND").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let v = json!({"since": 3, "upto": 9, "offset": 2, "walk": true});
        assert_eq!(unb64(&b64(&v)), Some(v));
    }
}
