//! Ingest: a source's RSS or Atom feed taken in as draft reprints for editors to review and
//! publish. Fetching is the gateway's (this crate knows no HTTP); here a fetched feed is parsed
//! ([`parse`], with feed-rs) and stored ([`store`]), and each source keeps where its feed stands.
//!
//! - Each new item becomes a draft reprint of its source, filed in the source's feed channel,
//!   with the item's link as its original URL, the item's date as its original publish time,
//!   and its HTML sanitized (see [`crate::render`]) before it is stored.
//! - An item is new unless its link (normalised) is in the ledger of items taken in before
//!   (`feed_items`, unique by URL, so no item is taken in twice even by two processes at once),
//!   or an article already names it as its original URL (a reprint made by hand, or imported).
//!   A draft an editor deleted stays in the ledger and is not taken in again.
//! - A feed is stored in one transaction: all its new items or none. An item that cannot be a
//!   reprint (no link, a link that is not http(s), neither title nor text, a body over 1 MB) is
//!   skipped and reported, and the rest of the feed is taken in: one bad item must not hold back
//!   a source's news, and it could never become a reprint anyway.
//! - A feed that cannot be fetched or parsed, or cannot be stored, is recorded on its source
//!   ([`record_failure`]): the error, failures in a row, and the next attempt, which backs off
//!   from the interval (doubling with each failure, at most a day).

use std::collections::HashSet;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
    sea_query::{Expr, NullOrdering},
};

use crate::{
    editorial::{self, MAX_AUTHOR, MAX_BODY_BYTES, MAX_LEAD, MAX_TITLE, NewArticle},
    entities::{ArticleKind, BodyFormat, article, channel, feed_item, source},
    error::{Error, Result},
    render,
    search::Segmenter,
};

/// The longest error recorded on a source.
const MAX_ERROR: usize = 2000;
/// Links looked up per query.
const CHUNK: usize = 200;

/// How often feeds are fetched, and how long a failing one waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Between two fetches of a feed that works.
    pub interval: TimeDelta,
    /// The longest wait after failures.
    pub max_wait: TimeDelta,
}

impl Schedule {
    /// The wait after the `failures`-th failure in a row: the interval, doubled for each failure
    /// before it, at most `max_wait`.
    pub fn after_failure(&self, failures: i32) -> TimeDelta {
        let doublings = u32::try_from(failures.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        self.interval
            .checked_mul(1 << doublings)
            .unwrap_or(self.max_wait)
            .min(self.max_wait)
    }
}

/// An item of a feed, ready to be a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// Where it stands in the feed, from 1.
    pub position: usize,
    /// The headline, as plain text.
    pub title: String,
    /// The item's link, normalised: the article's original URL.
    pub url: String,
    /// When the source published it.
    pub published_at: Option<DateTime<Utc>>,
    /// Its content (or summary), sanitized HTML.
    pub body: String,
    /// Its summary as plain text, when it has content as well.
    pub lead: Option<String>,
    /// The first author's name.
    pub author: Option<String>,
}

/// An item that cannot be a reprint, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    /// Where it stands in the feed, from 1.
    pub position: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// A feed read into items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFeed {
    /// The items that can be drafts, in feed order.
    pub items: Vec<FeedItem>,
    /// Those that cannot.
    pub skipped: Vec<SkippedItem>,
}

/// What storing a feed did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// The slugs of the drafts created.
    pub created: Vec<String>,
    /// Items taken in before (or already reprinted).
    pub known: usize,
    /// Items that cannot be reprints.
    pub skipped: Vec<SkippedItem>,
}

/// Reads an RSS (0.9x, 1.0, 2.0), Atom or JSON Feed document fetched from `feed_url` (relative
/// links are resolved against it). Fails, naming `feed`, when it is not a feed at all.
pub fn parse(bytes: &[u8], feed_url: &str) -> Result<ParsedFeed> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url))
        .build()
        .parse(bytes)
        .map_err(|e| Error::validation("feed", format!("is not an RSS or Atom feed: {e}")))?;
    let mut parsed = ParsedFeed::default();
    let mut seen: HashSet<String> = HashSet::new();
    for (index, entry) in feed.entries.into_iter().enumerate() {
        let position = index + 1;
        match item(position, entry) {
            Ok(item) if !seen.insert(item.url.clone()) => parsed.skipped.push(SkippedItem {
                position,
                reason: format!("repeats the link {} of an item before it", item.url),
            }),
            Ok(item) => parsed.items.push(item),
            Err(reason) => parsed.skipped.push(SkippedItem { position, reason }),
        }
    }
    Ok(parsed)
}

fn is_plain(content_type: &impl std::fmt::Display) -> bool {
    content_type.to_string().starts_with("text/plain")
}

/// Plain text as HTML paragraphs.
fn paragraphs(text: &str) -> String {
    let mut html = String::new();
    for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        html.push_str("<p>");
        let _ = pulldown_cmark_escape::escape_html(&mut html, block);
        html.push_str("</p>");
    }
    html
}

/// Text with control characters (which no content needs, and PostgreSQL cannot store as NUL)
/// taken out.
fn without_controls(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect()
}

/// One line, runs of white space as one space, at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.chars().take(max).collect()
}

fn item(position: usize, entry: feed_rs::model::Entry) -> std::result::Result<FeedItem, String> {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(entry.links.first())
        .map(|l| l.href.trim().to_owned())
        .filter(|href| !href.is_empty())
        .ok_or("has no link to the original".to_owned())?;
    let url = url::Url::parse(&link)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(String::from)
        .ok_or_else(|| format!("its link `{link}` is not an absolute http(s) URL"))?;
    editorial::checks::url("originalUrl", &url).map_err(|e| format!("its link {e}"))?;

    let as_html = |content: &str, plain: bool| {
        if plain {
            paragraphs(content)
        } else {
            content.to_owned()
        }
    };
    let content = entry
        .content
        .as_ref()
        .and_then(|c| {
            c.body
                .as_deref()
                .map(|b| as_html(b, is_plain(&c.content_type)))
        })
        .filter(|b| !b.trim().is_empty());
    let summary = entry
        .summary
        .as_ref()
        .map(|s| as_html(&s.content, is_plain(&s.content_type)))
        .filter(|s| !s.trim().is_empty());
    let (body, lead) = match (content, summary) {
        (Some(content), summary) => (content, summary),
        (None, Some(summary)) => (summary, None),
        (None, None) => (String::new(), None),
    };
    let body = without_controls(&render::to_html(&body, BodyFormat::Html));
    if body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "its text is longer than {MAX_BODY_BYTES} bytes after sanitizing"
        ));
    }
    let text = render::to_text(&body, BodyFormat::Html);
    let lead = lead
        .map(|l| render::to_text(&l, BodyFormat::Html))
        .map(|l| {
            without_controls(&l)
                .trim()
                .chars()
                .take(MAX_LEAD)
                .collect::<String>()
        })
        .filter(|l| !l.is_empty());

    let title = entry
        .title
        .map(|t| {
            if is_plain(&t.content_type) {
                t.content
            } else {
                render::to_text(&t.content, BodyFormat::Html)
            }
        })
        .map(|t| one_line(&without_controls(&t), MAX_TITLE))
        .filter(|t| !t.is_empty())
        // An untitled item (RSS allows one) is named by the start of its text.
        .or_else(|| {
            let first = text.lines().find(|l| !l.trim().is_empty())?;
            Some(one_line(&without_controls(first), 60)).filter(|t| !t.is_empty())
        })
        .ok_or("has neither a title nor any text".to_owned())?;

    let author = entry
        .authors
        .first()
        .and_then(|a| a.name.as_deref())
        .map(|name| one_line(&without_controls(name), MAX_AUTHOR))
        .filter(|a| !a.is_empty());
    let published_at = entry
        .published
        .or(entry.updated)
        .filter(|at| (1..=9999).contains(&at.year()))
        .map(crate::clock::truncate);
    Ok(FeedItem {
        position,
        title,
        url,
        published_at,
        body,
        lead,
        author,
    })
}

/// Every source with a feed, by slug.
pub async fn sources_with_feeds<C: ConnectionTrait>(db: &C) -> Result<Vec<source::Model>> {
    Ok(source::Entity::find()
        .filter(source::Column::FeedUrl.is_not_null())
        .order_by_asc(source::Column::Slug)
        .all(db)
        .await?)
}

fn due_condition(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(source::Column::FeedUrl.is_not_null())
        .add(
            Condition::any()
                .add(source::Column::FeedNextAt.is_null())
                .add(source::Column::FeedNextAt.lte(now)),
        )
}

/// The sources whose feed is due at `now`, longest waiting first.
pub async fn due<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Vec<source::Model>> {
    Ok(source::Entity::find()
        .filter(due_condition(now))
        .order_by_with_nulls(source::Column::FeedNextAt, Order::Asc, NullOrdering::First)
        .order_by_asc(source::Column::Id)
        .all(db)
        .await?)
}

/// Claims the source's feed for one process until `now + lease`, if it is still due: of several
/// server processes, only the one that claims it fetches it. A claim lapses by itself when its
/// process dies.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    source_id: i64,
    now: DateTime<Utc>,
    lease: TimeDelta,
) -> Result<bool> {
    let claimed = source::Entity::update_many()
        .col_expr(source::Column::FeedNextAt, Expr::value(now + lease))
        .filter(source::Column::Id.eq(source_id))
        .filter(due_condition(now))
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Records that fetching, parsing or storing the source's feed failed with `error` at `now`;
/// returns when it is tried next.
pub async fn record_failure<C: ConnectionTrait>(
    db: &C,
    source_id: i64,
    error: &str,
    now: DateTime<Utc>,
    schedule: &Schedule,
) -> Result<DateTime<Utc>> {
    let current = source::Entity::find_by_id(source_id)
        .one(db)
        .await?
        .ok_or(Error::NotFound { entity: "source" })?;
    let failures = current.feed_failures.saturating_add(1);
    let next = now + schedule.after_failure(failures);
    let error: String = without_controls(error).chars().take(MAX_ERROR).collect();
    source::Entity::update_many()
        .col_expr(source::Column::FeedCheckedAt, Expr::value(now))
        .col_expr(source::Column::FeedNextAt, Expr::value(next))
        .col_expr(source::Column::FeedFailures, Expr::value(failures))
        .col_expr(source::Column::FeedError, Expr::value(error))
        .filter(source::Column::Id.eq(source_id))
        .exec(db)
        .await?;
    Ok(next)
}

/// The links among `urls` already taken in, or already some article's original URL.
async fn known_links<C: ConnectionTrait>(db: &C, urls: &[String]) -> Result<HashSet<String>> {
    let mut known = HashSet::new();
    for chunk in urls.chunks(CHUNK) {
        let ledger: Vec<String> = feed_item::Entity::find()
            .select_only()
            .column(feed_item::Column::Url)
            .filter(feed_item::Column::Url.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        let reprinted: Vec<Option<String>> = article::Entity::find()
            .select_only()
            .column(article::Column::OriginalUrl)
            .filter(article::Column::OriginalUrl.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        known.extend(ledger);
        known.extend(reprinted.into_iter().flatten());
    }
    Ok(known)
}

/// Stores the new items of `feed`, fetched from the source `source_id` at `now`, as drafts, in
/// one transaction with the source's state (fetched now, no error, next fetch an interval on).
/// Fails without writing anything when the source has no feed channel.
pub async fn store<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    source_id: i64,
    feed: ParsedFeed,
    now: DateTime<Utc>,
    schedule: &Schedule,
) -> Result<IngestReport> {
    let txn = crate::db::begin_write(db).await?;
    let source = source::Entity::find_by_id(source_id)
        .one(&txn)
        .await?
        .ok_or(Error::NotFound { entity: "source" })?;
    let channel = match source.feed_channel_id {
        Some(id) => channel::Entity::find_by_id(id).one(&txn).await?,
        None => None,
    }
    .ok_or_else(|| {
        Error::validation(
            "feedChannel",
            "the source names no channel for the drafts of its feed: set its feedChannel",
        )
    })?;
    let urls: Vec<String> = feed.items.iter().map(|i| i.url.clone()).collect();
    let known = known_links(&txn, &urls).await?;
    let mut report = IngestReport {
        skipped: feed.skipped,
        ..IngestReport::default()
    };
    for item in feed.items {
        if known.contains(&item.url) {
            report.known += 1;
            continue;
        }
        // The ledger row first: another process storing the same item waits for this
        // transaction and then finds the row there, and takes nothing in.
        let taken = feed_item::Entity::insert(feed_item::ActiveModel {
            source_id: Set(source.id),
            url: Set(item.url.clone()),
            created_at: Set(now),
            ..Default::default()
        })
        .on_conflict_do_nothing_on([feed_item::Column::Url])
        .exec_without_returning(&txn)
        .await?;
        if !matches!(taken, sea_orm::TryInsertResult::Inserted(1)) {
            report.known += 1;
            continue;
        }
        let position = item.position;
        let new = NewArticle {
            title: item.title,
            slug: None,
            lead: item.lead,
            body: item.body,
            body_format: BodyFormat::Html,
            cover_image: None,
            author: item.author,
            channel: channel.slug.clone(),
            source: Some(source.slug.clone()),
            original_url: Some(item.url.clone()),
            kind: ArticleKind::Reprint,
            featured: false,
            recommended: false,
            disclaimer: None,
            tags: Vec::new(),
        };
        let draft = editorial::insert_draft(&txn, segmenter, None, now, new, item.published_at)
            .await
            .map_err(|e| match e {
                Error::Validation { field, message } => {
                    Error::validation("feed", format!("item {position}: its {field} {message}"))
                }
                other => other,
            })?;
        feed_item::Entity::update_many()
            .col_expr(feed_item::Column::ArticleId, Expr::value(draft.id))
            .filter(feed_item::Column::Url.eq(&item.url))
            .exec(&txn)
            .await?;
        report.created.push(draft.slug);
    }
    source::Entity::update_many()
        .col_expr(source::Column::FeedCheckedAt, Expr::value(now))
        .col_expr(
            source::Column::FeedNextAt,
            Expr::value(now + schedule.interval),
        )
        .col_expr(source::Column::FeedFailures, Expr::value(0))
        .col_expr(
            source::Column::FeedError,
            Expr::value(Option::<String>::None),
        )
        .filter(source::Column::Id.eq(source.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>科技前沿报</title><link>https://keji.example.cn/</link><description>新闻</description>
<item><title>氢能产业园开工</title><link>https://keji.example.cn/news/1.html</link>
<description>&lt;p&gt;摘要：产业园&lt;/p&gt;</description>
<content:encoded><![CDATA[<p onclick="x()">正文<script>alert(1)</script></p>]]></content:encoded>
<pubDate>Fri, 03 Jul 2020 08:00:00 +0800</pubDate><author>编辑部</author></item>
<item><title>没有链接</title><description>无</description></item>
<item><description>只有正文的快讯。第二句。</description><link>/news/3.html</link></item>
<item><title>重复</title><link>https://keji.example.cn/news/1.html</link></item>
<item><title>坏链接</title><link>javascript:alert(1)</link></item>
</channel></rss>"#;

    #[test]
    fn rss_items_become_sanitized_drafts_and_bad_ones_are_skipped() {
        let feed = parse(RSS.as_bytes(), "https://keji.example.cn/rss.xml").unwrap();
        assert_eq!(feed.items.len(), 2, "{feed:?}");
        let first = &feed.items[0];
        assert_eq!(first.title, "氢能产业园开工");
        assert_eq!(first.url, "https://keji.example.cn/news/1.html");
        assert_eq!(
            first.published_at.unwrap().to_rfc3339(),
            "2020-07-03T00:00:00+00:00"
        );
        assert_eq!(first.body, "<p>正文</p>");
        assert_eq!(first.lead.as_deref(), Some("摘要：产业园"));
        let untitled = &feed.items[1];
        assert_eq!(untitled.url, "https://keji.example.cn/news/3.html");
        assert_eq!(untitled.title, "只有正文的快讯。第二句。");
        assert_eq!(untitled.lead, None);
        let skipped: Vec<usize> = feed.skipped.iter().map(|s| s.position).collect();
        assert_eq!(skipped, [2, 4, 5], "{:?}", feed.skipped);
        assert!(feed.skipped[0].reason.contains("no link"));
    }

    #[test]
    fn a_cut_off_feed_is_no_feed() {
        // Half a feed must not become half an import.
        let cut = &RSS[..RSS.find("<item><title>没有链接").unwrap()];
        let err = parse(cut.as_bytes(), "https://keji.example.cn/rss.xml");
        assert!(err.is_err(), "{err:?}");
    }

    #[test]
    fn what_is_not_a_feed_names_the_feed() {
        let err = parse(b"<html><body>404</body></html>", "https://x.example.cn/")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("feed:"), "{err}");
    }

    #[test]
    fn failures_back_off_from_the_interval_up_to_the_limit() {
        let s = Schedule {
            interval: TimeDelta::minutes(30),
            max_wait: TimeDelta::hours(24),
        };
        assert_eq!(s.after_failure(1), TimeDelta::minutes(30));
        assert_eq!(s.after_failure(2), TimeDelta::hours(1));
        assert_eq!(s.after_failure(4), TimeDelta::hours(4));
        assert_eq!(s.after_failure(40), TimeDelta::hours(24));
    }
}
