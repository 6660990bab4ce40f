//! The connector sync driver, run by the job runner against a scripted remote.
//!
//! This tests the driver (cursors, resumption, deletions, pruning, the error policy), not a
//! vendor: each vendor's connector has its own tests against a loopback server speaking its
//! wire format.

mod support;

use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use twig_core::connector::{
    ChangePage, ConnectionReport, Connector, ConnectorError, Item, ItemContent,
};
use twig_core::datasource::DataSourceStatus;
use twig_core::document::DocumentStatus;
use twig_core::retrieval::SectionInput;

/// What the scripted remote holds, and what it was asked.
#[derive(Default)]
struct RemoteState {
    /// id -> (change sequence, text).
    items: BTreeMap<String, (u64, String)>,
    /// id -> sequence of its deletion.
    deleted: BTreeMap<String, u64>,
    seq: u64,
    /// Report deletions in `changes` (a feed) or only through `list_ids`.
    feed: bool,
    /// Fail the next `changes` call that would serve this page number (0-based) once.
    fail_page: Option<(u64, ConnectorError)>,
    /// Every cursor `changes` was called with.
    calls: Vec<Option<Value>>,
    /// Items served, in order.
    served: Vec<String>,
}

impl RemoteState {
    fn put(&mut self, id: &str, text: &str) {
        self.seq += 1;
        self.items.insert(id.into(), (self.seq, text.into()));
        self.deleted.remove(id);
    }

    fn delete(&mut self, id: &str) {
        self.seq += 1;
        self.items.remove(id);
        self.deleted.insert(id.into(), self.seq);
    }
}

/// Lists changes in sequence order, two per page; cursor `{"since", "page"}`.
struct Scripted(Arc<Mutex<RemoteState>>);

#[async_trait]
impl Connector for Scripted {
    async fn test(&self) -> Result<ConnectionReport, ConnectorError> {
        let n = self.0.lock().unwrap().items.len() as u64;
        Ok(ConnectionReport {
            items_found: n,
            message: format!("Connection successful, found {n} items"),
        })
    }

    async fn changes(&self, cursor: Option<&Value>) -> Result<ChangePage, ConnectorError> {
        let mut st = self.0.lock().unwrap();
        st.calls.push(cursor.cloned());
        let since = cursor.and_then(|c| c["since"].as_u64()).unwrap_or(0);
        let page = cursor.and_then(|c| c["page"].as_u64()).unwrap_or(0);
        if st.fail_page.as_ref().is_some_and(|(p, _)| *p == page) {
            return Err(st.fail_page.take().unwrap().1);
        }
        let mut changed: Vec<(u64, String, String)> = st
            .items
            .iter()
            .filter(|(_, (s, _))| *s > since)
            .map(|(id, (s, t))| (*s, id.clone(), t.clone()))
            .collect();
        changed.sort();
        let start = (page * 2) as usize;
        let slice: Vec<_> = changed.iter().skip(start).take(2).cloned().collect();
        let done = start + slice.len() >= changed.len();
        let items = slice
            .iter()
            .map(|(_, id, text)| Item {
                external_id: id.clone(),
                title: format!("Item {id}"),
                url: Some(format!("https://remote.example/{id}")),
                updated_at: None,
                metadata: serde_json::Map::from_iter([("space".to_string(), json!("ENG"))]),
                content: if text == "BROKEN" {
                    ItemContent::Failed("the remote cannot render this item".into())
                } else {
                    ItemContent::Sections(vec![SectionInput {
                        heading_path: vec![format!("Item {id}")],
                        text: text.clone(),
                        page: None,
                    }])
                },
            })
            .collect();
        let deleted = if st.feed && page == 0 {
            st.deleted
                .iter()
                .filter(|(_, s)| **s > since)
                .map(|(id, _)| id.clone())
                .collect()
        } else {
            Vec::new()
        };
        for (_, id, _) in &slice {
            st.served.push(id.clone());
        }
        let cursor = if done {
            json!({"since": st.seq, "page": 0})
        } else {
            json!({"since": since, "page": page + 1})
        };
        Ok(ChangePage {
            items,
            deleted,
            cursor,
            done,
            total: Some(changed.len() as u64),
        })
    }

    async fn list_ids(&self) -> Result<Option<Vec<String>>, ConnectorError> {
        let st = self.0.lock().unwrap();
        Ok((!st.feed).then(|| st.items.keys().cloned().collect()))
    }
}

struct Rig {
    job: support::SyncRig,
    remote: Arc<Mutex<RemoteState>>,
}

impl Deref for Rig {
    type Target = support::SyncRig;
    fn deref(&self) -> &support::SyncRig {
        &self.job
    }
}

async fn rig(feed: bool) -> Rig {
    let remote = Arc::new(Mutex::new(RemoteState {
        feed,
        ..RemoteState::default()
    }));
    let r = remote.clone();
    let job = support::SyncRig::with(
        "notion",
        json!({"token": "secret_x"}),
        support::Setup {
            opener: Some(Arc::new(move |_, _| {
                Ok(Box::new(Scripted(r.clone())) as Box<dyn Connector>)
            })),
            ..support::Setup::default()
        },
    )
    .await;
    Rig { job, remote }
}

impl Rig {
    /// Status and error of each document, by source key.
    async fn docs(&self) -> BTreeMap<String, (DocumentStatus, Option<String>)> {
        self.job
            .docs()
            .await
            .into_iter()
            .map(|(k, (d, _))| (k, (d.status, d.error)))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn syncs_incrementally_with_deletions_from_a_feed() {
    let rig = rig(true).await;
    {
        let mut st = rig.remote.lock().unwrap();
        for (id, t) in [("a", "alpha text"), ("b", "beta text"), ("c", "gamma text")] {
            st.put(id, t);
        }
        st.put("d", "BROKEN");
        st.put("e", "epsilon text");
    }
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Partial, "{:?}", ds.last_error);
    assert_eq!(ds.last_error.as_deref(), Some("1 of 5 items failed"));
    let docs = rig.docs().await;
    assert_eq!(docs.len(), 5);
    assert_eq!(docs["d"].0, DocumentStatus::Failed);
    assert_eq!(
        docs["d"].1.as_deref(),
        Some("the remote cannot render this item")
    );
    let served_first = rig.remote.lock().unwrap().served.len();
    assert_eq!(served_first, 5);
    let c = rig
        .store
        .sync_counters(&rig.org.id, &ds.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.total, c.done, c.failed), (5, 4, 1));

    // Remote edits: one changed, one deleted, one added.
    {
        let mut st = rig.remote.lock().unwrap();
        st.put("b", "beta rewritten");
        st.delete("c");
        st.put("f", "zeta text");
    }
    let ds = rig.sync().await;
    let st = rig.remote.lock().unwrap().served.clone();
    assert_eq!(
        &st[served_first..],
        ["b", "f"],
        "only what changed is fetched"
    );
    let docs = rig.docs().await;
    assert!(!docs.contains_key("c"), "deleted remotely, deleted here");
    assert_eq!(docs.len(), 5);
    assert_eq!(ds.status, DataSourceStatus::Partial);
    let texts = rig.chunk_texts().await;
    assert!(
        texts.iter().any(|t| t.contains("beta rewritten")),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("beta text")));
    assert!(!texts.iter().any(|t| t.contains("gamma")));
    let hits = rig
        .retriever
        .search(twig_core::retrieval::SearchRequest {
            org_id: rig.org.id.clone(),
            query: "zeta".into(),
            top_k: 5,
            similarity_threshold: None,
            data_source_ids: None,
            mode: twig_core::retrieval::SearchMode::Lexical,
            want_query_embedding: false,
        })
        .await
        .unwrap();
    assert_eq!(hits.hits.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_mid_sync_resumes_after_the_last_committed_page() {
    let rig = rig(true).await;
    {
        let mut st = rig.remote.lock().unwrap();
        for i in 0..6 {
            st.put(&format!("i{i}"), &format!("text number {i}"));
        }
        st.fail_page = Some((2, ConnectorError::Transient("503 from the remote".into())));
    }
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let (pages, served) = {
        let st = rig.remote.lock().unwrap();
        let pages: Vec<u64> = st
            .calls
            .iter()
            .map(|c| c.as_ref().and_then(|c| c["page"].as_u64()).unwrap_or(0))
            .collect();
        (pages, st.served.len())
    };
    // Pages 0 and 1 once, page 2 failed once and was asked again from its own cursor.
    assert_eq!(pages, [0, 1, 2, 2]);
    assert_eq!(served, 6, "no item fetched twice");
    assert_eq!(rig.docs().await.len(), 6);
    assert_eq!(rig.chunk_texts().await.len(), 6, "no chunk duplicated");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_fail_the_sync_at_once() {
    let rig = rig(true).await;
    {
        let mut st = rig.remote.lock().unwrap();
        st.put("a", "alpha");
        st.fail_page = Some((
            0,
            ConnectorError::Auth {
                field: "config.token".into(),
                message:
                    "Notion answered 401 Unauthorized: API token is invalid.; check config.token"
                        .into(),
            },
        ));
    }
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    assert!(
        ds.last_error
            .as_deref()
            .unwrap()
            .contains("API token is invalid"),
        "{:?}",
        ds.last_error
    );
    assert_eq!(rig.remote.lock().unwrap().calls.len(), 1, "no retries");
    assert!(rig.docs().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn remotes_without_a_deletion_feed_are_pruned_by_listing() {
    let rig = rig(false).await;
    {
        let mut st = rig.remote.lock().unwrap();
        st.put("a", "alpha");
        st.put("b", "beta");
    }
    rig.sync().await;
    assert_eq!(rig.docs().await.len(), 2);
    rig.remote.lock().unwrap().delete("a");
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active);
    let docs = rig.docs().await;
    assert_eq!(docs.keys().collect::<Vec<_>>(), ["b"]);
}
