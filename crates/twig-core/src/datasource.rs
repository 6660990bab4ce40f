//! Data sources: where an organisation's knowledge comes from, and their per-type config.

use crate::error::Error;
use crate::id::{DataSourceId, OrgId};
use crate::retrieval::ChunkingOptions;
use crate::time::{self, Timestamp};
use crate::validate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Shown instead of a secret config value; sending it back keeps the stored secret.
pub const REDACTED: &str = "********";

/// Kind of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataSourceType {
    /// A crawled website.
    Website,
    /// Uploaded files.
    File,
    /// Atlassian Confluence spaces.
    Confluence,
    /// Slack channels.
    Slack,
    /// A Google Drive folder.
    GoogleDrive,
    /// A SharePoint site.
    Sharepoint,
    /// A Zendesk Help Center (articles, optionally solved tickets).
    Zendesk,
    /// Notion pages shared with an integration.
    Notion,
    /// A user's OneDrive.
    Onedrive,
    /// The org's built-in knowledge base: its published articles (managed through `/kb`).
    Kb,
}

impl DataSourceType {
    /// Every type a client may create (the built-in `kb` is not one).
    pub const ALL: [DataSourceType; 9] = [
        Self::Website,
        Self::File,
        Self::Confluence,
        Self::Slack,
        Self::GoogleDrive,
        Self::Sharepoint,
        Self::Zendesk,
        Self::Notion,
        Self::Onedrive,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Website => "website",
            Self::File => "file",
            Self::Confluence => "confluence",
            Self::Slack => "slack",
            Self::GoogleDrive => "google_drive",
            Self::Sharepoint => "sharepoint",
            Self::Zendesk => "zendesk",
            Self::Notion => "notion",
            Self::Onedrive => "onedrive",
            Self::Kb => "kb",
        }
    }

    /// Parses the wire name of a type a client may create.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Parses a stored type name, the built-in `kb` included.
    pub fn parse_stored(s: &str) -> Option<Self> {
        Self::parse(s).or((s == "kb").then_some(Self::Kb))
    }

    /// Names of this type's secret config fields (stored sealed, shown as [`REDACTED`]).
    /// Aliases included: configs stored under an alias must still be unsealed.
    pub fn secret_fields(self) -> impl Iterator<Item = &'static str> {
        self.fields()
            .iter()
            .filter(|f| f.secret)
            .flat_map(|f| std::iter::once(f.name).chain(f.alias))
    }

    /// The config fields this type accepts.
    fn fields(self) -> &'static [Field] {
        match self {
            Self::Website => WEBSITE_FIELDS,
            Self::File => &[],
            Self::Confluence => CONFLUENCE_FIELDS,
            Self::Slack => SLACK_FIELDS,
            Self::GoogleDrive => GOOGLE_DRIVE_FIELDS,
            Self::Sharepoint => SHAREPOINT_FIELDS,
            Self::Zendesk => ZENDESK_FIELDS,
            Self::Notion => NOTION_FIELDS,
            Self::Onedrive => ONEDRIVE_FIELDS,
            Self::Kb => &[],
        }
    }
}

const fn f(name: &'static str, kind: FieldKind, required: bool) -> Field {
    Field {
        name,
        kind,
        required,
        secret: false,
        check: None,
        alias: None,
    }
}

/// A string field (or each string of a list field) that must pass `check`.
const fn checked(
    name: &'static str,
    kind: FieldKind,
    required: bool,
    check: &'static Check,
) -> Field {
    Field {
        name,
        kind,
        required,
        secret: false,
        check: Some(check),
        alias: None,
    }
}

const fn secret(name: &'static str) -> Field {
    Field {
        name,
        kind: FieldKind::Text,
        required: false,
        secret: true,
        check: None,
        alias: None,
    }
}

/// A secret a sync cannot do without (kept from the stored config when an update omits it).
const fn required_secret(name: &'static str) -> Field {
    Field {
        required: true,
        ..secret(name)
    }
}

/// `field`, also accepted as `alias` (renamed to `field` on create and update).
const fn aliased(field: Field, alias: &'static str) -> Field {
    Field {
        alias: Some(alias),
        ..field
    }
}

/// A rule for a string value: the test enforced, the same rule as a JSON Schema pattern, and
/// what to tell a client that breaks it.
#[derive(Debug)]
struct Check {
    test: fn(&str) -> bool,
    pattern: &'static str,
    /// Longest value, stated in the schema too (a pattern cannot say it).
    max_len: usize,
    hint: &'static str,
}

/// A host name (`acme.atlassian.net`), no scheme or path.
const HOST: Check = Check {
    test: |s| {
        !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    },
    pattern: r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
    max_len: 253,
    hint: "a host name such as acme.atlassian.net (no scheme or path)",
};

/// A Confluence space key: 2-10 upper-case letters or digits, starting with a letter.
const SPACE_KEY: Check = Check {
    test: |s| {
        (2..=10).contains(&s.len())
            && s.as_bytes()[0].is_ascii_uppercase()
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    },
    pattern: "^[A-Z][A-Z0-9]{1,9}$",
    max_len: 10,
    hint: "a space key: 2-10 upper-case letters or digits, starting with a letter (ENG)",
};

/// A Zendesk subdomain (`acme` of acme.zendesk.com).
const SUBDOMAIN: Check = Check {
    test: |s| {
        (1..=63).contains(&s.len())
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    },
    pattern: "^[a-z0-9][a-z0-9-]{0,62}$",
    max_len: 63,
    hint: "the subdomain of <subdomain>.zendesk.com, lower case (acme)",
};

/// A locale such as `en-us` or `fr`.
const LOCALE: Check = Check {
    test: |s| {
        let mut parts = s.split('-');
        parts.next().is_some_and(|l| {
            (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic())
        }) && parts
            .all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    },
    pattern: "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
    max_len: 64,
    hint: "a locale such as en-us",
};

/// A Notion page id: 32 hex digits, bare or dashed as a UUID (8-4-4-4-12).
const NOTION_ID: Check = Check {
    test: |s| {
        let b = s.as_bytes();
        let hex = |r: &[u8]| r.iter().all(u8::is_ascii_hexdigit);
        match b.len() {
            32 => hex(b),
            36 => [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
                && b.iter().enumerate().all(|(i, c)| [8, 13, 18, 23].contains(&i) || c.is_ascii_hexdigit()),
            _ => false,
        }
    },
    pattern: "^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
    max_len: 36,
    hint: "a Notion page id (32 hex digits, dashes allowed)",
};

/// An e-mail address, loosely: something@host, no spaces or control characters.
const EMAIL: Check = Check {
    test: |s| {
        let ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c != '@' && !matches!(c, '\0'..=' ' | '\u{7f}'..='\u{9f}'))
        };
        s.split_once('@').is_some_and(|(u, h)| ok(u) && ok(h))
    },
    // Spelled out rather than `\s`, whose meaning differs between regex dialects.
    pattern: r"^[^@\x00-\x20\x7f-\x9f]+@[^@\x00-\x20\x7f-\x9f]+$",
    max_len: 320,
    hint: "an e-mail address",
};

/// A Slack conversation id: `C…` (channel) or `G…` (private channel), upper-case letters and digits.
const SLACK_CHANNEL: Check = Check {
    test: |s| {
        (2..=32).contains(&s.len())
            && matches!(s.as_bytes()[0], b'C' | b'G')
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    },
    pattern: "^[CG][A-Z0-9]{1,31}$",
    max_len: 32,
    hint: "a Slack channel id such as C024BE91L",
};

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

const GUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// An app registration's client (application) id: a GUID.
const GUID: Check = Check {
    test: is_guid,
    pattern: GUID_PATTERN,
    max_len: 36,
    hint: "a GUID such as 11111111-2222-3333-4444-555555555555 (the app's Application (client) ID)",
};

/// A Microsoft Entra tenant: its id (a GUID) or one of its domains (contoso.onmicrosoft.com).
const TENANT: Check = Check {
    test: |s| is_guid(s) || ((HOST.test)(s) && s.contains('.')),
    pattern: r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$",
    max_len: 253,
    hint: "a tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com",
};

/// A Google Drive file, folder or shared drive id (`1A2b…`, `0AB…`): letters, digits, `-`, `_`.
const DRIVE_ID: Check = Check {
    test: |s| {
        (5..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    },
    pattern: "^[A-Za-z0-9_-]{5,128}$",
    max_len: 128,
    hint: "a Google Drive id such as 1AbCdEfGhIjKlMnOpQrStUvWxYz (from the folder's URL)",
};

/// A service account's JSON key file, pasted whole: the fields a token request signs with.
const SERVICE_ACCOUNT: Check = Check {
    test: |s| {
        let Ok(v) = serde_json::from_str::<Value>(s) else {
            return false;
        };
        let text = |k: &str| v[k].as_str().is_some_and(|t| !t.trim().is_empty());
        v.is_object()
            && (v["type"].is_null() || v["type"] == "service_account")
            && text("client_email")
            && v["private_key"]
                .as_str()
                .is_some_and(|k| k.contains("-----BEGIN PRIVATE KEY-----"))
    },
    pattern: r"^\s*\{[\s\S]*\}\s*$",
    max_len: 16_384,
    hint: "the service account's JSON key file (with client_email and a PEM private_key)",
};

/// Chunking settings every type accepts.
const COMMON_FIELDS: &[Field] = &[
    f(
        "chunk_max_tokens",
        FieldKind::Int {
            min: 64,
            max: 2048,
            default: Some(512),
        },
        false,
    ),
    f(
        "chunk_overlap_tokens",
        FieldKind::Int {
            min: 0,
            max: 1024,
            default: Some(50),
        },
        false,
    ),
];

const WEBSITE_FIELDS: &[Field] = &[
    f("url", FieldKind::Url, true),
    f(
        "max_pages",
        FieldKind::Int {
            min: 1,
            max: 10_000,
            default: Some(10_000),
        },
        false,
    ),
    f(
        "max_depth",
        FieldKind::Int {
            min: 0,
            max: 20,
            default: Some(3),
        },
        false,
    ),
    f("include_patterns", FieldKind::TextList, false),
    f("exclude_patterns", FieldKind::TextList, false),
    f(
        "requests_per_second",
        FieldKind::Number {
            min: 0.01,
            max: 100.0,
            default: Some(1.0),
        },
        false,
    ),
];
const CONFLUENCE_FIELDS: &[Field] = &[
    checked("domain", FieldKind::Text, false, &HOST),
    checked("space_key", FieldKind::Text, false, &SPACE_KEY),
    checked("space_keys", FieldKind::TextList, false, &SPACE_KEY),
    checked("email", FieldKind::Text, true, &EMAIL),
    required_secret("api_token"),
    f(
        "lookback_days",
        FieldKind::Int {
            min: 1,
            max: 36_500,
            default: None,
        },
        false,
    ),
    f(
        "include_attachments",
        FieldKind::Bool {
            default: Some(true),
        },
        false,
    ),
    f("base_url", FieldKind::Url, false),
];
const SLACK_FIELDS: &[Field] = &[
    aliased(required_secret("token"), "bot_token"),
    checked("channel_ids", FieldKind::TextList, false, &SLACK_CHANNEL),
    f(
        "include_threads",
        FieldKind::Bool {
            default: Some(true),
        },
        false,
    ),
    f(
        "lookback_days",
        FieldKind::Int {
            min: 1,
            max: 3650,
            default: Some(90),
        },
        false,
    ),
    f("base_url", FieldKind::Url, false),
];
const GOOGLE_DRIVE_FIELDS: &[Field] = &[
    Field {
        check: Some(&SERVICE_ACCOUNT),
        ..secret("service_account_json")
    },
    f("client_id", FieldKind::Text, false),
    secret("client_secret"),
    secret("refresh_token"),
    checked("folder_ids", FieldKind::TextList, false, &DRIVE_ID),
    checked("folder_id", FieldKind::Text, false, &DRIVE_ID),
    checked("drive_id", FieldKind::Text, false, &DRIVE_ID),
    f("base_url", FieldKind::Url, false),
    f("token_url", FieldKind::Url, false),
];
const SHAREPOINT_FIELDS: &[Field] = &[
    f("site_url", FieldKind::Url, true),
    checked("tenant_id", FieldKind::Text, true, &TENANT),
    checked("client_id", FieldKind::Text, true, &GUID),
    required_secret("client_secret"),
    f("library", FieldKind::Text, false),
    f(
        "include_pages",
        FieldKind::Bool {
            default: Some(true),
        },
        false,
    ),
    f("base_url", FieldKind::Url, false),
    f("login_base_url", FieldKind::Url, false),
];
const ZENDESK_FIELDS: &[Field] = &[
    checked("subdomain", FieldKind::Text, true, &SUBDOMAIN),
    checked("email", FieldKind::Text, true, &EMAIL),
    required_secret("api_token"),
    checked("locale", FieldKind::Text, false, &LOCALE),
    f(
        "include_tickets",
        FieldKind::Bool {
            default: Some(false),
        },
        false,
    ),
    f(
        "ticket_lookback_days",
        FieldKind::Int {
            min: 1,
            max: 365,
            default: Some(90),
        },
        false,
    ),
    f(
        "max_articles",
        FieldKind::Int {
            min: 1,
            max: 1_000_000,
            default: Some(10_000),
        },
        false,
    ),
    f("base_url", FieldKind::Url, false),
];
const NOTION_FIELDS: &[Field] = &[
    required_secret("token"),
    checked("root_page_ids", FieldKind::TextList, false, &NOTION_ID),
    f("base_url", FieldKind::Url, false),
];

/// Fields of which a type needs at least one (`domain` or `base_url` for Confluence).
fn one_of(kind: DataSourceType) -> &'static [&'static str] {
    match kind {
        DataSourceType::Confluence => &["domain", "base_url"],
        DataSourceType::GoogleDrive => &["service_account_json", "refresh_token"],
        _ => &[],
    }
}

/// Fields that, when given, need others (an OAuth refresh token needs its client).
fn requires(kind: DataSourceType) -> &'static [(&'static str, &'static [&'static str])] {
    match kind {
        DataSourceType::GoogleDrive => &[("refresh_token", &["client_id", "client_secret"])],
        _ => &[],
    }
}

/// Pairs of fields that exclude each other (two ways of signing in).
fn exclusive(kind: DataSourceType) -> &'static [(&'static str, &'static str)] {
    match kind {
        DataSourceType::GoogleDrive => &[("service_account_json", "refresh_token")],
        _ => &[],
    }
}
const ONEDRIVE_FIELDS: &[Field] = &[
    f("user", FieldKind::Text, true),
    f("folder_path", FieldKind::Text, false),
    checked("tenant_id", FieldKind::Text, true, &TENANT),
    checked("client_id", FieldKind::Text, true, &GUID),
    required_secret("client_secret"),
    f("base_url", FieldKind::Url, false),
    f("login_base_url", FieldKind::Url, false),
];

#[derive(Debug, Clone, Copy)]
enum FieldKind {
    Url,
    Text,
    TextList,
    Int {
        min: i64,
        max: i64,
        default: Option<i64>,
    },
    Number {
        min: f64,
        max: f64,
        default: Option<f64>,
    },
    Bool {
        default: Option<bool>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    kind: FieldKind,
    required: bool,
    secret: bool,
    check: Option<&'static Check>,
    /// Another name accepted for this field (an older or the vendor's own spelling).
    alias: Option<&'static str>,
}

/// How often a source is synced automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum SyncFrequency {
    /// Every hour.
    Hourly,
    /// Every day.
    Daily,
    /// Every week.
    Weekly,
    /// Only when asked.
    #[default]
    Manual,
}

impl SyncFrequency {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Manual => "manual",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Hourly, Self::Daily, Self::Weekly, Self::Manual]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Processing state of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataSourceStatus {
    /// Created, never synced.
    #[default]
    Pending,
    /// A sync is running.
    Processing,
    /// Synced and searchable.
    Active,
    /// The last sync failed.
    Failed,
    /// The last sync finished but some documents failed.
    Partial,
}

impl DataSourceStatus {
    /// Every status.
    pub const ALL: [DataSourceStatus; 5] = [
        Self::Pending,
        Self::Processing,
        Self::Active,
        Self::Failed,
        Self::Partial,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Active => "active",
            Self::Failed => "failed",
            Self::Partial => "partial",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A data source as stored. Secrets inside `config` are stored, but [`DataSource::public_config`] hides them.
#[derive(Clone, PartialEq, Serialize, ToSchema)]
pub struct DataSource {
    /// Its id.
    pub id: DataSourceId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// Kind of source.
    #[serde(rename = "type")]
    pub kind: DataSourceType,
    /// Display name.
    pub name: String,
    /// Validated, per-type settings with defaults filled in.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Automatic sync schedule.
    pub sync_frequency: SyncFrequency,
    /// Processing state.
    pub status: DataSourceStatus,
    /// Chunks currently searchable.
    pub chunks_indexed: u64,
    /// End of the last successful sync.
    #[serde(with = "time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_synced_at: Option<Timestamp>,
    /// Why the last sync failed, if it did.
    pub last_error: Option<String>,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Body of `POST /data-sources` and `PUT /data-sources/:id` (on update every field is optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSourceInput {
    /// `website`, `file`, `confluence`, `slack`, `google_drive`, `sharepoint`, `zendesk`, `notion` or `onedrive` (required on create; immutable).
    #[serde(rename = "type")]
    #[schema(value_type = Option<DataSourceType>)]
    pub kind: Option<String>,
    /// Display name (required on create).
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Help Center"
    )]
    pub name: Option<String>,
    /// Per-type settings, e.g. `{"url": "https://docs.example.com"}` for a website.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// `hourly`, `daily`, `weekly` or `manual` (default).
    #[schema(value_type = Option<SyncFrequency>)]
    pub sync_frequency: Option<String>,
}

// Written by hand so that secrets never reach a log line through `{:?}`.
impl std::fmt::Debug for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataSource")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("config", &self.public_config())
            .field("sync_frequency", &self.sync_frequency)
            .field("status", &self.status)
            .field("chunks_indexed", &self.chunks_indexed)
            .field("last_synced_at", &self.last_synced_at)
            .field("last_error", &self.last_error)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl DataSource {
    /// Builds a new source from a create request; it starts `pending`.
    pub fn create(org_id: OrgId, input: DataSourceInput) -> Result<DataSource, Error> {
        let kind_raw = validate::required(input.kind, "type")?;
        let kind = parse_type(&kind_raw)?;
        let name = validate::name(&validate::required(input.name, "name")?, "name")?;
        let config = validate_config(
            kind,
            input.config.unwrap_or_else(|| Value::Object(Map::new())),
            None,
        )?;
        let sync_frequency = match input.sync_frequency {
            Some(s) => parse_frequency(&s)?,
            None => SyncFrequency::default(),
        };
        let now = time::now();
        Ok(DataSource {
            id: DataSourceId::generate(),
            org_id,
            kind,
            name,
            config,
            sync_frequency,
            status: DataSourceStatus::Pending,
            chunks_indexed: 0,
            last_synced_at: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// The org's built-in knowledge-base source (always `active`; its documents are the published articles).
    pub fn knowledge_base(org_id: OrgId) -> DataSource {
        let now = time::now();
        DataSource {
            id: DataSourceId::generate(),
            org_id,
            kind: DataSourceType::Kb,
            name: "Knowledge base".into(),
            config: validate_config(DataSourceType::Kb, Value::Object(Map::new()), None)
                .unwrap_or_default(),
            sync_frequency: SyncFrequency::Manual,
            status: DataSourceStatus::Active,
            chunks_indexed: 0,
            last_synced_at: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies an update request; `config`, when given, replaces the old one (redacted secrets are kept).
    pub fn apply(&mut self, input: DataSourceInput) -> Result<(), Error> {
        if self.kind == DataSourceType::Kb {
            return Err(Error::invalid(
                "The knowledge-base data source is built in: manage it through /api/v1/kb",
            ));
        }
        if let Some(k) = input.kind {
            if parse_type(&k)? != self.kind {
                return Err(Error::invalid_field(
                    "type",
                    "the type of a data source cannot be changed",
                ));
            }
        }
        if let Some(n) = input.name {
            self.name = validate::name(&n, "name")?;
        }
        if let Some(c) = input.config {
            self.config = validate_config(self.kind, c, Some(&self.config))?;
        }
        if let Some(s) = input.sync_frequency {
            self.sync_frequency = parse_frequency(&s)?;
        }
        self.updated_at = time::now();
        Ok(())
    }

    /// The config with secret values replaced by [`REDACTED`], for responses.
    pub fn public_config(&self) -> Map<String, Value> {
        let mut out = self.config.clone();
        for f in self.kind.fields().iter().filter(|f| f.secret) {
            if let Some(v) = out.get_mut(f.name) {
                *v = Value::String(REDACTED.into());
            }
        }
        out
    }

    /// The chunking budget configured for this source.
    pub fn chunking(&self) -> ChunkingOptions {
        chunking_of(&self.config)
    }

    /// A copy safe to serialise in a response.
    pub fn redacted(&self) -> DataSource {
        DataSource {
            config: self.public_config(),
            ..self.clone()
        }
    }
}

fn parse_type(s: &str) -> Result<DataSourceType, Error> {
    if s == "kb" {
        return Err(Error::invalid_field(
            "type",
            "the kb data source is built in: write articles with POST /api/v1/kb",
        ));
    }
    DataSourceType::parse(s).ok_or_else(|| {
        Error::invalid_field(
            "type",
            format!(
                "type must be one of {}; got {s:?}",
                DataSourceType::ALL.map(DataSourceType::as_str).join(", ")
            ),
        )
    })
}

fn parse_frequency(s: &str) -> Result<SyncFrequency, Error> {
    SyncFrequency::parse(s).ok_or_else(|| {
        Error::invalid_field(
            "sync_frequency",
            format!("sync_frequency must be hourly, daily, weekly or manual; got {s:?}"),
        )
    })
}

/// Validates `config` for `kind`, filling defaults; `previous` supplies secrets sent back redacted.
pub fn validate_config(
    kind: DataSourceType,
    config: Value,
    previous: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, Error> {
    let Value::Object(mut map) = config else {
        return Err(Error::invalid_field(
            "config",
            "config must be a JSON object",
        ));
    };
    // Whether the client chose the overlap; a defaulted one shrinks to fit a small chunk size.
    let overlap_given = map
        .get("chunk_overlap_tokens")
        .is_some_and(|v| !v.is_null());
    for f in kind.fields() {
        let Some(alias) = f.alias else { continue };
        if let Some(v) = map.remove(alias) {
            if map.contains_key(f.name) {
                return Err(Error::invalid_field(
                    &format!("config.{alias}"),
                    format!(
                        "config.{alias} is another name for config.{}: send one of them, not both",
                        f.name
                    ),
                ));
            }
            map.insert(f.name.into(), v);
        }
    }
    let fields: Vec<&Field> = kind.fields().iter().chain(COMMON_FIELDS).collect();
    if let Some(unknown) = map
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
    {
        let allowed: Vec<&str> = fields.iter().map(|f| f.name).collect();
        return Err(Error::invalid_field(
            &format!("config.{unknown}"),
            format!(
                "unknown config field {unknown:?} for a {} data source (allowed: {})",
                kind.as_str(),
                allowed.join(", ")
            ),
        ));
    }
    for f in fields {
        let path = format!("config.{}", f.name);
        // A secret stored before under the field's alias counts as stored under its name.
        let old = previous.and_then(|p| p.get(f.name).or_else(|| f.alias.and_then(|a| p.get(a))));
        let present = map.get(f.name).is_some_and(|v| !v.is_null());
        // A secret left out of an update is kept: clients never see it to send it back.
        if !present && f.secret && !map.contains_key(f.name) {
            if let Some(old) = old {
                map.insert(f.name.into(), old.clone());
                continue;
            }
        }
        if !present {
            map.remove(f.name);
            if f.required {
                return Err(Error::invalid_field(
                    &path,
                    format!(
                        "Missing required field: {path} (a {} data source needs it)",
                        kind.as_str()
                    ),
                ));
            }
            match f.kind {
                FieldKind::Int {
                    default: Some(d), ..
                } => {
                    map.insert(f.name.into(), Value::from(d));
                }
                FieldKind::Number {
                    default: Some(d), ..
                } => {
                    map.insert(f.name.into(), Value::from(d));
                }
                FieldKind::Bool { default: Some(d) } => {
                    map.insert(f.name.into(), Value::from(d));
                }
                _ => {}
            }
            continue;
        }
        let v = &map[f.name];
        if f.secret && v.as_str() == Some(REDACTED) {
            match old {
                Some(old) => {
                    map.insert(f.name.into(), old.clone());
                    continue;
                }
                None => {
                    return Err(Error::invalid_field(
                        &path,
                        format!("{path} must be the secret itself"),
                    ))
                }
            }
        }
        check_field(f, v, &path)?;
        if let (FieldKind::Int { .. }, Some(i)) = (f.kind, validate::integer_of(v)) {
            // Stored as written by the schema: `512.0` becomes `512`.
            map.insert(f.name.into(), Value::from(i));
        }
    }
    let needs = one_of(kind);
    if !needs.is_empty() && !needs.iter().any(|n| map.contains_key(*n)) {
        let path = format!("config.{}", needs[0]);
        return Err(Error::invalid_field(
            &path,
            format!(
                "Missing required field: {path} (a {} data source needs one of {})",
                kind.as_str(),
                needs
                    .iter()
                    .map(|n| format!("config.{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for (given, needed) in requires(kind) {
        if !map.contains_key(*given) {
            continue;
        }
        if let Some(missing) = needed.iter().find(|n| !map.contains_key(**n)) {
            return Err(Error::invalid_field(
                &format!("config.{missing}"),
                format!("Missing required field: config.{missing} (config.{given} needs it)"),
            ));
        }
    }
    for (a, b) in exclusive(kind) {
        if map.contains_key(*a) && map.contains_key(*b) {
            return Err(Error::invalid_field(
                &format!("config.{b}"),
                format!(
                    "config.{a} and config.{b} are two ways to sign in: keep one (send the other as null to remove a stored one)"
                ),
            ));
        }
    }
    let chunking = chunking_of(&map);
    if chunking.overlap_tokens * 2 > chunking.max_tokens && !overlap_given {
        map.insert(
            "chunk_overlap_tokens".into(),
            Value::from(chunking.max_tokens / 2),
        );
    } else if chunking.overlap_tokens * 2 > chunking.max_tokens {
        return Err(Error::invalid_field(
            "config.chunk_overlap_tokens",
            "config.chunk_overlap_tokens must be at most half of config.chunk_max_tokens",
        ));
    }
    Ok(map)
}

fn chunking_of(config: &Map<String, Value>) -> ChunkingOptions {
    let d = ChunkingOptions::default();
    let get = |k: &str, d: usize| {
        config
            .get(k)
            .and_then(Value::as_u64)
            .map_or(d, |v| v as usize)
    };
    ChunkingOptions {
        max_tokens: get("chunk_max_tokens", d.max_tokens),
        overlap_tokens: get("chunk_overlap_tokens", d.overlap_tokens),
    }
}

fn check_field(f: &Field, v: &Value, path: &str) -> Result<(), Error> {
    match f.kind {
        FieldKind::Url => {
            let s = v
                .as_str()
                .ok_or_else(|| Error::invalid_field(path, format!("{path} must be a string")))?;
            let rest = s
                .strip_prefix("https://")
                .or_else(|| s.strip_prefix("http://"));
            let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            // Printable ASCII only, as in a URI (the document says `format: uri`).
            if host.is_none_or(|h| h.is_empty())
                || !s.chars().all(|c| c.is_ascii_graphic())
                || s.chars().count() > 2048
            {
                return Err(Error::invalid_field(
                    path,
                    format!("{path} must be an absolute http(s) URL, got {s:?}"),
                ));
            }
        }
        FieldKind::Text => {
            let ok = v
                .as_str()
                .is_some_and(|s| !s.trim().is_empty() && s.chars().count() <= 65_536);
            if !ok {
                return Err(Error::invalid_field(
                    path,
                    format!("{path} must be a non-empty string"),
                ));
            }
            apply_check(f, v.as_str().unwrap_or_default(), path)?;
        }
        FieldKind::TextList => {
            let ok = v.as_array().is_some_and(|a| {
                a.len() <= 1000
                    && a.iter().all(|x| {
                        x.as_str()
                            .is_some_and(|s| !s.is_empty() && s.chars().count() <= 2048)
                    })
            });
            if !ok {
                return Err(Error::invalid_field(
                    path,
                    format!("{path} must be a list of non-empty strings"),
                ));
            }
            for x in v.as_array().into_iter().flatten() {
                apply_check(f, x.as_str().unwrap_or_default(), path)?;
            }
        }
        FieldKind::Int { min, max, .. } => {
            if !validate::integer_of(v).is_some_and(|n| (min..=max).contains(&n)) {
                return Err(Error::invalid_field(
                    path,
                    format!("{path} must be an integer from {min} to {max}"),
                ));
            }
        }
        FieldKind::Number { min, max, .. } => {
            if !v.as_f64().is_some_and(|n| n >= min && n <= max) {
                return Err(Error::invalid_field(
                    path,
                    format!("{path} must be a number from {min} to {max}"),
                ));
            }
        }
        FieldKind::Bool { .. } => {
            if !v.is_boolean() {
                return Err(Error::invalid_field(
                    path,
                    format!("{path} must be true or false"),
                ));
            }
        }
    }
    Ok(())
}

fn apply_check(f: &Field, s: &str, path: &str) -> Result<(), Error> {
    match f.check {
        Some(c) if s.chars().count() > c.max_len || !(c.test)(s) => Err(Error::invalid_field(
            path,
            format!("{path} must be {}, got {s:?}", c.hint),
        )),
        _ => Ok(()),
    }
}

/// The JSON Schema of `config` for `kind`, derived from the same field table
/// [`validate_config`] enforces, so the OpenAPI document follows every new type or field.
pub fn config_schema(kind: DataSourceType) -> Value {
    let fields: Vec<&Field> = kind.fields().iter().chain(COMMON_FIELDS).collect();
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in &fields {
        let mut s = match f.kind {
            FieldKind::Url => serde_json::json!({
                "type": "string", "format": "uri", "maxLength": 2048,
                "pattern": r"^https?://[\x21\x22\x24-\x2e\x30-\x3e\x40-\x7e]+([/?#][\x21-\x7e]*)?$",
            }),
            FieldKind::Text => serde_json::json!({
                "type": "string", "minLength": 1, "maxLength": 65_536, "pattern": r"\S",
            }),
            FieldKind::TextList => serde_json::json!({
                "type": "array", "maxItems": 1000,
                "items": {"type": "string", "minLength": 1, "maxLength": 2048},
            }),
            FieldKind::Int { min, max, default } => {
                let mut s = serde_json::json!({"type": "integer", "minimum": min, "maximum": max});
                if let Some(d) = default {
                    s["default"] = d.into();
                }
                s
            }
            FieldKind::Bool { default } => {
                let mut s = serde_json::json!({"type": "boolean"});
                if let Some(d) = default {
                    s["default"] = d.into();
                }
                s
            }
            FieldKind::Number { min, max, default } => {
                let mut s = serde_json::json!({"type": "number", "minimum": min, "maximum": max});
                if let Some(d) = default {
                    s["default"] = d.into();
                }
                s
            }
        };
        if let Some(c) = f.check {
            let target = match f.kind {
                FieldKind::TextList => &mut s["items"],
                _ => &mut s,
            };
            target["pattern"] = c.pattern.into();
            target["maxLength"] = c.max_len.into();
        }
        if f.secret {
            s["writeOnly"] = true.into();
            s["description"] = format!(
                "Secret: stored encrypted, answered as {REDACTED:?}; sending that back keeps it."
            )
            .into();
        }
        if let Some(a) = f.alias {
            let d = s["description"].as_str().unwrap_or_default().to_owned();
            s["description"] = format!("{d} Also accepted as `{a}` (not both).")
                .trim_start()
                .into();
        }
        if f.required {
            required.push(Value::from(f.name));
        } else {
            // null means absent.
            let ty = s["type"].clone();
            s["type"] = serde_json::json!([ty, "null"]);
        }
        properties.insert(f.name.into(), s);
    }
    let mut schema = serde_json::json!({
        "type": "object",
        "title": format!("{}_config", kind.as_str()),
        "description": format!(
            "`config` of a {} data source. `chunk_overlap_tokens` is at most half of `chunk_max_tokens`; left out, it is 50 or that half, whichever is smaller.",
            kind.as_str()
        ),
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    // Present means present and not null: `required` alone is met by a null, which counts
    // as absent here.
    let given = |names: &[&str]| {
        let props: Map<String, Value> = names
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    serde_json::json!({"not": {"type": "null"}}),
                )
            })
            .collect();
        serde_json::json!({"required": names, "properties": props})
    };
    let needs = one_of(kind);
    if !needs.is_empty() {
        schema["anyOf"] = needs.iter().map(|n| given(&[n])).collect();
    }
    let mut all = Vec::new();
    for (field, needed) in requires(kind) {
        all.push(serde_json::json!({"if": given(&[field]), "then": given(needed)}));
    }
    for (a, b) in exclusive(kind) {
        all.push(serde_json::json!({"not": given(&[a, b])}));
    }
    if !all.is_empty() {
        schema["allOf"] = Value::Array(all);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn website(config: Value) -> DataSourceInput {
        DataSourceInput {
            kind: Some("website".into()),
            name: Some("Docs".into()),
            config: Some(config),
            sync_frequency: Some("daily".into()),
        }
    }

    #[test]
    fn website_defaults_are_filled() {
        let ds = DataSource::create(
            OrgId::generate(),
            website(json!({"url": "https://docs.example.com"})),
        )
        .unwrap();
        assert_eq!(ds.status, DataSourceStatus::Pending);
        assert_eq!(ds.config["max_pages"], json!(10_000));
        assert_eq!(ds.config["max_depth"], json!(3));
        assert_eq!(ds.config["requests_per_second"], json!(1.0));
        assert_eq!(
            ds.chunking(),
            ChunkingOptions {
                max_tokens: 512,
                overlap_tokens: 50
            }
        );
    }

    #[test]
    fn chunking_is_configurable_per_source() {
        let ds = DataSource::create(
            OrgId::generate(),
            website(json!({"url": "https://a.example", "chunk_max_tokens": 256, "chunk_overlap_tokens": 32})),
        )
        .unwrap();
        assert_eq!(
            ds.chunking(),
            ChunkingOptions {
                max_tokens: 256,
                overlap_tokens: 32
            }
        );
        for bad in [
            json!({"url": "https://a.example", "chunk_max_tokens": 8}),
            json!({"url": "https://a.example", "chunk_max_tokens": 100, "chunk_overlap_tokens": 60}),
        ] {
            assert!(DataSource::create(OrgId::generate(), website(bad)).is_err());
        }
        // Only the size given: the default overlap (50) shrinks to half of it.
        let small = DataSource::create(
            OrgId::generate(),
            website(json!({"url": "https://a.example", "chunk_max_tokens": 64})),
        )
        .unwrap();
        assert_eq!(small.config["chunk_overlap_tokens"], json!(32));
    }

    #[test]
    fn config_is_validated_per_type() {
        let org = OrgId::generate();
        for bad in [
            json!({}),
            json!({"url": "ftp://x"}),
            json!({"url": "https://x", "max_pages": 0}),
            json!({"url": "https://x", "max_pages": 10_001}),
            json!({"url": "https://x", "colour": "red"}),
            json!({"url": "https://x", "include_patterns": "a"}),
            json!([1]),
        ] {
            assert!(
                DataSource::create(org.clone(), website(bad.clone())).is_err(),
                "{bad} should be refused"
            );
        }
        let slack = DataSourceInput {
            kind: Some("slack".into()),
            name: Some("S".into()),
            config: Some(json!({"channel_ids": ["C1"], "bot_token": "xoxb-1"})),
            sync_frequency: None,
        };
        let ds = DataSource::create(org, slack).unwrap();
        // The alias is stored under the field's own name.
        assert_eq!(ds.public_config()["token"], json!(REDACTED));
        assert_eq!(ds.config["token"], json!("xoxb-1"));
        assert!(!ds.config.contains_key("bot_token"));
        assert!(
            !format!("{ds:?}").contains("xoxb-1"),
            "secrets stay out of Debug"
        );
    }

    #[test]
    fn redacted_secrets_sent_back_keep_the_stored_one() {
        let org = OrgId::generate();
        let slack = DataSourceInput {
            kind: Some("slack".into()),
            name: Some("S".into()),
            config: Some(json!({"channel_ids": ["C1"], "bot_token": "xoxb-1"})),
            sync_frequency: None,
        };
        let mut ds = DataSource::create(org, slack).unwrap();
        let public = ds.public_config();
        let mut changed = public.clone();
        changed.insert("channel_ids".into(), json!(["C2"]));
        ds.apply(DataSourceInput {
            config: Some(Value::Object(changed)),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ds.config["token"], json!("xoxb-1"));
        assert_eq!(ds.config["channel_ids"], json!(["C2"]));
        // Left out of an update, the secret stays; an explicit null removes it.
        ds.apply(DataSourceInput {
            config: Some(json!({"channel_ids": ["C3"]})),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ds.config["token"], json!("xoxb-1"));
        // An explicit null removes it, and a Slack source cannot do without its token.
        let e = ds
            .apply(DataSourceInput {
                config: Some(json!({"channel_ids": ["C3"], "bot_token": null})),
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.token"), "{e}");
        assert_eq!(ds.config["token"], json!("xoxb-1"));
    }

    #[test]
    fn config_schemas_follow_the_field_table() {
        for kind in DataSourceType::ALL {
            let s = config_schema(kind);
            let props = s["properties"].as_object().unwrap();
            for f in kind.fields().iter().chain(COMMON_FIELDS) {
                assert!(
                    props.contains_key(f.name),
                    "{} lacks {}",
                    kind.as_str(),
                    f.name
                );
                let listed = s["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(f.name)));
                assert_eq!(listed, f.required, "{} {}", kind.as_str(), f.name);
            }
            assert_eq!(props.len(), kind.fields().len() + COMMON_FIELDS.len());
            assert_eq!(s["additionalProperties"], json!(false));
        }
        let web = config_schema(DataSourceType::Website);
        assert_eq!(web["properties"]["max_depth"]["maximum"], json!(20));
        assert_eq!(
            web["properties"]["max_depth"]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(web["properties"]["url"]["type"], json!("string"));
    }

    #[test]
    fn connector_fields_are_checked_and_named() {
        let make = |kind: &str, config: Value| {
            DataSource::create(
                OrgId::generate(),
                DataSourceInput {
                    kind: Some(kind.into()),
                    name: Some("x".into()),
                    config: Some(config),
                    sync_frequency: None,
                },
            )
        };
        let ok = json!({"domain": "acme.atlassian.net", "email": "a@b.io", "api_token": "t"});
        let ds = make("confluence", ok.clone()).unwrap();
        assert_eq!(ds.config["include_attachments"], json!(true));
        for (patch, field) in [
            (
                json!({"domain": "https://acme.atlassian.net"}),
                "config.domain",
            ),
            (json!({"space_key": "E"}), "config.space_key"),
            (json!({"space_key": "eng"}), "config.space_key"),
            (
                json!({"space_keys": ["ENG", "TOOLONGKEY1"]}),
                "config.space_keys",
            ),
            (json!({"email": "nobody"}), "config.email"),
            (json!({"api_token": null}), "config.api_token"),
            (json!({"lookback_days": 0}), "config.lookback_days"),
            (json!({"domain": null}), "config.domain"),
        ] {
            let mut c = ok.clone();
            for (k, v) in patch.as_object().unwrap() {
                c[k] = v.clone();
            }
            let e = make("confluence", c.clone()).unwrap_err().to_string();
            assert!(e.contains(field), "{c}: {e}");
        }
        let z = json!({"subdomain": "acme", "email": "a@b.io", "api_token": "t"});
        let ds = make("zendesk", z.clone()).unwrap();
        assert_eq!(ds.config["max_articles"], json!(10_000));
        let mut bad = z.clone();
        bad["locale"] = json!("english please");
        assert!(make("zendesk", bad)
            .unwrap_err()
            .to_string()
            .contains("config.locale"));
        let e = make(
            "notion",
            json!({"root_page_ids": ["59833787-2cf9-4fdf-8782-e53db20768a5"]}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("config.token"), "{e}");
        let sp = json!({
            "site_url": "https://contoso.sharepoint.com/sites/Support",
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "s3cret",
        });
        let ds = make("sharepoint", sp.clone()).unwrap();
        assert_eq!(ds.config["include_pages"], json!(true));
        assert_eq!(ds.public_config()["client_secret"], json!(REDACTED));
        let mut by_guid = sp.clone();
        by_guid["tenant_id"] = json!("9188040d-6c67-4c5b-b112-36a304b66dad");
        make("sharepoint", by_guid).unwrap();
        for (patch, field) in [
            (json!({"site_url": null}), "config.site_url"),
            (
                json!({"site_url": "contoso.sharepoint.com"}),
                "config.site_url",
            ),
            (json!({"tenant_id": null}), "config.tenant_id"),
            (json!({"tenant_id": "contoso"}), "config.tenant_id"),
            (json!({"client_id": "my-app"}), "config.client_id"),
            (json!({"client_secret": null}), "config.client_secret"),
            (json!({"include_pages": "no"}), "config.include_pages"),
            (json!({"login_base_url": "login"}), "config.login_base_url"),
        ] {
            let mut c = sp.clone();
            for (k, v) in patch.as_object().unwrap() {
                c[k] = v.clone();
            }
            let e = make("sharepoint", c.clone()).unwrap_err().to_string();
            assert!(e.contains(field), "{c}: {e}");
        }
        let od = json!({
            "user": "ada@contoso.com",
            "tenant_id": "9188040d-6c67-4c5b-b112-36a304b66dad",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "s3cret",
        });
        make("onedrive", od.clone()).unwrap();
        for field in ["user", "tenant_id", "client_id", "client_secret"] {
            let mut c = od.clone();
            c.as_object_mut().unwrap().remove(field);
            let e = make("onedrive", c).unwrap_err().to_string();
            assert!(e.contains(&format!("config.{field}")), "{e}");
        }
        let s = config_schema(DataSourceType::Sharepoint);
        assert_eq!(s["properties"]["client_id"]["maxLength"], json!(36));
        assert_eq!(s["properties"]["client_secret"]["writeOnly"], json!(true));
        let s = config_schema(DataSourceType::Confluence);
        assert_eq!(
            s["properties"]["space_key"]["pattern"],
            json!("^[A-Z][A-Z0-9]{1,9}$")
        );
        assert_eq!(s["anyOf"][0]["required"], json!(["domain"]));
    }

    #[test]
    fn slack_config_takes_token_or_its_alias_and_fills_defaults() {
        let make = |config: Value| {
            DataSource::create(
                OrgId::generate(),
                DataSourceInput {
                    kind: Some("slack".into()),
                    name: Some("s".into()),
                    config: Some(config),
                    sync_frequency: None,
                },
            )
        };
        let ds = make(json!({"token": "xoxb-1"})).unwrap();
        assert_eq!(ds.config["include_threads"], json!(true));
        assert_eq!(ds.config["lookback_days"], json!(90));
        assert!(!ds.config.contains_key("channel_ids"));
        let ds = make(json!({"bot_token": "xoxb-2", "channel_ids": ["C024BE91L", "G1"]})).unwrap();
        assert_eq!(ds.config["token"], json!("xoxb-2"));
        for (config, field) in [
            (json!({}), "config.token"),
            (json!({"token": "a", "bot_token": "b"}), "config.bot_token"),
            (
                json!({"token": "a", "channel_ids": ["general"]}),
                "config.channel_ids",
            ),
            (
                json!({"token": "a", "channel_ids": "C1"}),
                "config.channel_ids",
            ),
            (
                json!({"token": "a", "lookback_days": 0}),
                "config.lookback_days",
            ),
            (
                json!({"token": "a", "lookback_days": 3651}),
                "config.lookback_days",
            ),
            (
                json!({"token": "a", "include_threads": "no"}),
                "config.include_threads",
            ),
            (
                json!({"token": "a", "base_url": "slack.com"}),
                "config.base_url",
            ),
        ] {
            let e = make(config.clone()).unwrap_err().to_string();
            assert!(e.contains(field), "{config}: {e}");
        }
        // A config stored before under the alias keeps its secret when an update omits it.
        let mut ds = make(json!({"token": "xoxb-1"})).unwrap();
        let mut legacy = ds.config.clone();
        let token = legacy.remove("token").unwrap();
        legacy.insert("bot_token".into(), token);
        ds.config = legacy;
        ds.apply(DataSourceInput {
            config: Some(json!({"channel_ids": ["C9"]})),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ds.config["token"], json!("xoxb-1"));
        let secrets: Vec<&str> = DataSourceType::Slack.secret_fields().collect();
        assert_eq!(secrets, ["token", "bot_token"]);
        let s = config_schema(DataSourceType::Slack);
        assert_eq!(s["required"], json!(["token"]));
        assert!(s["properties"]["token"]["description"]
            .as_str()
            .unwrap()
            .contains("bot_token"));
        assert_eq!(s["properties"]["lookback_days"]["maximum"], json!(3650));
    }

    #[test]
    fn type_is_immutable() {
        let mut ds = DataSource::create(
            OrgId::generate(),
            website(json!({"url": "https://a.example"})),
        )
        .unwrap();
        assert!(ds
            .apply(DataSourceInput {
                kind: Some("file".into()),
                ..Default::default()
            })
            .is_err());
        assert!(ds
            .apply(DataSourceInput {
                kind: Some("website".into()),
                ..Default::default()
            })
            .is_ok());
    }
}
