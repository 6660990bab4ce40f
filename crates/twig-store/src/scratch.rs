//! Throwaway PostgreSQL databases for tests: created on the server `scripts/services.sh`
//! starts (`TWIG_TEST_POSTGRES_URL`, by default the URL that script prints) and dropped when
//! their guard is.

use sqlx::{AnyConnection, Connection, Executor};

/// The server tests create their databases on.
pub fn server_url() -> String {
    std::env::var("TWIG_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://twig:twig@127.0.0.1:5432/twig".to_owned())
}

/// A database of its own for one test; dropped (whoever is still connected) with the guard.
pub struct ScratchDb {
    /// Its URL.
    pub url: String,
    name: String,
}

impl ScratchDb {
    /// Creates an empty database; panics, saying how to start the server, if it is down.
    pub async fn create() -> Self {
        sqlx::any::install_default_drivers();
        let server = server_url();
        let mut c = AnyConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} does not answer ({e}): start it with `bash scripts/services.sh`",
                crate::redact(&server)
            )
        });
        let name = format!(
            "twig_test_{}",
            twig_core::id::DocumentId::generate().as_str()[4..].to_lowercase()
        );
        c.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let (base, _) = server
            .rsplit_once('/')
            .expect("a postgres URL ends in /DATABASE");
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a runtime (which must not block) or after it: a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = AnyConnection::connect(&server_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = c.execute(sql.as_str()).await;
                }
            });
        })
        .join();
    }
}
