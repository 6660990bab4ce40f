//! Slack's request signatures: `X-Slack-Signature: v0=<hex HMAC-SHA256 of
//! "v0:<X-Slack-Request-Timestamp>:<raw body>">` with the app's signing secret, and a
//! timestamp within five minutes of now (an older one is a replay).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a request's timestamp may be from now, either way (Slack's recommendation).
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a request is not Slack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is absent.
    #[error("Missing X-Slack-Request-Timestamp or X-Slack-Signature header")]
    Missing,
    /// The timestamp is not Unix seconds.
    #[error("X-Slack-Request-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is more than five minutes away from now.
    #[error("X-Slack-Request-Timestamp is more than 5 minutes from the server's time (a replayed request, or a wrong clock)")]
    Stale,
    /// The signature is not the one of this body and timestamp.
    #[error("X-Slack-Signature does not match the request")]
    Mismatch,
}

impl From<SignatureError> for twig_core::Error {
    fn from(e: SignatureError) -> Self {
        twig_core::Error::Unauthorized(e.to_string())
    }
}

/// Checks requests with the app's signing secret.
#[derive(Clone)]
pub struct Verifier {
    secret: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &"********")
            .finish()
    }
}

/// The `v0=` signature of `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

impl Verifier {
    /// A verifier for `secret` (the app's Signing Secret).
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
        }
    }

    /// Accepts the request only if it is signed with the secret and sent within five
    /// minutes of `now_unix`. The raw body, exactly as received, is what was signed.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), SignatureError> {
        let (Some(ts), Some(sig)) = (timestamp, signature) else {
            return Err(SignatureError::Missing);
        };
        let ts = ts.trim();
        let sent: i64 = ts.parse().map_err(|_| SignatureError::BadTimestamp)?;
        if (now_unix - sent).abs() > TOLERANCE_SECS {
            return Err(SignatureError::Stale);
        }
        let expected = sign(&self.secret, ts, body);
        // Constant time: the comparison must not tell how many leading characters matched.
        if bool::from(expected.as_bytes().ct_eq(sig.trim().as_bytes())) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of Slack's "Verifying requests from Slack".
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TS: &str = "1531420618";
    const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(offset: i64) -> i64 {
        DOC_TS.parse::<i64>().unwrap() + offset
    }

    #[test]
    fn slacks_worked_example_verifies() {
        assert_eq!(sign(DOC_SECRET, DOC_TS, DOC_BODY.as_bytes()), DOC_SIG);
        let v = Verifier::new(DOC_SECRET);
        assert_eq!(
            v.verify(Some(DOC_TS), Some(DOC_SIG), DOC_BODY.as_bytes(), at(60)),
            Ok(())
        );
    }

    #[test]
    fn any_change_is_refused() {
        let v = Verifier::new(DOC_SECRET);
        let body = DOC_BODY.as_bytes();
        let mut tampered = body.to_vec();
        tampered[6] ^= 1;
        assert_eq!(
            v.verify(Some(DOC_TS), Some(DOC_SIG), &tampered, at(0)),
            Err(SignatureError::Mismatch)
        );
        let other = Verifier::new("another secret");
        assert_eq!(
            other.verify(Some(DOC_TS), Some(DOC_SIG), body, at(0)),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: a fresh one on an old signature does not pass.
        let now = at(3600).to_string();
        assert_eq!(
            v.verify(Some(&now), Some(DOC_SIG), body, at(3600)),
            Err(SignatureError::Mismatch)
        );
        let upper = DOC_SIG.to_uppercase();
        assert_eq!(
            v.verify(Some(DOC_TS), Some(&upper), body, at(0)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            v.verify(Some(DOC_TS), Some("v0="), body, at(0)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn five_minutes_either_way() {
        let v = Verifier::new(DOC_SECRET);
        let body = DOC_BODY.as_bytes();
        for ok in [-300, 0, 300] {
            assert_eq!(v.verify(Some(DOC_TS), Some(DOC_SIG), body, at(ok)), Ok(()));
        }
        for stale in [-301, 301, 86_400] {
            assert_eq!(
                v.verify(Some(DOC_TS), Some(DOC_SIG), body, at(stale)),
                Err(SignatureError::Stale),
                "{stale}"
            );
        }
    }

    #[test]
    fn missing_or_malformed_headers() {
        let v = Verifier::new(DOC_SECRET);
        let body = DOC_BODY.as_bytes();
        assert_eq!(
            v.verify(None, Some(DOC_SIG), body, at(0)),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            v.verify(Some(DOC_TS), None, body, at(0)),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            v.verify(Some("yesterday"), Some(DOC_SIG), body, at(0)),
            Err(SignatureError::BadTimestamp)
        );
        assert!(!format!("{v:?}").contains(DOC_SECRET));
    }
}
