//! Markdown-ish structure: ATX headings split the body into sections.

use std::ops::Range;

/// A body range with the headings that enclose it.
pub(super) struct MdSection {
    pub heading_path: Vec<String>,
    pub range: Range<usize>,
}

/// Returns `(level, text)` if `line` is an ATX heading (`# ...` to `###### ...`).
fn atx_heading(line: &str) -> Option<(usize, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t', '\r', '\n'])) {
        return None;
    }
    let mut text = after.trim();
    // Optional closing sequence: "## Title ##".
    let stripped = text.trim_end_matches('#');
    if stripped.is_empty() || stripped.ends_with([' ', '\t']) {
        text = stripped.trim_end();
    }
    Some((level, text.to_string()))
}

fn is_fence(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    line.len() - t.len() <= 3 && (t.starts_with("```") || t.starts_with("~~~"))
}

/// Splits `body` into sections at headings outside fenced code blocks.
pub(super) fn markdown_sections(body: &str) -> Vec<MdSection> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut sec_start = 0;
    let mut in_fence = false;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        if is_fence(line) {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let Some((level, text)) = atx_heading(line) else {
            continue;
        };
        out.push(MdSection {
            heading_path: path.clone(),
            range: sec_start..line_start,
        });
        while stack.last().is_some_and(|(l, _)| *l >= level) {
            stack.pop();
        }
        stack.push((level, text));
        path = stack.iter().map(|(_, t)| t.clone()).collect();
        sec_start = offset;
    }
    out.push(MdSection {
        heading_path: path,
        range: sec_start..body.len(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings() {
        assert_eq!(atx_heading("# A"), Some((1, "A".into())));
        assert_eq!(atx_heading("### B ###\n"), Some((3, "B".into())));
        assert_eq!(atx_heading("#hashtag"), None);
        assert_eq!(atx_heading("####### seven"), None);
        assert_eq!(atx_heading("    # code"), None);
        assert_eq!(atx_heading("## C#"), Some((2, "C#".into())));
    }

    #[test]
    fn nesting_pops_deeper_levels() {
        let s = markdown_sections("# A\n## B\nx\n# C\ny\n");
        let paths: Vec<Vec<String>> = s.iter().map(|s| s.heading_path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                vec![],
                vec!["A".to_string()],
                vec!["A".to_string(), "B".to_string()],
                vec!["C".to_string()]
            ]
        );
    }
}
