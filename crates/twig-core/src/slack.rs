//! The Slack app (an answer surface): which Slack workspace belongs to which organisation,
//! the agent that answers there, where it may answer, and the durable record of the events
//! already taken (so a retried event is not answered twice).

use crate::error::Error;
use crate::id::{AgentId, OrgId};
use crate::time::{self, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Job kind that answers one Slack question (payload: [`AnswerJob`]).
pub const ANSWER_JOB: &str = "slack.answer";
/// Claims an answer job may take (answering and posting, retried on throttling and outages).
pub const ANSWER_JOB_MAX_ATTEMPTS: u32 = 6;
/// Most channels an allow-list may hold.
pub const MAX_ALLOWED_CHANNELS: usize = 500;
/// How long an event id is remembered; Slack retries an event for a few minutes at most.
pub const EVENT_MEMORY: chrono::Duration = chrono::Duration::hours(24);

/// JSON Schema pattern of a team (workspace) id, exactly what [`is_team_id`] accepts.
pub const TEAM_ID_PATTERN: &str = "^[TE][A-Z0-9]{8,20}$";
/// JSON Schema pattern of a conversation id, exactly what [`is_channel_id`] accepts.
pub const CHANNEL_ID_PATTERN: &str = "^[CGD][A-Z0-9]{8,20}$";

fn slack_id(s: &str, first: &[u8]) -> bool {
    let b = s.as_bytes();
    (9..=21).contains(&b.len())
        && first.contains(&b[0])
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Slack workspace id (`T…`, or `E…` for an Enterprise Grid organisation).
pub fn is_team_id(s: &str) -> bool {
    slack_id(s, b"TE")
}

/// A Slack conversation id: public channel `C…`, private channel `G…` or direct message `D…`.
pub fn is_channel_id(s: &str) -> bool {
    slack_id(s, b"CGD")
}

/// How an organisation's Slack workspace is answered.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SlackSettings {
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// The Slack workspace (`team_id` of its events) answered for this organisation.
    #[schema(example = "T0123ABCDE")]
    pub team_id: String,
    /// The agent that answers mentions, direct messages and `/twig ask`.
    pub default_agent_id: AgentId,
    /// Conversations answered in (`C…`, `G…`, `D…`); empty: every conversation.
    pub allowed_channel_ids: Vec<String>,
    /// Whether answers list their sources as links.
    pub show_citations: bool,
    /// When the workspace was connected.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl SlackSettings {
    /// Whether the app may answer in `channel`.
    pub fn allows(&self, channel: &str) -> bool {
        self.allowed_channel_ids.is_empty() || self.allowed_channel_ids.iter().any(|c| c == channel)
    }
}

/// Body of `PUT /integrations/slack`: the whole settings (absent optional fields take their
/// defaults).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackSettingsInput {
    /// The Slack workspace id (`T…`), as in `team_id` of its events.
    // Required (the parser names a missing one); Option only so that message is ours.
    #[schema(value_type = String, required = true, pattern = "^[TE][A-Z0-9]{8,20}$", example = "T0123ABCDE")]
    pub team_id: Option<String>,
    /// The agent (`agent_…`) of this organisation that answers.
    #[schema(value_type = AgentId, required = true)]
    pub default_agent_id: Option<String>,
    /// Conversation ids to answer in; empty or absent: every conversation.
    #[schema(max_items = 500)]
    pub allowed_channel_ids: Option<Vec<String>>,
    /// List the sources under each answer (default true).
    pub show_citations: Option<bool>,
}

/// Validated settings fields, before the agent is checked to exist.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSettings {
    /// Workspace id.
    pub team_id: String,
    /// Answering agent.
    pub default_agent_id: AgentId,
    /// Allow-list, duplicates removed, order kept.
    pub allowed_channel_ids: Vec<String>,
    /// Whether answers cite.
    pub show_citations: bool,
}

impl SlackSettingsInput {
    /// Checks every field, naming the first that is wrong.
    pub fn parse(self) -> Result<ParsedSettings, Error> {
        let team_id = self
            .team_id
            .ok_or_else(|| Error::invalid_field("team_id", "team_id is required"))?;
        if !is_team_id(&team_id) {
            return Err(Error::invalid_field(
                "team_id",
                format!("team_id {team_id:?} is not a Slack workspace id (T followed by 8 to 20 capital letters or digits)"),
            ));
        }
        let agent = self.default_agent_id.ok_or_else(|| {
            Error::invalid_field("default_agent_id", "default_agent_id is required")
        })?;
        let default_agent_id = AgentId::parse(&agent)
            .map_err(|e| Error::invalid_field("default_agent_id", e.to_string()))?;
        let channels = self.allowed_channel_ids.unwrap_or_default();
        if channels.len() > MAX_ALLOWED_CHANNELS {
            return Err(Error::invalid_field(
                "allowed_channel_ids",
                format!("allowed_channel_ids holds at most {MAX_ALLOWED_CHANNELS} channels"),
            ));
        }
        let mut allowed_channel_ids: Vec<String> = Vec::with_capacity(channels.len());
        for (i, c) in channels.into_iter().enumerate() {
            if !is_channel_id(&c) {
                return Err(Error::invalid_field(
                    &format!("allowed_channel_ids[{i}]"),
                    format!("{c:?} is not a Slack conversation id (C, G or D followed by 8 to 20 capital letters or digits)"),
                ));
            }
            if !allowed_channel_ids.contains(&c) {
                allowed_channel_ids.push(c);
            }
        }
        Ok(ParsedSettings {
            team_id,
            default_agent_id,
            allowed_channel_ids,
            show_citations: self.show_citations.unwrap_or(true),
        })
    }
}

/// An event taken from Slack, remembered by its id within its workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// Organisation the workspace belongs to.
    pub org_id: OrgId,
    /// Workspace id.
    pub team_id: String,
    /// Slack's `event_id` (the same on every retry), or a command's `trigger_id`.
    pub event_id: String,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// Where an answer goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum ReplyTo {
    /// `chat.postMessage` to the conversation, in the thread when `thread_ts` is set.
    Message {
        /// Conversation id.
        channel: String,
        /// Parent message of the thread.
        thread_ts: Option<String>,
    },
    /// A slash command's `response_url`.
    ResponseUrl {
        /// The URL Slack gave with the command.
        url: String,
    },
}

/// Payload of a [`ANSWER_JOB`] job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerJob {
    /// Workspace id.
    pub team_id: String,
    /// The asking user (`U…`).
    pub user: Option<String>,
    /// The question, mention markup removed.
    pub question: String,
    /// The agent asked.
    pub agent_id: AgentId,
    /// Whether the answer lists its sources.
    pub show_citations: bool,
    /// Where the answer goes.
    pub reply: ReplyTo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_ids() {
        assert!(is_team_id("T0123ABCDE") && is_team_id("E12345678"));
        assert!(!is_team_id("t0123abcde") && !is_team_id("T1") && !is_team_id("C0123ABCDE"));
        assert!(is_channel_id("C00000101") && is_channel_id("D0123ABCDEF"));
        assert!(!is_channel_id("general") && !is_channel_id("C0123abc99"));
        assert!(!is_channel_id(&format!("C{}", "1".repeat(21))));
    }

    #[test]
    fn input_names_the_wrong_field() {
        let ok = SlackSettingsInput {
            team_id: Some("T0123ABCDE".into()),
            default_agent_id: Some("agent_abc".into()),
            allowed_channel_ids: Some(vec!["C0123ABCDE".into(), "C0123ABCDE".into()]),
            show_citations: None,
        };
        let p = ok.clone().parse().unwrap();
        assert_eq!(p.allowed_channel_ids, vec!["C0123ABCDE"]);
        assert!(p.show_citations);
        let field = |i: SlackSettingsInput| match i.parse().unwrap_err() {
            Error::InvalidRequest { details, .. } => details["field"].as_str().unwrap().to_owned(),
            e => panic!("{e:?}"),
        };
        let mut bad = ok.clone();
        bad.team_id = Some("acme".into());
        assert_eq!(field(bad), "team_id");
        let mut bad = ok.clone();
        bad.default_agent_id = None;
        assert_eq!(field(bad), "default_agent_id");
        let mut bad = ok.clone();
        bad.default_agent_id = Some("ds_1".into());
        assert_eq!(field(bad), "default_agent_id");
        let mut bad = ok;
        bad.allowed_channel_ids = Some(vec!["C0123ABCDE".into(), "#general".into()]);
        assert_eq!(field(bad), "allowed_channel_ids[1]");
    }
}
