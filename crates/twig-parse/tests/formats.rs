//! Each format extracts the expected text and structure.

mod common;
use common::*;
use twig_parse::{detect, parse, Format, ParseError};

#[test]
fn pdf_pages_and_title() {
    let doc = parse("sample.pdf", None, &fixture("sample.pdf"), &limits()).unwrap();
    assert_eq!(doc.format, Format::Pdf);
    assert_eq!(doc.title.as_deref(), Some("Twig Sample PDF"));
    assert_eq!(doc.sections.len(), 3);
    let p2 = &doc.sections[1];
    assert_eq!(p2.page, Some(2));
    assert!(
        p2.text
            .contains("The quick brown fox jumps over the lazy dog on page two."),
        "{}",
        p2.text
    );
    assert!(!doc.sections[0].text.contains("quick brown fox"));
    assert_eq!(doc.sections[2].page, Some(3));
    assert_eq!(doc.metadata["pages"], 3);
}

#[test]
fn pdf_truetype_unicode() {
    let doc = parse("u.pdf", None, &fixture("unicode.pdf"), &limits()).unwrap();
    let t = all_text(&doc);
    assert!(t.contains("Café naïve résumé über straße"), "{t}");
}

#[test]
fn pdf_hundred_pages() {
    let doc = parse("h.pdf", None, &fixture("hundred.pdf"), &limits()).unwrap();
    assert_eq!(doc.sections.len(), 100);
    assert_eq!(doc.sections[99].page, Some(100));
    assert!(doc.sections[99].text.contains("This is page 100."));
}

#[test]
fn docx_headings_and_table() {
    let doc = parse("h.docx", None, &fixture("sample.docx"), &limits()).unwrap();
    assert_eq!(doc.format, Format::Docx);
    assert_eq!(doc.title.as_deref(), Some("Twig Handbook"));
    let find = |needle: &str| {
        doc.sections
            .iter()
            .find(|s| s.text.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not found in {:#?}", doc.sections))
    };
    assert_eq!(find("Intro paragraph").heading_path, ["Twig Handbook"]);
    assert_eq!(
        find("Run the installer").heading_path,
        ["Twig Handbook", "Installation"]
    );
    assert_eq!(
        find("tarball").heading_path,
        ["Twig Handbook", "Installation", "Linux"]
    );
    let usage = find("Ask questions");
    assert_eq!(usage.heading_path, ["Twig Handbook", "Usage"]);
    assert!(
        usage
            .text
            .contains("Name | Role\nAlice | Admin\nBob | Viewer"),
        "{}",
        usage.text
    );
    assert!(usage.text.contains("Text after the table."));
}

#[test]
fn pptx_slides() {
    let doc = parse("d.pptx", None, &fixture("sample.pptx"), &limits()).unwrap();
    assert_eq!(doc.format, Format::Pptx);
    assert_eq!(doc.title.as_deref(), Some("Quarterly Deck"));
    assert_eq!(doc.sections.len(), 4);
    assert_eq!(doc.sections[0].heading_path, ["Quarterly Review"]);
    assert_eq!(doc.sections[0].page, Some(1));
    assert!(doc.sections[0]
        .text
        .contains("Revenue grew 12 percent\nCosts were flat"));
    assert_eq!(doc.sections[1].heading_path, ["Roadmap"]);
    assert_eq!(doc.sections[1].page, Some(2));
    let last = &doc.sections[3];
    assert_eq!(last.page, Some(4));
    assert!(last.heading_path.is_empty());
    assert!(last.text.contains("Loose text box content"));
    assert!(
        last.text.contains("Metric | Value\nUsers | 42"),
        "{}",
        last.text
    );
}

#[test]
fn xlsx_sheets_headers_and_bounded_sections() {
    let doc = parse("w.xlsx", None, &fixture("sample.xlsx"), &limits()).unwrap();
    assert_eq!(doc.format, Format::Xlsx);
    assert_eq!(doc.title.as_deref(), Some("Twig Workbook"));
    let people = &doc.sections[0];
    assert_eq!(people.heading_path, ["People"]);
    assert_eq!(
        people.text,
        "Name: Alice; Age: 30; City: Paris\nName: Bob; Age: 25.5; City: Berlin\nName: Carol; City: Rome"
    );
    let orders: Vec<_> = doc
        .sections
        .iter()
        .filter(|s| s.heading_path == ["Orders"])
        .collect();
    assert_eq!(orders.len(), 3, "250 rows -> 100 + 100 + 50");
    assert_eq!(orders[0].text.lines().count(), 100);
    assert!(orders[0].text.starts_with("OrderId: 1; Amount: 10\n"));
    assert!(orders[2].text.ends_with("OrderId: 250; Amount: 2500"));
    assert_eq!(doc.metadata["rows"], 253);
}

#[test]
fn csv_rows_with_headers() {
    let csv = b"name,city,note\nAlice,Paris,\"likes, commas\"\nBob,Berlin,\n";
    let doc = parse("p.csv", None, csv, &limits()).unwrap();
    assert_eq!(doc.format, Format::Csv);
    assert_eq!(
        all_text(&doc),
        "name: Alice; city: Paris; note: likes, commas\nname: Bob; city: Berlin"
    );
    let tsv = b"a\tb\n1\t2\n";
    let doc = parse("p.tsv", None, tsv, &limits()).unwrap();
    assert_eq!(all_text(&doc), "a: 1; b: 2");
    let semi = b"a;b\n1;2\n";
    assert_eq!(
        all_text(&parse("p.csv", None, semi, &limits()).unwrap()),
        "a: 1; b: 2"
    );
}

#[test]
fn csv_many_rows_bounded() {
    let mut csv = String::from("id,val\n");
    for i in 0..1000 {
        csv.push_str(&format!("{i},v{i}\n"));
    }
    let doc = parse("big.csv", None, csv.as_bytes(), &limits()).unwrap();
    assert_eq!(doc.sections.len(), 10);
    assert!(doc.sections.iter().all(|s| s.text.lines().count() == 100));
}

#[test]
fn markdown_heading_paths_and_code() {
    let md = "---\ntitle: Front Title\n---\n# Guide\nIntro text.\n\n## Install\nRun it:\n\n```sh\ncargo build\ncargo test\n```\n\n- one\n- two\n\n## Use\n| a | b |\n|---|---|\n| 1 | 2 |\n\n# Other\nBye.\n";
    let doc = parse("g.md", None, md.as_bytes(), &limits()).unwrap();
    assert_eq!(doc.format, Format::Markdown);
    assert_eq!(doc.title.as_deref(), Some("Front Title"));
    let paths: Vec<String> = doc
        .sections
        .iter()
        .map(|s| s.heading_path.join(" > "))
        .collect();
    assert_eq!(paths, ["Guide", "Guide > Install", "Guide > Use", "Other"]);
    assert!(doc.sections[1].text.contains("cargo build\ncargo test"));
    assert!(doc.sections[1].text.contains("- one\n- two"));
    assert!(doc.sections[2].text.contains("a | b\n1 | 2"));
}

#[test]
fn plain_text_paragraphs() {
    let doc = parse(
        "a.txt",
        None,
        b"First para\nline two.\r\n\r\nSecond para.",
        &limits(),
    )
    .unwrap();
    assert_eq!(doc.format, Format::Text);
    assert_eq!(
        doc.sections[0].text,
        "First para\nline two.\n\nSecond para."
    );
}

#[test]
fn json_flattened() {
    let j =
        br#"{"name":"twig","tags":["rag","search"],"owner":{"login":"ana","id":7},"empty":null}"#;
    let doc = parse("d.json", None, j, &limits()).unwrap();
    assert_eq!(doc.format, Format::Json);
    assert_eq!(
        all_text(&doc),
        "name: twig\ntags[0]: rag\ntags[1]: search\nowner.login: ana\nowner.id: 7"
    );
    let jl = b"{\"a\":1}\n{\"a\":2}\n";
    assert_eq!(
        all_text(&parse("d.jsonl", None, jl, &limits()).unwrap()),
        "[0].a: 1\n[1].a: 2"
    );
}

#[test]
fn json_parse_error_is_corrupt() {
    let e = parse("d.json", None, b"{\"a\": [1, 2", &limits()).unwrap_err();
    assert!(matches!(e, ParseError::Corrupt { .. }), "{e:?}");
}

#[test]
fn detection() {
    let pdf = fixture("sample.pdf");
    // Magic beats a wrong extension.
    assert_eq!(detect("report.docx", None, &pdf), Some(Format::Pdf));
    assert_eq!(
        detect("x.bin", None, &fixture("sample.docx")),
        Some(Format::Docx)
    );
    assert_eq!(
        detect("x", None, &fixture("sample.pptx")),
        Some(Format::Pptx)
    );
    assert_eq!(
        detect("x", None, &fixture("sample.xlsx")),
        Some(Format::Xlsx)
    );
    assert_eq!(detect("notes.md", None, b"# hi"), Some(Format::Markdown));
    assert_eq!(
        detect("upload", Some("text/csv; charset=utf-8"), b"a,b"),
        Some(Format::Csv)
    );
    assert_eq!(
        detect("upload", None, b"<!DOCTYPE html><p>x"),
        Some(Format::Html)
    );
    assert_eq!(detect("upload", None, b"{\"a\":1}"), Some(Format::Json));
    assert_eq!(detect("upload", None, b"just words"), Some(Format::Text));
    assert_eq!(detect("img.png", None, b"\x89PNG\r\n\x1a\n\0\0"), None);
    assert_eq!(detect("a.exe", None, b"MZ\x90\0"), None);
}
