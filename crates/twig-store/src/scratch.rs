//! Throwaway PostgreSQL databases for tests and benchmarks: created on a server (for tests the
//! one `scripts/services.sh` starts, `TWIG_TEST_POSTGRES_URL`, by default the URL that script
//! prints) and dropped when their guard is.

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
    server: String,
}

impl ScratchDb {
    /// Creates an empty database for a test; panics, saying how to start the server, if it is down.
    pub async fn create() -> Self {
        let server = server_url();
        Self::create_on(&server)
            .await
            .unwrap_or_else(|e| panic!("{e:#}: start it with `bash scripts/services.sh`"))
    }

    /// Creates an empty database on the server of `server` (a URL of any database there).
    pub async fn create_on(server: &str) -> anyhow::Result<Self> {
        use anyhow::Context;
        sqlx::any::install_default_drivers();
        let (base, _) = server
            .split('?')
            .next()
            .unwrap_or(server)
            .rsplit_once('/')
            .context("a postgres URL ends in /DATABASE")?;
        let mut c = AnyConnection::connect(server)
            .await
            .with_context(|| format!("PostgreSQL at {} does not answer", crate::redact(server)))?;
        let name = format!(
            "twig_scratch_{}",
            twig_core::id::DocumentId::generate().as_str()[4..].to_lowercase()
        );
        c.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .context("creating a scratch database")?;
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
            server: server.to_owned(),
        })
    }
}

impl ScratchDb {
    /// Sets a server setting for every later session on this database (`ALTER DATABASE … SET`).
    pub async fn set(&self, setting: &str, value: &str) -> anyhow::Result<()> {
        let mut c = AnyConnection::connect(&self.url).await?;
        let value = value.replace('\'', "''");
        c.execute(format!("ALTER DATABASE {} SET {setting} = '{value}'", self.name).as_str())
            .await?;
        Ok(())
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let server = self.server.clone();
        // Drop may run inside a runtime (which must not block) or after it: a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = AnyConnection::connect(&server).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = c.execute(sql.as_str()).await;
                }
            });
        })
        .join();
    }
}
