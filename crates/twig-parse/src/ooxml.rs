//! Shared Office Open XML helpers: bounded part reading, XML parsing, relationships, core title.

use crate::archive::BoundedZip;
use crate::error::ParseError;
use roxmltree::{Document, Node, ParsingOptions};
use std::collections::HashMap;

/// Reads a part as UTF-8 (OOXML parts are UTF-8; a BOM is tolerated).
pub(crate) fn read_part(
    zip: &mut BoundedZip<'_>,
    name: &str,
    format: &str,
) -> Result<Option<String>, ParseError> {
    let Some(bytes) = zip.read_name(name)? else {
        return Ok(None);
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    String::from_utf8(bytes.to_vec())
        .map(Some)
        .map_err(|_| ParseError::corrupt(format, format!("part {name} is not UTF-8 XML")))
}

/// Parses XML with DTDs refused (no entity expansion attacks).
pub(crate) fn parse_xml<'a>(
    xml: &'a str,
    part: &str,
    format: &str,
) -> Result<Document<'a>, ParseError> {
    let opts = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(xml, opts)
        .map_err(|e| ParseError::corrupt(format, format!("part {part} is not valid XML ({e})")))
}

/// Child elements with the given local name.
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    local: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == local)
}

/// First descendant element with the given local name.
pub(crate) fn descendant<'a, 'i>(node: Node<'a, 'i>, local: &str) -> Option<Node<'a, 'i>> {
    node.descendants()
        .find(|c| c.is_element() && c.tag_name().name() == local)
}

/// Attribute by local name, ignoring its namespace (`w:val`, `r:id` ...).
pub(crate) fn attr<'a>(node: Node<'a, '_>, local: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == local)
        .map(|a| a.value())
}

/// Relationship id -> (type, absolute part name) from a `.rels` part.
pub(crate) fn relationships(
    zip: &mut BoundedZip<'_>,
    rels_part: &str,
    base_dir: &str,
    format: &str,
) -> Result<HashMap<String, (String, String)>, ParseError> {
    let mut map = HashMap::new();
    let Some(xml) = read_part(zip, rels_part, format)? else {
        return Ok(map);
    };
    let doc = parse_xml(&xml, rels_part, format)?;
    for rel in doc
        .descendants()
        .filter(|n| n.tag_name().name() == "Relationship")
    {
        let (Some(id), Some(target)) = (attr(rel, "Id"), attr(rel, "Target")) else {
            continue;
        };
        let ty = attr(rel, "Type").unwrap_or_default().to_owned();
        map.insert(id.to_owned(), (ty, resolve_target(base_dir, target)));
    }
    Ok(map)
}

/// Resolves a relationship target against the directory of the source part.
fn resolve_target(base_dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if let Some(abs) = target.strip_prefix('/') {
        return abs.to_owned();
    } else {
        base_dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// `dc:title` from `docProps/core.xml`, if present and non-empty.
pub(crate) fn core_title(zip: &mut BoundedZip<'_>, format: &str) -> Option<String> {
    let xml = read_part(zip, "docProps/core.xml", format).ok()??;
    let doc = parse_xml(&xml, "docProps/core.xml", format).ok()?;
    let t = descendant(doc.root(), "title")?.text()?.trim().to_owned();
    (!t.is_empty()).then_some(t)
}

/// Password-protected OOXML files are OLE2 containers with an `EncryptedPackage` stream.
pub(crate) fn is_encrypted_package(bytes: &[u8]) -> bool {
    if !bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return false;
    }
    let marker: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    crate::detect::find(bytes, &marker).is_some()
}

/// Refuses OLE2 containers handed to the DOCX/PPTX parsers: encrypted, or legacy .doc/.ppt.
pub(crate) fn check_encrypted_container(bytes: &[u8], what: &str) -> Result<(), ParseError> {
    if is_encrypted_package(bytes) {
        return Err(ParseError::Encrypted { what: what.into() });
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(ParseError::Unsupported {
            what: format!("legacy binary Office format (.doc/.ppt) claimed to be a {what}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets() {
        assert_eq!(
            super::resolve_target("ppt", "slides/slide1.xml"),
            "ppt/slides/slide1.xml"
        );
        assert_eq!(
            super::resolve_target("ppt/slides", "../notesSlides/n1.xml"),
            "ppt/notesSlides/n1.xml"
        );
        assert_eq!(super::resolve_target("ppt", "/ppt/s.xml"), "ppt/s.xml");
    }
}
