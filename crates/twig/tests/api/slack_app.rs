//! The Slack app (an answer surface) end to end: the real server receiving signed Events API
//! requests and slash commands, answering through its job with the offline extractive
//! answerer, and posting to a loopback Slack Web API that records what it got.

use crate::helpers::{assert_error, Resp, TestServer};
use crate::ingest::{create_ds, upload, wait_synced};
use crate::site::{page, Site};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::{Duration, Instant};
use twig_loopback::slack::{FakeSlack, Posted};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-17-answer";
const TEAM: &str = "T00000001";
const DM: &str = "D00000777";

/// The signature Slack sends, computed here with the `hmac` crate (not the server's code).
fn slack_signature(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// How a test request is signed.
struct Sig<'a> {
    secret: &'a str,
    /// Seconds added to now for the timestamp header.
    skew: i64,
    retry: Option<u32>,
}

const GOOD: Sig<'static> = Sig {
    secret: SECRET,
    skew: 0,
    retry: None,
};

async fn send(s: &TestServer, path: &str, ct: &str, body: Vec<u8>, sig: Sig<'_>) -> Resp {
    let ts = (now() + sig.skew).to_string();
    let signature = slack_signature(sig.secret, &ts, &body);
    let (path, ct) = (path.to_owned(), ct.to_owned());
    s.raw(move |c, base| {
        let mut b = c
            .post(format!("{base}{path}"))
            .header("content-type", ct)
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(body);
        if let Some(n) = sig.retry {
            b = b
                .header("x-slack-retry-num", n.to_string())
                .header("x-slack-retry-reason", "http_timeout");
        }
        b
    })
    .await
}

async fn event(s: &TestServer, body: &Value, sig: Sig<'_>) -> Resp {
    let bytes = serde_json::to_vec(body).unwrap();
    send(
        s,
        "/integrations/slack/events",
        "application/json",
        bytes,
        sig,
    )
    .await
}

async fn command(s: &TestServer, fields: &[(String, String)], sig: Sig<'_>) -> Resp {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    send(
        s,
        "/integrations/slack/commands",
        "application/x-www-form-urlencoded",
        body.into_bytes(),
        sig,
    )
    .await
}

/// An `event_callback` envelope around `event`.
fn callback(team: &str, event_id: &str, event: Value) -> Value {
    json!({
        "token": "legacy-verification-token", "team_id": team, "api_app_id": "A00000001",
        "type": "event_callback", "event_id": event_id, "event_time": now(),
        "authorizations": [{"team_id": team, "user_id": "U00000001", "is_bot": true}],
        "event": event,
    })
}

fn mention(channel: &str, ts: &str, text: &str) -> Value {
    json!({"type": "app_mention", "user": "U00000042", "text": text, "ts": ts,
        "channel": channel, "event_ts": ts})
}

/// Waits until Slack got `n` posts; answers them.
async fn posts(slack: &FakeSlack, n: usize) -> Vec<Posted> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = slack.posted();
        if p.len() >= n {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} posts: {p:#?}",
            p.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Mentions in `channel` a question only a post proves answered; waits for its answer, so
/// everything sent before it has been through the queue too (or never entered it).
async fn sentinel(s: &TestServer, slack: &FakeSlack, channel: &str, id: &str) -> Vec<Posted> {
    let before = slack.posted().len();
    let ts = format!("{}.900000", now());
    let r = event(
        s,
        &callback(
            TEAM,
            id,
            mention(channel, &ts, "<@U00000001> battery life?"),
        ),
        GOOD,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Answers to earlier events may still be landing: wait for the sentinel's own thread.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = slack.posted();
        if all[before..]
            .iter()
            .any(|p| p.thread_ts.as_deref() == Some(&ts))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no sentinel answer: {all:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    slack.posted()
}

/// A server answering for a Slack workspace: a website source (pages with URLs) and a file
/// source, an agent over both, the loopback Slack as the Web API.
struct Setup {
    s: TestServer,
    slack: FakeSlack,
    site: Site,
    general: String,
    random: String,
    agent: String,
    _served: twig_loopback::Served,
    dir: tempfile::TempDir,
}

fn env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TWIG_INGEST__ALLOW_PRIVATE_NETWORKS", "true".into()),
        ("TWIG_INGEST__JOB_LEASE_SECS", "3".into()),
        // BM25 scores of a tiny corpus are low.
        ("TWIG_ANSWER__SIMILARITY_THRESHOLD", "0.05".into()),
        ("TWIG_SLACK_APP__ENABLED", "true".into()),
        ("TWIG_SLACK_APP__SIGNING_SECRET", SECRET.into()),
        ("TWIG_SLACK_APP__BOT_TOKEN", BOT_TOKEN.into()),
        ("TWIG_SLACK_APP__BASE_URL", base.into()),
    ]
}

async fn start(dir: &std::path::Path, base: &str) -> TestServer {
    let env = env(base);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_in(dir, &pairs).await
}

async fn setup() -> Setup {
    let slack = FakeSlack::new(BOT_TOKEN);
    let (served, base) = slack.serve().await.unwrap();
    let general = slack.add_channel("general", false, true);
    let random = slack.add_channel("random", false, true);
    let site = Site::start(&[
        (
            "/",
            page("Products", "Our products.", &["/warranty", "/battery"]),
        ),
        (
            "/warranty",
            page(
                "Twig Phone warranty",
                "The Twig Phone comes with a two-year warranty covering manufacturing defects. \
                 Warranty claims for the Twig Phone are handled in any Twig store.",
                &[],
            ),
        ),
        (
            "/battery",
            page(
                "Twig Phone battery",
                "The battery of the Twig Phone lasts about thirty hours of normal use.",
                &[],
            ),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &base).await;
    let key = s.admin().to_owned();
    let web = create_ds(
        &s,
        json!({"type": "website", "name": "Site", "config": {"url": format!("{}/", site.base)}}),
    )
    .await;
    s.post(&format!("/api/v1/data-sources/{web}/sync"), &key, json!({}))
        .await;
    let files = create_ds(&s, json!({"type": "file", "name": "Policies"})).await;
    let r = upload(
        &s,
        &key,
        &files,
        &[(
            "refunds.md",
            b"# Refund policy\n\nProducts can be returned within 30 days for a full refund.\n",
        )],
    )
    .await;
    assert!(r.status.is_success(), "{}", r.text);
    for ds in [&web, &files] {
        let st = wait_synced(&s, ds, Duration::from_secs(60)).await;
        assert_eq!(st["status"], "active", "{st}");
    }
    let r = s
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "Support", "data_source_ids": [web, files]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let agent = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .put(
            "/api/v1/integrations/slack",
            &key,
            json!({"team_id": TEAM, "default_agent_id": agent,
                "allowed_channel_ids": [general, DM]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    Setup {
        s,
        slack,
        site,
        general,
        random,
        agent,
        _served: served,
        dir,
    }
}

async fn interactions(s: &TestServer) -> u64 {
    let r = s.get("/api/v1/interactions", s.admin()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["total"].as_u64().unwrap()
}

#[tokio::test]
async fn mentions_are_answered_in_their_thread_once() {
    let Setup {
        mut s,
        slack,
        site,
        general,
        random,
        agent,
        _served,
        dir,
    } = setup().await;

    // Slack's URL check: the challenge comes back.
    let r = event(
        &s,
        &json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"}),
        GOOD,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );

    // A mention: acknowledged at once, answered in its thread with the sources as links.
    let ts = format!("{}.000100", now());
    let ev = callback(
        TEAM,
        "Ev0001",
        mention(
            &general,
            &ts,
            "<@U00000001> How long is the Twig Phone warranty?",
        ),
    );
    let started = Instant::now();
    let r = event(&s, &ev, GOOD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(started.elapsed() < Duration::from_secs(3));
    let p = posts(&slack, 1).await;
    assert_eq!(p[0].channel, general);
    assert_eq!(
        p[0].thread_ts.as_deref(),
        Some(ts.as_str()),
        "in the thread"
    );
    let text = &p[0].text;
    assert!(text.contains("two-year warranty"), "{text}");
    assert!(text.contains("[1]"), "{text}");
    let link = format!("<{}/warranty|Twig Phone warranty>", site.base);
    assert!(text.contains("*Sources*") && text.contains(&link), "{text}");
    assert_eq!(interactions(&s).await, 1, "recorded like any query");
    let r = s.get("/api/v1/interactions", s.admin()).await;
    assert_eq!(
        r.body["interactions"][0]["agent_id"],
        agent.as_str(),
        "the org's default agent answered"
    );

    // Slack retries the same event: 200, and no second answer.
    for n in 1..=2 {
        let r = event(
            &s,
            &ev,
            Sig {
                retry: Some(n),
                ..GOOD
            },
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // A reply in a thread is answered in that thread.
    let reply_ts = format!("{}.000300", now());
    let mut in_thread = mention(&general, &reply_ts, "<@U00000001> and the refund policy?");
    in_thread["thread_ts"] = json!(ts);
    let r = event(&s, &callback(TEAM, "Ev0002", in_thread), GOOD).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Refused: a wrong secret, a stale or future timestamp, no signature. Nothing is posted.
    let fresh = callback(TEAM, "Ev0003", mention(&general, &ts, "<@U00000001> hi"));
    for sig in [
        Sig {
            secret: "not the secret",
            ..GOOD
        },
        Sig { skew: -301, ..GOOD },
        Sig { skew: 400, ..GOOD },
    ] {
        let r = event(&s, &fresh, sig).await;
        assert_error(&r, 401, "unauthorized");
    }
    let body = serde_json::to_vec(&fresh).unwrap();
    let r = s
        .raw(|c, base| {
            c.post(format!("{base}/integrations/slack/events"))
                .header("content-type", "application/json")
                .body(body)
        })
        .await;
    let msg = assert_error(&r, 401, "unauthorized");
    assert!(msg.contains("X-Slack-Signature"), "{msg}");
    // A signed body changed on the way is refused too.
    let ts_now = now().to_string();
    let signed = serde_json::to_vec(&fresh).unwrap();
    let sig = slack_signature(SECRET, &ts_now, &signed);
    let tampered = serde_json::to_vec(&callback(
        TEAM,
        "Ev0003",
        mention(&random, &ts, "<@U00000001> hi"),
    ))
    .unwrap();
    let r = s
        .raw(|c, base| {
            c.post(format!("{base}/integrations/slack/events"))
                .header("content-type", "application/json")
                .header("x-slack-request-timestamp", ts_now)
                .header("x-slack-signature", sig)
                .body(tampered)
        })
        .await;
    assert_error(&r, 401, "unauthorized");

    // Not answered: the bot's own message, an edit, a channel outside the allow-list, a
    // workspace no org connected.
    let mut own = mention(&general, &ts, "<@U00000001> echo");
    own["bot_id"] = json!("B00000001");
    let mut edit = json!({"type": "message", "subtype": "message_changed", "channel": DM,
        "channel_type": "im", "ts": ts, "message": {"text": "edited"}});
    edit["hidden"] = json!(true);
    let others = [
        callback(TEAM, "Ev0004", own),
        callback(TEAM, "Ev0005", edit),
        callback(
            TEAM,
            "Ev0006",
            mention(&random, &ts, "<@U00000001> warranty?"),
        ),
        callback(
            "T00000999",
            "Ev0007",
            mention(&general, &ts, "<@U00000001> warranty?"),
        ),
    ];
    for ev in &others {
        let r = event(&s, ev, GOOD).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    let p = sentinel(&s, &slack, &general, "Ev0008").await;
    assert_eq!(
        p.len(),
        3,
        "the first answer, the thread reply, the sentinel: {p:#?}"
    );
    let reply = p
        .iter()
        .find(|m| m.text.contains("30 days"))
        .unwrap_or_else(|| panic!("{p:#?}"));
    assert_eq!(reply.thread_ts.as_deref(), Some(ts.as_str()));
    assert!(reply.text.contains("Refund policy"), "{}", reply.text);
    assert!(p.iter().all(|m| m.channel == general), "{p:#?}");
    assert_eq!(interactions(&s).await, 3);

    // A direct message is answered where it was written.
    let dm_ts = format!("{}.000500", now());
    let r = event(
        &s,
        &callback(
            TEAM,
            "Ev0009",
            json!({"type": "message", "channel_type": "im", "channel": DM, "user": "U00000042",
                "text": "What is the refund policy?", "ts": dm_ts}),
        ),
        GOOD,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = posts(&slack, 4).await;
    assert_eq!(p[3].channel, DM);
    assert_eq!(p[3].thread_ts, None);
    assert!(p[3].text.contains("30 days"), "{}", p[3].text);

    // After a restart the event ids are still known: a late retry is still a no-op.
    let key = s.admin().to_owned();
    assert!(s.stop().success());
    let base = format!("{}/api", slack_origin(&slack));
    s = start(dir.path(), &base).await;
    s.key = Some(key);
    let r = event(
        &s,
        &ev,
        Sig {
            retry: Some(3),
            ..GOOD
        },
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = sentinel(&s, &slack, &general, "Ev0010").await;
    assert_eq!(p.len(), 5, "only the sentinel was answered: {p:#?}");
}

/// The loopback's origin, from a response URL it makes.
fn slack_origin(slack: &FakeSlack) -> String {
    let u = slack.response_url("x");
    u[..u.find("/commands/").unwrap()].to_owned()
}

#[tokio::test]
async fn slack_failures_are_retried_or_given_up() {
    let Setup {
        s,
        slack,
        general,
        _served,
        site: _site,
        dir: _dir,
        ..
    } = setup().await;
    let ask = |id: &str, ts: &str| {
        callback(
            TEAM,
            id,
            mention(&general, ts, "<@U00000001> Twig Phone warranty?"),
        )
    };
    // Throttled (HTTP 429 with Retry-After), then Slack's own failure: retried until posted.
    slack.faults.throttle_next(1);
    slack.fail_posts_with(&["internal_error"]);
    let ts = format!("{}.000100", now());
    let r = event(&s, &ask("Ev1001", &ts), GOOD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = posts(&slack, 1).await;
    assert_eq!(p[0].thread_ts.as_deref(), Some(ts.as_str()));
    assert_eq!(
        slack.hits("chat.postMessage"),
        2,
        "the 429 never reached it"
    );
    assert_eq!(
        interactions(&s).await,
        1,
        "a retried post does not ask again"
    );

    // `ratelimited` in the body is throttling too.
    slack.fail_posts_with(&["ratelimited"]);
    let r = event(&s, &ask("Ev1002", &format!("{}.000200", now())), GOOD).await;
    assert_eq!(r.status, 200);
    posts(&slack, 2).await;

    // A revoked token or a channel gone: given up at once, not retried.
    let hits = slack.hits("chat.postMessage");
    slack.fail_posts_with(&["invalid_auth", "channel_not_found"]);
    for id in ["Ev1003", "Ev1004"] {
        let r = event(&s, &ask(id, &format!("{}.000300", now())), GOOD).await;
        assert_eq!(r.status, 200);
    }
    let p = sentinel(&s, &slack, &general, "Ev1005").await;
    assert_eq!(p.len(), 3, "{p:#?}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        slack.hits("chat.postMessage"),
        hits + 3,
        "each refused post was tried once"
    );
    assert_eq!(slack.posted().len(), 3);
}

#[tokio::test]
async fn the_slash_command_answers_through_its_response_url() {
    let Setup {
        s,
        slack,
        general,
        _served,
        site: _site,
        dir: _dir,
        ..
    } = setup().await;
    let url = slack.response_url("1001");
    let fields =
        |team: &'static str, channel: &str, text: &str, url: &str| -> Vec<(String, String)> {
            [
                ("token", "legacy"),
                ("team_id", team),
                ("team_domain", "acme"),
                ("channel_id", channel),
                ("channel_name", "general"),
                ("user_id", "U00000042"),
                ("user_name", "ada"),
                ("command", "/twig"),
                ("text", text),
                ("response_url", url),
                ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
                ("api_app_id", "A00000001"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
        };
    let r = command(
        &s,
        &fields(
            TEAM,
            &general,
            "ask How long is the Twig Phone warranty?",
            &url,
        ),
        GOOD,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"response_type": "in_channel"}));
    let deadline = Instant::now() + Duration::from_secs(30);
    while slack.responded().is_empty() {
        assert!(Instant::now() < deadline, "no answer on the response URL");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = slack.responded();
    assert_eq!(got[0].path, "/commands/T00000001/1001/loopback");
    assert_eq!(got[0].body["response_type"], "in_channel");
    let text = got[0].body["text"].as_str().unwrap();
    assert!(text.contains("two-year warranty"), "{text}");
    assert!(text.contains("|Twig Phone warranty>"), "{text}");
    assert!(
        slack.posted().is_empty(),
        "commands answer on their URL only"
    );

    // help, an unknown verb, an empty question: the usage, only to the user.
    for text in ["help", "", "weather", "ask   "] {
        let r = command(&s, &fields(TEAM, &general, text, &url), GOOD).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["response_type"], "ephemeral", "{text:?}");
        assert!(
            r.body["text"].as_str().unwrap().contains("/twig ask"),
            "{}",
            r.text
        );
    }
    // An unconnected workspace and a disallowed channel are told so, to the user alone.
    let r = command(
        &s,
        &fields("T00000999", &general, "ask warranty?", &url),
        GOOD,
    )
    .await;
    assert_eq!(r.body["response_type"], "ephemeral", "{}", r.text);
    assert!(r.body["text"].as_str().unwrap().contains("not connected"));
    let r = command(&s, &fields(TEAM, "C99999999", "ask warranty?", &url), GOOD).await;
    assert_eq!(r.body["response_type"], "ephemeral", "{}", r.text);
    // A command with a bad signature is refused.
    let r = command(
        &s,
        &fields(TEAM, &general, "ask warranty?", &url),
        Sig {
            secret: "wrong",
            ..GOOD
        },
    )
    .await;
    assert_error(&r, 401, "unauthorized");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(slack.responded().len(), 1, "{:#?}", slack.responded());
}

#[tokio::test]
async fn settings_are_validated_admin_only_and_routes_follow_the_config() {
    // The Slack app off (the default): its routes do not exist; the settings do.
    let (s, _d) = TestServer::start().await;
    let key = s.admin().to_owned();
    for path in ["/integrations/slack/events", "/integrations/slack/commands"] {
        let r = s.post(path, &key, json!({})).await;
        assert_error(&r, 404, "not_found");
    }
    let r = s.get("/api/v1/integrations/slack", &key).await;
    assert_error(&r, 404, "not_found");
    let r = s
        .post(
            "/api/v1/agents",
            &key,
            json!({"name": "Support", "data_source_ids": []}),
        )
        .await;
    let agent = r.body["id"].as_str().unwrap().to_owned();
    let good = json!({"team_id": TEAM, "default_agent_id": agent});
    for (patch, field) in [
        (json!({"team_id": null}), "team_id"),
        (json!({"team_id": "acme"}), "team_id"),
        (json!({"team_id": "t00000001"}), "team_id"),
        (json!({"default_agent_id": null}), "default_agent_id"),
        (json!({"default_agent_id": "ds_abc"}), "default_agent_id"),
        (
            json!({"allowed_channel_ids": ["C00000101", "#general"]}),
            "allowed_channel_ids[1]",
        ),
        (
            json!({"allowed_channel_ids": "C00000101"}),
            "allowed_channel_ids",
        ),
        (json!({"show_citations": "yes"}), "show_citations"),
    ] {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = s.put("/api/v1/integrations/slack", &key, body).await;
        assert_error(&r, 400, "invalid_request");
        assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.text);
    }
    let mut unknown = good.clone();
    unknown["bot_token"] = json!("xoxb-1");
    let r = s.put("/api/v1/integrations/slack", &key, unknown).await;
    assert_error(&r, 400, "invalid_request");
    let mut missing = good.clone();
    missing["default_agent_id"] = json!("agent_doesnotexist0000");
    let r = s.put("/api/v1/integrations/slack", &key, missing).await;
    assert_error(&r, 404, "not_found");
    assert_eq!(r.body["error"]["details"]["resource"], "agent");

    // Admin scope only.
    let (_, writer) = s.key_with(&["read", "write", "execute"]).await;
    let r = s
        .put("/api/v1/integrations/slack", &writer, good.clone())
        .await;
    assert_error(&r, 403, "forbidden");
    assert_error(
        &s.get("/api/v1/integrations/slack", &writer).await,
        403,
        "forbidden",
    );
    assert_error(
        &s.call(
            reqwest::Method::GET,
            "/api/v1/integrations/slack",
            None,
            None,
        )
        .await,
        401,
        "unauthorized",
    );

    let r = s
        .put("/api/v1/integrations/slack", &key, good.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["team_id"], TEAM);
    assert_eq!(r.body["default_agent_id"], agent.as_str());
    assert_eq!(r.body["allowed_channel_ids"], json!([]));
    assert_eq!(r.body["show_citations"], true);
    let created = r.body["created_at"].clone();
    let mut changed = good.clone();
    changed["allowed_channel_ids"] = json!(["C00000101", "D00000777", "C00000101"]);
    changed["show_citations"] = json!(false);
    let r = s.put("/api/v1/integrations/slack", &key, changed).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.get("/api/v1/integrations/slack", &key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["allowed_channel_ids"],
        json!(["C00000101", "D00000777"])
    );
    assert_eq!(r.body["show_citations"], false);
    assert_eq!(r.body["created_at"], created);

    // Another organisation cannot take the workspace, and sees none of it.
    let (_, other) = s.other_org_key("read,write,execute,admin");
    assert_error(
        &s.get("/api/v1/integrations/slack", &other).await,
        404,
        "not_found",
    );
    let r = s
        .post(
            "/api/v1/agents",
            &other,
            json!({"name": "Theirs", "data_source_ids": []}),
        )
        .await;
    let theirs = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .put(
            "/api/v1/integrations/slack",
            &other,
            json!({"team_id": TEAM, "default_agent_id": theirs}),
        )
        .await;
    assert_error(&r, 400, "invalid_request");
    assert_eq!(r.body["error"]["details"]["field"], "team_id");
    // Nor name this org's agent.
    let r = s
        .put(
            "/api/v1/integrations/slack",
            &other,
            json!({"team_id": "T00000002", "default_agent_id": agent}),
        )
        .await;
    assert_error(&r, 404, "not_found");
}

#[tokio::test]
async fn an_enabled_app_needs_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _out, err) = {
        let out = std::process::Command::new(crate::helpers::twig_bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("TWIG_EMBEDDING__PROVIDER", "none")
            .env("TWIG_SLACK_APP__ENABLED", "true")
            .env("TWIG_SLACK_APP__BOT_TOKEN", BOT_TOKEN)
            .env_remove("RUST_LOG")
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(!ok);
    assert!(err.contains("slack_app.signing_secret"), "{err}");
    assert!(!err.contains(BOT_TOKEN), "{err}");
}

#[tokio::test]
async fn the_manifest_points_at_the_served_routes() {
    // integrations/slack/manifest.yml is what an admin pastes into Slack: every URL in it
    // must be a route the enabled app serves (a request signed wrongly is refused, not 404).
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../integrations/slack/manifest.yml"),
    )
    .unwrap();
    let paths: Vec<String> = manifest
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let url = l
                .strip_prefix("url:")
                .or_else(|| l.strip_prefix("request_url:"))?;
            let url = url.trim();
            let path = url.strip_prefix("https://twig.example.com")?;
            Some(path.to_owned())
        })
        .collect();
    assert_eq!(
        paths,
        ["/integrations/slack/commands", "/integrations/slack/events"],
        "{manifest}"
    );
    for event in ["app_mention", "message.im"] {
        assert!(manifest.contains(&format!("- {event}\n")), "{event}");
    }
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), "http://127.0.0.1:9").await;
    for path in &paths {
        let bad = Sig {
            secret: "not-the-secret",
            skew: 0,
            retry: None,
        };
        let r = send(&s, path, "application/json", b"{}".to_vec(), bad).await;
        assert_error(&r, 401, "unauthorized");
    }
}
