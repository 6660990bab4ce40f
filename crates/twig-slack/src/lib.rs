//! The Slack app, an answer surface (not the Slack connector, which reads Slack into the
//! index): Slack's request signatures (`signature`), what an event or a slash command asks
//! for and its durable acceptance (`inbound`), the per-org settings (`service`), Slack's Web
//! API for posting (`client`), the message an answer becomes (`format`), and the
//! `slack.answer` job that asks the agent and posts in the thread (`answer`).

pub mod answer;
pub mod client;
pub mod format;
pub mod inbound;
pub mod service;
pub mod signature;

pub use answer::AnswerHandler;
pub use client::SlackClient;
pub use signature::{SignatureError, Verifier};
