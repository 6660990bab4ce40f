//! `GET /api/v1/analytics` over real queries: numbers equal what the test computes
//! from the listed interactions; validation; empty ranges are zeros.

use crate::helpers::{assert_error, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn analytics_match_the_interactions() {
    let (s, _d) = TestServer::start().await;
    let a = s.admin().to_owned();
    let ag = s
        .post(
            "/api/v1/agents",
            &a,
            json!({"name": "Help", "data_source_ids": []}),
        )
        .await;
    assert_eq!(ag.status, 201, "{}", ag.text);
    let agent = ag.body["id"].as_str().unwrap().to_owned();
    let mut session: Option<String> = None;
    for q in ["what is pricing?", "and the refund policy?", "who are you?"] {
        let mut body = json!({"agent_id": agent, "query": q});
        if let Some(sid) = &session {
            body["session_id"] = json!(sid);
        }
        let r = s.post("/api/v1/query", &a, body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        session.get_or_insert(
            r.body["metadata"]["session_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // A second conversation.
    let r = s
        .post(
            "/api/v1/query",
            &a,
            json!({"agent_id": agent, "query": "hello"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let list = s.get("/api/v1/interactions?limit=10", &a).await;
    let items = list.body["interactions"].as_array().unwrap().clone();
    assert_eq!(items.len(), 4);
    let first = items[0]["id"].as_str().unwrap();
    let second = items[1]["id"].as_str().unwrap();
    let f = s
        .post(
            &format!("/api/v1/interactions/{first}/feedback"),
            &a,
            json!({"feedback": "positive"}),
        )
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    s.post(
        &format!("/api/v1/interactions/{second}/feedback"),
        &a,
        json!({"feedback": "negative"}),
    )
    .await;

    let today = chrono::Utc::now().date_naive().to_string();
    let r = s
        .get(
            &format!("/api/v1/analytics?start_date={today}&end_date={today}&granularity=hour"),
            &a,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = &r.body["metrics"];
    let lat: Vec<u64> = items
        .iter()
        .map(|i| i["latency_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(m["total_queries"], 4);
    assert_eq!(m["unique_users"], 2, "two sessions");
    let avg = (lat.iter().sum::<u64>() as f64 / 4.0).round() as u64;
    assert_eq!(m["avg_latency_ms"], avg);
    assert_eq!(m["accuracy_rate"], 0.5);
    assert_eq!(m["citation_rate"], 0.0, "no sources: the agent has no data");
    assert_eq!(m["total_cost_usd"], 0.0);
    let series = r.body["time_series"].as_array().unwrap();
    assert_eq!(
        series.len(),
        24,
        "every hour of the day, empty ones included"
    );
    assert_eq!(
        series
            .iter()
            .map(|b| b["queries"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert!(series[0]["timestamp"]
        .as_str()
        .unwrap()
        .ends_with("T00:00:00Z"));

    // Filters, empty ranges and bad input.
    let other =
        format!("/api/v1/analytics?start_date={today}&end_date={today}&agent_id=agent_none1");
    assert_eq!(s.get(&other, &a).await.body["metrics"]["total_queries"], 0);
    let empty = s
        .get(
            "/api/v1/analytics?start_date=2020-01-01&end_date=2020-01-31&granularity=week",
            &a,
        )
        .await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["metrics"]["accuracy_rate"], Value::Null);
    assert_eq!(empty.body["metrics"]["total_queries"], 0);
    assert_eq!(empty.body["time_series"].as_array().unwrap().len(), 5);
    for (qs, field) in [
        ("end_date=2024-01-01", "start_date"),
        ("start_date=2024-01-01", "end_date"),
        ("start_date=2024-02-01&end_date=2024-01-01", "start_date"),
        ("start_date=01/01/2024&end_date=2024-01-02", "start_date"),
        (
            "start_date=2024-01-01&end_date=2024-01-02&granularity=minute",
            "granularity",
        ),
        (
            "start_date=2000-01-01&end_date=2024-01-02&granularity=hour",
            "granularity",
        ),
        (
            "start_date=2024-01-01&end_date=2024-01-02&agent_id=bad",
            "agent_id",
        ),
    ] {
        let r = s.get(&format!("/api/v1/analytics?{qs}"), &a).await;
        assert_error(&r, 400, "invalid_request");
        assert_eq!(
            r.body["error"]["details"]["field"], field,
            "{qs}: {}",
            r.text
        );
    }
    let (_, reader) = s.key_with(&["read", "execute"]).await;
    assert_error(
        &s.get(
            &format!("/api/v1/analytics?start_date={today}&end_date={today}"),
            &reader,
        )
        .await,
        403,
        "forbidden",
    );
}
