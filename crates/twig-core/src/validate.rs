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

/// A JSON number as an integer, also when written with a zero fraction (`5.0`): JSON, and
/// JSON Schema's `integer`, do not tell the two apart. Out-of-range values saturate, so range
/// checks refuse them with their own message.
pub fn integer_of(v: &serde_json::Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    if v.as_u64().is_some() {
        return Some(i64::MAX);
    }
    v.as_f64()
        .filter(|f| f.fract() == 0.0)
        .map(|f| f.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
}

/// Deserializes an optional integer the way [`integer_of`] reads one (for `deserialize_with`).
pub fn opt_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error as _;
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => integer_of(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("invalid type: {v}, expected an integer"))),
    }
}

/// Deserializes a `u32` the way [`integer_of`] reads one.
pub fn u32_integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    use serde::de::Error as _;
    use serde::Deserialize;
    let v = serde_json::Value::deserialize(d)?;
    integer_of(&v)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| {
            D::Error::custom(format!(
                "invalid value: {v}, expected an integer from 0 to {}",
                u32::MAX
            ))
        })
}

/// A required field that was absent (or null).
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::invalid_field(field, format!("Missing required field: {field}")))
}
