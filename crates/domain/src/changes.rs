//! The change log a partner keeps an exact copy with (`GET /api/v1/changes`): each time an article
//! enters or leaves what readers see, a row is written in the same transaction as the article.
//! Replaying the log from the start, applying each `upsert` (the article as it is now) and each
//! `remove` (a tombstone), ends with exactly the visible articles.
//!
//! Rows are read in (`visible_from`, `seq`) order. A scheduled article gets an `upsert` row at its
//! publish time, so it arrives when it becomes visible with nobody acting. Rows are served only
//! once they are [`SETTLE`] old: a transaction that started earlier but commits later would
//! otherwise write a row behind a cursor a client has already passed.
//!
//! [`Publications`] follows the same log for the moments articles become visible (GraphQL's
//! `articlePublished` subscription), so every server process sharing the database hears of
//! every publication, scheduled ones at their time, from the one record of what happened.

use std::collections::HashMap;

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

/// The next `limit` rows after `since` settled at `now`, oldest first, and whether more follow.
async fn settled_page<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    since: Option<&TimeCursor>,
    limit: u64,
) -> Result<(Vec<article_change::Model>, bool)> {
    let mut rows = settled_after(now, since)
        .order_by_asc(article_change::Column::VisibleFrom)
        .order_by_asc(article_change::Column::Seq)
        .limit(limit + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

/// The articles `rows` write as shown (their `upsert`s).
fn upserted(rows: &[article_change::Model]) -> Vec<i64> {
    rows.iter()
        .filter(|r| r.change == UPSERT)
        .map(|r| r.article_id)
        .collect()
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
    let (rows, has_more) = settled_page(db, now, since, limit).await?;
    let shown = articles::visible_by_ids(db, now, audience, &upserted(&rows)).await?;
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

/// An article that has just become visible to readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The article as it is now.
    pub article: article::Model,
    /// Whether partners may have it too (the site's own, or its source allows syndication).
    pub for_partners: bool,
}

/// Follows the log for publications: the `upsert` entries written at the instant their article
/// became visible. Publishing writes its entry at the new publish time, and a scheduled article's
/// entry stands at its publish time, so an entry whose time is its article's current publish
/// time is the moment the article appeared; any other `upsert` is an edit of an article already
/// shown (or a stale entry of one rescheduled since). Each article is judged as it is when the
/// entry is read, so one unpublished or taken down meanwhile is never told.
#[derive(Debug, Clone, Default)]
pub struct Publications {
    cursor: Option<TimeCursor>,
    /// Articles told at each publish time not yet passed by the cursor: an article saved twice
    /// while scheduled has two entries at its time, and is told once.
    told: HashMap<i64, DateTime<Utc>>,
}

impl Publications {
    /// Starts after the newest entry settled at `now`: what became visible before is not told.
    pub async fn from_now<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Self> {
        let newest = settled_after(now, None)
            .order_by_desc(article_change::Column::VisibleFrom)
            .order_by_desc(article_change::Column::Seq)
            .one(db)
            .await?;
        Ok(Publications {
            cursor: newest.map(|r| TimeCursor {
                at: r.visible_from,
                id: r.seq,
            }),
            told: HashMap::new(),
        })
    }

    /// The publications among the next `limit` entries settled at `now`, oldest first, and
    /// whether more entries are ready.
    pub async fn next<C: ConnectionTrait>(
        &mut self,
        db: &C,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<(Vec<Publication>, bool)> {
        if !any_since(db, now, self.cursor.as_ref()).await? {
            return Ok((Vec::new(), false));
        }
        let (rows, has_more) = settled_page(db, now, self.cursor.as_ref(), limit).await?;
        let shown = articles::visible_by_ids(db, now, Audience::Reader, &upserted(&rows)).await?;
        let mut found = Vec::new();
        for row in rows.iter().filter(|r| r.change == UPSERT) {
            let Some(a) = shown.get(&row.article_id) else {
                continue;
            };
            if a.published_at != Some(row.visible_from)
                || self.told.get(&a.id) == Some(&row.visible_from)
            {
                continue;
            }
            self.told.insert(a.id, row.visible_from);
            found.push(a.clone());
        }
        let ids: Vec<i64> = found.iter().map(|a| a.id).collect();
        let partners = articles::visible_by_ids(db, now, Audience::Partner, &ids).await?;
        if let Some(last) = rows.last() {
            let at = last.visible_from;
            self.cursor = Some(TimeCursor { at, id: last.seq });
            // No entry can still arrive at a time the cursor has passed.
            self.told.retain(|_, told_at| *told_at >= at);
        }
        let items = found
            .into_iter()
            .map(|article| Publication {
                for_partners: partners.contains_key(&article.id),
                article,
            })
            .collect();
        Ok((items, has_more))
    }
}
