//! Bad input gives the right error (or a sane result) and never panics.

mod common;
use common::*;
use std::time::Instant;
use twig_parse::{expand_zip, parse, Format, Limits, ParseError};

#[test]
fn truncated_pdf_is_corrupt() {
    let e = parse("t.pdf", None, &fixture("truncated.pdf"), &limits()).unwrap_err();
    assert!(matches!(e, ParseError::Corrupt { .. }), "{e:?}");
}

#[test]
fn encrypted_pdf() {
    let e = parse("e.pdf", None, &fixture("encrypted.pdf"), &limits()).unwrap_err();
    assert!(matches!(e, ParseError::Encrypted { .. }), "{e:?}");
    assert!(e.to_string().contains("password"), "{e}");
}

#[test]
fn scanned_pdf_is_empty_with_reason() {
    let e = parse("s.pdf", None, &fixture("scanned.pdf"), &limits()).unwrap_err();
    assert!(matches!(e, ParseError::Empty { .. }), "{e:?}");
    assert!(e.to_string().contains("no text layer"), "{e}");
}

#[test]
fn file_over_limit() {
    let lim = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    let e = parse("a.txt", None, &[b'a'; 1001], &lim).unwrap_err();
    assert_eq!(
        e,
        ParseError::TooLarge {
            size: 1001,
            limit: 1000
        }
    );
}

#[test]
fn latin1_and_utf16_text() {
    let doc = parse(
        "l.txt",
        None,
        b"Gr\xfc\xdfe aus K\xf6ln, caf\xe9 cr\xe8me",
        &limits(),
    )
    .unwrap();
    assert_eq!(all_text(&doc), "Grüße aus Köln, café crème");
    assert_eq!(doc.metadata["encoding"], "windows-1252");
    let mut le = vec![0xFF, 0xFE];
    le.extend("Olá mundo ✓".encode_utf16().flat_map(|u| u.to_le_bytes()));
    assert_eq!(
        all_text(&parse("u.txt", None, &le, &limits()).unwrap()),
        "Olá mundo ✓"
    );
    let mut be = vec![0xFE, 0xFF];
    be.extend("Grüß dich".encode_utf16().flat_map(|u| u.to_be_bytes()));
    let doc = parse("u.txt", None, &be, &limits()).unwrap();
    assert_eq!(all_text(&doc), "Grüß dich");
    assert_eq!(doc.metadata["encoding"], "UTF-16BE");
    // No BOM, no extension: still detected and decoded as UTF-16LE text.
    let raw: Vec<u8> = "plain words here"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    assert_eq!(
        all_text(&parse("upload", None, &raw, &limits()).unwrap()),
        "plain words here"
    );
}

#[test]
fn binary_claimed_as_text_is_unsupported() {
    let bin: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    let e = parse("data.txt", Some("text/plain"), &bin, &limits()).unwrap_err();
    assert!(matches!(e, ParseError::Unsupported { .. }), "{e:?}");
}

#[test]
fn unknown_extension_is_unsupported() {
    let e = parse("a.exe", None, b"MZ\x90\x00\x03", &limits()).unwrap_err();
    assert!(matches!(e, ParseError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains(".exe"), "{e}");
}

#[test]
fn empty_file_is_empty() {
    assert!(matches!(
        parse("a.txt", None, b"", &limits()),
        Err(ParseError::Empty { .. })
    ));
    assert!(matches!(
        parse("a.md", None, b"  \n\n ", &limits()),
        Err(ParseError::Empty { .. })
    ));
}

/// Deterministic pseudo-random bytes (no rand dependency).
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        })
        .collect()
}

#[test]
fn garbage_with_each_extension() {
    let garbage = noise(20_000, 42);
    for ext in [
        "pdf", "docx", "pptx", "xlsx", "xls", "csv", "html", "md", "txt", "json", "zip",
    ] {
        let r = parse(&format!("g.{ext}"), None, &garbage, &limits());
        assert!(r.is_err(), "{ext}: garbage should fail, got {r:?}");
    }
    // Garbage that starts like the real thing.
    for (name, magic) in [
        ("g.pdf", &b"%PDF-1.7\n"[..]),
        ("g.docx", b"PK\x03\x04"),
        ("g.xlsx", b"PK\x03\x04"),
    ] {
        let mut b = magic.to_vec();
        b.extend(noise(5000, 7));
        assert!(parse(name, None, &b, &limits()).is_err(), "{name}");
    }
    assert!(expand_zip(&garbage, &limits()).is_err());
}

/// Truncations and byte mutations of every fixture: errors are fine, panics and hangs are not.
#[test]
fn fuzz_fixtures_never_panic() {
    let fixtures = [
        ("sample.pdf", 40),
        ("unicode.pdf", 30),
        ("sample.docx", 40),
        ("sample.pptx", 40),
        ("sample.xlsx", 40),
    ];
    let mut seed = 1u64;
    for (name, rounds) in fixtures {
        let orig = fixture(name);
        let mut worst = std::time::Duration::ZERO;
        for i in 0..rounds * 2 {
            let mut b = orig.clone();
            if i < rounds {
                b.truncate(orig.len() * i / rounds);
            } else {
                for _ in 0..10 {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let pos = (seed >> 33) as usize % b.len();
                    b[pos] = (seed >> 13) as u8;
                }
            }
            let t = Instant::now();
            let _ = parse(name, None, &b, &limits());
            worst = worst.max(t.elapsed());
        }
        eprintln!("{name}: worst case {worst:?}");
        assert!(worst.as_secs() < 10, "{name}: {worst:?}");
    }
    // Text formats: cut at every byte of a small document, including inside UTF-8 sequences.
    let samples: [(&str, &[u8]); 5] = [
        (
            "a.md",
            "# Tïtle\n\n```\ncode\n```\n- a\n| x |\n|---|\n| y |".as_bytes(),
        ),
        ("a.json", "{\"ä\": [1, {\"b\": \"ç\"}]}".as_bytes()),
        ("a.csv", "h1,h2\n\"q,\"\"x\",é\n".as_bytes()),
        (
            "a.html",
            "<html><title>t</title><main><h1>é</h1><p>x<a href='/y'>".as_bytes(),
        ),
        ("a.txt", "héllo wörld".as_bytes()),
    ];
    for (name, data) in samples {
        for cut in 0..data.len() {
            let _ = parse(name, None, &data[..cut], &limits());
        }
    }
}

#[test]
fn zip_expands_and_skips_junk() {
    let z = make_zip(&[
        ("docs/a.txt", b"alpha"),
        ("docs/", b""),
        ("__MACOSX/docs/._a.txt", b"junk"),
        ("docs/.DS_Store", b"junk"),
        ("b.md", b"# B"),
    ]);
    let entries = expand_zip(&z, &limits()).unwrap();
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["docs/a.txt", "b.md"]);
    assert_eq!(entries[0].bytes, b"alpha");
}

#[test]
fn zip_path_traversal_refused() {
    let z = make_zip(&[("../../etc/passwd", b"x")]);
    let e = expand_zip(&z, &limits()).unwrap_err();
    assert!(matches!(e, ParseError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("path traversal"));
}

#[test]
fn zip_entry_count_limit() {
    let names: Vec<String> = (0..50).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let z = make_zip(&entries);
    let lim = Limits {
        max_zip_entries: 10,
        ..Limits::default()
    };
    assert!(matches!(
        expand_zip(&z, &lim),
        Err(ParseError::ZipBomb { .. })
    ));
}

#[test]
fn zip_too_large() {
    let z = make_zip(&[("a.txt", b"hello")]);
    let lim = Limits {
        max_zip_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        expand_zip(&z, &lim),
        Err(ParseError::TooLarge { .. })
    ));
}

/// Streams `len` zeros into a deflated entry without holding them in memory.
fn zeros_zip(name: &str, len: u64) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(len > u32::MAX as u64);
    z.start_file(name, opts).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        z.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    z.finish().unwrap();
    buf.into_inner()
}

#[test]
fn zip_bomb_one_gigabyte_of_zeros() {
    let bomb = zeros_zip("zeros.txt", 1 << 30);
    eprintln!("1 GiB of zeros compresses to {} bytes", bomb.len());
    let t = Instant::now();
    let e = expand_zip(&bomb, &limits()).unwrap_err();
    assert!(matches!(e, ParseError::ZipBomb { .. }), "{e:?}");
    assert!(
        t.elapsed().as_millis() < 500,
        "refusal took {:?}",
        t.elapsed()
    );
    // The same bomb dressed up as a DOCX or XLSX is refused too.
    for name in ["b.xlsx", "b.docx", "b.pptx"] {
        let e = parse(name, None, &bomb, &limits()).unwrap_err();
        assert!(matches!(e, ParseError::ZipBomb { .. }), "{name}: {e:?}");
    }
    let e = parse("b.zip", None, &bomb, &limits()).unwrap_err();
    assert!(e.to_string().contains("expand_zip"), "{e}");
}

/// Patches every declared uncompressed size of the first entry to `fake`.
fn lie_about_size(zip: &mut [u8], fake: u32) {
    for i in 0..zip.len().saturating_sub(30) {
        if zip[i..].starts_with(b"PK\x03\x04") {
            zip[i + 22..i + 26].copy_from_slice(&fake.to_le_bytes());
        } else if zip[i..].starts_with(b"PK\x01\x02") {
            zip[i + 24..i + 28].copy_from_slice(&fake.to_le_bytes());
        }
    }
}

#[test]
fn zip_bomb_lying_declared_size() {
    let mut bomb = zeros_zip("small.txt", 64 << 20);
    lie_about_size(&mut bomb, 1000);
    let t = Instant::now();
    let e = expand_zip(&bomb, &limits()).unwrap_err();
    assert!(matches!(e, ParseError::ZipBomb { .. }), "{e:?}");
    assert!(e.to_string().contains("declared"), "{e}");
    assert!(t.elapsed().as_millis() < 500, "{:?}", t.elapsed());
}

#[test]
fn zip_total_uncompressed_limit() {
    let data = noise(200_000, 3); // incompressible, so the ratio check does not fire
    let z = make_zip(&[("a.bin", &data), ("b.bin", &data), ("c.bin", &data)]);
    let lim = Limits {
        max_zip_uncompressed: 500_000,
        ..Limits::default()
    };
    let e = expand_zip(&z, &lim).unwrap_err();
    assert!(matches!(e, ParseError::ZipBomb { .. }), "{e:?}");
}

#[test]
fn nested_zips_skipped_and_42_style_refused() {
    let inner = make_zip(&[("inner.txt", b"inner")]);
    let outer = make_zip(&[("a.txt", b"outer"), ("inner.zip", &inner)]);
    let entries = expand_zip(&outer, &limits()).unwrap();
    assert_eq!(entries.len(), 1, "nested archive is skipped, not expanded");
    assert_eq!(entries[0].name, "a.txt");
    // 42.zip style: archives inside archives inside archives.
    let l2 = make_zip(&[("l3.zip", &inner), ("l3b.zip", &inner)]);
    let l1 = make_zip(&[("l2.zip", &l2)]);
    let e = expand_zip(&l1, &limits()).unwrap_err();
    assert!(matches!(e, ParseError::ZipBomb { .. }), "{e:?}");
}

#[test]
fn docx_inside_zip_is_kept() {
    let docx = fixture("sample.docx");
    let z = make_zip(&[("report.docx", &docx)]);
    let entries = expand_zip(&z, &limits()).unwrap();
    assert_eq!(entries[0].bytes, docx);
    let doc = parse(&entries[0].name, None, &entries[0].bytes, &limits()).unwrap();
    assert_eq!(doc.format, Format::Docx);
}

#[test]
fn owner_only_encrypted_pdf_is_readable() {
    let doc = parse("o.pdf", None, &fixture("encrypted_open.pdf"), &limits()).unwrap();
    assert!(
        doc.sections[1].text.contains("quick brown fox"),
        "{:?}",
        doc.sections
    );
}

#[test]
fn fuzz_zip_and_html_never_panic() {
    let docx = fixture("sample.docx");
    let mut seed = 99u64;
    for i in 0..120 {
        let mut b = docx.clone();
        if i < 60 {
            b.truncate(docx.len() * i / 60);
        } else {
            for _ in 0..6 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let pos = (seed >> 33) as usize % b.len();
                b[pos] = (seed >> 13) as u8;
            }
        }
        let _ = expand_zip(&b, &limits());
    }
    let page = "<html><head><title>t</title><base href='x'><link rel=canonical href='::'></head><body><main><h1>a</h1><p>b<a href='/c'>c</a><table><tr><td>1<li>2</table><pre>x</main>";
    let bytes = page.as_bytes();
    for _ in 0..300 {
        let mut b = bytes.to_vec();
        for _ in 0..4 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pos = (seed >> 33) as usize % b.len();
            b[pos] = (seed >> 13) as u8;
        }
        let s = String::from_utf8_lossy(&b);
        let _ = twig_parse::parse_html(&s, Some("https://example.com/a/"));
        let _ = twig_parse::parse_html(&s, Some("not a url"));
    }
    let _ = twig_parse::parse_html(&String::from_utf8_lossy(&noise(100_000, 5)), None);
}
