//! Slack app settings and the memory of events taken.

use super::{backend, from_micros, jobs, micros, SqlStore};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use twig_core::id::{AgentId, OrgId};
use twig_core::job::NewJob;
use twig_core::slack::{ReceivedEvent, SlackSettings, EVENT_MEMORY};
use twig_core::store::{SlackStore, StoreError, StoreResult};

const SELECT: &str =
    "SELECT org_id, team_id, default_agent_id, allowed_channel_ids, show_citations,
    created_at, updated_at FROM slack_settings";

fn row(r: &AnyRow) -> StoreResult<SlackSettings> {
    let channels: String = r.try_get("allowed_channel_ids").map_err(backend)?;
    Ok(SlackSettings {
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        team_id: r.try_get("team_id").map_err(backend)?,
        default_agent_id: AgentId::from_trusted(r.try_get("default_agent_id").map_err(backend)?),
        allowed_channel_ids: serde_json::from_str(&channels).map_err(backend)?,
        show_citations: r.try_get::<i64, _>("show_citations").map_err(backend)? != 0,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

#[async_trait]
impl SlackStore for SqlStore {
    async fn get_slack_settings(&self, org: &OrgId) -> StoreResult<Option<SlackSettings>> {
        sqlx::query(&format!("{SELECT} WHERE org_id = $1"))
            .bind(org.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .as_ref()
            .map(row)
            .transpose()
    }

    async fn slack_settings_for_team(&self, team_id: &str) -> StoreResult<Option<SlackSettings>> {
        sqlx::query(&format!("{SELECT} WHERE team_id = $1"))
            .bind(team_id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?
            .as_ref()
            .map(row)
            .transpose()
    }

    async fn put_slack_settings(&self, s: &SlackSettings) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT org_id FROM slack_settings WHERE team_id = $1")
                .bind(&s.team_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if owner.is_some_and(|o| o != s.org_id.as_str()) {
            return Err(StoreError::Conflict(format!(
                "Slack workspace {} is connected to another organisation",
                s.team_id
            )));
        }
        let channels = serde_json::to_string(&s.allowed_channel_ids).map_err(backend)?;
        sqlx::query(
            "INSERT INTO slack_settings (org_id, team_id, default_agent_id, allowed_channel_ids,
                show_citations, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT(org_id) DO UPDATE SET team_id = excluded.team_id,
                default_agent_id = excluded.default_agent_id,
                allowed_channel_ids = excluded.allowed_channel_ids,
                show_citations = excluded.show_citations, updated_at = excluded.updated_at",
        )
        .bind(s.org_id.as_str())
        .bind(&s.team_id)
        .bind(s.default_agent_id.as_str())
        .bind(channels)
        .bind(i64::from(s.show_citations))
        .bind(micros(&s.created_at))
        .bind(micros(&s.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn accept_slack_event(&self, e: &ReceivedEvent, job: &NewJob) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM slack_events WHERE received_at < $1")
            .bind(micros(&(e.received_at - EVENT_MEMORY)))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // The primary key decides: a retry of an event taken before inserts nothing.
        let inserted = sqlx::query(
            "INSERT INTO slack_events (team_id, event_id, org_id, received_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT(team_id, event_id) DO NOTHING",
        )
        .bind(&e.team_id)
        .bind(&e.event_id)
        .bind(e.org_id.as_str())
        .bind(micros(&e.received_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if inserted {
            jobs::insert(&mut tx, job).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(inserted)
    }
}
