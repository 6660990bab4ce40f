//! Vector index: upsert/replace/delete, filters, compaction, bulk load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use twig_index::vector::Kernel;
use twig_index::{ChunkVector, IndexError, VectorIndex, VectorRecord};

fn unit(dim: usize, hot: usize) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[hot] = 1.0;
    v
}

fn cv(id: &str, v: Vec<f32>) -> ChunkVector {
    ChunkVector {
        chunk_id: id.into(),
        vector: v,
    }
}

fn ids(idx: &VectorIndex, org: &str, ds: Option<&[String]>, q: &[f32], k: usize) -> Vec<String> {
    idx.search(org, ds, q, k)
        .unwrap()
        .into_iter()
        .map(|h| h.chunk_id)
        .collect()
}

#[test]
fn upsert_replace_delete() {
    let idx = VectorIndex::new(8).unwrap();
    idx.upsert_document("d1", "o", "s", &[cv("a", unit(8, 0)), cv("b", unit(8, 1))])
        .unwrap();
    idx.upsert_document(
        "d2",
        "o",
        "s",
        &[cv("c", vec![1.0, 1.0, 0., 0., 0., 0., 0., 0.])],
    )
    .unwrap();
    assert_eq!(idx.len(), 3);
    let hits = idx.search("o", None, &unit(8, 0), 10).unwrap();
    assert_eq!(hits[0].chunk_id, "a");
    assert!((hits[0].score - 1.0).abs() < 1e-6);
    assert_eq!(hits[1].chunk_id, "c");
    assert!((hits[1].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6); // normalised
    assert_eq!(hits.len(), 3);

    idx.upsert_document("d1", "o", "s", &[cv("z", unit(8, 2))])
        .unwrap();
    assert_eq!(idx.len(), 2);
    assert_eq!(ids(&idx, "o", None, &unit(8, 2), 1), vec!["z"]);
    assert!(!ids(&idx, "o", None, &unit(8, 0), 10).contains(&"a".to_string()));

    assert!(idx.delete_document("d1").unwrap());
    assert!(!idx.delete_document("d1").unwrap());
    assert_eq!(ids(&idx, "o", None, &unit(8, 2), 10), vec!["c"]);
    idx.upsert_document("d2", "o", "s", &[]).unwrap();
    assert!(idx.is_empty());
}

#[test]
fn filters_apply_inside_the_scan() {
    let idx = VectorIndex::new(4).unwrap();
    // Other org holds the exact matches; they must not crowd out ours.
    for i in 0..100 {
        idx.upsert_document(
            &format!("x{i}"),
            "other",
            "s1",
            &[cv(&format!("x{i}"), unit(4, 0))],
        )
        .unwrap();
    }
    idx.upsert_document("m1", "mine", "s1", &[cv("m1", vec![0.1, 1.0, 0.0, 0.0])])
        .unwrap();
    idx.upsert_document("m2", "mine", "s2", &[cv("m2", vec![0.2, 1.0, 0.0, 0.0])])
        .unwrap();
    assert_eq!(ids(&idx, "mine", None, &unit(4, 0), 1), vec!["m2"]);
    let s1 = vec!["s1".to_string()];
    assert_eq!(ids(&idx, "mine", Some(&s1), &unit(4, 0), 5), vec!["m1"]);
    let unknown = vec!["nope".to_string()];
    assert!(ids(&idx, "mine", Some(&unknown), &unit(4, 0), 5).is_empty());
    assert!(ids(&idx, "mine", Some(&[]), &unit(4, 0), 5).is_empty());
    assert!(ids(&idx, "ghost", None, &unit(4, 0), 5).is_empty());
    assert_eq!(ids(&idx, "mine", None, &unit(4, 0), usize::MAX).len(), 2);
    assert!(ids(&idx, "mine", None, &unit(4, 0), 0).is_empty());
    // A doc moving to another org leaves the old one.
    idx.upsert_document("m1", "other", "s1", &[cv("m1", unit(4, 3))])
        .unwrap();
    assert_eq!(ids(&idx, "mine", None, &unit(4, 0), 5), vec!["m2"]);
}

#[test]
fn rejects_bad_vectors_without_changes() {
    let idx = VectorIndex::new(3).unwrap();
    idx.upsert_document("d", "o", "s", &[cv("a", unit(3, 0))])
        .unwrap();
    let bad = [
        cv("b", vec![1.0, 0.0]),
        cv("b", vec![0.0, 0.0, 0.0]),
        cv("b", vec![f32::NAN, 0.0, 1.0]),
    ];
    for b in bad {
        assert!(idx
            .upsert_document("d", "o", "s", &[cv("ok", unit(3, 1)), b])
            .is_err());
    }
    assert_eq!(ids(&idx, "o", None, &unit(3, 0), 5), vec!["a"]);
    assert!(matches!(
        idx.search("o", None, &[1.0], 5),
        Err(IndexError::DimensionMismatch {
            expected: 3,
            got: 1
        })
    ));
}

#[test]
fn compaction_keeps_results_and_similarities() {
    for kernel in [Kernel::Scalar, Kernel::Avx2Fma, Kernel::Avx512] {
        let idx = VectorIndex::with_options(16, kernel, 2).unwrap();
        for i in 0..3000 {
            let v: Vec<f32> = (0..16)
                .map(|j| ((i * 31 + j * 7) % 13) as f32 + 0.5)
                .collect();
            idx.upsert_document(&format!("d{i}"), "o", "s", &[cv(&format!("c{i}"), v)])
                .unwrap();
        }
        // Delete 2/3 to trigger compaction, then check survivors are intact.
        for i in (0..3000).filter(|i| i % 3 != 0) {
            idx.delete_document(&format!("d{i}")).unwrap();
        }
        assert_eq!(idx.len(), 1000);
        let q: Vec<f32> = (0..16)
            .map(|j| ((9 * 31 + j * 7) % 13) as f32 + 0.5)
            .collect();
        let hits = idx.search("o", None, &q, 5).unwrap();
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        assert_eq!(hits.len(), 5);
        assert!(hits
            .iter()
            .all(|h| h.chunk_id[1..].parse::<usize>().unwrap() % 3 == 0));
        let sims = idx.similarities("o", &q, &["c9", "c10", "c999"]).unwrap();
        assert!((sims["c9"] - 1.0).abs() < 1e-5);
        assert!(!sims.contains_key("c10")); // deleted
        assert!(sims.contains_key("c999"));
    }
}

#[test]
fn search_matches_brute_force_and_threads_agree() {
    let dim = 24;
    let mut seed = 7u64;
    let mut rnd = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let records: Vec<VectorRecord> = (0..5000)
        .map(|i| VectorRecord {
            chunk_id: format!("c{i}"),
            doc_id: format!("d{}", i / 3),
            org_id: "o".into(),
            data_source_id: format!("s{}", i % 4),
            vector: (0..dim).map(|_| rnd()).collect(),
        })
        .collect();
    let q: Vec<f32> = (0..dim).map(|_| rnd()).collect();
    let qn = q.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cos = |v: &[f32]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>() / (n * qn)
    };
    let mut expect: Vec<(f32, &str)> = records
        .iter()
        .filter(|r| r.data_source_id == "s1")
        .map(|r| (cos(&r.vector), r.chunk_id.as_str()))
        .collect();
    expect.sort_by(|a, b| b.0.total_cmp(&a.0));
    let s1 = vec!["s1".to_string()];
    for threads in [1, 2] {
        let idx = VectorIndex::with_options(dim, Kernel::detect(), threads).unwrap();
        assert_eq!(idx.load(records.clone()).unwrap(), 5000);
        let got = idx.search("o", Some(&s1), &q, 10).unwrap();
        let got_ids: Vec<&str> = got.iter().map(|h| h.chunk_id.as_str()).collect();
        let want: Vec<&str> = expect.iter().take(10).map(|e| e.1).collect();
        assert_eq!(got_ids, want);
        // Bulk-loaded docs can be replaced like any other.
        idx.upsert_document("d0", "o", "s1", &[]).unwrap();
        assert_eq!(idx.len(), 4997);
    }
}

#[test]
fn readers_never_see_half_a_replacement() {
    let idx = Arc::new(VectorIndex::new(4).unwrap());
    let doc = |gen: usize| -> Vec<ChunkVector> {
        (0..6)
            .map(|i| cv(&format!("{gen}-{i}"), unit(4, i % 4)))
            .collect()
    };
    idx.upsert_document("d", "o", "s", &doc(0)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (idx, stop) = (idx.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let hits = idx.search("o", None, &unit(4, 0), 100).unwrap();
                assert_eq!(hits.len(), 6);
                let gens: std::collections::HashSet<_> = hits
                    .iter()
                    .map(|h| h.chunk_id.split('-').next().unwrap().to_string())
                    .collect();
                assert_eq!(gens.len(), 1);
                n += 1;
            }
            n
        })
    };
    for gen in 1..2000 {
        idx.upsert_document("d", "o", "s", &doc(gen)).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}
