//! The view counter and the ranking cache: the part of click counting that lives in a server
//! process.
//!
//! A view passes three gates before it is counted: the article must be visible, the user agent
//! must not be a bot's, and the visitor must not have been counted for this article within the
//! window. The window is kept in Redis when `REDIS_URL` is set, so several processes share it,
//! else in this process. Counted views wait in a buffer that a background task writes every few
//! seconds ([`newsroom_domain::views::flush`]) and once more when the server stops; a failed
//! write puts its views back, so nothing is lost short of the process being killed.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use moka::ops::compute::Op;
use newsroom_domain::{
    articles::{self, Audience},
    catalog,
    clock::Clock,
    views::{self, Pending, Ranked, RankingWindow},
};
use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::JoinHandle};

/// How many ranked articles each cached ranking keeps; `first` is capped at this.
pub const RANKING_DEPTH: u64 = 100;

/// What happened to a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewOutcome {
    /// Counted.
    Counted,
    /// The same visitor was counted for this article within the window.
    Duplicate,
    /// A bot or crawler; not counted.
    Bot,
}

/// Why a view could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// No visible article has this id.
    #[error("no published article has this id")]
    NotFound,
    /// The database or Redis failed; the view was not counted.
    #[error("the view could not be recorded: {0}")]
    Unavailable(String),
}

/// Settings of the counter.
#[derive(Debug, Clone)]
pub struct ViewSettings {
    /// A visitor counts once per article within this window.
    pub window: TimeDelta,
    /// How often the buffer is written.
    pub flush_every: Duration,
    /// How long a computed ranking is served before it is computed again.
    pub ranking_refresh: Duration,
    /// `REDIS_URL`, to share de-duplication across processes.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this server writes.
    pub redis_prefix: String,
}

/// Checks and records "first view within the window"; returns whether this one is first.
enum Dedupe {
    Local(moka::sync::Cache<String, i64>),
    Redis {
        conn: redis::aio::ConnectionManager,
        prefix: String,
        script: redis::Script,
    },
}

/// Atomically: count the view if the visitor's last counted view is older than the window, and
/// remember this one. Times come from the server's clock, so tests can move them.
const FIRST_IN_WINDOW: &str = r"
local last = redis.call('GET', KEYS[1])
if last and (tonumber(ARGV[1]) - tonumber(last)) < tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

impl Dedupe {
    async fn first_in_window(
        &self,
        key: String,
        now: DateTime<Utc>,
        window: TimeDelta,
    ) -> Result<bool, ViewError> {
        let now_ms = now.timestamp_millis();
        let window_ms = window.num_milliseconds();
        match self {
            Dedupe::Local(cache) => {
                let result = cache.entry(key).and_compute_with(|last| match last {
                    Some(entry) if now_ms - *entry.value() < window_ms => Op::Nop,
                    _ => Op::Put(now_ms),
                });
                Ok(!matches!(
                    result,
                    moka::ops::compute::CompResult::Unchanged(_)
                ))
            }
            Dedupe::Redis {
                conn,
                prefix,
                script,
            } => {
                let mut conn = conn.clone();
                let first: i64 = script
                    .key(format!("{prefix}:view:{key}"))
                    .arg(now_ms)
                    .arg(window_ms)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(|e| ViewError::Unavailable(format!("redis: {e}")))?;
                Ok(first == 1)
            }
        }
    }
}

type RankingKey = (RankingWindow, Option<String>);

/// Counts views and serves rankings for one server process.
pub struct ViewService {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    settings: ViewSettings,
    dedupe: Dedupe,
    pending: Mutex<Pending>,
    /// Articles recently found visible, so that a burst of views costs one lookup.
    visible: moka::future::Cache<i64, ()>,
    rankings: moka::future::Cache<RankingKey, Arc<Vec<Ranked>>>,
    stop: Notify,
    flusher: Mutex<Option<JoinHandle<()>>>,
    /// Told each time view counts are written, so cached answers that show them are dropped.
    cache: std::sync::OnceLock<Arc<crate::response_cache::ResponseCache>>,
}

impl ViewService {
    /// Builds the service, connecting to Redis when configured.
    pub async fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        settings: ViewSettings,
    ) -> anyhow::Result<Arc<Self>> {
        let dedupe = match &settings.redis_url {
            Some(url) => {
                let client = redis::Client::open(url.as_str())?;
                let conn = redis::aio::ConnectionManager::new(client).await?;
                Dedupe::Redis {
                    conn,
                    prefix: settings.redis_prefix.clone(),
                    script: redis::Script::new(FIRST_IN_WINDOW),
                }
            }
            None => Dedupe::Local(
                moka::sync::Cache::builder()
                    .max_capacity(2_000_000)
                    .time_to_live(
                        settings
                            .window
                            .to_std()
                            .unwrap_or(Duration::from_secs(1800)),
                    )
                    .build(),
            ),
        };
        Ok(Arc::new(ViewService {
            visible: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(5))
                .build(),
            rankings: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(settings.ranking_refresh)
                .build(),
            db,
            clock,
            settings,
            dedupe,
            pending: Mutex::new(Pending::default()),
            stop: Notify::new(),
            flusher: Mutex::new(None),
            cache: std::sync::OnceLock::new(),
        }))
    }

    /// Records a view of `article_id` by `visitor` (a client-sent id, or address and agent).
    pub async fn record(
        &self,
        article_id: i64,
        visitor: &str,
        user_agent: Option<&str>,
    ) -> Result<ViewOutcome, ViewError> {
        let now = self.clock.now();
        if self.visible.get(&article_id).await.is_none() {
            let found = articles::by_id(&self.db, now, Audience::Reader, article_id)
                .await
                .map_err(|e| ViewError::Unavailable(e.to_string()))?;
            if found.is_none() {
                return Err(ViewError::NotFound);
            }
            self.visible.insert(article_id, ()).await;
        }
        if views::is_bot(user_agent) {
            return Ok(ViewOutcome::Bot);
        }
        let key = views::visitor_key(article_id, visitor);
        if !self
            .dedupe
            .first_in_window(key, now, self.settings.window)
            .await?
        {
            return Ok(ViewOutcome::Duplicate);
        }
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(article_id, views::hour_of(now), 1);
        Ok(ViewOutcome::Counted)
    }

    /// Tells `cache` whenever this service writes view counts.
    pub fn on_write(&self, cache: Arc<crate::response_cache::ResponseCache>) {
        let _ = self.cache.set(cache);
    }

    /// Views counted but not yet written.
    pub fn buffered(&self) -> i64 {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .views()
    }

    /// Writes the buffer. On failure the views go back into the buffer for the next flush.
    pub async fn flush(&self) -> Result<(), newsroom_domain::Error> {
        let batch =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if batch.is_empty() {
            return Ok(());
        }
        if let Err(e) = views::flush(&self.db, &batch).await {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .merge(batch);
            return Err(e);
        }
        if let Some(cache) = self.cache.get() {
            cache.views_written();
        }
        Ok(())
    }

    /// Starts the background task that flushes every few seconds, and every ten minutes moves the
    /// ranking windows on and compacts old buckets, until [`ViewService::shutdown`].
    pub fn start(self: &Arc<Self>) {
        let service = self.clone();
        let task = tokio::spawn(async move {
            let mut ticks: u64 = 0;
            let compact_every =
                (600_000 / service.settings.flush_every.as_millis().max(1)).max(1) as u64;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(service.settings.flush_every) => {}
                    () = service.stop.notified() => break,
                }
                if let Err(e) = service.flush().await {
                    tracing::warn!(error = %e, buffered = service.buffered(), "writing views failed; will retry");
                }
                ticks += 1;
                if ticks.is_multiple_of(compact_every) {
                    let now = service.clock.now();
                    // Moving the windows here spares the first ranking of each hour that work.
                    if let Err(e) = views::advance_all(&service.db, now).await {
                        tracing::warn!(error = %e, "moving the ranking windows failed; will retry");
                    }
                    if let Err(e) = views::compact(&service.db, now).await {
                        tracing::warn!(error = %e, "compacting view buckets failed; will retry");
                    }
                }
            }
        });
        *self.flusher.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    /// Stops the background task and writes what is left. Called after the HTTP server has
    /// drained, so no view arrives after the last write.
    pub async fn shutdown(&self) {
        self.stop.notify_one();
        let task = self
            .flusher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        for attempt in 1..=3 {
            match self.flush().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, attempt, buffered = self.buffered(), "final write of views failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// The ranking for `window` (optionally within a channel and its sub-channels), from a cache
    /// that is recomputed at most every `ranking_refresh`. Concurrent misses share one query.
    /// An unknown channel slug is a validation error naming `channel` (and is not cached).
    pub async fn ranking(
        &self,
        window: RankingWindow,
        channel: Option<&str>,
    ) -> Result<Arc<Vec<Ranked>>, Arc<newsroom_domain::Error>> {
        let key = (window, channel.map(str::to_owned));
        let db = self.db.clone();
        let now = self.clock.now();
        let channel = channel.map(str::to_owned);
        let computed = self
            .rankings
            .try_get_with(key, async move {
                let ids = match &channel {
                    Some(slug) => Some(
                        catalog::channel_with_descendants(&db, slug)
                            .await?
                            .ok_or_else(|| {
                                newsroom_domain::Error::validation(
                                    "channel",
                                    format!("no channel has the slug `{slug}`"),
                                )
                            })?,
                    ),
                    None => None,
                };
                let ranked =
                    views::ranking(&db, now, window, ids.as_deref(), RANKING_DEPTH).await?;
                Ok::<_, newsroom_domain::Error>(Arc::new(ranked))
            })
            .await?;
        Ok(computed)
    }
}

/// Who a visitor is for de-duplication: the id the client sent, else its address and agent.
pub fn visitor_of(
    visitor_id: Option<&str>,
    address: Option<&str>,
    user_agent: Option<&str>,
) -> String {
    match visitor_id.map(str::trim).filter(|v| !v.is_empty()) {
        Some(id) => format!("id:{id}"),
        None => format!(
            "ip:{}|{}",
            address.unwrap_or("-"),
            user_agent.unwrap_or("-")
        ),
    }
}

/// The first `first` articles of a ranking that `audience` may see, in ranking order, with their
/// window views. Articles hidden since the ranking was computed (unpublished, taken down), and
/// those a partner may not have, are skipped, so the box never shows one, cached or not.
pub async fn visible_in_order(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    audience: Audience,
    ranked: &[Ranked],
    first: u64,
) -> Result<Vec<(i64, newsroom_domain::entities::article::Model)>, newsroom_domain::Error> {
    let want = usize::try_from(first).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(want.min(ranked.len()));
    // Ask for a few more than wanted: a hidden article leaves a gap the next one fills.
    for chunk in ranked.chunks(want.saturating_add(10).max(1)) {
        if out.len() >= want {
            break;
        }
        let ids: Vec<i64> = chunk.iter().map(|r| r.article_id).collect();
        let mut found = articles::visible_by_ids(db, now, audience, &ids).await?;
        for r in chunk {
            if out.len() < want
                && let Some(a) = found.remove(&r.article_id)
            {
                out.push((r.views, a));
            }
        }
    }
    Ok(out)
}
