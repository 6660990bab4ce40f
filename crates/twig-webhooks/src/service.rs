//! Endpoint management: what the API's webhook routes call.

use std::time::Duration;
use twig_core::error::{Error, Result};
use twig_core::id::{DeliveryId, OrgId, WebhookId};
use twig_core::page::{Listed, Page};
use twig_core::store::Store;
use twig_core::time;
use twig_core::webhook::{
    generate_secret, parse_description, parse_events, Delivery, Webhook, WebhookInput,
    WebhookWithSecret, MAX_URL_LEN,
};
use url::Url;

/// Which endpoint URLs the operator allows, and how long a rotated secret stays valid.
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    /// Allow `http://` URLs (development only).
    pub allow_http: bool,
    /// Allow hosts that resolve to private, loopback or link-local addresses.
    pub allow_private_networks: bool,
    /// How long the previous secret still signs after a rotation.
    pub rotation_grace: Duration,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private_networks: false,
            rotation_grace: Duration::from_secs(24 * 3600),
        }
    }
}

/// Validates an endpoint URL: absolute, https (unless allowed), no credentials, a public host.
pub async fn check_url(raw: &str, policy: &UrlPolicy) -> Result<String> {
    let bad = |m: String| Error::invalid_field("url", m);
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_LEN {
        return Err(bad(format!("url must be 1 to {MAX_URL_LEN} characters")));
    }
    // A URI is printable ASCII; anything else must be percent-encoded by the client.
    if !raw.chars().all(|c| c.is_ascii_graphic()) {
        return Err(bad(
            "url must be printable ASCII (percent-encode other characters)".into(),
        ));
    }
    let url = Url::parse(raw).map_err(|e| bad(format!("url is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(bad(
                "url must use https (the operator has not allowed plain http)".into(),
            ))
        }
        s => return Err(bad(format!("url must use https, not {s}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("url must not contain credentials".into()));
    }
    if url.host().is_none() {
        return Err(bad("url has no host".into()));
    }
    twig_crawl::check_url(&url, policy.allow_private_networks)
        .await
        .map_err(|e| bad(format!("url is not allowed: {e}")))?;
    Ok(url.to_string())
}

fn parse_id(id: &str) -> Result<WebhookId> {
    Ok(WebhookId::parse(id)?)
}

/// Creates an endpoint; the answer carries its secret, shown this once.
pub async fn create(
    store: &dyn Store,
    org: &OrgId,
    input: WebhookInput,
    policy: &UrlPolicy,
) -> Result<WebhookWithSecret> {
    let url = input
        .url
        .as_deref()
        .ok_or_else(|| Error::invalid_field("url", "url is required"))?;
    let url = check_url(url, policy).await?;
    let events = parse_events(
        input
            .events
            .as_deref()
            .ok_or_else(|| Error::invalid_field("events", "events is required"))?,
    )?;
    let description = match input.description.as_deref() {
        Some(d) => parse_description(d)?,
        None => None,
    };
    let now = time::now();
    let webhook = Webhook {
        id: WebhookId::generate(),
        org_id: org.clone(),
        url,
        description,
        events,
        enabled: input.enabled.unwrap_or(true),
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let secret = generate_secret();
    store.webhooks().create_webhook(&webhook, &secret).await?;
    Ok(WebhookWithSecret { webhook, secret })
}

/// Reads one endpoint.
pub async fn get(store: &dyn Store, org: &OrgId, id: &str) -> Result<Webhook> {
    let id = parse_id(id)?;
    store
        .webhooks()
        .get_webhook(org, &id)
        .await?
        .ok_or_else(|| Error::not_found("Webhook", id.as_str()))
}

/// Lists endpoints.
pub async fn list(store: &dyn Store, org: &OrgId, page: Page) -> Result<Listed<Webhook>> {
    Ok(store.webhooks().list_webhooks(org, page).await?)
}

/// Applies a partial update; enabling clears the automatic-disable reason and failure run.
pub async fn update(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    input: WebhookInput,
    policy: &UrlPolicy,
) -> Result<Webhook> {
    let mut hook = get(store, org, id).await?;
    if let Some(u) = input.url.as_deref() {
        hook.url = check_url(u, policy).await?;
    }
    if let Some(e) = input.events.as_deref() {
        hook.events = parse_events(e)?;
    }
    if let Some(d) = input.description.as_deref() {
        hook.description = parse_description(d)?;
    }
    if let Some(enabled) = input.enabled {
        if enabled && !hook.enabled {
            hook.disabled_reason = None;
            hook.failing_since = None;
        }
        hook.enabled = enabled;
    }
    hook.updated_at = time::now();
    if store.webhooks().update_webhook(&hook).await? {
        Ok(hook)
    } else {
        Err(Error::not_found("Webhook", hook.id.as_str()))
    }
}

/// Deletes an endpoint with its deliveries.
pub async fn delete(store: &dyn Store, org: &OrgId, id: &str) -> Result<()> {
    let id = parse_id(id)?;
    if store.webhooks().delete_webhook(org, &id).await? {
        Ok(())
    } else {
        Err(Error::not_found("Webhook", id.as_str()))
    }
}

/// Replaces the secret; the old one keeps signing for the grace period.
pub async fn rotate_secret(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    policy: &UrlPolicy,
) -> Result<WebhookWithSecret> {
    let id = parse_id(id)?;
    let secret = generate_secret();
    let until = time::now()
        + chrono::Duration::from_std(policy.rotation_grace)
            .map_err(|e| Error::Internal(e.into()))?;
    if !store
        .webhooks()
        .rotate_webhook_secret(org, &id, &secret, until)
        .await?
    {
        return Err(Error::not_found("Webhook", id.as_str()));
    }
    let webhook = get(store, org, id.as_str()).await?;
    Ok(WebhookWithSecret { webhook, secret })
}

/// Queues a `ping` to the endpoint.
pub async fn test(store: &dyn Store, org: &OrgId, id: &str) -> Result<Delivery> {
    let id = parse_id(id)?;
    store
        .webhooks()
        .send_ping(org, &id)
        .await?
        .ok_or_else(|| Error::not_found("Webhook", id.as_str()))
}

/// Lists an endpoint's deliveries (404 for an unknown endpoint).
pub async fn deliveries(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    page: Page,
) -> Result<Listed<Delivery>> {
    let hook = get(store, org, id).await?;
    Ok(store
        .webhooks()
        .list_deliveries(org, &hook.id, page)
        .await?)
}

/// Sends a delivery again with the same event id and body.
pub async fn redeliver(
    store: &dyn Store,
    org: &OrgId,
    id: &str,
    delivery: &str,
) -> Result<Delivery> {
    let hook = get(store, org, id).await?;
    let did = DeliveryId::parse(delivery)?;
    store
        .webhooks()
        .redeliver(org, &hook.id, &did)
        .await?
        .ok_or_else(|| Error::not_found("Delivery", did.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_are_checked() {
        let strict = UrlPolicy::default();
        for bad in [
            "",
            "not a url",
            "ftp://example.com/x",
            "http://example.com/hook",
            "https://user:pw@example.com/",
            "https://127.0.0.1/hook",
            "https://localhost:8443/hook",
            "https://169.254.169.254/latest",
        ] {
            assert!(
                check_url(bad, &strict).await.is_err(),
                "{bad:?} must be refused"
            );
        }
        let open = UrlPolicy {
            allow_http: true,
            allow_private_networks: true,
            ..Default::default()
        };
        assert!(check_url("http://127.0.0.1:9/hook", &open).await.is_ok());
        assert!(check_url("https://93.184.216.34/hook", &strict)
            .await
            .is_ok());
    }
}
