//! From the change log to events: what each change means to partners.
//!
//! The log says an article was written (`upsert`) or left readers (`remove`); a partner needs to
//! know whether an article it may have arrived, changed or went. So the dispatcher keeps the set of
//! articles partners have been told of (`webhook_partner_articles`) and reads each settled entry
//! as partners see it now ([`crate::changes::since`] with [`Audience::Partner`]): an article they
//! may have that is not in the set is `published`, one in it `updated`; an entry for an article
//! they may not have (any more) is `removed` when the set holds it and nothing otherwise. An
//! article whose source stops allowing syndication is therefore a removal, and one a partner never
//! had is never mentioned. A scheduled article's entry is settled only after its publish time, so
//! its `published` event comes when it becomes visible.
//!
//! One process reads at a time: the cursor row is locked (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so another process skips its turn rather than waiting; SQLite has one writer). The
//! events, the set and the cursor are written in one transaction, so a crash re-reads the same
//! entries and writes the same events once.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait,
    sea_query::{LockBehavior, LockType},
};

use crate::{
    articles::Audience,
    changes,
    entities::{
        WebhookEventKind, webhook_dispatch, webhook_endpoint, webhook_event,
        webhook_partner_article,
    },
    error::Result,
    pagination::TimeCursor,
};

/// How many log entries one transaction reads.
pub const BATCH: u64 = 500;

/// The cursor row's id.
const CURSOR_ROW: i32 = 1;

fn cursor_of(row: &webhook_dispatch::Model) -> Option<TimeCursor> {
    Some(TimeCursor {
        at: row.after_at?,
        id: row.after_seq?,
    })
}

/// What a log entry means to partners, given whether they hold the article: the event, if any.
fn event_for(may_have: bool, held: bool) -> Option<WebhookEventKind> {
    match (may_have, held) {
        (true, false) => Some(WebhookEventKind::Published),
        (true, true) => Some(WebhookEventKind::Updated),
        (false, true) => Some(WebhookEventKind::Removed),
        (false, false) => None,
    }
}

/// Reads up to [`BATCH`] settled log entries past the cursor into events, at `now`. Events are
/// stored only while some endpoint is registered (an endpoint receives those dispatched after it
/// was registered); the set and the cursor move on regardless. Returns whether more entries are
/// ready, so the caller can come straight back.
pub async fn dispatch<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<bool> {
    // Most calls find nothing new: find that out without taking the write lock.
    let Some(row) = webhook_dispatch::Entity::find_by_id(CURSOR_ROW)
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    if !changes::any_since(db, now, cursor_of(&row).as_ref()).await? {
        return Ok(false);
    }
    let txn = crate::db::begin_write(db).await?;
    let Some(row) = webhook_dispatch::Entity::find_by_id(CURSOR_ROW)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(&txn)
        .await?
    else {
        // Another process is reading the log.
        return Ok(false);
    };
    let page = changes::since(
        &txn,
        now,
        Audience::Partner,
        cursor_of(&row).as_ref(),
        BATCH,
    )
    .await?;
    let Some(next) = page.next.filter(|_| !page.items.is_empty()) else {
        return Ok(false);
    };
    let ids: HashSet<i64> = page.items.iter().map(|c| c.article_id).collect();
    let held_before: HashSet<i64> = webhook_partner_article::Entity::find()
        .select_only()
        .column(webhook_partner_article::Column::ArticleId)
        .filter(webhook_partner_article::Column::ArticleId.is_in(ids.iter().copied()))
        .into_tuple::<i64>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let mut held = held_before.clone();
    let mut events = Vec::new();
    for change in &page.items {
        let was_held = held.contains(&change.article_id);
        let Some(kind) = event_for(change.article.is_some(), was_held) else {
            continue;
        };
        if kind == WebhookEventKind::Removed {
            held.remove(&change.article_id);
        } else {
            held.insert(change.article_id);
        }
        events.push(webhook_event::ActiveModel {
            uid: Set(uuid::Uuid::new_v4().to_string()),
            kind: Set(kind),
            article_id: Set(change.article_id),
            slug: Set(change
                .article
                .as_ref()
                .map_or_else(|| change.slug.clone(), |a| a.slug.clone())),
            occurred_at: Set(change.cursor.at),
            created_at: Set(now),
            ..Default::default()
        });
    }
    let gone: Vec<i64> = held_before.difference(&held).copied().collect();
    if !gone.is_empty() {
        webhook_partner_article::Entity::delete_many()
            .filter(webhook_partner_article::Column::ArticleId.is_in(gone))
            .exec(&txn)
            .await?;
    }
    let came: Vec<webhook_partner_article::ActiveModel> = held
        .difference(&held_before)
        .map(|id| webhook_partner_article::ActiveModel {
            article_id: Set(*id),
        })
        .collect();
    if !came.is_empty() {
        webhook_partner_article::Entity::insert_many(came)
            .exec_without_returning(&txn)
            .await?;
    }
    let listening = webhook_endpoint::Entity::find().count(&txn).await? > 0;
    if listening && !events.is_empty() {
        webhook_event::Entity::insert_many(events)
            .exec_without_returning(&txn)
            .await?;
    }
    webhook_dispatch::Entity::update(webhook_dispatch::ActiveModel {
        id: Set(CURSOR_ROW),
        after_at: Set(Some(next.at)),
        after_seq: Set(Some(next.id)),
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(page.has_more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_means_what_partners_hold() {
        assert_eq!(event_for(true, false), Some(WebhookEventKind::Published));
        assert_eq!(event_for(true, true), Some(WebhookEventKind::Updated));
        assert_eq!(event_for(false, true), Some(WebhookEventKind::Removed));
        assert_eq!(event_for(false, false), None);
    }
}
