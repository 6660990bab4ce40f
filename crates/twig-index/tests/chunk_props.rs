//! Property tests of the chunker.

use proptest::prelude::*;
use twig_index::{
    chunk_markdown, chunk_sections, chunk_text, Chunk, ChunkingConfig, Section, TokenCounter,
    WhitespaceCounter,
};

/// Random prose: words (some long, some unicode), sentence ends, newlines, blank lines.
fn prose() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        6 => "[a-z]{1,8}",
        2 => "[A-Z][a-z]{0,6}[.!?]",
        1 => "(e\\.g\\.|Fig\\.|3\\.5|naïve|日本語|x{30,60})",
        1 => Just("\n".to_string()),
        1 => Just("\n\n".to_string()),
    ];
    prop::collection::vec(word, 0..400).prop_map(|w| w.join(" "))
}

fn config() -> impl Strategy<Value = ChunkingConfig> {
    (16usize..80).prop_flat_map(|max| {
        (Just(max), 0..=max / 2).prop_map(|(max_tokens, overlap_tokens)| ChunkingConfig {
            max_tokens,
            overlap_tokens,
        })
    })
}

/// Every non-whitespace byte of `src` outside `skip` lies in some chunk range;
/// ranges match the text and advance monotonically.
fn assert_covers(src: &str, chunks: &[&Chunk], skip: &[std::ops::Range<usize>]) {
    let mut covered = vec![false; src.len()];
    let mut last_start = None;
    for c in chunks {
        assert_eq!(&src[c.byte_range.clone()], c.text);
        if let Some(s) = last_start {
            assert!(c.byte_range.start > s, "chunks must advance");
        }
        last_start = Some(c.byte_range.start);
        covered[c.byte_range.clone()]
            .iter_mut()
            .for_each(|b| *b = true);
    }
    for (i, ch) in src.char_indices() {
        if !ch.is_whitespace() && !skip.iter().any(|r| r.contains(&i)) {
            assert!(covered[i], "lost {ch:?} at byte {i}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn plain_text_invariants(text in prose(), cfg in config()) {
        let c = WhitespaceCounter;
        let chunks = chunk_text(&text, &c, &cfg).unwrap();
        let refs: Vec<&Chunk> = chunks.iter().collect();
        assert_covers(&text, &refs, &[]);
        for (i, ch) in chunks.iter().enumerate() {
            prop_assert_eq!(ch.position, i);
            prop_assert!(ch.token_count <= cfg.max_tokens, "{} > {}", ch.token_count, cfg.max_tokens);
            prop_assert_eq!(ch.token_count, c.count(&ch.text));
            prop_assert!(!ch.text.trim().is_empty());
        }
        // Consecutive chunks share exactly `overlap` tokens (prefix == previous suffix)
        // whenever the previous chunk is longer than the overlap.
        for w in chunks.windows(2) {
            let prev: Vec<&str> = w[0].text.split_whitespace().collect();
            let next: Vec<&str> = w[1].text.split_whitespace().collect();
            if cfg.overlap_tokens > 0 && prev.len() > cfg.overlap_tokens {
                let o = cfg.overlap_tokens;
                prop_assert_eq!(&prev[prev.len() - o..], &next[..o]);
                prop_assert_eq!(w[1].byte_range.start < w[0].byte_range.end, true);
            } else {
                prop_assert!(w[1].byte_range.start >= w[0].byte_range.end);
            }
        }
        // Deterministic.
        prop_assert_eq!(chunk_text(&text, &c, &cfg).unwrap(), chunks);
    }

    #[test]
    fn markdown_invariants(parts in prop::collection::vec((0usize..4, "[A-Za-z ]{0,12}", prose()), 0..6), cfg in config()) {
        let mut md = String::new();
        for (level, heading, body) in &parts {
            if *level > 0 {
                md.push_str(&format!("{} {}\n", "#".repeat(*level), heading));
            }
            md.push_str(body);
            md.push('\n');
        }
        let chunks = chunk_markdown(&md, &WhitespaceCounter, &cfg).unwrap();
        // Heading lines are carried in heading_path, not chunk text.
        let mut skip = Vec::new();
        let mut off = 0;
        for line in md.split_inclusive('\n') {
            if line.starts_with('#') {
                skip.push(off..off + line.len());
            }
            off += line.len();
        }
        let refs: Vec<&Chunk> = chunks.iter().collect();
        assert_covers(&md, &refs, &skip);
        for c in &chunks {
            prop_assert!(c.token_count <= cfg.max_tokens);
        }
    }

    #[test]
    fn sections_invariants(texts in prop::collection::vec(prose(), 0..4), cfg in config()) {
        let sections: Vec<Section> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Section { heading_path: vec![format!("h{i}")], text: t.clone() })
            .collect();
        let chunks = chunk_sections(&sections, &WhitespaceCounter, &cfg).unwrap();
        for (i, s) in sections.iter().enumerate() {
            let mine: Vec<&Chunk> = chunks.iter().filter(|c| c.section == i).collect();
            assert_covers(&s.text, &mine, &[]);
            for c in mine {
                prop_assert_eq!(&c.heading_path, &s.heading_path);
            }
        }
        let positions: Vec<usize> = chunks.iter().map(|c| c.position).collect();
        prop_assert_eq!(positions, (0..chunks.len()).collect::<Vec<_>>());
    }
}

#[test]
fn empty_input_gives_no_chunks() {
    let cfg = ChunkingConfig::default();
    for s in ["", "   \n\n\t ", "\n"] {
        assert!(chunk_text(s, &WhitespaceCounter, &cfg).unwrap().is_empty());
        assert!(chunk_markdown(s, &WhitespaceCounter, &cfg)
            .unwrap()
            .is_empty());
    }
    assert!(
        chunk_markdown("# Only a heading\n## And another", &WhitespaceCounter, &cfg)
            .unwrap()
            .is_empty()
    );
    assert!(chunk_sections(&[], &WhitespaceCounter, &cfg)
        .unwrap()
        .is_empty());
}

#[test]
fn monster_sentence_is_split_at_token_boundaries() {
    let text = (0..1000)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let cfg = ChunkingConfig::default();
    let chunks = chunk_text(&text, &WhitespaceCounter, &cfg).unwrap();
    assert!(chunks.len() >= 2);
    assert!(chunks.iter().all(|c| c.token_count <= 512));
    assert!(chunks[0].text.starts_with("t0 ") && chunks.last().unwrap().text.ends_with("t999"));
}

#[test]
fn invalid_config_is_rejected() {
    let cfg = ChunkingConfig {
        max_tokens: 100,
        overlap_tokens: 51,
    };
    assert!(chunk_text("x", &WhitespaceCounter, &cfg).is_err());
}
