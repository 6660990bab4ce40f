//! The per-org settings behind `GET/PUT /api/v1/integrations/slack`.

use twig_core::error::{Error, Result};
use twig_core::id::OrgId;
use twig_core::slack::{SlackSettings, SlackSettingsInput};
use twig_core::store::{Store, StoreError};
use twig_core::time;

/// The org's Slack settings; `not_found` until they are first put.
pub async fn get(store: &dyn Store, org: &OrgId) -> Result<SlackSettings> {
    store
        .slack()
        .get_slack_settings(org)
        .await?
        .ok_or_else(|| Error::not_found("Slack settings", org.as_str()))
}

/// Connects (or reconnects) the org's Slack workspace: every field is checked, and the
/// answering agent must be one of the org's (404 otherwise, as for any body naming a record).
pub async fn put(
    store: &dyn Store,
    org: &OrgId,
    input: SlackSettingsInput,
) -> Result<SlackSettings> {
    let p = input.parse()?;
    if store.get_agent(org, &p.default_agent_id).await?.is_none() {
        return Err(Error::not_found("Agent", p.default_agent_id.as_str()));
    }
    let now = time::now();
    let created_at = store
        .slack()
        .get_slack_settings(org)
        .await?
        .map_or(now, |s| s.created_at);
    let settings = SlackSettings {
        org_id: org.clone(),
        team_id: p.team_id,
        default_agent_id: p.default_agent_id,
        allowed_channel_ids: p.allowed_channel_ids,
        show_citations: p.show_citations,
        created_at,
        updated_at: now,
    };
    match store.slack().put_slack_settings(&settings).await {
        Ok(()) => Ok(settings),
        Err(StoreError::Conflict(m)) => Err(Error::invalid_field("team_id", m)),
        Err(e) => Err(e.into()),
    }
}
