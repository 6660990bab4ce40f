//! Zendesk Help Center: published articles (and, optionally, recently solved tickets).
//!
//! Changes come from the incremental article export, which pages by time: each page's
//! `next_page` restarts at the last article's change time (`end_time`), and the last page's
//! `end_time` is where the next sync starts. Drafts in the export are reported deleted
//! (unpublished articles leave the index); archived articles vanish from the export, so they
//! are found by listing every article ([`Connector::list_ids`]) and pruned. Tickets come from
//! the time-based incremental ticket export, one document per solved ticket with its public
//! comments; tickets older than `ticket_lookback_days` fall out of the listing and are pruned.

use super::http::{Auth, ConnectorEnv, Remote};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use tokio::sync::OnceCell;
use twig_core::connector::{
    ChangePage, ConnectionReport, Connector, ConnectorError, Item, ItemContent, ItemLimit,
};
use twig_core::datasource::DataSource;
use twig_core::retrieval::SectionInput;
use twig_core::time::Timestamp;

const VENDOR: &str = "Zendesk";
const AUTH_FIELD: &str = "config.api_token";
/// The Help Center API's largest offset page.
const PER_PAGE: u32 = 100;
/// Offset pages followed at most, so a remote that never stops paging cannot loop us.
const MAX_PAGES: u32 = 10_000;

/// What the sync driver keeps between pages and syncs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Unix time the next article export starts at (the last export's `end_time`).
    #[serde(default)]
    articles_since: i64,
    /// Unix time the next ticket export starts at; `None` before the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tickets_since: Option<i64>,
    /// Tickets are being exported (articles are done for this sync).
    #[serde(default)]
    tickets: bool,
    /// `next_page` of the export in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_page: Option<String>,
    /// Start time of the page `next_page` asks for, to notice an export that stops advancing.
    #[serde(default)]
    page_start: i64,
}

#[derive(Debug, Deserialize)]
struct ArticleExport {
    #[serde(default)]
    articles: Vec<Article>,
    next_page: Option<String>,
    end_time: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Article {
    id: u64,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    section_id: Option<u64>,
    #[serde(default)]
    author_id: Option<u64>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    label_names: Vec<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Named {
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    category_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct TicketExport {
    #[serde(default)]
    tickets: Vec<Ticket>,
    next_page: Option<String>,
    end_time: Option<i64>,
    #[serde(default)]
    end_of_stream: bool,
}

#[derive(Debug, Deserialize)]
struct Ticket {
    id: u64,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    #[serde(default)]
    plain_body: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    author_id: Option<u64>,
    #[serde(default)]
    created_at: Option<String>,
}

/// Sections and categories by id, for heading paths and metadata.
#[derive(Debug, Default)]
struct Taxonomy {
    /// section id -> (section name, category name).
    sections: HashMap<u64, (String, Option<String>)>,
}

/// Reads one Zendesk Help Center.
pub struct Zendesk {
    remote: Remote,
    /// Lower-cased `config.locale`.
    locale: Option<String>,
    include_tickets: bool,
    ticket_lookback_days: i64,
    max_articles: u64,
    taxonomy: OnceCell<Taxonomy>,
}

impl Zendesk {
    /// A connector for `ds`, whose config was validated with its defaults filled in.
    pub fn open(ds: &DataSource, env: &ConnectorEnv) -> Result<Self, ConnectorError> {
        let c = &ds.config;
        let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
        let required = |k: &str| {
            text(k).ok_or_else(|| ConnectorError::Config {
                field: Some(format!("config.{k}")),
                message: format!("config.{k} is required"),
            })
        };
        let subdomain = required("subdomain")?;
        let email = required("email")?;
        let token = required("api_token")?;
        let base = text("base_url").unwrap_or_else(|| format!("https://{subdomain}.zendesk.com"));
        let remote = Remote::new(
            VENDOR,
            &base,
            Auth::Basic {
                user: format!("{email}/token"),
                password: token,
            },
            AUTH_FIELD,
            env,
        )?;
        let int = |k: &str, d: i64| c.get(k).and_then(Value::as_i64).unwrap_or(d);
        Ok(Self {
            remote,
            locale: text("locale").map(|l| l.to_ascii_lowercase()),
            include_tickets: c
                .get("include_tickets")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ticket_lookback_days: int("ticket_lookback_days", 90),
            max_articles: int("max_articles", 10_000).max(0) as u64,
            taxonomy: OnceCell::new(),
        })
    }

    /// `api/v2/help_center/{locale}/<what>.json`, the locale segment only when configured.
    fn hc_path(&self, what: &str) -> String {
        match &self.locale {
            Some(l) => format!("api/v2/help_center/{l}/{what}.json"),
            None => format!("api/v2/help_center/{what}.json"),
        }
    }

    /// A `next_page` URL, kept on `config.base_url`: Zendesk writes its own host
    /// (`{subdomain}.zendesk.com`) there even when the Help Center is reached through another.
    fn follow(&self, next: &str) -> Result<url::Url, ConnectorError> {
        match (self.remote.url(next), url::Url::parse(next)) {
            (Ok(u), _) => Ok(u),
            (Err(_), Ok(u)) => {
                let rel = match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                };
                self.remote.url(&rel)
            }
            (Err(e), Err(_)) => Err(e),
        }
    }

    /// Every item of an offset-paginated listing (`key` is its array: `articles`, ...).
    async fn list_all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut out = Vec::new();
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = self
            .remote
            .url(&format!("{path}{sep}per_page={PER_PAGE}"))?;
        for _ in 0..MAX_PAGES {
            let mut page: Map<String, Value> = self.remote.get_json(url).await?;
            let items = page.remove(key).unwrap_or(Value::Array(Vec::new()));
            let items: Vec<T> = serde_json::from_value(items).map_err(|e| {
                ConnectorError::Transient(format!("{VENDOR} sent {key} we cannot read: {e}"))
            })?;
            out.extend(items);
            match page.get("next_page").and_then(Value::as_str) {
                Some(next) => url = self.follow(next)?,
                None => return Ok(out),
            }
        }
        Err(ConnectorError::Permanent(format!(
            "{VENDOR} kept paging {path} past {MAX_PAGES} pages"
        )))
    }

    async fn taxonomy(&self) -> Result<&Taxonomy, ConnectorError> {
        self.taxonomy
            .get_or_try_init(|| async {
                let cats: Vec<Named> = self
                    .list_all(&self.hc_path("categories"), "categories")
                    .await?;
                let cats: HashMap<u64, String> = cats.into_iter().map(|c| (c.id, c.name)).collect();
                let secs: Vec<Named> = self.list_all(&self.hc_path("sections"), "sections").await?;
                Ok::<_, ConnectorError>(Taxonomy {
                    sections: secs
                        .into_iter()
                        .map(|s| {
                            let cat = s.category_id.and_then(|c| cats.get(&c).cloned());
                            (s.id, (s.name, cat))
                        })
                        .collect(),
                })
            })
            .await
    }

    fn wanted_locale(&self, a: &Article) -> bool {
        match (&self.locale, &a.locale) {
            (Some(want), Some(l)) => l.eq_ignore_ascii_case(want),
            (Some(_), None) => false,
            (None, _) => true,
        }
    }

    /// Published article ids visible now, in the configured locale.
    async fn article_ids(&self) -> Result<Vec<String>, ConnectorError> {
        let all: Vec<Article> = self.list_all(&self.hc_path("articles"), "articles").await?;
        Ok(all
            .into_iter()
            .filter(|a| !a.draft && self.wanted_locale(a))
            .map(|a| article_key(a.id))
            .collect())
    }

    fn article_item(&self, a: Article, tax: &Taxonomy) -> Item {
        let title = a.title.clone().unwrap_or_default();
        let (section, category) = a
            .section_id
            .and_then(|s| tax.sections.get(&s).cloned())
            .map_or((None, None), |(s, c)| (Some(s), c));
        // Category › section › title above the article's own headings.
        let mut prefix: Vec<String> = category.iter().chain(section.iter()).cloned().collect();
        prefix.push(title.clone());
        let page = twig_parse::parse_html(a.body.as_deref().unwrap_or(""), a.html_url.as_deref());
        let sections = page
            .sections
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .map(|s| {
                // parse_html may take the title from a leading <h1> equal to the article's.
                let own = s.heading_path.into_iter().skip_while(|h| *h == title);
                SectionInput {
                    heading_path: prefix.iter().cloned().chain(own).collect(),
                    text: s.text,
                    page: None,
                }
            })
            .collect();
        let mut metadata = Map::new();
        metadata.insert("source".into(), json!("zendesk"));
        metadata.insert("article_id".into(), json!(a.id));
        if let Some(c) = category {
            metadata.insert("category".into(), json!(c));
        }
        if let Some(s) = section {
            metadata.insert("section".into(), json!(s));
        }
        metadata.insert("labels".into(), json!(a.label_names));
        if let Some(id) = a.author_id {
            metadata.insert("author_id".into(), json!(id));
        }
        if let Some(l) = &a.locale {
            metadata.insert("locale".into(), json!(l));
        }
        Item {
            external_id: article_key(a.id),
            title,
            url: a.html_url,
            updated_at: a.updated_at.as_deref().and_then(parse_time),
            metadata,
            content: ItemContent::Sections(sections),
        }
    }

    async fn article_page(&self, mut cur: Cursor) -> Result<ChangePage, ConnectorError> {
        let tax = self.taxonomy().await?;
        let start = cur.page_start.max(cur.articles_since);
        let url = match &cur.next_page {
            Some(next) => self.follow(next)?,
            None => self.remote.url(&format!(
                "api/v2/help_center/incremental/articles.json?start_time={}",
                cur.articles_since
            ))?,
        };
        let page: ArticleExport = self.remote.get_json(url).await?;
        let mut out = ChangePage::default();
        let n = page.articles.len();
        for a in page.articles {
            if !self.wanted_locale(&a) {
                continue;
            }
            if a.draft {
                out.deleted.push(article_key(a.id));
            } else {
                out.items.push(self.article_item(a, tax));
            }
        }
        let end = page.end_time.unwrap_or(start).max(start);
        // A full page whose changes all share one second would restart at that same second.
        let stalled = end <= start && cur.next_page.is_some();
        match page.next_page {
            Some(next) if n > 0 && !stalled => {
                cur.next_page = Some(next);
                cur.page_start = end;
            }
            _ => {
                if stalled {
                    tracing::warn!(
                        end,
                        "Zendesk's article export stopped advancing; ending this sync here"
                    );
                }
                cur.next_page = None;
                cur.page_start = 0;
                cur.articles_since = end;
                if self.include_tickets {
                    cur.tickets = true;
                } else {
                    out.done = true;
                }
            }
        }
        out.cursor = to_value(&cur);
        Ok(out)
    }

    fn ticket_window_start(&self) -> i64 {
        chrono::Utc::now().timestamp() - self.ticket_lookback_days * 86_400
    }

    /// One page of the ticket export from `start` (or its `next_page`).
    async fn ticket_export(
        &self,
        start: i64,
        next: Option<&str>,
    ) -> Result<TicketExport, ConnectorError> {
        let url = match next {
            Some(n) => self.follow(n)?,
            None => self.remote.url(&format!(
                "api/v2/incremental/tickets.json?start_time={start}"
            ))?,
        };
        self.remote.get_json(url).await
    }

    async fn ticket_item(&self, t: Ticket) -> Result<Item, ConnectorError> {
        let comments: Vec<Comment> = self
            .list_all(
                &format!("api/v2/tickets/{}/comments.json", t.id),
                "comments",
            )
            .await?;
        let subject = t
            .subject
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("Ticket #{}", t.id));
        let title = format!("#{} {subject}", t.id);
        let sections = comments
            .into_iter()
            .filter(|c| c.public)
            .filter_map(|c| {
                let text = c.plain_body.or(c.body)?;
                let who = c
                    .author_id
                    .map_or("someone".to_owned(), |a| format!("user {a}"));
                let when = c.created_at.unwrap_or_default();
                Some(SectionInput {
                    heading_path: vec![title.clone(), format!("{who}, {when}")],
                    text,
                    page: None,
                })
            })
            .collect();
        let mut metadata = Map::new();
        metadata.insert("source".into(), json!("zendesk"));
        metadata.insert("ticket_id".into(), json!(t.id));
        metadata.insert("status".into(), json!(t.status));
        Ok(Item {
            external_id: ticket_key(t.id),
            title,
            url: Some(
                self.remote
                    .url(&format!("agent/tickets/{}", t.id))?
                    .to_string(),
            ),
            updated_at: t.updated_at.as_deref().and_then(parse_time),
            metadata,
            content: ItemContent::Sections(sections),
        })
    }

    async fn ticket_page(&self, mut cur: Cursor) -> Result<ChangePage, ConnectorError> {
        let floor = self.ticket_window_start();
        let start = cur.tickets_since.unwrap_or(floor).max(floor);
        let start = cur.page_start.max(start);
        let page = self.ticket_export(start, cur.next_page.as_deref()).await?;
        let mut out = ChangePage::default();
        let n = page.tickets.len();
        for t in page.tickets {
            if solved(&t.status) {
                out.items.push(self.ticket_item(t).await?);
            } else {
                // Reopened or deleted since it was imported: not an answer any more.
                out.deleted.push(ticket_key(t.id));
            }
        }
        let end = page.end_time.unwrap_or(start).max(start);
        let stalled = end <= start && cur.next_page.is_some();
        match page.next_page {
            Some(next) if !page.end_of_stream && n > 0 && !stalled => {
                cur.next_page = Some(next);
                cur.page_start = end;
            }
            _ => {
                cur.next_page = None;
                cur.page_start = 0;
                cur.tickets_since = Some(end);
                cur.tickets = false;
                out.done = true;
            }
        }
        out.cursor = to_value(&cur);
        Ok(out)
    }

    /// Solved ticket ids inside the lookback window.
    async fn ticket_ids(&self) -> Result<Vec<String>, ConnectorError> {
        let mut ids = Vec::new();
        let mut start = self.ticket_window_start();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.ticket_export(start, next.as_deref()).await?;
            let n = page.tickets.len();
            ids.extend(
                page.tickets
                    .iter()
                    .filter(|t| solved(&t.status))
                    .map(|t| ticket_key(t.id)),
            );
            let end = page.end_time.unwrap_or(start);
            match page.next_page {
                Some(nx) if !page.end_of_stream && n > 0 && end > start => {
                    next = Some(nx);
                    start = end;
                }
                _ => return Ok(ids),
            }
        }
        Ok(ids)
    }
}

#[async_trait]
impl Connector for Zendesk {
    async fn test(&self) -> Result<ConnectionReport, ConnectorError> {
        // The export needs an agent or admin; listing alone would pass for an end user. The
        // last few minutes only, so the probe is small (Zendesk's exports refuse the future).
        let probe = self.remote.url(&format!(
            "api/v2/help_center/incremental/articles.json?start_time={}",
            chrono::Utc::now().timestamp() - 300
        ))?;
        let _: Value = self.remote.get_json(probe).await?;
        let n = self.article_ids().await?.len() as u64;
        Ok(ConnectionReport {
            items_found: n,
            message: format!("Connection successful, found {n} articles"),
        })
    }

    async fn changes(&self, cursor: Option<&Value>) -> Result<ChangePage, ConnectorError> {
        // A cursor we cannot read restarts the export from the beginning: upserts of unchanged
        // articles cost nothing, so that is safe where skipping changes would not be.
        let cur: Cursor = cursor
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        if cur.tickets && self.include_tickets {
            self.ticket_page(cur).await
        } else {
            let cur = Cursor {
                tickets: false,
                ..cur
            };
            self.article_page(cur).await
        }
    }

    async fn list_ids(&self) -> Result<Option<Vec<String>>, ConnectorError> {
        let mut ids = self.article_ids().await?;
        if self.include_tickets {
            ids.extend(self.ticket_ids().await?);
        }
        Ok(Some(ids))
    }

    fn item_limit(&self) -> Option<ItemLimit> {
        Some(ItemLimit {
            key_prefix: ARTICLE.into(),
            max: self.max_articles,
            field: "config.max_articles".into(),
        })
    }
}

/// Zendesk's closed tickets are solved ones locked against changes.
fn solved(status: &str) -> bool {
    matches!(status, "solved" | "closed")
}

/// Prefix of an article's external id (tickets have their own).
const ARTICLE: &str = "article:";

fn article_key(id: u64) -> String {
    format!("{ARTICLE}{id}")
}

fn ticket_key(id: u64) -> String {
    format!("ticket:{id}")
}

fn parse_time(s: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn to_value(c: &Cursor) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_tolerate_old_shapes() {
        let c = Cursor {
            articles_since: 5,
            tickets_since: Some(7),
            tickets: true,
            next_page: Some("https://x/next".into()),
            page_start: 6,
        };
        assert_eq!(serde_json::from_value::<Cursor>(to_value(&c)).unwrap(), c);
        let empty: Cursor = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty, Cursor::default());
    }
}
