//! What Slack sends, and its acceptance: an Events API request (`url_verification`, or an
//! `event_callback` with `app_mention` or a direct message) or a `/twig` slash command is
//! read, matched to the organisation that connected the workspace, checked against its
//! allowed channels, and turned into a durable `slack.answer` job. Nothing slow happens
//! here: the HTTP handler must answer Slack within 3 seconds.

use serde::Deserialize;
use serde_json::json;
use twig_core::error::{Error, Result};
use twig_core::job::NewJob;
use twig_core::slack::{
    AnswerJob, ReceivedEvent, ReplyTo, SlackSettings, ANSWER_JOB, ANSWER_JOB_MAX_ATTEMPTS,
};
use twig_core::store::Store;
use twig_core::time::Timestamp;

/// Usage of the slash command, answered to `/twig help` and anything it does not know.
pub const USAGE: &str = "*Twig* answers from your organisation's knowledge, with its sources.\n\
• `/twig ask <question>`: the answer is posted in this conversation\n\
• Mention @Twig in a channel: the answer comes in the thread\n\
• Send Twig a direct message: it answers there\n\
• `/twig help`: this text";

/// How an Events API request was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAck {
    /// `url_verification`: answer with the challenge.
    Challenge(String),
    /// A question, now queued for an answer.
    Queued,
    /// An event taken before (a retry): nothing more to do.
    Duplicate,
    /// Not for the app to answer (why, for the log).
    Ignored(&'static str),
}

/// The immediate answer to a slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandReply {
    /// Shown only to the user who typed the command.
    Ephemeral(String),
    /// The command is shown in the conversation; the answer follows through `response_url`.
    InChannel,
}

impl CommandReply {
    /// The JSON body Slack expects.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::Ephemeral(text) => json!({"response_type": "ephemeral", "text": text}),
            Self::InChannel => json!({"response_type": "in_channel"}),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    team_id: Option<String>,
    event_id: Option<String>,
    event: Option<Event>,
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    user: Option<String>,
    text: Option<String>,
    channel: Option<String>,
    ts: Option<String>,
    thread_ts: Option<String>,
    channel_type: Option<String>,
    bot_id: Option<String>,
    subtype: Option<String>,
}

/// Slack's text with the leading mentions (`<@U…>`, the bot's own) removed and its three
/// escapes (`&amp;`, `&lt;`, `&gt;`) undone: the question as the user typed it.
pub fn question_of(text: &str) -> String {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("<@") {
        match after.find('>') {
            Some(end) => rest = after[end + 1..].trim_start(),
            None => break,
        }
    }
    rest.trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn job(settings: &SlackSettings, user: Option<String>, question: String, reply: ReplyTo) -> NewJob {
    let payload = AnswerJob {
        team_id: settings.team_id.clone(),
        user,
        question,
        agent_id: settings.default_agent_id.clone(),
        show_citations: settings.show_citations,
        reply,
    };
    let mut job = NewJob::now(
        settings.org_id.clone(),
        ANSWER_JOB,
        serde_json::to_value(payload).unwrap_or_default(),
    );
    job.max_attempts = ANSWER_JOB_MAX_ATTEMPTS;
    job
}

/// Takes a verified Events API request: answers the URL check, or queues the question of a
/// mention or direct message once per `event_id` (a retry is a no-op, also after a restart).
/// Bots (this app included), edits and other subtypes are never answered.
pub async fn take_event(store: &dyn Store, body: &[u8], now: Timestamp) -> Result<EventAck> {
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("Not a Slack Events API request: {e}")))?;
    match env.kind.as_str() {
        "url_verification" => {
            let challenge = env
                .challenge
                .ok_or_else(|| Error::invalid_field("challenge", "challenge is missing"))?;
            return Ok(EventAck::Challenge(challenge));
        }
        "event_callback" => {}
        _ => return Ok(EventAck::Ignored("not an event callback")),
    }
    let (Some(team), Some(event_id), Some(ev)) = (env.team_id, env.event_id, env.event) else {
        return Err(Error::invalid(
            "An event_callback needs team_id, event_id and event",
        ));
    };
    // The app's own answers arrive as events too: anything a bot wrote is left alone.
    if ev.bot_id.is_some() || ev.subtype.is_some() {
        return Ok(EventAck::Ignored("a bot message or a message subtype"));
    }
    let direct = ev.kind == "message" && ev.channel_type.as_deref() == Some("im");
    if ev.kind != "app_mention" && !direct {
        return Ok(EventAck::Ignored("neither a mention nor a direct message"));
    }
    let (Some(channel), Some(ts)) = (ev.channel, ev.ts) else {
        return Ok(EventAck::Ignored("an event without channel or ts"));
    };
    let Some(settings) = store.slack().slack_settings_for_team(&team).await? else {
        return Ok(EventAck::Ignored("a workspace no organisation connected"));
    };
    if !settings.allows(&channel) {
        return Ok(EventAck::Ignored("a channel outside allowed_channel_ids"));
    }
    // A mention is answered in its thread (a new one under the mention if it had none); a
    // direct message where it was written, which is its thread when it was in one.
    let thread_ts = match (direct, ev.thread_ts) {
        (_, Some(t)) => Some(t),
        (false, None) => Some(ts),
        (true, None) => None,
    };
    let question = question_of(ev.text.as_deref().unwrap_or_default());
    let job = job(
        &settings,
        ev.user,
        question,
        ReplyTo::Message { channel, thread_ts },
    );
    let received = ReceivedEvent {
        org_id: settings.org_id.clone(),
        team_id: team,
        event_id,
        received_at: now,
    };
    Ok(
        if store.slack().accept_slack_event(&received, &job).await? {
            EventAck::Queued
        } else {
            EventAck::Duplicate
        },
    )
}

/// Takes a verified `/twig` command (form-encoded): `ask <question>` is queued and answered
/// through the command's `response_url`; `help` and anything else get the usage, ephemeral.
pub async fn take_command(store: &dyn Store, body: &[u8], now: Timestamp) -> Result<CommandReply> {
    let mut team = None;
    let mut channel = None;
    let mut user = None;
    let mut text = String::new();
    let mut response_url = None;
    let mut trigger = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "team_id" => team = Some(v),
            "channel_id" => channel = Some(v),
            "user_id" => user = Some(v),
            "text" => text = v,
            "response_url" => response_url = Some(v),
            "trigger_id" => trigger = Some(v),
            _ => {}
        }
    }
    let (Some(team), Some(channel)) = (team, channel) else {
        return Err(Error::invalid(
            "A slash command needs team_id and channel_id",
        ));
    };
    let text = text.trim();
    let (verb, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let question = rest.trim();
    if !verb.eq_ignore_ascii_case("ask") || question.is_empty() {
        return Ok(CommandReply::Ephemeral(USAGE.to_owned()));
    }
    let Some(settings) = store.slack().slack_settings_for_team(&team).await? else {
        return Ok(CommandReply::Ephemeral(
            "This Slack workspace is not connected to Twig yet: an admin of your Twig \
             organisation connects it with PUT /api/v1/integrations/slack."
                .to_owned(),
        ));
    };
    if !settings.allows(&channel) {
        return Ok(CommandReply::Ephemeral(
            "Twig does not answer in this conversation (it is not among the allowed channels)."
                .to_owned(),
        ));
    }
    // Slack documents `response_url` as the way to answer a command later (up to 5 times in
    // 30 minutes); unlike chat.postMessage it also works where the bot is not a member
    // (other people's DMs, channels it was never invited to).
    let Some(url) = response_url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    else {
        return Err(Error::invalid_field(
            "response_url",
            "A slash command needs an http(s) response_url",
        ));
    };
    let job = job(
        &settings,
        user,
        question.to_owned(),
        ReplyTo::ResponseUrl { url },
    );
    // Slack does not retry commands, but a trigger id is unique per invocation: use it.
    let event_id = format!(
        "cmd:{}",
        trigger.unwrap_or_else(|| twig_core::id::random_base62(20))
    );
    let received = ReceivedEvent {
        org_id: settings.org_id.clone(),
        team_id: team,
        event_id,
        received_at: now,
    };
    store.slack().accept_slack_event(&received, &job).await?;
    Ok(CommandReply::InChannel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_and_escapes_leave_the_question() {
        assert_eq!(
            question_of("<@U0LAN0Z89> is it  <b> &amp; &lt;c&gt;?"),
            "is it  <b> & <c>?"
        );
        assert_eq!(question_of("  <@U1> <@U2>   what now "), "what now");
        assert_eq!(
            question_of("ask <@U1> about it"),
            "ask <@U1> about it",
            "only leading mentions go"
        );
        assert_eq!(question_of("<@U1>"), "");
    }

    #[test]
    fn command_replies_are_slacks_shape() {
        assert_eq!(
            CommandReply::InChannel.body(),
            json!({"response_type": "in_channel"})
        );
        assert_eq!(
            CommandReply::Ephemeral("x".into()).body(),
            json!({"response_type": "ephemeral", "text": "x"})
        );
    }
}
