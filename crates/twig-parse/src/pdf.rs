//! PDF: text layer per page (1-based `page`), title from the info dictionary or first line.
//!
//! `pdf_oxide` extracts the text (best quality in our comparison, tolerant of damage);
//! when it fails or panics, `lopdf` (never panicked in our fuzzing) is tried instead.

use crate::error::ParseError;
use crate::types::{Format, ParsedDocument, Section};
use serde_json::{Map, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};

const FMT: &str = "PDF";

/// Page texts plus the name of the extractor and how many pages failed.
struct Extracted {
    pages: Vec<String>,
    failed: usize,
    engine: &'static str,
}

/// Parses a PDF into one section per page.
pub(crate) fn parse_pdf(bytes: &[u8]) -> Result<ParsedDocument, ParseError> {
    let head = &bytes[..bytes.len().min(1024)];
    if crate::detect::find(head, b"%PDF-").is_none() {
        return Err(ParseError::corrupt(
            FMT,
            "missing %PDF header: this is not a PDF file",
        ));
    }
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    let truncated = crate::detect::find(tail, b"%%EOF").is_none();

    let extracted = match catch_unwind(AssertUnwindSafe(|| with_oxide(bytes))) {
        Ok(Ok(x)) => x,
        Ok(Err(e @ ParseError::Encrypted { .. })) => return Err(e),
        Ok(Err(first)) => with_lopdf(bytes).map_err(|e| match e {
            ParseError::Encrypted { .. } => e,
            _ => with_truncation_hint(first, truncated),
        })?,
        Err(_) => with_lopdf(bytes).map_err(|e| with_truncation_hint(e, truncated))?,
    };
    let sections: Vec<Section> = extracted
        .pages
        .iter()
        .enumerate()
        .map(|(i, t)| Section {
            heading_path: Vec::new(),
            text: tidy(t),
            page: Some(i as u32 + 1),
        })
        .filter(|s| !s.text.is_empty())
        .collect();
    if sections.is_empty() && truncated {
        return Err(ParseError::corrupt(
            FMT,
            "the file is truncated (no %%EOF marker) and no text could be recovered; was the upload cut off?",
        ));
    }

    let info = catch_unwind(|| lopdf::Document::load_metadata_mem(bytes).ok())
        .ok()
        .flatten();
    let mut metadata = Map::new();
    metadata.insert("pages".into(), Value::from(extracted.pages.len()));
    metadata.insert("extractor".into(), Value::from(extracted.engine));
    if extracted.failed > 0 {
        metadata.insert("pages_failed".into(), Value::from(extracted.failed));
    }
    if truncated {
        metadata.insert("truncated".into(), Value::from(true));
    }
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(crate::sections::squash_ws)
            .filter(|s| !s.is_empty())
    };
    if let Some(m) = &info {
        for (k, v) in [
            ("author", &m.author),
            ("producer", &m.producer),
            ("creator", &m.creator),
        ] {
            if let Some(v) = clean(v) {
                metadata.insert(k.into(), Value::from(v));
            }
        }
    }
    let title = info.as_ref().and_then(|m| clean(&m.title)).or_else(|| {
        sections
            .first()
            .and_then(|s| s.text.lines().map(str::trim).find(|l| !l.is_empty()))
            .filter(|l| l.chars().count() <= 200)
            .map(str::to_owned)
    });
    Ok(ParsedDocument {
        title,
        sections,
        format: Format::Pdf,
        metadata,
    })
}

fn with_truncation_hint(e: ParseError, truncated: bool) -> ParseError {
    match e {
        ParseError::Corrupt { format, reason } if truncated => ParseError::Corrupt {
            format,
            reason: format!("the file is truncated (no %%EOF marker): {reason}"),
        },
        other => other,
    }
}

/// Keeps error text short and single-line for users.
fn short(e: impl ToString) -> String {
    let s = e.to_string().replace('\n', " ");
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

fn with_oxide(bytes: &[u8]) -> Result<Extracted, ParseError> {
    let doc = pdf_oxide::PdfDocument::from_bytes(bytes.to_vec())
        .map_err(|e| ParseError::corrupt(FMT, short(e)))?;
    // An empty user password (owner-only restrictions) still lets us read the text.
    if doc.is_encrypted() {
        match doc.authenticate(b"") {
            Ok(true) => {}
            Ok(false) => return Err(ParseError::Encrypted { what: FMT.into() }),
            // Unsupported security handler: let lopdf try.
            Err(e) => return Err(ParseError::corrupt(FMT, short(e))),
        }
    }
    let n = doc
        .page_count()
        .map_err(|e| ParseError::corrupt(FMT, short(e)))?;
    let mut pages = Vec::with_capacity(n.min(100_000));
    let mut failed = 0;
    for i in 0..n {
        // One bad page should not lose the whole document.
        match catch_unwind(AssertUnwindSafe(|| doc.extract_text(i))) {
            Ok(Ok(t)) => pages.push(t),
            _ => {
                failed += 1;
                pages.push(String::new());
            }
        }
    }
    if n > 0 && failed == n {
        return Err(ParseError::corrupt(FMT, "no page could be decoded"));
    }
    Ok(Extracted {
        pages,
        failed,
        engine: "pdf_oxide",
    })
}

fn with_lopdf(bytes: &[u8]) -> Result<Extracted, ParseError> {
    crate::error::guard(FMT, || {
        let doc = lopdf::Document::load_mem(bytes).map_err(|e| {
            if crate::detect::find(bytes, b"/Encrypt").is_some() {
                ParseError::Encrypted { what: FMT.into() }
            } else {
                ParseError::corrupt(FMT, short(e))
            }
        })?;
        if doc.is_encrypted() && doc.encryption_state.is_none() {
            return Err(ParseError::Encrypted { what: FMT.into() });
        }
        let mut pages = Vec::new();
        let mut failed = 0;
        for (num, _) in doc.get_pages() {
            match doc.extract_text(&[num]) {
                Ok(t) => pages.push(t),
                Err(_) => {
                    failed += 1;
                    pages.push(String::new());
                }
            }
        }
        Ok(Extracted {
            pages,
            failed,
            engine: "lopdf",
        })
    })
}

/// Trims lines and collapses runs of blank lines to one.
fn tidy(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut blank = 0;
    for line in page.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}
