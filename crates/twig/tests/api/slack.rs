//! Slack data sources end to end: the real server syncing a loopback Slack Web API.

use crate::helpers::{assert_error, TestServer};
use crate::ingest::{
    create_ds, documents, search, sync_killed_midway, wait_synced, wait_synced_after,
};
use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;
use twig_loopback::slack::FakeSlack;

const ENV: &[(&str, &str)] = crate::helpers::CONNECTOR_ENV;

const TOKEN: &str = "xoxb-42-good";

fn config(base: &str, token: &str) -> Value {
    json!({"base_url": base, "token": token})
}

/// `days` ago at noon UTC.
fn noon(days: i64) -> DateTime<Utc> {
    (Utc::now() - Span::days(days))
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
}

/// Three channels with a message on each of the last `days` days, and one thread.
fn populate(s: &FakeSlack, days: i64) -> (String, String) {
    let ada = s.add_user("Ada Lovelace");
    let mut general = String::new();
    for name in ["general", "ops", "support"] {
        let c = s.add_channel(name, false, true);
        for d in 1..=days {
            s.post(
                &c,
                &ada,
                &format!("{name} standup {d}: all systems nominal"),
                noon(d),
            );
        }
        if name == "general" {
            general = c;
        }
    }
    let parent = s.post(&general, &ada, "Who owns the quarterly report?", noon(2));
    s.reply(
        &general,
        &parent,
        &ada,
        "Finance drafts the quarterly report",
        noon(2) + Span::minutes(3),
    );
    (general, ada)
}

#[tokio::test]
async fn channels_sync_survive_kill_9_and_resync_edits() {
    let slack = FakeSlack::new(TOKEN);
    let (_served, base) = slack.serve().await.unwrap();
    let (general, ada) = populate(&slack, 60);
    // Slow enough that a sync is caught between its pages.
    slack.faults.set_latency(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    let ds = create_ds(
        &s,
        json!({"type": "slack", "name": "Slack", "config": config(&base, TOKEN)}),
    )
    .await;
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(r.body["config"]["token"], "********", "{}", r.text);
    assert_eq!(r.body["config"]["lookback_days"], 90, "{}", r.text);
    assert!(!r.text.contains(TOKEN));

    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        t.body,
        json!({"ok": true, "message": "Connection successful, found 3 channels", "items_found": 3})
    );

    let st = sync_killed_midway(&mut s, dir.path(), ENV, &ds, 40).await;
    assert_eq!(st["status"], "active", "{st}");
    let docs = documents(&s, &ds).await;
    // 60 days in each of 3 channels, plus the thread.
    assert_eq!(docs.len(), 181, "none lost");
    let titles: HashSet<&str> = docs.iter().filter_map(|d| d["title"].as_str()).collect();
    assert_eq!(titles.len(), 181, "none duplicated");
    let day = noon(5).date_naive();
    assert!(titles.contains(format!("#ops — {day}").as_str()));
    assert!(titles.contains("#general — thread: Who owns the quarterly report?"));

    let hits = search(&s, "Finance drafts the quarterly report", &ds).await;
    assert_eq!(
        hits[0]["document_title"], "#general — thread: Who owns the quarterly report?",
        "{hits:?}"
    );

    // An edit and a new message reach search on the next sync.
    slack.faults.set_latency(Duration::ZERO);
    slack.post(
        &general,
        &ada,
        "The datacenter move is scheduled for March",
        noon(1) + Span::hours(2),
    );
    let before = st["last_synced_at"].as_str().map(str::to_owned);
    // `last_synced_at` has whole seconds: let the next sync end in a later one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let served = slack.messages_served();
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st = wait_synced_after(&s, &ds, before.as_deref(), Duration::from_secs(60)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert!(
        slack.messages_served() - served < 40,
        "a re-sync reads only the last days"
    );
    let hits = search(&s, "datacenter move scheduled", &ds).await;
    assert_eq!(
        hits[0]["document_title"],
        format!("#general — {}", noon(1).date_naive()),
        "{hits:?}"
    );
    assert_eq!(documents(&s, &ds).await.len(), 181);
}

#[tokio::test]
async fn bad_config_the_alias_and_bad_tokens_are_told_clearly() {
    let slack = FakeSlack::new(TOKEN);
    let (_served, base) = slack.serve().await.unwrap();
    populate(&slack, 2);
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), ENV).await;
    let key = s.admin().to_owned();
    for (patch, field) in [
        (json!({"token": null}), "config.token"),
        (json!({"bot_token": "xoxb-2"}), "config.bot_token"),
        (json!({"channel_ids": ["general"]}), "config.channel_ids"),
        (json!({"lookback_days": 0}), "config.lookback_days"),
        (json!({"include_threads": "yes"}), "config.include_threads"),
        (json!({"base_url": "ftp://x"}), "config.base_url"),
        (json!({"team": "acme"}), "\"team\""),
    ] {
        let mut c = config(&base, TOKEN);
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        let r = s
            .post(
                "/api/v1/data-sources",
                &key,
                json!({"type": "slack", "name": "S", "config": c}),
            )
            .await;
        let msg = assert_error(&r, 400, "invalid_request");
        assert!(msg.contains(field), "{field}: {msg}");
    }
    assert_eq!(s.get("/api/v1/data-sources", &key).await.body["total"], 0);

    // `bot_token` is accepted for `token`.
    let ds = create_ds(
        &s,
        json!({"type": "slack", "name": "S", "config": {"base_url": base, "bot_token": TOKEN}}),
    )
    .await;
    let r = s.get(&format!("/api/v1/data-sources/{ds}"), &key).await;
    assert_eq!(r.body["config"]["token"], "********", "{}", r.text);
    assert!(r.body["config"].get("bot_token").is_none(), "{}", r.text);
    let t = s
        .post(&format!("/api/v1/data-sources/{ds}/test"), &key, json!({}))
        .await;
    assert_eq!(t.body["ok"], true, "{}", t.text);
    s.post(&format!("/api/v1/data-sources/{ds}/sync"), &key, json!({}))
        .await;
    let st = wait_synced(&s, &ds, Duration::from_secs(30)).await;
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(documents(&s, &ds).await.len(), 7);

    let bad = create_ds(
        &s,
        json!({"type": "slack", "name": "B", "config": config(&base, "xoxb-revoked")}),
    )
    .await;
    let t = s
        .post(&format!("/api/v1/data-sources/{bad}/test"), &key, json!({}))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["ok"], false);
    let msg = t.body["message"].as_str().unwrap();
    assert!(
        msg.contains("invalid_auth") && msg.contains("config.token"),
        "{msg}"
    );
    s.post(&format!("/api/v1/data-sources/{bad}/sync"), &key, json!({}))
        .await;
    let st = wait_synced(&s, &bad, Duration::from_secs(30)).await;
    assert_eq!(st["status"], "failed", "{st}");
    let r = s.get(&format!("/api/v1/data-sources/{bad}"), &key).await;
    let err = r.body["last_error"].as_str().unwrap();
    assert!(err.contains("config.token"), "{err}");
}
