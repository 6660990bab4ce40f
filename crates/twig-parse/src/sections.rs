//! Helpers that turn a stream of headings and paragraphs into bounded [`Section`]s.

use crate::types::Section;

/// Sections longer than this are split at a paragraph boundary so callers get bounded units.
pub(crate) const MAX_SECTION_CHARS: usize = 32 * 1024;

/// Collapses every whitespace run (including newlines and NBSP) to one space and trims.
pub(crate) fn squash_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c == '\u{a0}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Accumulates paragraphs under a heading stack and emits a section at each heading change.
#[derive(Debug, Default)]
pub(crate) struct SectionBuilder {
    stack: Vec<(u8, String)>,
    buf: String,
    page: Option<u32>,
    out: Vec<Section>,
}

impl SectionBuilder {
    /// Starts an empty builder.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Opens a heading of `level` (1 = outermost), closing same-or-deeper ones.
    pub(crate) fn heading(&mut self, level: u8, text: &str) {
        let text = squash_ws(text);
        if text.is_empty() {
            return;
        }
        self.flush();
        while self.stack.last().is_some_and(|(l, _)| *l >= level) {
            self.stack.pop();
        }
        self.stack.push((level, text));
    }

    /// Appends a paragraph verbatim (already cleaned by the caller); blank input is ignored.
    pub(crate) fn paragraph(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.buf.is_empty() {
            self.buf.push_str("\n\n");
        }
        self.buf.push_str(text);
        if self.buf.len() >= MAX_SECTION_CHARS {
            self.flush();
        }
    }

    /// Appends a single line (rows, list items) without a blank line before it.
    pub(crate) fn line(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.buf.is_empty() {
            self.buf.push('\n');
        }
        self.buf.push_str(text);
        if self.buf.len() >= MAX_SECTION_CHARS {
            self.flush();
        }
    }

    /// Emits the buffered text, if any, as a section under the current path.
    pub(crate) fn flush(&mut self) {
        if self.buf.trim().is_empty() {
            self.buf.clear();
            return;
        }
        self.out.push(Section {
            heading_path: self.stack.iter().map(|(_, h)| h.clone()).collect(),
            text: std::mem::take(&mut self.buf),
            page: self.page,
        });
    }

    /// Flushes and returns all sections.
    pub(crate) fn finish(mut self) -> Vec<Section> {
        self.flush();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_stack_pops_same_level() {
        let mut b = SectionBuilder::new();
        b.heading(1, "A");
        b.paragraph("a");
        b.heading(2, "B");
        b.paragraph("b");
        b.heading(2, "C");
        b.paragraph("c");
        b.heading(1, "D");
        b.paragraph("d");
        let s = b.finish();
        let paths: Vec<_> = s.iter().map(|s| s.heading_path.join(">")).collect();
        assert_eq!(paths, ["A", "A>B", "A>C", "D"]);
    }

    #[test]
    fn squash() {
        assert_eq!(squash_ws("  a \n\t b\u{a0}c "), "a b c");
    }
}
