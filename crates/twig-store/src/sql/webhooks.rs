//! Webhook endpoints and the delivery outbox on SQLite.

use super::{backend, bounds, from_micros, from_micros_opt, jobs, micros, SqlStore};
use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use twig_core::id::{DeliveryId, EventId, OrgId, WebhookId};
use twig_core::job::NewJob;
use twig_core::page::{Listed, Page};
use twig_core::store::{AttemptRecord, DeliveryTarget, StoreError, StoreResult, WebhookStore};
use twig_core::time::{self, Timestamp};
use twig_core::webhook::{
    Delivery, DeliveryAttempt, DeliveryStatus, EventKind, EventPayload, SigningSecrets, Webhook,
    DELIVER_JOB, DELIVER_JOB_MAX_ATTEMPTS, MAX_WEBHOOKS,
};

const HOOK_COLUMNS: &str =
    "id, org_id, url, description, events, enabled, disabled_reason, failing_since,
    created_at, updated_at";
const DELIVERY_COLUMNS: &str =
    "id, webhook_id, event_id, event, body, status, attempts, series_start,
    next_attempt_at, created_at, updated_at";

fn hook_row(r: &AnyRow) -> StoreResult<Webhook> {
    let events: String = r.try_get("events").map_err(backend)?;
    let names: Vec<String> = serde_json::from_str(&events).map_err(backend)?;
    Ok(Webhook {
        id: WebhookId::from_trusted(r.try_get("id").map_err(backend)?),
        org_id: OrgId::from_trusted(r.try_get("org_id").map_err(backend)?),
        url: r.try_get("url").map_err(backend)?,
        description: r.try_get("description").map_err(backend)?,
        // An event name this version does not know is skipped rather than failing the read.
        events: names.iter().filter_map(|n| EventKind::parse(n)).collect(),
        enabled: r.try_get::<i64, _>("enabled").map_err(backend)? != 0,
        disabled_reason: r.try_get("disabled_reason").map_err(backend)?,
        failing_since: from_micros_opt(r.try_get("failing_since").map_err(backend)?)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn delivery_row(r: &AnyRow) -> StoreResult<Delivery> {
    let event: String = r.try_get("event").map_err(backend)?;
    let status: String = r.try_get("status").map_err(backend)?;
    let attempts: String = r.try_get("attempts").map_err(backend)?;
    Ok(Delivery {
        id: DeliveryId::from_trusted(r.try_get("id").map_err(backend)?),
        webhook_id: WebhookId::from_trusted(r.try_get("webhook_id").map_err(backend)?),
        event_id: EventId::from_trusted(r.try_get("event_id").map_err(backend)?),
        event: EventKind::parse(&event)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown stored event {event:?}")))?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| backend(anyhow::anyhow!("unknown delivery status {status:?}")))?,
        attempts: serde_json::from_str(&attempts).map_err(backend)?,
        series_start: r.try_get::<i64, _>("series_start").map_err(backend)? as u32,
        next_attempt_at: from_micros_opt(r.try_get("next_attempt_at").map_err(backend)?)?,
        body: r.try_get("body").map_err(backend)?,
        created_at: from_micros(r.try_get("created_at").map_err(backend)?)?,
        updated_at: from_micros(r.try_get("updated_at").map_err(backend)?)?,
    })
}

fn events_json(events: &[EventKind]) -> String {
    Value::from(events.iter().map(|e| e.as_str()).collect::<Vec<_>>()).to_string()
}

/// Queues `event` to every enabled endpoint of `org` subscribed to it, inside `tx`:
/// the outbox write of the change that caused it.
pub(super) async fn emit(
    tx: &mut Transaction<'static, Any>,
    org: &OrgId,
    event: EventKind,
    data: Value,
) -> StoreResult<()> {
    // Subscriptions are matched here, not in SQL: JSON functions differ between the engines,
    // and an organisation has few endpoints.
    let hooks: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, events FROM webhooks WHERE org_id = $1 AND enabled = 1 ORDER BY id",
    )
    .bind(org.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    let mut ids = Vec::new();
    for (id, events) in hooks {
        let events: Vec<String> = serde_json::from_str(&events).map_err(backend)?;
        if events.iter().any(|e| e == event.as_str()) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let event_id = EventId::generate();
    let body = payload(&event_id, event, &data)?;
    for id in ids {
        queue(
            tx,
            org,
            &WebhookId::from_trusted(id),
            &event_id,
            event,
            &body,
        )
        .await?;
    }
    Ok(())
}

fn payload(id: &EventId, event: EventKind, data: &Value) -> StoreResult<String> {
    serde_json::to_string(&EventPayload {
        id,
        event,
        timestamp: time::now(),
        data,
    })
    .map_err(backend)
}

/// Inserts a pending delivery and its job.
async fn queue(
    tx: &mut Transaction<'static, Any>,
    org: &OrgId,
    hook: &WebhookId,
    event_id: &EventId,
    event: EventKind,
    body: &str,
) -> StoreResult<DeliveryId> {
    let id = DeliveryId::generate();
    let now = micros(&time::now());
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, event, body, status, attempts,
            series_start, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', '[]', 0, $7, $8, $9)",
    )
    .bind(id.as_str())
    .bind(org.as_str())
    .bind(hook.as_str())
    .bind(event_id.as_str())
    .bind(event.as_str())
    .bind(body)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    enqueue_job(tx, org, &id).await?;
    Ok(id)
}

async fn enqueue_job(
    tx: &mut Transaction<'static, Any>,
    org: &OrgId,
    id: &DeliveryId,
) -> StoreResult<()> {
    let mut job = NewJob::now(
        org.clone(),
        DELIVER_JOB,
        json!({ "delivery_id": id.as_str() }),
    );
    job.max_attempts = DELIVER_JOB_MAX_ATTEMPTS;
    jobs::insert(tx, &job).await?;
    Ok(())
}

async fn delivery_in(
    tx: &mut Transaction<'static, Any>,
    id: &DeliveryId,
) -> StoreResult<Option<Delivery>> {
    let r = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    r.as_ref().map(delivery_row).transpose()
}

async fn hook_in(
    tx: &mut Transaction<'static, Any>,
    id: &WebhookId,
) -> StoreResult<Option<Webhook>> {
    let r = sqlx::query(&format!(
        "SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    r.as_ref().map(hook_row).transpose()
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, h: &Webhook, secret: &str) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE org_id = $1")
            .bind(h.org_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        if n as u64 >= MAX_WEBHOOKS {
            return Err(StoreError::Conflict(format!(
                "an organisation may have at most {MAX_WEBHOOKS} webhook endpoints"
            )));
        }
        sqlx::query(
            "INSERT INTO webhooks (id, org_id, url, description, events, enabled, disabled_reason, failing_since,
                secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(h.id.as_str())
        .bind(h.org_id.as_str())
        .bind(&h.url)
        .bind(&h.description)
        .bind(events_json(&h.events))
        .bind(i64::from(h.enabled))
        .bind(&h.disabled_reason)
        .bind(h.failing_since.as_ref().map(micros))
        .bind(self.secrets.seal(secret))
        .bind(micros(&h.created_at))
        .bind(micros(&h.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> StoreResult<Option<Webhook>> {
        let r = sqlx::query(&format!(
            "SELECT {HOOK_COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(hook_row).transpose()
    }

    async fn list_webhooks(&self, org: &OrgId, page: Page) -> StoreResult<Listed<Webhook>> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        let (limit, offset) = bounds(page);
        let rows = sqlx::query(&format!(
            "SELECT {HOOK_COLUMNS} FROM webhooks WHERE org_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(org.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        Ok(Listed {
            items: rows.iter().map(hook_row).collect::<StoreResult<_>>()?,
            total: total as u64,
        })
    }

    async fn update_webhook(&self, h: &Webhook) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE webhooks SET url = $1, description = $2, events = $3, enabled = $4, disabled_reason = $5,
                failing_since = $6, updated_at = $7 WHERE org_id = $8 AND id = $9",
        )
        .bind(&h.url)
        .bind(&h.description)
        .bind(events_json(&h.events))
        .bind(i64::from(h.enabled))
        .bind(&h.disabled_reason)
        .bind(h.failing_since.as_ref().map(micros))
        .bind(micros(&h.updated_at))
        .bind(h.org_id.as_str())
        .bind(h.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // Deliveries go with it (cascade); their queued jobs find nothing and end.
        let n = sqlx::query("DELETE FROM webhooks WHERE org_id = $1 AND id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: &str,
        previous_until: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE webhooks SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3
             WHERE org_id = $4 AND id = $5",
        )
        .bind(micros(&previous_until))
        .bind(self.secrets.seal(secret))
        .bind(micros(&time::now()))
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn send_ping(&self, org: &OrgId, id: &WebhookId) -> StoreResult<Option<Delivery>> {
        let mut tx = self.begin().await?;
        let Some(hook) = hook_in(&mut tx, id).await?.filter(|h| &h.org_id == org) else {
            return Ok(None);
        };
        let event_id = EventId::generate();
        let data = json!({ "webhook_id": hook.id.as_str(), "message": "Webhook test from Twig" });
        let body = payload(&event_id, EventKind::Ping, &data)?;
        let did = queue(&mut tx, org, &hook.id, &event_id, EventKind::Ping, &body).await?;
        let d = delivery_in(&mut tx, &did).await?;
        tx.commit().await.map_err(backend)?;
        Ok(d)
    }

    async fn list_deliveries(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        page: Page,
    ) -> StoreResult<Listed<Delivery>> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2",
        )
        .bind(org.as_str())
        .bind(webhook.as_str())
        .fetch_one(&self.read)
        .await
        .map_err(backend)?;
        let (limit, offset) = bounds(page);
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(org.as_str())
        .bind(webhook.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        Ok(Listed {
            items: rows.iter().map(delivery_row).collect::<StoreResult<_>>()?,
            total: total as u64,
        })
    }

    async fn get_delivery(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: &DeliveryId,
    ) -> StoreResult<Option<Delivery>> {
        let r = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2 AND id = $3"
        ))
        .bind(org.as_str())
        .bind(webhook.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        r.as_ref().map(delivery_row).transpose()
    }

    async fn redeliver(
        &self,
        org: &OrgId,
        webhook: &WebhookId,
        id: &DeliveryId,
    ) -> StoreResult<Option<Delivery>> {
        let mut tx = self.begin().await?;
        let Some(d) = delivery_in(&mut tx, id).await? else {
            return Ok(None);
        };
        let owner: Option<String> =
            sqlx::query_scalar("SELECT org_id FROM webhook_deliveries WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if owner.as_deref() != Some(org.as_str()) || &d.webhook_id != webhook {
            return Ok(None);
        }
        let now = micros(&time::now());
        // A delivery already pending keeps its job; otherwise a new series starts.
        if d.status != DeliveryStatus::Pending {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'pending', series_start = $1, next_attempt_at = $2,
                    updated_at = $3 WHERE id = $4",
            )
            .bind(d.attempts.len() as i64)
            .bind(now)
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            enqueue_job(&mut tx, org, id).await?;
        }
        let out = delivery_in(&mut tx, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(out)
    }

    async fn delivery_target(&self, id: &DeliveryId) -> StoreResult<Option<DeliveryTarget>> {
        let Some(r) = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?
        else {
            return Ok(None);
        };
        let delivery = delivery_row(&r)?;
        let Some(h) = sqlx::query(&format!(
            "SELECT {HOOK_COLUMNS}, secret, previous_secret, previous_secret_until FROM webhooks WHERE id = $1"
        ))
        .bind(delivery.webhook_id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?
        else {
            return Ok(None);
        };
        let webhook = hook_row(&h)?;
        let previous: Option<String> = h.try_get("previous_secret").map_err(backend)?;
        let previous = previous
            .map(|p| self.secrets.open(&p).map_err(backend))
            .transpose()?;
        let until = from_micros_opt(h.try_get("previous_secret_until").map_err(backend)?)?;
        let current: String = h.try_get("secret").map_err(backend)?;
        Ok(Some(DeliveryTarget {
            delivery,
            webhook,
            secrets: SigningSecrets {
                current: self.secrets.open(&current).map_err(backend)?,
                previous: previous.zip(until),
            },
        }))
    }

    async fn record_attempt(
        &self,
        id: &DeliveryId,
        rec: &AttemptRecord,
    ) -> StoreResult<Option<Webhook>> {
        let mut tx = self.begin().await?;
        let Some(mut d) = delivery_in(&mut tx, id).await? else {
            return Ok(None);
        };
        d.attempts.push(rec.attempt.clone());
        let attempts: Vec<DeliveryAttempt> = d.attempts;
        let now = time::now();
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = $1, status = $2, next_attempt_at = $3, updated_at = $4
             WHERE id = $5",
        )
        .bind(serde_json::to_string(&attempts).map_err(backend)?)
        .bind(rec.status.as_str())
        .bind(rec.next_attempt_at.as_ref().map(micros))
        .bind(micros(&now))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(mut hook) = hook_in(&mut tx, &d.webhook_id).await? else {
            tx.commit().await.map_err(backend)?;
            return Ok(None);
        };
        match rec.status {
            DeliveryStatus::Succeeded => hook.failing_since = None,
            _ => {
                let since = *hook.failing_since.get_or_insert(rec.attempt.at);
                if rec.status == DeliveryStatus::Failed
                    && hook.enabled
                    && rec.disable_if_failing_since.is_some_and(|t| since <= t)
                {
                    hook.enabled = false;
                    hook.disabled_reason = Some(format!(
                        "disabled automatically: deliveries have failed since {}; last error: {}",
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        rec.attempt.error.as_deref().unwrap_or("unknown")
                    ));
                }
            }
        }
        sqlx::query(
            "UPDATE webhooks SET failing_since = $1, enabled = $2, disabled_reason = $3 WHERE id = $4",
        )
        .bind(hook.failing_since.as_ref().map(micros))
        .bind(i64::from(hook.enabled))
        .bind(&hook.disabled_reason)
        .bind(hook.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Some(hook))
    }
}
