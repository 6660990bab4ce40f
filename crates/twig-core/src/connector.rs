//! The connector port: how a sync reads a remote system (Confluence, Zendesk, Notion, Slack, ...).
//!
//! A connector only translates the vendor's API into [`Item`]s. The sync job drives every
//! connector the same way: it asks for a page of changes after a cursor, indexes the page's
//! items, removes the deleted ones, and saves the page's cursor once that page is committed,
//! so a crash resumes after the last committed page and the next sync fetches only what
//! changed. Connectors never write to the store or the indexes.

use crate::retrieval::SectionInput;
use crate::time::Timestamp;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::time::Duration;

/// One document of the remote system (a page, an article, a thread, a file).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Stable id in the remote system; the document's source key within its data source.
    pub external_id: String,
    /// Title, for citations.
    pub title: String,
    /// Where a reader opens it.
    pub url: Option<String>,
    /// Last change in the remote system.
    pub updated_at: Option<Timestamp>,
    /// The source's own metadata (space, section, labels, author, heading path, ...).
    pub metadata: Map<String, Value>,
    /// What to index.
    pub content: ItemContent,
}

/// The content of an [`Item`].
#[derive(Debug, Clone, PartialEq)]
pub enum ItemContent {
    /// Text already split into sections under heading paths.
    Sections(Vec<SectionInput>),
    /// A file (an attachment, an uploaded document) for the file parsers.
    File {
        /// File name, whose extension picks the parser.
        filename: String,
        /// Content type given by the remote, if any.
        content_type: Option<String>,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The item could not be read: it becomes a `failed` document with this reason.
    Failed(String),
    /// Deliberately not imported (too large, unsupported), with the reason shown on the document.
    Skipped(String),
}

/// One page of changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangePage {
    /// Items created or changed.
    pub items: Vec<Item>,
    /// External ids deleted, archived or no longer visible.
    pub deleted: Vec<String>,
    /// Opaque resume point, saved once this page is committed and passed back for the next
    /// page; after the last page, the starting point of the next sync.
    pub cursor: Value,
    /// This was the last page of this sync.
    pub done: bool,
    /// Items this sync lists in all, when the remote says (for progress and its estimate).
    pub total: Option<u64>,
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    /// Items a sync would see (pages, articles, channels, files).
    pub items_found: u64,
    /// For people, e.g. "Connection successful, found 42 pages".
    pub message: String,
}

/// Why a connector call failed; the sync job's reaction is decided by the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// Credentials refused (401/403, `invalid_auth`): fails the sync at once, no retries.
    #[error("{message}")]
    Auth {
        /// The config field to fix, e.g. `config.api_token`.
        field: String,
        /// What the remote said.
        message: String,
    },
    /// The config names something the remote does not have (a space, a site): fails at once.
    #[error("{message}")]
    Config {
        /// The config field to fix, when one is to blame.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Throttled for longer than the client waits inline: retried after the delay.
    #[error("{message}")]
    RateLimited {
        /// What the remote said.
        message: String,
        /// How long the remote asked to wait.
        retry_after: Option<Duration>,
    },
    /// Worth another attempt: 5xx, timeouts, connection failures.
    #[error("{0}")]
    Transient(String),
    /// Will fail again for a reason not covered above.
    #[error("{0}")]
    Permanent(String),
}

impl ConnectorError {
    /// True when retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Auth { .. } | Self::Config { .. } | Self::Permanent(_)
        )
    }
}

/// A cap on how many documents of one kind a data source holds (e.g. Zendesk's
/// `max_articles`). The sync driver applies it: it knows which items are already documents of
/// the source, so changes to those still go in while new ones past the cap are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemLimit {
    /// External ids of the capped kind start with this (e.g. `article:`).
    pub key_prefix: String,
    /// Most documents of that kind the source holds.
    pub max: u64,
    /// The config field setting it, named in the log when items are left out.
    pub field: String,
}

/// A remote system the sync job reads through.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Checks the credentials and access without syncing, counting what a sync would see.
    async fn test(&self) -> Result<ConnectionReport, ConnectorError>;

    /// The next page of changes after `cursor`; `None` lists everything from the start.
    async fn changes(&self, cursor: Option<&Value>) -> Result<ChangePage, ConnectorError>;

    /// Every external id visible now, for pruning deletions where the remote has no deletion
    /// feed (cheap: ids only); `None` when [`Connector::changes`] reports deletions itself.
    async fn list_ids(&self) -> Result<Option<Vec<String>>, ConnectorError> {
        Ok(None)
    }

    /// A cap on the documents of one kind the source holds, if the config sets one.
    fn item_limit(&self) -> Option<ItemLimit> {
        None
    }
}
