//! End-to-end API tests: each starts the real binary on port 0 with a fresh data dir.

mod agents;
mod analytics;
mod answer;
mod books;
mod cli;
mod confluence;
mod data_sources;
mod errors;
mod helpers;
mod ingest;
mod kb;
mod keys;
mod llm;
mod mcp;
mod notion;
mod openai;
mod ratelimits;
mod scopes;
mod server;
mod sharepoint;
mod site;
mod slack;
mod slack_app;
mod users;
mod webhooks;
mod zendesk;
