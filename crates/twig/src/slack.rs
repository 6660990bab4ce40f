//! The Slack app's answer workers: job runners that claim only `slack.answer` jobs, so an
//! answer never waits behind a long sync. They run in `twig serve`, beside the indexes
//! the answers search (`twig worker` has none).

use crate::config::Settings;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use twig_core::store::Store;
use twig_jobs::{Runner, RunnerConfig};
use twig_slack::{AnswerHandler, SlackClient};

/// Starts `[slack_app] workers` runners answering with `answerer`; they stop when `stop` turns true.
pub fn start(
    settings: &Settings,
    store: Arc<dyn Store>,
    answerer: Arc<twig_answer::Answerer>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let s = &settings.slack_app;
    let client = SlackClient::new(
        &s.base_url,
        &s.bot_token,
        Duration::from_secs(s.timeout_secs),
    )?;
    let handler = Arc::new(AnswerHandler::new(answerer, client));
    let mut tasks = Vec::new();
    for i in 0..s.workers {
        let cfg = RunnerConfig {
            worker_id: format!(
                "slack-{}-{}-{i}",
                std::process::id(),
                twig_core::id::random_base62(6)
            ),
            lease: Duration::from_secs(settings.ingest.job_lease_secs),
            // Someone is waiting in Slack.
            poll_interval: Duration::from_millis(200),
            ..RunnerConfig::default()
        };
        let runner = Arc::new(Runner::new(store.clone(), cfg).register(handler.clone()));
        tasks.push(tokio::spawn(runner.run(stop.clone())));
    }
    tracing::info!(workers = s.workers, "Slack app answering");
    Ok(tasks)
}
