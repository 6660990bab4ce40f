//! Delivery against a loopback receiver: signatures checked by an independent
//! HMAC written here, the retry schedule, no retry on 4xx, auto-disable, and an
//! outbox that survives reopening the store.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use twig_core::agent::{Agent, AgentInput};
use twig_core::id::WebhookId;
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::store::Store;
use twig_core::time;
use twig_core::webhook::{DeliveryStatus, EventKind, Webhook};
use twig_jobs::{Backoff, Runner, RunnerConfig};
use twig_store::sql::SqlStore;
use twig_webhooks::{DeliverHandler, DeliveryPolicy};

#[derive(Clone, Default)]
struct Receiver {
    /// Status codes to answer, in order; 200 once exhausted.
    script: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    r.got.lock().unwrap().push((headers, body));
    let code = r.script.lock().unwrap().pop_front().unwrap_or(200);
    (
        StatusCode::from_u16(code).unwrap(),
        format!("answer {code}"),
    )
}

async fn receiver(script: &[u16]) -> (Receiver, String) {
    let r = Receiver::default();
    r.script.lock().unwrap().extend(script.iter().copied());
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (r, url)
}

/// HMAC-SHA256 from its definition (RFC 2104), independent of the crate under test.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad.as_slice(), msg].concat());
    hex::encode(Sha256::digest([opad.as_slice(), inner.as_slice()].concat()))
}

/// The receiver's recipe: parse `t=..,v1=..`, check the age, accept any matching v1.
fn verify(header: &str, body: &str, secret: &str) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (time::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let expected = hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes());
    sigs.contains(&expected)
}

struct Env {
    store: Arc<dyn Store>,
    org: Org,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&dir.path().join("t.db")).await.unwrap());
    let org = Org::new("acme").unwrap();
    store.create_org(&org).await.unwrap();
    Env {
        store,
        org,
        _dir: dir,
    }
}

async fn endpoint(e: &Env, url: &str, events: &[EventKind], secret: &str) -> Webhook {
    let now = time::now();
    let h = Webhook {
        id: WebhookId::generate(),
        org_id: e.org.id.clone(),
        url: url.into(),
        description: None,
        events: events.to_vec(),
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    e.store.webhooks().create_webhook(&h, secret).await.unwrap();
    h
}

fn policy(delays_ms: &[u64], disable_after: Duration) -> DeliveryPolicy {
    DeliveryPolicy {
        timeout: Duration::from_secs(2),
        retry_delays: delays_ms
            .iter()
            .map(|m| Duration::from_millis(*m))
            .collect(),
        disable_after,
        allow_private_networks: true,
    }
}

fn runner(store: &Arc<dyn Store>, p: DeliveryPolicy) -> Runner {
    let cfg = RunnerConfig {
        poll_interval: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(20),
        },
        ..Default::default()
    };
    Runner::new(store.clone(), cfg)
        .register(Arc::new(DeliverHandler::new(store.clone(), p).unwrap()))
}

/// Runs due jobs until none is left or `deadline` passes.
async fn drain(r: &Runner, deadline: Duration) {
    let until = std::time::Instant::now() + deadline;
    let mut idle = 0;
    while std::time::Instant::now() < until {
        if r.run_once().await.unwrap() {
            idle = 0;
        } else {
            idle += 1;
            if idle > 30 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn touch_agent(e: &Env) -> Agent {
    let mut a = Agent::create(
        e.org.id.clone(),
        AgentInput {
            name: Some("bot".into()),
            data_source_ids: Some(vec![]),
            ..Default::default()
        },
    )
    .unwrap();
    e.store.create_agent(&a).await.unwrap();
    a.name = "bot 2".into();
    e.store.update_agent(&a).await.unwrap();
    a
}

#[tokio::test]
async fn retries_until_success_with_the_same_signed_body() {
    let e = env().await;
    let (rx, url) = receiver(&[500, 429, 503]).await;
    let h = endpoint(&e, &url, &[EventKind::AgentUpdated], "whsec_abc").await;
    let a = touch_agent(&e).await;
    let r = runner(
        &e.store,
        policy(&[10, 10, 10, 10], Duration::from_secs(3600)),
    );
    drain(&r, Duration::from_secs(10)).await;

    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "three failures then a success");
    let first = &got[0].1;
    for (headers, body) in &got {
        assert_eq!(body, first, "every attempt sends the same bytes");
        let sig = headers["x-twig-signature"].to_str().unwrap();
        assert!(
            verify(sig, body, "whsec_abc"),
            "signature {sig} must verify"
        );
        assert!(!verify(sig, body, "whsec_other"));
        assert_eq!(headers["x-twig-event"], "agent.updated");
    }
    let payload: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(payload["event"], "agent.updated");
    assert_eq!(payload["data"]["agent_id"], a.id.as_str());
    assert_eq!(
        got[0].0["x-twig-event-id"].to_str().unwrap(),
        payload["id"].as_str().unwrap()
    );

    let d = &e
        .store
        .webhooks()
        .list_deliveries(&e.org.id, &h.id, Page::default())
        .await
        .unwrap()
        .items[0];
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    let codes: Vec<_> = d.attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, vec![Some(500), Some(429), Some(503), Some(200)]);
    assert_eq!(d.attempts[0].response_body.as_deref(), Some("answer 500"));
    let hook = e
        .store
        .webhooks()
        .get_webhook(&e.org.id, &h.id)
        .await
        .unwrap()
        .unwrap();
    assert!(hook.enabled && hook.failing_since.is_none());
}

#[tokio::test]
async fn other_4xx_answers_are_not_retried() {
    let e = env().await;
    let (rx, url) = receiver(&[400, 200]).await;
    let h = endpoint(&e, &url, &[EventKind::AgentUpdated], "s").await;
    touch_agent(&e).await;
    let r = runner(&e.store, policy(&[10, 10], Duration::from_secs(3600)));
    drain(&r, Duration::from_secs(5)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 1);
    let d = &e
        .store
        .webhooks()
        .list_deliveries(&e.org.id, &h.id, Page::default())
        .await
        .unwrap()
        .items[0];
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert!(d.attempts[0].error.as_deref().unwrap().contains("400"));
    // A redelivery sends the same event again, and this time it lands.
    e.store
        .webhooks()
        .redeliver(&e.org.id, &h.id, &d.id)
        .await
        .unwrap()
        .unwrap();
    drain(&r, Duration::from_secs(5)).await;
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, got[1].1);
    let d = e
        .store
        .webhooks()
        .get_delivery(&e.org.id, &h.id, &d.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, DeliveryStatus::Succeeded);
}

#[tokio::test]
async fn exhausted_deliveries_disable_a_long_failing_endpoint() {
    let e = env().await;
    let (rx, url) = receiver(&[500; 10]).await;
    let h = endpoint(&e, &url, &[EventKind::AgentUpdated], "s").await;
    touch_agent(&e).await;
    let r = runner(&e.store, policy(&[10, 10], Duration::ZERO));
    drain(&r, Duration::from_secs(5)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 3, "1 attempt + 2 retries");
    let hook = e
        .store
        .webhooks()
        .get_webhook(&e.org.id, &h.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!hook.enabled);
    assert!(hook.disabled_reason.unwrap().contains("HTTP 500"));
    // Events after that are not sent to it at all.
    touch_agent(&e).await;
    drain(&r, Duration::from_secs(2)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn rotation_signs_with_both_secrets() {
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let h = endpoint(&e, &url, &[EventKind::AgentUpdated], "whsec_old").await;
    let until = time::now() + chrono::Duration::hours(1);
    e.store
        .webhooks()
        .rotate_webhook_secret(&e.org.id, &h.id, "whsec_new", until)
        .await
        .unwrap();
    e.store
        .webhooks()
        .send_ping(&e.org.id, &h.id)
        .await
        .unwrap()
        .unwrap();
    let r = runner(&e.store, policy(&[], Duration::from_secs(3600)));
    drain(&r, Duration::from_secs(5)).await;
    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let sig = got[0].0["x-twig-signature"].to_str().unwrap();
    assert_eq!(sig.matches("v1=").count(), 2);
    assert!(verify(sig, &got[0].1, "whsec_new") && verify(sig, &got[0].1, "whsec_old"));
    let body: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(body["event"], "ping");
}

#[tokio::test]
async fn the_outbox_survives_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (rx, url) = receiver(&[]).await;
    let org = Org::new("acme").unwrap();
    {
        let store: Arc<dyn Store> = Arc::new(SqlStore::open(&path).await.unwrap());
        store.create_org(&org).await.unwrap();
        let e = Env {
            store,
            org: org.clone(),
            _dir: tempfile::tempdir().unwrap(),
        };
        endpoint(&e, &url, &[EventKind::AgentUpdated], "s").await;
        touch_agent(&e).await;
        // The process "stops" here, before any worker ran.
    }
    let store: Arc<dyn Store> = Arc::new(SqlStore::open(&path).await.unwrap());
    let r = runner(&store, policy(&[], Duration::from_secs(3600)));
    drain(&r, Duration::from_secs(5)).await;
    assert_eq!(rx.got.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn private_addresses_are_refused_when_not_allowed() {
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let h = endpoint(&e, &url, &[EventKind::AgentUpdated], "s").await;
    touch_agent(&e).await;
    let mut p = policy(&[], Duration::from_secs(3600));
    p.allow_private_networks = false;
    let r = runner(&e.store, p);
    drain(&r, Duration::from_secs(5)).await;
    assert!(rx.got.lock().unwrap().is_empty());
    let d = &e
        .store
        .webhooks()
        .list_deliveries(&e.org.id, &h.id, Page::default())
        .await
        .unwrap()
        .items[0];
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert!(
        d.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("allow_private_networks"),
        "{:?}",
        d.attempts[0].error
    );
}
