//! Use cases the HTTP layer and the CLI call: validate, then one store call.
//!
//! Handlers stay thin: they extract and authenticate, call one function here,
//! and render the result.

pub mod agents;
pub mod analytics;
pub mod data_sources;
pub mod ingest;
pub mod interactions;
pub mod keys;
pub mod users;
