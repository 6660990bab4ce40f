//! Starts the real `twig` binary on port 0 with its own data dir, and talks HTTP to it.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running server process.
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bootstrap key printed on first start (None on a restart).
    pub key: Option<String>,
    /// Everything the process printed on stdout so far.
    pub stdout: Arc<Mutex<String>>,
    /// Data directory in use.
    pub data_dir: PathBuf,
    client: reqwest::Client,
}

/// A response, decoded.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

/// The `twig` binary under test.
pub fn twig_bin() -> &'static str {
    env!("CARGO_BIN_EXE_twig")
}

/// Runs a `twig` subcommand against `data_dir` and returns (success, stdout, stderr).
pub fn twig_cmd(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(twig_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run twig");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl TestServer {
    /// A fresh server on a new temporary data directory.
    pub async fn start() -> (TestServer, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Self::start_in(dir.path(), &[]).await;
        (s, dir)
    }

    /// A server on `data_dir` with extra environment variables.
    pub async fn start_in(data_dir: &Path, env: &[(&str, &str)]) -> TestServer {
        let mut cmd = Command::new(twig_bin());
        cmd.arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("RUST_LOG")
            .env("TWIG_LOG__LEVEL", "info")
            // Most tests exercise records, not retrieval: skip loading the model unless asked.
            .env("TWIG_EMBEDDING__PROVIDER", "none")
            // Record tests make many writes with one key; the rate-limit tests turn this back on.
            .env("TWIG_RATE_LIMITS__ENABLED", "false")
            .current_dir(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn twig serve");
        let stdout = Arc::new(Mutex::new(String::new()));
        {
            let out = child.stdout.take().expect("stdout");
            let sink = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        {
            let err = child.stderr.take().expect("stderr");
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Some(i) = line.find("listening on http://") {
                        let url = line[i + "listening on ".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_owned();
                        let _ = tx.send(url);
                    }
                    eprintln!("[twig] {line}");
                }
            });
        }
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not report its address");
        // The bootstrap block is printed before the listening line; give the reader thread a moment.
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut key = None;
        while Instant::now() < deadline {
            key = stdout
                .lock()
                .unwrap()
                .split_whitespace()
                .find(|w| w.starts_with("twigsk_"))
                .map(str::to_owned);
            if key.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        TestServer {
            child,
            base,
            key,
            stdout,
            data_dir: data_dir.to_path_buf(),
            client: reqwest::Client::new(),
        }
    }

    /// The bootstrap key.
    pub fn admin(&self) -> &str {
        self.key.as_deref().expect("bootstrap key")
    }

    /// Sends a request with an optional bearer key and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::decode(req.send().await.expect("request")).await
    }

    /// Sends a raw request built by the caller.
    pub async fn raw(
        &self,
        build: impl FnOnce(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Resp {
        Self::decode(
            build(&self.client, &self.base)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    async fn decode(r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Resp {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// Creates a key of the bootstrap org with `scopes` over the API; returns (id, secret).
    pub async fn key_with(&self, scopes: &[&str]) -> (String, String) {
        let r = self
            .post(
                "/api/v1/api-keys",
                self.admin(),
                serde_json::json!({"name": "t", "scopes": scopes}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        (
            r.body["id"].as_str().unwrap().to_owned(),
            r.body["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates another organisation (operator CLI) and a key of it with `scopes`; returns (org id, secret).
    pub fn other_org_key(&self, scopes: &str) -> (String, String) {
        let (ok, org, err) = twig_cmd(&self.data_dir, &["orgs", "create", "--name", "Beta"]);
        assert!(ok, "{err}");
        let org = org.trim().to_owned();
        let (ok, key, err) = twig_cmd(
            &self.data_dir,
            &[
                "keys", "create", "--org", &org, "--name", "b", "--scopes", scopes,
            ],
        );
        assert!(ok, "{err}");
        (org, key.trim().to_owned())
    }

    /// Kills the process at once (SIGKILL), as a crash or power loss would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Settings of servers that sync connectors from loopback vendors: private addresses allowed,
/// fast retries, and a short job lease so a server killed mid-sync is resumed soon.
pub const CONNECTOR_ENV: &[(&str, &str)] = &[
    ("TWIG_INGEST__ALLOW_PRIVATE_NETWORKS", "true"),
    ("TWIG_INGEST__JOB_LEASE_SECS", "3"),
    ("TWIG_CONNECTORS__BACKOFF_BASE_MS", "10"),
    ("TWIG_CONNECTORS__BACKOFF_MAX_MS", "50"),
    ("TWIG_CONNECTORS__MAX_ATTEMPTS", "2"),
];

/// Asserts the documented error body and returns its message.
#[track_caller]
pub fn assert_error(r: &Resp, status: u16, code: &str) -> String {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.text);
    assert_eq!(r.body["error"]["code"], code, "body: {}", r.text);
    assert!(r.body["error"]["message"].is_string(), "body: {}", r.text);
    assert!(r.body["error"]["details"].is_object(), "body: {}", r.text);
    let rid = r.body["request_id"].as_str().expect("request_id");
    assert!(rid.starts_with("req_"), "{rid}");
    assert_eq!(
        r.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some(rid)
    );
    r.body["error"]["message"].as_str().unwrap().to_owned()
}
