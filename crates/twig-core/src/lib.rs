//! Twig's domain layer: ids, records, validation rules, the error-code table,
//! and the ports (traits) that storage and other adapters implement.

pub mod agent;
pub mod analytics;
pub mod apikey;
pub mod connector;
pub mod datasource;
pub mod document;
pub mod error;
pub mod id;
pub mod ingest;
pub mod interaction;
pub mod job;
pub mod kb;
pub mod llm;
pub mod org;
pub mod page;
pub mod ratelimit;
pub mod redact;
pub mod retrieval;
pub mod service;
pub mod slack;
pub mod store;
pub mod time;
pub mod user;
pub mod validate;
pub mod webhook;

pub use error::{Error, ErrorCode, Result};
