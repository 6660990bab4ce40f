//! Secrets at rest: connector credentials and webhook signing secrets are stored encrypted with
//! AES-256-GCM, so a copied database file or backup reveals none of them.
//!
//! The key comes from `TWIG_SECRET_KEY` (64 hex characters, or base64 of 32 bytes; required
//! when several nodes share a database) or from `secret.key` beside the SQLite file, created
//! with mode 0600 on first start. A stored value is `enc:v1:<base64(nonce ‖ ciphertext)>`;
//! values written before encryption existed are read as they are and encrypted on next write.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use std::path::Path;

const PREFIX: &str = "enc:v1:";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a secret could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configured key is not 32 bytes in hex or base64.
    #[error("the secret key must be 32 bytes as 64 hex characters or base64 (TWIG_SECRET_KEY)")]
    BadKey,
    /// The key file cannot be read or created.
    #[error("secret key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored value does not decrypt with this key.
    #[error("a stored secret cannot be decrypted: the secret key differs from the one it was written with")]
    Decrypt,
}

/// Encrypts and decrypts stored secrets with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(********)")
    }
}

impl SecretBox {
    /// A box for a 32-byte key.
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
        }
    }

    /// Parses a key given as 64 hex characters or base64 of 32 bytes.
    pub fn parse(key: &str) -> Result<Self, SecretError> {
        let key = key.trim();
        let bytes = hex::decode(key)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| B64.decode(key).ok().filter(|b| b.len() == 32))
            .ok_or(SecretError::BadKey)?;
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes);
        Ok(Self::new(k))
    }

    /// Reads the key file at `path`, creating it (mode 0600) with a random key if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let err = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(s) => Self::parse(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = Aes256Gcm::generate_key(&mut OsRng).into();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                match opts.open(path) {
                    Ok(mut f) => {
                        std::io::Write::write_all(&mut f, hex::encode(key).as_bytes())
                            .and_then(|_| f.sync_all())
                            .map_err(err)?;
                        Ok(Self::new(key))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::parse(&std::fs::read_to_string(path).map_err(err)?)
                    }
                    Err(e) => Err(err(e)),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// The stored form of `plain`; an already encrypted value is kept as it is.
    pub fn seal(&self, plain: &str) -> String {
        if plain.starts_with(PREFIX) {
            return plain.to_owned();
        }
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and a fresh nonce cannot fail for inputs this small.
        let ct = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// The plain value of a stored one (a value stored before encryption passes through).
    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let raw = B64.decode(b64).map_err(|_| SecretError::Decrypt)?;
        if raw.len() < 12 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretError::Decrypt)
    }

    /// True for a value in the stored (encrypted) form.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_a_wrong_key() {
        let a = SecretBox::new([7; 32]);
        let sealed = a.seal("xoxb-secret");
        assert!(SecretBox::is_sealed(&sealed));
        assert!(!sealed.contains("xoxb"));
        assert_ne!(sealed, a.seal("xoxb-secret"), "fresh nonce each time");
        assert_eq!(a.open(&sealed).unwrap(), "xoxb-secret");
        assert_eq!(a.seal(&sealed), sealed, "sealing twice is a no-op");
        assert_eq!(a.open("legacy-plain").unwrap(), "legacy-plain");
        let b = SecretBox::new([8; 32]);
        assert!(matches!(b.open(&sealed), Err(SecretError::Decrypt)));
        assert!(a.open("enc:v1:!!").is_err());
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        assert!(SecretBox::parse(&"ab".repeat(32)).is_ok());
        assert!(SecretBox::parse(&B64.encode([1u8; 32])).is_ok());
        assert!(SecretBox::parse("short").is_err());
        assert!(SecretBox::parse(&"ab".repeat(31)).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.key");
        let a = SecretBox::load_or_create(&p).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let b = SecretBox::load_or_create(&p).unwrap();
        assert_eq!(b.open(&a.seal("x")).unwrap(), "x");
    }
}
