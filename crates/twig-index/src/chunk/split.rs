//! Splitting a section into paragraphs and sentences, as byte spans.

use std::ops::Range;

/// Trims whitespace off a span of `text`; `None` if nothing is left.
pub(super) fn trim_span(text: &str, r: Range<usize>) -> Option<Range<usize>> {
    let s = &text[r.clone()];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    (lead < s.len()).then(|| r.start + lead..r.end - trail)
}

/// Paragraphs: runs of non-blank lines separated by blank lines.
pub(super) fn paragraphs(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        match (line.trim().is_empty(), start) {
            (true, Some(s)) => {
                out.extend(trim_span(text, s..line_start));
                start = None;
            }
            (false, None) => start = Some(line_start),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.extend(trim_span(text, s..text.len()));
    }
    out
}

// Words after which a period rarely ends a sentence (lowercased, no final dot).
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "al", "fig", "figs", "dr", "mr", "mrs", "ms", "prof", "vs", "etc", "no",
    "approx", "ca", "cf", "eq", "ref", "refs", "st", "jr", "sr", "inc", "ltd", "vol", "pp", "resp",
    "viz",
];

fn ends_with_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    let lower = word.to_lowercase();
    // Single letters are initials ("J. Smith") or list markers.
    word.chars().count() == 1 || ABBREVIATIONS.contains(&lower.as_str())
}

/// Sentences of a paragraph (`para` is a span of `text`): split after `.!?`
/// (plus closing quotes/brackets) before whitespace and a non-lowercase letter,
/// and at line breaks.
pub(super) fn sentences(text: &str, para: Range<usize>) -> Vec<Range<usize>> {
    let p = &text[para.clone()];
    let mut out = Vec::new();
    let mut start = 0;
    let mut iter = p.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let end = if c == '\n' {
            Some(i)
        } else if matches!(c, '.' | '!' | '?' | '。' | '！' | '？') {
            let mut j = i + c.len_utf8();
            while let Some(&(k, cc)) = iter.peek() {
                if matches!(cc, '"' | '\'' | ')' | ']' | '”' | '’' | '»') {
                    j = k + cc.len_utf8();
                    iter.next();
                } else {
                    break;
                }
            }
            let rest = &p[j..];
            let next = rest.trim_start_matches([' ', '\t']).chars().next();
            let spaced = rest.starts_with(char::is_whitespace);
            let ok_next = next.is_none_or(|n| !n.is_lowercase());
            let abbrev = c == '.' && ends_with_abbreviation(&p[start..i]);
            (spaced && ok_next && !abbrev).then_some(j)
        } else {
            None
        };
        if let Some(e) = end {
            out.extend(trim_span(p, start..e).map(|r| r.start + para.start..r.end + para.start));
            start = e;
        }
    }
    out.extend(trim_span(p, start..p.len()).map(|r| r.start + para.start..r.end + para.start));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(t: &str) -> Vec<&str> {
        sentences(t, 0..t.len())
            .into_iter()
            .map(|r| &t[r])
            .collect()
    }

    #[test]
    fn splits_paragraphs_on_blank_lines() {
        let t = "a b\nc\n\n  \n d \n\ne";
        let p: Vec<&str> = paragraphs(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(p, vec!["a b\nc", "d", "e"]);
    }

    #[test]
    fn sentence_rules() {
        assert_eq!(
            sents("It works. Really! Does it? yes."),
            vec!["It works.", "Really!", "Does it? yes."]
        );
        assert_eq!(
            sents("See Fig. 3 and e.g. this. Smith et al. Found 3.5 mg."),
            vec!["See Fig. 3 and e.g. this.", "Smith et al. Found 3.5 mg."]
        );
        assert_eq!(
            sents("He said \"stop.\" Then left."),
            vec!["He said \"stop.\"", "Then left."]
        );
        assert_eq!(
            sents("- item one\n- item two"),
            vec!["- item one", "- item two"]
        );
    }
}
