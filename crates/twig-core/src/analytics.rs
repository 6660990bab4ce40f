//! Analytics over stored interactions: totals, rates and a latency time series.

use crate::id::AgentId;
use crate::time::{self, Timestamp};
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Most buckets one answer may have (e.g. hourly over about 13 months).
pub const MAX_BUCKETS: usize = 10_000;

/// Width of the time-series buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Granularity {
    /// Clock hours (UTC).
    Hour,
    /// Calendar days (UTC).
    #[default]
    Day,
    /// ISO weeks, starting Monday (UTC).
    Week,
    /// Calendar months (UTC).
    Month,
}

impl Granularity {
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// Start of the bucket holding `t`.
    pub fn floor(self, t: Timestamp) -> Timestamp {
        let d = t.date_naive();
        let day = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        match self {
            Self::Hour => Utc
                .timestamp_opt(t.timestamp() - t.timestamp().rem_euclid(3600), 0)
                .single()
                .unwrap_or(t),
            Self::Day => day(d),
            Self::Week => day(d - Duration::days(i64::from(d.weekday().num_days_from_monday()))),
            Self::Month => day(d.with_day(1).unwrap_or(d)),
        }
    }

    /// Start of the bucket after the one starting at `b`.
    pub fn next(self, b: Timestamp) -> Timestamp {
        match self {
            Self::Hour => b + Duration::hours(1),
            Self::Day => b + Duration::days(1),
            Self::Week => b + Duration::weeks(1),
            Self::Month => {
                let d = b.date_naive();
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1)
                    .map(|n| Utc.from_utc_datetime(&n.and_hms_opt(0, 0, 0).unwrap_or_default()))
                    .unwrap_or(b + Duration::days(31))
            }
        }
    }
}

/// What to aggregate: the org's interactions created in `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsQuery {
    /// Only this agent's interactions.
    pub agent_id: Option<AgentId>,
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end.
    pub end: Timestamp,
    /// Bucket width.
    pub granularity: Granularity,
}

/// Totals over the range.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Metrics {
    /// Queries received (answered or not).
    pub total_queries: u64,
    /// Distinct sessions among them (a session is one end user's conversation).
    pub unique_users: u64,
    /// Mean latency, rounded to a millisecond (0 without queries).
    pub avg_latency_ms: u64,
    /// Positive feedback / all feedback; null when there is no feedback.
    pub accuracy_rate: Option<f64>,
    /// Completed answers with at least one source / all completed answers (0 without answers).
    pub citation_rate: f64,
    /// Sum of the queries' `cost_usd`.
    pub total_cost_usd: f64,
}

/// One bucket of the time series.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Bucket {
    /// Start of the bucket (UTC).
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Timestamp,
    /// Queries in it.
    pub queries: u64,
    /// Median latency (nearest rank; 0 when empty).
    pub latency_p50: u64,
    /// 95th-percentile latency (nearest rank; 0 when empty).
    pub latency_p95: u64,
}

/// The answer of `GET /analytics`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Analytics {
    /// Totals.
    pub metrics: Metrics,
    /// Every bucket of the range, oldest first, empty ones included.
    pub time_series: Vec<Bucket>,
}

/// Every bucket of `[start, end)`, with `found` (non-empty buckets) filled in.
pub fn fill(q: &AnalyticsQuery, found: Vec<Bucket>) -> Vec<Bucket> {
    let mut found = found.into_iter().peekable();
    let mut out = Vec::new();
    let mut b = q.granularity.floor(q.start);
    while b < q.end && out.len() < MAX_BUCKETS {
        match found.peek() {
            Some(f) if f.timestamp == b => out.push(found.next().expect("peeked")),
            _ => out.push(Bucket {
                timestamp: b,
                queries: 0,
                latency_p50: 0,
                latency_p95: 0,
            }),
        }
        b = q.granularity.next(b);
    }
    out
}

/// Number of buckets `[start, end)` spans.
pub fn bucket_count(q: &AnalyticsQuery) -> usize {
    let mut n = 0;
    let mut b = q.granularity.floor(q.start);
    while b < q.end {
        n += 1;
        if n > MAX_BUCKETS {
            break;
        }
        b = q.granularity.next(b);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn buckets_align_to_calendar_units() {
        let x = t("2024-01-17T13:45:10Z"); // a Wednesday
        assert_eq!(Granularity::Hour.floor(x), t("2024-01-17T13:00:00Z"));
        assert_eq!(Granularity::Day.floor(x), t("2024-01-17T00:00:00Z"));
        assert_eq!(Granularity::Week.floor(x), t("2024-01-15T00:00:00Z"));
        assert_eq!(Granularity::Month.floor(x), t("2024-01-01T00:00:00Z"));
        assert_eq!(
            Granularity::Month.next(t("2024-12-01T00:00:00Z")),
            t("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            Granularity::Week.floor(t("2024-01-21T23:59:59Z")),
            t("2024-01-15T00:00:00Z")
        );
    }

    #[test]
    fn fill_keeps_found_buckets_and_zeroes_the_rest() {
        let q = AnalyticsQuery {
            agent_id: None,
            start: t("2024-01-01T00:00:00Z"),
            end: t("2024-01-04T00:00:00Z"),
            granularity: Granularity::Day,
        };
        let found = vec![Bucket {
            timestamp: t("2024-01-02T00:00:00Z"),
            queries: 3,
            latency_p50: 5,
            latency_p95: 9,
        }];
        let all = fill(&q, found);
        assert_eq!(all.len(), 3);
        assert_eq!((all[0].queries, all[1].queries, all[2].queries), (0, 3, 0));
        assert_eq!(bucket_count(&q), 3);
    }
}
