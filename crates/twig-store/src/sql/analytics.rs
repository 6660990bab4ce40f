//! Analytics aggregated by the database over `interactions(org_id, created_at)`.

use super::{backend, micros, Dialect};
use sqlx::{AnyPool, Row};
use twig_core::analytics::{AnalyticsQuery, Bucket, Granularity, Metrics};
use twig_core::id::OrgId;
use twig_core::store::StoreResult;

/// SQL giving the bucket start (unix seconds) of `created_at` (microseconds).
fn bucket_expr(g: Granularity, d: Dialect) -> &'static str {
    match (g, d) {
        (Granularity::Hour, _) => "(created_at / 3600000000) * 3600",
        (Granularity::Day, _) => "(created_at / 86400000000) * 86400",
        // 'weekday 0' moves to the coming Sunday (or stays on one); six days back is Monday.
        (Granularity::Week, Dialect::Sqlite) => {
            "CAST(strftime('%s', date(created_at / 1000000, 'unixepoch', 'weekday 0', '-6 days')) AS INTEGER)"
        }
        (Granularity::Month, Dialect::Sqlite) => {
            "CAST(strftime('%s', date(created_at / 1000000, 'unixepoch', 'start of month')) AS INTEGER)"
        }
        // date_trunc's weeks start on Monday, as ISO (and the SQLite arm) has them.
        (Granularity::Week, Dialect::Postgres) => {
            "CAST(EXTRACT(EPOCH FROM date_trunc('week', to_timestamp(created_at / 1000000) AT TIME ZONE 'UTC')) AS BIGINT)"
        }
        (Granularity::Month, Dialect::Postgres) => {
            "CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(created_at / 1000000) AT TIME ZONE 'UTC')) AS BIGINT)"
        }
    }
}

const RANGE: &str =
    "org_id = $1 AND created_at >= $2 AND created_at < $3 AND ($4 IS NULL OR agent_id = $4)";

/// Totals and non-empty buckets; percentiles are nearest-rank (`ceil(p * n)`-th smallest).
pub(super) async fn run(
    pool: &AnyPool,
    dialect: Dialect,
    org: &OrgId,
    q: &AnalyticsQuery,
) -> StoreResult<(Metrics, Vec<Bucket>)> {
    let agent = q.agent_id.as_ref().map(|a| a.as_str());
    let totals_sql = format!(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT session_id) AS users,
            CAST(AVG(latency_ms) AS DOUBLE PRECISION) AS avg_latency,
            COUNT(*) FILTER (WHERE feedback = 'positive') AS positive, COUNT(feedback) AS rated,
            COUNT(*) FILTER (WHERE status = 'completed') AS answered,
            COUNT(*) FILTER (WHERE status = 'completed' AND source_count > 0) AS cited,
            COALESCE(SUM(cost_usd), 0.0) AS cost
         FROM interactions WHERE {RANGE}"
    );
    let buckets_sql = format!(
        "WITH b AS (SELECT {} AS bucket, latency_ms FROM interactions WHERE {RANGE}),
         r AS (SELECT bucket, latency_ms,
                  ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY latency_ms) AS rn,
                  COUNT(*) OVER (PARTITION BY bucket) AS n FROM b)
         SELECT bucket, MAX(n) AS queries,
            MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN latency_ms END) AS p50,
            MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN latency_ms END) AS p95
         FROM r GROUP BY bucket ORDER BY bucket",
        bucket_expr(q.granularity, dialect)
    );
    let (start, end) = (micros(&q.start), micros(&q.end));
    // Two read connections scan at once (two cores, two passes over the index).
    let (r, rows) = tokio::try_join!(
        sqlx::query(&totals_sql)
            .bind(org.as_str())
            .bind(start)
            .bind(end)
            .bind(agent)
            .fetch_one(pool),
        sqlx::query(&buckets_sql)
            .bind(org.as_str())
            .bind(start)
            .bind(end)
            .bind(agent)
            .fetch_all(pool),
    )
    .map_err(backend)?;
    let count = |c: &str| -> StoreResult<u64> {
        Ok(r.try_get::<Option<i64>, _>(c)
            .map_err(backend)?
            .unwrap_or(0)
            .max(0) as u64)
    };
    let (rated, answered) = (count("rated")?, count("answered")?);
    let metrics = Metrics {
        total_queries: count("n")?,
        unique_users: count("users")?,
        avg_latency_ms: r
            .try_get::<Option<f64>, _>("avg_latency")
            .map_err(backend)?
            .map_or(0, |v| v.round() as u64),
        accuracy_rate: (rated > 0)
            .then(|| count("positive").map(|p| p as f64 / rated as f64))
            .transpose()?,
        citation_rate: if answered > 0 {
            count("cited")? as f64 / answered as f64
        } else {
            0.0
        },
        total_cost_usd: r.try_get::<f64, _>("cost").map_err(backend)?,
    };
    let mut buckets = Vec::with_capacity(rows.len());
    for r in rows {
        let secs: i64 = r.try_get("bucket").map_err(backend)?;
        buckets.push(Bucket {
            timestamp: chrono::DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| backend(anyhow::anyhow!("bucket out of range: {secs}")))?,
            queries: r.try_get::<i64, _>("queries").map_err(backend)?.max(0) as u64,
            latency_p50: r.try_get::<i64, _>("p50").map_err(backend)?.max(0) as u64,
            latency_p95: r.try_get::<i64, _>("p95").map_err(backend)?.max(0) as u64,
        });
    }
    Ok((metrics, buckets))
}
