//! Knowledge-base use cases. An article's rows are the source of truth; its
//! published version is indexed as a document (source key = article id) of the
//! org's built-in `kb` data source, right in the request, so publishing makes it
//! searchable and unpublishing or deleting removes it at once. [`reconcile`]
//! repairs the index after a crash between the two writes.

use serde_json::{json, Map};
use twig_core::error::{Error, Result};
use twig_core::id::{ArticleId, OrgId};
use twig_core::kb::{Article, ArticleInput, ArticleStatus, ArticleVersion};
use twig_core::page::{Listed, Page};
use twig_core::retrieval::{DocumentInput, Retriever, SectionInput};
use twig_core::store::Store;

fn parse_id(id: &str) -> Result<ArticleId> {
    Ok(ArticleId::parse(id)?)
}

/// Creates an article (version 1); indexes it if published.
pub async fn create(
    store: &dyn Store,
    retriever: &dyn Retriever,
    org: &OrgId,
    input: ArticleInput,
) -> Result<Article> {
    let ds = store.kb().kb_data_source(org).await?;
    let article = Article::create(org.clone(), ds.id, input)?;
    store.kb().create_article(&article).await?;
    if article.status == ArticleStatus::Published {
        index(store, retriever, &article).await?;
    }
    Ok(article)
}

/// Reads an article at its latest version.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<Article> {
    let id = parse_id(id)?;
    store
        .kb()
        .get_article(org, &id)
        .await?
        .ok_or_else(|| Error::not_found("Article", id.as_str()))
}

/// Lists articles, optionally by status (`draft`/`published`).
pub async fn list(
    store: &dyn Store,
    org: &OrgId,
    status: Option<&str>,
    page: Page,
) -> Result<Listed<Article>> {
    let status = status
        .map(|s| ArticleStatus::parse_field(s, "status"))
        .transpose()?;
    Ok(store.kb().list_articles(org, status, page).await?)
}

/// Writes a new version when anything changed; the index follows the new status.
pub async fn update(
    store: &dyn Store,
    retriever: &dyn Retriever,
    org: &OrgId,
    id: &str,
    input: ArticleInput,
) -> Result<Article> {
    let mut article = get(store, org, id).await?;
    if !article.apply(input)? {
        return Ok(article);
    }
    if !store.kb().update_article(&article).await? {
        return match store.kb().get_article(org, &article.id).await? {
            None => Err(Error::not_found("Article", article.id.as_str())),
            Some(_) => Err(Error::invalid(
                "The article was changed by another request meanwhile; read it again and retry",
            )),
        };
    }
    match article.status {
        ArticleStatus::Published => index(store, retriever, &article).await?,
        ArticleStatus::Draft => unindex(store, retriever, &article).await?,
    }
    Ok(article)
}

/// Deletes an article with its versions, removing it from the index first.
pub async fn delete(
    store: &dyn Store,
    retriever: &dyn Retriever,
    org: &OrgId,
    id: &str,
) -> Result<()> {
    let article = get(store, org, id).await?;
    unindex(store, retriever, &article).await?;
    if store.kb().delete_article(org, &article.id).await? {
        Ok(())
    } else {
        Err(Error::not_found("Article", article.id.as_str()))
    }
}

/// An article's versions, newest first.
pub async fn versions(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    page: Page,
) -> Result<Listed<ArticleVersion>> {
    let id = parse_id(id)?;
    store
        .kb()
        .list_article_versions(org, &id, page)
        .await?
        .ok_or_else(|| Error::not_found("Article", id.as_str()))
}

/// One version of an article.
pub async fn version(store: &dyn Store, org: &OrgId, id: &str, n: &str) -> Result<ArticleVersion> {
    let id = parse_id(id)?;
    let n: u32 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        Error::invalid(format!("Invalid version {n:?}: expected a number from 1"))
    })?;
    let v = store.kb().get_article_version(org, &id, n).await?;
    match v {
        Some(v) => Ok(v),
        None if store.kb().get_article(org, &id).await?.is_some() => Err(Error::not_found(
            "Article version",
            format!("{id}/versions/{n}"),
        )),
        None => Err(Error::not_found("Article", id.as_str())),
    }
}

/// Brings the index in line with the articles (published ones indexed, others not).
/// Unchanged content costs no embedding. Returns how many articles were checked.
pub async fn reconcile(store: &dyn Store, retriever: &dyn Retriever) -> Result<usize> {
    let mut after: Option<ArticleId> = None;
    let mut checked = 0;
    loop {
        let batch = store.kb().article_ids(after.as_ref(), 200).await?;
        let Some((_, last)) = batch.last() else {
            return Ok(checked);
        };
        after = Some(last.clone());
        for (org, id) in batch {
            let Some(article) = store.kb().get_article(&org, &id).await? else {
                continue;
            };
            match article.status {
                ArticleStatus::Published => index(store, retriever, &article).await?,
                ArticleStatus::Draft => unindex(store, retriever, &article).await?,
            }
            checked += 1;
        }
    }
}

/// Indexes the article's current version as a document of the kb source.
async fn index(store: &dyn Store, retriever: &dyn Retriever, a: &Article) -> Result<()> {
    let ds = store
        .get_data_source(&a.org_id, &a.data_source_id)
        .await?
        .ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "the kb data source {} of article {} is missing",
                a.data_source_id,
                a.id
            ))
        })?;
    let content = a.content.clone();
    // Markdown parsing is CPU work: off the async runtime.
    let parsed = tokio::task::spawn_blocking(move || {
        twig_parse::parse(
            "article.md",
            Some("text/markdown"),
            content.as_bytes(),
            &twig_parse::Limits::default(),
        )
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    let sections = match parsed {
        Ok(doc) => doc
            .sections
            .into_iter()
            .map(|s| SectionInput {
                heading_path: s.heading_path,
                text: s.text,
                page: s.page,
            })
            .collect(),
        // Markdown that yields no text after cleaning (e.g. only markup): index it as written.
        Err(_) => vec![SectionInput {
            heading_path: vec![],
            text: a.content.clone(),
            page: None,
        }],
    };
    let mut metadata = Map::new();
    metadata.insert("article_id".into(), json!(a.id.as_str()));
    metadata.insert("version".into(), json!(a.version));
    metadata.insert("tags".into(), json!(a.tags));
    retriever
        .upsert_documents(vec![DocumentInput {
            org_id: a.org_id.clone(),
            data_source_id: a.data_source_id.clone(),
            source_key: a.id.to_string(),
            title: a.title.clone(),
            url: None,
            filename: None,
            metadata,
            sections,
            chunking: ds.chunking(),
        }])
        .await?;
    Ok(())
}

/// Removes the article's document from the index, if it has one.
async fn unindex(store: &dyn Store, retriever: &dyn Retriever, a: &Article) -> Result<()> {
    if let Some(doc) = store
        .documents()
        .find_document(&a.data_source_id, a.id.as_str())
        .await?
    {
        retriever.delete_document(&a.org_id, &doc.id).await?;
    }
    Ok(())
}
