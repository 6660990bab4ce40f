//! Slack: channel messages through the Web API, as day and thread documents.
//!
//! A thread (parent and replies) is one document; other messages of a channel are grouped per
//! UTC day into one document, so answers cite a permalink and read like a conversation. Each
//! page of changes reads one slice of [`SLICE_DAYS`] days of one channel, oldest first, so a
//! day or a thread is always built whole and a crash redoes at most one slice. A re-sync starts
//! [`RESCAN_DAYS`] before the newest message seen: Slack has no change feed, and edits,
//! deletions and new replies happen mostly on recent days. The ids a channel produced in that
//! window are kept in the cursor; one no longer produced is reported deleted.

use super::http::{Auth, ConnectorEnv, Remote};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use twig_core::connector::{
    ChangePage, ConnectionReport, Connector, ConnectorError, Item, ItemContent,
};
use twig_core::datasource::DataSource;
use twig_core::retrieval::SectionInput;

/// Days of history one page of changes reads.
const SLICE_DAYS: i64 = 7;
/// Days before the newest message seen that a re-sync reads again.
const RESCAN_DAYS: i64 = 7;
/// Messages per history or replies request (Slack advises at most 200).
const PAGE_LIMIT: &str = "200";
const DAY: i64 = 86_400;

/// Where a sync is; saved by the driver after each committed page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    #[serde(default)]
    channels: BTreeMap<String, ChannelState>,
    /// The sync under way, if any.
    #[serde(default)]
    run: Option<Run>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ChannelState {
    /// Newest message ts seen.
    latest: Option<String>,
    /// Documents produced on days a re-sync reads again.
    recent: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    /// Channel ids in sync order.
    order: Vec<String>,
    index: usize,
    /// Start of the next slice (a UTC midnight, Unix seconds).
    from: i64,
}

#[derive(Debug, Clone)]
struct ChannelInfo {
    id: String,
    name: String,
}

/// The Slack connector.
pub(crate) struct Slack {
    remote: Remote,
    /// Configured channels; empty: public channels the bot is a member of.
    channel_ids: Vec<String>,
    include_threads: bool,
    lookback_days: i64,
    channels: tokio::sync::OnceCell<Vec<ChannelInfo>>,
    /// User id -> display name, for this sync.
    users: tokio::sync::Mutex<HashMap<String, String>>,
}

/// Opens a Slack connector from a validated config.
pub(crate) fn open(
    ds: &DataSource,
    env: &ConnectorEnv,
) -> Result<Box<dyn Connector>, ConnectorError> {
    let c = &ds.config;
    // `bot_token`: configs stored before it became an alias of `token`.
    let token = c
        .get("token")
        .or_else(|| c.get("bot_token"))
        .and_then(Value::as_str)
        .ok_or_else(|| ConnectorError::Config {
            field: Some("config.token".into()),
            message: "config.token is missing (a bot token, xoxb-...)".into(),
        })?;
    let base = c
        .get("base_url")
        .and_then(Value::as_str)
        .unwrap_or("https://slack.com/api");
    let remote = Remote::new(
        "Slack",
        base,
        Auth::Bearer(token.into()),
        "config.token",
        env,
    )?;
    Ok(Box::new(Slack {
        remote,
        channel_ids: c
            .get("channel_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        include_threads: c
            .get("include_threads")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        lookback_days: c.get("lookback_days").and_then(Value::as_i64).unwrap_or(90),
        channels: tokio::sync::OnceCell::new(),
        users: tokio::sync::Mutex::new(HashMap::new()),
    }))
}

#[async_trait]
impl Connector for Slack {
    async fn test(&self) -> Result<ConnectionReport, ConnectorError> {
        self.call("auth.test", &[], None).await?;
        let n = self.channels().await?.len() as u64;
        Ok(ConnectionReport {
            items_found: n,
            message: format!(
                "Connection successful, found {n} channel{}",
                if n == 1 { "" } else { "s" }
            ),
        })
    }

    async fn changes(&self, cursor: Option<&Value>) -> Result<ChangePage, ConnectorError> {
        let mut cur: Cursor = match cursor {
            None => Cursor::default(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                ConnectorError::Permanent(format!("the saved Slack cursor is unreadable: {e}"))
            })?,
        };
        let now = Utc::now().timestamp();
        let run = match cur.run.take() {
            Some(r) => r,
            None => {
                let order: Vec<String> = self
                    .channels()
                    .await?
                    .iter()
                    .map(|c| c.id.clone())
                    .collect();
                let Some(first) = order.first() else {
                    return Ok(page(Vec::new(), Vec::new(), cur, true));
                };
                let from = self.start_of(&cur, first, now);
                Run {
                    order,
                    index: 0,
                    from,
                }
            }
        };
        let Some(channel_id) = run.order.get(run.index).cloned() else {
            return Ok(page(Vec::new(), Vec::new(), cur, true));
        };
        let name = self
            .channels()
            .await?
            .iter()
            .find(|c| c.id == channel_id)
            .map_or_else(|| channel_id.clone(), |c| c.name.clone());
        let channel = ChannelInfo {
            id: channel_id.clone(),
            name,
        };
        let to = (run.from + SLICE_DAYS * DAY).min(day_start(now) + DAY);
        let (items, deleted) = match self.history(&channel, run.from, to).await? {
            Some(messages) => {
                let state = cur.channels.entry(channel_id.clone()).or_default();
                let (items, newest) = self.build(&channel, messages).await?;
                let produced: BTreeSet<String> =
                    items.iter().map(|i| i.external_id.clone()).collect();
                let deleted: Vec<String> = state
                    .recent
                    .iter()
                    .filter(|id| {
                        id_time(id).is_some_and(|t| (run.from..to).contains(&t))
                            && !produced.contains(*id)
                    })
                    .cloned()
                    .collect();
                if let Some(n) = newest {
                    if state
                        .latest
                        .as_deref()
                        .is_none_or(|l| ts_key(&n) > ts_key(l))
                    {
                        state.latest = Some(n);
                    }
                }
                state.recent.retain(|id| !deleted.contains(id));
                state.recent.extend(produced);
                let keep_from = state
                    .latest
                    .as_deref()
                    .map_or(i64::MIN, |l| day_start(ts_secs(l) - RESCAN_DAYS * DAY));
                state
                    .recent
                    .retain(|id| id_time(id).is_some_and(|t| t >= keep_from));
                (items, deleted)
            }
            // Gone, archived or left since listed (only unconfigured channels): nothing to read.
            None => (Vec::new(), Vec::new()),
        };
        let mut next = run;
        if to > now {
            next.index += 1;
            match next.order.get(next.index) {
                None => return Ok(page(items, deleted, cur, true)),
                Some(id) => next.from = self.start_of(&cur, id, now),
            }
        } else {
            next.from = to;
        }
        cur.run = Some(next);
        Ok(page(items, deleted, cur, false))
    }
}

fn page(items: Vec<Item>, deleted: Vec<String>, cur: Cursor, done: bool) -> ChangePage {
    ChangePage {
        items,
        deleted,
        cursor: json!(cur),
        done,
        total: None,
    }
}

/// Midnight UTC of the day of `t` (Unix seconds).
fn day_start(t: i64) -> i64 {
    t.div_euclid(DAY) * DAY
}

/// A ts as (seconds, microseconds), for ordering.
fn ts_key(ts: &str) -> (i64, u32) {
    let (s, f) = ts.split_once('.').unwrap_or((ts, "0"));
    let f = format!("{f:0<6}");
    (
        s.parse().unwrap_or(0),
        f.get(..6).and_then(|f| f.parse().ok()).unwrap_or(0),
    )
}

fn ts_secs(ts: &str) -> i64 {
    ts_key(ts).0
}

fn ts_time(ts: &str) -> DateTime<Utc> {
    let (s, us) = ts_key(ts);
    DateTime::from_timestamp(s, us * 1000).unwrap_or_default()
}

fn day_id(channel: &str, day: NaiveDate) -> String {
    format!("{channel}/day/{day}")
}

fn thread_id(channel: &str, ts: &str) -> String {
    format!("{channel}/thread/{ts}")
}

/// When a document's messages start: its day's midnight, or its thread's parent ts.
fn id_time(id: &str) -> Option<i64> {
    let mut parts = id.splitn(3, '/');
    let (_, kind, rest) = (parts.next()?, parts.next()?, parts.next()?);
    match kind {
        "day" => Some(
            NaiveDate::parse_from_str(rest, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)?
                .and_utc()
                .timestamp(),
        ),
        "thread" => Some(ts_secs(rest)),
        _ => None,
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Msg {
    ts: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    reply_count: u64,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    bot_profile: Option<Named>,
    #[serde(default)]
    edited: Option<Edited>,
    #[serde(default)]
    files: Vec<File>,
}

#[derive(Debug, Clone, Deserialize)]
struct Named {
    name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Edited {
    ts: String,
}

#[derive(Debug, Clone, Deserialize)]
struct File {
    name: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize)]
struct Messages {
    #[serde(default)]
    messages: Vec<Msg>,
    #[serde(default)]
    response_metadata: Option<Meta>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    next_cursor: String,
}

#[derive(Deserialize)]
struct Channels {
    #[serde(default)]
    channels: Vec<Conversation>,
    #[serde(default)]
    response_metadata: Option<Meta>,
}

#[derive(Deserialize)]
struct Conversation {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_member: bool,
    #[serde(default)]
    is_archived: bool,
}

/// Membership and housekeeping events: nothing anyone said.
const NOISE: &[&str] = &[
    "channel_join",
    "channel_leave",
    "group_join",
    "group_leave",
    "channel_archive",
    "channel_unarchive",
    "group_archive",
    "group_unarchive",
    "pinned_item",
    "unpinned_item",
    "tombstone",
];

/// Slack's `error` codes that mean the token is not accepted.
const AUTH_ERRORS: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
];

impl Slack {
    /// Calls a Web API method; `{"ok": false}` answers become typed errors. `channel` names the
    /// conversation the call is about, for its errors.
    async fn call(
        &self,
        method: &str,
        params: &[(&str, &str)],
        channel: Option<&str>,
    ) -> Result<Value, ConnectorError> {
        let mut url = self.remote.url(method)?;
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        let v: Value = self.remote.get_json(url).await?;
        if v.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(v);
        }
        let error = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("an answer without \"ok\": true")
            .to_owned();
        Err(api_error(method, &error, &v, channel))
    }

    /// The channels to sync, in id order.
    async fn channels(&self) -> Result<&Vec<ChannelInfo>, ConnectorError> {
        self.channels
            .get_or_try_init(|| async {
                let types = if self.channel_ids.is_empty() {
                    "public_channel"
                } else {
                    "public_channel,private_channel"
                };
                let mut listed = Vec::new();
                let mut next = String::new();
                loop {
                    let mut params = vec![
                        ("types", types),
                        ("exclude_archived", "true"),
                        ("limit", PAGE_LIMIT),
                    ];
                    if !next.is_empty() {
                        params.push(("cursor", next.as_str()));
                    }
                    let v = self.call("conversations.list", &params, None).await?;
                    let page: Channels = serde_json::from_value(v).map_err(|e| {
                        ConnectorError::Transient(format!("Slack sent a channel list we cannot read: {e}"))
                    })?;
                    listed.extend(page.channels);
                    next = page.response_metadata.unwrap_or_default().next_cursor;
                    if next.is_empty() {
                        break;
                    }
                }
                let mut out: Vec<ChannelInfo> = if self.channel_ids.is_empty() {
                    listed
                        .into_iter()
                        .filter(|c| c.is_member && !c.is_archived)
                        .map(|c| ChannelInfo { id: c.id, name: c.name })
                        .collect()
                } else {
                    let mut out = Vec::new();
                    for id in &self.channel_ids {
                        let Some(c) = listed.iter().find(|c| &c.id == id) else {
                            return Err(ConnectorError::Config {
                                field: Some("config.channel_ids".into()),
                                message: format!(
                                    "Slack lists no channel {id} visible to this bot; check config.channel_ids (invite the bot to private channels)"
                                ),
                            });
                        };
                        if !c.is_member {
                            return Err(ConnectorError::Config {
                                field: Some("config.channel_ids".into()),
                                message: format!(
                                    "the bot is not a member of #{} ({id}); invite it (/invite) or remove it from config.channel_ids",
                                    c.name
                                ),
                            });
                        }
                        out.push(ChannelInfo { id: c.id.clone(), name: c.name.clone() });
                    }
                    out
                };
                out.sort_by(|a, b| a.id.cmp(&b.id));
                out.dedup_by(|a, b| a.id == b.id);
                Ok(out)
            })
            .await
    }

    /// Where this sync starts reading `channel`: the lookback limit, or a few days before the
    /// newest message seen.
    fn start_of(&self, cur: &Cursor, channel: &str, now: i64) -> i64 {
        let lookback = day_start(now - self.lookback_days * DAY);
        match cur.channels.get(channel).and_then(|s| s.latest.as_deref()) {
            Some(l) => lookback.max(day_start(ts_secs(l) - RESCAN_DAYS * DAY)),
            None => lookback,
        }
    }

    /// Messages (no thread replies) of `[from, to)`, oldest first; `None` when an unconfigured
    /// channel is no longer readable.
    async fn history(
        &self,
        channel: &ChannelInfo,
        from: i64,
        to: i64,
    ) -> Result<Option<Vec<Msg>>, ConnectorError> {
        let oldest = format!("{from}.000000");
        let latest = format!("{}.999999", to - 1);
        let configured = (!self.channel_ids.is_empty()).then_some(channel.id.as_str());
        let mut out = Vec::new();
        let mut next = String::new();
        loop {
            let mut params = vec![
                ("channel", channel.id.as_str()),
                ("oldest", oldest.as_str()),
                ("latest", latest.as_str()),
                ("inclusive", "true"),
                ("limit", PAGE_LIMIT),
            ];
            if !next.is_empty() {
                params.push(("cursor", next.as_str()));
            }
            let v = match self
                .call("conversations.history", &params, Some(&channel.id))
                .await
            {
                Ok(v) => v,
                Err(ConnectorError::Config { .. }) if configured.is_none() => return Ok(None),
                Err(e) => return Err(e),
            };
            let page: Messages = parse_messages(v)?;
            out.extend(page.messages);
            next = page.response_metadata.unwrap_or_default().next_cursor;
            if next.is_empty() {
                break;
            }
        }
        out.retain(|m| !m.subtype.as_deref().is_some_and(|s| NOISE.contains(&s)));
        out.sort_by_key(|m| ts_key(&m.ts));
        out.dedup_by(|a, b| a.ts == b.ts);
        Ok(Some(out))
    }

    /// A thread's replies (the parent left out), oldest first.
    async fn replies(&self, channel: &str, ts: &str) -> Result<Vec<Msg>, ConnectorError> {
        let mut out = Vec::new();
        let mut next = String::new();
        loop {
            let mut params = vec![("channel", channel), ("ts", ts), ("limit", PAGE_LIMIT)];
            if !next.is_empty() {
                params.push(("cursor", next.as_str()));
            }
            let v = match self
                .call("conversations.replies", &params, Some(channel))
                .await
            {
                Ok(v) => v,
                // Deleted between the history call and this one.
                Err(ConnectorError::Permanent(m)) if m.contains("thread_not_found") => break,
                Err(e) => return Err(e),
            };
            let page = parse_messages(v)?;
            out.extend(page.messages.into_iter().filter(|m| m.ts != ts));
            next = page.response_metadata.unwrap_or_default().next_cursor;
            if next.is_empty() {
                break;
            }
        }
        out.retain(|m| !m.subtype.as_deref().is_some_and(|s| NOISE.contains(&s)));
        out.sort_by_key(|m| ts_key(&m.ts));
        out.dedup_by(|a, b| a.ts == b.ts);
        Ok(out)
    }

    /// A user's display name, looked up once per sync.
    async fn user_name(&self, id: &str) -> Result<String, ConnectorError> {
        if let Some(n) = self.users.lock().await.get(id) {
            return Ok(n.clone());
        }
        let name = match self.call("users.info", &[("user", id)], None).await {
            Ok(v) => {
                let u = &v["user"];
                [
                    &u["profile"]["display_name"],
                    &u["profile"]["real_name"],
                    &u["real_name"],
                    &u["name"],
                ]
                .into_iter()
                .filter_map(Value::as_str)
                .find(|s| !s.trim().is_empty())
                .unwrap_or(id)
                .to_owned()
            }
            // Deleted users and other workspaces' users keep their id.
            Err(ConnectorError::Permanent(_)) => id.to_owned(),
            Err(e) => return Err(e),
        };
        self.users.lock().await.insert(id.into(), name.clone());
        Ok(name)
    }

    async fn author(&self, m: &Msg) -> Result<String, ConnectorError> {
        if let Some(u) = &m.user {
            return self.user_name(u).await;
        }
        Ok(m.bot_profile
            .as_ref()
            .and_then(|b| b.name.clone())
            .or_else(|| m.username.clone())
            .unwrap_or_else(|| "bot".into()))
    }

    /// A message's text in plain words: mentions, channel links and URLs resolved.
    async fn plain(&self, m: &Msg) -> Result<String, ConnectorError> {
        let mut out = String::new();
        let mut rest = m.text.as_str();
        while let Some(i) = rest.find('<') {
            out.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('>') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let inner = &rest[i + 1..i + j];
            let (target, label) = inner.split_once('|').unwrap_or((inner, ""));
            if let Some(u) = target.strip_prefix('@') {
                let name = if label.is_empty() {
                    self.user_name(u).await?
                } else {
                    label.to_owned()
                };
                out.push('@');
                out.push_str(&name);
            } else if let Some(c) = target.strip_prefix('#') {
                out.push('#');
                out.push_str(if label.is_empty() { c } else { label });
            } else if let Some(special) = target.strip_prefix('!') {
                if label.is_empty() {
                    out.push('@');
                    out.push_str(special.split('^').next().unwrap_or(special));
                } else {
                    out.push_str(label);
                }
            } else if label.is_empty() || label == target {
                out.push_str(target);
            } else {
                out.push_str(&format!("{label} ({target})"));
            }
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
        let mut text = unescape(&out);
        for f in &m.files {
            if let Some(n) = f.title.as_ref().or(f.name.as_ref()) {
                text.push_str(&format!(" [file: {n}]"));
            }
        }
        Ok(text.trim().to_owned())
    }

    /// "[14:03] Ada: text", with the date when the line may be on another day than its title.
    async fn line(&self, m: &Msg, with_date: bool) -> Result<(String, String), ConnectorError> {
        let who = self.author(m).await?;
        let t = ts_time(&m.ts);
        let when = if with_date {
            t.format("%Y-%m-%d %H:%M UTC").to_string()
        } else {
            t.format("%H:%M").to_string()
        };
        let edited = if m.edited.is_some() { " (edited)" } else { "" };
        let text = self.plain(m).await?;
        Ok((format!("[{when}] {who}: {text}{edited}"), who))
    }

    async fn permalink(&self, channel: &str, ts: &str) -> Result<Option<String>, ConnectorError> {
        match self
            .call(
                "chat.getPermalink",
                &[("channel", channel), ("message_ts", ts)],
                Some(channel),
            )
            .await
        {
            Ok(v) => Ok(v["permalink"].as_str().map(str::to_owned)),
            Err(ConnectorError::Permanent(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Day and thread documents from one slice's messages; answers them and the newest ts seen.
    async fn build(
        &self,
        channel: &ChannelInfo,
        messages: Vec<Msg>,
    ) -> Result<(Vec<Item>, Option<String>), ConnectorError> {
        let mut newest: Option<String> = None;
        let mut see = |ts: &str| {
            if newest.as_deref().is_none_or(|n| ts_key(ts) > ts_key(n)) {
                newest = Some(ts.to_owned());
            }
        };
        let mut days: BTreeMap<NaiveDate, Vec<Msg>> = BTreeMap::new();
        let mut threads: Vec<(Msg, Vec<Msg>)> = Vec::new();
        for m in messages {
            see(&m.ts);
            let parent = m.thread_ts.as_deref() == Some(m.ts.as_str()) && m.reply_count > 0;
            if parent && self.include_threads {
                let replies = self.replies(&channel.id, &m.ts).await?;
                for r in &replies {
                    see(&r.ts);
                }
                if !replies.is_empty() {
                    threads.push((m, replies));
                    continue;
                }
            }
            days.entry(ts_time(&m.ts).date_naive()).or_default().push(m);
        }
        let mut items = Vec::new();
        for (day, msgs) in days {
            let mut lines = Vec::new();
            let mut authors = BTreeSet::new();
            for m in &msgs {
                let (line, who) = self.line(m, false).await?;
                lines.push(line);
                authors.insert(who);
            }
            let title = format!("#{} — {day}", channel.name);
            let mut meta = self.metadata(channel, "day", &msgs, &authors);
            meta.insert("date".into(), json!(day.to_string()));
            items.push(Item {
                external_id: day_id(&channel.id, day),
                title: title.clone(),
                url: self.permalink(&channel.id, &msgs[0].ts).await?,
                updated_at: updated(&msgs),
                metadata: meta,
                content: ItemContent::Sections(vec![SectionInput {
                    heading_path: vec![title],
                    text: lines.join("\n"),
                    page: None,
                }]),
            });
        }
        for (parent, replies) in threads {
            let all: Vec<Msg> = std::iter::once(parent.clone()).chain(replies).collect();
            let mut lines = Vec::new();
            let mut authors = BTreeSet::new();
            for m in &all {
                let (line, who) = self.line(m, true).await?;
                lines.push(line);
                authors.insert(who);
            }
            let title = format!(
                "#{} — thread: {}",
                channel.name,
                first_words(&self.plain(&parent).await?)
            );
            let mut meta = self.metadata(channel, "thread", &all, &authors);
            meta.insert("thread_ts".into(), json!(parent.ts));
            items.push(Item {
                external_id: thread_id(&channel.id, &parent.ts),
                title: title.clone(),
                url: self.permalink(&channel.id, &parent.ts).await?,
                updated_at: updated(&all),
                metadata: meta,
                content: ItemContent::Sections(vec![SectionInput {
                    heading_path: vec![title],
                    text: lines.join("\n"),
                    page: None,
                }]),
            });
        }
        Ok((items, newest))
    }

    fn metadata(
        &self,
        channel: &ChannelInfo,
        kind: &str,
        msgs: &[Msg],
        authors: &BTreeSet<String>,
    ) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert("source".into(), json!("slack"));
        meta.insert("kind".into(), json!(kind));
        meta.insert("channel_id".into(), json!(channel.id));
        meta.insert("channel_name".into(), json!(channel.name));
        meta.insert("authors".into(), json!(authors));
        meta.insert("messages".into(), json!(msgs.len()));
        if let (Some(first), Some(last)) = (msgs.first(), msgs.last()) {
            meta.insert("first_ts".into(), json!(first.ts));
            meta.insert("last_ts".into(), json!(last.ts));
        }
        meta
    }
}

/// A Web API `{"ok": false}` answer as a typed error; `channel`: the conversation asked about.
fn api_error(method: &str, error: &str, v: &Value, channel: Option<&str>) -> ConnectorError {
    let said = format!("Slack answered {error} to {method}");
    match error {
        e if AUTH_ERRORS.contains(&e) => ConnectorError::Auth {
            field: "config.token".into(),
            message: format!("{said}; check config.token (a bot token, xoxb-...)"),
        },
        "ratelimited" => ConnectorError::RateLimited {
            message: said,
            retry_after: None,
        },
        "channel_not_found" | "not_in_channel" if channel.is_some() => ConnectorError::Config {
            field: Some("config.channel_ids".into()),
            message: format!(
                "{said} for channel {}; check config.channel_ids (the bot must be invited to private channels)",
                channel.unwrap_or_default()
            ),
        },
        "missing_scope" => {
            let needed = v.get("needed").and_then(Value::as_str).unwrap_or("?");
            ConnectorError::Permanent(format!(
                "{said}: the bot token lacks the scope {needed}; add it to the Slack app and reinstall it"
            ))
        }
        // Slack's own failures, worth another attempt.
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            ConnectorError::Transient(said)
        }
        _ => ConnectorError::Permanent(said),
    }
}

fn parse_messages(v: Value) -> Result<Messages, ConnectorError> {
    serde_json::from_value(v)
        .map_err(|e| ConnectorError::Transient(format!("Slack sent messages we cannot read: {e}")))
}

/// The last change among `msgs`: the newest post or edit.
fn updated(msgs: &[Msg]) -> Option<DateTime<Utc>> {
    msgs.iter()
        .flat_map(|m| {
            std::iter::once(m.ts.as_str()).chain(m.edited.as_ref().map(|e| e.ts.as_str()))
        })
        .max_by_key(|ts| ts_key(ts))
        .map(ts_time)
}

/// Slack escapes only these three in message text.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first words of a thread's parent, for its title.
fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    for w in &words {
        if out.chars().count() + w.chars().count() > 60 {
            out.push('…');
            return out;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        out.push_str("(no text)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_time_and_ts_order_numerically() {
        assert_eq!(id_time("C1/day/2026-12-01"), Some(1_796_083_200));
        assert_eq!(id_time("C1/thread/1796083260.000100"), Some(1_796_083_260));
        assert_eq!(id_time("C1/other/x"), None);
        assert!(ts_key("1700000000.000100") > ts_key("1700000000.000099"));
        assert!(ts_key("1700000001.0") > ts_key("1700000000.999999"));
        assert_eq!(day_start(1_796_083_260), 1_796_083_200);
    }

    #[test]
    fn titles_take_the_first_words_and_text_is_unescaped() {
        assert_eq!(first_words("  deploy is   stuck "), "deploy is stuck");
        let long = "word ".repeat(30);
        let t = first_words(&long);
        assert!(t.ends_with('…') && t.chars().count() <= 61, "{t}");
        assert_eq!(first_words(""), "(no text)");
        assert_eq!(unescape("a &lt;b&gt; &amp;amp;"), "a <b> &amp;");
    }

    #[test]
    fn slack_errors_map_to_the_connector_policy() {
        let v = json!({"ok": false, "needed": "channels:history"});
        for e in [
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
        ] {
            match api_error("auth.test", e, &v, None) {
                ConnectorError::Auth { field, message } => {
                    assert_eq!(field, "config.token");
                    assert!(
                        message.contains(e) && message.contains("config.token"),
                        "{message}"
                    );
                }
                other => panic!("{e}: {other:?}"),
            }
        }
        assert!(matches!(
            api_error("conversations.history", "ratelimited", &v, None),
            ConnectorError::RateLimited { .. }
        ));
        for e in ["channel_not_found", "not_in_channel"] {
            assert!(matches!(
                api_error("conversations.history", e, &v, Some("C1")),
                ConnectorError::Config { field: Some(f), message } if f == "config.channel_ids" && message.contains("C1")
            ));
        }
        assert!(matches!(
            api_error("conversations.history", "missing_scope", &v, None),
            ConnectorError::Permanent(m) if m.contains("channels:history")
        ));
        assert!(matches!(
            api_error("users.info", "internal_error", &v, None),
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            api_error("users.info", "user_not_found", &v, None),
            ConnectorError::Permanent(_)
        ));
    }

    #[test]
    fn the_cursor_round_trips() {
        let mut c = Cursor::default();
        c.channels.insert(
            "C1".into(),
            ChannelState {
                latest: Some("1700000000.000100".into()),
                recent: ["C1/day/2023-11-14".to_owned()].into(),
            },
        );
        c.run = Some(Run {
            order: vec!["C1".into()],
            index: 0,
            from: 1_699_920_000,
        });
        assert_eq!(serde_json::from_value::<Cursor>(json!(c)).unwrap(), c);
    }
}
