//! Cross-encoder forward pass against a float64 NumPy reference (bench/make_rerank_reference.py).
//!
//! No ms-marco cross-encoder weights can be had where this was written, so the
//! parity model is the all-MiniLM-L6-v2 encoder + pooler (fetched as for the
//! embedding tests) with the seeded classifier stored in the fixture. The test
//! with the real weights runs with `--ignored` when TWIG_RERANK_MODEL_DIR holds them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use twig_embed::{
    default_model_dir, ensure_model, CrossEncoder, CrossEncoderOptions, EmbedError, RERANK_MODEL_ID,
};

struct Fixture {
    query: String,
    classifier_w: Vec<f32>,
    classifier_b: f32,
    items: Vec<(String, usize, f32)>,
}

fn fixture() -> &'static Fixture {
    static FIX: OnceLock<Fixture> = OnceLock::new();
    FIX.get_or_init(|| {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rerank_reference.json");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        Fixture {
            query: json["query"].as_str().unwrap().into(),
            classifier_w: json["classifier_weight"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect(),
            classifier_b: json["classifier_bias"].as_f64().unwrap() as f32,
            items: json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|it| {
                    (
                        it["passage"].as_str().unwrap().into(),
                        it["tokens"].as_u64().unwrap() as usize,
                        it["score"].as_f64().unwrap() as f32,
                    )
                })
                .collect(),
        }
    })
}

/// Writes a BertForSequenceClassification-style checkpoint (`bert.` prefix +
/// `classifier.*`) built from the embedding model into `dest`.
fn build_test_cross_encoder(dest: &Path) {
    let files = ensure_model(&default_model_dir()).expect("embedding model files");
    let bytes = std::fs::read(&files.weights).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let fix = fixture();
    let cw: Vec<u8> = fix
        .classifier_w
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let cb = fix.classifier_b.to_le_bytes();
    let mut tensors: Vec<(String, TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (format!("bert.{name}"), view))
        .collect();
    tensors.push((
        "classifier.weight".into(),
        TensorView::new(Dtype::F32, vec![1, 384], &cw).unwrap(),
    ));
    tensors.push((
        "classifier.bias".into(),
        TensorView::new(Dtype::F32, vec![1], &cb).unwrap(),
    ));
    let out = safetensors::serialize(tensors, None).unwrap();
    std::fs::write(dest.join("model.safetensors"), out).unwrap();
    std::fs::copy(&files.tokenizer, dest.join("tokenizer.json")).unwrap();
    std::fs::copy(&files.config, dest.join("config.json")).unwrap();
}

fn model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        build_test_cross_encoder(dir.path());
        dir
    })
    .path()
}

fn reranker() -> &'static CrossEncoder {
    static CE: OnceLock<CrossEncoder> = OnceLock::new();
    CE.get_or_init(|| {
        CrossEncoder::load(model_dir(), CrossEncoderOptions::default()).expect("load cross-encoder")
    })
}

const TOL: f32 = 2e-4;

#[test]
fn matches_numpy_reference_in_one_batch_and_one_at_a_time() {
    let fix = fixture();
    let passages: Vec<&str> = fix.items.iter().map(|i| i.0.as_str()).collect();
    let batch = reranker().score(&fix.query, &passages).unwrap();
    let mut worst = 0.0f32;
    for ((passage, _, want), got) in fix.items.iter().zip(&batch) {
        worst = worst.max((got - want).abs());
        assert!(
            (got - want).abs() < TOL,
            "{passage:.40}: got {got}, want {want}"
        );
        let one = reranker().score(&fix.query, &[passage.as_str()]).unwrap();
        assert!(
            (one[0] - want).abs() < TOL,
            "{passage:.40} alone: {}",
            one[0]
        );
    }
    eprintln!("vs NumPy reference: max abs logit diff {worst}");
    // The scores really differ, so a constant output could not pass.
    let spread = fix.items.iter().map(|i| i.2).fold(f32::MIN, f32::max)
        - fix.items.iter().map(|i| i.2).fold(f32::MAX, f32::min);
    assert!(spread > 1.0);
}

#[test]
fn scores_do_not_depend_on_batching_threads_or_neighbours() {
    let fix = fixture();
    let mut passages: Vec<String> = (0..37)
        .map(|i| format!("passage {i} {}", "password reset help ".repeat(i % 19)))
        .collect();
    passages.extend(fix.items.iter().map(|i| i.0.clone()));
    let refs: Vec<&str> = passages.iter().map(|s| s.as_str()).collect();
    let tiny_batches = CrossEncoder::load(
        model_dir(),
        CrossEncoderOptions {
            threads: 2,
            batch_size: 3,
            max_batch_tokens: 600,
            ..Default::default()
        },
    )
    .unwrap();
    let single_thread = CrossEncoder::load(
        model_dir(),
        CrossEncoderOptions {
            threads: 1,
            batch_size: 64,
            max_batch_tokens: 1 << 16,
            ..Default::default()
        },
    )
    .unwrap();
    let a = tiny_batches.score(&fix.query, &refs).unwrap();
    let b = single_thread.score(&fix.query, &refs).unwrap();
    assert_eq!(a.len(), refs.len());
    for (i, p) in refs.iter().enumerate() {
        let alone = reranker().score(&fix.query, &[p]).unwrap()[0];
        assert!(
            (a[i] - alone).abs() < 1e-4,
            "input {i}: {} vs {alone}",
            a[i]
        );
        assert!(
            (b[i] - alone).abs() < 1e-4,
            "input {i}: {} vs {alone}",
            b[i]
        );
    }
}

#[test]
fn long_passages_are_cut_to_512_tokens() {
    let fix = fixture();
    let (long, tokens, want) = fix
        .items
        .iter()
        .find(|i| i.1 == 512)
        .expect("fixture has a pair cut to 512 tokens");
    assert_eq!(*tokens, 512);
    // Text past the cut changes nothing, and nothing fails on a very long passage.
    let longer = format!("{long} {}", "unrelated trailing words ".repeat(2000));
    let got = reranker()
        .score(&fix.query, &[long.as_str(), longer.as_str()])
        .unwrap();
    assert!((got[0] - want).abs() < TOL);
    assert!((got[1] - got[0]).abs() < 1e-5, "{got:?}");
}

#[test]
fn empty_input_and_bad_models_answer_clearly() {
    assert!(reranker().score("q", &[]).unwrap().is_empty());
    assert_eq!(reranker().model_id(), RERANK_MODEL_ID);
    // The embedding model has no classification head: refused by name, not mis-scored.
    let files = ensure_model(&default_model_dir()).unwrap();
    let err = CrossEncoder::load(&files.dir, CrossEncoderOptions::default())
        .err()
        .expect("an embedding model is not a reranker");
    assert!(
        matches!(&err, EmbedError::Weights(m) if m.contains("classifier")),
        "{err}"
    );
    let err = CrossEncoder::load(
        model_dir(),
        CrossEncoderOptions {
            max_seq_len: 1024,
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(err, EmbedError::Config(_)), "{err}");
}

/// With the real ms-marco weights: relevant passages outrank irrelevant ones.
#[test]
#[ignore = "needs cross-encoder/ms-marco-MiniLM-L6-v2 in TWIG_RERANK_MODEL_DIR (not obtainable offline)"]
fn real_weights_rank_the_relevant_passage_first() {
    let dir = twig_embed::ensure_reranker(&twig_embed::default_rerank_dir(), None).unwrap();
    let ce = CrossEncoder::load(&dir, CrossEncoderOptions::default()).unwrap();
    let scores = ce
        .score(
            "How many people live in Berlin?",
            &[
                "Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.",
                "New York City is famous for the Metropolitan Museum of Art.",
                "The tide comes in at noon.",
            ],
        )
        .unwrap();
    assert!(
        scores[0] > scores[1] + 3.0 && scores[0] > scores[2] + 3.0,
        "{scores:?}"
    );
}
