//! HTML cleaning: boilerplate removal, headings, links, canonical, robots.

mod common;
use std::time::Instant;
use twig_parse::{parse, parse_html, Format};

const PAGE: &str = r##"<!DOCTYPE html>
<html><head>
  <title> Twig   Docs </title>
  <base href="/docs/">
  <link rel="canonical" href="https://example.com/docs/intro#top">
  <meta name="robots" content="NOINDEX, follow">
  <meta property="og:title" content="OG Title">
  <style>.x{color:red}</style>
  <script>var tracking = "SCRIPT_TEXT";</script>
</head>
<body>
  <header><a href="/">Home</a> SITE_HEADER</header>
  <nav><a href="guide.html">Guide</a> NAV_TEXT</nav>
  <div id="cookie-banner">We use cookies COOKIE_TEXT <a href="javascript:accept()">OK</a></div>
  <div class="gdpr-consent">CONSENT_TEXT</div>
  <main>
    <h1>Introduction</h1>
    <p>Twig is a   <b>RAG</b> server.<br>It answers questions.</p>
    <div hidden>HIDDEN_TEXT</div>
    <div style="display: none">HIDDEN_STYLE</div>
    <span aria-hidden="true">ARIA_HIDDEN</span>
    <h2>Setup</h2>
    <p>Install with <code>cargo install twig</code>.</p>
    <ul><li>First step</li><li>Second step</li></ul>
    <pre>line one
  indented line</pre>
    <table><tr><th>Key</th><th>Value</th></tr><tr><td>port</td><td>8080</td></tr></table>
    <h2>Links</h2>
    <p>See <a href="../api/index.html#section">the API</a>, <a href="https://other.org/x?y=1">other</a>,
       <a href="mailto:a@b.c">mail</a>, <a href="#local">local</a>, <a href="tel:123">tel</a>,
       <a href="//cdn.example.com/lib.js">cdn</a>, <a href="guide.html">again</a>, <a rel="nofollow" href="/private">private</a>.</p>
    <form><input value="FORM_TEXT"><button>BUTTON_TEXT</button></form>
    <svg><text>SVG_TEXT</text></svg>
    <noscript>NOSCRIPT_TEXT</noscript>
    <div role="navigation">ROLE_NAV</div>
  </main>
  <aside>ASIDE_TEXT</aside>
  <footer>FOOTER_TEXT <a href="/legal">Legal</a></footer>
</body></html>"##;

#[test]
fn cleans_boilerplate_and_keeps_structure() {
    let page = parse_html(PAGE, Some("https://example.com/start/page.html"));
    let text: String = page
        .sections
        .iter()
        .map(|s| s.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    for gone in [
        "SCRIPT_TEXT",
        "SITE_HEADER",
        "NAV_TEXT",
        "COOKIE_TEXT",
        "CONSENT_TEXT",
        "HIDDEN_TEXT",
        "HIDDEN_STYLE",
        "ARIA_HIDDEN",
        "FORM_TEXT",
        "BUTTON_TEXT",
        "SVG_TEXT",
        "NOSCRIPT_TEXT",
        "ROLE_NAV",
        "ASIDE_TEXT",
        "FOOTER_TEXT",
        "color:red",
    ] {
        assert!(!text.contains(gone), "{gone} should be removed:\n{text}");
    }
    assert_eq!(page.title.as_deref(), Some("Twig Docs"));
    assert_eq!(page.sections[0].heading_path, ["Introduction"]);
    assert_eq!(
        page.sections[0].text,
        "Twig is a RAG server.\nIt answers questions."
    );
    let setup = &page.sections[1];
    assert_eq!(setup.heading_path, ["Introduction", "Setup"]);
    assert!(
        setup.text.contains("Install with cargo install twig."),
        "{}",
        setup.text
    );
    assert!(
        setup.text.contains("- First step\n- Second step"),
        "{}",
        setup.text
    );
    assert!(
        setup.text.contains("line one\n  indented line"),
        "{}",
        setup.text
    );
    assert!(
        setup.text.contains("Key | Value\nport | 8080"),
        "{}",
        setup.text
    );
    assert_eq!(page.sections[2].heading_path, ["Introduction", "Links"]);
}

#[test]
fn links_canonical_robots() {
    let page = parse_html(PAGE, Some("https://example.com/start/page.html"));
    assert_eq!(
        page.canonical.as_deref(),
        Some("https://example.com/docs/intro")
    );
    assert!(page.noindex);
    assert!(!page.nofollow);
    // <base href="/docs/"> wins over the page URL; fragments dropped; duplicates removed.
    assert_eq!(
        page.links,
        [
            "https://example.com/",
            "https://example.com/docs/guide.html",
            "https://example.com/api/index.html",
            "https://other.org/x?y=1",
            "https://cdn.example.com/lib.js",
            "https://example.com/legal",
        ]
    );
}

#[test]
fn title_fallbacks_and_article_headers() {
    let p = parse_html(
        r#"<html><head><meta property="og:title" content="From OG"></head><body><h1>H</h1></body></html>"#,
        None,
    );
    assert_eq!(p.title.as_deref(), Some("From OG"));
    let p = parse_html(
        "<body><nav>menu</nav><article><header><h1>Post Title</h1><p>by Ann</p></header><p>Body.</p><footer>Tags: x</footer></article></body>",
        None,
    );
    assert_eq!(p.title.as_deref(), Some("Post Title"));
    assert_eq!(p.sections[0].heading_path, ["Post Title"]);
    assert!(p.sections[0].text.contains("by Ann\n\nBody."));
    assert!(!p.sections[0].text.contains("menu"));
    // No base URL: relative links cannot be resolved and are dropped; absolute ones kept.
    let p = parse_html(r#"<a href="/x">x</a><a href="http://a.b/c#d">y</a>"#, None);
    assert_eq!(p.links, ["http://a.b/c"]);
    let p = parse_html(r#"<meta name="robots" content="none">"#, None);
    assert!(p.noindex && p.nofollow);
}

#[test]
fn parse_dispatches_html() {
    let doc = parse("p.html", None, PAGE.as_bytes(), &common::limits()).unwrap();
    assert_eq!(doc.format, Format::Html);
    assert_eq!(doc.title.as_deref(), Some("Twig Docs"));
    assert_eq!(doc.metadata["canonical"], "https://example.com/docs/intro");
}

/// Builds an HTML page of roughly `target` bytes with headings, paragraphs, nav and scripts.
pub fn big_page(target: usize) -> String {
    let mut s = String::from(
        "<html><head><title>Big</title></head><body><nav><a href='/a'>A</a></nav><main>",
    );
    let mut i = 0;
    while s.len() < target {
        s.push_str(&format!(
            "<h2>Section {i}</h2><p>Paragraph {i} with <a href='/p/{i}'>a link</a> and <b>bold</b> text that goes on for a while to look like prose.</p><div class='cookie'>c</div><script>var x={i};</script><ul><li>item {i}</li></ul>\n"
        ));
        i += 1;
    }
    s.push_str("</main></body></html>");
    s
}

#[test]
fn twenty_mb_page_parses_in_reasonable_time() {
    let html = big_page(20 * 1024 * 1024);
    let t = Instant::now();
    let page = parse_html(&html, Some("https://example.com/"));
    let el = t.elapsed();
    eprintln!(
        "20 MB HTML: {:?}, {} sections, {} links",
        el,
        page.sections.len(),
        page.links.len()
    );
    assert!(page.sections.len() > 50_000);
    assert!(page.links.len() > 50_000);
    assert!(el.as_secs() < 60, "took {el:?}");
}

#[test]
fn deeply_nested_does_not_overflow() {
    // Far deeper than a recursive walk survives on a test thread's 2 MB stack. Not deeper:
    // html5ever checks element scopes by walking its stack of open elements, so parsing time
    // grows with depth squared (100,000 levels took 100 s in a debug build, 20,000 take 4 s).
    let html = "<div>".repeat(20_000) + "deep text" + &"</div>".repeat(20_000);
    let page = parse_html(&html, None);
    assert!(page.sections.iter().any(|s| s.text.contains("deep text")));
}

#[test]
fn frames_noscript_and_pagination_links() {
    // mdBook's shape: the table of contents is an iframe inside <noscript>, which an HTML5
    // parser with scripting on keeps as raw text; prev/next links in <head> and the body.
    let html = r#"<!doctype html><html><head>
        <link rel="next" href="ch02.html"><link rel="prev" href="ch00.html">
        <link rel="alternate" hreflang="de" href="/de/ch01.html">
        <link rel="alternate" type="application/rss+xml" href="/feed.xml">
        <link rel="stylesheet" href="style.css"><link rel="icon" href="favicon.png">
        </head><body>
        <noscript><iframe class="sidebar-iframe-outer" src="toc.html"></iframe><a href="nojs.html">x</a></noscript>
        <main><h1>Chapter 1</h1><p>Text.</p><a rel="next prefetch" href="ch02.html#top">Next</a></main>
        <iframe src="https://video.example.org/embed/1"></iframe>
        </body></html>"#;
    let p = parse_html(html, Some("https://book.example.com/ch01.html"));
    assert_eq!(
        p.frames,
        [
            "https://book.example.com/toc.html",
            "https://video.example.org/embed/1"
        ]
    );
    assert_eq!(
        p.links,
        [
            "https://book.example.com/ch02.html",
            "https://book.example.com/ch00.html",
            "https://book.example.com/de/ch01.html",
            "https://book.example.com/nojs.html",
        ],
        "feeds, stylesheets and icons are not pages"
    );
    assert!(!p.sections.iter().any(|s| s.text.contains("iframe")));
    let p = parse_html(
        r#"<frameset cols="20%,80%"><frame src="nav.html"><frame src="main.html"></frameset>"#,
        Some("http://old.example.com/"),
    );
    assert_eq!(
        p.frames,
        [
            "http://old.example.com/nav.html",
            "http://old.example.com/main.html"
        ]
    );
}
