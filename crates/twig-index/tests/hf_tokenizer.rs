//! Chunking with the real all-MiniLM-L6-v2 tokenizer (feature `hf-tokenizer`).
//! Set TWIG_TOKENIZER_JSON to a tokenizer.json; skipped otherwise.
#![cfg(feature = "hf-tokenizer")]

use twig_index::chunk::HfTokenCounter;
use twig_index::{chunk_markdown, ChunkingConfig, TokenCounter};

fn counter() -> Option<HfTokenCounter> {
    let path = std::env::var("TWIG_TOKENIZER_JSON").ok()?;
    Some(HfTokenCounter::from_file(path).expect("load tokenizer.json"))
}

#[test]
fn budget_overlap_and_coverage_with_wordpiece() {
    let Some(c) = counter() else {
        eprintln!("TWIG_TOKENIZER_JSON not set; skipping");
        return;
    };
    assert_eq!(c.count("hello world"), 2);
    assert_eq!(
        c.token_offsets("unaffable x"),
        vec![(0, 3), (3, 6), (6, 9), (10, 11)]
    );
    let sentence = "Immunohistochemical characterisation of naïve T-cells (CD4+/CD45RA+) in 3.5% of cases, e.g. Fig. 2; ";
    let monster = "pneumonoultramicroscopicsilicovolcanoconiosis-like ".repeat(120);
    let md = format!(
        "# Methods\n{}\n\n## Results\n{}\n\n{}",
        sentence.repeat(40),
        monster,
        "Short closing paragraph. Another one!"
    );
    for cfg in [
        ChunkingConfig::default(),
        ChunkingConfig {
            max_tokens: 64,
            overlap_tokens: 16,
        },
    ] {
        let chunks = chunk_markdown(&md, &c, &cfg).unwrap();
        assert!(chunks.len() > 2);
        for ch in &chunks {
            assert_eq!(&md[ch.byte_range.clone()], ch.text);
            assert!(
                ch.token_count <= cfg.max_tokens,
                "{} > {}",
                ch.token_count,
                cfg.max_tokens
            );
            assert_eq!(ch.token_count, c.count(&ch.text));
        }
        // Overlap is taken from the previous chunk's last tokens.
        for w in chunks.windows(2).filter(|w| w[0].section == w[1].section) {
            assert!(w[1].byte_range.start < w[0].byte_range.end);
            assert!(w[0]
                .text
                .ends_with(&md[w[1].byte_range.start..w[0].byte_range.end]));
        }
        // No text lost: every non-whitespace byte outside heading lines is covered.
        let mut covered = vec![false; md.len()];
        for ch in &chunks {
            covered[ch.byte_range.clone()]
                .iter_mut()
                .for_each(|b| *b = true);
        }
        let mut off = 0;
        for line in md.split_inclusive('\n') {
            if !line.starts_with('#') {
                for (i, ch) in line.char_indices() {
                    assert!(
                        ch.is_whitespace() || covered[off + i],
                        "lost byte {}",
                        off + i
                    );
                }
            }
            off += line.len();
        }
    }
}
