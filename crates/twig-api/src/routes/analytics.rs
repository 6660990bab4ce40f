//! `GET /api/v1/analytics`.

use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::AppState;
use axum::extract::State;
use serde::Deserialize;
use twig_core::analytics::Analytics;
use twig_core::service::analytics::{self, AnalyticsParams};
use utoipa::IntoParams;

/// Query parameters of `GET /analytics`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQueryParams {
    /// First day, `YYYY-MM-DD` (UTC), required; not after `end_date`.
    #[param(value_type = String, format = Date, required = true, example = "2024-01-01")]
    pub start_date: Option<String>,
    /// Last day, inclusive, `YYYY-MM-DD` (UTC), required. The range may hold at most 10000
    /// buckets of the granularity.
    #[param(value_type = String, format = Date, required = true, example = "2024-01-31")]
    pub end_date: Option<String>,
    /// Only this agent.
    #[param(value_type = Option<twig_core::id::AgentId>)]
    pub agent_id: Option<String>,
    /// `hour`, `day` (default), `week` or `month`.
    #[param(value_type = Option<GranularityName>)]
    pub granularity: Option<String>,
}

/// Widths of the time-series buckets.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
#[schema(rename_all = "lowercase")]
pub enum GranularityName {
    /// One hour.
    Hour,
    /// One day (default).
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

/// Metrics and a latency time series over the org's interactions. `unique_users` counts
/// distinct sessions; percentiles are nearest-rank. Requires Admin scope.
#[utoipa::path(get, path = "/api/v1/analytics", tag = "analytics", params(AnalyticsQueryParams),
    security(("bearer" = [])), responses((status = 200, body = Analytics), (status = "4XX", body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    auth: Authed<Admin>,
    Query(q): Query<AnalyticsQueryParams>,
) -> Result<axum::Json<Analytics>, ApiError> {
    let params = AnalyticsParams {
        start_date: q.start_date,
        end_date: q.end_date,
        agent_id: q.agent_id,
        granularity: q.granularity,
    };
    Ok(axum::Json(
        analytics::get(s.store.as_ref(), &auth.key.org_id, &params).await?,
    ))
}
