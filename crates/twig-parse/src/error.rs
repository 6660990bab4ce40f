//! Typed, user-facing parse errors.

/// Why a file could not be turned into text; every message is safe to show to the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The format (or extension / content type) is not one we can read.
    #[error("unsupported file type: {what}")]
    Unsupported {
        /// What was rejected, e.g. "extension .exe" or "binary data claimed to be text".
        what: String,
    },
    /// The input is bigger than the configured limit.
    #[error("file is too large: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: u64,
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
    /// The document is password-protected.
    #[error(
        "the {what} is password-protected (encrypted); remove the password and upload it again"
    )]
    Encrypted {
        /// Which kind of file, e.g. "PDF" or "archive entry".
        what: String,
    },
    /// The bytes are damaged or not really of the claimed format.
    #[error("the {format} file is damaged or invalid: {reason}")]
    Corrupt {
        /// Format the bytes were parsed as.
        format: String,
        /// What went wrong, in plain words.
        reason: String,
    },
    /// An archive looks like a decompression bomb and was refused.
    #[error("archive refused as a possible zip bomb: {reason}")]
    ZipBomb {
        /// Which limit tripped.
        reason: String,
    },
    /// The file parsed but contains no extractable text.
    #[error("no text could be extracted: {reason}")]
    Empty {
        /// Why, e.g. "the PDF has no text layer (probably a scan)".
        reason: String,
    },
}

impl ParseError {
    /// Shorthand for [`ParseError::Corrupt`].
    pub fn corrupt(format: impl Into<String>, reason: impl ToString) -> Self {
        ParseError::Corrupt {
            format: format.into(),
            reason: reason.to_string(),
        }
    }

    /// Shorthand for [`ParseError::Empty`].
    pub fn empty(reason: impl Into<String>) -> Self {
        ParseError::Empty {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`ParseError::ZipBomb`].
    pub fn zip_bomb(reason: impl Into<String>) -> Self {
        ParseError::ZipBomb {
            reason: reason.into(),
        }
    }
}

/// Runs a third-party parser, turning a panic into [`ParseError::Corrupt`].
pub(crate) fn guard<T>(
    format: &str,
    f: impl FnOnce() -> Result<T, ParseError>,
) -> Result<T, ParseError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(ParseError::corrupt(
            format,
            "the parser crashed on this file (it is probably malformed)",
        )),
    }
}
