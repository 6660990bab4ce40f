//! Webhooks: the rules for endpoint URLs and management (`service`), and the
//! job handler that delivers the outbox, signed and retried (`deliver`).

pub mod deliver;
pub mod service;

pub use deliver::{DeliverHandler, DeliveryPolicy};
pub use service::UrlPolicy;
