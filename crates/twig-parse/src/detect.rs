//! Format detection: magic bytes first, then extension, then content type, then sniffing.

use crate::types::Format;
use std::io::Cursor;

/// Guesses the format of a file; `None` means we cannot read it.
pub fn detect(filename: &str, content_type: Option<&str>, bytes: &[u8]) -> Option<Format> {
    let ext = extension(filename);
    if let Some(f) = by_magic(bytes, ext.as_deref()) {
        return f;
    }
    if let Some(f) = ext.as_deref().and_then(by_extension) {
        return Some(f);
    }
    if let Some(f) = content_type.and_then(by_content_type) {
        return Some(f);
    }
    sniff_text(bytes)
}

/// Lowercased extension without the dot.
pub(crate) fn extension(filename: &str) -> Option<String> {
    let name = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() && !name.starts_with('.') || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// `Some(answer)` when the magic bytes settle the question (even as "unsupported").
fn by_magic(bytes: &[u8], ext: Option<&str>) -> Option<Option<Format>> {
    let head = &bytes[..bytes.len().min(1024)];
    if find(head, b"%PDF-").is_some() {
        return Some(Some(Format::Pdf));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(ooxml_kind(bytes).or_else(|| {
            // A zip we cannot classify: trust an Office extension so parse() reports what is missing.
            ext.and_then(by_extension)
                .filter(|f| matches!(f, Format::Docx | Format::Pptx | Format::Xlsx))
        }));
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        // OLE2: legacy .xls is readable by calamine; encrypted OOXML also lives in OLE2.
        return Some(match ext {
            Some("xls") | Some("xlsx") | Some("xlsm") | Some("xlsb") => Some(Format::Xlsx),
            Some("docx") => Some(Format::Docx),
            Some("pptx") => Some(Format::Pptx),
            _ => None,
        });
    }
    // Common binary formats we never want to treat as text.
    const BINARY: [&[u8]; 8] = [
        b"\x89PNG",
        b"\xFF\xD8\xFF",
        b"GIF8",
        b"\x1F\x8B",
        b"7z\xBC\xAF",
        b"Rar!",
        b"\x7FELF",
        b"MZ",
    ];
    if BINARY.iter().any(|m| bytes.starts_with(m)) {
        return Some(None);
    }
    None
}

/// Classifies a zip as DOCX/PPTX/XLSX by the parts it contains.
fn ooxml_kind(bytes: &[u8]) -> Option<Format> {
    let names: Vec<String> = std::panic::catch_unwind(|| {
        zip::ZipArchive::new(Cursor::new(bytes))
            .map(|z| {
                z.file_names()
                    .filter_map(Result::ok)
                    .map(|n| n.into_owned())
                    .collect()
            })
            .unwrap_or_default()
    })
    .unwrap_or_default();
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("word/document.xml") {
        Some(Format::Docx)
    } else if has("ppt/presentation.xml") {
        Some(Format::Pptx)
    } else if has("xl/workbook.xml") || has("xl/workbook.bin") || is_ods(&names, bytes) {
        Some(Format::Xlsx) // .ods: calamine reads it too
    } else {
        None
    }
}

/// OpenDocument spreadsheet: `mimetype` is stored first and uncompressed.
fn is_ods(names: &[String], bytes: &[u8]) -> bool {
    names.iter().any(|n| n == "mimetype")
        && find(&bytes[..bytes.len().min(256)], b"opendocument.spreadsheet").is_some()
}

/// Maps a lowercased extension to a format.
pub(crate) fn by_extension(ext: &str) -> Option<Format> {
    Some(match ext {
        "pdf" => Format::Pdf,
        "docx" | "docm" | "dotx" => Format::Docx,
        "pptx" | "pptm" | "ppsx" => Format::Pptx,
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => Format::Xlsx,
        "csv" | "tsv" | "tab" => Format::Csv,
        "html" | "htm" | "xhtml" | "shtml" => Format::Html,
        "md" | "markdown" | "mdown" | "mkd" => Format::Markdown,
        "txt" | "text" | "log" | "rst" | "adoc" | "org" | "ini" | "cfg" | "conf" | "toml"
        | "yaml" | "yml" | "xml" | "tex" => Format::Text,
        "json" | "jsonl" | "ndjson" | "geojson" => Format::Json,
        _ => return None,
    })
}

/// Maps a MIME type (parameters ignored) to a format.
fn by_content_type(ct: &str) -> Option<Format> {
    let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
    Some(match mime.as_str() {
        "application/pdf" => Format::Pdf,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Format::Docx,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => Format::Pptx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.ms-excel"
        | "application/vnd.oasis.opendocument.spreadsheet" => Format::Xlsx,
        "text/csv" | "text/tab-separated-values" => Format::Csv,
        "text/html" | "application/xhtml+xml" => Format::Html,
        "text/markdown" | "text/x-markdown" => Format::Markdown,
        "application/json" | "application/x-ndjson" | "application/ld+json" => Format::Json,
        m if m.starts_with("text/") => Format::Text,
        _ => return None,
    })
}

/// Last resort for unnamed uploads: HTML or JSON by content, else text if it decodes.
fn sniff_text(bytes: &[u8]) -> Option<Format> {
    let head = &bytes[..bytes.len().min(2048)];
    let lower = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        return Some(Format::Html);
    }
    if (lower.starts_with('{') || lower.starts_with('['))
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
    {
        return Some(Format::Json);
    }
    if !bytes.is_empty() && crate::text::is_texty(bytes) {
        return Some(Format::Text);
    }
    None
}

/// Byte-substring search.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
