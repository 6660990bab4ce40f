//! Schema and text analysis for the lexical index.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};

/// Name under which the analyzer is registered in the index.
pub(super) const ANALYZER: &str = "twig_en";

/// Index-time text analysis; changing it requires re-indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzerConfig {
    /// Apply the English Snowball (Porter2) stemmer.
    pub stem: bool,
    /// Drop English stop words.
    pub stop_words: bool,
    /// Fold accented Latin letters to ASCII ("naïve" -> "naive").
    pub ascii_folding: bool,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            stem: true,
            stop_words: true,
            ascii_folding: true,
        }
    }
}

/// Builds the analyzer: split on non-alphanumerics, drop tokens over 40 bytes,
/// lowercase, then the optional folding, stop words and stemming.
pub(super) fn analyzer(cfg: AnalyzerConfig) -> TextAnalyzer {
    let mut b = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .dynamic();
    if cfg.ascii_folding {
        b = b.filter_dynamic(AsciiFoldingFilter);
    }
    if cfg.stop_words {
        b = b.filter_dynamic(StopWordFilter::remove(
            STOP_WORDS.iter().map(|s| s.to_string()),
        ));
    }
    if cfg.stem {
        b = b.filter_dynamic(Stemmer::new(Language::English));
    }
    b.build()
}

/// Tokens of `text` after analysis, in order (duplicates kept).
pub(super) fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Fields of the chunk schema.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub chunk_id: Field,
    pub doc_id: Field,
    pub org_id: Field,
    pub data_source_id: Field,
    pub title: Field,
    pub body: Field,
}

/// Schema: raw id fields plus `title` and `body` (title + headings + text) text fields.
pub(super) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        chunk_id: b.add_text_field("chunk_id", STRING | STORED),
        doc_id: b.add_text_field("doc_id", STRING),
        org_id: b.add_text_field("org_id", STRING),
        data_source_id: b.add_text_field("data_source_id", STRING),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
    };
    (b.build(), fields)
}

/// English stop words (Lucene/Elasticsearch `_english_` list plus common function words).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "were", "been", "being", "has", "have", "had",
    "do", "does", "did", "its", "from", "than", "which", "who", "whom", "what", "when", "where",
    "how", "why", "can", "could", "would", "should", "may", "might", "also", "so", "we", "our",
    "you", "your", "he", "she", "his", "her", "them", "those", "i", "me", "my", "us", "all", "any",
    "both", "each", "other", "some", "only", "own", "same", "too", "very", "s", "t", "just",
    "about", "above", "after", "again", "against", "below", "between", "during", "over", "under",
    "until", "while", "through", "up", "down", "out", "off", "further", "here", "once", "more",
    "most", "few", "nor", "because", "before",
];
