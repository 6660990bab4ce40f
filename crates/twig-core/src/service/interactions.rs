//! Interaction history and feedback.

use crate::error::{Error, Result};
use crate::id::{AgentId, InteractionId, OrgId};
use crate::interaction::{
    parse_feedback, Feedback, FeedbackFilter, Interaction, InteractionFilter,
};
use crate::page::{Listed, Page};
use crate::store::Store;
use chrono::{NaiveDate, TimeZone, Utc};

/// Longest feedback comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Raw list filters as received (`agent_id`, `start_date`, `end_date`, `feedback`).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// `agent_…`.
    pub agent_id: Option<String>,
    /// `YYYY-MM-DD`, inclusive (UTC).
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`, inclusive (UTC).
    pub end_date: Option<String>,
    /// `positive`, `negative` or `null` (no feedback).
    pub feedback: Option<String>,
}

pub(crate) fn date(field: &str, v: &str) -> Result<NaiveDate> {
    // Exactly YYYY-MM-DD (RFC 3339 full-date): chrono alone would take "2024-1-5" or "-001-01-01".
    let shaped = v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let parsed = if shaped {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()
    } else {
        None
    };
    parsed.ok_or_else(|| {
        Error::invalid_field(
            field,
            format!("{field} must be a date as YYYY-MM-DD, got {v:?}"),
        )
    })
}

impl ListParams {
    /// Validates into a store filter.
    pub fn filter(&self) -> Result<InteractionFilter> {
        let agent_id = self
            .agent_id
            .as_deref()
            .map(|a| AgentId::parse(a).map_err(|e| Error::invalid_field("agent_id", e.to_string())))
            .transpose()?;
        let start = self
            .start_date
            .as_deref()
            .map(|d| date("start_date", d))
            .transpose()?;
        let end = self
            .end_date
            .as_deref()
            .map(|d| date("end_date", d))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(Error::invalid_field(
                    "start_date",
                    "start_date must not be after end_date",
                ));
            }
        }
        let midnight =
            |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        let feedback = match self.feedback.as_deref() {
            None => None,
            Some("null") => Some(FeedbackFilter::None),
            Some(f) => Some(FeedbackFilter::Is(Feedback::parse(f).ok_or_else(|| {
                Error::invalid_field(
                    "feedback",
                    format!("feedback must be positive, negative or null, got {f:?}"),
                )
            })?)),
        };
        Ok(InteractionFilter {
            agent_id,
            start: start.map(midnight),
            // The end date is inclusive: up to the next midnight.
            end: end.and_then(|d| d.succ_opt()).map(midnight),
            feedback,
        })
    }
}

/// Lists the org's interactions, newest first.
pub async fn list(
    store: &dyn Store,
    org: &OrgId,
    params: &ListParams,
    page: Page,
) -> Result<Listed<Interaction>> {
    let filter = params.filter()?;
    Ok(store
        .interactions()
        .list_interactions(org, &filter, page)
        .await?)
}

/// Reads one interaction.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<Interaction> {
    let id = InteractionId::parse(id)?;
    store
        .interactions()
        .get_interaction(org, &id)
        .await?
        .ok_or_else(|| Error::not_found("Interaction", id.as_str()))
}

/// Sets the feedback of an interaction, replacing any earlier one.
pub async fn feedback(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    feedback: Option<&str>,
    comment: Option<&str>,
) -> Result<Interaction> {
    let id = InteractionId::parse(id)?;
    let feedback =
        feedback.ok_or_else(|| Error::invalid_field("feedback", "feedback is required"))?;
    let feedback = parse_feedback(feedback)?;
    if let Some(c) = comment {
        if c.chars().count() > MAX_COMMENT_CHARS {
            return Err(Error::invalid_field(
                "comment",
                format!("comment must be at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
    }
    store
        .interactions()
        .set_feedback(org, &id, feedback, comment)
        .await?
        .ok_or_else(|| Error::not_found("Interaction", id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_validate() {
        let f = ListParams {
            start_date: Some("2024-01-15".into()),
            end_date: Some("2024-01-15".into()),
            feedback: Some("null".into()),
            ..Default::default()
        }
        .filter()
        .unwrap();
        assert_eq!(f.end.unwrap() - f.start.unwrap(), chrono::Duration::days(1));
        assert_eq!(f.feedback, Some(FeedbackFilter::None));
        for bad in [
            ListParams {
                start_date: Some("15/01/2024".into()),
                ..Default::default()
            },
            ListParams {
                feedback: Some("meh".into()),
                ..Default::default()
            },
            ListParams {
                agent_id: Some("ds_1".into()),
                ..Default::default()
            },
            ListParams {
                start_date: Some("2024-02-01".into()),
                end_date: Some("2024-01-01".into()),
                ..Default::default()
            },
        ] {
            assert!(bad.filter().is_err(), "{bad:?}");
        }
    }
}
