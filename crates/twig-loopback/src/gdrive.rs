//! Google Drive API v3 and Google's OAuth 2.0 token endpoint, on one loopback origin.
//!
//! Wire details kept: the token endpoint takes a form, either a service account's RS256 JWT
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, checked against the account's
//! public key, `iss`, `aud`, `scope` and expiry) or a refresh token, and answers errors as
//! `{"error", "error_description"}`; API errors are `{"error": {"code", "message", "errors":
//! [{"reason", ...}]}}`; `files.list` filters by a `q` of `'<id>' in parents`, `trashed =
//! false` and `mimeType` terms with opaque `nextPageToken`s; `size` is a string; Google Docs
//! editors files have no binary content (`alt=media` answers 403 `fileNotDownloadable`) and
//! are read with `files/{id}/export`; the Changes API numbers changes, collapses a file's
//! changes into its latest state, says `removed` for files gone or no longer shared and
//! `file.trashed` for trashed ones, and ends a list with `newStartPageToken`.

use crate::{rfc3339, Faults};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The PKCS#8 private key of the test service account (generated for these tests only).
pub const TEST_PRIVATE_KEY: &str = include_str!("../testdata/gdrive-test-key.pem");
const TEST_PUBLIC_KEY: &str = include_str!("../testdata/gdrive-test-key.pub.pem");

/// The read-only Drive scope a sync asks for.
pub const DRIVE_READONLY: &str = "https://www.googleapis.com/auth/drive.readonly";
/// MIME type of folders.
pub const FOLDER: &str = "application/vnd.google-apps.folder";
/// MIME type of Google Docs.
pub const DOC: &str = "application/vnd.google-apps.document";
/// MIME type of Google Sheets.
pub const SHEET: &str = "application/vnd.google-apps.spreadsheet";
/// MIME type of Google Slides.
pub const SLIDES: &str = "application/vnd.google-apps.presentation";

#[derive(Debug, Clone)]
struct FileRec {
    id: String,
    name: String,
    mime: String,
    parents: Vec<String>,
    drive_id: Option<String>,
    /// Content; for Docs editors files, what the export answers (Markdown, CSV or text).
    bytes: Vec<u8>,
    modified: DateTime<Utc>,
    /// Number of its last change.
    seq: u64,
    trashed: bool,
    /// Deleted for good, or no longer shared with the account.
    removed: bool,
    /// Listed, but its content is refused (403) to the account.
    readable: bool,
    author: String,
}

#[derive(Default)]
struct DriveState {
    files: BTreeMap<String, FileRec>,
    next_id: u64,
    seq: u64,
    tokens: HashMap<String, Instant>,
    token_lifetime: u64,
    page_size: usize,
    hits: HashMap<&'static str, u64>,
    /// Changes served by `changes.list`.
    changed_served: u64,
    /// The next API calls answering 403 `userRateLimitExceeded`.
    rate_limited: u32,
    /// Refresh-token sign-in: client id, client secret and the refresh token.
    oauth: Option<(String, String, String)>,
}

/// A Google account's Drive in memory, shared with one service account.
#[derive(Clone)]
pub struct FakeDrive {
    state: Arc<Mutex<DriveState>>,
    /// The service account (`client_email`) allowed in.
    pub client_email: String,
    /// Injected failures (the token endpoint included).
    pub faults: Faults,
    origin: Arc<Mutex<String>>,
}

fn api_error(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }})),
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn not_found(id: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "notFound",
        &format!("File not found: {id}."),
    )
}

impl FakeDrive {
    /// An empty Drive shared with the service account `client_email`.
    pub fn new(client_email: &str) -> Self {
        Self {
            state: Arc::new(Mutex::new(DriveState {
                next_id: 100,
                token_lifetime: 3599,
                page_size: 100,
                ..DriveState::default()
            })),
            client_email: client_email.into(),
            faults: Faults::default(),
            origin: Arc::new(Mutex::new(String::new())),
        }
    }

    /// The service account's JSON key file, as Google's console downloads it.
    pub fn service_account_json(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "twig-tests",
            "private_key_id": "0123456789abcdef",
            "private_key": TEST_PRIVATE_KEY,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string()
    }

    /// Also accepts the refresh-token grant for this OAuth client and token.
    pub fn allow_oauth(&self, client_id: &str, client_secret: &str, refresh_token: &str) {
        self.state.lock().unwrap().oauth =
            Some((client_id.into(), client_secret.into(), refresh_token.into()));
    }

    /// Serves the Drive; answers `(served, base_url, token_url)` for a data source's config.
    pub async fn serve(&self) -> std::io::Result<(crate::Served, String, String)> {
        let served = crate::serve(self.router()).await?;
        *self.origin.lock().unwrap() = served.origin.clone();
        let base = format!("{}/drive/v3", served.origin);
        let token = format!("{}/token", served.origin);
        Ok((served, base, token))
    }

    /// The routes, faults in front.
    pub fn router(&self) -> Router {
        let app = Router::new()
            .route("/token", post(token))
            .route("/drive/v3/files", get(list_files))
            .route("/drive/v3/files/{id}", get(get_file))
            .route("/drive/v3/files/{id}/export", get(export))
            .route("/drive/v3/changes/startPageToken", get(start_token))
            .route("/drive/v3/changes", get(changes))
            .with_state(self.clone());
        self.faults.wrap(app)
    }

    fn insert(&self, parent: Option<&str>, name: &str, mime: &str, bytes: &[u8]) -> String {
        let mut t = self.state.lock().unwrap();
        t.next_id += 1;
        let id = format!("1{:x}Gd{}", t.next_id * 2_654_435_761, t.next_id);
        t.seq += 1;
        let drive_id = parent.and_then(|p| t.files.get(p).and_then(|f| f.drive_id.clone()));
        let rec = FileRec {
            id: id.clone(),
            name: name.into(),
            mime: mime.into(),
            parents: parent.map(|p| vec![p.to_owned()]).unwrap_or_default(),
            drive_id,
            bytes: bytes.to_vec(),
            modified: Utc::now(),
            seq: t.seq,
            trashed: false,
            removed: false,
            readable: true,
            author: "Grace Writer".into(),
        };
        t.files.insert(id.clone(), rec);
        id
    }

    /// A folder under `parent` (`None`: at the top of My Drive); answers its id.
    pub fn folder(&self, parent: Option<&str>, name: &str) -> String {
        self.insert(parent, name, FOLDER, b"")
    }

    /// A shared drive; its id is also the id of its top folder, as in Drive.
    pub fn shared_drive(&self, name: &str) -> String {
        let id = self.insert(None, name, FOLDER, b"");
        let mut t = self.state.lock().unwrap();
        let f = t.files.get_mut(&id).unwrap();
        f.drive_id = Some(id.clone());
        id
    }

    /// An uploaded file; answers its id.
    pub fn add_file(&self, parent: Option<&str>, name: &str, mime: &str, bytes: &[u8]) -> String {
        self.insert(parent, name, mime, bytes)
    }

    /// A Google Doc whose Markdown export is `markdown`.
    pub fn add_doc(&self, parent: Option<&str>, title: &str, markdown: &str) -> String {
        self.insert(parent, title, DOC, markdown.as_bytes())
    }

    /// A Google Sheet whose CSV export (its first sheet) is `csv`.
    pub fn add_sheet(&self, parent: Option<&str>, title: &str, csv: &str) -> String {
        self.insert(parent, title, SHEET, csv.as_bytes())
    }

    /// Google Slides whose plain-text export is `text`.
    pub fn add_slides(&self, parent: Option<&str>, title: &str, text: &str) -> String {
        self.insert(parent, title, SLIDES, text.as_bytes())
    }

    fn change(&self, id: &str, f: impl FnOnce(&mut FileRec)) {
        let mut t = self.state.lock().unwrap();
        t.seq += 1;
        let seq = t.seq;
        let rec = t.files.get_mut(id).expect("a file");
        f(rec);
        rec.seq = seq;
        rec.modified = Utc::now();
    }

    /// Replaces a file's content (a Doc's export).
    pub fn edit(&self, id: &str, bytes: &[u8]) {
        self.change(id, |f| f.bytes = bytes.to_vec());
    }

    /// Moves a file to the trash (Changes: `file.trashed`).
    pub fn trash(&self, id: &str) {
        self.change(id, |f| f.trashed = true);
    }

    /// Deletes a file for good, or unshares it (Changes: `removed`).
    pub fn remove(&self, id: &str) {
        self.change(id, |f| f.removed = true);
    }

    /// Moves a file under another folder.
    pub fn move_to(&self, id: &str, parent: &str) {
        let drive = self
            .state
            .lock()
            .unwrap()
            .files
            .get(parent)
            .and_then(|p| p.drive_id.clone());
        self.change(id, |f| {
            f.parents = vec![parent.to_owned()];
            f.drive_id = drive;
        });
    }

    /// Keeps a file listed but refuses its content to the account.
    pub fn make_unreadable(&self, id: &str) {
        self.state
            .lock()
            .unwrap()
            .files
            .get_mut(id)
            .unwrap()
            .readable = false;
    }

    /// Files per `files.list` and `changes.list` page.
    pub fn set_page_size(&self, n: usize) {
        self.state.lock().unwrap().page_size = n.max(1);
    }

    /// Seconds an access token lives.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.state.lock().unwrap().token_lifetime = secs;
    }

    /// The next `n` API calls answer 403 `userRateLimitExceeded`, Drive's own throttling.
    pub fn rate_limit_next(&self, n: u32) {
        self.state.lock().unwrap().rate_limited = n;
    }

    /// Calls of one kind so far: `token`, `list`, `get`, `media`, `export`, `changes`.
    pub fn hits(&self, kind: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    /// Changes `changes.list` has served so far.
    pub fn changed_served(&self) -> u64 {
        self.state.lock().unwrap().changed_served
    }

    fn hit(t: &mut DriveState, kind: &'static str) {
        *t.hits.entry(kind).or_default() += 1;
    }

    /// The bearer token is one this server issued and it has not expired; then Drive's
    /// own throttling, when injected.
    fn check(&self, headers: &HeaderMap, kind: &'static str) -> Result<(), Response> {
        let mut t = self.state.lock().unwrap();
        Self::hit(&mut t, kind);
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if t.tokens.get(token).is_none_or(|exp| *exp <= Instant::now()) {
            return Err(api_error(
                StatusCode::UNAUTHORIZED,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            ));
        }
        if t.rate_limited > 0 {
            t.rate_limited -= 1;
            return Err(api_error(
                StatusCode::FORBIDDEN,
                "userRateLimitExceeded",
                "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota.",
            ));
        }
        Ok(())
    }
}

fn file_json(f: &FileRec) -> Value {
    let mut v = json!({
        "kind": "drive#file",
        "id": f.id,
        "name": f.name,
        "mimeType": f.mime,
        "parents": f.parents,
        "modifiedTime": rfc3339(f.modified),
        "trashed": f.trashed,
        "webViewLink": if f.mime.starts_with("application/vnd.google-apps.") {
            format!("https://docs.google.com/document/d/{}/edit", f.id)
        } else {
            format!("https://drive.google.com/file/d/{}/view", f.id)
        },
        "lastModifyingUser": {"kind": "drive#user", "displayName": f.author},
    });
    if !f.mime.starts_with("application/vnd.google-apps.") {
        v["size"] = json!(f.bytes.len().to_string());
    }
    if let Some(d) = &f.drive_id {
        v["driveId"] = json!(d);
    }
    v
}

async fn token(State(d): State<FakeDrive>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut t = d.state.lock().unwrap();
    FakeDrive::hit(&mut t, "token");
    let origin = d.origin.lock().unwrap().clone();
    match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let Some(assertion) = form.get("assertion") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing required parameter: assertion",
                );
            };
            #[derive(serde::Deserialize)]
            struct Claims {
                iss: String,
                scope: String,
                iat: i64,
            }
            let key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes())
                .expect("the test public key");
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            v.set_audience(&[format!("{origin}/token")]);
            v.set_required_spec_claims(&["exp", "iss", "aud"]);
            let claims = match jsonwebtoken::decode::<Claims>(assertion, &key, &v) {
                Ok(c) => c.claims,
                Err(e) => {
                    let why = match e.kind() {
                        jsonwebtoken::errors::ErrorKind::InvalidSignature => "Invalid JWT Signature.".to_owned(),
                        jsonwebtoken::errors::ErrorKind::ExpiredSignature => "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".to_owned(),
                        jsonwebtoken::errors::ErrorKind::InvalidAudience => "Invalid JWT: Failed audience check.".to_owned(),
                        other => format!("Invalid JWT: {other:?}"),
                    };
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &why);
                }
            };
            if claims.iss != d.client_email {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid grant: account not found",
                );
            }
            if (claims.iat - Utc::now().timestamp()).abs() > 300 {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
            }
            if !claims
                .scope
                .split(' ')
                .any(|s| s == DRIVE_READONLY || s == "https://www.googleapis.com/auth/drive")
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "Invalid OAuth scope or ID token audience provided.",
                );
            }
        }
        Some("refresh_token") => {
            let Some((id, secret, refresh)) = t.oauth.clone() else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The OAuth client was not found.",
                );
            };
            if form.get("client_id") != Some(&id) {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The OAuth client was not found.",
                );
            }
            if form.get("client_secret") != Some(&secret) {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
            }
            if form.get("refresh_token") != Some(&refresh) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Invalid grant_type.",
            );
        }
    }
    t.next_id += 1;
    let access = format!("ya29.a0Af{}", t.next_id * 7919);
    let life = t.token_lifetime;
    t.tokens
        .insert(access.clone(), Instant::now() + Duration::from_secs(life));
    Json(json!({"access_token": access, "expires_in": life, "token_type": "Bearer"}))
        .into_response()
}

/// One term of the `q` filters a sync sends.
enum Term {
    InParents(String),
    Trashed(bool),
    MimeIs(String, bool),
}

fn parse_q(q: &str) -> Option<Vec<Term>> {
    let quoted = |s: &str| {
        let s = s.trim();
        s.strip_prefix('\'')?.strip_suffix('\'').map(str::to_owned)
    };
    q.split(" and ")
        .map(|term| {
            let term = term.trim();
            if let Some(id) = term.strip_suffix(" in parents") {
                return quoted(id).map(Term::InParents);
            }
            if let Some(v) = term.strip_prefix("trashed =") {
                return match v.trim() {
                    "false" => Some(Term::Trashed(false)),
                    "true" => Some(Term::Trashed(true)),
                    _ => None,
                };
            }
            if let Some(v) = term.strip_prefix("mimeType !=") {
                return quoted(v).map(|m| Term::MimeIs(m, false));
            }
            if let Some(v) = term.strip_prefix("mimeType =") {
                return quoted(v).map(|m| Term::MimeIs(m, true));
            }
            None
        })
        .collect()
}

fn matches(f: &FileRec, terms: &[Term]) -> bool {
    terms.iter().all(|t| match t {
        Term::InParents(p) => f.parents.iter().any(|x| x == p),
        Term::Trashed(b) => f.trashed == *b,
        Term::MimeIs(m, eq) => (f.mime == *m) == *eq,
    })
}

fn all_drives(q: &HashMap<String, String>) -> Result<(), Response> {
    if q.contains_key("driveId")
        && !(q.get("supportsAllDrives").is_some_and(|v| v == "true")
            && q.get("includeItemsFromAllDrives")
                .is_some_and(|v| v == "true"))
    {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "teamDrivesParameterRequired",
            "The includeItemsFromAllDrives parameter must be set to true when driveId is set.",
        ));
    }
    Ok(())
}

async fn list_files(
    State(d): State<FakeDrive>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = d.check(&headers, "list").and_then(|()| all_drives(&q)) {
        return r;
    }
    let terms = match q.get("q").map(|s| parse_q(s)) {
        None => Vec::new(),
        Some(Some(t)) => t,
        Some(None) => {
            return api_error(StatusCode::BAD_REQUEST, "invalid", "Invalid Value");
        }
    };
    let t = d.state.lock().unwrap();
    let corpora = q.get("corpora").map(String::as_str).unwrap_or("user");
    let drive = q.get("driveId");
    if corpora == "drive" && drive.is_none() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "The driveId parameter is required when corpora is drive.",
        );
    }
    let size = q
        .get("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000)
        .min(t.page_size);
    let offset: usize = match q.get("pageToken") {
        None => 0,
        Some(p) => match p.strip_prefix("~!!~").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return api_error(StatusCode::BAD_REQUEST, "invalid", "Invalid Value"),
        },
    };
    let all: Vec<&FileRec> = t
        .files
        .values()
        .filter(|f| !f.removed && f.drive_id.as_ref() != Some(&f.id))
        .filter(|f| match (corpora, drive) {
            ("drive", Some(dr)) => f.drive_id.as_ref() == Some(dr),
            _ => {
                f.drive_id.is_none()
                    || q.get("includeItemsFromAllDrives")
                        .is_some_and(|v| v == "true")
            }
        })
        .filter(|f| matches(f, &terms))
        .collect();
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|f| file_json(f))
        .collect();
    let mut out = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": page});
    if offset + size < all.len() {
        out["nextPageToken"] = json!(format!("~!!~{}", offset + size));
    }
    Json(out).into_response()
}

async fn get_file(
    State(d): State<FakeDrive>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let media = q.get("alt").is_some_and(|a| a == "media");
    if let Err(r) = d.check(&headers, if media { "media" } else { "get" }) {
        return r;
    }
    let t = d.state.lock().unwrap();
    let Some(f) = t.files.get(&id).filter(|f| !f.removed) else {
        return not_found(&id);
    };
    if !media {
        return Json(file_json(f)).into_response();
    }
    if f.mime.starts_with("application/vnd.google-apps.") {
        return api_error(
            StatusCode::FORBIDDEN,
            "fileNotDownloadable",
            "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
        );
    }
    if !f.readable {
        return api_error(
            StatusCode::FORBIDDEN,
            "cannotDownloadFile",
            "The user does not have permission to download this file.",
        );
    }
    ([("content-type", f.mime.clone())], f.bytes.clone()).into_response()
}

async fn export(
    State(d): State<FakeDrive>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = d.check(&headers, "export") {
        return r;
    }
    let t = d.state.lock().unwrap();
    let Some(f) = t.files.get(&id).filter(|f| !f.removed) else {
        return not_found(&id);
    };
    let want = q.get("mimeType").map(String::as_str).unwrap_or_default();
    let ok = match f.mime.as_str() {
        DOC => ["text/markdown", "text/plain", "text/html"].contains(&want),
        SHEET => want == "text/csv",
        SLIDES => want == "text/plain",
        _ => false,
    };
    if !ok {
        return api_error(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "The requested conversion is not supported.",
        );
    }
    if !f.readable {
        return api_error(
            StatusCode::FORBIDDEN,
            "cannotExportFile",
            "This file cannot be exported by the user.",
        );
    }
    let body = if f.mime == DOC && want == "text/plain" {
        // Plain text loses Markdown's heading marks.
        String::from_utf8_lossy(&f.bytes)
            .lines()
            .map(|l| l.trim_start_matches('#').trim_start())
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    } else {
        f.bytes.clone()
    };
    ([("content-type", want.to_owned())], body).into_response()
}

async fn start_token(
    State(d): State<FakeDrive>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = d.check(&headers, "start") {
        return r;
    }
    if q.contains_key("driveId") && q.get("supportsAllDrives").is_none_or(|v| v != "true") {
        return api_error(
            StatusCode::FORBIDDEN,
            "teamDrivesParameterRequired",
            "The supportsAllDrives parameter must be set to true when driveId is set.",
        );
    }
    let t = d.state.lock().unwrap();
    Json(json!({"kind": "drive#startPageToken", "startPageToken": (t.seq + 1).to_string()}))
        .into_response()
}

async fn changes(
    State(d): State<FakeDrive>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = d.check(&headers, "changes").and_then(|()| all_drives(&q)) {
        return r;
    }
    let Some(from) = q.get("pageToken").and_then(|p| p.parse::<u64>().ok()) else {
        return api_error(StatusCode::BAD_REQUEST, "invalid", "Invalid Value");
    };
    let mut t = d.state.lock().unwrap();
    let size = q
        .get("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000)
        .min(t.page_size);
    let drive = q.get("driveId");
    let all_drives = q
        .get("includeItemsFromAllDrives")
        .is_some_and(|v| v == "true");
    let mut changed: Vec<&FileRec> = t
        .files
        .values()
        .filter(|f| f.seq >= from && f.drive_id.as_ref() != Some(&f.id))
        .filter(|f| match drive {
            Some(dr) => f.drive_id.as_ref() == Some(dr),
            None => f.drive_id.is_none() || all_drives,
        })
        .collect();
    changed.sort_by_key(|f| f.seq);
    let page: Vec<&FileRec> = changed.iter().take(size).copied().collect();
    let list: Vec<Value> = page
        .iter()
        .map(|f| {
            let mut c = json!({
                "kind": "drive#change", "changeType": "file", "fileId": f.id,
                "removed": f.removed, "time": rfc3339(f.modified),
            });
            if !f.removed {
                c["file"] = file_json(f);
            }
            c
        })
        .collect();
    let mut out = json!({"kind": "drive#changeList", "changes": list});
    match changed.get(size) {
        Some(next) => out["nextPageToken"] = json!(next.seq.to_string()),
        None => out["newStartPageToken"] = json!((t.seq + 1).to_string()),
    }
    t.changed_served += page.len() as u64;
    Json(out).into_response()
}
