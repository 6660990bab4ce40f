//! twig-parse: turns uploaded files and crawled pages into clean, structured text.
//!
//! Pure, CPU-bound functions over in-memory bytes: callers should run them on blocking
//! threads. Every entry point returns a typed [`ParseError`] instead of panicking; third-party
//! parsers are wrapped in `catch_unwind` (panics are still printed by the global panic hook).
#![warn(missing_docs)]

mod archive;
mod detect;
mod docx;
mod error;
mod html;
mod json;
mod markdown;
mod ooxml;
mod pdf;
mod pptx;
mod sections;
mod sheet;
mod text;
mod types;

pub use archive::expand_zip;
pub use detect::detect;
pub use error::ParseError;
pub use html::parse_html;
pub use text::decode_text;
pub use types::{Format, HtmlPage, Limits, ParsedDocument, Section, ZipEntry};

use error::guard;

/// Parses one file into sections; detects the format with [`detect`].
///
/// Zip uploads are not parsed here: call [`expand_zip`] and parse each entry.
/// Fails with [`ParseError::Empty`] when no text could be extracted.
pub fn parse(
    filename: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    limits: &Limits,
) -> Result<ParsedDocument, ParseError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ParseError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_file_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(ParseError::empty("the file is empty (0 bytes)"));
    }
    let format = detect(filename, content_type, bytes).ok_or_else(|| ParseError::Unsupported {
        what: match detect::extension(filename) {
            _ if bytes.starts_with(b"PK\x03\x04") => {
                "zip archive (expand it with expand_zip and parse each file)".into()
            }
            Some(ext) => format!("extension .{ext}"),
            None => content_type
                .map(|c| format!("content type {c}"))
                .unwrap_or_else(|| "unrecognised binary data".into()),
        },
    })?;
    let mut doc = guard(format.as_str(), || match format {
        Format::Pdf => pdf::parse_pdf(bytes),
        Format::Docx => docx::parse_docx(bytes, limits),
        Format::Pptx => pptx::parse_pptx(bytes, limits),
        Format::Xlsx => sheet::parse_spreadsheet(bytes, limits),
        Format::Csv => sheet::parse_csv(filename, bytes),
        Format::Html => {
            let (s, _) = decode_text(bytes)?;
            Ok(html::html_document(parse_html(&s, None)))
        }
        Format::Markdown => markdown::parse_markdown(bytes),
        Format::Text => text::parse_text(bytes),
        Format::Json => json::parse_json(bytes),
    })?;
    doc.sections.retain(|s| !s.text.trim().is_empty());
    if doc.sections.is_empty() {
        return Err(ParseError::empty(match format {
            Format::Pdf => {
                "the PDF has no text layer (it is probably a scanned image; OCR is not supported)"
            }
            Format::Xlsx | Format::Csv => "the spreadsheet has no non-empty cells",
            _ => "the document contains no text",
        }));
    }
    Ok(doc)
}
