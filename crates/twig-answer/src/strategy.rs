//! The steps around retrieval: standalone-question rewrite (cedar), query
//! expansion, fusion, reranking and citation verification (cypress), each
//! with an LLM path and an offline one.

use crate::extractive;
use crate::text;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use twig_core::interaction::{Source, Turn, TurnRole};
use twig_core::llm::{ChatMessage, ChatModel, ChatRequest, LlmError, Role};
use twig_core::retrieval::SearchHit;

/// A chat model and the provider's name for it.
#[derive(Clone)]
pub struct Llm {
    /// The provider.
    pub model: Arc<dyn ChatModel>,
    /// Provider-side model name.
    pub upstream: String,
}

/// Time spent waiting on the model, summed over calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct LlmClock(pub Duration);

impl Llm {
    /// One short, deterministic completion.
    async fn ask(
        &self,
        system: &str,
        messages: Vec<ChatMessage>,
        max_tokens: u32,
        clock: &mut LlmClock,
    ) -> Result<String, LlmError> {
        let started = Instant::now();
        let res = self
            .model
            .complete(ChatRequest {
                model: self.upstream.clone(),
                system: Some(system.to_owned()),
                messages,
                temperature: Some(0.0),
                max_tokens: Some(max_tokens),
            })
            .await;
        clock.0 += started.elapsed();
        Ok(res?.text.trim().to_owned())
    }
}

/// Chat messages of earlier turns.
pub fn history_messages(history: &[Turn]) -> Vec<ChatMessage> {
    history
        .iter()
        .map(|t| ChatMessage {
            role: match t.role {
                TurnRole::User => Role::User,
                TurnRole::Assistant => Role::Assistant,
            },
            content: t.content.clone(),
        })
        .collect()
}

/// Most terms the offline rewrite carries over from earlier turns.
const MAX_CARRIED_TERMS: usize = 8;

/// Offline standalone rewrite: a follow-up gets the key terms of the previous user
/// turns (most recent first) that it does not already contain, appended.
pub fn rewrite_offline(query: &str, history: &[Turn]) -> String {
    if history.is_empty() || !text::is_follow_up(query) {
        return query.to_owned();
    }
    let have: HashSet<String> = text::terms(query).into_iter().collect();
    let mut seen_stems = have.clone();
    let mut carried: Vec<String> = Vec::new();
    for t in history.iter().rev().filter(|t| t.role == TurnRole::User) {
        for w in text::content_words(&t.content) {
            if carried.len() == MAX_CARRIED_TERMS {
                break;
            }
            if seen_stems.insert(text::stem(&w)) {
                carried.push(w);
            }
        }
    }
    if carried.is_empty() {
        query.to_owned()
    } else {
        format!("{} {}", query.trim(), carried.join(" "))
    }
}

const REWRITE_PROMPT: &str = "Rewrite the user's last message as one standalone question that can be understood \
without the conversation: resolve pronouns and references from the earlier turns. Do not answer it. \
Reply with the question only.";

/// Standalone rewrite with the LLM; falls back to the offline rewrite when the call fails.
pub async fn rewrite_llm(llm: &Llm, query: &str, history: &[Turn], clock: &mut LlmClock) -> String {
    if history.is_empty() {
        return query.to_owned();
    }
    let mut messages = history_messages(history);
    messages.push(ChatMessage {
        role: Role::User,
        content: query.to_owned(),
    });
    match llm.ask(REWRITE_PROMPT, messages, 200, clock).await {
        Ok(q) if !q.is_empty() => q.lines().next().unwrap_or(&q).trim().to_owned(),
        Ok(_) => rewrite_offline(query, history),
        Err(e) => {
            tracing::warn!(error = %e, "query rewrite failed; using the offline rewrite");
            rewrite_offline(query, history)
        }
    }
}

/// Offline expansion: the question, its content keywords, and its multi-word phrases.
pub fn expand_offline(question: &str, max: usize) -> Vec<String> {
    let mut out = vec![question.to_owned()];
    let keywords = text::content_words(question).join(" ");
    let phrases = text::phrases(question).join(" ");
    for v in [keywords, phrases] {
        if !v.is_empty() && !out.iter().any(|o| text::words(o) == text::words(&v)) {
            out.push(v);
        }
    }
    out.truncate(max.max(1));
    out
}

const EXPAND_PROMPT: &str = "Write up to 3 different search queries that would find passages answering the \
user's question: rephrase it, use synonyms, name the underlying concepts. One query per line, nothing else.";

/// Expansion with the LLM: the question plus its suggestions (offline variants if it fails).
pub async fn expand_llm(
    llm: &Llm,
    question: &str,
    max: usize,
    clock: &mut LlmClock,
) -> Vec<String> {
    let msg = vec![ChatMessage {
        role: Role::User,
        content: question.to_owned(),
    }];
    match llm.ask(EXPAND_PROMPT, msg, 200, clock).await {
        Ok(text) => {
            let mut out = vec![question.to_owned()];
            for line in text.lines() {
                let q = line
                    .trim()
                    .trim_start_matches(|c: char| {
                        c.is_ascii_digit() || matches!(c, '.' | ')' | '-' | '*' | ' ')
                    })
                    .trim_matches('"')
                    .trim();
                if !q.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(q)) {
                    out.push(q.to_owned());
                }
            }
            out.truncate(max.max(1));
            out
        }
        Err(e) => {
            tracing::warn!(error = %e, "query expansion failed; using offline variants");
            expand_offline(question, max)
        }
    }
}

/// Reciprocal-rank fusion (k = 60) of several result lists; a chunk keeps its best similarity.
pub fn fuse(lists: Vec<Vec<SearchHit>>) -> Vec<SearchHit> {
    const K: f64 = 60.0;
    let mut score: HashMap<String, f64> = HashMap::new();
    let mut best: HashMap<String, SearchHit> = HashMap::new();
    for list in lists {
        for (rank, h) in list.into_iter().enumerate() {
            let id = h.chunk_id.to_string();
            *score.entry(id.clone()).or_default() += 1.0 / (K + rank as f64 + 1.0);
            match best.get(&id) {
                Some(b) if b.similarity_score >= h.similarity_score => {}
                _ => {
                    best.insert(id, h);
                }
            }
        }
    }
    let mut out: Vec<SearchHit> = best.into_values().collect();
    out.sort_by(|a, b| {
        score[b.chunk_id.as_str()]
            .total_cmp(&score[a.chunk_id.as_str()])
            .then(b.similarity_score.total_cmp(&a.similarity_score))
            .then(a.chunk_id.cmp(&b.chunk_id))
    });
    out
}

const RERANK_PROMPT: &str =
    "You rank passages by how well they answer the question. Reply with the numbers of \
the relevant passages, most relevant first, separated by commas, and nothing else.";

/// Reorders `hits` by the LLM's ranking; passages it leaves out follow in their fused order.
pub async fn rerank_llm(
    llm: &Llm,
    question: &str,
    hits: Vec<SearchHit>,
    clock: &mut LlmClock,
) -> Result<Vec<SearchHit>, LlmError> {
    let mut prompt = format!("Question: {question}\n\nPassages:\n");
    for (i, h) in hits.iter().enumerate() {
        let snippet: String = h.text.chars().take(600).collect();
        prompt.push_str(&format!("[{}] {}\n", i + 1, snippet.replace('\n', " ")));
    }
    let msg = vec![ChatMessage {
        role: Role::User,
        content: prompt,
    }];
    let answer = llm.ask(RERANK_PROMPT, msg, 100, clock).await?;
    let mut order: Vec<usize> = Vec::new();
    for tok in answer.split(|c: char| !c.is_ascii_digit()) {
        if let Ok(n) = tok.parse::<usize>() {
            if (1..=hits.len()).contains(&n) && !order.contains(&(n - 1)) {
                order.push(n - 1);
            }
        }
    }
    for i in 0..hits.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    let mut slots: Vec<Option<SearchHit>> = hits.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// Share of a sentence's content terms a source must contain to support it (offline check).
pub const SUPPORT_SHARE: f64 = 0.5;

/// Whether `source` supports `sentence` by word overlap.
pub fn supports_offline(sentence: &str, source: &str) -> bool {
    let claim = text::terms(&extractive::strip_markers(
        sentence,
        &extractive::markers(sentence),
    ));
    if claim.is_empty() {
        return true;
    }
    let have: HashSet<String> = text::terms(source).into_iter().collect();
    let hit = claim.iter().filter(|t| have.contains(*t)).count();
    hit as f64 / claim.len() as f64 >= SUPPORT_SHARE
}

/// The sentences of an answer (split where the sentence splitter splits).
fn answer_sentences(answer: &str) -> Vec<String> {
    text::sentences(answer)
}

const VERIFY_PROMPT: &str =
    "For each numbered claim, say whether the passage quoted with it supports the claim. \
Reply with one line per claim: its number, a colon, and yes or no.";

/// Drops every citation whose source does not support the sentence citing it; returns
/// the checked answer and how many citations were dropped. With `llm`, the model judges
/// (one call for all pairs); pairs it does not judge, or all when it fails, use word overlap.
pub async fn verify_citations(
    answer: &str,
    sources: &[Source],
    llm: Option<&Llm>,
    clock: &mut LlmClock,
) -> (String, usize) {
    let sentences = answer_sentences(answer);
    // (sentence, marker) pairs that point at a real source.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut invalid: Vec<(usize, usize)> = Vec::new();
    for (si, s) in sentences.iter().enumerate() {
        for n in extractive::markers(s) {
            if (1..=sources.len()).contains(&n) {
                pairs.push((si, n));
            } else {
                invalid.push((si, n));
            }
        }
    }
    let mut verdict: HashMap<(usize, usize), bool> = HashMap::new();
    if let (Some(llm), false) = (llm, pairs.is_empty()) {
        let mut prompt = String::new();
        for (p, (si, n)) in pairs.iter().enumerate() {
            let claim =
                extractive::strip_markers(&sentences[*si], &extractive::markers(&sentences[*si]));
            let passage: String = sources[n - 1].chunk_text.chars().take(800).collect();
            prompt.push_str(&format!(
                "{}. Claim: {claim}\n   Passage: {}\n",
                p + 1,
                passage.replace('\n', " ")
            ));
        }
        let msg = vec![ChatMessage {
            role: Role::User,
            content: prompt,
        }];
        match llm
            .ask(VERIFY_PROMPT, msg, 20 * pairs.len() as u32 + 20, clock)
            .await
        {
            Ok(reply) => {
                for line in reply.lines() {
                    let Some((num, rest)) = line.split_once(':') else {
                        continue;
                    };
                    let Ok(p) = num.trim().trim_end_matches('.').parse::<usize>() else {
                        continue;
                    };
                    let rest = rest.trim().to_lowercase();
                    if let Some(pair) = p.checked_sub(1).and_then(|i| pairs.get(i)) {
                        if rest.starts_with("yes") {
                            verdict.insert(*pair, true);
                        } else if rest.starts_with("no") {
                            verdict.insert(*pair, false);
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "citation check by the model failed; using word overlap")
            }
        }
    }
    let mut dropped = invalid.len();
    let mut out = Vec::with_capacity(sentences.len());
    for (si, s) in sentences.iter().enumerate() {
        let mut drop: Vec<usize> = invalid
            .iter()
            .filter(|(i, _)| *i == si)
            .map(|(_, n)| *n)
            .collect();
        for (_, n) in pairs.iter().filter(|(i, _)| *i == si) {
            let ok = verdict
                .get(&(si, *n))
                .copied()
                .unwrap_or_else(|| supports_offline(s, &sources[n - 1].chunk_text));
            if !ok {
                drop.push(*n);
            }
        }
        dropped += drop.len() - invalid.iter().filter(|(i, _)| *i == si).count();
        out.push(if drop.is_empty() {
            s.clone()
        } else {
            extractive::strip_markers(s, &drop)
        });
    }
    (out.join(" "), dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use twig_core::time;

    fn user(s: &str) -> Turn {
        Turn {
            role: TurnRole::User,
            content: s.into(),
            timestamp: time::now(),
            sources: vec![],
        }
    }

    #[test]
    fn offline_rewrite_carries_key_terms_into_follow_ups() {
        let h = vec![
            user("What is the refund policy for laptops?"),
            Turn {
                role: TurnRole::Assistant,
                ..user("Refunds take 14 days [1].")
            },
        ];
        assert_eq!(
            rewrite_offline("How long does it take?", &h),
            "How long does it take? refund policy laptops"
        );
        let standalone = "What is the warranty period for tablet batteries?";
        assert_eq!(rewrite_offline(standalone, &h), standalone);
        assert_eq!(
            rewrite_offline("How long does it take?", &[]),
            "How long does it take?"
        );
    }

    #[test]
    fn offline_expansion_adds_keyword_and_phrase_variants() {
        assert_eq!(
            expand_offline("What is the refund policy for gaming laptops?", 4),
            vec![
                "What is the refund policy for gaming laptops?".to_owned(),
                "refund policy gaming laptops".to_owned()
            ]
        );
        assert_eq!(
            expand_offline("Refund policy; gaming laptops", 4).len(),
            1,
            "same words are one query"
        );
    }

    #[test]
    fn offline_support_check() {
        assert!(supports_offline(
            "Refunds take 14 days [1].",
            "A refund takes 14 days after the return."
        ));
        assert!(!supports_offline(
            "Shipping to Mars is free [1].",
            "A refund takes 14 days after the return."
        ));
    }
}
