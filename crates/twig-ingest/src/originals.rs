//! Where uploaded originals are kept, through the `object_store` port: a directory of the
//! data dir (one node), or an S3-compatible bucket that every node and worker reads.

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload};
use std::sync::Arc;

/// Where originals go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// `<data_dir>/files`.
    Local,
    /// An S3-compatible bucket; credentials come from the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, …).
    S3 {
        /// The bucket.
        bucket: String,
        /// The region (`us-east-1` if the service does not care).
        region: String,
        /// Another S3-compatible service than AWS (MinIO, moto, R2…), e.g. `http://minio:9000`.
        endpoint: Option<String>,
        /// Keys start with this (`""`: the bucket's root).
        prefix: String,
    },
}

/// An object store with the key prefix originals live under.
#[derive(Debug, Clone)]
pub struct Originals {
    objects: Arc<dyn ObjectStore>,
    root: Key,
}

/// Why the originals' store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum OriginalsError {
    /// The store refused or failed.
    #[error("originals store: {0}")]
    Store(#[from] object_store::Error),
    /// The local directory is unusable.
    #[error("originals directory {dir}: {source}")]
    Dir {
        /// The directory.
        dir: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Originals {
    /// Opens the store `config` names; `files_dir` is the local one.
    pub fn open(
        config: &StorageConfig,
        files_dir: &std::path::Path,
    ) -> Result<Self, OriginalsError> {
        match config {
            StorageConfig::Local => {
                let dir_err = |source| OriginalsError::Dir {
                    dir: files_dir.display().to_string(),
                    source,
                };
                std::fs::create_dir_all(files_dir).map_err(dir_err)?;
                // Keys are the same `org/ds/sha256` paths the data dir always had.
                let fs = object_store::local::LocalFileSystem::new_with_prefix(files_dir)?
                    .with_automatic_cleanup(true);
                Ok(Self {
                    objects: Arc::new(fs),
                    root: Key::default(),
                })
            }
            StorageConfig::S3 {
                bucket,
                region,
                endpoint,
                prefix,
            } => {
                // Fail within seconds, not the crate's default minutes: an upload request and
                // a readiness probe wait on these, and a sync job retries on its own schedule.
                let retry = object_store::RetryConfig {
                    max_retries: 3,
                    retry_timeout: std::time::Duration::from_secs(15),
                    ..Default::default()
                };
                let client = object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(3))
                    .with_timeout(std::time::Duration::from_secs(120));
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_retry(retry)
                    .with_client_options(client);
                if let Some(e) = endpoint {
                    b = b
                        .with_endpoint(e)
                        .with_allow_http(e.starts_with("http://"))
                        // Self-hosted services rarely have virtual-host bucket names.
                        .with_virtual_hosted_style_request(false);
                }
                Ok(Self {
                    objects: Arc::new(b.build()?),
                    root: Key::from(prefix.trim_matches('/')),
                })
            }
        }
    }

    fn key(&self, parts: &[&str]) -> Key {
        parts.iter().fold(self.root.clone(), |k, p| k.child(*p))
    }

    /// Stores `bytes` as `org/ds/name` (an existing object is replaced whole).
    pub async fn put(&self, path: &[&str], bytes: Vec<u8>) -> Result<(), OriginalsError> {
        self.objects
            .put(&self.key(path), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// The object at `path`.
    pub async fn get(&self, path: &[&str]) -> Result<Vec<u8>, OriginalsError> {
        let r = self.objects.get(&self.key(path)).await?;
        Ok(r.bytes().await?.to_vec())
    }

    /// Names and last-modified times of the objects directly under `path`.
    pub async fn list(
        &self,
        path: &[&str],
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, OriginalsError> {
        let prefix = self.key(path);
        let metas: Vec<_> = self.objects.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_owned();
                Some((name, m.last_modified))
            })
            .collect())
    }

    /// Removes the object at `path` (absent is fine).
    pub async fn delete(&self, path: &[&str]) -> Result<(), OriginalsError> {
        match self.objects.delete(&self.key(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes everything under `path`.
    pub async fn delete_all(&self, path: &[&str]) -> Result<(), OriginalsError> {
        for (name, _) in self.list(path).await? {
            let mut p = path.to_vec();
            p.push(&name);
            self.delete(&p).await?;
        }
        Ok(())
    }

    /// Whether the store answers (readiness).
    pub async fn ping(&self) -> Result<(), OriginalsError> {
        let _ = self.objects.list_with_delimiter(Some(&self.root)).await?;
        Ok(())
    }
}

/// For tests: creates a bucket of its own on the S3-compatible server `scripts/services.sh`
/// starts (`TWIG_TEST_S3_ENDPOINT`, by default moto on http://127.0.0.1:5000), with that
/// server's test credentials in the environment unless set; answers (endpoint, bucket).
pub async fn scratch_bucket() -> (String, String) {
    let endpoint = std::env::var("TWIG_TEST_S3_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:5000".to_owned());
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ] {
        if std::env::var(k).is_err() {
            std::env::set_var(k, v);
        }
    }
    let name = format!(
        "twig-test-{}",
        twig_core::id::DocumentId::generate().as_str()[4..].to_lowercase()
    );
    // moto takes an unsigned CreateBucket.
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("no S3 server at {endpoint} ({e}): start it with `bash scripts/services.sh`")
        });
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    (endpoint, name)
}
