//! Record storage: implementations of [`twig_core::store::Store`].
//!
//! The backend is chosen by the database URL's scheme ([`open`]): `sqlite://` or
//! `postgres://`; callers only ever see `Arc<dyn Store>`.

pub mod conformance;
pub mod scratch;
pub mod secrets;
pub mod sql;

use std::path::Path;
use std::sync::Arc;
use twig_core::store::Store;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names a backend this build does not have.
    #[error("unsupported database URL scheme {0:?}: expected sqlite://PATH or postgres://…")]
    UnsupportedScheme(String),
    /// PostgreSQL was named without the key that seals secrets.
    #[error("a postgres:// database needs `secret_key` (TWIG_SECRET_KEY): every node seals and opens secrets with the same key")]
    SecretKeyRequired,
    /// The backend refused to open or migrate.
    #[error("cannot open database {url}: {source:#}")]
    Backend {
        /// The URL, with any password removed.
        url: String,
        /// The cause.
        source: anyhow::Error,
    },
}

/// The default URL: a SQLite file inside the data directory.
pub fn default_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("twig.db").display())
}

/// Opens (creating and migrating if needed) the store named by `url`; secrets are sealed with
/// the key file beside the database.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    open_with_key(url, None).await
}

/// [`open`], sealing secrets with `secret_key` (hex or base64 of 32 bytes) when given.
pub async fn open_with_key(
    url: &str,
    secret_key: Option<&str>,
) -> Result<Arc<dyn Store>, OpenError> {
    let backend = |source| OpenError::Backend {
        url: redact(url),
        source,
    };
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store = sql::SqlStore::open_with_key(Path::new(path), secret_key)
            .await
            .map_err(backend)?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let key = secret_key.ok_or(OpenError::SecretKeyRequired)?;
        let store = sql::SqlStore::connect_postgres(url, key)
            .await
            .map_err(backend)?;
        Ok(Arc::new(store))
    } else {
        Err(OpenError::UnsupportedScheme(
            url.split("://").next().unwrap_or(url).to_owned(),
        ))
    }
}

pub use twig_core::redact::url as redact;
