//! Lexical index: add/replace/delete, restart, filters, hostile queries.

use twig_index::{IndexError, IndexOp, LexicalIndex};

fn add(chunk: &str, doc: &str, org: &str, ds: &str, title: &str, text: &str) -> IndexOp {
    IndexOp::AddChunk {
        chunk_id: chunk.into(),
        doc_id: doc.into(),
        org_id: org.into(),
        data_source_id: ds.into(),
        title: title.into(),
        heading_path: vec!["Section".into()],
        text: text.into(),
    }
}

fn del(doc: &str) -> IndexOp {
    IndexOp::DeleteDocument { doc_id: doc.into() }
}

fn ids(idx: &LexicalIndex, org: &str, ds: Option<&[String]>, q: &str) -> Vec<String> {
    idx.search(org, ds, q, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.chunk_id)
        .collect()
}

#[test]
fn add_replace_delete_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let idx = LexicalIndex::open(dir.path()).unwrap();
        assert_eq!(idx.last_seq(), 0);
        idx.apply(
            &[
                add("d1#0", "d1", "o", "s", "Cats", "felines purr loudly"),
                add("d1#1", "d1", "o", "s", "Cats", "kittens are playing"),
                add("d2#0", "d2", "o", "s", "Dogs", "canines bark"),
            ],
            1,
        )
        .unwrap();
        assert_eq!(idx.count("o", None).unwrap(), 3);
        // Stemmed: "kitten" matches "kittens", "purrs" matches "purr".
        assert_eq!(ids(&idx, "o", None, "kitten"), vec!["d1#1"]);
        assert_eq!(ids(&idx, "o", None, "purrs"), vec!["d1#0"]);
        // Replace d1 atomically: delete then add in one commit.
        idx.apply(
            &[del("d1"), add("d1#0", "d1", "o", "s", "Cats", "lions roar")],
            2,
        )
        .unwrap();
        assert!(ids(&idx, "o", None, "purr kittens").is_empty());
        assert_eq!(ids(&idx, "o", None, "roaring lions"), vec!["d1#0"]);
        assert_eq!(idx.count("o", None).unwrap(), 2);
        // Title and heading are searchable too.
        assert_eq!(ids(&idx, "o", None, "dogs"), vec!["d2#0"]);
        assert_eq!(idx.count("o", None).unwrap(), 2);
    }
    let idx = LexicalIndex::open(dir.path()).unwrap();
    assert_eq!(idx.last_seq(), 2);
    assert_eq!(idx.count("o", None).unwrap(), 2);
    assert_eq!(ids(&idx, "o", None, "lions"), vec!["d1#0"]);
    idx.apply(&[del("d2"), del("missing")], 3).unwrap();
    assert_eq!(idx.count("o", None).unwrap(), 1);
    drop(idx);
    let idx = LexicalIndex::open(dir.path()).unwrap();
    assert_eq!(idx.last_seq(), 3);
    assert!(ids(&idx, "o", None, "canines").is_empty());
}

#[test]
fn seq_must_not_go_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let idx = LexicalIndex::open(dir.path()).unwrap();
    idx.apply(&[], 5).unwrap();
    assert_eq!(idx.last_seq(), 5);
    assert!(matches!(
        idx.apply(&[], 4),
        Err(IndexError::SeqRegression { last: 5, got: 4 })
    ));
    idx.apply(&[], 5).unwrap(); // replay of the same seq is allowed
}

#[test]
fn org_and_data_source_filters_are_inside_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let idx = LexicalIndex::open(dir.path()).unwrap();
    let mut ops = Vec::new();
    // Org "other" has many strong matches that would fill any top-k.
    for i in 0..50 {
        ops.push(add(
            &format!("x{i}"),
            &format!("dx{i}"),
            "other",
            "s1",
            "quantum",
            "quantum quantum quantum entanglement",
        ));
    }
    ops.push(add(
        "a",
        "da",
        "mine",
        "s1",
        "notes",
        "a weak mention of quantum physics among many other words here",
    ));
    ops.push(add(
        "b",
        "db",
        "mine",
        "s2",
        "notes",
        "quantum stuff in another source with more filler words",
    ));
    idx.apply(&ops, 1).unwrap();

    let got = idx.search("mine", None, "quantum", 3).unwrap();
    let mut got_ids: Vec<_> = got.iter().map(|h| h.chunk_id.as_str()).collect();
    got_ids.sort();
    assert_eq!(got_ids, vec!["a", "b"]);
    assert!(got.iter().all(|h| h.score > 0.0));

    let s1 = vec!["s1".to_string()];
    assert_eq!(ids(&idx, "mine", Some(&s1), "quantum"), vec!["a"]);
    let both = vec!["s2".to_string(), "s1".to_string()];
    assert_eq!(ids(&idx, "mine", Some(&both), "quantum").len(), 2);
    assert!(ids(&idx, "mine", Some(&[]), "quantum").is_empty());
    assert!(ids(&idx, "nobody", None, "quantum").is_empty());
    assert_eq!(idx.count("mine", Some(&s1)).unwrap(), 1);
    assert_eq!(idx.count("other", None).unwrap(), 50);
    assert_eq!(idx.count("mine", Some(&[])).unwrap(), 0);
}

#[test]
fn hostile_queries_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let idx = LexicalIndex::open(dir.path()).unwrap();
    idx.apply(
        &[add(
            "c",
            "d",
            "o",
            "s",
            "Title",
            "alpha beta: gamma (delta) \"epsilon\" naïve 東京",
        )],
        1,
    )
    .unwrap();
    let long = "word ".repeat(10_000);
    let hostile = [
        "",
        "   ",
        "\"",
        "\"unclosed phrase",
        "title:alpha",
        "(((",
        ")",
        "a AND OR NOT b",
        "+-!^~*?\\/[]{}",
        "gamma~2",
        "delta^10",
        "*",
        "NOT",
        "field:",
        ":",
        "'; DROP TABLE x; --",
        "\u{0}\u{1}",
        "emoji 🚀🔥",
        long.as_str(),
        "alpha:beta:gamma",
        "[1 TO 5]",
    ];
    for q in hostile {
        idx.search("o", None, q, 5).unwrap();
    }
    assert_eq!(ids(&idx, "o", None, "title:alpha"), vec!["c"]);
    assert_eq!(ids(&idx, "o", None, "(delta) AND \"epsilon"), vec!["c"]);
    assert_eq!(ids(&idx, "o", None, "NAIVE"), vec!["c"]); // ascii folding + lowercase
    assert_eq!(ids(&idx, "o", None, "東京"), vec!["c"]);
    assert!(idx.search("o", None, "alpha", 0).unwrap().is_empty());
    assert_eq!(idx.search("o", None, "alpha", usize::MAX).unwrap().len(), 1);
}

#[test]
fn analyzer_stems_and_drops_stop_words() {
    let dir = tempfile::tempdir().unwrap();
    let idx = LexicalIndex::open(dir.path()).unwrap();
    assert_eq!(
        idx.analyze("The Running of Mice").unwrap(),
        vec!["run".to_string(), "mice".to_string()]
    );
}

#[test]
fn readers_never_see_half_a_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let idx = std::sync::Arc::new(LexicalIndex::open(dir.path()).unwrap());
    let doc = |gen: usize| -> Vec<IndexOp> {
        let mut ops = vec![del("d")];
        ops.extend(
            (0..5).map(|i| add(&format!("d#{gen}-{i}"), "d", "o", "s", "t", "shared words")),
        );
        ops
    };
    idx.apply(&doc(0), 1).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (idx, stop) = (idx.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let hits = idx.search("o", None, "shared", 100).unwrap();
                assert_eq!(hits.len(), 5);
                let gens: std::collections::HashSet<_> = hits
                    .iter()
                    .map(|h| h.chunk_id.split('-').next().unwrap().to_string())
                    .collect();
                assert_eq!(gens.len(), 1, "mixed generations: {hits:?}");
                checks += 1;
            }
            checks
        })
    };
    for gen in 1..15 {
        idx.apply(&doc(gen), gen as u64 + 1).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}
