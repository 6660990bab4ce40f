//! Organisations: the tenant every record belongs to.

use crate::id::OrgId;
use crate::time::{self, Timestamp};
use serde::Serialize;

/// An organisation (tenant).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Org {
    /// Its id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    /// Limit overrides for every key of the org (set by operators).
    pub rate_limits: crate::ratelimit::LimitOverrides,
}

impl Org {
    /// A new organisation, validating its name.
    pub fn new(name: &str) -> crate::Result<Self> {
        let name = crate::validate::name(name, "name")?;
        Ok(Self {
            id: OrgId::generate(),
            name,
            created_at: time::now(),
            rate_limits: Default::default(),
        })
    }
}
