//! Sessions, their turns, and interactions on SQLite.

use super::{backend, bounds, from_micros, micros, Sql, SqlStore};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use twig_core::agent::RagStrategy;
use twig_core::id::{AgentId, ChunkId, InteractionId, KeyId, OrgId, SessionId};
use twig_core::interaction::{
    Feedback, FeedbackFilter, Interaction, InteractionFilter, InteractionStatus, Session,
    SessionAppend, Turn, TurnRole,
};
use twig_core::page::{Listed, Page};
use twig_core::store::{InteractionStore, StoreError, StoreResult};
use twig_core::time::Timestamp;
use twig_core::webhook::EventKind;

const COLUMNS: &str =
    "id, org_id, agent_id, session_id, key_id, query, rewritten_query, response, sources,
    model, rag_strategy, tokens_input, tokens_output, cost_usd, latency_ms, status, error, feedback,
    feedback_comment, created_at";

fn interaction(r: &AnyRow) -> StoreResult<Interaction> {
    let strategy: String = r.try_get("rag_strategy").map_err(backend)?;
    let status: String = r.try_get("status").map_err(backend)?;
    let feedback: Option<String> = r.try_get("feedback").map_err(backend)?;
    let sources: String = r.try_get("sources").map_err(backend)?;
    Ok(Interaction {
        id: InteractionId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        agent_id: AgentId::from_trusted(r.try_get("agent_id").map_err(backend)?),
        session_id: r
            .try_get::<Option<String>, _>("session_id")
            .map_err(backend)?
            .map(SessionId::from_trusted),
        key_id: r
            .try_get::<Option<String>, _>("key_id")
            .map_err(backend)?
            .map(KeyId::from_trusted),
        query: r.try_get("query").map_err(backend)?,
        rewritten_query: r.try_get("rewritten_query").map_err(backend)?,
        response: r.try_get("response").map_err(backend)?,
        sources: serde_json::from_str(&sources).map_err(backend)?,
        model: r.try_get("model").map_err(backend)?,
        rag_strategy: RagStrategy::parse(&strategy)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored rag_strategy {strategy:?}")))?,
        tokens_input: r.try_get::<i64, _>("tokens_input").map_err(backend)? as u32,
        tokens_output: r.try_get::<i64, _>("tokens_output").map_err(backend)? as u32,
        cost_usd: r.try_get("cost_usd").map_err(backend)?,
        latency_ms: r.try_get::<i64, _>("latency_ms").map_err(backend)? as u64,
        status: InteractionStatus::parse(&status)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored status {status:?}")))?,
        error: r.try_get("error").map_err(backend)?,
        feedback: match feedback {
            None => None,
            Some(f) => Some(
                Feedback::parse(&f)
                    .ok_or_else(|| backend(anyhow::anyhow!("unknown stored feedback {f:?}")))?,
            ),
        },
        feedback_comment: r.try_get("feedback_comment").map_err(backend)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
    })
}

fn push_filter(q: &mut Sql<'_>, org: &OrgId, f: &InteractionFilter) {
    q.push(" WHERE org_id = ")
        .push_bind(org.as_str().to_owned());
    if let Some(a) = &f.agent_id {
        q.push(" AND agent_id = ").push_bind(a.as_str().to_owned());
    }
    if let Some(s) = &f.start {
        q.push(" AND created_at >= ").push_bind(micros(s));
    }
    if let Some(e) = &f.end {
        q.push(" AND created_at < ").push_bind(micros(e));
    }
    match f.feedback {
        Some(FeedbackFilter::Is(fb)) => {
            q.push(" AND feedback = ").push_bind(fb.as_str());
        }
        Some(FeedbackFilter::None) => {
            q.push(" AND feedback IS NULL");
        }
        None => {}
    }
}

#[async_trait]
impl InteractionStore for SqlStore {
    async fn get_session(
        &self,
        org: &OrgId,
        id: &SessionId,
        now: Timestamp,
    ) -> StoreResult<Option<Session>> {
        let r = sqlx::query(
            "SELECT id, org_id, agent_id, created_at, updated_at, expires_at FROM sessions
             WHERE org_id = $1 AND id = $2 AND expires_at > $3",
        )
        .bind(org.as_str())
        .bind(id.as_str())
        .bind(micros(&now))
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.map(|r| {
            Ok(Session {
                id: SessionId::from_trusted(r.try_get("id").map_err(backend)?),
                org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
                agent_id: AgentId::from_trusted(r.try_get("agent_id").map_err(backend)?),
                created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
                updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
                expires_at: from_micros(r.try_get("expires_at").map_err(backend)?)?,
            })
        })
        .transpose()
    }

    async fn session_turns(
        &self,
        org: &OrgId,
        id: &SessionId,
        limit: u32,
    ) -> StoreResult<Vec<Turn>> {
        let rows = sqlx::query(
            "SELECT t.role, t.content, t.sources, t.created_at FROM session_turns t
             JOIN sessions s ON s.id = t.session_id
             WHERE s.org_id = $1 AND t.session_id = $2 ORDER BY t.seq DESC LIMIT $3",
        )
        .bind(org.as_str())
        .bind(id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        let mut turns = rows
            .iter()
            .map(|r| {
                let role: String = r.try_get("role").map_err(backend)?;
                let sources: String = r.try_get("sources").map_err(backend)?;
                let ids: Vec<String> = serde_json::from_str(&sources).map_err(backend)?;
                Ok(Turn {
                    role: TurnRole::parse(&role)
                        .ok_or_else(|| backend(anyhow::anyhow!("unknown stored role {role:?}")))?,
                    content: r.try_get("content").map_err(backend)?,
                    timestamp: from_micros(r.try_get("created_at").map_err(backend)?)?,
                    sources: ids.into_iter().map(ChunkId::from_trusted).collect(),
                })
            })
            .collect::<StoreResult<Vec<Turn>>>()?;
        turns.reverse();
        Ok(turns)
    }

    async fn record_interaction(
        &self,
        i: &Interaction,
        session: Option<&SessionAppend>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if let Some(s) = session {
            let existing: Option<(String, String)> =
                sqlx::query_as("SELECT org_id, agent_id FROM sessions WHERE id = $1")
                    .bind(s.session_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            let now = micros(&i.created_at);
            match existing {
                Some((org, agent)) => {
                    if org != i.org_id.as_str() || agent != s.agent_id.as_str() {
                        return Err(StoreError::Conflict(format!(
                            "session {} belongs to another agent",
                            s.session_id
                        )));
                    }
                    sqlx::query(
                        "UPDATE sessions SET updated_at = $1, expires_at = $2 WHERE id = $3",
                    )
                    .bind(now)
                    .bind(micros(&s.expires_at))
                    .bind(s.session_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO sessions (id, org_id, agent_id, created_at, updated_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(s.session_id.as_str())
                    .bind(i.org_id.as_str())
                    .bind(s.agent_id.as_str())
                    .bind(now)
                    .bind(now)
                    .bind(micros(&s.expires_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                }
            }
            let next: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM session_turns WHERE session_id = $1",
            )
            .bind(s.session_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            for (n, t) in s.turns.iter().enumerate() {
                let ids: Vec<&str> = t.sources.iter().map(|c| c.as_str()).collect();
                sqlx::query(
                    "INSERT INTO session_turns (session_id, seq, role, content, sources, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(s.session_id.as_str())
                .bind(next + n as i64)
                .bind(t.role.as_str())
                .bind(&t.content)
                .bind(serde_json::to_string(&ids).map_err(backend)?)
                .bind(micros(&t.timestamp))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
        }
        sqlx::query(&format!(
            "INSERT INTO interactions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ))
        .bind(i.id.as_str())
        .bind(i.org_id.as_str())
        .bind(i.agent_id.as_str())
        .bind(i.session_id.as_ref().map(|s| s.as_str()))
        .bind(i.key_id.as_ref().map(|k| k.as_str()))
        .bind(&i.query)
        .bind(&i.rewritten_query)
        .bind(&i.response)
        .bind(serde_json::to_string(&i.sources).map_err(backend)?)
        .bind(&i.model)
        .bind(i.rag_strategy.as_str())
        .bind(i64::from(i.tokens_input))
        .bind(i64::from(i.tokens_output))
        .bind(i.cost_usd)
        .bind(i64::try_from(i.latency_ms).unwrap_or(i64::MAX))
        .bind(i.status.as_str())
        .bind(&i.error)
        .bind(i.feedback.map(|f| f.as_str()))
        .bind(&i.feedback_comment)
        .bind(micros(&i.created_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if i.status == InteractionStatus::Completed {
            let data = serde_json::json!({
                "interaction_id": i.id.as_str(), "agent_id": i.agent_id.as_str(),
                "session_id": i.session_id.as_ref().map(|s| s.as_str()), "latency_ms": i.latency_ms,
                "model": i.model, "rag_strategy": i.rag_strategy.as_str(), "sources": i.sources.len(),
                "tokens_input": i.tokens_input, "tokens_output": i.tokens_output, "cost_usd": i.cost_usd,
            });
            super::webhooks::emit(&mut tx, &i.org_id, EventKind::InteractionCompleted, data)
                .await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn get_interaction(
        &self,
        org: &OrgId,
        id: &InteractionId,
    ) -> StoreResult<Option<Interaction>> {
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM interactions WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(interaction).transpose()
    }

    async fn list_interactions(
        &self,
        org: &OrgId,
        filter: &InteractionFilter,
        page: Page,
    ) -> StoreResult<Listed<Interaction>> {
        let mut count = Sql::new("SELECT COUNT(*) FROM interactions");
        push_filter(&mut count, org, filter);
        let total: i64 = count
            .build_scalar()
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        let (limit, offset) = bounds(page);
        let mut q = Sql::new(format!("SELECT {COLUMNS} FROM interactions"));
        push_filter(&mut q, org, filter);
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        let rows = q.build().fetch_all(&self.read).await.map_err(backend)?;
        Ok(Listed {
            items: rows.iter().map(interaction).collect::<StoreResult<_>>()?,
            total: total as u64,
        })
    }

    async fn set_feedback(
        &self,
        org: &OrgId,
        id: &InteractionId,
        feedback: Feedback,
        comment: Option<&str>,
    ) -> StoreResult<Option<Interaction>> {
        let mut tx = self.begin().await?;
        let res = sqlx::query(
            "UPDATE interactions SET feedback = $1, feedback_comment = $2, feedback_at = $3
             WHERE org_id = $4 AND id = $5",
        )
        .bind(feedback.as_str())
        .bind(comment)
        .bind(micros(&twig_core::time::now()))
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if res.rows_affected() == 0 {
            return Ok(None);
        }
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM interactions WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let updated = interaction(&r)?;
        let data = serde_json::json!({
            "interaction_id": updated.id.as_str(), "agent_id": updated.agent_id.as_str(),
            "feedback": feedback.as_str(), "comment": updated.feedback_comment,
        });
        super::webhooks::emit(&mut tx, org, EventKind::InteractionFeedback, data).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(updated))
    }

    async fn delete_expired_sessions(&self, org: &OrgId, now: Timestamp) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let res = sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND expires_at <= $2")
            .bind(org.as_str())
            .bind(micros(&now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(res.rows_affected())
    }

    async fn analytics(
        &self,
        org: &OrgId,
        query: &twig_core::analytics::AnalyticsQuery,
    ) -> StoreResult<(
        twig_core::analytics::Metrics,
        Vec<twig_core::analytics::Bucket>,
    )> {
        super::analytics::run(&self.read, self.dialect, org, query).await
    }
}
