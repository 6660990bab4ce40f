//! Rough parse-speed measurements: `cargo run --example bench [html-mb ...]`.
//! Extra arguments that are file paths are parsed and timed too.

use std::time::Instant;
use twig_parse::{parse, parse_html, Limits};

fn big_page(target: usize) -> String {
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

fn main() {
    let limits = Limits::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for a in &args {
        if let Ok(mb) = a.parse::<usize>() {
            let html = big_page(mb << 20);
            let t = Instant::now();
            let page = parse_html(&html, Some("https://example.com/"));
            println!(
                "html {mb} MB: {:?} ({} sections)",
                t.elapsed(),
                page.sections.len()
            );
        } else {
            let bytes = std::fs::read(a).expect("read file");
            let t = Instant::now();
            let r = parse(a, None, &bytes, &limits);
            let el = t.elapsed();
            match r {
                Ok(d) => println!(
                    "{a} ({} KB): {el:?}, {} sections",
                    bytes.len() / 1024,
                    d.sections.len()
                ),
                Err(e) => println!("{a}: {el:?}, error: {e}"),
            }
        }
    }
}
