//! Wildcard matching shared by include/exclude filters and robots.txt.

use url::Url;

/// Match `text` against `pattern` where `*` matches any run of bytes; anchored
/// at both ends.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position of the last `*` and the text index it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Path plus `?query`, the part of a URL that filters and robots rules see.
pub(crate) fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{}", url.path(), q),
        None => url.path().to_string(),
    }
}

/// One include/exclude filter: with `*` it is a whole-string glob over
/// path+query (`/docs/*`); without `*` it is a substring of path+query.
fn filter_matches(pattern: &str, target: &str) -> bool {
    if pattern.contains('*') {
        wildcard_match(pattern, target)
    } else {
        target.contains(pattern)
    }
}

/// Apply include (any must match when non-empty) and exclude (none may match).
pub(crate) fn allowed_by_filters(url: &Url, include: &[String], exclude: &[String]) -> bool {
    let target = path_and_query(url);
    if exclude.iter().any(|p| filter_matches(p, &target)) {
        return false;
    }
    include.is_empty() || include.iter().any(|p| filter_matches(p, &target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard() {
        assert!(wildcard_match("/docs/*", "/docs/a/b"));
        assert!(wildcard_match("*.pdf", "/x/y.pdf"));
        assert!(!wildcard_match("*.pdf", "/x/y.pdf?x"));
        assert!(wildcard_match("/a*b*c", "/aXXbYYc"));
        assert!(!wildcard_match("/a*b*c", "/aXXbYY"));
        assert!(wildcard_match("", ""));
        assert!(wildcard_match("**", "abc"));
    }

    #[test]
    fn filters() {
        let u = Url::parse("http://h/docs/intro?lang=en").unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(allowed_by_filters(&u, &[], &[]));
        assert!(allowed_by_filters(&u, &s(&["/docs/*"]), &[]));
        assert!(!allowed_by_filters(&u, &s(&["/blog/*"]), &[]));
        assert!(!allowed_by_filters(&u, &s(&["/docs/*"]), &s(&["lang=en"])));
        assert!(allowed_by_filters(&u, &s(&["intro"]), &s(&["/api/*"])));
    }
}
