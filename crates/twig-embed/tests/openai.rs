//! The OpenAI-compatible provider against a loopback server speaking the embeddings wire format.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use twig_core::retrieval::Embedder;
use twig_embed::openai::{OpenAiConfig, OpenAiEmbedder};

#[derive(Clone)]
struct Fake {
    calls: Arc<AtomicUsize>,
    /// Status to answer for the first N calls after the probe.
    fail_with: Option<(u16, usize)>,
}

async fn embeddings(
    State(f): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let n = f.calls.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk-test") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "bad key"}})),
        );
    }
    if let Some((status, times)) = f.fail_with {
        if n >= 1 && n <= times {
            return (
                StatusCode::from_u16(status).unwrap(),
                Json(json!({"error": {"message": "try later"}})),
            );
        }
    }
    let inputs = body["input"].as_array().unwrap().clone();
    // Items in reverse order: clients must place them by `index`.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| {
            let len = t.as_str().unwrap().len() as f64;
            json!({"object": "embedding", "index": i, "embedding": [len, 1.0, 0.0, 2.0]})
        })
        .collect();
    (
        StatusCode::OK,
        Json(
            json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
        ),
    )
}

fn serve(fake: Fake) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let app = Router::new()
                .route("/v1/embeddings", post(embeddings))
                .with_state(fake);
            axum::serve(l, app).await.unwrap();
        });
    });
    format!("http://{}/v1", rx.recv().unwrap())
}

fn config(base: String, key: &str) -> OpenAiConfig {
    OpenAiConfig {
        base_url: base,
        model: "text-embedding-3-small".into(),
        api_key: Some(key.into()),
        batch_size: 2,
        timeout: Duration::from_secs(5),
    }
}

#[test]
fn embeds_in_order_normalised_and_batched() {
    let fake = Fake {
        calls: Arc::new(AtomicUsize::new(0)),
        fail_with: None,
    };
    let e = OpenAiEmbedder::connect(config(serve(fake.clone()), "sk-test")).unwrap();
    assert_eq!(e.dim(), 4);
    assert_eq!(e.model_id(), "openai:text-embedding-3-small");
    let v = e.embed(&["a", "bbb", "cc"]).unwrap();
    assert_eq!(v.len(), 3);
    for x in &v {
        assert!((x.iter().map(|a| a * a).sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // Order follows `index`, not the order of items: first component grows with text length.
    assert!(v[0][0] < v[2][0] && v[2][0] < v[1][0]);
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        1 + 2,
        "probe + two batches of at most 2"
    );
}

#[test]
fn retries_429_and_5xx_but_not_other_4xx() {
    let fake = Fake {
        calls: Arc::new(AtomicUsize::new(0)),
        fail_with: Some((429, 2)),
    };
    let e = OpenAiEmbedder::connect(config(serve(fake.clone()), "sk-test")).unwrap();
    assert_eq!(e.embed(&["x"]).unwrap().len(), 1);
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        4,
        "probe + two 429s + success"
    );

    let fake = Fake {
        calls: Arc::new(AtomicUsize::new(0)),
        fail_with: Some((400, 5)),
    };
    let e = OpenAiEmbedder::connect(config(serve(fake.clone()), "sk-test")).unwrap();
    let err = e.embed(&["x"]).unwrap_err();
    assert!(format!("{err:#}").contains("400"), "{err:#}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2, "no retry on 400");
}

#[test]
fn a_bad_key_fails_at_connect() {
    let fake = Fake {
        calls: Arc::new(AtomicUsize::new(0)),
        fail_with: None,
    };
    let err = OpenAiEmbedder::connect(config(serve(fake), "sk-wrong"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("401"), "{err}");
}
