//! Per-partner rate limits: each partner token may make a number of requests a minute (its own
//! limit when it was issued with one, else `NEWSROOM_PARTNER_RATE_LIMIT`). Counted per token and
//! clock minute, in Redis when `REDIS_URL` is set (so every server process shares the count) and
//! in the process otherwise. Readers and editors are not limited here.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use newsroom_domain::entities::Role;

use crate::auth::Caller;

/// Counts partners' requests; see the module documentation.
pub struct RateLimiter {
    default_limit: u32,
    counts: Counts,
}

enum Counts {
    Local(moka::sync::Cache<String, Arc<AtomicU64>>),
    Redis {
        conn: redis::aio::ConnectionManager,
        prefix: String,
    },
}

/// A request refused for its rate: how long until the next minute starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds to wait.
    pub retry_after_secs: u64,
}

/// Why a request could not be counted.
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct Unavailable(#[from] redis::RedisError);

impl RateLimiter {
    /// A limiter sharing counts through Redis at `redis_url` when given (the connection is made
    /// now, so a wrong URL fails the start), or in this process.
    pub async fn new(
        default_limit: u32,
        redis_url: Option<&str>,
        prefix: &str,
    ) -> Result<Self, Unavailable> {
        let counts = match redis_url {
            Some(url) => Counts::Redis {
                conn: redis::aio::ConnectionManager::new(redis::Client::open(url)?).await?,
                prefix: prefix.to_owned(),
            },
            None => Counts::Local(
                moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(Duration::from_secs(120))
                    .build(),
            ),
        };
        Ok(RateLimiter {
            default_limit,
            counts,
        })
    }

    /// Counts one request of `caller` at `now`; `Err(Limited)` once a partner's token has made
    /// its limit's worth this minute. Other callers always pass.
    pub async fn admit(
        &self,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Limited>, Unavailable> {
        let Caller::User(user) = caller else {
            return Ok(Ok(()));
        };
        if user.user.role != Role::Partner {
            return Ok(Ok(()));
        }
        let limit = user
            .rate_limit
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(u64::from(self.default_limit));
        let minute = now.timestamp().div_euclid(60);
        let key = format!("{}:{minute}", user.jti);
        let count = match &self.counts {
            Counts::Local(cache) => cache
                .get_with(key, || Arc::new(AtomicU64::new(0)))
                .fetch_add(1, Ordering::SeqCst)
                .saturating_add(1),
            Counts::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let key = format!("{prefix}:rate:{key}");
                let (count, _): (u64, bool) = redis::pipe()
                    .atomic()
                    .incr(&key, 1u64)
                    .expire(&key, 120)
                    .query_async(&mut conn)
                    .await?;
                count
            }
        };
        if count > limit {
            let retry_after_secs = u64::try_from(60 - now.timestamp().rem_euclid(60)).unwrap_or(60);
            return Ok(Err(Limited { retry_after_secs }));
        }
        Ok(Ok(()))
    }
}
