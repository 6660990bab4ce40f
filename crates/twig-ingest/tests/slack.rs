//! The Slack connector through the real sync job, against a loopback Slack Web API.

mod support;

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::Duration;
use twig_core::datasource::DataSourceStatus;
use twig_core::document::{Document, DocumentStatus};
use twig_core::ingest::Ingestor;
use twig_loopback::slack::FakeSlack;
use twig_loopback::Served;

const TOKEN: &str = "xoxb-1-good";

struct Rig {
    job: support::SyncRig,
    slack: FakeSlack,
    _served: Served,
}

impl Deref for Rig {
    type Target = support::SyncRig;
    fn deref(&self) -> &support::SyncRig {
        &self.job
    }
}

/// `days` ago at `hour`:`min` UTC (never today, so never in the future).
fn at(days: i64, hour: u32, min: u32) -> DateTime<Utc> {
    (Utc::now() - Span::days(days))
        .date_naive()
        .and_hms_opt(hour, min, 0)
        .unwrap()
        .and_utc()
}

fn date(days: i64) -> String {
    at(days, 0, 0).date_naive().to_string()
}

/// Ids of what `populate` posted.
struct Posted {
    general: String,
    random: String,
    ada: String,
    grace: String,
    thread: String,
    morning: String,
    yesterday: String,
    random_only: String,
}

/// #general: two messages 3 days ago, a thread that day, one message yesterday, one 30 days
/// ago and one far older than the lookback; #random: one message 2 days ago; #hidden: the bot is not in it.
fn populate(s: &FakeSlack) -> Posted {
    let general = s.add_channel("general", false, true);
    let random = s.add_channel("random", false, true);
    let hidden = s.add_channel("hidden", false, false);
    let ada = s.add_user("Ada Lovelace");
    let grace = s.add_user("Grace Hopper");
    let morning = s.post(
        &general,
        &ada,
        "Morning all, the build is green.",
        at(3, 9, 0),
    );
    s.post(
        &general,
        &grace,
        "Release notes are in <https://docs.example/notes|the notes> &amp; the wiki.",
        at(3, 9, 5),
    );
    let thread = s.post(
        &general,
        &ada,
        "Deploy to staging is stuck on the migration step",
        at(3, 11, 0),
    );
    s.reply(
        &general,
        &thread,
        &grace,
        "Try rerunning with --resume",
        at(3, 11, 4),
    );
    s.reply(
        &general,
        &thread,
        &ada,
        "That fixed it, thanks <@U00000000>",
        at(3, 11, 9),
    );
    let yesterday = s.post(
        &general,
        &grace,
        &format!("<@{ada}> the quarterly report is due Friday"),
        at(1, 15, 30),
    );
    s.post(&general, &grace, "Last month's retro notes", at(30, 10, 0));
    s.post(&general, &ada, "Ancient history", at(200, 12, 0));
    let random_only = s.post(&random, &grace, "Lunch at the taco place?", at(2, 12, 0));
    s.post(&hidden, &ada, "Nobody here sees this", at(2, 12, 0));
    Posted {
        general,
        random,
        ada,
        grace,
        thread,
        morning,
        yesterday,
        random_only,
    }
}

async fn rig(config: Value) -> Rig {
    let slack = FakeSlack::new(TOKEN);
    let (served, base) = slack.serve().await.unwrap();
    let mut cfg = json!({"base_url": base, "token": TOKEN});
    for (k, v) in config.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let job = support::SyncRig::tuned("slack", cfg, |c| {
        c.connector_retry.max_inline_wait = Duration::from_secs(3)
    })
    .await;
    Rig {
        job,
        slack,
        _served: served,
    }
}

impl Rig {
    async fn docs(&self) -> BTreeMap<String, Document> {
        self.job
            .docs()
            .await
            .into_iter()
            .map(|(k, (d, _))| (k, d))
            .collect()
    }

    /// The document's chunks as (id, text): a re-embedded document gets new chunk ids.
    async fn chunks_of(&self, key: &str) -> Vec<(String, String)> {
        let (_, chunks) = self.job.docs().await.remove(key).unwrap();
        chunks
            .into_iter()
            .map(|c| (c.id.to_string(), c.text))
            .collect()
    }

    async fn text_of(&self, key: &str) -> String {
        self.chunks_of(key)
            .await
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn syncs_days_and_threads_then_only_what_changed() {
    let rig = rig(json!({})).await;
    let p = populate(&rig.slack);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    let g = &p.general;
    let day3 = format!("{g}/day/{}", date(3));
    let day1 = format!("{g}/day/{}", date(1));
    let thread = format!("{g}/thread/{}", p.thread);
    let random = format!("{}/day/{}", p.random, date(2));
    let day30 = format!("{g}/day/{}", date(30));
    let mut keys: Vec<&String> = docs.keys().collect();
    keys.sort();
    let mut want = vec![&day3, &day1, &thread, &random, &day30];
    want.sort();
    // The 200-day-old message is beyond lookback_days; #hidden is not the bot's.
    assert_eq!(keys, want);
    assert!(docs.values().all(|d| d.status == DocumentStatus::Indexed));

    let d = &docs[&day3];
    assert_eq!(d.title, format!("#general — {}", date(3)));
    assert_eq!(d.metadata["source"], json!("slack"));
    assert_eq!(d.metadata["channel_name"], json!("general"));
    assert_eq!(d.metadata["channel_id"], json!(g));
    assert_eq!(
        d.metadata["authors"],
        json!(["Ada Lovelace", "Grace Hopper"])
    );
    assert!(d.metadata["first_ts"].is_string() && d.metadata["last_ts"].is_string());
    assert!(
        d.url
            .as_deref()
            .is_some_and(|u| u.starts_with(&format!("https://acme.slack.com/archives/{g}/p"))),
        "{:?}",
        d.url
    );
    let text = rig.text_of(&day3).await;
    assert!(text.contains("[09:00] Ada Lovelace: Morning all"), "{text}");
    assert!(
        text.contains("the notes (https://docs.example/notes) & the wiki"),
        "{text}"
    );
    assert!(
        !text.contains("staging"),
        "the thread is its own document: {text}"
    );

    let t = &docs[&thread];
    assert_eq!(
        t.title,
        "#general — thread: Deploy to staging is stuck on the migration step"
    );
    assert_eq!(t.metadata["kind"], json!("thread"));
    let text = rig.text_of(&thread).await;
    assert!(
        text.contains("Ada Lovelace: Deploy to staging")
            && text.contains("Grace Hopper: Try rerunning"),
        "{text}"
    );
    // An unknown user in a mention keeps its id.
    assert!(text.contains("thanks @U00000000"), "{text}");
    let text = rig.text_of(&day1).await;
    assert!(
        text.contains("@Ada Lovelace the quarterly report"),
        "{text}"
    );
    assert_eq!(
        rig.slack.hits("users.info"),
        3,
        "display names are looked up once per user per sync"
    );

    // An edit, a new reply and a deletion: only those documents change.
    let first_served = rig.slack.messages_served();
    let before: BTreeMap<String, Vec<(String, String)>> = {
        let mut m = BTreeMap::new();
        for k in [&day3, &day1, &thread, &day30] {
            m.insert(k.clone(), rig.chunks_of(k).await);
        }
        m
    };
    rig.slack
        .edit(g, &p.yesterday, "the quarterly report moved to Monday");
    rig.slack.reply(
        g,
        &p.thread,
        &p.grace,
        "Rolled out to prod too",
        at(1, 9, 0),
    );
    rig.slack.delete(&p.random, &p.random_only);
    let served = rig.slack.messages_served();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert!(
        !docs.contains_key(&random),
        "a day whose messages are all gone goes"
    );
    assert_eq!(docs.len(), 4);
    let text = rig.text_of(&day1).await;
    assert!(
        text.contains("moved to Monday (edited)") && !text.contains("Friday"),
        "{text}"
    );
    let text = rig.text_of(&thread).await;
    assert!(text.contains("Rolled out to prod too"), "{text}");
    assert_eq!(
        rig.chunks_of(&day3).await,
        before[&day3],
        "unchanged: not re-embedded"
    );
    assert_ne!(rig.chunks_of(&day1).await, before[&day1]);
    assert_ne!(rig.chunks_of(&thread).await, before[&thread]);
    // The re-sync reads the last days again, not the whole lookback.
    let reread = rig.slack.messages_served() - served;
    assert!(
        reread > 0 && reread < first_served,
        "re-read {reread} of {first_served} messages"
    );
    assert_eq!(rig.chunks_of(&day30).await, before[&day30]);

    // Deleting a thread's parent removes the thread; a deleted message leaves its day.
    rig.slack.delete(g, &p.thread);
    rig.slack.delete(g, &p.morning);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = rig.docs().await;
    assert!(!docs.contains_key(&thread), "the deleted thread goes");
    assert!(docs.contains_key(&day3) && docs.contains_key(&day1));
    let text = rig.text_of(&day3).await;
    assert!(
        !text.contains("staging")
            && !text.contains("Morning all")
            && text.contains("Release notes"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_channels_threads_off_and_unknown_channels() {
    let off = rig(json!({"include_threads": false, "lookback_days": 4})).await;
    let p = populate(&off.slack);
    let ds = off.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = off.docs().await;
    // Four days back, threads off: #general's two days and #random's day.
    let keys: Vec<&String> = docs.keys().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(docs.keys().all(|k| k.contains("/day/")));
    let day3 = off.text_of(&format!("{}/day/{}", p.general, date(3))).await;
    assert!(
        day3.contains("Deploy to staging") && !day3.contains("rerunning"),
        "{day3}"
    );

    let only = rig(json!({"channel_ids": ["C99999999"]})).await;
    populate(&only.slack);
    let ds = only.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(
        err.contains("C99999999") && err.contains("config.channel_ids"),
        "{err}"
    );

    // C00000103 is #hidden, which the bot has not joined.
    let out = rig(json!({"channel_ids": ["C00000103"]})).await;
    populate(&out.slack);
    let ds = out.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.unwrap();
    assert!(
        err.contains("#hidden")
            && err.contains("not a member")
            && err.contains("config.channel_ids"),
        "{err}"
    );
    let t = out.files.test_connection(&out.ds).await.unwrap();
    assert!(
        !t.ok && t.message.contains("config.channel_ids"),
        "{}",
        t.message
    );

    let r2 = rig(json!({})).await;
    let p2 = populate(&r2.slack);
    let hidden_private = r2.slack.add_channel("secret", true, true);
    r2.slack
        .post(&hidden_private, &p2.ada, "Private plans", at(1, 8, 0));
    let ds = r2.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(
        !r2.docs()
            .await
            .keys()
            .any(|k| k.starts_with(&hidden_private)),
        "private channels only when configured"
    );
    let mine = rig(json!({"channel_ids": [hidden_private.clone(), p2.general.clone()]})).await;
    // The same ids exist in this rig's workspace: ids are handed out in the same order.
    let p3 = populate(&mine.slack);
    let secret = mine.slack.add_channel("secret", true, true);
    assert_eq!(secret, hidden_private);
    mine.slack
        .post(&secret, &p3.ada, "Private plans", at(1, 8, 0));
    let ds = mine.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    let docs = mine.docs().await;
    assert!(docs.keys().any(|k| k.starts_with(&secret)));
    assert!(
        !docs.keys().any(|k| k.starts_with(&p3.random)),
        "{:?}",
        docs.keys()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_fails_at_once_naming_config_token() {
    let rig = rig(json!({"token": "xoxb-revoked"})).await;
    populate(&rig.slack);
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.clone().unwrap();
    assert!(
        err.contains("invalid_auth") && err.contains("config.token"),
        "{err}"
    );
    assert_eq!(rig.slack.faults.requests(), 1, "no retries on invalid_auth");
    let t = rig.files.test_connection(&ds).await.unwrap();
    assert!(
        !t.ok && t.message.contains("invalid_auth") && t.message.contains("config.token"),
        "{}",
        t.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_waited_out_and_a_server_error_storm_fails_clearly() {
    let rig = rig(json!({})).await;
    populate(&rig.slack);
    rig.slack.faults.throttle_next(1);
    let started = std::time::Instant::now();
    let ds = rig.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Active, "{:?}", ds.last_error);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(rig.docs().await.len(), 5);

    let storm = self::rig(json!({})).await;
    populate(&storm.slack);
    storm.slack.faults.always(Some(500));
    let ds = storm.sync().await;
    assert_eq!(ds.status, DataSourceStatus::Failed);
    let err = ds.last_error.clone().unwrap();
    assert!(err.contains("500") && err.contains("attempts"), "{err}");
    assert!(
        storm.slack.faults.requests() >= 3,
        "server errors are retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_test_counts_channels() {
    let rig = rig(json!({})).await;
    populate(&rig.slack);
    let t = rig.files.test_connection(&rig.ds).await.unwrap();
    assert!(t.ok, "{}", t.message);
    assert_eq!(t.items_found, Some(2));
    assert_eq!(t.message, "Connection successful, found 2 channels");
    assert_eq!(rig.slack.hits("auth.test"), 1);
}
