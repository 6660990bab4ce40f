//! Markdown: `#` headings become heading paths; code blocks, lists and tables are kept as text.

use crate::error::ParseError;
use crate::sections::{squash_ws, SectionBuilder};
use crate::types::{Format, ParsedDocument};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value};

/// Parses Markdown (CommonMark + tables, strikethrough, task lists, YAML front matter).
pub(crate) fn parse_markdown(bytes: &[u8]) -> Result<ParsedDocument, ParseError> {
    let (text, encoding) = crate::text::decode_text(bytes)?;
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut b = SectionBuilder::new();
    let mut cur = String::new();
    let mut title: Option<String> = None;
    let mut front_title: Option<String> = None;
    let mut item_depth = 0usize;
    let mut in_code = false;
    let mut in_meta = false;
    let mut row: Vec<String> = Vec::new();

    for ev in Parser::new_ext(&text, opts) {
        match ev {
            Event::Start(Tag::MetadataBlock(_)) => in_meta = true,
            Event::End(TagEnd::MetadataBlock(_)) => {
                in_meta = false;
                front_title = front_matter_title(&cur);
                cur.clear();
            }
            Event::Start(Tag::Heading { .. }) => flush_item(&mut b, &mut cur, item_depth),
            Event::End(TagEnd::Heading(level)) => {
                let h = squash_ws(&cur);
                if title.is_none() && level as u8 == 1 {
                    title = Some(h.clone());
                }
                b.heading(level as u8, &h);
                cur.clear();
            }
            Event::Start(Tag::CodeBlock(_)) => {
                flush_item(&mut b, &mut cur, item_depth);
                in_code = true;
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                b.paragraph(cur.trim_end());
                cur.clear();
            }
            Event::Start(Tag::List(_)) => flush_item(&mut b, &mut cur, item_depth),
            Event::Start(Tag::Item) => item_depth += 1,
            Event::End(TagEnd::Item) => {
                flush_item(&mut b, &mut cur, item_depth);
                item_depth = item_depth.saturating_sub(1);
            }
            Event::End(TagEnd::Paragraph) => {
                if item_depth > 0 {
                    flush_item(&mut b, &mut cur, item_depth);
                } else {
                    b.paragraph(&cur);
                    cur.clear();
                }
            }
            Event::End(TagEnd::TableCell) => {
                row.push(squash_ws(&cur));
                cur.clear();
            }
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                b.line(&row.join(" | "));
                row.clear();
            }
            Event::End(TagEnd::Table) => b.line(""),
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                cur.push_str(&t)
            }
            Event::SoftBreak if !in_code && !in_meta => cur.push(' '),
            Event::SoftBreak | Event::HardBreak => cur.push('\n'),
            Event::TaskListMarker(done) => cur.push_str(if done { "[x] " } else { "[ ] " }),
            _ => {}
        }
    }
    b.paragraph(&cur);
    let mut metadata = Map::new();
    metadata.insert("encoding".into(), Value::from(encoding));
    Ok(ParsedDocument {
        title: front_title.or(title),
        sections: b.finish(),
        format: Format::Markdown,
        metadata,
    })
}

/// Emits pending list-item text as a `- ` line.
fn flush_item(b: &mut SectionBuilder, cur: &mut String, depth: usize) {
    let t = squash_ws(cur);
    if !t.is_empty() {
        if depth > 0 {
            b.line(&format!("{}- {t}", "  ".repeat(depth - 1)));
        } else {
            b.paragraph(&t);
        }
    }
    cur.clear();
}

/// `title:` from YAML front matter (a simple line match; no YAML dependency needed).
fn front_matter_title(yaml: &str) -> Option<String> {
    yaml.lines().find_map(|l| {
        let v = l.strip_prefix("title:")?.trim().trim_matches(['"', '\'']);
        (!v.is_empty()).then(|| v.to_owned())
    })
}
