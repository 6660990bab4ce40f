//! Public data types shared by all format parsers.

use serde_json::{Map, Value};

/// Size limits applied before and during parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest single file accepted by [`crate::parse`] (and largest zip entry).
    pub max_file_bytes: u64,
    /// Largest compressed zip accepted by [`crate::expand_zip`].
    pub max_zip_bytes: u64,
    /// Largest total uncompressed size of one archive (zip upload, DOCX, PPTX, XLSX).
    pub max_zip_uncompressed: u64,
    /// Largest allowed uncompressed/compressed ratio of one entry.
    pub max_zip_ratio: u64,
    /// Largest number of entries in one archive.
    pub max_zip_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 50 * 1024 * 1024,
            max_zip_bytes: 200 * 1024 * 1024,
            max_zip_uncompressed: 1024 * 1024 * 1024,
            max_zip_ratio: 100,
            max_zip_entries: 10_000,
        }
    }
}

/// A run of text under one heading path; the unit callers chunk and cite.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Headings enclosing this text, outermost first (sheet name, slide title, h1 > h2 ...).
    pub heading_path: Vec<String>,
    /// Clean text, paragraphs separated by blank lines.
    pub text: String,
    /// 1-based page (PDF) or slide (PPTX) number.
    pub page: Option<u32>,
}

/// The result of parsing one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    /// Document title, when the format carries one.
    pub title: Option<String>,
    /// Text sections in reading order.
    pub sections: Vec<Section>,
    /// The format the bytes were parsed as.
    pub format: Format,
    /// Format-specific extras (page count, author, sheet names, encoding ...).
    pub metadata: Map<String, Value>,
}

/// Supported input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Portable Document Format.
    Pdf,
    /// Word (Office Open XML).
    Docx,
    /// PowerPoint (Office Open XML).
    Pptx,
    /// Excel (Office Open XML); calamine also reads .xls/.xlsb/.ods under this tag.
    Xlsx,
    /// Comma/tab separated values.
    Csv,
    /// HTML pages.
    Html,
    /// Markdown (CommonMark + tables).
    Markdown,
    /// Plain text in any common encoding.
    Text,
    /// JSON documents.
    Json,
}

impl Format {
    /// Short lowercase name, e.g. "pdf".
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Pptx => "pptx",
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
            Format::Html => "html",
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Json => "json",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file taken out of a zip archive by [`crate::expand_zip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// Path inside the archive, with `/` separators, never absolute or containing `..`.
    pub name: String,
    /// Uncompressed content.
    pub bytes: Vec<u8>,
}

/// A cleaned, crawled HTML page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HtmlPage {
    /// From `<title>`, else `og:title`, else the first `<h1>`.
    pub title: Option<String>,
    /// Main-content text split by headings.
    pub sections: Vec<Section>,
    /// Absolute http(s) links (`<a>`, `<area>`, `<link rel=next|prev|alternate>`),
    /// deduplicated, fragments removed.
    pub links: Vec<String>,
    /// Absolute http(s) URLs of embedded documents (`<iframe src>`, `<frame src>`),
    /// deduplicated; part of the page rather than links away from it.
    pub frames: Vec<String>,
    /// Absolute URL from `<link rel="canonical">`.
    pub canonical: Option<String>,
    /// `<meta name="robots" content="noindex">` present.
    pub noindex: bool,
    /// `<meta name="robots" content="nofollow">` present.
    pub nofollow: bool,
}
