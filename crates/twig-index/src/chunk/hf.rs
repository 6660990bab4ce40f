//! [`TokenCounter`] over a HuggingFace `tokenizers` tokenizer (feature `hf-tokenizer`).

use std::path::Path;

use tokenizers::Tokenizer;

use super::TokenCounter;
use crate::error::{IndexError, Result};

/// Counts model tokens (special tokens excluded) with truncation and padding disabled.
pub struct HfTokenCounter {
    tokenizer: Tokenizer,
}

impl HfTokenCounter {
    /// Wraps a tokenizer, turning off its truncation and padding so counts are exact.
    pub fn new(mut tokenizer: Tokenizer) -> Result<Self> {
        tokenizer
            .with_truncation(None)
            .map_err(|e| IndexError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        Ok(Self { tokenizer })
    }

    /// Loads a `tokenizer.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let t = Tokenizer::from_file(path).map_err(|e| IndexError::Tokenizer(e.to_string()))?;
        Self::new(t)
    }
}

impl TokenCounter for HfTokenCounter {
    fn count(&self, text: &str) -> usize {
        // An encoding error means text the model cannot see; counting it as
        // zero tokens would break the budget, so fall back to a byte-level bound.
        self.tokenizer
            .encode(text, false)
            .map_or(text.len(), |e| e.len())
    }

    fn token_offsets(&self, text: &str) -> Vec<(usize, usize)> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_offsets().to_vec())
            .unwrap_or_default()
    }
}
