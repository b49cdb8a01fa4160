//! The change log a partner keeps an exact copy with (`GET /api/v1/changes`): each time an article
//! enters or leaves what readers see, a row is written in the same transaction as the article.
//! Replaying the log from the start, applying each `upsert` (the article as it is now) and each
//! `remove` (a tombstone), ends with exactly the visible articles.
//!
//! Rows are read in (`visible_from`, `seq`) order. A scheduled article gets an `upsert` row at its
//! publish time, so it arrives when it becomes visible with nobody acting. Rows are served only
//! once they are [`SETTLE`] old: a transaction that started earlier but commits later would
//! otherwise write a row behind a cursor a client has already passed.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    articles::{self, Audience},
    entities::{ArticleStatus, article, article_change},
    error::Result,
    pagination::TimeCursor,
};

/// How old a row must be before it is served; longer than any write transaction.
pub const SETTLE: TimeDelta = TimeDelta::seconds(5);
/// The most rows a page holds.
pub const MAX_PAGE: u64 = 500;

const UPSERT: &str = "upsert";
const REMOVE: &str = "remove";

/// Whether readers see, or will see at its time, this state of an article.
fn shown_or_scheduled(a: &article::Model) -> bool {
    matches!(
        a.status,
        ArticleStatus::Published | ArticleStatus::Scheduled
    ) && a.published_at.is_some()
}

async fn write<C: ConnectionTrait>(
    db: &C,
    a: &article::Model,
    change: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    article_change::ActiveModel {
        article_id: Set(a.id),
        slug: Set(a.slug.clone()),
        change: Set(change.to_owned()),
        visible_from: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records what writing `after` over `before` (`None` for a new article) means for readers, at
/// `now`, in the writer's transaction. Nothing for a change readers never see (a draft edited).
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    before: Option<&article::Model>,
    after: &article::Model,
    now: DateTime<Utc>,
) -> Result<()> {
    let was = before.is_some_and(shown_or_scheduled);
    let is = shown_or_scheduled(after);
    if !was && !is {
        return Ok(());
    }
    match after.published_at {
        Some(at) if is && at <= now => write(db, after, UPSERT, now).await,
        Some(at) if is => {
            // Not visible until its time: gone now (if it was shown), back at its time.
            write(db, after, REMOVE, now).await?;
            write(db, after, UPSERT, at).await
        }
        _ => write(db, after, REMOVE, now).await,
    }
}

/// Records that `deleted` is gone, in the deleting transaction.
pub(crate) async fn record_deletion<C: ConnectionTrait>(
    db: &C,
    deleted: &article::Model,
    now: DateTime<Utc>,
) -> Result<()> {
    if shown_or_scheduled(deleted) {
        write(db, deleted, REMOVE, now).await?;
    }
    Ok(())
}

/// Records that every article of `source_id` may have entered or left what partners see (its
/// license or syndication flag changed), in the writer's transaction.
pub(crate) async fn record_source_change<C: ConnectionTrait>(
    db: &C,
    source_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let shown = article::Entity::find()
        .filter(article::Column::SourceId.eq(source_id))
        .filter(articles::visible(now))
        .all(db)
        .await?;
    for a in &shown {
        write(db, a, UPSERT, now).await?;
    }
    Ok(())
}

/// Gives every published or scheduled article the log has never heard of an `upsert` at its
/// publish time: for articles written in bulk rather than through the editorial functions (the
/// demo content). Returns how many it added.
pub async fn backfill<C: ConnectionTrait>(db: &C) -> Result<u64> {
    Ok(db
        .execute_unprepared(
            "INSERT INTO article_changes (article_id, slug, change, visible_from) \
     SELECT a.id, a.slug, 'upsert', a.published_at FROM articles a \
     WHERE a.status IN ('published', 'scheduled') AND a.published_at IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM article_changes c WHERE c.article_id = a.id)",
        )
        .await?
        .rows_affected())
}

/// One entry of the log as a client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where the entry sits; pass its cursor back as `since`.
    pub cursor: TimeCursor,
    /// The article's id.
    pub article_id: i64,
    /// Its slug when the entry was written.
    pub slug: String,
    /// The article as it is now, or `None`: a tombstone (it is not, or no longer, for the caller).
    pub article: Option<article::Model>,
}

/// A page of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The entries, oldest first.
    pub items: Vec<Change>,
    /// Where to continue from: the last entry's cursor, or `since` when there was none.
    pub next: Option<TimeCursor>,
    /// Whether more entries follow now.
    pub has_more: bool,
}

/// The rows after `since` (from the start when `None`) that are old enough to serve at `now`.
fn settled_after(now: DateTime<Utc>, since: Option<&TimeCursor>) -> Select<article_change::Entity> {
    let query = article_change::Entity::find()
        .filter(article_change::Column::VisibleFrom.lte(now - SETTLE));
    match since {
        Some(c) => query.filter(
            Expr::tuple([
                Expr::col(article_change::Column::VisibleFrom),
                Expr::col(article_change::Column::Seq),
            ])
            .gt(Expr::tuple([Expr::val(c.at), Expr::val(c.id)])),
        ),
        None => query,
    }
}

/// Whether any entry after `since` is ready to be served at `now`: one indexed lookup, for a
/// reader polling the log.
pub async fn any_since<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    since: Option<&TimeCursor>,
) -> Result<bool> {
    crate::pagination::any_row(db, settled_after(now, since), article_change::Column::Seq).await
}

/// The entries after `since` (from the start when `None`), at most `limit`, as `audience` may
/// have them: an `upsert` of an article the audience may not see (now) is a tombstone.
pub async fn since<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    since: Option<&TimeCursor>,
    limit: u64,
) -> Result<Changes> {
    let mut rows = settled_after(now, since)
        .order_by_asc(article_change::Column::VisibleFrom)
        .order_by_asc(article_change::Column::Seq)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let wanted: Vec<i64> = rows
        .iter()
        .filter(|r| r.change == UPSERT)
        .map(|r| r.article_id)
        .collect();
    let shown = articles::visible_by_ids(db, now, audience, &wanted).await?;
    let items: Vec<Change> = rows
        .into_iter()
        .map(|r| Change {
            cursor: TimeCursor {
                at: r.visible_from,
                id: r.seq,
            },
            article: if r.change == UPSERT {
                shown.get(&r.article_id).cloned()
            } else {
                None
            },
            article_id: r.article_id,
            slug: r.slug,
        })
        .collect();
    let next = items.last().map(|c| c.cursor).or_else(|| since.cloned());
    Ok(Changes {
        items,
        next,
        has_more,
    })
}
