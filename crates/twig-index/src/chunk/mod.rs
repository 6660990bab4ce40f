//! Structure-aware chunking: headings -> paragraphs -> sentences -> token windows,
//! packed greedily to a token budget with a token-exact overlap inside a section.

#[cfg(feature = "hf-tokenizer")]
mod hf;
mod pack;
mod split;
mod structure;

use std::ops::Range;

use crate::error::{IndexError, Result};
#[cfg(feature = "hf-tokenizer")]
pub use hf::HfTokenCounter;

/// Measures text in the embedding model's tokens.
///
/// `count(t)` must equal `token_offsets(t).len()` for the budget to hold exactly;
/// neither should include special tokens such as `[CLS]`/`[SEP]`.
pub trait TokenCounter: Send + Sync {
    /// Number of tokens in `text`.
    fn count(&self, text: &str) -> usize;
    /// Byte spans `(start, end)` of each token of `text`, in order.
    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)>;
}

/// Counts whitespace-separated words; for tests and tokenizer-free setups.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhitespaceCounter;

impl TokenCounter for WhitespaceCounter {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        twig_core::retrieval::word_offsets(text)
    }
}

/// Token budget of a chunk and overlap between consecutive chunks of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkingConfig {
    /// Maximum tokens per chunk (measured by the caller's [`TokenCounter`]).
    pub max_tokens: usize,
    /// Tokens repeated from the end of the previous chunk of the same section.
    pub overlap_tokens: usize,
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            overlap_tokens: 50,
        }
    }
}

impl ChunkingConfig {
    /// Smallest accepted `max_tokens`.
    pub const MIN_MAX_TOKENS: usize = 16;

    /// Checks `max_tokens >= 16` and `overlap_tokens <= max_tokens / 2`
    /// (a larger overlap makes chunking advance too slowly to be useful).
    pub fn validate(&self) -> Result<()> {
        if self.max_tokens < Self::MIN_MAX_TOKENS {
            return Err(IndexError::InvalidConfig(format!(
                "max_tokens must be >= {}, got {}",
                Self::MIN_MAX_TOKENS,
                self.max_tokens
            )));
        }
        if self.overlap_tokens * 2 > self.max_tokens {
            return Err(IndexError::InvalidConfig(format!(
                "overlap_tokens ({}) must be at most half of max_tokens ({})",
                self.overlap_tokens, self.max_tokens
            )));
        }
        Ok(())
    }
}

/// A pre-split section, as produced by an HTML or PDF parser.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Headings enclosing this section, outermost first.
    pub heading_path: Vec<String>,
    /// Body text of the section (without its heading).
    pub text: String,
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Chunk text, always equal to the source slice at `byte_range`.
    pub text: String,
    /// 0-based position of the chunk within the document.
    pub position: usize,
    /// Headings enclosing the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// Token count of `text` per the caller's counter.
    pub token_count: usize,
    /// Index of the section the chunk came from (markdown sections or `Section` list).
    pub section: usize,
    /// Byte range of `text` in the source: the body for [`chunk_text`] and
    /// [`chunk_markdown`], `sections[section].text` for [`chunk_sections`].
    pub byte_range: Range<usize>,
}

/// Chunks plain text (no heading syntax is interpreted).
pub fn chunk_text(
    body: &str,
    counter: &dyn TokenCounter,
    config: &ChunkingConfig,
) -> Result<Vec<Chunk>> {
    config.validate()?;
    let mut out = Vec::new();
    pack::chunk_section(body, 0, &[], 0, 0, counter, config, &mut out);
    Ok(out)
}

/// Chunks Markdown-ish text: ATX `#` headings (outside code fences) open sections
/// and build the heading path; heading lines are not part of chunk text.
pub fn chunk_markdown(
    body: &str,
    counter: &dyn TokenCounter,
    config: &ChunkingConfig,
) -> Result<Vec<Chunk>> {
    config.validate()?;
    let mut out = Vec::new();
    for (i, sec) in structure::markdown_sections(body).into_iter().enumerate() {
        let text = &body[sec.range.clone()];
        pack::chunk_section(
            text,
            sec.range.start,
            &sec.heading_path,
            i,
            out.len(),
            counter,
            config,
            &mut out,
        );
    }
    Ok(out)
}

/// Chunks a list of pre-split sections; byte ranges are relative to each section's text.
pub fn chunk_sections(
    sections: &[Section],
    counter: &dyn TokenCounter,
    config: &ChunkingConfig,
) -> Result<Vec<Chunk>> {
    config.validate()?;
    let mut out = Vec::new();
    for (i, sec) in sections.iter().enumerate() {
        pack::chunk_section(
            &sec.text,
            0,
            &sec.heading_path,
            i,
            out.len(),
            counter,
            config,
            &mut out,
        );
    }
    Ok(out)
}

/// Text to index/embed for retrieval: title, then the heading path joined by
/// `" > "`, then the chunk text, separated by blank lines; empty parts are skipped.
///
/// The title and headings add tokens beyond the chunk budget; leave headroom in
/// `max_tokens` for them when the embedding model truncates.
pub fn retrieval_text(title: &str, heading_path: &[String], text: &str) -> String {
    let headings = heading_path
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .collect::<Vec<_>>()
        .join(" > ");
    [title.trim(), headings.as_str(), text.trim()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_offsets() {
        let c = WhitespaceCounter;
        assert_eq!(c.token_offsets("  ab c\té "), vec![(2, 4), (5, 6), (7, 9)]);
        assert_eq!(c.count("  ab c\té "), 3);
        assert!(c.token_offsets("   ").is_empty());
    }

    #[test]
    fn config_validation() {
        assert!(ChunkingConfig::default().validate().is_ok());
        let bad = ChunkingConfig {
            max_tokens: 8,
            overlap_tokens: 0,
        };
        assert!(bad.validate().is_err());
        let bad = ChunkingConfig {
            max_tokens: 100,
            overlap_tokens: 60,
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn retrieval_text_joins_parts() {
        let h = vec!["Intro".to_string(), " ".to_string(), "Scope".to_string()];
        assert_eq!(
            retrieval_text("Title", &h, " body "),
            "Title\n\nIntro > Scope\n\nbody"
        );
        assert_eq!(retrieval_text("", &[], "body"), "body");
    }

    #[test]
    fn markdown_headings_become_paths() {
        let md = "intro text\n# A\nalpha\n## B\nbeta\n```\n# not a heading\n```\n# C\ngamma";
        let chunks = chunk_markdown(md, &WhitespaceCounter, &ChunkingConfig::default()).unwrap();
        let got: Vec<(Vec<String>, &str)> = chunks
            .iter()
            .map(|c| (c.heading_path.clone(), c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (vec![], "intro text"),
                (vec!["A".into()], "alpha"),
                (
                    vec!["A".into(), "B".into()],
                    "beta\n```\n# not a heading\n```"
                ),
                (vec!["C".into()], "gamma"),
            ]
        );
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.position, i);
            assert_eq!(&md[c.byte_range.clone()], c.text);
        }
    }

    #[test]
    fn long_text_splits_with_overlap() {
        let words: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let body = words.join(" ");
        let cfg = ChunkingConfig {
            max_tokens: 40,
            overlap_tokens: 10,
        };
        let chunks = chunk_text(&body, &WhitespaceCounter, &cfg).unwrap();
        assert!(chunks.len() >= 3);
        for c in &chunks {
            assert!(c.token_count <= 40);
        }
        let first: Vec<&str> = chunks[0].text.split_whitespace().collect();
        let second: Vec<&str> = chunks[1].text.split_whitespace().collect();
        assert_eq!(&first[first.len() - 10..], &second[..10]);
    }

    #[test]
    fn sections_keep_paths_and_positions() {
        let secs = vec![
            Section {
                heading_path: vec!["H".into()],
                text: "one. two.".into(),
            },
            Section {
                heading_path: vec![],
                text: "   ".into(),
            },
            Section {
                heading_path: vec!["K".into()],
                text: "three".into(),
            },
        ];
        let chunks = chunk_sections(&secs, &WhitespaceCounter, &ChunkingConfig::default()).unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].position, 1);
        assert_eq!(chunks[1].section, 2);
        assert_eq!(chunks[1].heading_path, vec!["K".to_string()]);
    }
}
