//! Agents: an LLM configuration pointed at a set of data sources.

use crate::error::Error;
use crate::id::{AgentId, DataSourceId, OrgId};
use crate::time::{self, Timestamp};
use crate::validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Default system prompt of new agents.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful assistant. Answer only from the provided sources and cite them. If the sources do not contain the answer, say so.";
/// Default model: the offline extractive answerer, which needs no provider key.
pub const DEFAULT_MODEL: &str = "extractive";
/// Default sampling temperature.
pub const DEFAULT_TEMPERATURE: f64 = 0.7;
/// Default answer length limit.
pub const DEFAULT_MAX_TOKENS: u32 = 500;
/// Largest `max_tokens` accepted.
pub const MAX_MAX_TOKENS: u32 = 32_768;
/// Longest system prompt accepted.
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 20_000;
/// Most data sources one agent may use.
pub const MAX_DATA_SOURCES: usize = 100;

/// Retrieval-augmented generation strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum RagStrategy {
    /// Retrieve for the raw query, then generate. Fastest.
    Redwood,
    /// Rewrite the query with conversation history, retrieve, generate.
    #[default]
    Cedar,
    /// Expand, retrieve wide, rerank, generate, verify citations.
    Cypress,
}

impl RagStrategy {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redwood => "redwood",
            Self::Cedar => "cedar",
            Self::Cypress => "cypress",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Redwood, Self::Cedar, Self::Cypress]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Whether an agent answers queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// Answers queries.
    #[default]
    Active,
    /// Kept, but refuses queries.
    Inactive,
}

impl AgentStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Inactive]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// An agent as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Agent {
    /// Its id.
    pub id: AgentId,
    /// Owning organisation (never serialised).
    #[serde(skip)]
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Instructions given to the model.
    pub system_prompt: String,
    /// RAG strategy.
    pub rag_strategy: RagStrategy,
    /// Model name, mapped to a provider.
    pub model: String,
    /// Sampling temperature, 0 to 2.
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: f64,
    /// Answer length limit in tokens.
    #[schema(minimum = 1, maximum = 32768)]
    pub max_tokens: u32,
    /// `active` or `inactive`.
    pub status: AgentStatus,
    /// Data sources it retrieves from.
    pub data_source_ids: Vec<DataSourceId>,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Body of `POST /agents` and `PUT /agents/:id` (on update every field is optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// Display name (required on create), at most 200 characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Support Bot"
    )]
    pub name: Option<String>,
    /// Instructions given to the model, at most 20000 characters.
    #[schema(max_length = 20000, example = "You are a helpful support assistant.")]
    pub system_prompt: Option<String>,
    /// `redwood`, `cedar` (default) or `cypress`.
    #[schema(value_type = Option<RagStrategy>)]
    pub rag_strategy: Option<String>,
    /// Model name: one this deployment serves (see the 400's `details.configured_models`).
    #[schema(
        max_length = 100,
        pattern = r"^\s*[A-Za-z0-9._:/@-]+\s*$",
        example = "gpt-4"
    )]
    pub model: Option<String>,
    /// 0 to 2 (default 0.7).
    #[schema(minimum = 0.0, maximum = 2.0, example = 0.7)]
    pub temperature: Option<f64>,
    /// 1 to 32768 (default 500).
    #[schema(minimum = 1, maximum = 32768, example = 500)]
    #[serde(default, deserialize_with = "validate::opt_integer")]
    pub max_tokens: Option<i64>,
    /// Data sources of the same organisation (required on create), at most 100, no repeats.
    #[schema(value_type = Option<Vec<DataSourceId>>, max_items = 100)]
    pub data_source_ids: Option<Vec<String>>,
    /// `active` (default) or `inactive`.
    #[schema(value_type = Option<AgentStatus>)]
    pub status: Option<String>,
}

impl Agent {
    /// Builds a new agent from a create request; data-source existence is checked by the store.
    pub fn create(org_id: OrgId, input: AgentInput) -> Result<Agent, Error> {
        let now = time::now();
        let mut agent = Agent {
            id: AgentId::generate(),
            org_id,
            name: validate::name(&validate::required(input.name.clone(), "name")?, "name")?,
            system_prompt: DEFAULT_SYSTEM_PROMPT.to_owned(),
            rag_strategy: RagStrategy::default(),
            model: DEFAULT_MODEL.to_owned(),
            temperature: DEFAULT_TEMPERATURE,
            max_tokens: DEFAULT_MAX_TOKENS,
            status: AgentStatus::Active,
            data_source_ids: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        validate::required(input.data_source_ids.as_ref(), "data_source_ids")?;
        agent.apply(input)?;
        agent.updated_at = now;
        Ok(agent)
    }

    /// Applies an update request; absent fields keep their value.
    pub fn apply(&mut self, input: AgentInput) -> Result<(), Error> {
        if let Some(name) = input.name {
            self.name = validate::name(&name, "name")?;
        }
        if let Some(p) = input.system_prompt {
            if p.chars().count() > MAX_SYSTEM_PROMPT_CHARS {
                return Err(Error::invalid_field(
                    "system_prompt",
                    format!("system_prompt must be at most {MAX_SYSTEM_PROMPT_CHARS} characters"),
                ));
            }
            self.system_prompt = p;
        }
        if let Some(s) = input.rag_strategy {
            self.rag_strategy = RagStrategy::parse(&s).ok_or_else(|| {
                Error::invalid_field(
                    "rag_strategy",
                    format!("rag_strategy must be redwood, cedar or cypress, got {s:?}"),
                )
            })?;
        }
        if let Some(m) = input.model {
            self.model = validate_model(&m)?;
        }
        if let Some(t) = input.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(Error::invalid_field(
                    "temperature",
                    format!("temperature must be between 0 and 2, got {t}"),
                ));
            }
            self.temperature = t;
        }
        if let Some(n) = input.max_tokens {
            if !(1..=MAX_MAX_TOKENS as i64).contains(&n) {
                return Err(Error::invalid_field(
                    "max_tokens",
                    format!("max_tokens must be between 1 and {MAX_MAX_TOKENS}, got {n}"),
                ));
            }
            self.max_tokens = n as u32;
        }
        if let Some(s) = input.status {
            self.status = AgentStatus::parse(&s).ok_or_else(|| {
                Error::invalid_field(
                    "status",
                    format!("status must be active or inactive, got {s:?}"),
                )
            })?;
        }
        if let Some(ids) = input.data_source_ids {
            self.data_source_ids = parse_data_source_ids(&ids)?;
        }
        self.updated_at = time::now();
        Ok(())
    }
}

fn validate_model(m: &str) -> Result<String, Error> {
    let m = m.trim();
    let ok = !m.is_empty()
        && m.len() <= 100
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-@".contains(&b));
    if ok {
        Ok(m.to_owned())
    } else {
        Err(Error::invalid_field(
            "model",
            "model must be 1 to 100 characters of letters, digits and . _ : / - @",
        ))
    }
}

/// Parses a list of data-source ids: well-formed, no duplicates, bounded.
pub fn parse_data_source_ids(ids: &[String]) -> Result<Vec<DataSourceId>, Error> {
    if ids.len() > MAX_DATA_SOURCES {
        return Err(Error::invalid_field(
            "data_source_ids",
            format!("at most {MAX_DATA_SOURCES} data sources per agent"),
        ));
    }
    let mut out: Vec<DataSourceId> = Vec::with_capacity(ids.len());
    for raw in ids {
        let id = DataSourceId::parse(raw)
            .map_err(|e| Error::invalid_field("data_source_ids", e.to_string()))?;
        if out.contains(&id) {
            return Err(Error::invalid_field(
                "data_source_ids",
                format!("data_source_ids lists {id} twice"),
            ));
        }
        out.push(id);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AgentInput {
        AgentInput {
            name: Some("Support".into()),
            data_source_ids: Some(vec![]),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_follow_the_reference() {
        let a = Agent::create(OrgId::generate(), input()).unwrap();
        assert_eq!(a.rag_strategy, RagStrategy::Cedar);
        assert_eq!(a.temperature, 0.7);
        assert_eq!(a.max_tokens, 500);
        assert_eq!(a.status, AgentStatus::Active);
        assert_eq!(a.model, DEFAULT_MODEL);
    }

    #[test]
    fn required_fields() {
        assert!(Agent::create(
            OrgId::generate(),
            AgentInput {
                name: None,
                ..input()
            }
        )
        .is_err());
        assert!(Agent::create(
            OrgId::generate(),
            AgentInput {
                data_source_ids: None,
                ..input()
            }
        )
        .is_err());
    }

    #[test]
    fn field_validation() {
        let org = OrgId::generate();
        let bad = [
            AgentInput {
                temperature: Some(2.1),
                ..input()
            },
            AgentInput {
                temperature: Some(-0.1),
                ..input()
            },
            AgentInput {
                max_tokens: Some(0),
                ..input()
            },
            AgentInput {
                max_tokens: Some(1_000_000),
                ..input()
            },
            AgentInput {
                rag_strategy: Some("oak".into()),
                ..input()
            },
            AgentInput {
                name: Some("   ".into()),
                ..input()
            },
            AgentInput {
                model: Some("".into()),
                ..input()
            },
            AgentInput {
                status: Some("paused".into()),
                ..input()
            },
            AgentInput {
                data_source_ids: Some(vec!["agent_x".into()]),
                ..input()
            },
            AgentInput {
                data_source_ids: Some(vec!["ds_a".into(), "ds_a".into()]),
                ..input()
            },
        ];
        for b in bad {
            let dbg = format!("{b:?}");
            assert!(
                Agent::create(org.clone(), b).is_err(),
                "{dbg} should be refused"
            );
        }
    }
}
