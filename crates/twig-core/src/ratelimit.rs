//! The rate-limiter port and its in-process implementation (GCRA).
//!
//! GCRA is a token bucket kept as one timestamp per key: the "theoretical
//! arrival time" (TAT). A request is allowed when `now >= TAT - tolerance`;
//! it then pushes TAT one emission interval further. Refill is continuous.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

/// A limit: sustained requests per minute and the burst allowed on top.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained rate (1 to 60000 in an override).
    #[schema(minimum = 1, maximum = 60000)]
    #[serde(deserialize_with = "crate::validate::u32_integer")]
    pub per_minute: u32,
    /// Requests that may arrive at once after a quiet period (1 to 60000 in an override).
    #[schema(minimum = 1, maximum = 60000)]
    #[serde(deserialize_with = "crate::validate::u32_integer")]
    pub burst: u32,
}

/// One limit per scope; defaults are the API reference's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeLimits {
    /// List and get.
    pub read: RateLimit,
    /// Create, update, delete.
    pub write: RateLimit,
    /// Queries and feedback.
    pub execute: RateLimit,
    /// Keys, users, analytics.
    pub admin: RateLimit,
}

impl Default for ScopeLimits {
    fn default() -> Self {
        Self {
            read: RateLimit {
                per_minute: 200,
                burst: 250,
            },
            write: RateLimit {
                per_minute: 10,
                burst: 15,
            },
            execute: RateLimit {
                per_minute: 100,
                burst: 120,
            },
            admin: RateLimit {
                per_minute: 50,
                burst: 60,
            },
        }
    }
}

impl ScopeLimits {
    /// The limit of `scope`.
    pub fn of(&self, scope: crate::apikey::Scope) -> RateLimit {
        use crate::apikey::Scope;
        match scope {
            Scope::Read => self.read,
            Scope::Write => self.write,
            Scope::Execute => self.execute,
            Scope::Admin => self.admin,
        }
    }
}

/// Largest `per_minute` or `burst` an override may set (one request per millisecond).
pub const MAX_OVERRIDE: u32 = 60_000;

/// Stored overrides of the default limits, per scope (per key or per org); `None` inherits.
///
/// Resolution is key override > org override > configured default, per scope.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Override of the Read limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<RateLimit>,
    /// Override of the Write limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<RateLimit>,
    /// Override of the Execute limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute: Option<RateLimit>,
    /// Override of the Admin limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<RateLimit>,
}

impl LimitOverrides {
    /// The override of `scope`, if any.
    pub fn of(&self, scope: crate::apikey::Scope) -> Option<RateLimit> {
        use crate::apikey::Scope;
        match scope {
            Scope::Read => self.read,
            Scope::Write => self.write,
            Scope::Execute => self.execute,
            Scope::Admin => self.admin,
        }
    }

    /// Sets (or with `None` clears) the override of `scope`.
    pub fn set(&mut self, scope: crate::apikey::Scope, limit: Option<RateLimit>) {
        use crate::apikey::Scope;
        let slot = match scope {
            Scope::Read => &mut self.read,
            Scope::Write => &mut self.write,
            Scope::Execute => &mut self.execute,
            Scope::Admin => &mut self.admin,
        };
        *slot = limit;
    }

    /// Whether no scope is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks every override is within 1..=[`MAX_OVERRIDE`]; `field` names the request field in errors.
    pub fn validate(&self, field: &str) -> Result<(), crate::Error> {
        for scope in crate::apikey::Scope::ALL {
            if let Some(l) = self.of(scope) {
                for (what, v) in [("per_minute", l.per_minute), ("burst", l.burst)] {
                    if v == 0 || v > MAX_OVERRIDE {
                        let path = format!("{field}.{}.{what}", scope.as_str());
                        return Err(crate::Error::invalid_field(
                            &path,
                            format!("{path} must be between 1 and {MAX_OVERRIDE}, got {v}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A change to [`LimitOverrides`]: per scope, absent leaves it, `null` clears it, an object sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, utoipa::ToSchema)]
pub struct LimitChanges {
    /// Read scope.
    #[schema(value_type = Option<RateLimit>)]
    pub read: Option<Option<RateLimit>>,
    /// Write scope.
    #[schema(value_type = Option<RateLimit>)]
    pub write: Option<Option<RateLimit>>,
    /// Execute scope.
    #[schema(value_type = Option<RateLimit>)]
    pub execute: Option<Option<RateLimit>>,
    /// Admin scope.
    #[schema(value_type = Option<RateLimit>)]
    pub admin: Option<Option<RateLimit>>,
}

// By hand: serde's derive would also take an array of the fields in order.
impl<'de> serde::Deserialize<'de> for LimitChanges {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Scopes;
        impl<'de> serde::de::Visitor<'de> for Scopes {
            type Value = LimitChanges;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object with read, write, execute or admin")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<LimitChanges, A::Error> {
                // An identifier key, so an unknown name fails where the derive fails (path kept).
                #[derive(serde::Deserialize)]
                #[serde(field_identifier, rename_all = "lowercase")]
                enum Key {
                    Read,
                    Write,
                    Execute,
                    Admin,
                }
                let mut out = LimitChanges::default();
                while let Some(k) = m.next_key::<Key>()? {
                    let slot = match k {
                        Key::Read => &mut out.read,
                        Key::Write => &mut out.write,
                        Key::Execute => &mut out.execute,
                        Key::Admin => &mut out.admin,
                    };
                    *slot = Some(m.next_value::<Option<RateLimit>>()?);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Scopes)
    }
}

impl LimitChanges {
    /// `current` with these changes applied, validated.
    pub fn apply(&self, current: LimitOverrides, field: &str) -> crate::Result<LimitOverrides> {
        use crate::apikey::Scope;
        let mut out = current;
        for (scope, change) in [
            (Scope::Read, self.read),
            (Scope::Write, self.write),
            (Scope::Execute, self.execute),
            (Scope::Admin, self.admin),
        ] {
            if let Some(c) = change {
                out.set(scope, c);
            }
        }
        out.validate(field)?;
        Ok(out)
    }
}

/// The limit that applies to a key for `scope`: its own override, else its org's, else `default`.
pub fn effective(
    key: &LimitOverrides,
    org: &LimitOverrides,
    default: &ScopeLimits,
    scope: crate::apikey::Scope,
) -> RateLimit {
    key.of(scope)
        .or_else(|| org.of(scope))
        .unwrap_or_else(|| default.of(scope))
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The limit's sustained rate (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Requests still allowed right now (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Unix seconds when the bucket is full again (`X-RateLimit-Reset`).
    pub reset_unix: u64,
    /// Seconds until a refused request may be retried (`Retry-After`); 0 when allowed.
    pub retry_after_secs: u64,
}

/// Decides whether a request under `key` is within `limit`; implementations
/// must be exact under concurrency (N parallel callers get exactly the allowance).
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request under `key` at `now_unix_micros` (refused requests are not counted).
    async fn check(
        &self,
        key: &str,
        limit: RateLimit,
        now_unix_micros: i64,
    ) -> anyhow::Result<Decision>;

    /// Whether the limiter's backend answers (readiness); an in-process one always does.
    async fn ping(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A limit as GCRA sees it: the emission interval and the burst tolerance, in microseconds.
pub fn gcra_params(limit: RateLimit) -> (i64, i64) {
    let per_minute = i64::from(limit.per_minute.max(1));
    let burst = i64::from(limit.burst.max(1));
    let interval = 60_000_000 / per_minute;
    (interval, interval * (burst - 1))
}

/// GCRA arithmetic shared by every backend, in microseconds.
pub fn gcra(tat: Option<i64>, limit: RateLimit, now: i64) -> (Decision, Option<i64>) {
    let burst = i64::from(limit.burst.max(1));
    let (interval, tolerance) = gcra_params(limit);
    let tat = tat.unwrap_or(now).max(now);
    let reset = |t: i64| (t.max(now) + 999_999).div_euclid(1_000_000) as u64;
    if now < tat - tolerance {
        let wait = tat - tolerance - now;
        let d = Decision {
            allowed: false,
            limit: limit.per_minute,
            remaining: 0,
            reset_unix: reset(tat),
            retry_after_secs: ((wait + 999_999) / 1_000_000).max(1) as u64,
        };
        return (d, None);
    }
    let new_tat = tat + interval;
    let remaining =
        ((tolerance - (new_tat - now - interval)) / interval).clamp(0, burst - 1) as u32;
    let d = Decision {
        allowed: true,
        limit: limit.per_minute,
        remaining,
        reset_unix: reset(new_tat),
        retry_after_secs: 0,
    };
    (d, Some(new_tat))
}

/// Limits kept in this process's memory (one node; the scale-out mode shares them in Redis).
#[derive(Default)]
pub struct InProcessLimiter {
    tats: Mutex<HashMap<String, i64>>,
}

impl InProcessLimiter {
    /// Forgets keys whose buckets are full again, bounding memory.
    pub fn prune(&self, now_unix_micros: i64) {
        if let Ok(mut m) = self.tats.lock() {
            m.retain(|_, tat| *tat > now_unix_micros);
        }
    }

    /// Decides synchronously (the map lock makes check-and-update atomic).
    pub fn check_now(&self, key: &str, limit: RateLimit, now: i64) -> Decision {
        let mut m = match self.tats.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (d, tat) = gcra(m.get(key).copied(), limit, now);
        if let Some(t) = tat {
            m.insert(key.to_owned(), t);
        }
        d
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, key: &str, limit: RateLimit, now: i64) -> anyhow::Result<Decision> {
        Ok(self.check_now(key, limit, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    const EXECUTE: RateLimit = RateLimit {
        per_minute: 100,
        burst: 120,
    };
    const T0: i64 = 1_700_000_000_000_000;

    #[test]
    fn limit_changes_are_read_from_objects_only() {
        let c: LimitChanges =
            serde_json::from_str(r#"{"read": {"per_minute": 5, "burst": 6}, "write": null}"#)
                .unwrap();
        assert_eq!(
            c.read,
            Some(Some(RateLimit {
                per_minute: 5,
                burst: 6
            }))
        );
        assert_eq!(c.write, Some(None));
        assert_eq!(c.admin, None);
        assert!(serde_json::from_str::<LimitChanges>("[null, null]").is_err());
        assert!(serde_json::from_str::<LimitChanges>(r#"{"other": null}"#).is_err());
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_headers() {
        let l = InProcessLimiter::default();
        for i in 0..120 {
            let d = l.check_now("k", EXECUTE, T0);
            assert!(d.allowed, "request {i} of the burst");
            assert_eq!(d.remaining, 119 - i);
            assert_eq!(d.limit, 100);
        }
        let d = l.check_now("k", EXECUTE, T0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.retry_after_secs, 1, "one emission interval is 0.6 s");
        assert!(
            d.reset_unix >= (T0 / 1_000_000) as u64 + 72,
            "full again after 120 x 0.6 s"
        );
        // Refused requests are not counted: after one interval exactly one more is allowed.
        let later = T0 + 600_000;
        assert!(l.check_now("k", EXECUTE, later).allowed);
        assert!(!l.check_now("k", EXECUTE, later).allowed);
    }

    #[test]
    fn refill_is_continuous_and_keys_are_independent() {
        let l = InProcessLimiter::default();
        let write = RateLimit {
            per_minute: 10,
            burst: 15,
        };
        for _ in 0..15 {
            assert!(l.check_now("a", write, T0).allowed);
        }
        assert!(!l.check_now("a", write, T0).allowed);
        assert!(
            l.check_now("b", write, T0).allowed,
            "another key has its own bucket"
        );
        // 10/min is one every 6 s; 30 s later five more fit.
        let later = T0 + 30_000_000;
        let allowed = (0..10)
            .filter(|_| l.check_now("a", write, later).allowed)
            .count();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn parallel_callers_get_exactly_the_allowance() {
        let l = Arc::new(InProcessLimiter::default());
        let ok = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (l, ok) = (l.clone(), ok.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        if l.check_now("shared", EXECUTE, T0).allowed {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(ok.load(Ordering::SeqCst), 120);
    }

    #[test]
    fn key_overrides_beat_org_overrides_beat_defaults() {
        use crate::apikey::Scope;
        let d = ScopeLimits::default();
        let three = RateLimit {
            per_minute: 3,
            burst: 3,
        };
        let five = RateLimit {
            per_minute: 5,
            burst: 7,
        };
        let key = LimitOverrides {
            write: Some(three),
            ..Default::default()
        };
        let org = LimitOverrides {
            write: Some(five),
            read: Some(five),
            ..Default::default()
        };
        assert_eq!(effective(&key, &org, &d, Scope::Write), three);
        assert_eq!(effective(&key, &org, &d, Scope::Read), five);
        assert_eq!(effective(&key, &org, &d, Scope::Admin), d.admin);
        assert_eq!(
            effective(&LimitOverrides::default(), &org, &d, Scope::Write),
            five
        );
    }

    #[test]
    fn limit_changes_set_clear_and_validate() {
        let cur = LimitOverrides {
            read: Some(RateLimit {
                per_minute: 1,
                burst: 1,
            }),
            write: Some(RateLimit {
                per_minute: 2,
                burst: 2,
            }),
            ..Default::default()
        };
        let ch: LimitChanges = serde_json::from_value(serde_json::json!({
            "read": null, "admin": {"per_minute": 9, "burst": 10}
        }))
        .unwrap();
        let out = ch.apply(cur, "rate_limits").unwrap();
        assert_eq!(out.read, None, "null clears");
        assert_eq!(out.write, cur.write, "absent leaves");
        assert_eq!(
            out.admin,
            Some(RateLimit {
                per_minute: 9,
                burst: 10
            })
        );
        let zero: LimitChanges =
            serde_json::from_value(serde_json::json!({"write": {"per_minute": 0, "burst": 1}}))
                .unwrap();
        let e = zero.apply(cur, "rate_limits").unwrap_err();
        assert!(
            e.to_string().contains("rate_limits.write.per_minute"),
            "{e}"
        );
        assert!(serde_json::from_value::<LimitChanges>(serde_json::json!({"root": null})).is_err());
    }

    #[test]
    fn prune_forgets_full_buckets() {
        let l = InProcessLimiter::default();
        l.check_now("k", EXECUTE, T0);
        l.prune(T0 + 120_000_000);
        assert!(l.tats.lock().unwrap().is_empty());
    }
}
