//! Text decoding (UTF-8, UTF-16, legacy 8-bit encodings) and the plain-text parser.

use crate::error::ParseError;
use crate::sections::SectionBuilder;
use crate::types::{Format, ParsedDocument};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};
use serde_json::{Map, Value};

/// Decodes bytes to a string, detecting the encoding; binary data is `Unsupported`.
/// Returns the text and the encoding name used.
pub fn decode_text(bytes: &[u8]) -> Result<(String, &'static str), ParseError> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Ok((text.into_owned(), enc.name()));
    }
    if let Some(enc) = utf16_without_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return Ok((text.into_owned(), enc.name()));
    }
    if let Some(why) = looks_binary(bytes) {
        return Err(ParseError::Unsupported {
            what: format!("binary data claimed to be text ({why})"),
        });
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_owned(), "UTF-8"));
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(bytes, true);
    // No TLD hint, UTF-8 excluded: we already know it's not valid UTF-8.
    let enc = det.guess(None, chardetng::Utf8Detection::Deny);
    let (text, _, _) = enc.decode(bytes);
    Ok((text.into_owned(), enc.name()))
}

/// Spots BOM-less UTF-16 by its pattern of zero bytes in ASCII-heavy text.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let odd_zero = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    if odd_zero * 10 >= pairs * 4 && even_zero * 20 < pairs {
        Some(UTF_16LE)
    } else if even_zero * 10 >= pairs * 4 && odd_zero * 20 < pairs {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// True when [`decode_text`] would accept the bytes (BOM, UTF-16 pattern, or no binary signs).
pub(crate) fn is_texty(bytes: &[u8]) -> bool {
    Encoding::for_bom(bytes).is_some()
        || utf16_without_bom(bytes).is_some()
        || looks_binary(bytes).is_none()
}

/// Returns a reason when the bytes look like binary data rather than text.
pub(crate) fn looks_binary(bytes: &[u8]) -> Option<&'static str> {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    if sample.contains(&0) {
        return Some("contains NUL bytes");
    }
    // Control characters other than tab/newline/CR/FF/ESC are rare in real text.
    let ctrl = sample
        .iter()
        .filter(|b| **b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    if ctrl * 100 > sample.len() * 5 {
        return Some("too many control characters");
    }
    None
}

/// Parses plain text: paragraphs split on blank lines, bounded sections.
pub(crate) fn parse_text(bytes: &[u8]) -> Result<ParsedDocument, ParseError> {
    let (text, encoding) = decode_text(bytes)?;
    let mut b = SectionBuilder::new();
    for para in split_paragraphs(&text) {
        b.paragraph(&para);
    }
    let mut metadata = Map::new();
    metadata.insert("encoding".into(), Value::from(encoding));
    Ok(ParsedDocument {
        title: None,
        sections: b.finish(),
        format: Format::Text,
        metadata,
    })
}

/// Splits on blank lines, normalising CRLF and trimming trailing spaces per line.
pub(crate) fn split_paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(line);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16le_no_bom() {
        let b: Vec<u8> = "hello world"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(decode_text(&b).unwrap().0, "hello world");
    }

    #[test]
    fn latin1() {
        let (t, enc) = decode_text(b"caf\xe9 cr\xe8me br\xfbl\xe9e").unwrap();
        assert_eq!(t, "café crème brûlée");
        assert_eq!(enc, "windows-1252");
    }

    #[test]
    fn nul_is_binary() {
        assert!(decode_text(b"abc\0\x01\x02def").is_err());
    }
}
