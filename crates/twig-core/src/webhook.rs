//! Webhooks: endpoints an org registers, the events sent to them, their
//! deliveries, and the `X-Twig-Signature` scheme.

use crate::error::Error;
use crate::id::{random_base62, DeliveryId, EventId, OrgId, WebhookId};
use crate::time::{self, Timestamp};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use utoipa::ToSchema;

/// Job kind of a delivery (payload `{"delivery_id": "whd_..."}`).
pub const DELIVER_JOB: &str = "webhook.deliver";
/// Claims a delivery job may take; the retry schedule ends deliveries long before.
pub const DELIVER_JOB_MAX_ATTEMPTS: u32 = 25;

/// Most endpoints one org may register.
pub const MAX_WEBHOOKS: u64 = 50;
/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Response bodies kept per delivery attempt, in bytes.
pub const MAX_KEPT_BODY: usize = 1024;

/// What happened. Wire names are the spec's (`interaction.completed`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventKind {
    /// A query was answered.
    #[serde(rename = "interaction.completed")]
    InteractionCompleted,
    /// Feedback was given (or changed) on an interaction.
    #[serde(rename = "interaction.feedback")]
    InteractionFeedback,
    /// A data source sync finished.
    #[serde(rename = "data_source.synced")]
    DataSourceSynced,
    /// A data source sync failed for good.
    #[serde(rename = "data_source.failed")]
    DataSourceFailed,
    /// An agent was created.
    #[serde(rename = "agent.created")]
    AgentCreated,
    /// An agent's configuration changed.
    #[serde(rename = "agent.updated")]
    AgentUpdated,
    /// An agent was deleted.
    #[serde(rename = "agent.deleted")]
    AgentDeleted,
    /// An evaluation run finished.
    #[serde(rename = "eval.completed")]
    EvalCompleted,
    /// A test event sent by `POST /webhooks/:id/test`; not subscribable.
    #[serde(rename = "ping")]
    Ping,
}

impl EventKind {
    /// Every event an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventKind; 8] = [
        Self::InteractionCompleted,
        Self::InteractionFeedback,
        Self::DataSourceSynced,
        Self::DataSourceFailed,
        Self::AgentCreated,
        Self::AgentUpdated,
        Self::AgentDeleted,
        Self::EvalCompleted,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InteractionCompleted => "interaction.completed",
            Self::InteractionFeedback => "interaction.feedback",
            Self::DataSourceSynced => "data_source.synced",
            Self::DataSourceFailed => "data_source.failed",
            Self::AgentCreated => "agent.created",
            Self::AgentUpdated => "agent.updated",
            Self::AgentDeleted => "agent.deleted",
            Self::EvalCompleted => "eval.completed",
            Self::Ping => "ping",
        }
    }

    /// Parses a wire name (ping included).
    pub fn parse(s: &str) -> Option<Self> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([Self::Ping])
            .find(|k| k.as_str() == s)
    }
}

/// An endpoint as the API shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// Where events are POSTed.
    pub url: String,
    /// Free text for the org's admins.
    pub description: Option<String>,
    /// Subscribed events.
    pub events: Vec<EventKind>,
    /// Whether events are sent.
    pub enabled: bool,
    /// Why the endpoint was disabled automatically (repeated failed deliveries), if it was.
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed deliveries.
    #[serde(with = "time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<Timestamp>,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// An endpoint with its signing secret: answered once, on create and on rotation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Signing secret (`whsec_...`); store it, it is not shown again.
    pub secret: String,
}

/// Fields a client sends to create or change an endpoint; all optional on update.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where events are POSTed (https unless the operator allows http); its host must
    /// resolve to a public address unless the operator allows private networks.
    #[schema(
        max_length = 2048,
        pattern = r"^https://[\x21\x22\x24-\x2e\x30-\x3e\x41-\x7e]+([/?#][\x21-\x7e]*)?$",
        example = "https://example.com/hooks/twig"
    )]
    pub url: Option<String>,
    /// Events to subscribe to (see the event list); at least one.
    #[schema(value_type = Option<Vec<EventKind>>, min_items = 1)]
    pub events: Option<Vec<String>>,
    /// Whether events are sent; re-enabling clears `disabled_reason`.
    pub enabled: Option<bool>,
    /// Free text, up to 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// The secrets an endpoint signs with: during a rotation, the previous one too.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningSecrets {
    /// Current secret.
    pub current: String,
    /// Previous secret, still signed with until the timestamp.
    pub previous: Option<(String, Timestamp)>,
}

impl SigningSecrets {
    /// Secrets valid at `now`, current first.
    pub fn active(&self, now: Timestamp) -> Vec<&str> {
        let mut out = vec![self.current.as_str()];
        if let Some((prev, until)) = &self.previous {
            if *until > now {
                out.push(prev.as_str());
            }
        }
        out
    }
}

/// A new signing secret.
pub fn generate_secret() -> String {
    format!("whsec_{}", random_base62(32))
}

/// Hex HMAC-SHA256 of `"<t>.<body>"` under `secret`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Twig-Signature` value: `t=<unix>,v1=<hex>[,v1=<hex>]`, one `v1` per active secret.
pub fn signature_header(secrets: &[&str], t: i64, body: &[u8]) -> String {
    let mut h = format!("t={t}");
    for s in secrets {
        h.push_str(",v1=");
        h.push_str(&sign(s, t, body));
    }
    h
}

/// The body POSTed to endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct EventPayload<'a> {
    /// Unique event id, the same on every redelivery (for idempotent receivers).
    pub id: &'a EventId,
    /// Event name.
    pub event: EventKind,
    /// When it happened.
    #[serde(with = "time::rfc3339")]
    pub timestamp: Timestamp,
    /// What happened.
    pub data: &'a Value,
}

/// State of one event's delivery to one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet; attempts remain.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Gave up (attempts exhausted, a non-retryable answer, or the endpoint disabled).
    Failed,
}

impl DeliveryStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    /// When it was sent.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// HTTP status answered, if any.
    pub status_code: Option<u16>,
    /// Time to the answer (or the failure).
    pub latency_ms: u64,
    /// Start of the answer's body (at most 1 KB).
    pub response_body: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// One event's delivery to one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The event's id (also in the body).
    pub event_id: EventId,
    /// Event name.
    pub event: EventKind,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
    /// When the next attempt is due, while pending.
    #[serde(with = "time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// The exact body sent (the same bytes on every attempt).
    #[serde(skip)]
    pub body: String,
    /// Attempts made before the current series (a redelivery starts a new series).
    #[serde(skip)]
    pub series_start: u32,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Keeps the start of a response body, cut at a character boundary.
pub fn trim_body(body: &str) -> String {
    if body.len() <= MAX_KEPT_BODY {
        return body.to_owned();
    }
    let mut end = MAX_KEPT_BODY;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

/// Parses a subscription list: known names, at least one, no `ping`; duplicates folded.
pub fn parse_events(names: &[String]) -> Result<Vec<EventKind>, Error> {
    if names.is_empty() {
        return Err(Error::invalid_field(
            "events",
            "events must list at least one event",
        ));
    }
    let mut out = Vec::new();
    for n in names {
        match EventKind::parse(n).filter(|k| *k != EventKind::Ping) {
            Some(k) if !out.contains(&k) => out.push(k),
            Some(_) => {}
            None => {
                let known: Vec<&str> = EventKind::SUBSCRIBABLE.iter().map(|k| k.as_str()).collect();
                return Err(Error::invalid_field(
                    "events",
                    format!("unknown event {n:?}; known events: {}", known.join(", ")),
                ));
            }
        }
    }
    Ok(out)
}

/// Checks a description: at most 500 characters as sent (the document's `maxLength`), then trimmed.
pub fn parse_description(d: &str) -> Result<Option<String>, Error> {
    if d.chars().count() > 500 {
        return Err(Error::invalid_field(
            "description",
            "description must be at most 500 characters",
        ));
    }
    let d = d.trim();
    Ok((!d.is_empty()).then(|| d.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let s = sign("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            s,
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        let h = signature_header(&["whsec_test", "whsec_old"], 1_700_000_000, br#"{"a":1}"#);
        assert!(h.starts_with(&format!("t=1700000000,v1={s},v1=")));
        assert_ne!(s, sign("whsec_old", 1_700_000_000, br#"{"a":1}"#));
    }

    #[test]
    fn events_parse_strictly() {
        let ok = parse_events(&["agent.updated".into(), "agent.updated".into()]).unwrap();
        assert_eq!(ok, vec![EventKind::AgentUpdated]);
        assert!(parse_events(&[]).is_err());
        assert!(parse_events(&["ping".into()]).is_err());
        assert!(parse_events(&["agent.renamed".into()]).is_err());
    }

    #[test]
    fn bodies_are_trimmed_at_char_boundaries() {
        let long = "é".repeat(1000);
        let t = trim_body(&long);
        assert!(t.len() <= MAX_KEPT_BODY + "…".len());
        assert_eq!(trim_body("short"), "short");
    }
}
