//! Prefixed, random base62 identifiers (`agent_…`, `ds_…`, …) as in the API reference.

use rand::distributions::{Alphanumeric, DistString};
use std::fmt;

/// Length of the random part of newly minted ids.
const RANDOM_LEN: usize = 20;
/// Longest random part accepted when parsing; the hosted product's ids vary in length.
const MAX_RANDOM_LEN: usize = 64;

/// Random base62 text from the OS-seeded CSPRNG.
pub fn random_base62(len: usize) -> String {
    // `Alphanumeric` is exactly [A-Za-z0-9]; `thread_rng` is a CSPRNG reseeded from the OS.
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// Why a string is not a well-formed id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id {value:?}: expected \"{prefix}\" followed by 1 to {MAX_RANDOM_LEN} letters or digits")]
pub struct InvalidId {
    /// Human name of the id kind, e.g. "agent".
    pub kind: &'static str,
    /// The expected prefix.
    pub prefix: &'static str,
    /// What was given.
    pub value: String,
}

/// The JSON Schema pattern of ids with `prefix`, exactly what [`well_formed`] accepts.
pub fn id_pattern(prefix: &str) -> String {
    format!("^{prefix}[A-Za-z0-9]{{1,{MAX_RANDOM_LEN}}}$")
}

/// The schema of ids with `prefix`: a string with their pattern and an example.
// Written by hand: the derive cannot put a pattern on a transparent newtype.
fn id_schema(prefix: &str, kind: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(id_pattern(prefix)))
        .description(Some(format!(
            "Id of a {kind}: `{prefix}` and 1 to {MAX_RANDOM_LEN} letters or digits."
        )))
        .examples([serde_json::Value::String(format!(
            "{prefix}3kTMd9PqW2xYb7Lz0aHc"
        ))])
        .into()
}

fn well_formed(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= MAX_RANDOM_LEN
            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                id_schema($prefix, $kind)
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// The id prefix, e.g. `agent_`.
            pub const PREFIX: &'static str = $prefix;
            /// Human name of this kind of id.
            pub const KIND: &'static str = $kind;

            /// Mints a fresh random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_base62(RANDOM_LEN)))
            }

            /// Parses a client-supplied id, rejecting a wrong prefix or alphabet.
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                if well_formed($prefix, s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind, prefix: $prefix, value: s.to_owned() })
                }
            }

            /// Wraps an id read back from storage (already validated when written).
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

define_id!(/// An organisation (tenant).
    OrgId, "org_", "organisation");
define_id!(/// An API key record (not the secret).
    KeyId, "key_", "API key");
define_id!(/// An agent.
    AgentId, "agent_", "agent");
define_id!(/// A data source.
    DataSourceId, "ds_", "data source");
define_id!(/// A document inside a data source.
    DocumentId, "doc_", "document");
define_id!(/// A chunk of a document.
    ChunkId, "chk_", "chunk");
define_id!(/// A stored query/answer interaction.
    InteractionId, "int_", "interaction");
define_id!(/// A multi-turn conversation session.
    SessionId, "sess_", "session");
define_id!(/// One HTTP request, echoed in `X-Request-Id` and error bodies.
    RequestId, "req_", "request");
define_id!(/// A background job.
    JobId, "job_", "job");
define_id!(/// A user of an organisation (the API reference names no prefix; `usr_` is ours).
    UserId, "usr_", "user");
define_id!(/// A knowledge-base article.
    ArticleId, "kb_", "knowledge-base article");
define_id!(/// A webhook endpoint.
    WebhookId, "wh_", "webhook");
define_id!(/// An event sent to webhook endpoints (the same id on every redelivery).
    EventId, "evt_", "event");
define_id!(/// One event's delivery to one webhook endpoint.
    DeliveryId, "whd_", "webhook delivery");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = AgentId::generate();
        assert!(id.as_str().starts_with("agent_"));
        assert_eq!(id.as_str().len(), "agent_".len() + RANDOM_LEN);
        assert_eq!(AgentId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "agent_",
            "ds_1",
            "agent-abc",
            "agent_abc!",
            "AGENT_abc",
            "agent_ab c",
        ] {
            assert!(AgentId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("agent_{}", "a".repeat(MAX_RANDOM_LEN + 1));
        assert!(AgentId::parse(&long).is_err());
        assert!(DataSourceId::parse("ds_1").is_ok());
    }

    #[test]
    fn ids_are_random() {
        assert_ne!(OrgId::generate(), OrgId::generate());
    }
}
