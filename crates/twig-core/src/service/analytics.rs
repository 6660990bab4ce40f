//! `GET /analytics`: validation of the range and aggregation in the store.

use crate::analytics::{bucket_count, fill, Analytics, AnalyticsQuery, Granularity, MAX_BUCKETS};
use crate::error::{Error, Result};
use crate::id::{AgentId, OrgId};
use crate::service::interactions::date;
use crate::store::Store;
use chrono::{TimeZone, Utc};

/// Raw query parameters as received.
#[derive(Debug, Clone, Default)]
pub struct AnalyticsParams {
    /// `YYYY-MM-DD`, inclusive (UTC); required.
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`, inclusive (UTC); required.
    pub end_date: Option<String>,
    /// `agent_…`.
    pub agent_id: Option<String>,
    /// `hour`, `day` (default), `week` or `month`.
    pub granularity: Option<String>,
}

impl AnalyticsParams {
    /// Validates into a query.
    pub fn query(&self) -> Result<AnalyticsQuery> {
        let start = date(
            "start_date",
            self.start_date.as_deref().ok_or_else(|| {
                Error::invalid_field("start_date", "Missing required field: start_date")
            })?,
        )?;
        let end = date(
            "end_date",
            self.end_date.as_deref().ok_or_else(|| {
                Error::invalid_field("end_date", "Missing required field: end_date")
            })?,
        )?;
        if start > end {
            return Err(Error::invalid_field(
                "start_date",
                "start_date must not be after end_date",
            ));
        }
        let granularity = match self.granularity.as_deref() {
            None => Granularity::default(),
            Some(g) => Granularity::parse(g).ok_or_else(|| {
                Error::invalid_field(
                    "granularity",
                    format!("granularity must be hour, day, week or month, got {g:?}"),
                )
            })?,
        };
        let agent_id = self
            .agent_id
            .as_deref()
            .map(|a| AgentId::parse(a).map_err(|e| Error::invalid_field("agent_id", e.to_string())))
            .transpose()?;
        let midnight = |d: chrono::NaiveDate| {
            Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        };
        let q = AnalyticsQuery {
            agent_id,
            start: midnight(start),
            // The end date is inclusive: up to the next midnight.
            end: midnight(end.succ_opt().unwrap_or(end)),
            granularity,
        };
        if bucket_count(&q) > MAX_BUCKETS {
            return Err(Error::invalid_field(
                "granularity",
                format!("the range has more than {MAX_BUCKETS} {granularity:?} buckets; choose a coarser granularity or a shorter range"),
            ));
        }
        Ok(q)
    }
}

/// Aggregates the org's interactions in the range.
pub async fn get(store: &dyn Store, org: &OrgId, params: &AnalyticsParams) -> Result<Analytics> {
    let q = params.query()?;
    let (metrics, found) = store.interactions().analytics(org, &q).await?;
    Ok(Analytics {
        metrics,
        time_series: fill(&q, found),
    })
}
