//! Pagination shared by every list endpoint.

use crate::error::Error;

/// Default page size of list endpoints.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 200;

/// A validated `limit`/`offset` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows to return.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl Page {
    /// Validates client-supplied values, applying defaults for absent ones.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, Error> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l as u32,
            Some(l) => {
                return Err(Error::invalid_field(
                    "limit",
                    format!("limit must be between 1 and {MAX_LIMIT}, got {l}"),
                ))
            }
        };
        let offset = match offset {
            None => 0,
            Some(o) if o >= 0 => o as u64,
            Some(o) => {
                return Err(Error::invalid_field(
                    "offset",
                    format!("offset must be 0 or more, got {o}"),
                ))
            }
        };
        Ok(Self { limit, offset })
    }
}

/// One page of results plus the total number of matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// All rows matching the filter, ignoring pagination.
    pub total: u64,
}
