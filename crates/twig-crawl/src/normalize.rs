//! URL normalisation so each page is fetched and reported once.

use url::Url;

/// Normalise an absolute http(s) URL; `None` for other schemes.
///
/// Lowercases scheme and host, drops default ports, resolves `.`/`..`
/// (all done by the `url` parser), drops the fragment and an empty `?`.
/// The query is kept in its original order (reordering can change meaning),
/// and `index.html` is kept (a server may serve it differently from `/`).
pub fn normalize_url(url: &Url) -> Option<Url> {
    if url.scheme() != "http" && url.scheme() != "https" {
        return None;
    }
    url.host_str()?;
    let mut u = url.clone();
    u.set_fragment(None);
    if u.query() == Some("") {
        u.set_query(None);
    }
    // Credentials in URLs are never crawled identities.
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    Some(u)
}

/// Resolve `href` against `base` and normalise it.
pub(crate) fn resolve(base: &Url, href: &str) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    base.join(href).ok().and_then(|u| normalize_url(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize_url(&Url::parse(s).unwrap()).unwrap().to_string()
    }

    #[test]
    fn normalises_common_variants() {
        assert_eq!(
            n("HTTP://Example.COM:80/a/./b/../c#frag"),
            "http://example.com/a/c"
        );
        assert_eq!(n("https://example.com:443"), "https://example.com/");
        assert_eq!(n("http://example.com/x?"), "http://example.com/x");
        assert_eq!(
            n("http://example.com/x?b=1&a=2"),
            "http://example.com/x?b=1&a=2"
        );
        assert_eq!(n("http://u:p@example.com/"), "http://example.com/");
        assert!(normalize_url(&Url::parse("mailto:a@b.c").unwrap()).is_none());
    }

    #[test]
    fn resolves_relative() {
        let base = Url::parse("http://h.com/a/b.html").unwrap();
        assert_eq!(resolve(&base, "../c#x").unwrap().as_str(), "http://h.com/c");
        assert!(resolve(&base, "javascript:void(0)").is_none());
        assert!(resolve(&base, "  ").is_none());
    }
}
