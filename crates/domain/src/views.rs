//! Views and the click ranking (点击排行).
//!
//! A view is counted once per visitor and article within a window (the gateway decides that, in
//! Redis or in process), never for a bot, and only for a visible article. Counted views are
//! buffered and written here in batches: upserts into the hourly buckets and the ranking windows,
//! and updates of the articles' totals, in one transaction, whatever the number of views (the
//! gateway writes the totals less often than the buckets; see [`write`]). All are additive, so any
//! number of processes can flush into one database and the totals stay exact.
//!
//! Buckets are keyed by the hour number since the epoch (`span` 1); a periodic compaction folds
//! hours older than two days into days (`span` 24) so the table stays bounded.
//!
//! The DAY, WEEK and MONTH rankings read per-article totals kept in `article_view_windows`, so
//! that serving one reads the top of an index rather than summing a month of buckets. Each window
//! has a first hour (`view_windows.first_hour`), and every write keeps one invariant: an
//! article's total in a window is the sum of its buckets whose `bucket_hour` is at or after that
//! hour. A flush adds its views to the windows whose first hour they fall in; [`advance`] moves a
//! window's first hour to the present, taking out the buckets it leaves behind; compaction never
//! folds an hour across a window's first hour. The three take one lock on `view_windows` (shared
//! for flushes, exclusive for the others), so on PostgreSQL no flush can slip between an advance's
//! reading of the buckets and its moving of the hour.

use std::{collections::HashMap, hash::Hash};

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionSession, TransactionTrait,
    Value,
};
use sha2::{Digest, Sha256};

use crate::{
    db::{begin_write, placeholders},
    error::Result,
};

/// Hourly buckets.
pub const SPAN_HOUR: i16 = 1;
/// Daily buckets (compacted hours).
pub const SPAN_DAY: i16 = 24;
/// Hours kept at hourly precision before compaction; the DAY window needs the last 24.
pub const KEEP_HOURLY: i64 = 48;
/// Rows per statement in a flush, well under both databases' parameter limits.
const CHUNK: usize = 500;

/// The hour number since the epoch that `at` falls in.
pub fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// Whether a user agent belongs to a bot or crawler (or is missing, as for scripted clients).
pub fn is_bot(user_agent: Option<&str>) -> bool {
    static BOTS: std::sync::LazyLock<isbot::Bots> = std::sync::LazyLock::new(isbot::Bots::default);
    match user_agent.map(str::trim) {
        None | Some("") => true,
        Some(ua) => BOTS.is_bot(ua),
    }
}

/// The de-duplication key of `visitor` (a client-sent visitor id, or address and user agent)
/// viewing `article_id`: hashed, so keys are short and carry no personal data.
pub fn visitor_key(article_id: i64, visitor: &str) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(visitor.as_bytes());
    let mut key = format!("{article_id}:");
    for b in &digest[..12] {
        let _ = write!(key, "{b:02x}");
    }
    key
}

/// The same hash of `visitor` as [`visitor_key`]'s, as a number: for a process's own memory of
/// who was counted, where a string per key would cost more than the key is worth.
pub fn visitor_hash(visitor: &str) -> u64 {
    let digest = Sha256::digest(visitor.as_bytes());
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Views waiting to be written, counted per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts<K: Hash + Eq>(HashMap<K, i64>);

impl<K: Hash + Eq> Default for Counts<K> {
    fn default() -> Self {
        Counts(HashMap::new())
    }
}

impl<K: Hash + Eq> Counts<K> {
    fn add_to(&mut self, key: K, n: i64) {
        *self.0.entry(key).or_insert(0) += n;
    }

    /// Adds everything in `other`, for putting back a batch whose write failed.
    pub fn merge(&mut self, other: Self) {
        for (key, n) in other.0 {
            self.add_to(key, n);
        }
    }

    /// How many keys wait: what the buffer's memory grows with.
    pub fn entries(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many views wait.
    pub fn views(&self) -> i64 {
        self.0.values().sum()
    }
}

/// Views counted but not yet written: per article and hour.
pub type Pending = Counts<(i64, i64)>;

impl Pending {
    /// Adds `n` views of `article_id` in `hour`.
    pub fn add(&mut self, article_id: i64, hour: i64, n: i64) {
        self.add_to((article_id, hour), n);
    }

    /// Whether `n` views of `article_id` in `hour` fit in a buffer of at most `max_entries`
    /// pairs: a pair already waiting always takes more views, a new one only while there is room.
    pub fn has_room(&self, article_id: i64, hour: i64, max_entries: usize) -> bool {
        self.0.len() < max_entries || self.0.contains_key(&(article_id, hour))
    }

    /// The views per article, all hours together: what the articles' totals grow by.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for ((article, _), n) in &self.0 {
            totals.add(*article, *n);
        }
        totals
    }
}

/// Views per article to be added to `articles.view_count`.
pub type Totals = Counts<i64>;

impl Totals {
    /// Adds `n` views of `article_id`.
    pub fn add(&mut self, article_id: i64, n: i64) {
        self.add_to(article_id, n);
    }
}

fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, placeholders(backend, sql), values)
}

/// Writes `pending` in one transaction: the hourly buckets, the ranking windows and the
/// articles' totals. See [`write`].
pub async fn flush<C: ConnectionTrait + TransactionTrait>(db: &C, pending: &Pending) -> Result<()> {
    write(db, pending, &pending.totals()).await
}

/// Writes `pending` to the hourly buckets and the ranking windows, and `totals` to
/// `articles.view_count`, in one transaction, one statement per chunk of 500 rows. Views of an
/// article deleted meanwhile are dropped, not allowed to fail the batch.
///
/// The totals are apart because they cost the most: an article's row is wide and carries a dozen
/// indexes, its total among them (the all-time ranking), so each update writes a new row version
/// and an entry in every index. A caller may keep them back and write many flushes' totals at
/// once, each article's row once.
pub async fn write<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    pending: &Pending,
    totals: &Totals,
) -> Result<()> {
    if pending.is_empty() && totals.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    // Sorted, so that two processes flushing the same articles lock their rows in one order.
    let mut rows: Vec<(&(i64, i64), &i64)> = pending.0.iter().collect();
    rows.sort_unstable();
    let txn = begin_write(db).await?;
    let windows = window_marks(&txn, Lock::Share).await?;
    for chunk in rows.chunks(CHUNK) {
        let tuples = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let values = chunk
            .iter()
            .flat_map(|((article, hour), n)| [(*article).into(), (*hour).into(), (**n).into()])
            .collect();
        let sql = format!(
            "WITH v(article_id, bucket_hour, views) AS (VALUES {tuples}) \
             INSERT INTO article_view_buckets (article_id, span, bucket_hour, views) \
             SELECT v.article_id, {SPAN_HOUR}, v.bucket_hour, v.views FROM v \
             WHERE EXISTS (SELECT 1 FROM articles a WHERE a.id = v.article_id) \
             ON CONFLICT (article_id, span, bucket_hour) \
             DO UPDATE SET views = article_view_buckets.views + excluded.views"
        );
        txn.execute_raw(stmt(backend, &sql, values)).await?;
    }
    for mark in &windows {
        let Some(first) = mark.first_hour else {
            continue;
        };
        let mut in_window: Vec<(i64, i64)> = Vec::new();
        for ((article, hour), n) in &rows {
            if *hour >= first {
                match in_window.last_mut() {
                    Some((last, sum)) if last == article => *sum += **n,
                    _ => in_window.push((*article, **n)),
                }
            }
        }
        for chunk in in_window.chunks(CHUNK) {
            let tuples = vec!["(?, ?)"; chunk.len()].join(", ");
            let mut values: Vec<Value> = chunk
                .iter()
                .flat_map(|(article, n)| [Value::from(*article), Value::from(*n)])
                .collect();
            values.push(mark.hours.into());
            let sql = format!(
                "WITH v(article_id, views) AS (VALUES {tuples}) \
                 INSERT INTO article_view_windows (hours, article_id, views) \
                 SELECT CAST(? AS SMALLINT), v.article_id, v.views FROM v \
                 WHERE EXISTS (SELECT 1 FROM articles a WHERE a.id = v.article_id) \
                 ON CONFLICT (hours, article_id) \
                 DO UPDATE SET views = article_view_windows.views + excluded.views"
            );
            txn.execute_raw(stmt(backend, &sql, values)).await?;
        }
    }
    let mut totals: Vec<(i64, i64)> = totals.0.iter().map(|(a, n)| (*a, *n)).collect();
    totals.sort_unstable();
    for chunk in totals.chunks(CHUNK) {
        let tuples = vec!["(?, ?)"; chunk.len()].join(", ");
        let values = chunk
            .iter()
            .flat_map(|(article, n)| [(*article).into(), (*n).into()])
            .collect();
        let sql = format!(
            "WITH v(article_id, views) AS (VALUES {tuples}) \
             UPDATE articles SET view_count = articles.view_count + v.views \
             FROM v WHERE articles.id = v.article_id"
        );
        txn.execute_raw(stmt(backend, &sql, values)).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Folds hourly buckets older than [`KEEP_HOURLY`] hours into daily ones, in one transaction that
/// only one process runs at a time. Returns the number of hourly rows folded.
///
/// An hour at or after a window's first hour whose day starts before it stays hourly until the
/// window moves past it: folded, it would move out of the window and break the window's total.
pub async fn compact<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    // Whole days only, so that a day is folded once, complete.
    let cutoff = (hour_of(now) - KEEP_HOURLY).div_euclid(24) * 24;
    let txn = begin_write(db).await?;
    if backend == DbBackend::Postgres {
        // SQLite's IMMEDIATE transaction already excludes other writers.
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7262011)")
            .await?;
    }
    let mut keep = String::new();
    let mut kept: Vec<Value> = Vec::new();
    for first in window_marks(&txn, Lock::Exclusive)
        .await?
        .iter()
        .filter_map(|m| m.first_hour)
    {
        let day_end = first.div_euclid(24) * 24 + 24;
        if first.rem_euclid(24) != 0 && first < cutoff {
            keep.push_str(" AND NOT (bucket_hour >= ? AND bucket_hour < ?)");
            kept.extend([first.into(), day_end.into()]);
        }
    }
    let fold = format!(
        "INSERT INTO article_view_buckets (article_id, span, bucket_hour, views) \
         SELECT article_id, {SPAN_DAY}, (bucket_hour / 24) * 24, SUM(views) FROM article_view_buckets \
         WHERE span = {SPAN_HOUR} AND bucket_hour < ?{keep} GROUP BY article_id, (bucket_hour / 24) * 24 \
         ON CONFLICT (article_id, span, bucket_hour) \
         DO UPDATE SET views = article_view_buckets.views + excluded.views"
    );
    let mut values: Vec<Value> = vec![cutoff.into()];
    values.extend(kept);
    txn.execute_raw(stmt(backend, &fold, values.clone()))
        .await?;
    let deleted = txn
        .execute_raw(stmt(
            backend,
            &format!(
                "DELETE FROM article_view_buckets WHERE span = {SPAN_HOUR} AND bucket_hour < ?{keep}"
            ),
            values,
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(deleted)
}

/// How a transaction holds the window marks on PostgreSQL (SQLite's write transactions already
/// exclude each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// No lock: a read outside a write.
    None,
    /// Flushes: many at once, but not during an advance or a compaction.
    Share,
    /// Advances and compactions: alone.
    Exclusive,
}

/// A window's length and the first hour its totals count, if they have been built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
struct WindowMark {
    hours: i16,
    first_hour: Option<i64>,
}

async fn window_marks<C: ConnectionTrait>(db: &C, lock: Lock) -> Result<Vec<WindowMark>> {
    let backend = db.get_database_backend();
    let suffix = match (backend, lock) {
        (DbBackend::Postgres, Lock::Share) => " FOR SHARE",
        (DbBackend::Postgres, Lock::Exclusive) => " FOR UPDATE",
        _ => "",
    };
    let sql = format!("SELECT hours, first_hour FROM view_windows ORDER BY hours{suffix}");
    Ok(
        WindowMark::find_by_statement(Statement::from_string(backend, sql))
            .all(db)
            .await?,
    )
}

/// Brings every window's totals up to `now`; see [`advance`].
pub async fn advance_all<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<()> {
    for window in [
        RankingWindow::Day,
        RankingWindow::Week,
        RankingWindow::Month,
    ] {
        advance(db, now, window).await?;
    }
    Ok(())
}

/// Moves `window`'s first hour to where it is at `now`: takes out of the totals the buckets the
/// window has left behind (or puts back those it covers again, should the clock go back), or
/// builds the totals from the buckets when they were never built or the move is longer than the
/// window. Does nothing for the all-time window, or when the window is already at `now`.
pub async fn advance<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    window: RankingWindow,
) -> Result<()> {
    let (Some(hours), Some(first)) = (window.hours(), window.first_hour(now)) else {
        return Ok(());
    };
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let marks = window_marks(&txn, Lock::Exclusive).await?;
    let current = marks
        .iter()
        .find(|m| i64::from(m.hours) == hours)
        .and_then(|m| m.first_hour);
    let window_hours = Value::from(hours);
    let run = |sql: &str, values: Vec<Value>| stmt(backend, sql, values);
    match current {
        Some(from) if from == first => return Ok(()),
        Some(from) if (first - from).abs() < hours => {
            let (low, high) = (from.min(first), from.max(first));
            let delta = "SELECT article_id, SUM(views) AS views FROM article_view_buckets \
                         WHERE bucket_hour >= ? AND bucket_hour < ? GROUP BY article_id";
            if first > from {
                txn.execute_raw(run(
                    &format!(
                        "UPDATE article_view_windows SET views = article_view_windows.views - d.views \
                         FROM ({delta}) d \
                         WHERE article_view_windows.hours = ? AND article_view_windows.article_id = d.article_id"
                    ),
                    vec![low.into(), high.into(), window_hours.clone()],
                ))
                .await?;
                txn.execute_raw(run(
                    "DELETE FROM article_view_windows WHERE hours = ? AND views <= 0",
                    vec![window_hours],
                ))
                .await?;
            } else {
                txn.execute_raw(run(
                    &format!(
                        "INSERT INTO article_view_windows (hours, article_id, views) \
                         SELECT CAST(? AS SMALLINT), d.article_id, d.views FROM ({delta}) d WHERE d.views > 0 \
                         ON CONFLICT (hours, article_id) \
                         DO UPDATE SET views = article_view_windows.views + excluded.views"
                    ),
                    vec![window_hours, low.into(), high.into()],
                ))
                .await?;
            }
        }
        _ => {
            txn.execute_raw(run(
                "DELETE FROM article_view_windows WHERE hours = ?",
                vec![window_hours.clone()],
            ))
            .await?;
            txn.execute_raw(run(
                "INSERT INTO article_view_windows (hours, article_id, views) \
                 SELECT CAST(? AS SMALLINT), article_id, SUM(views) FROM article_view_buckets \
                 WHERE bucket_hour >= ? GROUP BY article_id HAVING SUM(views) > 0",
                vec![window_hours, first.into()],
            ))
            .await?;
        }
    }
    txn.execute_raw(run(
        "UPDATE view_windows SET first_hour = ? WHERE hours = ?",
        vec![first.into(), hours.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Forgets every window's totals, to be built again from the buckets by the next [`advance`]. For
/// code that writes buckets other than through [`flush`] (demo content, benchmarks).
pub async fn reset_windows<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<()> {
    let txn = begin_write(db).await?;
    window_marks(&txn, Lock::Exclusive).await?;
    txn.execute_unprepared("UPDATE view_windows SET first_hour = NULL")
        .await?;
    txn.execute_unprepared("DELETE FROM article_view_windows")
        .await?;
    txn.commit().await?;
    Ok(())
}

/// The time a ranking covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RankingWindow {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// All time (the articles' totals).
    All,
}

impl RankingWindow {
    /// The window's length in hours, or `None` for all time.
    pub fn hours(self) -> Option<i64> {
        match self {
            RankingWindow::Day => Some(24),
            RankingWindow::Week => Some(7 * 24),
            RankingWindow::Month => Some(30 * 24),
            RankingWindow::All => None,
        }
    }

    /// The first hour the window counts, or `None` for all time.
    pub fn first_hour(self, now: DateTime<Utc>) -> Option<i64> {
        self.hours().map(|hours| hour_of(now) - hours + 1)
    }
}

/// An article's place in a ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct Ranked {
    /// The article.
    pub article_id: i64,
    /// Its views in the window.
    pub views: i64,
}

/// The `limit` most-viewed visible articles in `window` (optionally only in `channels`), most
/// views first, ties broken by the newer publish time, then the higher id.
///
/// The all-time ranking reads the articles' totals; the others read the window's totals, first
/// moving the window to `now` when the hour has turned since it last moved (a write, once an hour
/// or so). They take the most viewed candidates from the window's index and join those to the
/// articles; when hidden articles, a channel or a tie at the last place leave the answer
/// uncertain, they look again at four times as many.
pub async fn ranking<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    window: RankingWindow,
    channels: Option<&[i64]>,
    limit: u64,
) -> Result<Vec<Ranked>> {
    ranking_among(db, now, window, channels, limit, limit.saturating_add(500)).await
}

/// [`ranking`], looking first at `candidates` candidates (at least one) rather than the limit
/// and 500 more; public so that tests can make it widen its search.
pub async fn ranking_among<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    window: RankingWindow,
    channels: Option<&[i64]>,
    limit: u64,
    candidates: u64,
) -> Result<Vec<Ranked>> {
    let backend = db.get_database_backend();
    let mut channel_values: Vec<Value> = Vec::new();
    let channel_filter = match channels {
        Some(ids) if !ids.is_empty() => {
            channel_values.extend(ids.iter().map(|id| Value::from(*id)));
            format!(
                " AND articles.channel_id IN ({})",
                vec!["?"; ids.len()].join(", ")
            )
        }
        Some(_) => return Ok(Vec::new()),
        None => String::new(),
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let visible = "articles.status IN ('published', 'scheduled') AND articles.published_at <= ?";
    let limit_value = i64::try_from(limit).unwrap_or(i64::MAX);
    let Some(hours) = window.hours() else {
        let sql = format!(
            "SELECT articles.id AS article_id, articles.view_count AS views FROM articles \
             WHERE {visible}{channel_filter} AND articles.view_count > 0 \
             ORDER BY articles.view_count DESC, articles.published_at DESC, articles.id DESC LIMIT ?"
        );
        let mut values: Vec<Value> = vec![now.into()];
        values.extend(channel_values);
        values.push(limit_value.into());
        return Ok(Ranked::find_by_statement(stmt(backend, &sql, values))
            .all(db)
            .await?);
    };
    let marks = window_marks(db, Lock::None).await?;
    let built = marks
        .iter()
        .find(|m| i64::from(m.hours) == hours)
        .and_then(|m| m.first_hour);
    if built != window.first_hour(now) {
        advance(db, now, window).await?;
    }
    let sql = format!(
        "SELECT w.article_id AS article_id, w.views AS views FROM \
           (SELECT article_id, views FROM article_view_windows WHERE hours = ? AND views > 0 \
             ORDER BY views DESC, article_id DESC LIMIT ?) w \
         JOIN articles ON articles.id = w.article_id \
         WHERE {visible}{channel_filter} \
         ORDER BY w.views DESC, articles.published_at DESC, w.article_id DESC LIMIT ?"
    );
    // The views of the last candidate, or none when there are fewer candidates than asked for.
    let last_candidate = "SELECT views FROM article_view_windows WHERE hours = ? AND views > 0 \
                          ORDER BY views DESC, article_id DESC LIMIT 1 OFFSET ?";
    let mut candidates = i64::try_from(candidates).unwrap_or(i64::MAX).max(1);
    loop {
        let mut values: Vec<Value> = vec![hours.into(), candidates.into(), now.into()];
        values.extend(channel_values.iter().cloned());
        values.push(limit_value.into());
        let ranked = Ranked::find_by_statement(stmt(backend, &sql, values))
            .all(db)
            .await?;
        let boundary = db
            .query_one_raw(stmt(
                backend,
                last_candidate,
                vec![hours.into(), (candidates - 1).into()],
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "views"))
            .transpose()?;
        // Certain when every candidate was looked at, or when the list is full and its last
        // place has more views than any article left out.
        let certain = match boundary {
            None => true,
            Some(least) => {
                ranked.len() as u64 == limit && ranked.last().is_some_and(|r| r.views > least)
            }
        };
        if certain {
            return Ok(ranked);
        }
        candidates = candidates.saturating_mul(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_and_missing_agents_are_not_readers() {
        assert!(is_bot(None));
        assert!(is_bot(Some("  ")));
        assert!(is_bot(Some(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        )));
        assert!(is_bot(Some(
            "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
        )));
        assert!(is_bot(Some("curl/8.5.0")));
        assert!(!is_bot(Some(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
        )));
        assert!(!is_bot(Some(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
        )));
    }

    #[test]
    fn a_full_buffer_takes_views_only_for_pairs_it_holds() {
        let mut pending = Pending::default();
        pending.add(1, 10, 3);
        pending.add(2, 10, 1);
        assert_eq!(pending.entries(), 2);
        assert!(pending.has_room(1, 10, 2));
        assert!(!pending.has_room(1, 11, 2));
        assert!(pending.has_room(1, 11, 3));
        let mut back = Pending::default();
        back.add(1, 10, 2);
        pending.merge(back);
        assert_eq!(pending.views(), 6);
        assert_eq!(pending.entries(), 2);
    }

    #[test]
    fn visitor_keys_are_short_stable_and_per_article() {
        let a = visitor_key(7, "203.0.113.9|Mozilla/5.0");
        assert_eq!(a, visitor_key(7, "203.0.113.9|Mozilla/5.0"));
        assert_ne!(a, visitor_key(8, "203.0.113.9|Mozilla/5.0"));
        assert_ne!(a, visitor_key(7, "203.0.113.10|Mozilla/5.0"));
        assert!(a.len() < 40 && !a.contains("203.0"));
        let hash = visitor_hash("203.0.113.9|Mozilla/5.0");
        assert_eq!(format!("7:{hash:016x}"), a[..18]);
        assert_ne!(hash, visitor_hash("203.0.113.10|Mozilla/5.0"));
    }

    #[test]
    fn windows_count_whole_hours_back_from_now() {
        let now: DateTime<Utc> = "2026-01-08T10:30:00Z".parse().unwrap();
        assert_eq!(RankingWindow::Day.first_hour(now), Some(hour_of(now) - 23));
        assert_eq!(
            RankingWindow::Week.first_hour(now),
            Some(hour_of(now) - 167)
        );
        assert_eq!(RankingWindow::All.first_hour(now), None);
        let mut pending = Pending::default();
        pending.add(1, 5, 2);
        pending.add(1, 5, 1);
        pending.add(2, 5, 4);
        assert_eq!(pending.views(), 7);
    }
}
