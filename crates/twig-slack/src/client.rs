//! Slack's Web API for posting answers: `chat.postMessage` (bot token, JSON body) and a slash
//! command's `response_url`. Slack answers HTTP 200 with `{"ok": false, "error": …}` for most
//! failures; which of them are worth another attempt is decided here.

use serde_json::{json, Value};
use std::time::Duration;

/// Wait before retrying a throttled call whose answer named no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Why a post did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// Will fail again (bad token, unknown or archived channel, expired response URL…).
    #[error("Slack refused the message: {0}")]
    Permanent(String),
    /// Worth another attempt (Slack's own failures, timeouts, connection errors).
    #[error("posting to Slack failed: {0}")]
    Retryable(String),
    /// Throttled: another attempt after the delay Slack asked for.
    #[error("Slack throttled the post: {0}")]
    RetryAfter(String, Duration),
}

/// Posts to one Slack workspace's Web API with the bot token.
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("base_url", &self.base_url)
            .field("token", &"********")
            .finish()
    }
}

/// Slack's `error` codes that another attempt can fix; every other one is permanent
/// (`invalid_auth`, `not_authed`, `channel_not_found`, `not_in_channel`, `is_archived`, …).
fn retryable_code(code: &str) -> bool {
    matches!(
        code,
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout"
    )
}

fn retry_after(resp: &reqwest::Response) -> Duration {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(twig_core::time::parse_retry_after)
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

fn transport(e: reqwest::Error) -> PostError {
    if e.is_timeout() {
        PostError::Retryable("timed out".into())
    } else {
        PostError::Retryable(format!("request failed: {e}"))
    }
}

impl SlackClient {
    /// A client for the Web API at `base_url` (e.g. `https://slack.com/api`).
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Twig-Slack/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// `chat.postMessage`: `text` (mrkdwn) to `channel`, in the thread of `thread_ts` when
    /// given; answers the posted message's `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, PostError> {
        let mut body = json!({
            "channel": channel,
            "text": text,
            // Citations are links; their previews would bury the answer.
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(t) = thread_ts {
            body["thread_ts"] = json!(t);
        }
        let resp = self
            .http
            .post(format!("{}/chat.postMessage", self.base_url))
            .bearer_auth(&self.token)
            // Slack warns when a JSON body comes without its charset.
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let after = retry_after(&resp);
            return Err(PostError::RetryAfter("HTTP 429".into(), after));
        }
        if status.is_server_error() {
            return Err(PostError::Retryable(format!("HTTP {}", status.as_u16())));
        }
        if !status.is_success() {
            return Err(PostError::Permanent(format!("HTTP {}", status.as_u16())));
        }
        let after = retry_after(&resp);
        let answer: Value = resp
            .json()
            .await
            .map_err(|e| PostError::Retryable(format!("unreadable answer: {e}")))?;
        if answer["ok"] == true {
            return Ok(answer["ts"].as_str().unwrap_or_default().to_owned());
        }
        let code = answer["error"]
            .as_str()
            .unwrap_or("unknown_error")
            .to_owned();
        Err(match code.as_str() {
            "ratelimited" => PostError::RetryAfter(code, after),
            c if retryable_code(c) => PostError::Retryable(code),
            _ => PostError::Permanent(code),
        })
    }

    /// Answers a slash command through its `response_url`, visible to the conversation.
    /// The bot token is not sent: the URL itself is the credential.
    pub async fn respond(&self, response_url: &str, text: &str) -> Result<(), PostError> {
        let body = json!({"response_type": "in_channel", "text": text, "replace_original": false});
        let resp = self
            .http
            .post(response_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body.to_string())
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let after = retry_after(&resp);
            return Err(PostError::RetryAfter("HTTP 429".into(), after));
        }
        let detail = resp.text().await.unwrap_or_default();
        let detail: String = detail.chars().take(200).collect();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() {
            Err(PostError::Retryable(format!(
                "HTTP {} {detail}",
                status.as_u16()
            )))
        } else {
            // 404 `expired_url` / `used_url`: the command's window is over.
            Err(PostError::Permanent(format!(
                "HTTP {} {detail}",
                status.as_u16()
            )))
        }
    }
}
