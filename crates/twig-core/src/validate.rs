//! Small validation helpers shared by the record types.

use crate::error::Error;

/// Longest display name accepted.
pub const MAX_NAME_CHARS: usize = 200;

/// A trimmed, non-empty, bounded display name without control characters.
pub fn name(raw: &str, field: &str) -> Result<String, Error> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(Error::invalid_field(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if t.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid_field(
            field,
            format!("{field} must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(t.to_owned())
}

/// A required field that was absent (or null).
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::invalid_field(field, format!("Missing required field: {field}")))
}
