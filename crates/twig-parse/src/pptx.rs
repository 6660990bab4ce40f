//! PPTX: one section per slide (page = slide number), slide title as heading, notes appended.

use crate::archive::BoundedZip;
use crate::error::ParseError;
use crate::ooxml::{attr, children, core_title, descendant, parse_xml, read_part, relationships};
use crate::sections::squash_ws;
use crate::types::{Format, Limits, ParsedDocument, Section};
use roxmltree::Node;
use serde_json::{Map, Value};

const FMT: &str = "PPTX";

/// Parses a PPTX file.
pub(crate) fn parse_pptx(bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseError> {
    crate::ooxml::check_encrypted_container(bytes, "PowerPoint presentation")?;
    let mut zip = BoundedZip::open(bytes, limits, FMT)?;
    let slides = slide_parts(&mut zip)?;
    let mut sections = Vec::new();
    for (idx, part) in slides.iter().enumerate() {
        let page = idx as u32 + 1;
        let Some(xml) = read_part(&mut zip, part, FMT)? else {
            continue;
        };
        let doc = parse_xml(&xml, part, FMT)?;
        let (title, mut body) = slide_text(doc.root());
        if let Some(notes) = notes_text(&mut zip, part)? {
            body.push(format!("Notes: {notes}"));
        }
        let heading_path = title.clone().into_iter().collect();
        let mut text = body.join("\n");
        if text.trim().is_empty() {
            // A title-only slide still carries searchable text.
            text = title.unwrap_or_default();
        }
        if !text.trim().is_empty() {
            sections.push(Section {
                heading_path,
                text,
                page: Some(page),
            });
        }
    }
    let mut metadata = Map::new();
    metadata.insert("slides".into(), Value::from(slides.len()));
    let title = core_title(&mut zip, FMT).or_else(|| {
        sections
            .iter()
            .find_map(|s| s.heading_path.first().cloned())
    });
    Ok(ParsedDocument {
        title,
        sections,
        format: Format::Pptx,
        metadata,
    })
}

/// Slide part names in presentation order (falls back to numeric order of ppt/slides/slideN.xml).
fn slide_parts(zip: &mut BoundedZip<'_>) -> Result<Vec<String>, ParseError> {
    let rels = relationships(zip, "ppt/_rels/presentation.xml.rels", "ppt", FMT)?;
    let mut ordered = Vec::new();
    if let Some(xml) = read_part(zip, "ppt/presentation.xml", FMT)? {
        let doc = parse_xml(&xml, "ppt/presentation.xml", FMT)?;
        if let Some(list) = descendant(doc.root(), "sldIdLst") {
            for sld in children(list, "sldId") {
                if let Some((_, target)) = r_id(sld).and_then(|id| rels.get(id)) {
                    ordered.push(target.clone());
                }
            }
        }
    } else {
        return Err(ParseError::corrupt(FMT, "ppt/presentation.xml is missing"));
    }
    if ordered.is_empty() {
        let mut numbered: Vec<(u32, String)> = zip
            .archive
            .file_names()
            .filter_map(Result::ok)
            .filter_map(|n| {
                let num = n
                    .strip_prefix("ppt/slides/slide")?
                    .strip_suffix(".xml")?
                    .parse()
                    .ok()?;
                Some((num, n.into_owned()))
            })
            .collect();
        numbered.sort();
        ordered = numbered.into_iter().map(|(_, n)| n).collect();
    }
    Ok(ordered)
}

/// The `r:id` attribute (namespaced; plain `id` is the numeric slide id).
fn r_id<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == "id" && a.namespace().is_some())
        .map(|a| a.value())
}

/// (title, body lines) of a slide: shapes in document order, tables as rows.
fn slide_text(root: Node<'_, '_>) -> (Option<String>, Vec<String>) {
    let mut title = None;
    let mut lines = Vec::new();
    for shape in root
        .descendants()
        .filter(|n| matches!(n.tag_name().name(), "sp" | "graphicFrame"))
    {
        let is_title = descendant(shape, "ph")
            .and_then(|ph| attr(ph, "type"))
            .is_some_and(|t| t == "title" || t == "ctrTitle");
        if shape.tag_name().name() == "graphicFrame" {
            for tr in shape.descendants().filter(|n| n.tag_name().name() == "tr") {
                let cells: Vec<String> = children(tr, "tc")
                    .map(|tc| para_texts(tc).join(" "))
                    .collect();
                if cells.iter().any(|c| !c.is_empty()) {
                    lines.push(cells.join(" | "));
                }
            }
            continue;
        }
        let paras = para_texts(shape);
        if is_title && title.is_none() {
            let t = squash_ws(&paras.join(" "));
            if !t.is_empty() {
                title = Some(t);
                continue;
            }
        }
        lines.extend(paras);
    }
    (title, lines)
}

/// Non-empty `a:p` paragraph texts under a node.
fn para_texts(node: Node<'_, '_>) -> Vec<String> {
    node.descendants()
        .filter(|n| n.tag_name().name() == "p" && n.is_element())
        .map(|p| {
            let mut s = String::new();
            for n in p.descendants().filter(|n| n.is_element()) {
                match n.tag_name().name() {
                    "t" => s.push_str(n.text().unwrap_or_default()),
                    "br" => s.push(' '),
                    _ => {}
                }
            }
            squash_ws(&s)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Speaker notes of a slide, found through the slide's relationships.
fn notes_text(zip: &mut BoundedZip<'_>, slide_part: &str) -> Result<Option<String>, ParseError> {
    let (dir, file) = slide_part.rsplit_once('/').unwrap_or(("", slide_part));
    let rels = relationships(zip, &format!("{dir}/_rels/{file}.rels"), dir, FMT)?;
    let Some((_, target)) = rels.values().find(|(ty, _)| ty.ends_with("/notesSlide")) else {
        return Ok(None);
    };
    let target = target.clone();
    let Some(xml) = read_part(zip, &target, FMT)? else {
        return Ok(None);
    };
    let doc = parse_xml(&xml, &target, FMT)?;
    // Notes pages repeat the slide image and number; keep only the body placeholder text.
    let mut out = Vec::new();
    for sp in doc.descendants().filter(|n| n.tag_name().name() == "sp") {
        let ty = descendant(sp, "ph").and_then(|ph| attr(ph, "type"));
        if ty == Some("body") {
            out.extend(para_texts(sp));
        }
    }
    let text = out.join(" ");
    Ok((!text.trim().is_empty()).then_some(text))
}
