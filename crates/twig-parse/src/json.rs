//! JSON: flattened `path.to.key: value` lines; JSON Lines are parsed line by line.

use crate::error::ParseError;
use crate::sections::SectionBuilder;
use crate::types::{Format, ParsedDocument};
use serde_json::{Map, Value};

/// Parses JSON (or JSON Lines) into flattened lines; invalid JSON is `Corrupt`.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<ParsedDocument, ParseError> {
    let (text, _) = crate::text::decode_text(bytes)?;
    let mut b = SectionBuilder::new();
    let mut records = 0usize;
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => {
            flatten(&v, &mut String::new(), &mut b, 0);
            records = 1;
        }
        Err(e) => {
            // JSON Lines: every non-empty line must be a JSON value.
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines.len() < 2 {
                return Err(ParseError::corrupt("JSON", e));
            }
            for (i, line) in lines.iter().enumerate() {
                let v: Value = serde_json::from_str(line).map_err(|_| {
                    ParseError::corrupt(
                        "JSON",
                        format!("{e} (also not JSON Lines: line {} is invalid)", i + 1),
                    )
                })?;
                flatten(&v, &mut format!("[{i}]"), &mut b, 0);
                records += 1;
            }
        }
    }
    let mut metadata = Map::new();
    metadata.insert("records".into(), Value::from(records));
    Ok(ParsedDocument {
        title: None,
        sections: b.finish(),
        format: Format::Json,
        metadata,
    })
}

/// Deep values are cut off here; serde_json already refuses nesting past 128.
const MAX_DEPTH: usize = 64;

fn flatten(v: &Value, path: &mut String, b: &mut SectionBuilder, depth: usize) {
    let base = path.len();
    match v {
        Value::Object(m) if depth < MAX_DEPTH => {
            for (k, child) in m {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                flatten(child, path, b, depth + 1);
                path.truncate(base);
            }
        }
        Value::Array(a) if depth < MAX_DEPTH => {
            for (i, child) in a.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                flatten(child, path, b, depth + 1);
                path.truncate(base);
            }
        }
        Value::Null => {}
        Value::String(s) if s.trim().is_empty() => {}
        leaf => {
            let val = match leaf {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if path.is_empty() {
                b.line(&val);
            } else {
                b.line(&format!("{path}: {val}"));
            }
        }
    }
}
