//! Boilerplate removal and the heading-structured text walk.

use crate::sections::{squash_ws, SectionBuilder};
use ego_tree::iter::Edge;
use ego_tree::NodeRef;
use scraper::node::Element;
use scraper::{Html, Node};

/// Elements whose whole subtree is boilerplate or non-text.
const DROP_TAGS: &[&str] = &[
    "nav", "aside", "script", "style", "noscript", "svg", "form", "template", "iframe", "object",
    "embed", "canvas", "button", "select", "textarea", "input", "dialog", "head", "math", "video",
    "audio", "map",
];
/// ARIA roles of page chrome.
const DROP_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "search",
    "dialog",
    "alertdialog",
];
/// id/class fragments of cookie and consent popups.
const DROP_MARKERS: &[&str] = &["cookie", "consent", "gdpr", "banner"];
/// Elements that start a new paragraph.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
    "body",
    "caption",
    "fieldset",
    "center",
];

/// True when the element (and its subtree) is boilerplate, hidden or non-text.
fn is_dropped(el: &Element, in_article: bool) -> bool {
    let name = el.name();
    if DROP_TAGS.contains(&name) {
        return true;
    }
    // Headers/footers inside an article carry its title and byline; elsewhere they are chrome.
    if (name == "header" || name == "footer") && !in_article {
        return true;
    }
    if let Some(role) = el.attr("role") {
        if DROP_ROLES.contains(&role.trim().to_ascii_lowercase().as_str()) {
            return true;
        }
    }
    if el.attr("hidden").is_some()
        || el
            .attr("aria-hidden")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return true;
    }
    if let Some(style) = el.attr("style") {
        let s: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if s.contains("display:none") || s.contains("visibility:hidden") {
            return true;
        }
    }
    if !matches!(name, "html" | "body" | "main" | "article") {
        let marked = |v: &str| {
            let v = v.to_ascii_lowercase();
            DROP_MARKERS.iter().any(|m| v.contains(m))
        };
        if el.id().is_some_and(marked) || el.classes().any(marked) {
            return true;
        }
    }
    false
}

/// Picks `<main>`, a single `<article>` or `[role=main]`, else `<body>`.
fn content_root(doc: &Html) -> NodeRef<'_, Node> {
    let mut main = None;
    let mut articles = Vec::new();
    let mut role_main = None;
    let mut body = None;
    for node in doc.tree.nodes() {
        if let Node::Element(el) = node.value() {
            match el.name() {
                "main" if main.is_none() => main = Some(node),
                "article" => articles.push(node),
                "body" if body.is_none() => body = Some(node),
                _ => {}
            }
            if role_main.is_none()
                && el
                    .attr("role")
                    .is_some_and(|r| r.eq_ignore_ascii_case("main"))
            {
                role_main = Some(node);
            }
        }
    }
    let single_article = (articles.len() == 1).then(|| articles[0]);
    main.or(single_article)
        .or(role_main)
        .or(body)
        .unwrap_or_else(|| doc.tree.root())
}

/// Walks the content root iteratively (deeply nested pages must not overflow the stack).
pub(super) fn extract_text(doc: &Html) -> Vec<crate::types::Section> {
    let root = content_root(doc);
    let in_article_root = root
        .ancestors()
        .any(|a| matches!(a.value(), Node::Element(e) if e.name() == "article"));
    let mut b = SectionBuilder::new();
    let mut buf = String::new();
    let mut skip: Option<ego_tree::NodeId> = None;
    let mut pre_depth = 0usize;
    let mut article_depth = usize::from(in_article_root);
    let mut heading: Option<u8> = None;
    let mut row: Vec<String> = Vec::new();

    for edge in root.traverse() {
        match edge {
            Edge::Open(node) => {
                if skip.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(t) => {
                        if pre_depth > 0 {
                            buf.push_str(t);
                        } else {
                            push_inline(&mut buf, t);
                        }
                    }
                    Node::Element(el) => {
                        if node != root && is_dropped(el, article_depth > 0) {
                            skip = Some(node.id());
                            continue;
                        }
                        let name = el.name();
                        match name {
                            "article" => article_depth += 1,
                            "pre" => pre_depth += 1,
                            "br" => buf.push('\n'),
                            _ => {}
                        }
                        if let Some(level) = heading_level(name) {
                            flush_para(&mut b, &mut buf, pre_depth);
                            heading = Some(level);
                        } else if BLOCK_TAGS.contains(&name) && heading.is_none() {
                            flush_para(&mut b, &mut buf, pre_depth);
                        } else if matches!(name, "td" | "th") {
                            buf.clear();
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if let Some(id) = skip {
                    if id == node.id() {
                        skip = None;
                    }
                    continue;
                }
                let Node::Element(el) = node.value() else {
                    continue;
                };
                let name = el.name();
                if let Some(level) = heading_level(name) {
                    if heading == Some(level) {
                        b.heading(level, &buf);
                        buf.clear();
                        heading = None;
                    }
                    continue;
                }
                if heading.is_some() {
                    continue;
                }
                match name {
                    "article" => article_depth = article_depth.saturating_sub(1),
                    "pre" => {
                        b.paragraph(buf.trim_matches('\n'));
                        buf.clear();
                        pre_depth = pre_depth.saturating_sub(1);
                    }
                    "li" | "dt" | "dd" => {
                        let t = squash_lines(&buf);
                        if !t.is_empty() {
                            b.line(&format!("- {t}"));
                        }
                        buf.clear();
                    }
                    "td" | "th" => {
                        row.push(squash_ws(&buf));
                        buf.clear();
                    }
                    "tr" => {
                        if row.iter().any(|c| !c.is_empty()) {
                            b.line(&row.join(" | "));
                        }
                        row.clear();
                    }
                    "table" => flush_para(&mut b, &mut buf, 0),
                    n if BLOCK_TAGS.contains(&n) => flush_para(&mut b, &mut buf, pre_depth),
                    _ => {}
                }
            }
        }
    }
    flush_para(&mut b, &mut buf, 0);
    b.finish()
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Appends inline text, collapsing whitespace runs as a browser would.
fn push_inline(buf: &mut String, t: &str) {
    let starts_ws = t.starts_with(|c: char| c.is_whitespace());
    let ends_ws = t.ends_with(|c: char| c.is_whitespace());
    let core = squash_ws(t);
    if starts_ws && !buf.is_empty() && !buf.ends_with([' ', '\n']) {
        buf.push(' ');
    }
    buf.push_str(&core);
    if ends_ws && !core.is_empty() {
        buf.push(' ');
    }
}

/// Squashes each `<br>`-separated line and drops blank ones.
fn squash_lines(s: &str) -> String {
    s.split('\n')
        .map(squash_ws)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn flush_para(b: &mut SectionBuilder, buf: &mut String, pre_depth: usize) {
    if pre_depth > 0 {
        return; // text inside <pre> is flushed when the <pre> closes
    }
    let t = squash_lines(buf);
    b.paragraph(&t);
    buf.clear();
}
