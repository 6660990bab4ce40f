//! The feedback right that separates role train from readonly: `Authed<Feedback>` on a
//! throwaway route (the interactions feedback route lands with the answering work).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::Router;
use std::sync::Arc;
use tower::ServiceExt;
use twig_api::auth::{Authed, Execute, Feedback};
use twig_api::{ApiConfig, AppState};
use twig_core::apikey::Scope;
use twig_core::org::Org;
use twig_core::service::{keys, users};
use twig_core::store::Store;
use twig_core::user::UserInput;
use twig_index::engine::{Engine, EngineConfig};
use twig_store::sql::SqlStore;

async fn feedback(_: Authed<Feedback>) -> &'static str {
    "ok"
}

async fn query(_: Authed<Execute>) -> &'static str {
    "ok"
}

async fn status(app: &Router, path: &str, key: &str) -> StatusCode {
    let req = Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn readonly_users_keys_may_query_but_not_give_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqlStore::open(&dir.path().join("twig.db")).await.unwrap());
    let engine = Engine::open(
        store.clone(),
        None,
        EngineConfig::new(dir.path().join("lex")),
    )
    .await
    .unwrap();
    let state = AppState::new(
        store.clone(),
        Arc::new(engine),
        Arc::new(
            twig_ingest::files::FileStore::new(
                store.clone(),
                twig_ingest::IngestConfig::new(dir.path()),
            )
            .unwrap(),
        ),
        Arc::new(ApiConfig::default()),
        Arc::new(twig_core::ratelimit::InProcessLimiter::default()),
        Arc::new(twig_core::llm::ExtractiveOnly),
        None,
        None,
        Default::default(),
    );
    let app = Router::new()
        .route("/feedback", post(feedback))
        .route("/query", post(query))
        .with_state(state);

    let org = Org::new("acme").unwrap();
    store.create_org(&org).await.unwrap();
    let mut key_of = std::collections::HashMap::new();
    for role in ["readonly", "train"] {
        let u = users::create(
            store.as_ref(),
            &org.id,
            UserInput {
                email: Some(format!("{role}@example.com")),
                name: None,
                role: Some(role.into()),
            },
        )
        .await
        .unwrap();
        let (_, secret) = keys::create(
            store.as_ref(),
            &org.id,
            keys::KeyInput {
                name: Some(role.into()),
                scopes: Some(vec!["read".into(), "execute".into()]),
                user_id: Some(u.id.to_string()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
        key_of.insert(role, (u.id, secret.expose().to_owned()));
    }
    let (_, unowned) = keys::create(
        store.as_ref(),
        &org.id,
        keys::KeyInput {
            name: Some("svc".into()),
            scopes: Some(vec![Scope::Execute.as_str().into()]),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let (readonly_id, readonly) = key_of["readonly"].clone();
    let (train_id, train) = key_of["train"].clone();

    assert_eq!(status(&app, "/query", &readonly).await, StatusCode::OK);
    assert_eq!(
        status(&app, "/feedback", &readonly).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(status(&app, "/feedback", &train).await, StatusCode::OK);
    assert_eq!(
        status(&app, "/feedback", unowned.expose()).await,
        StatusCode::OK
    );

    // Role changes apply on the next request: promote one, demote the other.
    for (id, role) in [(&readonly_id, "train"), (&train_id, "readonly")] {
        users::update(
            store.as_ref(),
            &org.id,
            id.as_str(),
            UserInput {
                role: Some(role.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(status(&app, "/feedback", &readonly).await, StatusCode::OK);
    assert_eq!(
        status(&app, "/feedback", &train).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(status(&app, "/query", &train).await, StatusCode::OK);
}
