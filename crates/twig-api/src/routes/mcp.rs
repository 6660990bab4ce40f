//! The MCP server at `/mcp` (streamable HTTP), built on `rmcp`, the official Rust SDK: its
//! `StreamableHttpService` is a tower service mounted on the axum router, and the tools below
//! call the same answering pipeline and search as `/query` and `/semantic-search`.
//!
//! Auth follows the hosted product: `Authorization: Bearer <Twig API key>` and
//! `X-Twig-Agent-Id: <agent_…>` on the HTTP request; `ask_a_question` needs Execute,
//! `search_knowledge` and the agent resource need Read, `check_mcp_server_health` nothing. The
//! headers are read per call (rmcp hands each tool the request's `http::request::Parts`), and
//! checked by the same extractor as every REST route (scopes, role bounds, rate limits).

use crate::auth::{Authed, Execute, Read, RequiredScope};
use crate::routes::search::{self, SemanticSearchInput};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    Implementation, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    PromptMessage, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{
    prompt, prompt_handler, prompt_router, tool, tool_handler, tool_router, ErrorData, RoleServer,
    ServerHandler,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use twig_answer::{Caller, QueryRequest};
use twig_core::agent::Agent;
use twig_core::apikey::ApiKey;
use twig_core::id::{AgentId, DataSourceId};
use twig_core::Error;

/// Header naming the agent the tools act for.
pub const AGENT_HEADER: &str = "x-twig-agent-id";

/// One MCP session's handler (rmcp makes one per session; they share the app state).
#[derive(Clone)]
pub struct TwigMcp {
    state: AppState,
}

/// `check_mcp_server_health`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthOutput {
    /// `ok` when storage answers, else `degraded`.
    pub status: String,
    /// Twig server version.
    pub version: String,
    /// Model of agents that name none.
    pub default_model: String,
    /// Embedding model in use, if any.
    pub embedding_model: Option<String>,
    /// `hybrid` (embeddings and BM25) or `lexical` (BM25 only).
    pub search_mode: String,
}

/// `search_knowledge`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to look for.
    pub query: String,
    /// Results wanted, 1 to 100 (default 10).
    pub top_k: Option<i64>,
    /// Restrict to these of the agent's data sources (`ds_…`).
    pub data_source_ids: Option<Vec<String>>,
}

/// One search result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchHitOutput {
    /// Title of the document.
    pub title: String,
    /// URL of the document, if it has one.
    pub url: Option<String>,
    /// Similarity score in [0, 1].
    pub score: f32,
    /// The passage.
    pub text: String,
    /// Chunk id (`chunk_…`).
    pub chunk_id: String,
    /// Document id (`doc_…`).
    pub document_id: String,
    /// Data source id (`ds_…`).
    pub data_source_id: String,
}

/// `search_knowledge`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOutput {
    /// Best first.
    pub results: Vec<SearchHitOutput>,
    /// Chunks in the searched scope.
    pub total_chunks_searched: u64,
}

/// `ask_a_question`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskArgs {
    /// The question.
    pub question: String,
    /// Session to continue (`sess_…`, from an earlier answer); a new one when omitted.
    pub session_id: Option<String>,
}

/// A source an answer cites.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AnswerSource {
    /// Title of the document.
    pub title: String,
    /// URL of the document, if it has one.
    pub url: Option<String>,
    /// Similarity score in [0, 1].
    pub score: f32,
    /// The passage given to the model.
    pub text: String,
}

/// `ask_a_question`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AskOutput {
    /// The answer, with `[n]` markers pointing into `sources` (1-based).
    pub answer: String,
    /// The passages the answer is grounded on.
    pub sources: Vec<AnswerSource>,
    /// Session for follow-up questions.
    pub session_id: String,
    /// The recorded interaction (`int_…`).
    pub interaction_id: String,
}

/// `WhatIsTwig`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WhatIsTwigArgs {
    /// `basic` (default), `features`, `pricing` or `integration`.
    pub detail: Option<String>,
    /// Name to address the user by.
    pub name: Option<String>,
}

/// A tool failure as the text the client shows (`code: message`).
fn failure(e: Error) -> String {
    format!("{}: {}", e.code().as_str(), e.public_message())
}

impl TwigMcp {
    /// A handler over the app's state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The caller's key (with scope `S`) and the agent its `X-Twig-Agent-Id` names.
    async fn caller<S: RequiredScope>(&self, parts: &Parts) -> Result<(ApiKey, Agent), Error> {
        let mut parts = parts.clone();
        let auth = Authed::<S>::from_request_parts(&mut parts, &self.state)
            .await
            .map_err(|e| e.0)?;
        let raw = parts
            .headers
            .get(AGENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Missing {AGENT_HEADER} header: name the agent (agent_…) these tools act for"
                ))
            })?;
        let id = AgentId::parse(raw).map_err(|e| Error::invalid(e.to_string()))?;
        let agent = self
            .state
            .store
            .get_agent(&auth.key.org_id, &id)
            .await?
            .ok_or_else(|| Error::not_found("Agent", id.as_str()))?;
        Ok((auth.key, agent))
    }

    async fn search(&self, parts: &Parts, args: SearchArgs) -> Result<SearchOutput, Error> {
        let (key, agent) = self.caller::<Read>(parts).await?;
        // Only the agent's sources: a subset may be named, never another source.
        let ids: Vec<String> = match args.data_source_ids {
            None => agent
                .data_source_ids
                .iter()
                .map(|d| d.to_string())
                .collect(),
            Some(ids) => {
                for id in &ids {
                    let parsed = DataSourceId::parse(id)
                        .map_err(|e| Error::invalid_field("data_source_ids", e.to_string()))?;
                    if !agent.data_source_ids.contains(&parsed) {
                        return Err(Error::invalid_field(
                            "data_source_ids",
                            format!("{id} is not a data source of agent {}", agent.id),
                        ));
                    }
                }
                ids
            }
        };
        let input = SemanticSearchInput {
            query: Some(args.query),
            org_id: Some(key.org_id.to_string()),
            top_k: args.top_k,
            similarity_threshold: None,
            data_source_ids: Some(ids),
            mode: None,
        };
        let out = search::run(&self.state, &key.org_id, input).await?;
        Ok(SearchOutput {
            total_chunks_searched: out.metadata.total_chunks_searched,
            results: out
                .chunks
                .into_iter()
                .map(|c| SearchHitOutput {
                    title: c.document_title,
                    url: c.document_url,
                    score: c.similarity_score,
                    text: c.text,
                    chunk_id: c.chunk_id.to_string(),
                    document_id: c.document_id.to_string(),
                    data_source_id: c.data_source_id.to_string(),
                })
                .collect(),
        })
    }

    async fn ask(&self, parts: &Parts, args: AskArgs) -> Result<AskOutput, Error> {
        let (key, agent) = self.caller::<Execute>(parts).await?;
        let caller = Caller {
            org_id: key.org_id.clone(),
            key_id: Some(key.id.clone()),
        };
        let req = QueryRequest {
            agent_id: Some(agent.id.to_string()),
            query: Some(args.question),
            session_id: args.session_id,
            temperature: None,
            max_tokens: None,
        };
        let a = self.state.answerer.answer(caller, req).await?;
        Ok(AskOutput {
            answer: a.response,
            sources: a
                .sources
                .into_iter()
                .map(|s| AnswerSource {
                    title: s.document_title,
                    url: s.document_url,
                    score: s.similarity_score,
                    text: s.chunk_text,
                })
                .collect(),
            session_id: a.metadata.session_id.to_string(),
            interaction_id: a.metadata.interaction_id.to_string(),
        })
    }

    async fn describe(&self, parts: &Parts, uri: &str) -> Result<String, Error> {
        let (key, agent) = self.caller::<Read>(parts).await?;
        let wanted = uri.strip_prefix("twig://").unwrap_or_default();
        if wanted != agent.id.as_str() {
            // Only the agent of the connection is readable through it.
            return Err(Error::not_found("Agent", wanted));
        }
        let mut sources = Vec::new();
        for id in &agent.data_source_ids {
            if let Some(ds) = self.state.store.get_data_source(&key.org_id, id).await? {
                sources.push(serde_json::json!({
                    "id": ds.id, "name": ds.name, "type": ds.kind, "status": ds.status,
                    "chunks_indexed": ds.chunks_indexed,
                }));
            }
        }
        let doc = serde_json::json!({
            "id": agent.id,
            "name": agent.name,
            "description": agent.system_prompt,
            "rag_strategy": agent.rag_strategy.as_str(),
            "model": agent.model,
            "status": agent.status.as_str(),
            "data_sources": sources,
        });
        Ok(serde_json::to_string_pretty(&doc).unwrap_or_default())
    }
}

#[tool_router]
impl TwigMcp {
    /// Server version, default model and index state. Needs no key.
    #[tool(name = "check_mcp_server_health", annotations(read_only_hint = true))]
    async fn check_mcp_server_health(&self) -> Json<HealthOutput> {
        let up = self.state.store.ping().await.is_ok();
        let r = self.state.retriever.status();
        Json(HealthOutput {
            status: if up { "ok" } else { "degraded" }.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            default_model: self.state.models.default_model().to_owned(),
            embedding_model: r.embedding_model,
            search_mode: serde_json::to_value(r.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        })
    }

    /// Searches the agent's knowledge (its data sources) as `/semantic-search` does: passages
    /// with their document titles, URLs and scores. Needs a key with Read scope.
    #[tool(name = "search_knowledge", annotations(read_only_hint = true))]
    async fn search_knowledge(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<Json<SearchOutput>, String> {
        self.search(&parts, args).await.map(Json).map_err(failure)
    }

    /// Asks the agent: an answer through its strategy with the sources it cites, and the
    /// session id for follow-ups. Recorded as an interaction. Needs a key with Execute scope.
    #[tool(name = "ask_a_question")]
    async fn ask_a_question(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<AskArgs>,
    ) -> Result<Json<AskOutput>, String> {
        self.ask(&parts, args).await.map(Json).map_err(failure)
    }
}

const WHAT_BASIC: &str =
    "Twig is a platform for retrieval-augmented agents: you connect knowledge \
(files, websites, a knowledge base), create agents over it, and they answer questions with cited, \
grounded answers through a REST API, an OpenAI-compatible endpoint, MCP and Slack.";
const WHAT_FEATURES: &str =
    "Features: hybrid search (BM25 and embeddings, fused), three answering \
strategies (redwood: direct; cedar: rewrites follow-ups; cypress: query expansion and reranking), \
sessions for multi-turn conversations, citations checked against sources, feedback and analytics, \
webhooks, scoped API keys with rate limits, any OpenAI-compatible, Azure or Anthropic model, or an \
offline extractive answerer that needs no model at all.";
const WHAT_PRICING: &str =
    "Self-hosted Twig is open source (Apache-2.0) and free to run: one binary \
with an embedded database. The only running cost is the chat model you configure; every answer \
records its token counts and cost in USD from the configured price table.";
const WHAT_INTEGRATION: &str =
    "Integration: REST API at /api/v1 (Bearer API key), the OpenAI client \
libraries pointed at /v1 with an agent as the model, this MCP server at /mcp (Authorization and \
X-Twig-Agent-Id headers), and a Slack app answering mentions and /twig ask.";

#[prompt_router]
impl TwigMcp {
    /// Explains what Twig is, at the requested level of detail.
    #[prompt(name = "WhatIsTwig")]
    async fn what_is_twig(
        &self,
        Parameters(args): Parameters<WhatIsTwigArgs>,
    ) -> Result<Vec<PromptMessage>, ErrorData> {
        let body = match args.detail.as_deref().unwrap_or("basic") {
            "basic" => WHAT_BASIC,
            "features" => WHAT_FEATURES,
            "pricing" => WHAT_PRICING,
            "integration" => WHAT_INTEGRATION,
            other => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "detail must be basic, features, pricing or integration, got {other:?}"
                    ),
                    None,
                ))
            }
        };
        let greeting = match args.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => format!("Explain to {n} what Twig is."),
            _ => "Explain what Twig is.".to_owned(),
        };
        Ok(vec![
            PromptMessage::new_text(Role::User, greeting),
            PromptMessage::new_text(Role::Assistant, body),
        ])
    }
}

#[tool_handler]
#[prompt_handler]
impl ServerHandler for TwigMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("twig", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Twig answers questions from your organisation's knowledge with citations. Use \
             search_knowledge to find passages and ask_a_question for a grounded answer.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let Some(parts) = context.extensions.get::<Parts>() else {
            return Ok(ListResourcesResult::default());
        };
        // Without valid credentials there is nothing to list (the template still says how).
        let resources = match self.caller::<Read>(parts).await {
            Ok((_, agent)) => {
                vec![
                    Resource::new(format!("twig://{}", agent.id), agent.name.clone())
                        .with_description("The agent's description and data sources")
                        .with_mime_type("application/json"),
                ]
            }
            Err(_) => Vec::new(),
        };
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("twig://{agentId}", "agent")
                .with_description("An agent's description and data sources")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let parts = context
            .extensions
            .get::<Parts>()
            .ok_or_else(|| ErrorData::internal_error("no HTTP request", None))?;
        match self.describe(parts, &request.uri).await {
            Ok(text) => Ok(ReadResourceResult::new(vec![ResourceContents::text(
                text,
                request.uri.clone(),
            )
            .with_mime_type("application/json")])
            .into()),
            Err(e @ Error::NotFound { .. }) => Err(ErrorData::resource_not_found(failure(e), None)),
            Err(e) => Err(ErrorData::invalid_params(failure(e), None)),
        }
    }
}

/// The `/mcp` endpoint as a tower service (sessions kept in memory).
pub fn service(state: AppState) -> StreamableHttpService<TwigMcp, LocalSessionManager> {
    // Host checks guard a local server without auth against DNS rebinding; every tool here but
    // the health check needs a bearer key a rebinding page cannot send, and self-hosted
    // deployments answer on their own host names.
    let config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    StreamableHttpService::new(
        move || Ok(TwigMcp::new(state.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}
