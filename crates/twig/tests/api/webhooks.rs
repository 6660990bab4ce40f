//! Webhooks end to end: management rules, signed deliveries of real events to a
//! loopback receiver, retries, pings, rotation and redelivery.

use crate::helpers::{assert_error, TestServer};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A loopback webhook receiver answering the scripted statuses (then 200).
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    script: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

async fn receive(State(r): State<Receiver>, h: HeaderMap, body: String) -> StatusCode {
    r.got.lock().unwrap().push((h, body));
    StatusCode::from_u16(r.script.lock().unwrap().pop_front().unwrap_or(200)).unwrap()
}

pub(crate) async fn receiver(script: &[u16]) -> (Receiver, String) {
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

impl Receiver {
    /// Waits (up to 20 s) for `n` requests; answers all received.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, String)> {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if self.got.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.got.lock().unwrap().clone()
    }
}

/// The verification recipe the README documents, with the hmac crate.
fn verify(header: &str, body: &str, secret: &str) -> bool {
    let t: i64 = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    header
        .split(',')
        .filter_map(|p| p.strip_prefix("v1="))
        .any(|v| v == expected)
}

pub(crate) const OPEN: &[(&str, &str)] = &[
    ("TWIG_WEBHOOKS__ALLOW_HTTP", "true"),
    ("TWIG_WEBHOOKS__ALLOW_PRIVATE_NETWORKS", "true"),
    ("TWIG_WEBHOOKS__RETRY_DELAYS_SECS", "[0.2, 0.2, 0.2]"),
];

#[tokio::test]
async fn management_rules() {
    let (s, _d) = TestServer::start().await;
    let a = s.admin().to_owned();
    // Defaults: https only, public hosts only.
    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": "http://example.com/h", "events": ["agent.updated"]}),
        )
        .await;
    assert!(assert_error(&r, 400, "invalid_request").contains("https"));
    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": "https://127.0.0.1/h", "events": ["agent.updated"]}),
        )
        .await;
    assert!(assert_error(&r, 400, "invalid_request").contains("not allowed"));
    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": "https://93.184.216.34/h", "events": ["agent.sneezed"]}),
        )
        .await;
    assert!(assert_error(&r, 400, "invalid_request").contains("unknown event"));
    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": "https://93.184.216.34/h"}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(
        s.get("/api/v1/webhooks", &a).await.body["total"],
        0,
        "nothing was created"
    );

    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": "https://93.184.216.34/h", "events": ["agent.updated", "interaction.completed"], "description": "ops"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wh_"));
    assert!(r.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(r.body["enabled"], true);
    let got = s.get(&format!("/api/v1/webhooks/{id}"), &a).await;
    assert_eq!(got.status, 200);
    assert!(
        got.body.get("secret").is_none(),
        "the secret is shown once only"
    );
    let list = s.get("/api/v1/webhooks", &a).await;
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["webhooks"][0]["id"], id.as_str());
    assert_eq!(list.body["limit"], 50);
    let up = s
        .put(
            &format!("/api/v1/webhooks/{id}"),
            &a,
            json!({"enabled": false, "events": ["agent.deleted"]}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["events"], json!(["agent.deleted"]));
    assert_eq!(up.body["enabled"], false);
    let rot = s
        .post(
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            &a,
            json!({}),
        )
        .await;
    assert_eq!(rot.status, 200);
    assert_ne!(rot.body["secret"], r.body["secret"]);

    // Admin scope only; another org sees nothing.
    let (_, writer) = s.key_with(&["read", "write", "execute"]).await;
    assert_error(&s.get("/api/v1/webhooks", &writer).await, 403, "forbidden");
    let (_, b) = s.other_org_key("admin");
    let b = b.as_str();
    assert_error(
        &s.get(&format!("/api/v1/webhooks/{id}"), b).await,
        404,
        "not_found",
    );
    assert_error(
        &s.delete(&format!("/api/v1/webhooks/{id}"), b).await,
        404,
        "not_found",
    );
    assert_error(
        &s.post(&format!("/api/v1/webhooks/{id}/test"), b, json!({}))
            .await,
        404,
        "not_found",
    );
    assert_eq!(
        s.delete(&format!("/api/v1/webhooks/{id}"), &a).await.status,
        204
    );
    assert_error(
        &s.get(&format!("/api/v1/webhooks/{id}"), &a).await,
        404,
        "not_found",
    );
    assert_error(
        &s.get("/api/v1/webhooks/nope", &a).await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn events_are_signed_retried_and_only_sent_when_subscribed() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), OPEN).await;
    let a = s.admin().to_owned();
    let (rx, url) = receiver(&[500]).await;
    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": url, "events": ["agent.updated", "agent.deleted"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let hook = r.body["id"].as_str().unwrap().to_owned();
    let secret = r.body["secret"].as_str().unwrap().to_owned();

    // agent.created is not subscribed: nothing is sent for it.
    let ag = s
        .post(
            "/api/v1/agents",
            &a,
            json!({"name": "Support", "data_source_ids": []}),
        )
        .await;
    assert_eq!(ag.status, 201, "{}", ag.text);
    let agent = ag.body["id"].as_str().unwrap().to_owned();
    let up = s
        .put(
            &format!("/api/v1/agents/{agent}"),
            &a,
            json!({"name": "Support v2"}),
        )
        .await;
    assert_eq!(up.status, 200);

    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2, "a 500 then the retry");
    for (h, body) in &got {
        let sig = h["x-twig-signature"].to_str().unwrap();
        assert!(verify(sig, body, &secret), "{sig}");
        assert_eq!(h["x-twig-event"], "agent.updated");
    }
    assert_eq!(got[0].1, got[1].1);
    let payload: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(payload["event"], "agent.updated");
    assert!(payload["id"].as_str().unwrap().starts_with("evt_"));
    assert!(payload["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(payload["data"]["agent_id"], agent.as_str());
    assert_eq!(payload["data"]["agent"]["name"], "Support v2");

    // The delivery log shows both attempts.
    let until = Instant::now() + Duration::from_secs(10);
    let mut list;
    loop {
        list = s
            .get(&format!("/api/v1/webhooks/{hook}/deliveries"), &a)
            .await;
        if list.body["deliveries"][0]["status"] == "succeeded" || Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(list.body["total"], 1, "{}", list.text);
    let d = &list.body["deliveries"][0];
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["event_id"], payload["id"]);
    let codes: Vec<_> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(200)]);
    assert!(d["attempts"][0]["latency_ms"].is_u64());

    // Redelivery sends the same event again.
    let did = d["id"].as_str().unwrap();
    let re = s
        .post(
            &format!("/api/v1/webhooks/{hook}/deliveries/{did}/redeliver"),
            &a,
            json!({}),
        )
        .await;
    assert_eq!(re.status, 202, "{}", re.text);
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].1, got[0].1);

    // A ping, then a rotation: both secrets sign during the grace period.
    let rot = s
        .post(
            &format!("/api/v1/webhooks/{hook}/rotate-secret"),
            &a,
            json!({}),
        )
        .await;
    let new_secret = rot.body["secret"].as_str().unwrap().to_owned();
    let ping = s
        .post(&format!("/api/v1/webhooks/{hook}/test"), &a, json!({}))
        .await;
    assert_eq!(ping.status, 202, "{}", ping.text);
    assert_eq!(ping.body["event"], "ping");
    let got = rx.wait_for(4).await;
    let (h, body) = &got[3];
    let sig = h["x-twig-signature"].to_str().unwrap();
    assert!(verify(sig, body, &new_secret) && verify(sig, body, &secret));
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["event"],
        "ping"
    );

    // Deleting the agent is subscribed too.
    assert_eq!(
        s.delete(&format!("/api/v1/agents/{agent}"), &a)
            .await
            .status,
        204
    );
    let got = rx.wait_for(5).await;
    let last: Value = serde_json::from_str(&got[4].1).unwrap();
    assert_eq!(last["event"], "agent.deleted");
    assert_eq!(last["data"]["agent_id"], agent.as_str());
}

#[tokio::test]
async fn sync_outcomes_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), OPEN).await;
    let a = s.admin().to_owned();
    let (rx, url) = receiver(&[]).await;
    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": url, "events": ["data_source.synced", "data_source.failed"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ds = s
        .post(
            "/api/v1/data-sources",
            &a,
            json!({"type": "file", "name": "Docs"}),
        )
        .await;
    let ds = ds.body["id"].as_str().unwrap().to_owned();
    let up = crate::ingest::upload(
        &s,
        &a,
        &ds,
        &[
            ("a.txt", b"Refunds are issued within 14 days.".as_slice()),
            ("b.pdf", b"%PDF-1.4 truncated".as_slice()),
        ],
    )
    .await;
    assert_eq!(up.status, 202, "{}", up.text);
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1, "one sync, one event");
    let body: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(body["event"], "data_source.synced");
    assert_eq!(body["data"]["data_source_id"], ds.as_str());
    assert_eq!(
        body["data"]["status"], "partial",
        "one of two files failed: {body}"
    );
    assert_eq!(body["data"]["documents_failed"], 1);
}

#[tokio::test]
async fn answers_and_feedback_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), OPEN).await;
    let a = s.admin().to_owned();
    let (rx, url) = receiver(&[]).await;
    let r = s
        .post(
            "/api/v1/webhooks",
            &a,
            json!({"url": url, "events": ["interaction.completed", "interaction.feedback"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ag = s
        .post(
            "/api/v1/agents",
            &a,
            json!({"name": "Help", "data_source_ids": []}),
        )
        .await;
    let agent = ag.body["id"].as_str().unwrap().to_owned();
    let q = s
        .post(
            "/api/v1/query",
            &a,
            json!({"agent_id": agent, "query": "what is pricing?"}),
        )
        .await;
    assert_eq!(q.status, 200, "{}", q.text);
    let id = q.body["metadata"]["interaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let f = s
        .post(
            &format!("/api/v1/interactions/{id}/feedback"),
            &a,
            json!({"feedback": "negative", "comment": "no answer"}),
        )
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    let got = rx.wait_for(2).await;
    let events: Vec<Value> = got
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let done = events
        .iter()
        .find(|e| e["event"] == "interaction.completed")
        .expect("completed");
    assert_eq!(done["data"]["interaction_id"], id.as_str());
    assert_eq!(done["data"]["agent_id"], agent.as_str());
    assert!(done["data"]["latency_ms"].is_u64());
    let fb = events
        .iter()
        .find(|e| e["event"] == "interaction.feedback")
        .expect("feedback");
    assert_eq!(fb["data"]["feedback"], "negative");
    assert_eq!(fb["data"]["comment"], "no answer");
}
