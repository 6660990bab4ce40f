//! The Slack message an answer becomes: its text in mrkdwn, then its sources as links.

use twig_core::interaction::Answer;

/// Escapes the three characters Slack reads as markup (`&`, `<`, `>`).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A mrkdwn link `<url|title>`; a `|` in the URL would end it early, so it is percent-encoded.
pub fn link(url: &str, title: &str) -> String {
    format!(
        "<{}|{}>",
        escape(url).replace('|', "%7C"),
        escape(title).replace('|', "¦")
    )
}

/// The answer's text, followed (when `citations` and there are any) by its sources: one line
/// per document, with the answer's `[n]` markers that point to it.
pub fn message(answer: &Answer, citations: bool) -> String {
    let mut out = escape(answer.response.trim());
    if !citations || answer.sources.is_empty() {
        return out;
    }
    // Several passages of one document are one source line.
    let mut docs: Vec<(Vec<usize>, &str, Option<&str>)> = Vec::new();
    for (i, s) in answer.sources.iter().enumerate() {
        let url = s.document_url.as_deref();
        match docs
            .iter_mut()
            .find(|(_, t, u)| *t == s.document_title && *u == url)
        {
            Some((ns, _, _)) => ns.push(i + 1),
            None => docs.push((vec![i + 1], &s.document_title, url)),
        }
    }
    out.push_str("\n\n*Sources*");
    for (ns, title, url) in docs {
        let marks: String = ns.iter().map(|n| format!("[{n}]")).collect();
        let name = match url {
            Some(u) => link(u, title),
            None => escape(title),
        };
        out.push_str(&format!("\n{marks} {name}"));
    }
    out
}

/// What is posted when the question cannot be answered for a reason the user or an admin
/// can fix (an agent gone or inactive, a question too long…).
pub fn refusal(why: &str) -> String {
    format!("Sorry, I can't answer that: {}", escape(why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twig_core::agent::RagStrategy;
    use twig_core::id::{ChunkId, InteractionId, SessionId};
    use twig_core::interaction::{AnswerMetadata, Source};

    fn source(title: &str, url: Option<&str>) -> Source {
        Source {
            chunk_id: ChunkId::generate(),
            document_title: title.into(),
            document_url: url.map(str::to_owned),
            similarity_score: 0.9,
            chunk_text: "t".into(),
        }
    }

    fn answer(text: &str, sources: Vec<Source>) -> Answer {
        Answer {
            response: text.into(),
            sources,
            metadata: AnswerMetadata {
                interaction_id: InteractionId::generate(),
                latency_ms: 1,
                tokens_input: 1,
                tokens_output: 1,
                cost_usd: 0.0,
                rag_strategy: RagStrategy::Redwood,
                model: "extractive".into(),
                session_id: SessionId::generate(),
                reranker: None,
            },
        }
    }

    #[test]
    fn sources_follow_the_answer_as_links() {
        let a = answer(
            "Refunds take 5 days [1][3]. A <b> & c [2].",
            vec![
                source("Refund policy", Some("https://x.test/refunds?a=1&b=2")),
                source("Handbook | HR", None),
                source("Refund policy", Some("https://x.test/refunds?a=1&b=2")),
            ],
        );
        assert_eq!(
            message(&a, true),
            "Refunds take 5 days [1][3]. A &lt;b&gt; &amp; c [2].\n\n*Sources*\n\
             [1][3] <https://x.test/refunds?a=1&amp;b=2|Refund policy>\n[2] Handbook | HR"
        );
        assert_eq!(
            message(&a, false),
            "Refunds take 5 days [1][3]. A &lt;b&gt; &amp; c [2]."
        );
        assert_eq!(
            message(&answer("I don't know.", vec![]), true),
            "I don't know."
        );
        assert_eq!(
            link("https://a.test/x|y", "T|U"),
            "<https://a.test/x%7Cy|T¦U>"
        );
    }
}
