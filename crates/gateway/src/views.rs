//! The view counter and the ranking cache: the part of click counting that lives in a server
//! process.
//!
//! A view passes three gates before it is counted: the article must be visible, the user agent
//! must not be a bot's, and the visitor must not have been counted for this article within the
//! window. The window is kept in Redis when `REDIS_URL` is set, so several processes share it,
//! else in this process. Counted views wait in a buffer that a background task writes every few
//! seconds to the buckets and the windowed rankings, and every half minute or so to the articles'
//! totals as well ([`newsroom_domain::views::write`]), and once more, all of it, when the server
//! stops; a failed write puts its views back, so nothing is lost short of the process being
//! killed.
//!
//! While the database is unreachable, views keep being counted: an article found visible within
//! the last hour is taken to be visible still (the lookup that would say otherwise cannot be
//! made), and the buffer keeps what it cannot write until the database is back. The buffer holds
//! at most `max_buffered` (article, hour) pairs; past that, views of new pairs are refused with
//! [`ViewError::Unavailable`] rather than letting an outage grow memory without bound.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::dataloader::{DataLoader, Loader};
use chrono::{DateTime, TimeDelta, Utc};
use newsroom_domain::{
    articles::{self, Audience},
    catalog,
    clock::Clock,
    views::{self, Pending, Ranked, RankingWindow, Totals},
};
use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::JoinHandle};

use recent::Recent;

mod recent;

/// How many ranked articles each cached ranking keeps; `first` is capped at this.
pub const RANKING_DEPTH: u64 = 100;

/// How long an article found visible is still taken to be when the database cannot be asked.
const KNOWN_VISIBLE_FOR: Duration = Duration::from_secs(3600);
/// How many articles' visibility is remembered.
const VISIBLE_REMEMBERED: usize = 100_000;
/// How many (visitor, article) pairs this process remembers without Redis.
const VISITORS_REMEMBERED: usize = 2_000_000;
/// How long the first view of an article waits for others to look theirs up in the same query.
const LOOKUP_DELAY: Duration = Duration::from_millis(1);

/// How many user agents' bot verdicts are remembered, and up to what length an agent is.
const BOT_VERDICTS: u64 = 10_000;
const MAX_REMEMBERED_AGENT: usize = 512;

/// `duration` in whole milliseconds (saturating).
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

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
    /// How often the articles' totals take up the views written since (rounded to a multiple
    /// of `flush_every`); every write of the buffer moves the buckets and the windows.
    pub totals_every: Duration,
    /// How long a computed ranking is served before it is computed again.
    pub ranking_refresh: Duration,
    /// `REDIS_URL`, to share de-duplication across processes.
    pub redis_url: Option<String>,
    /// The most (article, hour) pairs the buffer holds while it cannot be written.
    pub max_buffered: usize,
    /// How long an article found visible is counted without checking again.
    pub recheck: Duration,
    /// Prefix of every Redis key this server writes.
    pub redis_prefix: String,
}

/// Finds which of the articles asked about are visible to readers now (by the service's
/// clock); those not visible are left out of the answer.
struct VisibleLoader {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl Loader<i64> for VisibleLoader {
    type Value = ();
    type Error = Arc<newsroom_domain::Error>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, ()>, Self::Error> {
        let found = articles::visible_among(&self.db, self.clock.now(), Audience::Reader, keys)
            .await
            .map_err(Arc::new)?;
        Ok(found.into_iter().map(|id| (id, ())).collect())
    }
}

/// Checks and records "first view within the window"; returns whether this one is first.
enum Dedupe {
    /// This process's own memory: (article, hash of the visitor) to the last counted view's time.
    Local(Recent<(i64, u64)>),
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
        article_id: i64,
        visitor: &str,
        now: DateTime<Utc>,
        window: TimeDelta,
    ) -> Result<bool, ViewError> {
        let now_ms = now.timestamp_millis();
        let window_ms = window.num_milliseconds();
        match self {
            Dedupe::Local(recent) => Ok(recent.stamp_unless_within(
                (article_id, views::visitor_hash(visitor)),
                now_ms,
                window_ms,
            )),
            Dedupe::Redis {
                conn,
                prefix,
                script,
            } => {
                let mut conn = conn.clone();
                let key = views::visitor_key(article_id, visitor);
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

/// Views waiting to be written, and those a flush has taken out and is writing.
#[derive(Debug, Default)]
struct Buffer {
    pending: Pending,
    flushing_entries: usize,
    flushing_views: i64,
    /// Views counted (in `pending` or already in the buckets) that the articles' totals have
    /// not taken up yet. A write of the totals takes `pending` too, and writes take turns, so the
    /// totals never take up a view before its bucket.
    totals: Totals,
}

impl Buffer {
    fn has_room(&self, article_id: i64, hour: i64, max: usize) -> bool {
        self.pending
            .has_room(article_id, hour, max.saturating_sub(self.flushing_entries))
    }
}

/// Counts views and serves rankings for one server process.
pub struct ViewService {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    settings: ViewSettings,
    dedupe: Dedupe,
    buffer: Mutex<Buffer>,
    /// One write of the buffer at a time: a flush waits for the background write under way, so
    /// that what it returns has been written whole.
    writing: tokio::sync::Mutex<()>,
    /// Views refused because the buffer was full.
    dropped: AtomicU64,
    /// When each article was last found visible (milliseconds since `started`): within
    /// [`ViewSettings::recheck`] a view needs no lookup; within [`KNOWN_VISIBLE_FOR`] it is
    /// trusted while the database cannot be asked.
    seen_visible: Recent<i64>,
    started: Instant,
    /// Looks up the visibility of the articles not seen lately, many in one query.
    lookups: DataLoader<VisibleLoader>,
    rankings: moka::future::Cache<RankingKey, Arc<Vec<Ranked>>>,
    /// Bot verdicts by user agent: matching an agent against every crawler pattern costs more
    /// than the rest of a view, and a site sees few distinct agents.
    bots: moka::sync::Cache<Box<str>, bool>,
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
            None => Dedupe::Local(Recent::new(
                VISITORS_REMEMBERED,
                settings.window.num_milliseconds(),
            )),
        };
        let runtime = tokio::runtime::Handle::current();
        Ok(Arc::new(ViewService {
            seen_visible: Recent::new(VISIBLE_REMEMBERED, millis(KNOWN_VISIBLE_FOR)),
            started: Instant::now(),
            lookups: DataLoader::new(
                VisibleLoader {
                    db: db.clone(),
                    clock: clock.clone(),
                },
                // On the runtime that builds the service (the server's main one), not on the
                // worker of whichever view comes first: a batch outlives any one worker.
                move |batch| {
                    runtime.spawn(batch);
                },
            )
            .delay(LOOKUP_DELAY),
            bots: moka::sync::Cache::new(BOT_VERDICTS),
            rankings: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(settings.ranking_refresh)
                .build(),
            db,
            clock,
            settings,
            dedupe,
            buffer: Mutex::new(Buffer::default()),
            writing: tokio::sync::Mutex::new(()),
            dropped: AtomicU64::new(0),
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
        self.check_visible(article_id).await?;
        if self.is_bot(user_agent) {
            return Ok(ViewOutcome::Bot);
        }
        let hour = views::hour_of(now);
        let max = self.settings.max_buffered;
        // Checked before the visitor is remembered, so a refused view can be sent again.
        if !self.buffer().has_room(article_id, hour, max) {
            return Err(self.full());
        }
        if !self
            .dedupe
            .first_in_window(article_id, visitor, now, self.settings.window)
            .await?
        {
            return Ok(ViewOutcome::Duplicate);
        }
        let mut buffer = self.buffer();
        // Another view may have taken the last room meanwhile.
        if !buffer.has_room(article_id, hour, max) {
            drop(buffer);
            return Err(self.full());
        }
        buffer.pending.add(article_id, hour, 1);
        buffer.totals.add(article_id, 1);
        Ok(ViewOutcome::Counted)
    }

    /// Fails unless `article_id` is visible to readers. A recent answer is reused; the articles
    /// not seen lately are looked up together, in one query per millisecond or so however many
    /// views arrive. When the database cannot be asked, an article seen visible within
    /// [`KNOWN_VISIBLE_FOR`] is taken to be visible still, so that views keep counting through
    /// an outage.
    async fn check_visible(&self, article_id: i64) -> Result<(), ViewError> {
        let now = millis(self.started.elapsed());
        let seen = self.seen_visible.get(&article_id, now);
        if seen.is_some_and(|at| now - at < millis(self.settings.recheck)) {
            return Ok(());
        }
        match self.lookups.load_one(article_id).await {
            Ok(Some(())) => {
                let now = millis(self.started.elapsed());
                self.seen_visible.stamp(article_id, now);
                Ok(())
            }
            Ok(None) => {
                self.seen_visible.forget(&article_id);
                Err(ViewError::NotFound)
            }
            // Looked up again: another view may have found it gone meanwhile.
            Err(e)
                if e.is_unavailable()
                    && self
                        .seen_visible
                        .get(&article_id, millis(self.started.elapsed()))
                        .is_some() =>
            {
                tracing::debug!(error = %e, article_id, "database unavailable: counting a view of an article known to be visible");
                Ok(())
            }
            Err(e) => Err(ViewError::Unavailable(e.to_string())),
        }
    }

    /// [`views::is_bot`], remembered per user agent (agents longer than any browser's are
    /// matched each time rather than kept).
    fn is_bot(&self, user_agent: Option<&str>) -> bool {
        let Some(agent) = user_agent.filter(|a| a.len() <= MAX_REMEMBERED_AGENT) else {
            return views::is_bot(user_agent);
        };
        if let Some(verdict) = self.bots.get(agent) {
            return verdict;
        }
        let verdict = views::is_bot(Some(agent));
        self.bots.insert(agent.into(), verdict);
        verdict
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn full(&self) -> ViewError {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        ViewError::Unavailable(format!(
            "the view buffer is full ({} article-hours wait to be written)",
            self.settings.max_buffered
        ))
    }

    /// Tells `cache` whenever this service writes view counts.
    pub fn on_write(&self, cache: Arc<crate::response_cache::ResponseCache>) {
        let _ = self.cache.set(cache);
    }

    /// Views counted but not yet written to the buckets, those being written included.
    pub fn buffered(&self) -> i64 {
        let buffer = self.buffer();
        buffer.pending.views() + buffer.flushing_views
    }

    /// Views counted that the articles' totals have not taken up yet: those [`Self::buffered`]
    /// counts, and those in the buckets since the last write of the totals.
    pub fn untotalled(&self) -> i64 {
        self.buffer().totals.views()
    }

    /// Views refused since the start because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes the buffer, the articles' totals included. On failure the views go back into the
    /// buffer for the next flush.
    pub async fn flush(&self) -> Result<(), newsroom_domain::Error> {
        self.write(true).await
    }

    /// Writes the buffer to the buckets and the windows and, when `with_totals`, every view not
    /// yet in the articles' totals to them, in one transaction.
    async fn write(&self, with_totals: bool) -> Result<(), newsroom_domain::Error> {
        let _turn = self.writing.lock().await;
        let (batch, totals, entries, views) = {
            let mut buffer = self.buffer();
            let batch = std::mem::take(&mut buffer.pending);
            let totals = if with_totals {
                std::mem::take(&mut buffer.totals)
            } else {
                Totals::default()
            };
            let (entries, views) = (batch.entries(), batch.views());
            buffer.flushing_entries += entries;
            buffer.flushing_views += views;
            (batch, totals, entries, views)
        };
        if batch.is_empty() && totals.is_empty() {
            return Ok(());
        }
        let written = views::write(&self.db, &batch, &totals).await;
        let mut buffer = self.buffer();
        buffer.flushing_entries -= entries;
        buffer.flushing_views -= views;
        if written.is_err() {
            buffer.pending.merge(batch);
            buffer.totals.merge(totals);
        }
        drop(buffer);
        if written.is_ok()
            && let Some(cache) = self.cache.get()
        {
            cache.views_written();
        }
        written
    }

    /// Starts the background task that flushes every few seconds, and every ten minutes moves the
    /// ranking windows on and compacts old buckets, until [`ViewService::shutdown`].
    pub fn start(self: &Arc<Self>) {
        let service = self.clone();
        let task = tokio::spawn(async move {
            let mut ticks: u64 = 0;
            let every = |period: Duration| {
                let flush = service.settings.flush_every.as_millis().max(1);
                u64::try_from(period.as_millis().div_ceil(flush).max(1)).unwrap_or(u64::MAX)
            };
            let compact_every = every(Duration::from_secs(600));
            let totals_every = every(service.settings.totals_every);
            loop {
                tokio::select! {
                    () = tokio::time::sleep(service.settings.flush_every) => {}
                    () = service.stop.notified() => break,
                }
                ticks += 1;
                if let Err(e) = service.write(ticks.is_multiple_of(totals_every)).await {
                    tracing::warn!(error = %e, buffered = service.buffered(), "writing views failed; will retry");
                }
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
