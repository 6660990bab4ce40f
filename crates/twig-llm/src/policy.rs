//! How a provider is called: timeouts, retries with backoff, and a circuit breaker,
//! so a slow or failing provider costs each request a bounded wait and, once it has
//! failed repeatedly, none at all until it recovers.

use rand::Rng;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use twig_core::llm::LlmError;

/// Timeouts, retries and breaker settings of one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPolicy {
    /// TCP + TLS connect.
    pub connect_timeout: Duration,
    /// Streaming: from sending the request to the first text delta.
    pub first_byte_timeout: Duration,
    /// Streaming: longest silence between two events.
    pub idle_timeout: Duration,
    /// Non-streaming: the whole call.
    pub request_timeout: Duration,
    /// Retries after the first attempt (429, 5xx, connection errors only).
    pub max_retries: u32,
    /// First backoff; doubles per retry.
    pub backoff_base: Duration,
    /// Largest backoff.
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails at once.
    pub retry_after_max: Duration,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before letting one probe through.
    pub breaker_cooldown: Duration,
    /// Calls (and open streams) at once; more are refused at once rather than queued,
    /// so a provider that hangs cannot tie up every request of the server.
    pub max_in_flight: usize,
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            max_retries: 2,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            retry_after_max: Duration::from_secs(30),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            max_in_flight: 64,
        }
    }
}

impl CallPolicy {
    /// Wait before retry number `retry` (0-based): exponential, with "equal jitter"
    /// (half fixed, half random) so that synchronised clients spread out.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.backoff_max);
        let half = exp / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

/// One failed attempt, classified for the retry loop and the breaker.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What the caller sees if this is the last attempt.
    pub error: LlmError,
    /// Worth another attempt (429, 5xx, connection errors).
    pub retry: bool,
    /// Counts towards opening the breaker (the provider, not the request, is at fault).
    pub provider_fault: bool,
    /// The provider's `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure by HTTP status, with the provider's error message.
    pub fn from_status(status: u16, message: String, retry_after: Option<Duration>) -> Self {
        match status {
            429 => Self {
                error: LlmError::RateLimited { retry_after },
                retry: true,
                // The provider answers promptly; backing off is the remedy, not the breaker.
                provider_fault: false,
                retry_after,
            },
            500..=599 => Self {
                error: LlmError::Upstream { status, message },
                retry: true,
                provider_fault: true,
                retry_after,
            },
            400..=499 => Self {
                error: LlmError::Rejected { status, message },
                retry: false,
                provider_fault: false,
                retry_after: None,
            },
            _ => Self::protocol(format!("unexpected HTTP status {status}: {message}"), false),
        }
    }

    /// The answer broke the wire format, or the connection failed.
    pub fn protocol(message: String, retry: bool) -> Self {
        Self {
            error: LlmError::Protocol(message),
            retry,
            provider_fault: true,
            retry_after: None,
        }
    }

    /// No answer in time. Not retried: a provider that is slow now is likely slow
    /// on the next attempt too, and retrying multiplies the caller's wait.
    pub fn timeout() -> Self {
        Self {
            error: LlmError::Timeout,
            retry: false,
            provider_fault: true,
            retry_after: None,
        }
    }

    /// A transport error from the HTTP client.
    pub fn transport(e: &reqwest::Error) -> Self {
        if e.is_connect() {
            // Includes connect timeouts: nothing was sent, so another try is safe.
            Self::protocol(format!("cannot connect: {}", source_chain(e)), true)
        } else if e.is_timeout() {
            Self::timeout()
        } else {
            Self::protocol(format!("connection failed: {}", source_chain(e)), true)
        }
    }
}

/// An error with its causes, for messages (reqwest's Display omits them).
fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// `Retry-After` (seconds or an HTTP date), or OpenAI's `retry-after-ms`.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    twig_core::time::parse_retry_after(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)
}

/// A per-provider circuit breaker: closed (calls pass), open (calls refused) after
/// `threshold` consecutive failures, half-open (one probe) after the cool-down.
#[derive(Debug)]
pub struct Breaker {
    name: String,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

impl Breaker {
    /// A closed breaker for provider `name`.
    pub fn new(name: &str, threshold: u32, cooldown: Duration) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        })
    }

    /// Whether the breaker lets no call through now (for health reports and tests).
    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { until } if Instant::now() < until)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Permission for one attempt, or `Unavailable` while open.
    pub(crate) fn acquire(self: &Arc<Self>) -> Result<Permit, LlmError> {
        let mut st = self.lock();
        let probe = match *st {
            State::Closed { .. } => false,
            State::Open { until } if Instant::now() < until => {
                return Err(self.refusal(until.saturating_duration_since(Instant::now())))
            }
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *st = State::HalfOpen { probing: true };
                true
            }
            State::HalfOpen { probing: true } => return Err(self.refusal(Duration::ZERO)),
        };
        Ok(Permit {
            breaker: self.clone(),
            probe,
            done: false,
        })
    }

    fn refusal(&self, left: Duration) -> LlmError {
        LlmError::Unavailable(format!(
            "provider `{}` failed {} times in a row; calls are paused (retry in {}s)",
            self.name,
            self.threshold,
            left.as_secs().max(1)
        ))
    }

    fn record(&self, ok: bool) {
        let mut st = self.lock();
        *st = match (*st, ok) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            (State::Open { until }, false) => State::Open { until },
            (_, false) => {
                tracing::warn!(provider = %self.name, "circuit breaker open for {:?}", self.cooldown);
                State::Open {
                    until: Instant::now() + self.cooldown,
                }
            }
        };
    }
}

/// One attempt's ticket; report its outcome with `success`/`failure`. Dropped
/// without an outcome (the caller went away), it frees the half-open probe slot.
#[derive(Debug)]
pub(crate) struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
    done: bool,
}

impl Permit {
    /// The provider answered properly.
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(true);
    }

    /// The attempt failed; only provider faults count towards opening.
    pub fn failure(mut self, f: &Failure) {
        self.done = true;
        if f.provider_fault {
            self.breaker.record(false);
        } else {
            // A 4xx/429 still proves the provider is reachable.
            self.breaker.record(true);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done && self.probe {
            let mut st = self.breaker.lock();
            if matches!(*st, State::HalfOpen { probing: true }) {
                *st = State::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = CallPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..CallPolicy::default()
        };
        for _ in 0..50 {
            let b0 = p.backoff(0);
            assert!(b0 >= Duration::from_millis(50) && b0 <= Duration::from_millis(100));
            let b2 = p.backoff(2);
            assert!(b2 >= Duration::from_millis(200) && b2 <= Duration::from_millis(400));
            let b30 = p.backoff(30);
            assert!(b30 >= Duration::from_millis(500) && b30 <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_forms() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn breaker_opens_probes_and_closes() {
        let b = Breaker::new("p", 2, Duration::from_millis(30));
        let fault = Failure::timeout();
        b.acquire().unwrap().failure(&fault);
        assert!(!b.is_open());
        b.acquire().unwrap().failure(&fault);
        assert!(b.is_open());
        assert!(matches!(b.acquire(), Err(LlmError::Unavailable(_))));
        std::thread::sleep(Duration::from_millis(40));
        let probe = b.acquire().unwrap();
        assert!(
            matches!(b.acquire(), Err(LlmError::Unavailable(_))),
            "one probe at a time"
        );
        drop(probe); // caller went away: the slot frees
        let probe = b.acquire().unwrap();
        probe.failure(&fault);
        assert!(b.is_open(), "a failed probe reopens");
        std::thread::sleep(Duration::from_millis(40));
        b.acquire().unwrap().success();
        assert!(!b.is_open());
        b.acquire().unwrap().success();
    }

    #[test]
    fn client_errors_do_not_open_the_breaker() {
        let b = Breaker::new("p", 1, Duration::from_secs(60));
        b.acquire()
            .unwrap()
            .failure(&Failure::from_status(400, "bad".into(), None));
        b.acquire()
            .unwrap()
            .failure(&Failure::from_status(429, "slow down".into(), None));
        assert!(!b.is_open());
        b.acquire()
            .unwrap()
            .failure(&Failure::from_status(503, "down".into(), None));
        assert!(b.is_open());
    }
}
