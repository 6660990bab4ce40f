//! HTML pages: metadata (title, canonical, robots), links, and cleaned text via [`clean`].

mod clean;

use crate::sections::squash_ws;
use crate::types::{Format, HtmlPage, ParsedDocument};
use ego_tree::NodeRef;
use scraper::{Html, Node};
use serde_json::{Map, Value};
use url::Url;

/// Parses an HTML page into clean, heading-structured text plus crawl metadata.
pub fn parse_html(html: &str, base_url: Option<&str>) -> HtmlPage {
    let doc = Html::parse_document(html);
    let mut page = HtmlPage::default();
    let base = base_url.and_then(|b| Url::parse(b).ok());
    let mut base_href: Option<Url> = None;
    let mut og_title = None;
    let mut first_h1 = None;
    let mut hrefs = Vec::new();

    // One flat pass over all nodes for head metadata and links (nav links matter to crawlers).
    for node in doc.tree.nodes() {
        let Node::Element(el) = node.value() else {
            continue;
        };
        match el.name() {
            "title" if page.title.is_none() => {
                let t = squash_ws(&text_of(node));
                page.title = (!t.is_empty()).then_some(t);
            }
            "base" if base_href.is_none() => {
                base_href = el.attr("href").and_then(|h| join(base.as_ref(), h));
            }
            "meta" => {
                let key = el
                    .attr("name")
                    .or(el.attr("property"))
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let content = el.attr("content").unwrap_or_default();
                if key == "robots" || key == "googlebot" {
                    let c = content.to_ascii_lowercase();
                    page.noindex |= c.contains("noindex") || c.contains("none");
                    page.nofollow |= c.contains("nofollow") || c.contains("none");
                } else if key == "og:title" && og_title.is_none() && !content.trim().is_empty() {
                    og_title = Some(squash_ws(content));
                }
            }
            "noscript" => {
                // Parsed with scripting on, a <noscript> holds raw text; what a script-less
                // reader sees there (mdBook's table-of-contents iframe) is markup to read too.
                let inner = Html::parse_fragment(&text_of(node));
                for n in inner.tree.nodes() {
                    if let Node::Element(e) = n.value() {
                        push_ref(e, &mut hrefs);
                    }
                }
            }
            _ if push_ref(el, &mut hrefs) => {}
            "h1" if first_h1.is_none() => {
                let t = squash_ws(&text_of(node));
                first_h1 = (!t.is_empty()).then_some(t);
            }
            _ => {}
        }
    }
    // <base href> applies to every relative URL in the document, wherever it appears.
    let resolve_base = base_href.or(base);
    let mut seen = std::collections::HashSet::new();
    let mut seen_frames = std::collections::HashSet::new();
    for (kind, h) in hrefs {
        let Some(u) = clean_link(resolve_base.as_ref(), &h) else {
            continue;
        };
        match kind {
            Ref::Canonical => {
                page.canonical.get_or_insert(u);
            }
            Ref::Frame => {
                if seen_frames.insert(u.clone()) {
                    page.frames.push(u);
                }
            }
            Ref::Link => {
                if seen.insert(u.clone()) {
                    page.links.push(u);
                }
            }
        }
    }
    page.title = page.title.or(og_title).or(first_h1);
    page.sections = clean::extract_text(&doc);
    page
}

/// Converts a page to a [`ParsedDocument`] for [`crate::parse`].
pub(crate) fn html_document(page: HtmlPage) -> ParsedDocument {
    let mut metadata = Map::new();
    if let Some(c) = &page.canonical {
        metadata.insert("canonical".into(), Value::from(c.as_str()));
    }
    metadata.insert("links".into(), Value::from(page.links.len()));
    metadata.insert("noindex".into(), Value::from(page.noindex));
    ParsedDocument {
        title: page.title,
        sections: page.sections,
        format: Format::Html,
        metadata,
    }
}

/// What a URL found in a page is to a crawler.
enum Ref {
    Canonical,
    Link,
    Frame,
}

/// Records the URL an element points to, if it is one a crawler follows; true if it was.
fn push_ref(el: &scraper::node::Element, out: &mut Vec<(Ref, String)>) -> bool {
    let rel = el.attr("rel");
    let found = match el.name() {
        "link" if has_token(rel, "canonical") => el.attr("href").map(|h| (Ref::Canonical, h)),
        // Pagination and translations; an alternate that declares a non-HTML type (a feed)
        // is no page to index.
        "link"
            if has_token(rel, "next")
                || has_token(rel, "prev")
                || has_token(rel, "previous")
                || (has_token(rel, "alternate")
                    && el
                        .attr("type")
                        .is_none_or(|t| t.to_ascii_lowercase().contains("html"))) =>
        {
            el.attr("href").map(|h| (Ref::Link, h))
        }
        "a" | "area" if !has_token(rel, "nofollow") => el.attr("href").map(|h| (Ref::Link, h)),
        "iframe" | "frame" => el.attr("src").map(|h| (Ref::Frame, h)),
        _ => None,
    };
    match found {
        Some((kind, h)) => {
            out.push((kind, h.to_owned()));
            true
        }
        None => false,
    }
}

fn has_token(attr: Option<&str>, token: &str) -> bool {
    attr.is_some_and(|v| {
        v.split_ascii_whitespace()
            .any(|t| t.eq_ignore_ascii_case(token))
    })
}

fn join(base: Option<&Url>, href: &str) -> Option<Url> {
    let href = href.trim();
    match base {
        Some(b) => b.join(href).ok(),
        None => Url::parse(href).ok(),
    }
}

/// Absolute http(s) URL without fragment; `javascript:`, `mailto:` etc. are dropped.
fn clean_link(base: Option<&Url>, href: &str) -> Option<String> {
    if href.trim().is_empty() || href.trim_start().starts_with('#') {
        return None;
    }
    let mut u = join(base, href)?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    u.set_fragment(None);
    Some(u.to_string())
}

/// Concatenated text of a subtree.
fn text_of(node: NodeRef<'_, Node>) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        if let Node::Text(t) = d.value() {
            s.push_str(t);
        }
    }
    s
}
