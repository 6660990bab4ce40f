//! The call loop shared by every provider: build the request (the wire format's
//! job), send it under the call policy, classify failures, retry, and turn a
//! server-sent event stream into `ChatEvent`s.

use crate::policy::{retry_after, Breaker, CallPolicy, Failure, Permit};
use async_trait::async_trait;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use twig_core::llm::{ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, LlmError};

/// What one server-sent event meant.
pub(crate) enum Step {
    /// Zero or more events for the caller.
    Events(Vec<ChatEvent>),
    /// The answer is complete (OpenAI's `[DONE]`, Anthropic's `message_stop`).
    Done(Vec<ChatEvent>),
}

/// A provider's wire format: how to ask and how to read the answers.
pub(crate) trait WireFormat: Send + Sync + 'static {
    /// Per-stream parsing state (e.g. usage gathered across events).
    type State: Default + Send + 'static;
    /// The HTTP request for `req`.
    fn request(
        &self,
        http: &reqwest::Client,
        req: &ChatRequest,
        stream: bool,
    ) -> reqwest::RequestBuilder;
    /// A whole (non-streamed) answer from its JSON body.
    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, String>;
    /// The message of an error body, or a trimmed copy of the body.
    fn error_message(&self, body: &str) -> String;
    /// One server-sent event. `Err` carries an error event's failure.
    fn parse_event(&self, state: &mut Self::State, event: &Event) -> Result<Step, Failure>;
}

/// A chat model reached over HTTP with one wire format and one call policy.
pub(crate) struct HttpChatModel<W> {
    name: String,
    wire: Arc<W>,
    http: reqwest::Client,
    policy: CallPolicy,
    breaker: Arc<Breaker>,
    slots: Arc<Semaphore>,
}

impl<W> std::fmt::Debug for HttpChatModel<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The wire format holds the key: never print it.
        f.debug_struct("HttpChatModel")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<W: WireFormat> HttpChatModel<W> {
    pub(crate) fn new(name: &str, wire: W, policy: CallPolicy) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .build()
            .map_err(|e| LlmError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            breaker: Breaker::new(name, policy.breaker_failures, policy.breaker_cooldown),
            slots: Arc::new(Semaphore::new(policy.max_in_flight.max(1))),
            wire: Arc::new(wire),
            http,
            policy,
        })
    }

    /// A slot for one call, or `Unavailable` when `max_in_flight` are running.
    fn slot(&self) -> Result<OwnedSemaphorePermit, LlmError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            LlmError::Unavailable(format!(
                "provider `{}` already has {} calls in flight",
                self.name, self.policy.max_in_flight
            ))
        })
    }

    /// Runs `attempt` under the breaker, retrying what is worth retrying.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, LlmError>
    where
        F: FnMut(Permit) -> Fut,
        Fut: std::future::Future<Output = Result<T, (Failure, Permit)>>,
    {
        let mut retry = 0;
        loop {
            let permit = self.breaker.acquire()?;
            let (failure, permit) = match attempt(permit).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            permit.failure(&failure);
            if !failure.retry || retry >= self.policy.max_retries {
                return Err(failure.error);
            }
            let wait = match failure.retry_after {
                Some(d) if d > self.policy.retry_after_max => return Err(failure.error),
                Some(d) => d,
                None => self.policy.backoff(retry),
            };
            tracing::debug!(provider = %self.name, error = %failure.error, ?wait, "retrying model call");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    /// Sends the request; a non-success status becomes a classified failure.
    async fn send(&self, req: &ChatRequest, stream: bool) -> Result<reqwest::Response, Failure> {
        let resp = self
            .wire
            .request(&self.http, req, stream)
            .send()
            .await
            .map_err(|e| Failure::transport(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let wait = retry_after(resp.headers());
        let body = error_body(resp).await;
        Err(Failure::from_status(
            status.as_u16(),
            self.wire.error_message(&body),
            wait,
        ))
    }

    async fn complete_once(&self, req: &ChatRequest) -> Result<ChatResponse, Failure> {
        let resp = self.send(req, false).await?;
        let body = resp.bytes().await.map_err(|e| Failure::transport(&e))?;
        self.wire
            .parse_response(&body)
            .map_err(|m| Failure::protocol(m, false))
    }

    /// Opens the stream and reads up to the first text delta (or the end).
    async fn open_stream(&self, req: &ChatRequest) -> Result<Opened<W::State>, Failure> {
        let resp = self.send(req, true).await?;
        let mut events: EventStream = Box::pin(resp.bytes_stream().eventsource());
        let mut state = W::State::default();
        let mut pending = VecDeque::new();
        loop {
            match next_step(&*self.wire, &mut state, &mut events).await? {
                Step::Events(evs) => {
                    let delta = evs.iter().any(|e| matches!(e, ChatEvent::Delta(_)));
                    pending.extend(evs);
                    if delta {
                        return Ok(Opened {
                            events,
                            state,
                            pending,
                            done: false,
                        });
                    }
                }
                Step::Done(evs) => {
                    pending.extend(evs);
                    return Ok(Opened {
                        events,
                        state,
                        pending,
                        done: true,
                    });
                }
            }
        }
    }
}

/// The start of an error body: enough for its message, bounded so that a proxy's
/// endless error page cannot hold the call.
async fn error_body(mut resp: reqwest::Response) -> String {
    const LIMIT: usize = 16 * 1024;
    let mut buf = Vec::new();
    while buf.len() < LIMIT {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(LIMIT);
    String::from_utf8_lossy(&buf).into_owned()
}

type EventStream =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send + 'static>>;

/// A stream that has delivered its first delta.
struct Opened<S> {
    events: EventStream,
    state: S,
    pending: VecDeque<ChatEvent>,
    done: bool,
}

/// Reads and parses the next event; the end of the body before the final event is
/// an error (the server went away midway).
async fn next_step<W: WireFormat>(
    wire: &W,
    state: &mut W::State,
    events: &mut EventStream,
) -> Result<Step, Failure> {
    match events.next().await {
        None => Err(Failure::protocol(
            "the stream ended before the answer was complete".into(),
            true,
        )),
        Some(Err(EventStreamError::Transport(e))) => Err(Failure::transport(&e)),
        Some(Err(e)) => Err(Failure::protocol(
            format!("malformed event stream: {e}"),
            false,
        )),
        Some(Ok(ev)) => wire.parse_event(state, &ev),
    }
}

#[async_trait]
impl<W: WireFormat> ChatModel for HttpChatModel<W> {
    fn provider(&self) -> &str {
        &self.name
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        let limit = self.policy.request_timeout;
        let _slot = self.slot()?;
        let span = chat_span(&self.name, &req.model, false);
        let call = self.with_retries(|permit| {
            let req = &req;
            async move {
                match tokio::time::timeout(limit, self.complete_once(req)).await {
                    Ok(Ok(r)) => {
                        permit.success();
                        Ok(r)
                    }
                    Ok(Err(f)) => Err((f, permit)),
                    Err(_) => Err((Failure::timeout(), permit)),
                }
            }
        });
        tracing::Instrument::instrument(call, span).await
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, LlmError> {
        let limit = self.policy.first_byte_timeout;
        let slot = self.slot()?;
        // Retries happen only here, before the first delta reached the caller.
        let span = chat_span(&self.name, &req.model, true);
        let opening = self.with_retries(|permit| {
            let req = &req;
            async move {
                match tokio::time::timeout(limit, self.open_stream(req)).await {
                    Ok(Ok(o)) => Ok((o, permit)),
                    Ok(Err(f)) => Err((f, permit)),
                    Err(_) => Err((Failure::timeout(), permit)),
                }
            }
        });
        let (opened, permit) = tracing::Instrument::instrument(opening, span).await?;
        let tail = Tail {
            wire: self.wire.clone(),
            idle: self.policy.idle_timeout,
            opened,
            permit: Some(permit),
            _slot: slot,
        };
        if tail.opened.done {
            if let Some(p) = tail.permit {
                p.success();
            }
            return Ok(Box::pin(futures::stream::iter(
                tail.opened.pending.into_iter().map(Ok),
            )));
        }
        Ok(Box::pin(futures::stream::unfold(tail, Tail::next)))
    }
}

/// The span of one chat call (for a stream, until its first delta), named as OpenTelemetry's
/// GenAI conventions name them.
fn chat_span(provider: &str, model: &str, stream: bool) -> tracing::Span {
    tracing::info_span!(
        "chat",
        otel.name = format!("chat {model}"),
        gen_ai.operation.name = "chat",
        gen_ai.system = provider,
        gen_ai.request.model = model,
        stream,
    )
}

/// The rest of a stream after its first delta. Dropping it drops the response
/// body, which closes the connection and so cancels the provider's generation.
struct Tail<W: WireFormat> {
    wire: Arc<W>,
    idle: Duration,
    opened: Opened<W::State>,
    permit: Option<Permit>,
    /// Held while the stream lives.
    _slot: OwnedSemaphorePermit,
}

impl<W: WireFormat> Tail<W> {
    async fn next(mut self) -> Option<(Result<ChatEvent, LlmError>, Self)> {
        loop {
            if let Some(ev) = self.opened.pending.pop_front() {
                return Some((Ok(ev), self));
            }
            if self.opened.done {
                return None;
            }
            let step = tokio::time::timeout(
                self.idle,
                next_step(&*self.wire, &mut self.opened.state, &mut self.opened.events),
            )
            .await
            .unwrap_or_else(|_| Err(Failure::timeout()));
            match step {
                Ok(Step::Events(evs)) => self.opened.pending.extend(evs),
                Ok(Step::Done(evs)) => {
                    self.opened.pending.extend(evs);
                    self.opened.done = true;
                    if let Some(p) = self.permit.take() {
                        p.success();
                    }
                }
                Err(f) => {
                    // Midway: no retry (the caller has text already); end after the error.
                    if let Some(p) = self.permit.take() {
                        p.failure(&f);
                    }
                    self.opened.pending.clear();
                    self.opened.done = true;
                    return Some((Err(f.error), self));
                }
            }
        }
    }
}
