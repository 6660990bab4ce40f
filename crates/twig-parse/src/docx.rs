//! DOCX: paragraphs with heading styles become heading paths; tables become rows of text.

use crate::archive::BoundedZip;
use crate::error::ParseError;
use crate::ooxml::{attr, children, core_title, parse_xml, read_part};
use crate::sections::{squash_ws, SectionBuilder};
use crate::types::{Format, Limits, ParsedDocument};
use roxmltree::Node;
use serde_json::{Map, Value};
use std::collections::HashMap;

const FMT: &str = "DOCX";

/// Parses a DOCX file.
pub(crate) fn parse_docx(bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseError> {
    crate::ooxml::check_encrypted_container(bytes, "Word document")?;
    let mut zip = BoundedZip::open(bytes, limits, FMT)?;
    let xml = read_part(&mut zip, "word/document.xml", FMT)?
        .ok_or_else(|| ParseError::corrupt(FMT, "word/document.xml is missing"))?;
    let styles = match read_part(&mut zip, "word/styles.xml", FMT)? {
        Some(s) => heading_styles(&s),
        None => HashMap::new(),
    };
    let doc = parse_xml(&xml, "word/document.xml", FMT)?;
    let body = crate::ooxml::descendant(doc.root(), "body")
        .ok_or_else(|| ParseError::corrupt(FMT, "document has no body"))?;

    let mut w = Walker {
        b: SectionBuilder::new(),
        styles: &styles,
        first_title: None,
        paragraphs: 0,
        tables: 0,
    };
    w.block(body);
    let mut metadata = Map::new();
    metadata.insert("paragraphs".into(), Value::from(w.paragraphs));
    metadata.insert("tables".into(), Value::from(w.tables));
    let title = core_title(&mut zip, FMT).or(w.first_title);
    Ok(ParsedDocument {
        title,
        sections: w.b.finish(),
        format: Format::Docx,
        metadata,
    })
}

/// Maps style ids to heading levels (Title = 0, Heading N = N), resolving localized ids via names.
fn heading_styles(xml: &str) -> HashMap<String, u8> {
    let mut map = HashMap::new();
    let Ok(doc) = parse_xml(xml, "word/styles.xml", FMT) else {
        return map;
    };
    for style in doc.descendants().filter(|n| n.tag_name().name() == "style") {
        let Some(id) = attr(style, "styleId") else {
            continue;
        };
        let name = children(style, "name")
            .next()
            .and_then(|n| attr(n, "val"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let outline = crate::ooxml::descendant(style, "outlineLvl")
            .and_then(|n| attr(n, "val"))
            .and_then(|v| v.parse::<u8>().ok());
        let level = if name == "title" {
            Some(0)
        } else if let Some(n) = name.strip_prefix("heading ") {
            n.trim().parse::<u8>().ok()
        } else {
            outline.filter(|l| *l < 9).map(|l| l + 1)
        };
        if let Some(l) = level {
            map.insert(id.to_owned(), l);
        }
    }
    map
}

/// Level from a style id when styles.xml lacks it ("Heading2", "Title").
fn level_from_id(id: &str) -> Option<u8> {
    let lower = id.to_ascii_lowercase();
    if lower == "title" {
        return Some(0);
    }
    lower.strip_prefix("heading")?.parse().ok()
}

struct Walker<'s> {
    b: SectionBuilder,
    styles: &'s HashMap<String, u8>,
    first_title: Option<String>,
    paragraphs: usize,
    tables: usize,
}

impl Walker<'_> {
    /// Visits block-level content (body, sdtContent, cells ...).
    fn block(&mut self, node: Node<'_, '_>) {
        for child in node.children().filter(|n| n.is_element()) {
            match child.tag_name().name() {
                "p" => self.paragraph(child),
                "tbl" => self.table(child),
                "sectPr" => {}
                _ => self.block(child),
            }
        }
    }

    fn paragraph(&mut self, p: Node<'_, '_>) {
        let text = paragraph_text(p);
        if text.trim().is_empty() {
            return;
        }
        self.paragraphs += 1;
        let ppr = children(p, "pPr").next();
        let style = ppr
            .and_then(|n| children(n, "pStyle").next())
            .and_then(|n| attr(n, "val"));
        let level = style
            .and_then(|s| self.styles.get(s).copied().or_else(|| level_from_id(s)))
            .or_else(|| {
                ppr.and_then(|n| children(n, "outlineLvl").next())
                    .and_then(|n| attr(n, "val"))
                    .and_then(|v| v.parse::<u8>().ok())
                    .filter(|l| *l < 9)
                    .map(|l| l + 1)
            });
        if let Some(level) = level {
            if level == 0 && self.first_title.is_none() {
                self.first_title = Some(squash_ws(&text));
            }
            self.b.heading(level, &text);
            return;
        }
        let is_list = ppr.and_then(|n| children(n, "numPr").next()).is_some();
        if is_list {
            self.b.line(&format!("- {}", text.trim()));
        } else {
            self.b.paragraph(&text);
        }
    }

    fn table(&mut self, tbl: Node<'_, '_>) {
        self.tables += 1;
        let mut rows = Vec::new();
        for tr in children(tbl, "tr") {
            let cells: Vec<String> = children(tr, "tc")
                .map(|tc| {
                    tc.descendants()
                        .filter(|n| n.tag_name().name() == "p")
                        .map(paragraph_text)
                        .map(|t| squash_ws(&t))
                        .filter(|t| !t.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            if cells.iter().any(|c| !c.is_empty()) {
                rows.push(cells.join(" | "));
            }
        }
        self.b.paragraph(&rows.join("\n"));
    }
}

/// Text of one paragraph: runs, tabs and breaks; deleted text and field codes are skipped.
fn paragraph_text(p: Node<'_, '_>) -> String {
    let mut s = String::new();
    for n in p.descendants().filter(|n| n.is_element()) {
        match n.tag_name().name() {
            "t" => s.push_str(n.text().unwrap_or_default()),
            "tab" if n.parent().is_some_and(|p| p.tag_name().name() == "r") => s.push('\t'),
            "br" | "cr" => s.push('\n'),
            "noBreakHyphen" => s.push('-'),
            _ => {}
        }
    }
    s
}
