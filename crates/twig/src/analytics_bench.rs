//! `twig bench analytics`: how long `GET /analytics` aggregation takes over many interactions.

use std::sync::Arc;
use std::time::Instant;
use twig_core::agent::RagStrategy;
use twig_core::analytics::{AnalyticsQuery, Granularity};
use twig_core::id::{AgentId, ChunkId, InteractionId, SessionId};
use twig_core::interaction::{Feedback, Interaction, InteractionStatus, Source};
use twig_core::org::Org;
use twig_core::store::Store;

/// Stores `rows` interactions over 90 days in a temporary database, then times queries.
pub async fn run(rows: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = twig_store::open(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await?;
    let org = Org::new("bench")?;
    store.create_org(&org).await?;
    let agents: Vec<AgentId> = (0..5).map(|_| AgentId::generate()).collect();
    let sessions: Vec<SessionId> = (0..(rows / 5).max(1))
        .map(|_| SessionId::generate())
        .collect();
    let start = chrono::Utc::now() - chrono::Duration::days(90);
    let span_ms = 90 * 86_400_000i64;
    let t0 = Instant::now();
    for i in 0..rows {
        let r = i as u64;
        let interaction = Interaction {
            id: InteractionId::generate(),
            org_id: org.id.clone(),
            agent_id: agents[i % agents.len()].clone(),
            session_id: Some(
                sessions[(r.wrapping_mul(2_654_435_761) as usize) % sessions.len()].clone(),
            ),
            key_id: None,
            query: "how do I reset my password?".into(),
            rewritten_query: None,
            response: "Click Forgot password [1].".into(),
            sources: if i % 10 == 0 {
                vec![]
            } else {
                vec![Source {
                    chunk_id: ChunkId::generate(),
                    document_title: "Reset".into(),
                    document_url: None,
                    similarity_score: 0.8,
                    chunk_text: "Click Forgot password.".into(),
                }]
            },
            model: "extractive".into(),
            rag_strategy: RagStrategy::Cedar,
            tokens_input: 100,
            tokens_output: 20,
            cost_usd: 0.0001,
            latency_ms: 20 + (r * 7919) % 2000,
            status: if i % 50 == 0 {
                InteractionStatus::Failed
            } else {
                InteractionStatus::Completed
            },
            error: None,
            feedback: match i % 5 {
                0 => Some(Feedback::Positive),
                1 => Some(Feedback::Negative),
                _ => None,
            },
            feedback_comment: None,
            created_at: start + chrono::Duration::milliseconds((r as i64 * 7_654_321) % span_ms),
        };
        store
            .interactions()
            .record_interaction(&interaction, None)
            .await?;
        if (i + 1) % 100_000 == 0 {
            eprintln!(
                "stored {} interactions ({:.0}/s)",
                i + 1,
                (i + 1) as f64 / t0.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "stored {rows} interactions in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let end = chrono::Utc::now() + chrono::Duration::days(1);
    let cases = [
        ("90 days, by day, all agents", None, start, Granularity::Day),
        (
            "90 days, by week, one agent",
            Some(agents[0].clone()),
            start,
            Granularity::Week,
        ),
        (
            "7 days, by hour, all agents",
            None,
            end - chrono::Duration::days(8),
            Granularity::Hour,
        ),
    ];
    println!(
        "{:<32} {:>10} {:>10} {:>12}",
        "query", "p50 ms", "max ms", "interactions"
    );
    for (name, agent, from, g) in cases {
        let q = AnalyticsQuery {
            agent_id: agent,
            start: g.floor(from),
            end,
            granularity: g,
        };
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let (m, _) = store.interactions().analytics(&org.id, &q).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            n = m.total_queries;
        }
        times.sort_by(f64::total_cmp);
        println!("{name:<32} {:>10.1} {:>10.1} {n:>12}", times[2], times[4]);
    }
    Ok(())
}
