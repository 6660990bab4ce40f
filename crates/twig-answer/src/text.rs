//! Small text tools the offline paths share: words, content terms, sentences.
//!
//! Hand-written because they are a few lines each and must behave the same in
//! the rewrite, the expansion, the extractive answerer and citation checks.

/// English function words that carry no topic (pronouns, auxiliaries, question words).
const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "been", "before", "being", "between", "both", "but", "by", "can", "could", "did",
    "do", "does", "doing", "done", "during", "each", "else", "for", "from", "further", "get",
    "gets", "got", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his",
    "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "let", "me", "more",
    "most", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "one", "only", "or",
    "other", "our", "ours", "out", "over", "own", "please", "same", "she", "should", "so", "some",
    "such", "tell", "than", "that", "the", "their", "theirs", "them", "then", "there", "these",
    "they", "this", "those", "through", "to", "too", "under", "until", "up", "us", "very", "was",
    "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will",
    "with", "would", "you", "your", "yours", "about", "many", "much", "long", "take", "takes",
    "know", "there's", "what's", "it's", "that's", "thing", "things", "way", "ways", "mean",
    "means", "explain", "describe", "give", "need", "want", "like", "may", "might", "must",
    "shall", "yes", "ok", "okay", "thanks", "thank", "again", "instead", "other", "another",
];

/// Words that point back to something said earlier.
const ANAPHORA: &[&str] = &[
    "it", "its", "it's", "that", "this", "these", "those", "they", "them", "their", "there", "he",
    "she", "him", "her", "his", "hers", "one", "ones", "same", "former", "latter", "above", "else",
    "also", "instead", "another", "other",
];

/// Lower-cased words (letters, digits, inner `'`/`-`), in order.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let inner = (c == '\'' || c == '-' || c == '.')
            && !cur.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() || inner {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether `w` (lower case) is a function word.
pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

/// A crude English stem so `refunds`/`refund`, `processing`/`processed`,
/// `charge`/`charging` meet.
pub fn stem(w: &str) -> String {
    let w = w.trim_end_matches("'s");
    let mut out = w.to_owned();
    for suffix in ["ing", "ies", "ed", "es", "s"] {
        if let Some(base) = w.strip_suffix(suffix) {
            if base.chars().count() >= 3 && !w.ends_with("ss") {
                out = if suffix == "ies" {
                    format!("{base}y")
                } else {
                    base.to_owned()
                };
                break;
            }
        }
    }
    if out.chars().count() > 3 && out.ends_with('e') && !out.ends_with("ee") {
        out.pop();
    }
    out
}

/// Content words of `text` (no function words, no single letters), in order, as written.
pub fn content_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| !is_stopword(w) && (w.chars().count() > 1 || w.chars().all(char::is_numeric)))
        .collect()
}

/// Stems of the content words of `text`, deduplicated, in order.
pub fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in content_words(text) {
        let s = stem(&w);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Whether `query` refers back to earlier turns (a pronoun, or too few words of its own).
pub fn is_follow_up(query: &str) -> bool {
    let ws = words(query);
    ws.iter().any(|w| ANAPHORA.contains(&w.as_str())) || content_words(query).len() <= 2
}

/// Maximal runs of two or more consecutive content words (noun-phrase-like), as written.
pub fn phrases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, out: &mut Vec<String>| {
        if run.len() >= 2 {
            out.push(run.join(" "));
        }
        run.clear();
    };
    for w in words(text) {
        if is_stopword(&w) {
            flush(&mut run, &mut out);
        } else {
            run.push(w);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Splits text into sentences: after `.`, `!`, `?` (and line breaks) followed by
/// whitespace and an upper-case letter, digit or quote; abbreviations like `e.g.` stay.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut start = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let boundary = if c == '\n' {
            // A blank line, or a line break after a sentence end, ends a sentence.
            let prev = text[start..pos].trim_end();
            chars.get(i + 1).is_some_and(|(_, n)| *n == '\n')
                || prev.ends_with(['.', '!', '?', ':'])
                || prev.is_empty()
        } else if matches!(c, '.' | '!' | '?') {
            let next_ws = chars.get(i + 1).is_some_and(|(_, n)| n.is_whitespace());
            let after = chars[i + 1..]
                .iter()
                .map(|(_, ch)| *ch)
                .find(|ch| !ch.is_whitespace());
            let starts = after
                .is_none_or(|ch| ch.is_uppercase() || ch.is_numeric() || ch == '"' || ch == '(');
            let word_before: String = text[start..pos]
                .rsplit(|ch: char| ch.is_whitespace())
                .next()
                .unwrap_or("")
                .to_owned();
            // "e.g." / "i.e." / "Dr." / single initials are not sentence ends.
            let abbrev = c == '.'
                && (word_before.contains('.')
                    || word_before.chars().count() == 1
                    || ["dr", "mr", "mrs", "ms", "vs", "etc", "fig", "no", "approx"]
                        .contains(&word_before.to_lowercase().as_str()));
            next_ws && starts && !abbrev
        } else {
            false
        };
        if boundary {
            let end = pos + c.len_utf8();
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s.to_owned());
            }
            start = end;
        }
        i += 1;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// Tokens of `text` without a tokenizer: one per 4 bytes, the usual English rule of thumb.
pub fn approx_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_ends_not_abbreviations() {
        let s = sentences(
            "Refunds take 5 days. See e.g. the policy! Is it 3.5 days? Yes.\nNew line here",
        );
        assert_eq!(
            s,
            vec![
                "Refunds take 5 days.",
                "See e.g. the policy!",
                "Is it 3.5 days?",
                "Yes.",
                "New line here"
            ]
        );
    }

    #[test]
    fn terms_drop_function_words_and_stem() {
        assert_eq!(
            terms("What is the refund policy for laptops?"),
            vec!["refund", "policy", "laptop"]
        );
        assert_eq!(stem("processing"), "process");
        assert_eq!(stem("class"), "class");
        assert_eq!(stem("charging"), stem("charge"));
        assert_eq!(stem("charges"), stem("charge"));
    }

    #[test]
    fn follow_ups_are_recognised() {
        assert!(is_follow_up("How long does it take?"));
        assert!(is_follow_up("And for tablets?"));
        assert!(!is_follow_up(
            "What is the warranty period for laptop batteries?"
        ));
    }

    #[test]
    fn phrases_are_runs_of_content_words() {
        assert_eq!(
            phrases("What is the refund policy for gaming laptops"),
            vec!["refund policy", "gaming laptops"]
        );
    }
}
