//! Greedy packing of pieces (paragraphs, sentences, token windows) into chunks.

use std::ops::Range;

use super::split::{paragraphs, sentences, trim_span};
use super::{Chunk, ChunkingConfig, TokenCounter};

struct Piece {
    range: Range<usize>,
    tokens: usize,
}

/// Splits `text[r]` into windows of at most `limit` tokens; windows are
/// contiguous (gaps between tokens stay with the preceding window) so no text is lost.
fn token_windows(
    text: &str,
    r: Range<usize>,
    limit: usize,
    counter: &dyn TokenCounter,
    out: &mut Vec<Piece>,
) {
    let offs = counter.token_offsets(&text[r.clone()]);
    if offs.len() <= limit {
        // Counter disagrees with itself; keep the span whole rather than lose text.
        let tokens = counter.count(&text[r.clone()]);
        out.push(Piece { range: r, tokens });
        return;
    }
    let starts: Vec<usize> = offs
        .iter()
        .step_by(limit)
        .enumerate()
        .map(|(i, o)| if i == 0 { r.start } else { r.start + o.0 })
        .collect();
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(r.end);
        if let Some(range) = trim_span(text, s..e) {
            let tokens = counter.count(&text[range.clone()]);
            out.push(Piece { range, tokens });
        }
    }
}

/// Finest pieces needed so that each fits in `limit` tokens.
fn pieces(text: &str, limit: usize, counter: &dyn TokenCounter) -> Vec<Piece> {
    let mut out = Vec::new();
    for para in paragraphs(text) {
        let tokens = counter.count(&text[para.clone()]);
        if tokens <= limit {
            out.push(Piece {
                range: para,
                tokens,
            });
            continue;
        }
        for sent in sentences(text, para) {
            let tokens = counter.count(&text[sent.clone()]);
            if tokens <= limit {
                out.push(Piece {
                    range: sent,
                    tokens,
                });
            } else {
                token_windows(text, sent, limit, counter, &mut out);
            }
        }
    }
    out
}

/// Start offsets (in `text`) of the last `overlap` tokens of `text[prev]`, or
/// `None` when the previous chunk is not longer than the overlap.
fn overlap_starts(
    text: &str,
    prev: &Range<usize>,
    overlap: usize,
    counter: &dyn TokenCounter,
) -> Option<Vec<usize>> {
    if overlap == 0 {
        return None;
    }
    let offs = counter.token_offsets(&text[prev.clone()]);
    (offs.len() > overlap).then(|| {
        offs[offs.len() - overlap..]
            .iter()
            .map(|o| prev.start + o.0)
            .collect()
    })
}

/// Chunks one section's `text` and appends to `out`; `base` shifts byte ranges
/// into the caller's coordinate space.
#[allow(clippy::too_many_arguments)]
pub(super) fn chunk_section(
    text: &str,
    base: usize,
    heading_path: &[String],
    section: usize,
    first_position: usize,
    counter: &dyn TokenCounter,
    config: &ChunkingConfig,
    out: &mut Vec<Chunk>,
) {
    let max = config.max_tokens;
    // Pieces leave room for the overlap so every chunk can carry it.
    let pieces = pieces(text, max - config.overlap_tokens, counter);
    let mut prev: Option<Range<usize>> = None;
    let mut i = 0;
    let mut position = first_position;
    while i < pieces.len() {
        let mut starts = prev
            .as_ref()
            .and_then(|p| overlap_starts(text, p, config.overlap_tokens, counter))
            .unwrap_or_default();
        let mut total = starts.len();
        starts.push(pieces[i].range.start);
        let mut start = starts[0];
        let mut j = i;
        while j < pieces.len() && (j == i || total + pieces[j].tokens <= max) {
            total += pieces[j].tokens;
            j += 1;
        }
        // Token counts need not be additive (subword tokenizers): verify and back off.
        let mut tokens = counter.count(&text[start..pieces[j - 1].range.end]);
        while tokens > max && j - 1 > i {
            j -= 1;
            tokens = counter.count(&text[start..pieces[j - 1].range.end]);
        }
        // Still over (the overlap re-tokenises differently mid-word): shrink the
        // overlap by the excess until it fits, at worst dropping it.
        let mut k = 0;
        while tokens > max && k + 1 < starts.len() {
            k = (k + tokens - max).min(starts.len() - 1);
            start = starts[k];
            tokens = counter.count(&text[start..pieces[j - 1].range.end]);
        }
        let range = start..pieces[j - 1].range.end;
        out.push(Chunk {
            text: text[range.clone()].to_string(),
            position,
            heading_path: heading_path.to_vec(),
            token_count: tokens,
            section,
            byte_range: base + range.start..base + range.end,
        });
        position += 1;
        prev = Some(range);
        i = j;
    }
}
