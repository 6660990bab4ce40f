//! The offline extractive answerer: the most relevant sentences of the sources,
//! in source order, each followed by its citation marker. It adds no words of
//! its own: sentences are copied verbatim and joined with a space.

use crate::text;
use std::collections::{HashMap, HashSet};
use twig_core::interaction::Source;

/// Most sentences an extractive answer quotes.
pub const MAX_SENTENCES: usize = 3;

/// A sentence scores at least this share of the best one to be quoted.
const MIN_SHARE_OF_BEST: f64 = 0.5;

struct Candidate {
    source: usize,
    position: usize,
    text: String,
    score: f64,
}

/// Weight of a term the rewrite carried over from earlier turns, against 1 for the
/// user's own words: context narrows the answer, the question decides it.
const CARRIED_WEIGHT: f64 = 0.5;

/// Share of the carried-over context terms a source must hold to stay on topic.
const MIN_CONTEXT_SHARE: f64 = 0.5;

/// Composes an answer to `question` (the standalone rewrite) from `sources` (1-based
/// markers in their order), within `max_tokens` as counted by `count`. `asked` is what
/// the user typed: when some sentence contains one of its terms, only such sentences are
/// quoted, so a follow-up is answered, not its context.
pub fn compose(
    question: &str,
    asked: &str,
    sources: &[Source],
    max_tokens: usize,
    count: &dyn Fn(&str) -> usize,
) -> String {
    let own: HashSet<String> = text::terms(asked).into_iter().collect();
    let q_terms: HashSet<String> = text::terms(question)
        .into_iter()
        .chain(own.iter().cloned())
        .collect();
    let mut cands: Vec<Candidate> = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        for (pi, sent) in text::sentences(&s.chunk_text).into_iter().enumerate() {
            cands.push(Candidate {
                source: si,
                position: pi,
                text: sent,
                score: 0.0,
            });
        }
    }
    if cands.is_empty() {
        return String::new();
    }
    // Inverse document frequency over the candidate sentences: rare query terms weigh more.
    let sent_terms: Vec<HashSet<String>> = cands
        .iter()
        .map(|c| text::terms(&c.text).into_iter().collect())
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for ts in &sent_terms {
        for t in ts {
            *df.entry(t.as_str()).or_default() += 1;
        }
    }
    let n = cands.len() as f64;
    let asks = |ts: &HashSet<String>| ts.iter().any(|t| own.contains(t));
    let must_ask = sent_terms.iter().any(asks);
    // A follow-up's context (terms carried from earlier turns) picks the sources that stay
    // on topic: those whose title and text hold at least half of it, when any does.
    let carried: HashSet<&String> = q_terms.iter().filter(|t| !own.contains(*t)).collect();
    let on_topic: Vec<bool> = sources
        .iter()
        .map(|s| {
            if carried.is_empty() {
                return true;
            }
            let have: HashSet<String> =
                text::terms(&format!("{} {}", s.document_title, s.chunk_text))
                    .into_iter()
                    .collect();
            let hit = carried.iter().filter(|t| have.contains(**t)).count();
            hit as f64 / carried.len() as f64 >= MIN_CONTEXT_SHARE
        })
        .collect();
    let must_topic = cands
        .iter()
        .zip(&sent_terms)
        .any(|(c, ts)| on_topic[c.source] && (!must_ask || asks(ts)));
    for (c, ts) in cands.iter_mut().zip(&sent_terms) {
        if (must_ask && !asks(ts)) || (must_topic && !on_topic[c.source]) {
            c.score = f64::NEG_INFINITY;
            continue;
        }
        let overlap: f64 = ts
            .iter()
            .filter(|t| q_terms.contains(*t))
            .map(|t| {
                let w = if own.contains(t) { 1.0 } else { CARRIED_WEIGHT };
                w * (1.0 + n / df[t.as_str()] as f64).ln()
            })
            .sum();
        // Long sentences match more by chance; a mild length norm keeps short precise ones.
        let len_norm = (ts.len().max(4) as f64 / 4.0).powf(0.25);
        // Retrieval order breaks ties.
        let prior = 0.05 * sources[c.source].similarity_score as f64 / (1.0 + c.source as f64);
        c.score = overlap / len_norm + prior;
    }
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| {
        cands[b]
            .score
            .total_cmp(&cands[a].score)
            .then((cands[a].source, cands[a].position).cmp(&(cands[b].source, cands[b].position)))
    });
    let best = cands[order[0]].score;
    let has_overlap = best > 0.05;
    let mut chosen: Vec<usize> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut used = 0usize;
    for &i in &order {
        if chosen.len() == MAX_SENTENCES {
            break;
        }
        let c = &cands[i];
        if c.score == f64::NEG_INFINITY {
            break;
        }
        if has_overlap && c.score < best * MIN_SHARE_OF_BEST {
            break;
        }
        if !has_overlap && !chosen.is_empty() {
            break;
        }
        // Overlapping chunks repeat sentences; quote each once.
        let key = text::words(&c.text).join(" ");
        if key.is_empty() || !seen.insert(key) {
            continue;
        }
        let cost = count(&cite(&c.text, c.source + 1));
        if used + cost > max_tokens {
            if chosen.is_empty() {
                return truncate_cited(&c.text, c.source + 1, max_tokens, count);
            }
            continue;
        }
        used += cost;
        chosen.push(i);
    }
    chosen.sort_by_key(|&i| (cands[i].source, cands[i].position));
    chosen
        .iter()
        .map(|&i| cite(&cands[i].text, cands[i].source + 1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `sentence` with ` [n]` before its final punctuation.
pub fn cite(sentence: &str, n: usize) -> String {
    let s = sentence.trim_end();
    match s.char_indices().last() {
        Some((i, c)) if matches!(c, '.' | '!' | '?') => format!("{} [{n}]{}", &s[..i], c),
        _ => format!("{s} [{n}]"),
    }
}

/// The longest word prefix of `sentence` whose cited form fits `max_tokens`.
fn truncate_cited(
    sentence: &str,
    n: usize,
    max_tokens: usize,
    count: &dyn Fn(&str) -> usize,
) -> String {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let (mut lo, mut hi) = (0usize, words.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if count(&format!("{} [{n}]", words[..mid].join(" "))) <= max_tokens {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 {
        return String::new();
    }
    format!("{} [{n}]", words[..lo].join(" "))
}

/// Citation markers `[n]` in `sentence`, in order, deduplicated.
pub fn markers(sentence: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let b = sentence.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'[' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 && j < b.len() && b[j] == b']' {
                if let Ok(n) = sentence[i + 1..j].parse::<usize>() {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
                i = j;
            }
        }
        i += 1;
    }
    out
}

/// `sentence` without the markers of `drop` (and the space before each).
pub fn strip_markers(sentence: &str, drop: &[usize]) -> String {
    let mut s = sentence.to_owned();
    for n in drop {
        s = s
            .replace(&format!(" [{n}]"), "")
            .replace(&format!("[{n}]"), "");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use twig_core::id::ChunkId;

    fn src(text: &str, score: f32) -> Source {
        Source {
            chunk_id: ChunkId::generate(),
            document_title: "t".into(),
            document_url: None,
            similarity_score: score,
            chunk_text: text.into(),
        }
    }

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn quotes_relevant_sentences_in_source_order_with_markers() {
        let sources = vec![
            src(
                "Our office is in Lyon. Refunds are issued within 14 days of a return.",
                0.9,
            ),
            src(
                "Shipping is free. A refund needs the original receipt.",
                0.8,
            ),
        ];
        let a = compose(
            "How do refunds work?",
            "How do refunds work?",
            &sources,
            500,
            &words,
        );
        assert_eq!(
            a,
            "Refunds are issued within 14 days of a return [1]. A refund needs the original receipt [2]."
        );
        // Every word of the answer comes from a source (markers aside).
        let all: String = sources
            .iter()
            .map(|s| s.chunk_text.clone())
            .collect::<Vec<_>>()
            .join(" ");
        for w in text::words(&strip_markers(&a, &[1, 2])) {
            assert!(text::words(&all).contains(&w), "{w} is not from a source");
        }
    }

    #[test]
    fn without_overlap_quotes_the_best_sources_first_sentence() {
        let sources = vec![src("Alpha beta gamma. Delta.", 0.8)];
        assert_eq!(
            compose("zzz", "zzz", &sources, 500, &words),
            "Alpha beta gamma [1]."
        );
    }

    #[test]
    fn respects_the_token_budget() {
        let sources = vec![src(
            "Refunds are issued within fourteen days of the return.",
            0.9,
        )];
        let a = compose("refunds", "refunds", &sources, 4, &words);
        assert_eq!(a, "Refunds are issued [1]");
        assert!(words(&a) <= 4);
    }

    #[test]
    fn duplicate_sentences_from_overlapping_chunks_are_quoted_once() {
        let sources = vec![
            src("Refunds take 5 days.", 0.9),
            src("Refunds take 5 days. Other.", 0.8),
        ];
        assert_eq!(
            compose("refunds", "refunds", &sources, 500, &words),
            "Refunds take 5 days [1]."
        );
    }

    #[test]
    fn follow_ups_quote_what_was_asked_not_the_carried_context() {
        let sources = vec![
            src(
                "The phone battery lasts thirty hours. It charges in an hour.",
                0.8,
            ),
            src("The laptop has a one-year warranty.", 0.78),
            src("The phone has a two-year warranty.", 0.75),
        ];
        let a = compose(
            "Does it have a warranty? phone battery",
            "Does it have a warranty?",
            &sources,
            500,
            &words,
        );
        assert_eq!(a, "The phone has a two-year warranty [3].");
    }

    #[test]
    fn markers_parse_and_strip() {
        assert_eq!(markers("A [1] b [12][1] c [x] [3"), vec![1, 12]);
        assert_eq!(
            strip_markers("A fact [2] here [1].", &[2]),
            "A fact here [1]."
        );
    }
}
