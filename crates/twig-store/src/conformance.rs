//! Behaviour every [`Store`] implementation must have, run against each backend.
//!
//! Each check takes a fresh, empty store. Backends call them from their own
//! tests through [`conformance_tests!`](crate::conformance_tests).

use serde_json::json;
use twig_core::agent::{Agent, AgentInput};
use twig_core::apikey::{ApiKey, Environment, KeyHash, Scope};
use twig_core::datasource::{DataSource, DataSourceInput, DataSourceStatus};
use twig_core::id::{AgentId, DataSourceId, KeyId};
use twig_core::org::Org;
use twig_core::page::Page;
use twig_core::store::{Store, StoreError};
use twig_core::time;

async fn org(store: &dyn Store, name: &str) -> Org {
    let o = Org::new(name).expect("valid org");
    store.create_org(&o).await.expect("create org");
    o
}

async fn website(store: &dyn Store, org: &Org, name: &str) -> DataSource {
    let ds = DataSource::create(
        org.id.clone(),
        DataSourceInput {
            kind: Some("website".into()),
            name: Some(name.into()),
            config: Some(json!({"url": "https://docs.example.com"})),
            sync_frequency: None,
        },
    )
    .expect("valid data source");
    store
        .create_data_source(&ds)
        .await
        .expect("create data source");
    ds
}

fn agent(org: &Org, name: &str, ds: &[&DataSource]) -> Agent {
    Agent::create(
        org.id.clone(),
        AgentInput {
            name: Some(name.into()),
            data_source_ids: Some(ds.iter().map(|d| d.id.to_string()).collect()),
            ..Default::default()
        },
    )
    .expect("valid agent")
}

/// Bootstrap creates the first org and key once, never again.
pub async fn bootstrap_only_once(store: &dyn Store) {
    let o = Org::new("default").unwrap();
    let (k, h, _) = ApiKey::mint(
        o.id.clone(),
        "bootstrap",
        Scope::ALL.to_vec(),
        Environment::Live,
        None,
    )
    .unwrap();
    assert!(store.bootstrap(&o, &k, &h).await.unwrap());
    let o2 = Org::new("default").unwrap();
    let (k2, h2, _) = ApiKey::mint(
        o2.id.clone(),
        "bootstrap",
        Scope::ALL.to_vec(),
        Environment::Live,
        None,
    )
    .unwrap();
    assert!(!store.bootstrap(&o2, &k2, &h2).await.unwrap());
    assert_eq!(store.list_orgs().await.unwrap(), vec![o]);
}

/// Keys are found by hash only, scoped by org, and revocation sticks.
pub async fn api_keys_roundtrip_and_revoke(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let (k, h, secret) = ApiKey::mint(
        a.id.clone(),
        "k1",
        vec![Scope::Read, Scope::Admin],
        Environment::Test,
        None,
    )
    .unwrap();
    store.create_api_key(&k, &h).await.unwrap();
    let (found, fh) = store
        .find_api_key(&KeyHash::of(secret.expose()))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found, k);
    assert!(fh.matches(&h));
    assert!(store
        .find_api_key(&KeyHash::of("twigsk_test_nope"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.get_api_key(Some(&a.id), &k.id).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(store.get_api_key(Some(&b.id), &k.id).await.unwrap(), None);
    assert_eq!(
        store
            .list_api_keys(&b.id, true, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(!store
        .revoke_api_key(Some(&b.id), &k.id, time::now())
        .await
        .unwrap());
    assert!(store
        .revoke_api_key(Some(&a.id), &k.id, time::now())
        .await
        .unwrap());
    assert!(
        !store
            .revoke_api_key(Some(&a.id), &k.id, time::now())
            .await
            .unwrap(),
        "second revoke is a no-op"
    );
    let (after, _) = store.find_api_key(&h).await.unwrap().unwrap();
    assert!(after.revoked_at.is_some());
    assert_eq!(
        store
            .list_api_keys(&a.id, false, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .list_api_keys(&a.id, true, Page::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert!(!store
        .revoke_api_key(None, &KeyId::generate(), time::now())
        .await
        .unwrap());
}

/// A key cannot be created for an organisation that does not exist.
pub async fn api_key_needs_existing_org(store: &dyn Store) {
    let ghost = Org::new("ghost").unwrap();
    let (k, h, _) = ApiKey::mint(
        ghost.id.clone(),
        "k",
        vec![Scope::Read],
        Environment::Live,
        None,
    )
    .unwrap();
    assert!(matches!(
        store.create_api_key(&k, &h).await,
        Err(StoreError::Conflict(_))
    ));
}

/// Agents round-trip exactly, keep data-source order, and paginate newest first.
pub async fn agents_crud(store: &dyn Store) {
    let o = org(store, "o").await;
    let d1 = website(store, &o, "one").await;
    let d2 = website(store, &o, "two").await;
    let a = agent(&o, "first", &[&d2, &d1]);
    store.create_agent(&a).await.unwrap();
    assert_eq!(
        store.get_agent(&o.id, &a.id).await.unwrap(),
        Some(a.clone())
    );
    let mut b = agent(&o, "second", &[]);
    b.created_at = a.created_at + chrono::Duration::seconds(1);
    store.create_agent(&b).await.unwrap();
    let page = store
        .list_agents(
            &o.id,
            Page {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items, vec![b.clone()]);
    let page2 = store
        .list_agents(
            &o.id,
            Page {
                limit: 1,
                offset: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(page2.items, vec![a.clone()]);

    let mut changed = a.clone();
    changed.name = "renamed".into();
    changed.data_source_ids = vec![d1.id.clone()];
    assert!(store.update_agent(&changed).await.unwrap());
    assert_eq!(store.get_agent(&o.id, &a.id).await.unwrap(), Some(changed));
    assert!(store.delete_agent(&o.id, &a.id).await.unwrap());
    assert!(!store.delete_agent(&o.id, &a.id).await.unwrap());
    assert_eq!(store.get_agent(&o.id, &a.id).await.unwrap(), None);
    let mut ghost = b.clone();
    ghost.id = AgentId::generate();
    assert!(!store.update_agent(&ghost).await.unwrap());
}

/// Agents may only point at data sources of their own org; a refused write changes nothing.
pub async fn agents_reject_foreign_data_sources(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let foreign = website(store, &b, "theirs").await;
    let mine = website(store, &a, "mine").await;
    let bad = agent(&a, "x", &[&mine, &foreign]);
    match store.create_agent(&bad).await {
        Err(StoreError::UnknownDataSources(ids)) => assert_eq!(ids, vec![foreign.id.clone()]),
        other => panic!("expected UnknownDataSources, got {other:?}"),
    }
    assert_eq!(
        store
            .list_agents(&a.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    let good = agent(&a, "y", &[&mine]);
    store.create_agent(&good).await.unwrap();
    let mut worse = good.clone();
    worse.name = "changed".into();
    worse.data_source_ids = vec![DataSourceId::generate()];
    assert!(matches!(
        store.update_agent(&worse).await,
        Err(StoreError::UnknownDataSources(_))
    ));
    assert_eq!(store.get_agent(&a.id, &good.id).await.unwrap(), Some(good));
}

/// Records of one org are invisible to another.
pub async fn org_isolation(store: &dyn Store) {
    let a = org(store, "a").await;
    let b = org(store, "b").await;
    let ds = website(store, &a, "docs").await;
    let ag = agent(&a, "bot", &[&ds]);
    store.create_agent(&ag).await.unwrap();
    assert_eq!(store.get_agent(&b.id, &ag.id).await.unwrap(), None);
    assert_eq!(store.get_data_source(&b.id, &ds.id).await.unwrap(), None);
    assert_eq!(
        store
            .list_agents(&b.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .list_data_sources(&b.id, None, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(!store.delete_agent(&b.id, &ag.id).await.unwrap());
    assert!(!store.delete_data_source(&b.id, &ds.id).await.unwrap());
    let mut hijack = ag.clone();
    hijack.org_id = b.id.clone();
    hijack.data_source_ids.clear();
    assert!(!store.update_agent(&hijack).await.unwrap());
    assert_eq!(store.get_agent(&a.id, &ag.id).await.unwrap(), Some(ag));
}

/// Data sources round-trip, filter by status, and deleting one unlinks it from agents.
pub async fn data_sources_crud(store: &dyn Store) {
    let o = org(store, "o").await;
    let d1 = website(store, &o, "one").await;
    let d2 = website(store, &o, "two").await;
    assert_eq!(
        store.get_data_source(&o.id, &d1.id).await.unwrap(),
        Some(d1.clone())
    );
    let pending = store
        .list_data_sources(&o.id, Some(DataSourceStatus::Pending), Page::default())
        .await
        .unwrap();
    assert_eq!(pending.total, 2);
    let active = store
        .list_data_sources(&o.id, Some(DataSourceStatus::Active), Page::default())
        .await
        .unwrap();
    assert_eq!(active.total, 0);
    let mut changed = d1.clone();
    changed.name = "renamed".into();
    changed.config.insert("max_pages".into(), json!(5));
    assert!(store.update_data_source(&changed).await.unwrap());
    assert_eq!(
        store.get_data_source(&o.id, &d1.id).await.unwrap(),
        Some(changed)
    );

    let ag = agent(&o, "bot", &[&d1, &d2]);
    store.create_agent(&ag).await.unwrap();
    assert!(store.delete_data_source(&o.id, &d1.id).await.unwrap());
    let after = store.get_agent(&o.id, &ag.id).await.unwrap().unwrap();
    assert_eq!(after.data_source_ids, vec![d2.id.clone()]);
    assert!(!store.delete_data_source(&o.id, &d1.id).await.unwrap());
}

/// Generates one test per conformance check for a backend; `$make` yields a fresh store.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            bootstrap_only_once, api_keys_roundtrip_and_revoke, api_key_needs_existing_org, agents_crud,
            agents_reject_foreign_data_sources, org_isolation, data_sources_crud);
    };
    (@each $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = $make.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}
