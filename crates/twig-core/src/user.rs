//! Users of an organisation and their roles.
//!
//! A role bounds the scopes of the keys that belong to the user:
//! readonly -> read + execute; train -> the same scopes plus the right to give
//! feedback on answers; configure -> + write; admin -> every scope. The API
//! reference puts `POST /interactions/:id/feedback` under the Execute scope, so
//! "train" differs from "readonly" by a right checked beside the scope (see
//! [`Role::may_give_feedback`]), not by a scope of its own.

use crate::apikey::Scope;
use crate::error::Error;
use crate::id::{OrgId, UserId};
use crate::time::{self, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// What a user may do; ordered from least to most.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Ask questions and read.
    Readonly,
    /// Readonly, plus give feedback that trains the agents.
    Train,
    /// Train, plus create and change agents, data sources and the rest (Write).
    Configure,
    /// Everything, including keys, users and analytics.
    Admin,
}

impl Role {
    /// All roles, least first.
    pub const ALL: [Role; 4] = [Role::Readonly, Role::Train, Role::Configure, Role::Admin];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Readonly => "readonly",
            Self::Train => "train",
            Self::Configure => "configure",
            Self::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Parses the `role` field of a request.
    pub fn parse_field(s: &str) -> Result<Self, Error> {
        Self::parse(s.trim()).ok_or_else(|| {
            Error::invalid_field(
                "role",
                format!("role must be readonly, train, configure or admin, got {s:?}"),
            )
        })
    }

    /// Scopes a key of a user with this role may hold.
    pub fn allowed_scopes(self) -> &'static [Scope] {
        match self {
            Self::Readonly | Self::Train => &[Scope::Read, Scope::Execute],
            Self::Configure => &[Scope::Read, Scope::Write, Scope::Execute],
            Self::Admin => &Scope::ALL,
        }
    }

    /// Whether this role allows `scope`.
    pub fn allows(self, scope: Scope) -> bool {
        self.allowed_scopes().contains(&scope)
    }

    /// Whether keys of users with this role may give feedback on answers.
    pub fn may_give_feedback(self) -> bool {
        self >= Self::Train
    }

    /// `scopes` kept to what this role allows (order preserved).
    pub fn narrow(self, scopes: &[Scope]) -> Vec<Scope> {
        scopes.iter().copied().filter(|s| self.allows(*s)).collect()
    }

    /// Refuses a scope list the role does not allow, naming what is refused.
    pub fn check_scopes(self, user: &UserId, scopes: &[Scope]) -> Result<(), Error> {
        let refused: Vec<&str> = scopes
            .iter()
            .filter(|s| !self.allows(**s))
            .map(|s| s.as_str())
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        let allowed: Vec<&str> = self.allowed_scopes().iter().map(|s| s.as_str()).collect();
        Err(Error::Forbidden(format!(
            "User {user} has role {}, which allows keys with scopes {}; refused: {}",
            self.as_str(),
            allowed.join(", "),
            refused.join(", ")
        )))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Validates an email address: trimmed, one `@`, a plausible local part and a dotted domain.
///
/// Deliberately not the full RFC 5322 grammar (quoted local parts, IP literals): those are
/// accepted by almost no mail system a team would invite users from.
pub fn email(raw: &str) -> Result<String, Error> {
    let bad =
        |why: &str| Error::invalid_field("email", format!("email {raw:?} is not valid: {why}"));
    let e = raw.trim();
    if e.is_empty() {
        return Err(Error::invalid_field("email", "email must not be empty"));
    }
    if e.chars().count() > MAX_EMAIL_CHARS {
        return Err(bad("longer than 254 characters"));
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err(bad("missing @"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(bad("the part before @ must be 1 to 64 characters"));
    }
    let local_ok = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if !local.chars().all(local_ok)
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(bad("the part before @ has characters that are not allowed"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("the domain needs a dot"));
    }
    for l in &labels {
        if l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        {
            return Err(bad("the domain is not a valid host name"));
        }
    }
    Ok(e.to_owned())
}

/// The form of an email that uniqueness compares: case folded.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// A user of an organisation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct User {
    /// Its id (`usr_…`).
    pub id: UserId,
    /// Owning organisation.
    #[serde(skip)]
    pub org_id: OrgId,
    /// Email address, as given; unique in the org regardless of case.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// What the user, and keys belonging to the user, may do.
    pub role: Role,
    /// Creation time.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Body of `POST /users` and `PUT /users/:id` (all optional on PUT).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Email address (required on create), unique in the organisation ignoring case.
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: Option<String>,
    /// Display name.
    #[schema(
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Ada Lovelace"
    )]
    pub name: Option<String>,
    /// `readonly`, `train`, `configure` or `admin` (required on create).
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
}

impl User {
    /// A new user from a create request.
    pub fn create(org_id: OrgId, input: UserInput) -> Result<Self, Error> {
        let email = email(&crate::validate::required(input.email, "email")?)?;
        let role = Role::parse_field(&crate::validate::required(input.role, "role")?)?;
        let name = input
            .name
            .map(|n| crate::validate::name(&n, "name"))
            .transpose()?;
        let now = time::now();
        Ok(Self {
            id: UserId::generate(),
            org_id,
            email,
            name,
            role,
            created_at: now,
            updated_at: now,
        })
    }

    /// This user with the fields of an update request applied.
    pub fn apply(&self, input: UserInput) -> Result<Self, Error> {
        let mut u = self.clone();
        if let Some(e) = input.email {
            u.email = email(&e)?;
        }
        if let Some(r) = input.role {
            u.role = Role::parse_field(&r)?;
        }
        if let Some(n) = input.name {
            u.name = Some(crate::validate::name(&n, "name")?);
        }
        u.updated_at = time::now();
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "John.Doe+tag@Example.COM",
            " user@example.com ",
            "x@sub.domain-1.org",
        ] {
            assert!(email(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@@example.com",
            "a@exa mple.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-x.com",
            "a@x..com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(email(" a@b.co ").unwrap(), "a@b.co");
        assert_eq!(email_key("John@Example.COM"), "john@example.com");
    }

    #[test]
    fn roles_bound_scopes() {
        use Scope::*;
        assert_eq!(Role::Readonly.allowed_scopes(), &[Read, Execute]);
        assert_eq!(Role::Train.allowed_scopes(), &[Read, Execute]);
        assert_eq!(Role::Configure.allowed_scopes(), &[Read, Write, Execute]);
        assert_eq!(Role::Admin.allowed_scopes(), &Scope::ALL);
        assert!(!Role::Readonly.may_give_feedback());
        assert!(Role::Train.may_give_feedback());
        assert!(Role::Admin.may_give_feedback());
        assert_eq!(Role::Readonly.narrow(&[Read, Write, Admin]), vec![Read]);
        let u = UserId::generate();
        let e = Role::Configure
            .check_scopes(&u, &[Read, Admin])
            .unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)));
        assert!(e.to_string().contains("refused: admin"), "{e}");
        assert!(Role::Configure.check_scopes(&u, &[Read, Write]).is_ok());
    }

    #[test]
    fn create_and_update_validate() {
        let org = OrgId::generate();
        let input = |e: Option<&str>, r: Option<&str>| UserInput {
            email: e.map(Into::into),
            name: Some("Jo".into()),
            role: r.map(Into::into),
        };
        assert!(User::create(org.clone(), input(None, Some("admin"))).is_err());
        assert!(User::create(org.clone(), input(Some("a@b.co"), None)).is_err());
        assert!(User::create(org.clone(), input(Some("a@b.co"), Some("root"))).is_err());
        let u = User::create(org, input(Some("a@b.co"), Some("train"))).unwrap();
        assert_eq!(u.role, Role::Train);
        let v = u
            .apply(UserInput {
                role: Some("configure".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((v.role, v.email.as_str()), (Role::Configure, "a@b.co"));
        assert!(u
            .apply(UserInput {
                name: Some("  ".into()),
                ..Default::default()
            })
            .is_err());
    }
}
