//! API keys: secrets, scopes, environments, hashing and verification.

use crate::error::Error;
use crate::id::{random_base62, KeyId, OrgId, UserId};
use crate::ratelimit::{LimitOverrides, RateLimit, ScopeLimits};
use crate::time::{self, Timestamp};
use crate::user::Role;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// Random characters after the `twigsk_live_` / `twigsk_test_` prefix (~238 bits).
const SECRET_RANDOM_LEN: usize = 40;
/// Random characters kept in clear for display (`twigsk_live_AbCdEf…`).
const DISPLAY_RANDOM_LEN: usize = 6;

/// A permission a key may hold, as in the reference's rate-limit table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// List and get.
    Read,
    /// Create, update, delete.
    Write,
    /// Queries and feedback.
    Execute,
    /// Org settings, users, keys, analytics.
    Admin,
}

impl Scope {
    /// All scopes, in canonical order.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Execute, Scope::Admin];

    /// Lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Execute => "execute",
            Self::Admin => "admin",
        }
    }

    /// Capitalised name used in messages ("API key lacks Write scope").
    pub fn title(self) -> &'static str {
        match self {
            Self::Read => "Read",
            Self::Write => "Write",
            Self::Execute => "Execute",
            Self::Admin => "Admin",
        }
    }

    /// Parses one wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|sc| sc.as_str() == s)
    }

    /// Parses a list of scope names (deduplicated, sorted); empty or unknown names are errors.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Scope>, Error> {
        if names.is_empty() {
            return Err(Error::invalid_field(
                "scopes",
                "scopes must name at least one of read, write, execute, admin",
            ));
        }
        let mut out = Vec::new();
        for n in names {
            let n = n.as_ref().trim();
            let sc = Self::parse(n).ok_or_else(|| {
                Error::invalid_field(
                    "scopes",
                    format!("unknown scope {n:?}: expected read, write, execute or admin"),
                )
            })?;
            if !out.contains(&sc) {
                out.push(sc);
            }
        }
        out.sort();
        Ok(out)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Live (production) or test key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `twigsk_live_…`.
    #[default]
    Live,
    /// `twigsk_test_…`.
    Test,
}

impl Environment {
    /// Lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(Self::Live),
            "test" => Some(Self::Test),
            _ => None,
        }
    }

    fn secret_prefix(self) -> &'static str {
        match self {
            Self::Live => "twigsk_live_",
            Self::Test => "twigsk_test_",
        }
    }
}

/// SHA-256 of a key secret; the only form in which secrets are stored.
///
/// A fast hash is enough: secrets carry ~238 random bits, so there is nothing to brute-force.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// Hashes a presented secret.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Constant-time comparison, so a lookup leaks nothing through timing.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Lower-case hex form, for storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the stored hex form.
    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s).ok()?;
        Some(Self(v.try_into().ok()?))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// A key secret; redacted in `Debug` so it never reaches a log by accident.
pub struct Secret(String);

impl Secret {
    /// The secret text; show it to the user exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Whether a presented bearer token has the shape of a Twig key.
pub fn looks_like_key(token: &str) -> bool {
    let rest = token
        .strip_prefix("twigsk_live_")
        .or_else(|| token.strip_prefix("twigsk_test_"));
    rest.is_some_and(|r| {
        r.len() >= 32 && r.len() <= 128 && r.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// An API key record (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApiKey {
    /// Its id.
    pub id: KeyId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// Label given at creation.
    pub name: String,
    /// Non-secret start of the key, for recognising it in lists.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Live or test.
    pub environment: Environment,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// After this instant the key is refused.
    #[serde(with = "time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    #[serde(with = "time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
    /// The user the key belongs to; its scopes stay within the user's role.
    pub user_id: Option<UserId>,
    /// This key's own limits, overriding its org's and the configured defaults per scope.
    pub rate_limits: LimitOverrides,
    /// Role of the owning user, loaded with the key (not part of the record).
    #[serde(skip)]
    pub owner_role: Option<Role>,
    /// The org's limit overrides, loaded with the key so that authenticating
    /// a request resolves its limit without another query.
    #[serde(skip)]
    pub org_rate_limits: LimitOverrides,
}

impl ApiKey {
    /// Mints a key: the record, its stored hash, and the secret to show once.
    pub fn mint(
        org_id: OrgId,
        name: &str,
        scopes: Vec<Scope>,
        environment: Environment,
        expires_at: Option<Timestamp>,
    ) -> Result<(ApiKey, KeyHash, Secret), Error> {
        let name = crate::validate::name(name, "name")?;
        if scopes.is_empty() {
            return Err(Error::invalid_field(
                "scopes",
                "scopes must name at least one of read, write, execute, admin",
            ));
        }
        let now = time::now();
        if let Some(exp) = expires_at {
            if exp <= now {
                return Err(Error::invalid_field(
                    "expires_at",
                    "expires_at must be in the future",
                ));
            }
        }
        let random = random_base62(SECRET_RANDOM_LEN);
        let secret = format!("{}{}", environment.secret_prefix(), random);
        let prefix = format!(
            "{}{}",
            environment.secret_prefix(),
            &random[..DISPLAY_RANDOM_LEN]
        );
        let hash = KeyHash::of(&secret);
        let key = ApiKey {
            id: KeyId::generate(),
            org_id,
            name,
            prefix,
            scopes,
            environment,
            created_at: now,
            expires_at,
            revoked_at: None,
            user_id: None,
            rate_limits: LimitOverrides::default(),
            owner_role: None,
            org_rate_limits: LimitOverrides::default(),
        };
        Ok((key, hash, Secret(secret)))
    }

    /// Whether the key may authenticate at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// Whether the key holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether the key may give feedback: keys of no user may; a user's keys need role train or above.
    pub fn may_give_feedback(&self) -> bool {
        self.owner_role.is_none_or(Role::may_give_feedback)
    }

    /// The limit of `scope` for this key: its override, else its org's, else `defaults`.
    pub fn limit_for(&self, scope: Scope, defaults: &ScopeLimits) -> RateLimit {
        crate::ratelimit::effective(&self.rate_limits, &self.org_rate_limits, defaults, scope)
    }

    /// `active`, `revoked` or `expired`, for operator listings.
    pub fn state(&self, now: Timestamp) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if !self.is_usable(now) {
            "expired"
        } else {
            "active"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_have_the_documented_shape() {
        let (key, hash, secret) = ApiKey::mint(
            OrgId::generate(),
            "ci",
            vec![Scope::Read],
            Environment::Test,
            None,
        )
        .unwrap();
        let s = secret.expose();
        assert!(s.starts_with("twigsk_test_"));
        assert!(s.len() >= "twigsk_test_".len() + 32);
        assert!(looks_like_key(s));
        assert!(s.starts_with(&key.prefix));
        assert!(KeyHash::of(s).matches(&hash));
        assert!(!KeyHash::of("twigsk_test_other").matches(&hash));
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }

    #[test]
    fn scope_lists_are_validated() {
        assert_eq!(
            Scope::parse_list(&["write", "read", "read"]).unwrap(),
            vec![Scope::Read, Scope::Write]
        );
        assert!(Scope::parse_list::<&str>(&[]).is_err());
        assert!(Scope::parse_list(&["root"]).is_err());
    }

    #[test]
    fn key_shape_check() {
        assert!(!looks_like_key("twigsk_live_short"));
        assert!(!looks_like_key(
            "sk_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ));
        assert!(!looks_like_key(&format!("twigsk_live_{}!", "a".repeat(40))));
    }

    #[test]
    fn expiry_in_the_past_is_refused() {
        let past = time::now() - chrono::Duration::seconds(5);
        assert!(ApiKey::mint(
            OrgId::generate(),
            "x",
            vec![Scope::Read],
            Environment::Live,
            Some(past)
        )
        .is_err());
    }
}
