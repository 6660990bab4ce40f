//! The `slack.answer` job: asks the agent through the same pipeline as `/query` (recorded as
//! an interaction), and posts the answer where the question was asked. The message is saved
//! as the job's checkpoint before it is posted, so a retried post sends the same text and
//! does not ask (or record) the question again.

use crate::client::{PostError, SlackClient};
use crate::format;
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use twig_answer::{Answerer, Caller, QueryRequest};
use twig_core::job::Job;
use twig_core::slack::{AnswerJob, ReplyTo, ANSWER_JOB};
use twig_core::ErrorCode;
use twig_jobs::{JobContext, JobError, JobHandler};

/// Posted when a mention carries no question.
const EMPTY_QUESTION: &str =
    "Ask me something after the mention, e.g. _@Twig what is our refund policy?_";

/// Answers Slack questions and posts the answers.
pub struct AnswerHandler {
    answerer: Arc<Answerer>,
    client: SlackClient,
}

impl AnswerHandler {
    /// A handler asking `answerer` and posting with `client`.
    pub fn new(answerer: Arc<Answerer>, client: SlackClient) -> Self {
        Self { answerer, client }
    }

    /// The message for `q`: the answer with its sources, or why there is none.
    async fn compose(&self, job: &Job, q: &AnswerJob) -> Result<String, JobError> {
        if q.question.is_empty() {
            return Ok(EMPTY_QUESTION.to_owned());
        }
        let caller = Caller {
            org_id: job.org_id.clone(),
            key_id: None,
        };
        let req = QueryRequest {
            agent_id: Some(q.agent_id.to_string()),
            query: Some(q.question.clone()),
            ..QueryRequest::default()
        };
        match self.answerer.answer(caller, req).await {
            Ok(a) => Ok(format::message(&a, q.show_citations)),
            // What a person can fix is said in Slack; the rest is tried again.
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::InvalidRequest | ErrorCode::NotFound | ErrorCode::Forbidden
                ) =>
            {
                Ok(format::refusal(&e.public_message()))
            }
            Err(e) => Err(JobError::Retryable(format!("answering failed: {e:#}"))),
        }
    }

    async fn post(&self, reply: &ReplyTo, text: &str) -> Result<Option<String>, PostError> {
        match reply {
            ReplyTo::Message { channel, thread_ts } => self
                .client
                .post_message(channel, thread_ts.as_deref(), text)
                .await
                .map(Some),
            ReplyTo::ResponseUrl { url } => self.client.respond(url, text).await.map(|()| None),
        }
    }
}

fn outcome(result: &str) {
    metrics::counter!("twig_slack_answers_total", "outcome" => result.to_owned()).increment(1);
}

#[async_trait]
impl JobHandler for AnswerHandler {
    fn kind(&self) -> &'static str {
        ANSWER_JOB
    }

    async fn run(&self, job: Job, ctx: JobContext) -> Result<Value, JobError> {
        let q: AnswerJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("invalid slack.answer payload: {e}")))?;
        let text = match job.progress["message"].as_str() {
            Some(saved) => saved.to_owned(),
            None => {
                let text = self.compose(&job, &q).await?;
                if !ctx.checkpoint(&json!({ "message": text })).await {
                    return Err(JobError::Retryable(
                        "lost the job's lease before posting".into(),
                    ));
                }
                text
            }
        };
        match self.post(&q.reply, &text).await {
            Ok(ts) => {
                outcome("posted");
                Ok(json!({ "message": text, "posted": true, "ts": ts }))
            }
            Err(e) => {
                let why = e.to_string();
                Err(match e {
                    PostError::Permanent(_) => {
                        outcome("failed");
                        tracing::warn!(team = %q.team_id, error = %why, "Slack answer not posted");
                        JobError::Permanent(why)
                    }
                    PostError::Retryable(_) => {
                        outcome("retrying");
                        JobError::Retryable(why)
                    }
                    PostError::RetryAfter(_, after) => {
                        outcome("throttled");
                        JobError::RetryAfter(why, after)
                    }
                })
            }
        }
    }
}
