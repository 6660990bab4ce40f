//! The answering pipeline: validate, load agent and session, retrieve by
//! strategy, ground, generate (streamed), record the interaction.

use crate::strategy::{self, Llm, LlmClock};
use crate::{extractive, text, AnswerConfig, AnswerEvent, Caller, QueryRequest};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::Instrument as _;
use twig_core::agent::{Agent, AgentStatus, RagStrategy, MAX_MAX_TOKENS};
use twig_core::id::{AgentId, InteractionId, SessionId};
use twig_core::interaction::{
    Answer, AnswerMetadata, Interaction, InteractionStatus, SessionAppend, Source, Turn, TurnRole,
};
use twig_core::llm::{
    ChatEvent, ChatMessage, ChatRequest, ModelRegistry, ModelRoute, Reranker, Role, Usage,
};
use twig_core::retrieval::{Embedder, Retriever, SearchHit, SearchMode, SearchRequest};
use twig_core::store::{Store, StoreError};
use twig_core::{time, Error};

/// Longest query accepted, in bytes (the search engine's limit).
pub const MAX_QUERY_BYTES: usize = 8192;

/// Answers queries; one per deployment, shared by every request.
pub struct Answerer {
    store: Arc<dyn Store>,
    retriever: Arc<dyn Retriever>,
    models: Arc<dyn ModelRegistry>,
    reranker: Option<Arc<dyn Reranker>>,
    embedder: Option<Arc<dyn Embedder>>,
    config: AnswerConfig,
}

/// Figures of one answer that benchmarks want beyond the metadata.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// Time spent waiting on chat models (rewrite, expansion, rerank, generation, checks).
    pub llm: Duration,
    /// Whole pipeline.
    pub total: Duration,
}

/// Everything decided before generation starts.
struct Prepared {
    started: Instant,
    caller: Caller,
    agent: Agent,
    query: String,
    question: String,
    session_id: SessionId,
    /// Created by this answer (only once it completes).
    new_session: bool,
    history: Vec<Turn>,
    sources: Vec<Source>,
    llm: Option<Llm>,
    temperature: f64,
    max_tokens: u32,
    reranker: Option<String>,
    clock: LlmClock,
}

impl Answerer {
    /// A pipeline over these ports; `embedder` counts extractive tokens (approximated without one).
    pub fn new(
        store: Arc<dyn Store>,
        retriever: Arc<dyn Retriever>,
        models: Arc<dyn ModelRegistry>,
        reranker: Option<Arc<dyn Reranker>>,
        embedder: Option<Arc<dyn Embedder>>,
        config: AnswerConfig,
    ) -> Self {
        Self {
            store,
            retriever,
            models,
            reranker,
            embedder,
            config,
        }
    }

    /// Settings in effect.
    pub fn config(&self) -> &AnswerConfig {
        &self.config
    }

    /// Starts answering: request errors (validation, unknown agent or session, inactive
    /// agent, unserved model) come back here; then events arrive on the receiver: `Sources`
    /// first, `Token`s, and `Done` or `Error`. Dropping the receiver cancels generation.
    pub async fn start(
        self: &Arc<Self>,
        caller: Caller,
        req: QueryRequest,
    ) -> Result<mpsc::Receiver<AnswerEvent>, Error> {
        self.start_with_history(caller, req, Vec::new()).await
    }

    /// As [`Answerer::start`], with earlier turns the caller supplies (an OpenAI-style message
    /// list) used as the history when the request names no session; only the new question and
    /// answer are stored, in a new session.
    pub async fn start_with_history(
        self: &Arc<Self>,
        caller: Caller,
        req: QueryRequest,
        supplied: Vec<Turn>,
    ) -> Result<mpsc::Receiver<AnswerEvent>, Error> {
        let started = Instant::now();
        let (agent, query, session, temperature, max_tokens) = self.validate(&caller, req).await?;
        let llm = match self.models.route(&agent.model) {
            Some(ModelRoute::Chat { model, upstream }) => Some(Llm { model, upstream }),
            Some(ModelRoute::Extractive) => None,
            None => return Err(self.unserved(&agent.model)),
        };
        let continued = session.is_some();
        let (session_id, history) = match session {
            Some(id) => {
                let turns = self
                    .store
                    .interactions()
                    .session_turns(&caller.org_id, &id, self.config.history_turns as u32)
                    .await?;
                (id, turns)
            }
            None => {
                let keep = self.config.history_turns;
                let skip = supplied.len().saturating_sub(keep);
                (
                    SessionId::generate(),
                    supplied.into_iter().skip(skip).collect(),
                )
            }
        };
        let new_session = !continued;
        let (tx, rx) = mpsc::channel(64);
        let mut p = Prepared {
            new_session,
            started,
            caller,
            question: query.clone(),
            query,
            agent,
            session_id,
            history,
            sources: Vec::new(),
            llm,
            temperature,
            max_tokens,
            reranker: None,
            clock: LlmClock::default(),
        };
        let this = self.clone();
        // A child of the request's span, though it runs on its own task.
        let span = tracing::info_span!(
            "answer",
            agent_id = %p.agent.id,
            rag_strategy = p.agent.rag_strategy.as_str(),
        );
        tokio::spawn(
            async move {
                match this.retrieve(&mut p).await {
                    Ok(()) => this.generate(p, tx).await,
                    Err(e) => this.fail(&p, String::new(), e, &tx).await,
                }
            }
            .instrument(span),
        );
        Ok(rx)
    }

    /// Answers in one piece (the non-streamed API).
    pub async fn answer(
        self: &Arc<Self>,
        caller: Caller,
        req: QueryRequest,
    ) -> Result<Answer, Error> {
        let rx = self.start(caller, req).await?;
        Self::collect(rx).await
    }

    /// Collects a started answer's events into one [`Answer`] (the first error ends it).
    pub async fn collect(mut rx: mpsc::Receiver<AnswerEvent>) -> Result<Answer, Error> {
        let mut response = String::new();
        let mut sources = Vec::new();
        while let Some(ev) = rx.recv().await {
            match ev {
                AnswerEvent::Sources(s) => sources = s,
                AnswerEvent::Token(t) => response.push_str(&t),
                AnswerEvent::Done(metadata, _) => {
                    return Ok(Answer {
                        response,
                        sources,
                        metadata: *metadata,
                    })
                }
                AnswerEvent::Error(e) => return Err(e),
            }
        }
        Err(Error::Internal(anyhow::anyhow!(
            "the answer task ended without an answer"
        )))
    }

    fn unserved(&self, model: &str) -> Error {
        Error::invalid_field(
            "model",
            format!(
                "The agent's model {model:?} has no configured provider; configured models: {}",
                self.models.models().join(", ")
            ),
        )
    }

    async fn validate(
        &self,
        caller: &Caller,
        req: QueryRequest,
    ) -> Result<(Agent, String, Option<SessionId>, f64, u32), Error> {
        let agent_id = req
            .agent_id
            .ok_or_else(|| Error::invalid_field("agent_id", "agent_id is required"))?;
        let query = req
            .query
            .ok_or_else(|| Error::invalid_field("query", "query is required"))?;
        let query = query.trim().to_owned();
        if query.is_empty() {
            return Err(Error::invalid_field("query", "query must not be empty"));
        }
        if query.len() > MAX_QUERY_BYTES {
            return Err(Error::invalid_field(
                "query",
                format!("query must be at most {MAX_QUERY_BYTES} bytes"),
            ));
        }
        let agent_id = AgentId::parse(&agent_id)
            .map_err(|e| Error::invalid_field("agent_id", e.to_string()))?;
        let session_id = req
            .session_id
            .map(|s| {
                SessionId::parse(&s).map_err(|e| Error::invalid_field("session_id", e.to_string()))
            })
            .transpose()?;
        if let Some(t) = req.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(Error::invalid_field(
                    "temperature",
                    format!("temperature must be between 0 and 2, got {t}"),
                ));
            }
        }
        if let Some(n) = req.max_tokens {
            if !(1..=i64::from(MAX_MAX_TOKENS)).contains(&n) {
                return Err(Error::invalid_field(
                    "max_tokens",
                    format!("max_tokens must be between 1 and {MAX_MAX_TOKENS}, got {n}"),
                ));
            }
        }
        let agent = self
            .store
            .get_agent(&caller.org_id, &agent_id)
            .await?
            .ok_or_else(|| Error::not_found("Agent", agent_id.as_str()))?;
        if agent.status != AgentStatus::Active {
            let mut details = serde_json::Map::new();
            details.insert("agent_id".into(), agent.id.as_str().into());
            details.insert("status".into(), agent.status.as_str().into());
            return Err(Error::InvalidRequest {
                message: format!(
                    "Agent {} is inactive; set its status to active to query it",
                    agent.id
                ),
                details,
            });
        }
        if let Some(id) = &session_id {
            let found = self
                .store
                .interactions()
                .get_session(&caller.org_id, id, time::now())
                .await?;
            // A session of another agent is as unknown as one of another org.
            if found.is_none_or(|s| s.agent_id != agent.id) {
                return Err(Error::not_found("Session", id.as_str()));
            }
        }
        let temperature = req.temperature.unwrap_or(agent.temperature);
        let max_tokens = req.max_tokens.map_or(agent.max_tokens, |n| n as u32);
        Ok((agent, query, session_id, temperature, max_tokens))
    }

    fn search(&self, p: &Prepared, query: &str, top_k: usize) -> SearchRequest {
        SearchRequest {
            org_id: p.caller.org_id.clone(),
            query: query.to_owned(),
            top_k,
            similarity_threshold: Some(self.config.similarity_threshold),
            data_source_ids: Some(p.agent.data_source_ids.clone()),
            mode: SearchMode::Hybrid,
            want_query_embedding: false,
        }
    }

    /// Runs the strategy's retrieval and fills `p.question` and `p.sources`.
    async fn retrieve(&self, p: &mut Prepared) -> Result<(), Error> {
        let strategy = p.agent.rag_strategy;
        if strategy != RagStrategy::Redwood {
            p.question = match &p.llm {
                Some(llm) => strategy::rewrite_llm(llm, &p.query, &p.history, &mut p.clock).await,
                None => strategy::rewrite_offline(&p.query, &p.history),
            };
        }
        let hits: Vec<SearchHit> = match strategy {
            RagStrategy::Redwood | RagStrategy::Cedar => {
                let req = self.search(p, &p.question, self.config.top_k);
                self.retriever.search(req).await?.hits
            }
            RagStrategy::Cypress => {
                let queries = match &p.llm {
                    Some(llm) => {
                        strategy::expand_llm(
                            llm,
                            &p.question,
                            self.config.cypress_queries,
                            &mut p.clock,
                        )
                        .await
                    }
                    None => strategy::expand_offline(&p.question, self.config.cypress_queries),
                };
                let mut lists = Vec::with_capacity(queries.len());
                for q in &queries {
                    let req = self.search(p, q, self.config.cypress_candidates);
                    lists.push(self.retriever.search(req).await?.hits);
                }
                let fused = strategy::fuse(lists);
                let (ranked, by) = self.rerank(p, fused).await?;
                p.reranker = Some(by);
                ranked.into_iter().take(self.config.cypress_top).collect()
            }
        };
        p.sources = hits
            .into_iter()
            .map(|h| Source {
                chunk_id: h.chunk_id,
                document_title: h.document_title,
                document_url: h.document_url,
                similarity_score: h.similarity_score,
                chunk_text: h.text,
            })
            .collect();
        Ok(())
    }

    /// Reranks fused candidates; says what ranked them.
    async fn rerank(
        &self,
        p: &mut Prepared,
        hits: Vec<SearchHit>,
    ) -> Result<(Vec<SearchHit>, String), Error> {
        if hits.len() <= 1 {
            return Ok((hits, "none".to_owned()));
        }
        if let Some(r) = &self.reranker {
            let r = r.clone();
            let question = p.question.clone();
            let texts: Vec<String> = hits.iter().map(|h| h.text.clone()).collect();
            let model = r.model_id().to_owned();
            // Cross-encoders are CPU-bound: off the async runtime.
            let scores = tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                r.score(&question, &refs)
            })
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("rerank task failed: {e}")))?
            .map_err(|e| Error::Internal(e.context("reranking failed")))?;
            let mut scored: Vec<(f32, SearchHit)> = scores.into_iter().zip(hits).collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            return Ok((scored.into_iter().map(|(_, h)| h).collect(), model));
        }
        if let Some(llm) = p.llm.clone() {
            // Only the head of the fused list is worth the prompt.
            let mut hits = hits;
            let tail = hits.split_off(hits.len().min(self.config.cypress_top * 2));
            let mut ranked = strategy::rerank_llm(&llm, &p.question, hits, &mut p.clock)
                .await
                .map_err(llm_error)?;
            ranked.extend(tail);
            return Ok((ranked, "llm".to_owned()));
        }
        Ok((hits, "none".to_owned()))
    }

    fn count_tokens(&self, s: &str) -> usize {
        match &self.embedder {
            Some(e) => e.count_tokens(s),
            None => text::approx_tokens(s),
        }
    }

    /// Generates, streams and records the answer.
    async fn generate(&self, mut p: Prepared, tx: mpsc::Sender<AnswerEvent>) {
        if tx
            .send(AnswerEvent::Sources(p.sources.clone()))
            .await
            .is_err()
        {
            return self.cancelled(&p, String::new()).await;
        }
        let mut sent = String::new();
        let (usage, verify_after) = if p.sources.is_empty() {
            // Grounding: nothing relevant enough, no model call.
            (
                Usage::default(),
                Pieces::whole(self.config.no_answer_text.clone()),
            )
        } else if let Some(llm) = p.llm.clone() {
            let req = chat_request(&p, &llm);
            let started = Instant::now();
            let stream = llm.model.stream(req).await;
            let mut stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    p.clock.0 += started.elapsed();
                    return self.fail(&p, sent, llm_error(e), &tx).await;
                }
            };
            let buffer = p.agent.rag_strategy == RagStrategy::Cypress;
            let mut text = String::new();
            let mut usage = None;
            loop {
                let next = tokio::select! {
                    n = stream.next() => n,
                    _ = tx.closed() => {
                        p.clock.0 += started.elapsed();
                        drop(stream); // cancels the provider call
                        return self.cancelled(&p, sent).await;
                    }
                };
                match next {
                    None => break,
                    Some(Ok(ChatEvent::Delta(d))) => {
                        text.push_str(&d);
                        if !buffer && !d.is_empty() {
                            if tx.send(AnswerEvent::Token(d.clone())).await.is_err() {
                                p.clock.0 += started.elapsed();
                                return self.cancelled(&p, sent).await;
                            }
                            sent.push_str(&d);
                        }
                    }
                    Some(Ok(ChatEvent::Usage(u))) => usage = Some(u),
                    Some(Err(e)) => {
                        p.clock.0 += started.elapsed();
                        return self.fail(&p, sent, llm_error(e), &tx).await;
                    }
                }
            }
            p.clock.0 += started.elapsed();
            let usage = usage.unwrap_or_else(|| Usage {
                input_tokens: self.count_tokens(&prompt_text(&p, &llm)) as u32,
                output_tokens: self.count_tokens(&text) as u32,
            });
            if buffer {
                (usage, Pieces::whole(text))
            } else {
                (usage, Pieces::Sent)
            }
        } else {
            let count = |s: &str| self.count_tokens(s);
            let text = extractive::compose(
                &p.question,
                &p.query,
                &p.sources,
                p.max_tokens as usize,
                &count,
            );
            let input: usize = self.count_tokens(&p.question)
                + p.sources
                    .iter()
                    .map(|s| self.count_tokens(&s.chunk_text))
                    .sum::<usize>();
            let usage = Usage {
                input_tokens: input as u32,
                output_tokens: self.count_tokens(&text) as u32,
            };
            (usage, Pieces::whole(text))
        };
        if let Pieces::Whole(mut text) = verify_after {
            if p.agent.rag_strategy == RagStrategy::Cypress && !p.sources.is_empty() {
                let llm = p.llm.clone();
                let (checked, dropped) =
                    strategy::verify_citations(&text, &p.sources, llm.as_ref(), &mut p.clock).await;
                if dropped > 0 {
                    tracing::info!(dropped, "dropped citations their source does not support");
                }
                text = checked;
            }
            for piece in pieces(&text) {
                if tx.send(AnswerEvent::Token(piece.to_owned())).await.is_err() {
                    return self.cancelled(&p, sent).await;
                }
                sent.push_str(piece);
            }
        }
        self.complete(p, sent, usage, &tx).await;
    }

    fn interaction(
        &self,
        p: &Prepared,
        response: String,
        usage: Usage,
        status: InteractionStatus,
        error: Option<String>,
    ) -> Interaction {
        let cost = self
            .models
            .price(&p.agent.model)
            .map_or(0.0, |price| price.cost(usage));
        let model = p.agent.model.clone();
        metrics::counter!("twig_llm_requests_total", "model" => model.clone(), "status" => status.as_str())
            .increment(1);
        for (direction, n) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
        ] {
            metrics::counter!("twig_llm_tokens_total", "model" => model.clone(), "direction" => direction)
                .increment(u64::from(n));
        }
        metrics::counter!("twig_llm_cost_usd_micros_total", "model" => model)
            .increment((cost * 1e6).round() as u64);
        Interaction {
            id: InteractionId::generate(),
            org_id: p.caller.org_id.clone(),
            agent_id: p.agent.id.clone(),
            // A failed or cancelled first turn creates no session: do not point at one.
            session_id: (status == InteractionStatus::Completed || !p.new_session)
                .then(|| p.session_id.clone()),
            key_id: p.caller.key_id.clone(),
            query: p.query.clone(),
            rewritten_query: (p.question != p.query).then(|| p.question.clone()),
            response,
            sources: p.sources.clone(),
            model: p.agent.model.clone(),
            rag_strategy: p.agent.rag_strategy,
            tokens_input: usage.input_tokens,
            tokens_output: usage.output_tokens,
            cost_usd: cost,
            latency_ms: p.started.elapsed().as_millis() as u64,
            status,
            error,
            feedback: None,
            feedback_comment: None,
            created_at: time::now(),
        }
    }

    async fn complete(
        &self,
        p: Prepared,
        response: String,
        usage: Usage,
        tx: &mpsc::Sender<AnswerEvent>,
    ) {
        let i = self.interaction(
            &p,
            response.clone(),
            usage,
            InteractionStatus::Completed,
            None,
        );
        let now = i.created_at;
        let append = SessionAppend {
            session_id: p.session_id.clone(),
            agent_id: p.agent.id.clone(),
            turns: vec![
                Turn {
                    role: TurnRole::User,
                    content: p.query.clone(),
                    timestamp: now,
                    sources: vec![],
                },
                Turn {
                    role: TurnRole::Assistant,
                    content: response,
                    timestamp: now,
                    sources: p.sources.iter().map(|s| s.chunk_id.clone()).collect(),
                },
            ],
            expires_at: now + self.config.session_retention,
        };
        match self
            .store
            .interactions()
            .record_interaction(&i, Some(&append))
            .await
        {
            Ok(()) => {
                let metadata = AnswerMetadata {
                    interaction_id: i.id,
                    latency_ms: i.latency_ms,
                    tokens_input: i.tokens_input,
                    tokens_output: i.tokens_output,
                    cost_usd: i.cost_usd,
                    rag_strategy: i.rag_strategy,
                    model: i.model,
                    session_id: p.session_id,
                    reranker: p.reranker,
                };
                let timing = Timing {
                    llm: p.clock.0,
                    total: p.started.elapsed(),
                };
                let _ = tx.send(AnswerEvent::Done(Box::new(metadata), timing)).await;
            }
            Err(e) => {
                let err = match e {
                    // The session was taken by another agent meanwhile (ids are random: a bug or an attack).
                    StoreError::Conflict(_) => Error::not_found("Session", p.session_id.as_str()),
                    other => Error::from(other),
                };
                let _ = tx.send(AnswerEvent::Error(err)).await;
            }
        }
    }

    async fn fail(&self, p: &Prepared, sent: String, e: Error, tx: &mpsc::Sender<AnswerEvent>) {
        let msg = match &e {
            Error::Internal(inner) => format!("{inner:#}"),
            other => other.to_string(),
        };
        let i = self.interaction(
            p,
            sent,
            Usage::default(),
            InteractionStatus::Failed,
            Some(msg),
        );
        if let Err(se) = self.store.interactions().record_interaction(&i, None).await {
            tracing::error!(error = %anyhow::Error::from(se), "cannot record a failed interaction");
        }
        let _ = tx.send(AnswerEvent::Error(e)).await;
    }

    async fn cancelled(&self, p: &Prepared, sent: String) {
        let i = self.interaction(
            p,
            sent,
            Usage::default(),
            InteractionStatus::Cancelled,
            None,
        );
        if let Err(se) = self.store.interactions().record_interaction(&i, None).await {
            tracing::error!(error = %anyhow::Error::from(se), "cannot record a cancelled interaction");
        }
    }
}

/// What is left to send after generation.
enum Pieces {
    /// Already streamed as it came.
    Sent,
    /// The whole text, to send in pieces.
    Whole(String),
}

impl Pieces {
    fn whole(s: String) -> Self {
        Self::Whole(s)
    }
}

/// Word-sized pieces of `text` (each with its trailing whitespace), concatenating to `text`.
pub fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_ws = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_ws = true;
        } else if in_ws {
            out.push(&text[start..i]);
            start = i;
            in_ws = false;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn sources_block(sources: &[Source]) -> String {
    let mut s = String::from("Sources:\n");
    for (i, src) in sources.iter().enumerate() {
        s.push_str(&format!(
            "[{}] {}\n{}\n\n",
            i + 1,
            src.document_title,
            src.chunk_text
        ));
    }
    s
}

const CITE_RULE: &str = "Answer from the sources above only. After each sentence, cite the sources that support it \
with their numbers in square brackets, like [1] or [1][3]. If the sources do not contain the answer, say so.";

fn chat_request(p: &Prepared, llm: &Llm) -> ChatRequest {
    let system = format!(
        "{}\n\n{}\n{}",
        p.agent.system_prompt,
        sources_block(&p.sources),
        CITE_RULE
    );
    let mut messages = strategy::history_messages(&p.history);
    messages.push(ChatMessage {
        role: Role::User,
        content: p.query.clone(),
    });
    ChatRequest {
        model: llm.upstream.clone(),
        system: Some(system),
        messages,
        temperature: Some(p.temperature),
        max_tokens: Some(p.max_tokens),
    }
}

fn prompt_text(p: &Prepared, llm: &Llm) -> String {
    let r = chat_request(p, llm);
    let mut s = r.system.unwrap_or_default();
    for m in r.messages {
        s.push('\n');
        s.push_str(&m.content);
    }
    s
}

/// A provider failure as a domain error: 503 when the provider is the problem, 500 otherwise.
fn llm_error(e: twig_core::llm::LlmError) -> Error {
    use twig_core::llm::LlmError as L;
    match e {
        L::RateLimited { .. } | L::Upstream { .. } | L::Timeout | L::Unavailable(_) => {
            Error::Unavailable(format!("The model provider cannot answer right now: {e}"))
        }
        L::Rejected { .. } | L::Protocol(_) => {
            Error::Internal(anyhow::Error::new(e).context("model provider call failed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_concatenate_to_the_text() {
        let t = "Refunds take 14 days [1].  Then more\nhere.";
        let p = pieces(t);
        assert!(p.len() > 3);
        assert_eq!(p.concat(), t);
        assert!(pieces("").is_empty());
    }
}
