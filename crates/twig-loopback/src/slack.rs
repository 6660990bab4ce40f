//! Slack's Web API for a bot token: `auth.test`, `conversations.list`, `conversations.history`,
//! `conversations.replies`, `users.info` and `chat.getPermalink`, under `/api`; and what the
//! Slack app posts: `chat.postMessage` (a JSON body) and slash-command `response_url`s
//! (`/commands/…`), both recorded for tests to read.
//!
//! Wire details kept: every answer is HTTP 200 with `"ok"`, failures as
//! `{"ok": false, "error": "invalid_auth"}` (also `not_authed`, `channel_not_found`,
//! `not_in_channel`, `user_not_found`, `invalid_cursor`); throttling is HTTP 429 with
//! `Retry-After` and `{"ok": false, "error": "ratelimited"}`; message timestamps are strings
//! (`"1512085950.000216"`) that also identify a message; history lists newest first and leaves
//! thread replies out (their parent carries `thread_ts`, `reply_count`, `latest_reply`);
//! replies list the parent first; pages continue with `response_metadata.next_cursor`, empty
//! on the last page. Methods take query parameters; the token is sent as `Authorization: Bearer`.

use crate::{has_bearer, Faults};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A conversation.
#[derive(Debug, Clone)]
pub struct Channel {
    /// `C…` or `G…`.
    pub id: String,
    /// Name without `#`.
    pub name: String,
    /// A private channel.
    pub is_private: bool,
    /// The bot is a member.
    pub is_member: bool,
    /// Archived.
    pub is_archived: bool,
}

/// A message; replies carry their parent's `ts` as `thread_ts`.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its timestamp and id.
    pub ts: String,
    /// Author's user id.
    pub user: String,
    /// Text in Slack's markup.
    pub text: String,
    /// The parent's ts for a reply.
    pub thread_ts: Option<String>,
    /// When it was last edited, as a ts.
    pub edited: Option<String>,
}

/// A message the app posted with `chat.postMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// Conversation id.
    pub channel: String,
    /// The thread it went to, if any.
    pub thread_ts: Option<String>,
    /// Its text (mrkdwn).
    pub text: String,
    /// Its blocks, if it had any.
    pub blocks: Option<Value>,
    /// The ts Slack gave it.
    pub ts: String,
}

/// An answer the app sent to a slash command's `response_url`.
#[derive(Debug, Clone, PartialEq)]
pub struct Responded {
    /// The URL's path (`/commands/…`).
    pub path: String,
    /// The JSON body.
    pub body: Value,
}

#[derive(Default)]
struct Workspace {
    /// Messages the app posted, oldest first.
    posted: Vec<Posted>,
    /// Answers sent to response URLs, oldest first.
    responded: Vec<Responded>,
    /// `error` codes the next `chat.postMessage` calls answer (HTTP 200, `ok: false`).
    post_errors: Vec<String>,
    channels: BTreeMap<String, Channel>,
    /// Channel id -> ts -> message.
    messages: HashMap<String, BTreeMap<Key, Message>>,
    /// User id -> display name.
    users: BTreeMap<String, String>,
    next_id: u64,
    /// Sub-second part of the next ts, so messages posted in one second stay distinct.
    seq: u64,
    hits: HashMap<String, u64>,
    /// Messages served by `conversations.history` and `conversations.replies`.
    served: u64,
}

/// A ts as microseconds, for ordering and `oldest`/`latest`.
type Key = u128;

fn key_of(ts: &str) -> Option<Key> {
    let (s, f) = ts.split_once('.').unwrap_or((ts, "0"));
    let s: u128 = s.parse().ok()?;
    let f = format!("{f:0<6}");
    let f: u128 = f.get(..6)?.parse().ok()?;
    Some(s * 1_000_000 + f)
}

/// A Slack workspace in memory.
#[derive(Clone)]
pub struct FakeSlack {
    ws: Arc<Mutex<Workspace>>,
    /// The bot token accepted.
    pub token: String,
    /// Injected failures.
    pub faults: Faults,
    origin: Arc<Mutex<String>>,
}

impl FakeSlack {
    /// An empty workspace accepting `token`.
    pub fn new(token: &str) -> Self {
        Self {
            ws: Arc::new(Mutex::new(Workspace {
                next_id: 100,
                ..Workspace::default()
            })),
            token: token.into(),
            faults: Faults::default(),
            origin: Arc::new(Mutex::new(String::new())),
        }
    }

    /// Serves the workspace; the answer's base URL is what `config.base_url` takes.
    pub async fn serve(&self) -> std::io::Result<(crate::Served, String)> {
        let served = crate::serve(self.router()).await?;
        *self.origin.lock().unwrap() = served.origin.clone();
        let base = format!("{}/api", served.origin);
        Ok((served, base))
    }

    /// The routes, faults in front.
    pub fn router(&self) -> Router {
        let app = Router::new()
            .route("/api/chat.postMessage", post(post_message))
            .route("/commands/{*rest}", post(respond))
            .route("/api/{method}", get(method).post(method))
            .with_state(self.clone());
        self.faults.wrap(app)
    }

    /// Adds a channel; answers its id.
    pub fn add_channel(&self, name: &str, is_private: bool, is_member: bool) -> String {
        let mut w = self.ws.lock().unwrap();
        w.next_id += 1;
        let id = format!("{}{:08}", if is_private { 'G' } else { 'C' }, w.next_id);
        w.channels.insert(
            id.clone(),
            Channel {
                id: id.clone(),
                name: name.into(),
                is_private,
                is_member,
                is_archived: false,
            },
        );
        id
    }

    /// Archives a channel (it leaves `exclude_archived` listings).
    pub fn archive(&self, channel: &str) {
        let mut w = self.ws.lock().unwrap();
        w.channels.get_mut(channel).expect("a channel").is_archived = true;
    }

    /// Adds a user; answers the id.
    pub fn add_user(&self, display_name: &str) -> String {
        let mut w = self.ws.lock().unwrap();
        w.next_id += 1;
        let id = format!("U{:08}", w.next_id);
        w.users.insert(id.clone(), display_name.into());
        id
    }

    fn insert(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        at: DateTime<Utc>,
        thread: Option<&str>,
    ) -> String {
        let mut w = self.ws.lock().unwrap();
        w.seq = (w.seq + 1) % 1_000_000;
        let ts = format!("{}.{:06}", at.timestamp(), w.seq);
        let m = Message {
            ts: ts.clone(),
            user: user.into(),
            text: text.into(),
            thread_ts: thread.map(str::to_owned),
            edited: None,
        };
        w.messages
            .entry(channel.into())
            .or_default()
            .insert(key_of(&ts).unwrap(), m);
        ts
    }

    /// Posts a message at `at`; answers its ts.
    pub fn post(&self, channel: &str, user: &str, text: &str, at: DateTime<Utc>) -> String {
        self.insert(channel, user, text, at, None)
    }

    /// Replies in the thread of `parent_ts` at `at`; answers the reply's ts.
    pub fn reply(
        &self,
        channel: &str,
        parent_ts: &str,
        user: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> String {
        let ts = self.insert(channel, user, text, at, Some(parent_ts));
        let mut w = self.ws.lock().unwrap();
        let parent = w
            .messages
            .get_mut(channel)
            .and_then(|m| m.get_mut(&key_of(parent_ts).unwrap()))
            .expect("a parent message");
        parent.thread_ts = Some(parent_ts.into());
        ts
    }

    /// Edits a message's text (`edited.ts` set to now).
    pub fn edit(&self, channel: &str, ts: &str, text: &str) {
        let mut w = self.ws.lock().unwrap();
        let m = w
            .messages
            .get_mut(channel)
            .and_then(|m| m.get_mut(&key_of(ts).unwrap()))
            .expect("a message");
        m.text = text.into();
        m.edited = Some(format!("{}.000000", Utc::now().timestamp()));
    }

    /// Deletes a message; deleting a thread's parent deletes its replies too.
    pub fn delete(&self, channel: &str, ts: &str) {
        let mut w = self.ws.lock().unwrap();
        if let Some(m) = w.messages.get_mut(channel) {
            m.retain(|k, v| *k != key_of(ts).unwrap() && v.thread_ts.as_deref() != Some(ts));
            // A parent whose replies are all gone is a plain message again.
            let parents: Vec<Key> = m
                .iter()
                .filter(|(_, v)| v.thread_ts.as_deref() == Some(v.ts.as_str()))
                .map(|(k, _)| *k)
                .collect();
            for p in parents {
                let pts = m[&p].ts.clone();
                if !m
                    .values()
                    .any(|v| v.ts != pts && v.thread_ts.as_deref() == Some(&pts))
                {
                    m.get_mut(&p).unwrap().thread_ts = None;
                }
            }
        }
    }

    /// Requests served for a method (`conversations.history`, `users.info`, ...).
    pub fn hits(&self, method: &str) -> u64 {
        self.ws
            .lock()
            .unwrap()
            .hits
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// Messages the app posted so far, oldest first.
    pub fn posted(&self) -> Vec<Posted> {
        self.ws.lock().unwrap().posted.clone()
    }

    /// Answers sent to response URLs so far, oldest first.
    pub fn responded(&self) -> Vec<Responded> {
        self.ws.lock().unwrap().responded.clone()
    }

    /// The next `chat.postMessage` calls answer `{"ok": false, "error": <code>}`, one per code
    /// (`ratelimited` with HTTP 429 and `Retry-After: 1`, as Slack throttles).
    pub fn fail_posts_with(&self, codes: &[&str]) {
        let mut w = self.ws.lock().unwrap();
        w.post_errors.extend(codes.iter().map(|c| c.to_string()));
    }

    /// A slash command's `response_url` on this server (after [`FakeSlack::serve`]).
    pub fn response_url(&self, id: &str) -> String {
        format!(
            "{}/commands/T00000001/{id}/loopback",
            self.origin.lock().unwrap()
        )
    }

    /// Messages served by history and replies requests so far.
    pub fn messages_served(&self) -> u64 {
        self.ws.lock().unwrap().served
    }
}

fn fail(error: &str) -> Response {
    Json(json!({"ok": false, "error": error})).into_response()
}

fn ok(mut body: Map<String, Value>) -> Response {
    body.insert("ok".into(), json!(true));
    Json(Value::Object(body)).into_response()
}

fn decode_cursor(c: Option<&String>) -> Result<usize, Response> {
    match c.map(String::as_str) {
        None | Some("") => Ok(0),
        Some(c) => base64::engine::general_purpose::STANDARD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| fail("invalid_cursor")),
    }
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{offset}"))
}

/// `limit`, clamped as Slack does (at most 999 for history, 1000 for lists).
fn limit_of(q: &HashMap<String, String>, default: usize) -> usize {
    q.get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(default)
        .min(999)
}

/// One page of `all` with `has_more` and `response_metadata.next_cursor`.
fn page_of(all: Vec<Value>, q: &HashMap<String, String>, field: &str) -> Response {
    let start = match decode_cursor(q.get("cursor")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let limit = limit_of(q, 100);
    let more = start + limit < all.len();
    let mut body = Map::new();
    body.insert(
        field.into(),
        Value::Array(all.into_iter().skip(start).take(limit).collect()),
    );
    body.insert("has_more".into(), json!(more));
    body.insert(
        "response_metadata".into(),
        json!({"next_cursor": if more { encode_cursor(start + limit) } else { String::new() }}),
    );
    ok(body)
}

fn message_json(m: &Message, all: &BTreeMap<Key, Message>) -> Value {
    let mut v = json!({"type": "message", "user": m.user, "text": m.text, "ts": m.ts});
    if let Some(t) = &m.thread_ts {
        v["thread_ts"] = json!(t);
        if t == &m.ts {
            let replies: Vec<&Message> = all
                .values()
                .filter(|r| r.thread_ts.as_deref() == Some(&m.ts) && r.ts != m.ts)
                .collect();
            v["reply_count"] = json!(replies.len());
            if let Some(last) = replies.last() {
                v["latest_reply"] = json!(last.ts);
            }
        } else {
            v["parent_user_id"] = json!(all
                .get(&key_of(t).unwrap_or_default())
                .map(|p| p.user.clone()));
        }
    }
    if let Some(e) = &m.edited {
        v["edited"] = json!({"user": m.user, "ts": e});
    }
    v
}

/// `oldest`/`latest` bounds (exclusive unless `inclusive`), as Slack reads them.
fn in_range(k: Key, q: &HashMap<String, String>) -> bool {
    let inclusive = matches!(q.get("inclusive").map(String::as_str), Some("true" | "1"));
    let oldest = q.get("oldest").and_then(|t| key_of(t));
    let latest = q.get("latest").and_then(|t| key_of(t));
    oldest.is_none_or(|o| if inclusive { k >= o } else { k > o })
        && latest.is_none_or(|l| if inclusive { k <= l } else { k < l })
}

/// `chat.postMessage` with a JSON body, as the Slack app sends it. A public channel the bot is
/// not in answers `not_in_channel`; an unknown (or hidden private) one `channel_not_found`;
/// direct-message ids (`D…`) are always open.
async fn post_message(State(s): State<FakeSlack>, headers: HeaderMap, body: String) -> Response {
    let mut w = s.ws.lock().unwrap();
    *w.hits.entry("chat.postMessage".into()).or_default() += 1;
    if !headers.contains_key("authorization") {
        return fail("not_authed");
    }
    if !has_bearer(&headers, &s.token) {
        return fail("invalid_auth");
    }
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let Ok(b) = serde_json::from_str::<Value>(&body) else {
        return fail("invalid_json");
    };
    if !json_body {
        return fail("invalid_form_data");
    }
    if !w.post_errors.is_empty() {
        let code = w.post_errors.remove(0);
        if code == "ratelimited" {
            // Slack throttles with HTTP 429, Retry-After and the error in the body.
            let mut r = fail(&code);
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            return r;
        }
        return fail(&code);
    }
    let Some(channel) = b["channel"].as_str().map(str::to_owned) else {
        return fail("channel_not_found");
    };
    if !channel.starts_with('D') {
        match w.channels.get(&channel) {
            None => return fail("channel_not_found"),
            Some(c) if c.is_private && !c.is_member => return fail("channel_not_found"),
            Some(c) if !c.is_member => return fail("not_in_channel"),
            Some(c) if c.is_archived => return fail("is_archived"),
            Some(_) => {}
        }
    }
    let text = b["text"].as_str().unwrap_or_default().to_owned();
    let blocks = b.get("blocks").cloned();
    if text.is_empty() && blocks.is_none() {
        return fail("no_text");
    }
    let thread_ts = b["thread_ts"].as_str().map(str::to_owned);
    w.seq = (w.seq + 1) % 1_000_000;
    let ts = format!("{}.{:06}", Utc::now().timestamp(), w.seq);
    let m = Message {
        ts: ts.clone(),
        user: "U00000001".into(),
        text: text.clone(),
        thread_ts: thread_ts.clone(),
        edited: None,
    };
    w.messages
        .entry(channel.clone())
        .or_default()
        .insert(key_of(&ts).unwrap(), m);
    w.posted.push(Posted {
        channel: channel.clone(),
        thread_ts,
        text: text.clone(),
        blocks,
        ts: ts.clone(),
    });
    let mut out = Map::new();
    out.insert("channel".into(), json!(channel));
    out.insert("ts".into(), json!(ts));
    out.insert(
        "message".into(),
        json!({"type": "message", "user": "U00000001", "bot_id": "B00000001", "text": text, "ts": ts}),
    );
    ok(out)
}

/// A slash command's `response_url`: records the JSON answer, says `ok`.
async fn respond(
    State(s): State<FakeSlack>,
    uri: axum::http::Uri,
    Json(body): Json<Value>,
) -> Response {
    let mut w = s.ws.lock().unwrap();
    *w.hits.entry("response_url".into()).or_default() += 1;
    w.responded.push(Responded {
        path: uri.path().to_owned(),
        body,
    });
    "ok".into_response()
}

async fn method(
    State(s): State<FakeSlack>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut w = s.ws.lock().unwrap();
    *w.hits.entry(name.clone()).or_default() += 1;
    if !headers.contains_key("authorization") {
        return fail("not_authed");
    }
    if !has_bearer(&headers, &s.token) {
        return fail("invalid_auth");
    }
    let channel = || -> Result<Channel, Response> {
        let id = q.get("channel").ok_or_else(|| fail("channel_not_found"))?;
        let c = w
            .channels
            .get(id)
            .cloned()
            .ok_or_else(|| fail("channel_not_found"))?;
        // A bot sees private channels only when invited.
        if c.is_private && !c.is_member {
            return Err(fail("channel_not_found"));
        }
        Ok(c)
    };
    match name.as_str() {
        "auth.test" => {
            let mut b = Map::new();
            b.insert("url".into(), json!("https://acme.slack.com/"));
            b.insert("team".into(), json!("Acme"));
            b.insert("user".into(), json!("twig"));
            b.insert("team_id".into(), json!("T00000001"));
            b.insert("user_id".into(), json!("U00000001"));
            b.insert("bot_id".into(), json!("B00000001"));
            ok(b)
        }
        "conversations.list" => {
            let types = q
                .get("types")
                .map_or("public_channel", String::as_str)
                .to_owned();
            let exclude_archived = matches!(
                q.get("exclude_archived").map(String::as_str),
                Some("true" | "1")
            );
            let all: Vec<Value> = w
                .channels
                .values()
                .filter(|c| {
                    let ty = if c.is_private {
                        "private_channel"
                    } else {
                        "public_channel"
                    };
                    types.split(',').any(|t| t.trim() == ty)
                        && !(exclude_archived && c.is_archived)
                        && (!c.is_private || c.is_member)
                })
                .map(|c| {
                    json!({
                        "id": c.id, "name": c.name, "is_channel": !c.is_private,
                        "is_group": c.is_private, "is_im": false, "is_private": c.is_private,
                        "is_archived": c.is_archived, "is_member": c.is_member,
                        "created": 1_449_252_889,
                    })
                })
                .collect();
            page_of(all, &q, "channels")
        }
        "conversations.history" | "conversations.replies" => {
            let c = match channel() {
                Ok(c) => c,
                Err(r) => return r,
            };
            if !c.is_member {
                return fail("not_in_channel");
            }
            let empty = BTreeMap::new();
            let all = w.messages.get(&c.id).unwrap_or(&empty);
            let list: Vec<Value> = if name == "conversations.history" {
                all.iter()
                    .rev()
                    .filter(|(k, m)| {
                        in_range(**k, &q) && m.thread_ts.as_deref().is_none_or(|t| t == m.ts)
                    })
                    .map(|(_, m)| message_json(m, all))
                    .collect()
            } else {
                let Some(ts) = q.get("ts") else {
                    return fail("thread_not_found");
                };
                if !all.contains_key(&key_of(ts).unwrap_or_default()) {
                    return fail("thread_not_found");
                }
                all.iter()
                    .filter(|(k, m)| {
                        m.ts == *ts
                            || (m.thread_ts.as_deref() == Some(ts.as_str()) && in_range(**k, &q))
                    })
                    .map(|(_, m)| message_json(m, all))
                    .collect()
            };
            let resp = page_of(list.clone(), &q, "messages");
            let start = decode_cursor(q.get("cursor")).unwrap_or(0);
            w.served += list.len().saturating_sub(start).min(limit_of(&q, 100)) as u64;
            resp
        }
        "users.info" => {
            let Some(id) = q.get("user") else {
                return fail("user_not_found");
            };
            match w.users.get(id) {
                None => fail("user_not_found"),
                Some(display) => {
                    let mut b = Map::new();
                    b.insert(
                        "user".into(),
                        json!({
                            "id": id, "team_id": "T00000001",
                            "name": display.to_lowercase().replace(' ', "."),
                            "real_name": display, "is_bot": false, "deleted": false,
                            "profile": {"display_name": display, "real_name": display},
                        }),
                    );
                    ok(b)
                }
            }
        }
        "chat.getPermalink" => {
            let c = match channel() {
                Ok(c) => c,
                Err(r) => return r,
            };
            let Some(ts) = q.get("message_ts") else {
                return fail("message_not_found");
            };
            let known = w
                .messages
                .get(&c.id)
                .is_some_and(|m| m.contains_key(&key_of(ts).unwrap_or_default()));
            if !known {
                return fail("message_not_found");
            }
            let mut b = Map::new();
            b.insert("channel".into(), json!(c.id));
            b.insert(
                "permalink".into(),
                json!(format!(
                    "https://acme.slack.com/archives/{}/p{}",
                    c.id,
                    ts.replace('.', "")
                )),
            );
            ok(b)
        }
        _ => (StatusCode::NOT_FOUND, fail("unknown_method")).into_response(),
    }
}
