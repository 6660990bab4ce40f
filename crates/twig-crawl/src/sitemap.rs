//! Tiny sitemap / sitemap-index reader (substring based, no XML dependency).

/// `<loc>` entries of one sitemap file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sitemap {
    /// True for a `<sitemapindex>`, whose locs are further sitemaps.
    pub is_index: bool,
    /// The `<loc>` values, unescaped.
    pub locs: Vec<String>,
}

/// Extract `<loc>` values; malformed input yields whatever was readable.
pub(crate) fn parse(body: &str) -> Sitemap {
    let mut locs = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("<loc>") {
        let after = &rest[start + 5..];
        let Some(end) = after.find("</loc>") else {
            break;
        };
        let raw = after[..end].trim();
        let raw = raw
            .strip_prefix("<![CDATA[")
            .and_then(|s| s.strip_suffix("]]>"))
            .unwrap_or(raw)
            .trim();
        if !raw.is_empty() {
            locs.push(unescape(raw));
        }
        rest = &after[end + 6..];
    }
    Sitemap {
        is_index: body.contains("<sitemapindex"),
        locs,
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlset_and_index() {
        let s = parse("<urlset><url><loc> http://h/a?x=1&amp;y=2 </loc></url><url><loc><![CDATA[http://h/b]]></loc></url></urlset>");
        assert!(!s.is_index);
        assert_eq!(s.locs, ["http://h/a?x=1&y=2", "http://h/b"]);
        let i = parse(
            "<?xml?><sitemapindex><sitemap><loc>http://h/s1.xml</loc></sitemap></sitemapindex>",
        );
        assert!(i.is_index);
        assert_eq!(i.locs, ["http://h/s1.xml"]);
        assert_eq!(parse("<loc>unterminated").locs.len(), 0);
    }
}
