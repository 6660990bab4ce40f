//! An OpenAI-compatible embeddings provider (OpenAI, Ollama, TEI, vLLM, LM Studio…).
//!
//! Speaks `POST {base_url}/embeddings` with `{"model", "input": [...]}` and reads
//! `data[i].embedding` by `data[i].index`. Vectors are normalised here, so
//! servers that do not normalise still give cosine = dot product.

use serde_json::{json, Value};
use std::time::Duration;
use twig_core::retrieval::word_offsets;

/// Settings of a remote embeddings endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL up to the version, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// Model name the server knows.
    pub model: String,
    /// Bearer key, if the server needs one.
    pub api_key: Option<String>,
    /// Inputs per request.
    pub batch_size: usize,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// Why a remote embedding call failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// Transport failure or timeout.
    #[error("embeddings request to {url} failed: {source}")]
    Transport {
        /// Endpoint.
        url: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered an error status.
    #[error("embeddings endpoint {url} answered {status}: {body}")]
    Status {
        /// Endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// The answer is not the documented shape.
    #[error("embeddings endpoint {url} sent an unexpected answer: {reason}")]
    Malformed {
        /// Endpoint.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// Attempts per batch on 429 and 5xx (never on other 4xx).
const ATTEMPTS: u32 = 3;

/// A remote embeddings model; blocking calls, for use off the async runtime.
pub struct OpenAiEmbedder {
    config: OpenAiConfig,
    client: reqwest::blocking::Client,
    dim: usize,
    id: String,
}

impl OpenAiEmbedder {
    /// Connects and learns the vector dimension with one probe request.
    pub fn connect(config: OpenAiConfig) -> Result<Self, RemoteError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|source| RemoteError::Transport {
                url: config.base_url.clone(),
                source,
            })?;
        let id = format!("openai:{}", config.model);
        let mut me = Self {
            config,
            client,
            dim: 0,
            id,
        };
        let probe = me.request(&["dimension probe"])?;
        me.dim = probe.first().map_or(0, Vec::len);
        if me.dim == 0 {
            return Err(RemoteError::Malformed {
                url: me.url(),
                reason: "empty embedding".into(),
            });
        }
        Ok(me)
    }

    fn url(&self) -> String {
        format!("{}/embeddings", self.config.base_url.trim_end_matches('/'))
    }

    fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RemoteError> {
        let url = self.url();
        let body = json!({"model": self.config.model, "input": texts});
        let mut attempt = 0;
        let value: Value = loop {
            attempt += 1;
            let mut req = self.client.post(&url).json(&body);
            if let Some(k) = &self.config.api_key {
                req = req.bearer_auth(k);
            }
            match req.send() {
                Err(source)
                    if attempt < ATTEMPTS && (source.is_timeout() || source.is_connect()) => {}
                Err(source) => return Err(RemoteError::Transport { url, source }),
                Ok(res) => {
                    let status = res.status().as_u16();
                    if status == 200 {
                        break res.json().map_err(|source| RemoteError::Transport {
                            url: url.clone(),
                            source,
                        })?;
                    }
                    let retryable = status == 429 || status >= 500;
                    if !retryable || attempt >= ATTEMPTS {
                        let text = res.text().unwrap_or_default();
                        return Err(RemoteError::Status {
                            url,
                            status,
                            body: text.chars().take(300).collect(),
                        });
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(200 * 2u64.pow(attempt)));
        };
        let data = value["data"]
            .as_array()
            .ok_or_else(|| RemoteError::Malformed {
                url: url.clone(),
                reason: "no `data` array".into(),
            })?;
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (i, item) in data.iter().enumerate() {
            let idx = item["index"].as_u64().map_or(i, |n| n as usize);
            let emb = item["embedding"]
                .as_array()
                .ok_or_else(|| RemoteError::Malformed {
                    url: url.clone(),
                    reason: "an item has no `embedding`".into(),
                })?;
            let mut v: Vec<f32> = emb
                .iter()
                .map(|x| x.as_f64().unwrap_or(0.0) as f32)
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
            if let Some(slot) = out.get_mut(idx) {
                *slot = Some(v);
            }
        }
        out.into_iter()
            .map(|v| {
                v.ok_or_else(|| RemoteError::Malformed {
                    url: url.clone(),
                    reason: "missing embeddings".into(),
                })
            })
            .collect()
    }
}

impl twig_core::retrieval::Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn max_tokens(&self) -> usize {
        8192
    }

    fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size.max(1)) {
            // Some servers reject empty strings; a single space embeds as "nothing".
            let batch: Vec<&str> = batch
                .iter()
                .map(|t| if t.trim().is_empty() { " " } else { *t })
                .collect();
            let started = std::time::Instant::now();
            let vs = self.request(&batch)?;
            crate::record(self.model_id(), batch.len(), started);
            if vs.iter().any(|v| v.len() != self.dim) {
                anyhow::bail!(
                    "embeddings endpoint changed dimension (expected {})",
                    self.dim
                );
            }
            out.extend(vs);
        }
        Ok(out)
    }

    // Budgets are counted in whitespace-separated words: a remote model's tokenizer is not available here.
    fn count_tokens(&self, text: &str) -> usize {
        word_offsets(text).len()
    }

    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        word_offsets(text)
    }
}
