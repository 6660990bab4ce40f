//! The rate limiter every node shares: one GCRA bucket per key and scope in Redis.
//!
//! A Lua script reads and advances a bucket atomically on the Redis server, on Redis's clock,
//! so N parallel requests through any number of nodes get exactly the allowance. The script
//! only stores the theoretical arrival time; the decision and its headers come from
//! [`twig_core::ratelimit::gcra`], the arithmetic every backend shares.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::OnceCell;
use twig_core::ratelimit::{gcra, gcra_params, Decision, RateLimit, RateLimiter};

/// Advances the bucket `KEYS[1]` if the request fits (ARGV: interval, tolerance, in µs) and
/// answers Redis's time and the bucket's arrival time before this request, as strings (Lua
/// numbers are doubles: microsecond times fit exactly, but replies would truncate them).
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if now >= tat - tolerance then
  local new = tat + interval
  redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.floor((new - now) / 1000) + 1000)
end
return {string.format('%d', now), string.format('%d', tat)}
";

/// Why the limiter could not decide.
#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    /// Redis did not answer (or answered nonsense).
    #[error("the rate limiter's Redis at {url} is unavailable: {source}")]
    Unavailable {
        /// The server, without its password.
        url: String,
        /// The cause.
        source: redis::RedisError,
    },
    /// The URL is not a Redis URL.
    #[error("`rate_limits.redis_url` is not a Redis URL: {0}")]
    BadUrl(redis::RedisError),
}

/// GCRA buckets in Redis.
pub struct RedisLimiter {
    client: redis::Client,
    url: String,
    /// Connected on first use and kept (it reconnects itself); a failed connect is retried
    /// by the next request, so a node starts while Redis is still coming up.
    conn: OnceCell<ConnectionManager>,
    script: redis::Script,
    fail_open: bool,
}

impl RedisLimiter {
    /// A limiter on the Redis at `url`; with `fail_open`, requests pass unlimited while Redis
    /// is down instead of being refused.
    pub fn new(url: &str, fail_open: bool) -> Result<Self, LimiterError> {
        let client = redis::Client::open(url).map_err(LimiterError::BadUrl)?;
        Ok(Self {
            client,
            url: twig_core::redact::url(url),
            conn: OnceCell::new(),
            script: redis::Script::new(SCRIPT),
            fail_open,
        })
    }

    async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        let c = self
            .conn
            .get_or_try_init(|| async {
                // Short timeouts: a request waits at most about a second for a verdict.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(Duration::from_secs(1))
                    .set_number_of_retries(1);
                self.client.get_connection_manager_with_config(config).await
            })
            .await?;
        Ok(c.clone())
    }

    async fn decide(&self, key: &str, limit: RateLimit) -> Result<Decision, redis::RedisError> {
        let (interval, tolerance) = gcra_params(limit);
        let mut conn = self.conn().await?;
        let (now, tat): (String, String) = self
            .script
            .key(format!("twig:rl:{key}"))
            .arg(interval)
            .arg(tolerance)
            .invoke_async(&mut conn)
            .await?;
        let parse = |v: &str| {
            v.parse::<i64>().map_err(|_| {
                redis::RedisError::from((
                    redis::ErrorKind::TypeError,
                    "rate-limit script answered a non-integer",
                ))
            })
        };
        let (now, tat) = (parse(&now)?, parse(&tat)?);
        Ok(gcra(Some(tat), limit, now).0)
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    /// Decides on Redis's clock (`now_unix_micros` is not used): nodes' clocks may differ.
    async fn check(
        &self,
        key: &str,
        limit: RateLimit,
        now_unix_micros: i64,
    ) -> anyhow::Result<Decision> {
        match self.decide(key, limit).await {
            Ok(d) => Ok(d),
            Err(source) if self.fail_open => {
                tracing::warn!(error = %source, "rate limiter unavailable; letting the request through (fail_open)");
                Ok(Decision {
                    allowed: true,
                    limit: limit.per_minute,
                    remaining: limit.burst.saturating_sub(1),
                    reset_unix: (now_unix_micros.max(0) / 1_000_000) as u64,
                    retry_after_secs: 0,
                })
            }
            Err(source) => Err(LimiterError::Unavailable {
                url: self.url.clone(),
                source,
            }
            .into()),
        }
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let result: Result<String, redis::RedisError> = async {
            let mut conn = self.conn().await?;
            redis::cmd("PING").query_async(&mut conn).await
        }
        .await;
        result.map(drop).map_err(|source| {
            LimiterError::Unavailable {
                url: self.url.clone(),
                source,
            }
            .into()
        })
    }
}
