//! Delivers the outbox: one job per delivery, one signed POST per attempt,
//! retried on its own schedule (timeouts, connection errors, 429 and 5xx),
//! never retried on other answers.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use twig_core::id::DeliveryId;
use twig_core::job::Job;
use twig_core::store::{AttemptRecord, DeliveryTarget, Store};
use twig_core::time;
use twig_core::webhook::{
    signature_header, trim_body, DeliveryAttempt, DeliveryStatus, EventKind, DELIVER_JOB,
    MAX_KEPT_BODY,
};
use twig_jobs::{JobContext, JobError, JobHandler};

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// Time allowed for one attempt, answer body included.
    pub timeout: Duration,
    /// Delay before each retry; the attempts are one more than its length.
    pub retry_delays: Vec<Duration>,
    /// An endpoint whose deliveries have failed for this long is disabled when one fails for good.
    pub disable_after: Duration,
    /// Allow endpoints on private networks (checked again on the addresses actually used).
    pub allow_private_networks: bool,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            // 8 attempts over about 22 hours.
            retry_delays: [60, 300, 1800, 3600, 10_800, 21_600, 43_200]
                .map(Duration::from_secs)
                .to_vec(),
            disable_after: Duration::from_secs(72 * 3600),
            allow_private_networks: false,
        }
    }
}

/// The `webhook.deliver` job handler.
pub struct DeliverHandler {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    policy: DeliveryPolicy,
}

impl DeliverHandler {
    /// A handler with its own HTTP client (no redirects; private addresses filtered unless allowed).
    pub fn new(store: Arc<dyn Store>, policy: DeliveryPolicy) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("Twig-Webhooks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
            .dns_resolver(Arc::new(twig_crawl::GuardedResolver {
                allow_private: policy.allow_private_networks,
            }))
            .build()?;
        Ok(Self {
            store,
            client,
            policy,
        })
    }
}

/// How one attempt ended.
enum Sent {
    Ok,
    Retryable(String),
    Final(String),
}

impl DeliverHandler {
    async fn send(&self, t: &DeliveryTarget) -> (DeliveryAttempt, Sent) {
        let at = time::now();
        let started = Instant::now();
        let unix = at.timestamp();
        let body = t.delivery.body.as_bytes();
        let sig = signature_header(&t.secrets.active(at), unix, body);
        // IP-literal URLs never reach the filtering resolver, so check the URL itself too.
        let allowed = match url::Url::parse(&t.webhook.url) {
            Ok(u) => twig_crawl::check_url(&u, self.policy.allow_private_networks).await,
            Err(e) => Err(format!("invalid URL: {e}")),
        };
        if let Err(why) = allowed {
            let attempt = DeliveryAttempt {
                at,
                status_code: None,
                latency_ms: started.elapsed().as_millis() as u64,
                response_body: None,
                error: Some(format!("not sent: {why}")),
            };
            return (attempt, Sent::Final(format!("not sent: {why}")));
        }
        let result = self
            .client
            .post(&t.webhook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Twig-Signature", sig)
            .header("X-Twig-Event", t.delivery.event.as_str())
            .header("X-Twig-Event-Id", t.delivery.event_id.as_str())
            .header("X-Twig-Delivery", t.delivery.id.as_str())
            .body(t.delivery.body.clone())
            .send()
            .await;
        let (status_code, response_body, sent) = match result {
            Err(e) => {
                let why = if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    format!("request failed: {}", error_chain(&e))
                };
                (None, None, Sent::Retryable(why))
            }
            Ok(mut resp) => {
                let status = resp.status();
                let kept = read_start(&mut resp).await;
                let code = status.as_u16();
                let sent = if status.is_success() {
                    Sent::Ok
                } else if code == 429 || status.is_server_error() {
                    Sent::Retryable(format!("HTTP {code}"))
                } else {
                    Sent::Final(format!("HTTP {code} (not retried)"))
                };
                (Some(code), Some(kept), sent)
            }
        };
        let error = match &sent {
            Sent::Ok => None,
            Sent::Retryable(e) | Sent::Final(e) => Some(e.clone()),
        };
        let attempt = DeliveryAttempt {
            at,
            status_code,
            latency_ms: started.elapsed().as_millis() as u64,
            response_body,
            error,
        };
        (attempt, sent)
    }

    fn retry_delay(&self, attempt_in_series: usize) -> Option<Duration> {
        let base = *self.policy.retry_delays.get(attempt_in_series - 1)?;
        // ±20% jitter spreads the retries of deliveries that failed together.
        Some(base.mul_f64(0.8 + rand::random::<f64>() * 0.4))
    }
}

/// Reads at most [`MAX_KEPT_BODY`] bytes of the answer (the rest is never downloaded).
async fn read_start(resp: &mut reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() <= MAX_KEPT_BODY {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    trim_body(&String::from_utf8_lossy(&buf))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn store_err(e: impl std::fmt::Display) -> JobError {
    JobError::Retryable(format!("storage error: {e}"))
}

#[async_trait]
impl JobHandler for DeliverHandler {
    fn kind(&self) -> &'static str {
        DELIVER_JOB
    }

    async fn run(&self, job: Job, _ctx: JobContext) -> Result<Value, JobError> {
        let id = job.payload["delivery_id"]
            .as_str()
            .and_then(|s| DeliveryId::parse(s).ok())
            .ok_or_else(|| JobError::Permanent("payload has no valid delivery_id".into()))?;
        let hooks = self.store.webhooks();
        let Some(target) = hooks.delivery_target(&id).await.map_err(store_err)? else {
            return Ok(json!({ "skipped": "the endpoint or delivery was deleted" }));
        };
        if target.delivery.status != DeliveryStatus::Pending {
            return Ok(
                json!({ "skipped": format!("delivery already {}", target.delivery.status.as_str()) }),
            );
        }
        if !target.webhook.enabled && target.delivery.event != EventKind::Ping {
            let attempt = DeliveryAttempt {
                at: time::now(),
                status_code: None,
                latency_ms: 0,
                response_body: None,
                error: Some("not sent: the endpoint is disabled".into()),
            };
            let rec = AttemptRecord {
                attempt,
                status: DeliveryStatus::Failed,
                next_attempt_at: None,
                disable_if_failing_since: None,
            };
            hooks.record_attempt(&id, &rec).await.map_err(store_err)?;
            return Ok(json!({ "skipped": "endpoint disabled" }));
        }
        let n = target
            .delivery
            .attempts
            .len()
            .saturating_sub(target.delivery.series_start as usize)
            + 1;
        let (attempt, sent) = self.send(&target).await;
        let now = time::now();
        let disable_if = chrono::Duration::from_std(self.policy.disable_after)
            .ok()
            .map(|d| now - d);
        let (rec, result) = match sent {
            Sent::Ok => (
                AttemptRecord {
                    attempt,
                    status: DeliveryStatus::Succeeded,
                    next_attempt_at: None,
                    disable_if_failing_since: None,
                },
                Ok(json!({ "delivered": true, "attempt": n })),
            ),
            Sent::Retryable(why) => match self.retry_delay(n) {
                Some(delay) => (
                    AttemptRecord {
                        attempt,
                        status: DeliveryStatus::Pending,
                        next_attempt_at: chrono::Duration::from_std(delay).ok().map(|d| now + d),
                        disable_if_failing_since: None,
                    },
                    Err(JobError::RetryAfter(why, delay)),
                ),
                None => (
                    AttemptRecord {
                        attempt,
                        status: DeliveryStatus::Failed,
                        next_attempt_at: None,
                        disable_if_failing_since: disable_if,
                    },
                    Err(JobError::Permanent(format!(
                        "{why}; gave up after {n} attempts"
                    ))),
                ),
            },
            Sent::Final(why) => (
                AttemptRecord {
                    attempt,
                    status: DeliveryStatus::Failed,
                    next_attempt_at: None,
                    disable_if_failing_since: disable_if,
                },
                Err(JobError::Permanent(why)),
            ),
        };
        let outcome = match rec.status {
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Pending => "retrying",
            _ => "failed",
        };
        metrics::counter!("twig_webhook_deliveries_total", "outcome" => outcome).increment(1);
        if let Some(hook) = hooks.record_attempt(&id, &rec).await.map_err(store_err)? {
            if !hook.enabled && target.webhook.enabled {
                tracing::warn!(webhook = %hook.id, reason = ?hook.disabled_reason, "webhook endpoint disabled");
            }
        }
        result
    }
}
