//! Google Drive (API v3): the files a service account or an OAuth user can read, optionally
//! only under some folders or in one shared drive.
//!
//! Auth: a service account's key signs an RS256 JWT exchanged at the token endpoint for an
//! access token (or an OAuth refresh token is exchanged), refreshed before it expires.
//! A first sync takes the Changes API's start token, then lists the files (`files.list`,
//! folder by folder when `folder_ids` are set); later syncs read only `changes.list` from the
//! saved token: trashed and removed files are deleted, changed ones fetched again. Google Docs
//! are exported as Markdown, Slides as text, Sheets as CSV; uploaded files are downloaded
//! (`alt=media`) and parsed. A file whose content the account may not read becomes a failed
//! document, not a failed sync. Folder moves carry no change for the files inside, so
//! folder-scoped sources are also listed in full every `prune_every` syncs.

use super::http::{Auth, ConnectorEnv, Remote};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};
use twig_core::connector::{
    ChangePage, ConnectionReport, Connector, ConnectorError, Item, ItemContent,
};
use twig_core::datasource::DataSource;
use url::Url;

const DEFAULT_BASE: &str = "https://www.googleapis.com/drive/v3";
const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";
const FOLDER: &str = "application/vnd.google-apps.folder";
const GOOGLE_APPS: &str = "application/vnd.google-apps.";
/// Files per page: each page's contents are fetched before its cursor is saved.
const PAGE_SIZE: usize = 50;
/// A token is replaced this long before it expires (at most half its lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Drive's 403 rate limits are retried this many times, waiting 1 s, 2 s, 4 s...
const RATE_LIMIT_RETRIES: u32 = 4;
/// Folders above a file looked at before it counts as outside the configured ones.
const MAX_DEPTH: usize = 64;
const FILE_FIELDS: &str =
    "id,name,mimeType,parents,modifiedTime,size,webViewLink,trashed,driveId,lastModifyingUser(displayName)";

fn config_error(field: &str, message: String) -> ConnectorError {
    ConnectorError::Config {
        field: Some(field.into()),
        message,
    }
}

/// How the connector signs in.
enum Credentials {
    ServiceAccount {
        email: String,
        key: jsonwebtoken::EncodingKey,
    },
    RefreshToken {
        client_id: String,
        client_secret: String,
        refresh_token: String,
    },
}

impl Credentials {
    /// The config field to fix when Google refuses them.
    fn field(&self) -> &'static str {
        match self {
            Self::ServiceAccount { .. } => "config.service_account_json",
            Self::RefreshToken { .. } => "config.refresh_token",
        }
    }
}

#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DriveFile {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    parents: Vec<String>,
    modified_time: Option<DateTime<Utc>>,
    /// Drive writes int64 as strings.
    size: Option<String>,
    web_view_link: Option<String>,
    #[serde(default)]
    trashed: bool,
    drive_id: Option<String>,
    last_modifying_user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<DriveFile>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeList {
    #[serde(default)]
    changes: Vec<Change>,
    next_page_token: Option<String>,
    new_start_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    file_id: Option<String>,
    #[serde(default)]
    removed: bool,
    file: Option<DriveFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartToken {
    start_page_token: String,
}

/// Where a sync is; saved by the driver after each committed page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// The Changes API's token taken before the full listing began; what follows it.
    #[serde(default)]
    start: Option<String>,
    /// A full listing in progress.
    #[serde(default)]
    listing: Option<Listing>,
    /// After a full listing: the changes token to read from.
    #[serde(default)]
    changes: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Listing {
    /// Folders still to list, the current one first (empty when listing everything).
    #[serde(default)]
    folders: Vec<String>,
    /// `nextPageToken` within the current folder (or the whole listing).
    #[serde(default)]
    page: Option<String>,
}

/// The Google Drive connector.
pub(crate) struct GoogleDrive {
    api: Remote,
    login: Remote,
    token_url: Url,
    credentials: Credentials,
    refresh_at: tokio::sync::Mutex<Option<Instant>>,
    folders: Vec<String>,
    drive_id: Option<String>,
    max_file_bytes: u64,
    /// Folder id -> whether it is one of `folders` or under one.
    in_scope: tokio::sync::Mutex<HashMap<String, bool>>,
}

/// Opens a Google Drive connector from a validated config.
pub(crate) fn open(
    ds: &DataSource,
    env: &ConnectorEnv,
) -> Result<Box<dyn Connector>, ConnectorError> {
    let c = &ds.config;
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let credentials = if let Some(raw) = s("service_account_json") {
        let key: ServiceAccountKey = serde_json::from_str(&raw).map_err(|e| {
            config_error(
                "config.service_account_json",
                format!("config.service_account_json is not a service account key: {e}"),
            )
        })?;
        let signing =
            jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|e| {
                config_error(
                    "config.service_account_json",
                    format!(
                        "the private_key of config.service_account_json is not an RSA key: {e}"
                    ),
                )
            })?;
        Credentials::ServiceAccount {
            email: key.client_email,
            key: signing,
        }
    } else {
        let need = |k: &str| {
            s(k).ok_or_else(|| {
                config_error(&format!("config.{k}"), format!("config.{k} is missing"))
            })
        };
        Credentials::RefreshToken {
            refresh_token: need("refresh_token")?,
            client_id: need("client_id")?,
            client_secret: need("client_secret")?,
        }
    };
    let field = credentials.field();
    let api = Remote::new(
        "Google Drive",
        &s("base_url").unwrap_or_else(|| DEFAULT_BASE.into()),
        Auth::None,
        field,
        env,
    )?;
    let token_raw = s("token_url").unwrap_or_else(|| DEFAULT_TOKEN_URL.into());
    let login = Remote::new(
        "Google's token endpoint",
        &token_raw,
        Auth::None,
        field,
        env,
    )
    .map_err(|e| match e {
        ConnectorError::Config { message, .. } => config_error(
            "config.token_url",
            message.replace("config.base_url", "config.token_url"),
        ),
        other => other,
    })?;
    // The token URL is used as written (no trailing slash): it is also the JWT's audience.
    let token_url = Url::parse(&token_raw).map_err(|e| {
        config_error(
            "config.token_url",
            format!("config.token_url {token_raw:?} is not a URL: {e}"),
        )
    })?;
    let mut folders: Vec<String> = c
        .get("folder_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(one) = s("folder_id") {
        if !folders.contains(&one) {
            folders.insert(0, one);
        }
    }
    Ok(Box::new(GoogleDrive {
        api,
        login,
        token_url,
        credentials,
        refresh_at: tokio::sync::Mutex::new(None),
        in_scope: tokio::sync::Mutex::new(folders.iter().map(|f| (f.clone(), true)).collect()),
        folders,
        drive_id: s("drive_id"),
        max_file_bytes: env.max_file_bytes,
    }))
}

/// Whether a refusal is Drive's throttling (403 `userRateLimitExceeded`/`rateLimitExceeded`).
fn is_rate_limit(message: &str) -> bool {
    message.contains("Rate Limit Exceeded") || message.contains("rateLimitExceeded")
}

impl GoogleDrive {
    /// A token valid for a while; `force` replaces one Drive refused.
    async fn ensure_token(&self, force: bool) -> Result<(), ConnectorError> {
        let mut slot = self.refresh_at.lock().await;
        if !force && slot.is_some_and(|t| t > Instant::now()) {
            return Ok(());
        }
        let field = self.credentials.field();
        let assertion;
        let form: Vec<(&str, &str)> = match &self.credentials {
            Credentials::ServiceAccount { email, key } => {
                let now = Utc::now().timestamp();
                let claims = Claims {
                    iss: email,
                    scope: SCOPE,
                    aud: self.token_url.as_str(),
                    iat: now,
                    exp: now + 3600,
                };
                let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                assertion = jsonwebtoken::encode(&header, &claims, key)
                    .map_err(|e| config_error(field, format!("cannot sign with {field}: {e}")))?;
                vec![
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.as_str()),
                ]
            }
            Credentials::RefreshToken {
                client_id,
                client_secret,
                refresh_token,
            } => vec![
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("refresh_token", refresh_token),
            ],
        };
        let answer: TokenAnswer = self
            .login
            .post_form(self.token_url.clone(), &form)
            .await
            .map_err(|e| match e {
                // The token endpoint refuses bad keys and tokens with 400 or 401.
                ConnectorError::Auth { message, .. } | ConnectorError::Permanent(message) => {
                    let blamed =
                        if message.contains("invalid_client") || message.contains("OAuth client") {
                            "config.client_id"
                        } else {
                            field
                        };
                    let first = message.split("; check ").next().unwrap_or(&message);
                    ConnectorError::Auth {
                        field: blamed.into(),
                        message: format!("{first}; check {blamed}"),
                    }
                }
                other => other,
            })?;
        let life = Duration::from_secs(answer.expires_in.unwrap_or(3599));
        self.api.set_auth(Auth::Bearer(answer.access_token));
        *slot = Some(Instant::now() + life - REFRESH_MARGIN.min(life / 2));
        Ok(())
    }

    /// Runs a Drive call with a fresh token: a 401 gets one more try with a new token, and
    /// Drive's 403 rate limits are waited out with backoff.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, ConnectorError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        self.ensure_token(false).await?;
        let mut refreshed = false;
        let mut throttled = 0;
        loop {
            match f().await {
                Err(ConnectorError::Auth { message, .. })
                    if message.contains("answered 401") && !refreshed =>
                {
                    refreshed = true;
                    self.ensure_token(true).await?;
                }
                Err(ConnectorError::Auth { message, .. }) if is_rate_limit(&message) => {
                    let message = message
                        .split("; check ")
                        .next()
                        .unwrap_or(&message)
                        .to_owned();
                    if throttled >= RATE_LIMIT_RETRIES {
                        return Err(ConnectorError::RateLimited {
                            message,
                            retry_after: None,
                        });
                    }
                    tokio::time::sleep(Duration::from_secs(1 << throttled)).await;
                    throttled += 1;
                }
                r => return r,
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, ConnectorError> {
        self.call(|| self.api.get_json(url.clone())).await
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let mut u = self.api.url(path)?;
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("supportsAllDrives", "true");
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(u)
    }

    /// `files.list` parameters for the configured corpus.
    fn corpus(&self) -> Vec<(&str, &str)> {
        match &self.drive_id {
            Some(d) => vec![
                ("corpora", "drive"),
                ("driveId", d.as_str()),
                ("includeItemsFromAllDrives", "true"),
            ],
            None => vec![("corpora", "user"), ("includeItemsFromAllDrives", "true")],
        }
    }

    async fn list_page(
        &self,
        q: &str,
        page: Option<&str>,
        fields: &str,
    ) -> Result<FileList, ConnectorError> {
        let size = PAGE_SIZE.to_string();
        let mut query = self.corpus();
        query.extend([("q", q), ("pageSize", size.as_str()), ("fields", fields)]);
        if let Some(p) = page {
            query.push(("pageToken", p));
        }
        let url = self.url("files", &query)?;
        self.get(url).await
    }

    async fn start_token(&self) -> Result<String, ConnectorError> {
        let mut query = Vec::new();
        if let Some(d) = &self.drive_id {
            query.push(("driveId", d.as_str()));
        }
        let url = self.url("changes/startPageToken", &query)?;
        let t: StartToken = self.get(url).await.map_err(|e| match (e, &self.drive_id) {
            (ConnectorError::Permanent(m), Some(_)) if m.contains("404") => {
                config_error("config.drive_id", format!("{m}; check config.drive_id"))
            }
            (e, _) => e,
        })?;
        Ok(t.start_page_token)
    }

    /// Every configured folder exists and the account sees it.
    async fn check_folders(&self) -> Result<(), ConnectorError> {
        for id in &self.folders {
            let url = self.url(&format!("files/{id}"), &[("fields", "id,mimeType")])?;
            let found: Option<DriveFile> = self.call(|| self.api.get_json_opt(url.clone())).await?;
            match found {
                None => {
                    return Err(config_error(
                        "config.folder_ids",
                        format!("Google Drive has no folder {id:?} the account can see; check config.folder_ids and that the folder is shared with it"),
                    ))
                }
                Some(f) if f.mime_type != FOLDER => {
                    return Err(config_error(
                        "config.folder_ids",
                        format!("{id:?} is a file ({}), not a folder; check config.folder_ids", f.mime_type),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Whether folder `id` is one of the configured ones or under one.
    async fn folder_in_scope(&self, id: &str, depth: usize) -> Result<bool, ConnectorError> {
        if let Some(known) = self.in_scope.lock().await.get(id) {
            return Ok(*known);
        }
        if depth > MAX_DEPTH {
            return Ok(false);
        }
        let url = self.url(&format!("files/{id}"), &[("fields", "id,parents")])?;
        let found: Option<DriveFile> = self.call(|| self.api.get_json_opt(url.clone())).await?;
        let mut inside = false;
        if let Some(f) = found {
            for p in &f.parents {
                if Box::pin(self.folder_in_scope(p, depth + 1)).await? {
                    inside = true;
                    break;
                }
            }
        }
        self.in_scope.lock().await.insert(id.to_owned(), inside);
        Ok(inside)
    }

    async fn file_in_scope(&self, f: &DriveFile) -> Result<bool, ConnectorError> {
        if let Some(d) = &self.drive_id {
            if f.drive_id.as_ref() != Some(d) {
                return Ok(false);
            }
        }
        if self.folders.is_empty() {
            return Ok(true);
        }
        for p in &f.parents {
            if self.folder_in_scope(p, 0).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// How a file is read: an export format and the name its parser sees, a download, or
    /// nothing (not knowledge: folders, forms, drawings, images, unknown formats).
    fn reading(f: &DriveFile) -> Option<(Option<&'static str>, String)> {
        let export =
            |mime: &'static str, ext: &str| Some((Some(mime), format!("{}.{ext}", f.name)));
        match f.mime_type.as_str() {
            "application/vnd.google-apps.document" => export("text/markdown", "md"),
            "application/vnd.google-apps.presentation" => export("text/plain", "txt"),
            "application/vnd.google-apps.spreadsheet" => export("text/csv", "csv"),
            m if m.starts_with(GOOGLE_APPS) => None,
            m if ["image/", "video/", "audio/"]
                .iter()
                .any(|p| m.starts_with(p)) =>
            {
                None
            }
            m => twig_parse::detect(&f.name, Some(m), &[]).map(|_| (None, f.name.clone())),
        }
    }

    /// The item for a file in scope, its content fetched; `None` when it is not knowledge.
    async fn item(&self, f: DriveFile) -> Result<Option<Item>, ConnectorError> {
        let Some((export, filename)) = Self::reading(&f) else {
            return Ok(None);
        };
        let mut metadata = Map::new();
        metadata.insert("source".into(), json!("google_drive"));
        metadata.insert("file_id".into(), json!(f.id));
        metadata.insert("mime_type".into(), json!(f.mime_type));
        if let Some(p) = f.parents.first() {
            metadata.insert("folder_id".into(), json!(p));
        }
        if let Some(d) = &f.drive_id {
            metadata.insert("drive_id".into(), json!(d));
        }
        if let Some(a) = f
            .last_modifying_user
            .as_ref()
            .and_then(|u| u.display_name.clone())
        {
            metadata.insert("author".into(), json!(a));
        }
        let size = f.size.as_deref().and_then(|s| s.parse::<u64>().ok());
        let content = match size {
            Some(n) if n > self.max_file_bytes => ItemContent::Skipped(format!(
                "skipped: {n} bytes, larger than ingest.max_file_bytes ({} bytes)",
                self.max_file_bytes
            )),
            _ => {
                let url = match export {
                    Some(m) => self.url(&format!("files/{}/export", f.id), &[("mimeType", m)])?,
                    None => self.url(&format!("files/{}", f.id), &[("alt", "media")])?,
                };
                let max = self.max_file_bytes;
                match self.call(|| self.api.get_bytes(url.clone(), max)).await {
                    Ok(Ok(bytes)) => ItemContent::File {
                        filename,
                        content_type: Some(export.unwrap_or(&f.mime_type).to_owned()),
                        bytes,
                    },
                    Ok(Err(reason)) => ItemContent::Failed(reason),
                    // The account sees the file but may not read it (download disabled,
                    // export too large): this file fails, the sync goes on.
                    Err(ConnectorError::Auth { message, .. })
                        if message.contains("answered 403") =>
                    {
                        let m = message.split("; check ").next().unwrap_or(&message);
                        ItemContent::Failed(format!("not readable: {m}"))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(Some(Item {
            external_id: f.id,
            title: f.name,
            url: f.web_view_link,
            updated_at: f.modified_time,
            metadata,
            content,
        }))
    }

    /// One page of the full listing.
    async fn listing_page(&self, mut c: Cursor) -> Result<ChangePage, ConnectorError> {
        let mut l = c.listing.take().unwrap_or_default();
        let fields = format!("nextPageToken,files({FILE_FIELDS})");
        let (q, folder) = match l.folders.first() {
            Some(folder) => (format!("'{folder}' in parents and trashed = false"), true),
            None => ("trashed = false".to_owned(), false),
        };
        let page = self.list_page(&q, l.page.as_deref(), &fields).await?;
        let mut items = Vec::new();
        let mut deleted = Vec::new();
        for f in page.files {
            if f.mime_type == FOLDER {
                if folder && !l.folders.contains(&f.id) {
                    self.in_scope.lock().await.insert(f.id.clone(), true);
                    l.folders.push(f.id);
                }
                continue;
            }
            let id = f.id.clone();
            match self.item(f).await? {
                Some(i) => items.push(i),
                // Perhaps renamed from a readable name: not (or no longer) imported.
                None => deleted.push(id),
            }
        }
        l.page = page.next_page_token;
        if l.page.is_none() && folder {
            l.folders.remove(0);
        }
        let done = l.page.is_none() && l.folders.is_empty();
        if done {
            c.changes = c.start.take();
        } else {
            c.listing = Some(l);
        }
        Ok(ChangePage {
            items,
            deleted,
            cursor: json!(c),
            done,
            total: None,
        })
    }

    /// One page of the Changes API.
    async fn changes_page(
        &self,
        mut c: Cursor,
        token: String,
    ) -> Result<ChangePage, ConnectorError> {
        let size = PAGE_SIZE.to_string();
        let fields =
            format!("nextPageToken,newStartPageToken,changes(fileId,removed,file({FILE_FIELDS}))");
        let mut query = vec![
            ("pageToken", token.as_str()),
            ("pageSize", size.as_str()),
            ("includeRemoved", "true"),
            ("includeItemsFromAllDrives", "true"),
            ("fields", fields.as_str()),
        ];
        if let Some(d) = &self.drive_id {
            query.push(("driveId", d.as_str()));
        }
        let url = self.url("changes", &query)?;
        let page: ChangeList = self.get(url).await?;
        let mut items = Vec::new();
        let mut deleted = Vec::new();
        for ch in page.changes {
            let Some(id) = ch
                .file_id
                .or_else(|| ch.file.as_ref().map(|f| f.id.clone()))
            else {
                continue;
            };
            let file = match ch.file {
                Some(f) if !ch.removed && !f.trashed => f,
                _ => {
                    deleted.push(id);
                    continue;
                }
            };
            if file.mime_type == FOLDER {
                // A folder moved or renamed: where its descendants are is asked again.
                let mut scope = self.in_scope.lock().await;
                scope.retain(|k, _| self.folders.contains(k));
                continue;
            }
            if !self.file_in_scope(&file).await? {
                // Outside the folders, perhaps moved out of them.
                deleted.push(id);
                continue;
            }
            match self.item(file).await? {
                Some(i) => items.push(i),
                None => deleted.push(id),
            }
        }
        let done = match (page.next_page_token, page.new_start_page_token) {
            (Some(next), _) => {
                c.changes = Some(next);
                false
            }
            (None, Some(new)) => {
                c.changes = Some(new);
                true
            }
            (None, None) => return Err(ConnectorError::Transient(
                "Google Drive sent a change list with neither nextPageToken nor newStartPageToken"
                    .into(),
            )),
        };
        Ok(ChangePage {
            items,
            deleted,
            cursor: json!(c),
            done,
            total: None,
        })
    }

    /// Ids of every file in scope now (no downloads).
    async fn list_all(&self) -> Result<Vec<String>, ConnectorError> {
        let fields = "nextPageToken,files(id,name,mimeType,size)";
        let mut out = Vec::new();
        let mut folders: Vec<Option<String>> = if self.folders.is_empty() {
            vec![None]
        } else {
            self.folders.iter().cloned().map(Some).collect()
        };
        let mut seen: Vec<String> = self.folders.clone();
        while let Some(folder) = folders.pop() {
            let q = match &folder {
                Some(f) => format!("'{f}' in parents and trashed = false"),
                None => "trashed = false".to_owned(),
            };
            let mut page = None;
            loop {
                let list = self.list_page(&q, page.as_deref(), fields).await?;
                for f in list.files {
                    if f.mime_type == FOLDER {
                        if folder.is_some() && !seen.contains(&f.id) {
                            seen.push(f.id.clone());
                            folders.push(Some(f.id));
                        }
                    } else if Self::reading(&f).is_some() {
                        out.push(f.id);
                    }
                }
                page = list.next_page_token;
                if page.is_none() {
                    break;
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[async_trait]
impl Connector for GoogleDrive {
    async fn test(&self) -> Result<ConnectionReport, ConnectorError> {
        self.check_folders().await?;
        let files = self.list_all().await?.len() as u64;
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
                    "the saved Google Drive cursor is unreadable: {e}"
                ))
            })?,
        };
        if let (None, Some(token)) = (&c.listing, c.changes.clone()) {
            return self.changes_page(c, token).await;
        }
        if c.listing.is_none() {
            self.check_folders().await?;
            // Changes made while the listing runs are read by the next sync.
            c.start = Some(self.start_token().await?);
            c.listing = Some(Listing {
                folders: self.folders.clone(),
                page: None,
            });
        }
        self.listing_page(c).await
    }

    async fn list_ids(&self) -> Result<Option<Vec<String>>, ConnectorError> {
        // The Changes API reports deletions, but a folder moved out of scope carries no
        // change for the files under it.
        if self.folders.is_empty() {
            return Ok(None);
        }
        self.list_all().await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, mime: &str) -> DriveFile {
        serde_json::from_value(json!({"id": "1a", "name": name, "mimeType": mime})).unwrap()
    }

    #[test]
    fn files_are_read_by_kind() {
        let r = |n: &str, m: &str| GoogleDrive::reading(&file(n, m));
        assert_eq!(
            r("Runbook", "application/vnd.google-apps.document"),
            Some((Some("text/markdown"), "Runbook.md".into()))
        );
        assert_eq!(
            r("Prices", "application/vnd.google-apps.spreadsheet"),
            Some((Some("text/csv"), "Prices.csv".into()))
        );
        assert_eq!(
            r("Deck", "application/vnd.google-apps.presentation"),
            Some((Some("text/plain"), "Deck.txt".into()))
        );
        assert_eq!(r("Form", "application/vnd.google-apps.form"), None);
        assert_eq!(r("logo.png", "image/png"), None);
        assert_eq!(
            r("guide.pdf", "application/pdf"),
            Some((None, "guide.pdf".into()))
        );
    }

    #[test]
    fn drive_throttling_is_told_apart_from_refusals() {
        assert!(is_rate_limit(
            "Google Drive answered 403 Forbidden: User Rate Limit Exceeded. Rate of requests"
        ));
        assert!(!is_rate_limit(
            "Google Drive answered 403 Forbidden: The user does not have permission"
        ));
    }

    #[test]
    fn the_cursor_round_trips() {
        let c = Cursor {
            start: Some("41".into()),
            listing: Some(Listing {
                folders: vec!["1abc".into()],
                page: Some("~!!~50".into()),
            }),
            changes: None,
        };
        let back: Cursor = serde_json::from_value(json!(c)).unwrap();
        assert_eq!(back, c);
        let old: Cursor = serde_json::from_value(json!({"changes": "7"})).unwrap();
        assert_eq!(old.changes.as_deref(), Some("7"));
    }
}
