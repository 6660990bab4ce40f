//! Knowledge-base articles: Markdown the org writes itself, versioned on every
//! change; published ones are searchable as documents of the built-in `kb` source.

use crate::error::Error;
use crate::id::{ArticleId, DataSourceId, OrgId};
use crate::time::{self, Timestamp};
use crate::validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Largest article body, in bytes.
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;
/// Most tags per article.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 50;

/// Whether an article is searchable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ArticleStatus {
    /// Not searchable.
    #[default]
    Draft,
    /// Indexed and searchable.
    Published,
}

impl ArticleStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Published]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Parses a client value, with the documented error.
    pub fn parse_field(s: &str, field: &str) -> Result<Self, Error> {
        Self::parse(s).ok_or_else(|| {
            Error::invalid_field(
                field,
                format!("{field} must be draft or published, got {s:?}"),
            )
        })
    }
}

/// An article at its latest version.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Article {
    /// Its id.
    pub id: ArticleId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// The built-in `kb` data source its published version is indexed in (for agents' `data_source_ids`).
    pub data_source_id: DataSourceId,
    /// Title (used in citations).
    pub title: String,
    /// Markdown body.
    pub content: String,
    /// Free tags.
    pub tags: Vec<String>,
    /// Draft or published.
    pub status: ArticleStatus,
    /// 1 on creation, +1 on every change.
    pub version: u32,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Time of the latest version.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// One stored version of an article.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ArticleVersion {
    /// The article.
    pub article_id: ArticleId,
    /// Version number.
    pub version: u32,
    /// Title then.
    pub title: String,
    /// Body then.
    pub content: String,
    /// Tags then.
    pub tags: Vec<String>,
    /// Status then.
    pub status: ArticleStatus,
    /// When this version was written.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// Body of `POST /kb` and `PUT /kb/:id` (on update every field is optional).
/// A tag of an article in the OpenAPI document: 1 to 50 characters, not blank.
pub struct Tag;

impl utoipa::PartialSchema for Tag {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .max_length(Some(MAX_TAG_CHARS))
            .pattern(Some(r"\S"))
            .into()
    }
}

impl ToSchema for Tag {}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// Title (required on create), up to 300 characters.
    #[schema(max_length = 300, pattern = r"\S", example = "Resetting your password")]
    pub title: Option<String>,
    /// Markdown body (required on create), up to 1 MB.
    #[schema(
        max_length = 1048576,
        pattern = r"\S",
        example = "# Reset\n\nOpen Settings, then Security."
    )]
    pub content: Option<String>,
    /// Up to 20 tags of up to 50 characters.
    #[schema(value_type = Option<Vec<Tag>>, max_items = 20)]
    pub tags: Option<Vec<String>>,
    /// `draft` (default) or `published`.
    #[schema(value_type = Option<ArticleStatus>)]
    pub status: Option<String>,
}

impl Article {
    /// Builds version 1 from a create request.
    pub fn create(
        org_id: OrgId,
        data_source_id: DataSourceId,
        input: ArticleInput,
    ) -> Result<Article, Error> {
        let title = parse_title(&validate::required(input.title, "title")?)?;
        let content = parse_content(validate::required(input.content, "content")?)?;
        let tags = parse_tags(input.tags.unwrap_or_default())?;
        let status = match input.status {
            Some(s) => ArticleStatus::parse_field(&s, "status")?,
            None => ArticleStatus::default(),
        };
        let now = time::now();
        Ok(Article {
            id: ArticleId::generate(),
            org_id,
            data_source_id,
            title,
            content,
            tags,
            status,
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }

    /// Applies an update; true if anything changed (then the version is bumped).
    pub fn apply(&mut self, input: ArticleInput) -> Result<bool, Error> {
        // Validate everything on a copy: a bad field leaves the article untouched.
        let mut next = self.clone();
        if let Some(t) = input.title {
            next.title = parse_title(&t)?;
        }
        if let Some(c) = input.content {
            next.content = parse_content(c)?;
        }
        if let Some(t) = input.tags {
            next.tags = parse_tags(t)?;
        }
        if let Some(s) = input.status {
            next.status = ArticleStatus::parse_field(&s, "status")?;
        }
        if next == *self {
            return Ok(false);
        }
        next.version += 1;
        next.updated_at = time::now();
        *self = next;
        Ok(true)
    }

    /// This version as stored in the history.
    pub fn as_version(&self) -> ArticleVersion {
        ArticleVersion {
            article_id: self.id.clone(),
            version: self.version,
            title: self.title.clone(),
            content: self.content.clone(),
            tags: self.tags.clone(),
            status: self.status,
            created_at: self.updated_at,
        }
    }
}

fn parse_title(t: &str) -> Result<String, Error> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::invalid_field(
            "title",
            format!("title must be 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(t.to_owned())
}

fn parse_content(c: String) -> Result<String, Error> {
    // Characters, as the document's maxLength counts them.
    if c.trim().is_empty() || c.chars().count() > MAX_CONTENT_BYTES {
        return Err(Error::invalid_field(
            "content",
            format!("content must be non-empty Markdown of at most {MAX_CONTENT_BYTES} characters"),
        ));
    }
    Ok(c)
}

fn parse_tags(tags: Vec<String>) -> Result<Vec<String>, Error> {
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid_field(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_owned();
        if t.is_empty() || t.chars().count() > MAX_TAG_CHARS {
            return Err(Error::invalid_field(
                "tags",
                format!("each tag must be 1 to {MAX_TAG_CHARS} characters"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str, content: &str) -> ArticleInput {
        ArticleInput {
            title: Some(title.into()),
            content: Some(content.into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_validates_and_defaults_to_draft() {
        let org = OrgId::generate();
        let ds = DataSourceId::generate();
        let a = Article::create(org.clone(), ds.clone(), input(" Reset ", "Steps")).unwrap();
        assert_eq!(
            (a.title.as_str(), a.status, a.version),
            ("Reset", ArticleStatus::Draft, 1)
        );
        assert!(a.id.as_str().starts_with("kb_"));
        for bad in [input("", "x"), input("t", "  "), ArticleInput::default()] {
            assert!(Article::create(org.clone(), ds.clone(), bad).is_err());
        }
        let mut many = input("t", "x");
        many.tags = Some((0..21).map(|i| i.to_string()).collect());
        assert!(Article::create(org.clone(), ds.clone(), many).is_err());
        let mut st = input("t", "x");
        st.status = Some("archived".into());
        assert!(Article::create(org, ds, st).is_err());
    }

    #[test]
    fn apply_bumps_the_version_only_on_change() {
        let mut a =
            Article::create(OrgId::generate(), DataSourceId::generate(), input("t", "x")).unwrap();
        assert!(!a
            .apply(ArticleInput {
                title: Some("t".into()),
                ..Default::default()
            })
            .unwrap());
        assert_eq!(a.version, 1);
        assert!(a
            .apply(ArticleInput {
                status: Some("published".into()),
                ..Default::default()
            })
            .unwrap());
        assert_eq!((a.version, a.status), (2, ArticleStatus::Published));
        let before = a.clone();
        assert!(a
            .apply(ArticleInput {
                content: Some("".into()),
                ..Default::default()
            })
            .is_err());
        assert_eq!(a.content, before.content);
    }
}
