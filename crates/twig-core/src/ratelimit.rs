//! The rate-limiter port and its in-process implementation (GCRA).
//!
//! GCRA is a token bucket kept as one timestamp per key: the "theoretical
//! arrival time" (TAT). A request is allowed when `now >= TAT - tolerance`;
//! it then pushes TAT one emission interval further. Refill is continuous.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

/// A limit: sustained requests per minute and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained rate.
    pub per_minute: u32,
    /// Requests that may arrive at once after a quiet period.
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
}

/// GCRA arithmetic shared by every backend, in microseconds.
pub fn gcra(tat: Option<i64>, limit: RateLimit, now: i64) -> (Decision, Option<i64>) {
    let per_minute = i64::from(limit.per_minute.max(1));
    let burst = i64::from(limit.burst.max(1));
    let interval = 60_000_000 / per_minute;
    let tolerance = interval * (burst - 1);
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
    fn prune_forgets_full_buckets() {
        let l = InProcessLimiter::default();
        l.check_now("k", EXECUTE, T0);
        l.prune(T0 + 120_000_000);
        assert!(l.tats.lock().unwrap().is_empty());
    }
}
