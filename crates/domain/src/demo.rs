//! Demo content, so that a new user's first `serve --demo` (or `seed-demo`) shows a populated
//! portal: the site settings, channels, sources, tags and footer pages of the seed page, its
//! article, and a few hundred generated articles around it.
//!
//! Seeding is idempotent: every row is keyed by its slug (settings by their key) and inserted with
//! `ON CONFLICT DO NOTHING`, so a second run adds nothing and never overwrites an editor's change.
//! Foreign keys are resolved by reading ids back by slug, never assumed. The articles a run inserts
//! are indexed for search in the same run, so the demo's search works from the start.

mod fixed;
mod generate;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TryInsertResult,
};

use crate::{
    entities::{
        ArticleKind, ArticleStatus, BodyFormat, License, article, article_tag, channel, page,
        site_setting, source, tag,
    },
    error::Result,
    search::{Segmenter, index_articles},
};

/// The slug of the seed page's article.
pub const SEED_ARTICLE_SLUG: &str = "nanchang-kaifaqu-2020-ganbu-dahui";

/// What a seeding run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Channels inserted.
    pub channels: u64,
    /// Sources inserted.
    pub sources: u64,
    /// Tags inserted.
    pub tags: u64,
    /// Articles inserted (the seed article and the generated ones).
    pub articles: u64,
    /// Pages inserted.
    pub pages: u64,
    /// Site settings inserted.
    pub settings: u64,
}

/// Rows per INSERT: well below the bind-parameter limits of SQLite (32766) and PostgreSQL (65535)
/// even for the widest table.
const CHUNK: usize = 200;

/// Loads the demo content. Idempotent: everything is keyed by slug (settings by key) and inserted
/// with ON CONFLICT DO NOTHING, so re-running never duplicates anything; the counts are rows
/// actually inserted this run.
///
/// Runs several statements; the caller wraps it in a transaction so that a failure leaves nothing
/// half-seeded.
pub async fn seed<C: ConnectionTrait>(db: &C, segmenter: &Segmenter) -> Result<SeedReport> {
    let created_at = fixed::reference_created_at()?;
    let mut report = SeedReport::default();

    let settings = fixed::SETTINGS
        .iter()
        .map(|&(key, value)| site_setting::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(value.to_owned()),
            updated_at: Set(created_at),
        });
    report.settings = insert_new(db, settings.collect(), [site_setting::Column::Key]).await?;

    let (inserted, channel_ids) = seed_channels(db, created_at).await?;
    report.channels = inserted;

    let sources = fixed::SOURCES.iter().map(|s| {
        Ok(source::ActiveModel {
            slug: Set(s.slug.to_owned()),
            name: Set(s.name.to_owned()),
            homepage: Set(s.homepage.map(str::to_owned)),
            feed_url: Set(s.feed_url.map(str::to_owned)),
            feed_channel_id: Set(s
                .feed_channel
                .map(|c| lookup(&channel_ids, c, "channel"))
                .transpose()?),
            license: Set(s.license),
            syndication_allowed: Set(s.syndication_allowed),
            disclaimer: Set(s.disclaimer.map(str::to_owned)),
            takedown_contact: Set(s.takedown_contact.map(str::to_owned)),
            created_at: Set(created_at),
            updated_at: Set(created_at),
            ..Default::default()
        })
    });
    report.sources = insert_new(
        db,
        sources.collect::<Result<Vec<_>>>()?,
        [source::Column::Slug],
    )
    .await?;
    let source_ids = ids_by_slug::<source::Entity, _>(
        db,
        source::Column::Id,
        source::Column::Slug,
        fixed::SOURCES.iter().map(|s| s.slug),
    )
    .await?;

    let tags = fixed::TAGS.iter().map(|t| tag::ActiveModel {
        slug: Set(t.slug.to_owned()),
        name: Set(t.name.to_owned()),
        created_at: Set(created_at),
        ..Default::default()
    });
    report.tags = insert_new(db, tags.collect(), [tag::Column::Slug]).await?;
    let tag_ids = ids_by_slug::<tag::Entity, _>(
        db,
        tag::Column::Id,
        tag::Column::Slug,
        fixed::TAGS.iter().map(|t| t.slug),
    )
    .await?;

    let pages = fixed::PAGES.iter().map(|p| page::ActiveModel {
        slug: Set(p.slug.to_owned()),
        title: Set(p.title.to_owned()),
        body: Set(p.body.to_owned()),
        body_format: Set(BodyFormat::Markdown),
        in_footer: Set(true),
        position: Set(p.position),
        created_at: Set(created_at),
        updated_at: Set(created_at),
        ..Default::default()
    });
    report.pages = insert_new(db, pages.collect(), [page::Column::Slug]).await?;

    let mut specs = vec![fixed::seed_article()?];
    specs.extend(generate::articles()?);
    // Tags are attached only to articles this run creates: an existing article keeps the tags its
    // editors gave it, even if they removed one the demo had set.
    let existing: HashSet<String> = ids_by_slug::<article::Entity, _>(
        db,
        article::Column::Id,
        article::Column::Slug,
        specs.iter().map(|a| a.slug.as_str()),
    )
    .await?
    .into_keys()
    .collect();
    let rows = specs
        .iter()
        .map(|a| article_row(a, &channel_ids, &source_ids))
        .collect::<Result<Vec<_>>>()?;
    report.articles = insert_new(db, rows, [article::Column::Slug]).await?;
    // Written in bulk, so the change log learns of them here.
    crate::changes::backfill(db).await?;

    let new: Vec<&ArticleSpec> = specs
        .iter()
        .filter(|a| !existing.contains(&a.slug))
        .collect();
    let article_ids = ids_by_slug::<article::Entity, _>(
        db,
        article::Column::Id,
        article::Column::Slug,
        new.iter().map(|a| a.slug.as_str()),
    )
    .await?;
    let mut links = Vec::new();
    for a in new {
        let article_id = lookup(&article_ids, &a.slug, "article")?;
        for (position, slug) in (1..).zip(&a.tags) {
            links.push(article_tag::ActiveModel {
                article_id: Set(article_id),
                tag_id: Set(lookup(&tag_ids, slug, "tag")?),
                position: Set(position),
            });
        }
    }
    insert_new(
        db,
        links,
        [article_tag::Column::ArticleId, article_tag::Column::TagId],
    )
    .await?;

    let ids: Vec<i64> = article_ids.into_values().collect();
    for chunk in ids.chunks(CHUNK) {
        let inserted = article::Entity::find()
            .filter(article::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        index_articles(db, segmenter, &inserted).await?;
    }
    Ok(report)
}

/// Whether the database holds no articles at all (so `serve --demo` should seed).
pub async fn is_empty<C: ConnectionTrait>(db: &C) -> Result<bool> {
    let any = article::Entity::find()
        .select_only()
        .column(article::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(any.is_none())
}

/// Inserts the channels level by level, since a child needs its parent's id; returns how many
/// were inserted and the id of every demo channel.
async fn seed_channels<C: ConnectionTrait>(
    db: &C,
    created_at: DateTime<Utc>,
) -> Result<(u64, HashMap<String, i64>)> {
    let mut inserted = 0;
    let mut ids = HashMap::new();
    let mut pending: Vec<&ChannelSpec> = fixed::CHANNELS.iter().collect();
    while !pending.is_empty() {
        let (ready, waiting): (Vec<&ChannelSpec>, Vec<&ChannelSpec>) = pending
            .into_iter()
            .partition(|c| c.parent.is_none_or(|p| ids.contains_key(p)));
        if ready.is_empty() {
            return Err(missing(
                "parent channel",
                waiting.first().and_then(|c| c.parent).unwrap_or_default(),
            ));
        }
        let rows = ready
            .iter()
            .map(|c| {
                Ok(channel::ActiveModel {
                    slug: Set(c.slug.to_owned()),
                    name: Set(c.name.to_owned()),
                    parent_id: Set(c.parent.map(|p| lookup(&ids, p, "channel")).transpose()?),
                    position: Set(c.position),
                    created_at: Set(created_at),
                    ..Default::default()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        inserted += insert_new(db, rows, [channel::Column::Slug]).await?;
        ids.extend(
            ids_by_slug::<channel::Entity, _>(
                db,
                channel::Column::Id,
                channel::Column::Slug,
                ready.iter().map(|c| c.slug),
            )
            .await?,
        );
        pending = waiting;
    }
    Ok((inserted, ids))
}

/// The row for an article spec, its channel and source resolved to ids.
fn article_row(
    a: &ArticleSpec,
    channel_ids: &HashMap<String, i64>,
    source_ids: &HashMap<String, i64>,
) -> Result<article::ActiveModel> {
    Ok(article::ActiveModel {
        slug: Set(a.slug.clone()),
        title: Set(a.title.clone()),
        lead: Set(a.lead.clone()),
        body: Set(a.body.clone()),
        body_format: Set(BodyFormat::Markdown),
        cover_image: Set(a.cover_image.clone()),
        author: Set(a.author.clone()),
        channel_id: Set(lookup(channel_ids, a.channel, "channel")?),
        source_id: Set(a
            .source
            .map(|s| lookup(source_ids, s, "source"))
            .transpose()?),
        original_url: Set(a.original_url.clone()),
        kind: Set(a.kind),
        status: Set(a.status),
        published_at: Set(Some(a.published_at)),
        featured: Set(a.featured),
        recommended: Set(a.recommended),
        disclaimer: Set(a.disclaimer.clone()),
        view_count: Set(a.view_count),
        version: Set(1),
        created_at: Set(a.published_at),
        updated_at: Set(a.published_at),
        ..Default::default()
    })
}

/// Inserts `rows` in chunks, skipping any that conflict on `conflict`; returns how many were
/// inserted.
async fn insert_new<A, C, I>(db: &C, rows: Vec<A>, conflict: I) -> Result<u64>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
    I: IntoIterator<Item = <A::Entity as EntityTrait>::Column> + Clone,
{
    let mut inserted = 0;
    let mut rows = rows.into_iter();
    loop {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            return Ok(inserted);
        }
        // `exec_without_returning` reports rows affected, which with DO NOTHING is exactly the
        // rows inserted; the other `exec`s would treat an all-conflict chunk as a failure.
        let result = A::Entity::insert_many(chunk)
            .on_conflict_do_nothing_on(conflict.clone())
            .exec_without_returning(db)
            .await?;
        if let TryInsertResult::Inserted(n) = result {
            inserted += n;
        }
    }
}

/// The ids of the rows of `E` whose slug is one of `slugs`, by slug.
async fn ids_by_slug<'s, E, C>(
    db: &C,
    id: E::Column,
    slug: E::Column,
    slugs: impl IntoIterator<Item = &'s str>,
) -> Result<HashMap<String, i64>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let slugs: Vec<&str> = slugs.into_iter().collect();
    let mut ids = HashMap::with_capacity(slugs.len());
    for chunk in slugs.chunks(CHUNK) {
        let rows = E::find()
            .select_only()
            .column(slug)
            .column(id)
            .filter(slug.is_in(chunk.iter().copied()))
            .into_tuple::<(String, i64)>()
            .all(db)
            .await?;
        ids.extend(rows);
    }
    Ok(ids)
}

fn lookup(ids: &HashMap<String, i64>, slug: &str, what: &str) -> Result<i64> {
    ids.get(slug).copied().ok_or_else(|| missing(what, slug))
}

/// A row the demo refers to is not there even though it was just inserted or skipped as present:
/// a bug in the demo data, not the user's input.
fn missing(what: &str, slug: &str) -> crate::Error {
    DbErr::RecordNotFound(format!("demo {what} `{slug}`")).into()
}

/// A channel of the demo; `parent` is the parent's slug.
#[derive(Debug, Clone, Copy)]
struct ChannelSpec {
    slug: &'static str,
    name: &'static str,
    parent: Option<&'static str>,
    position: i32,
}

/// A source of the demo.
#[derive(Debug, Clone, Copy)]
struct SourceSpec {
    slug: &'static str,
    name: &'static str,
    homepage: Option<&'static str>,
    feed_url: Option<&'static str>,
    /// The channel its feed's drafts are filed in.
    feed_channel: Option<&'static str>,
    license: License,
    syndication_allowed: bool,
    disclaimer: Option<&'static str>,
    takedown_contact: Option<&'static str>,
}

/// A tag of the demo.
#[derive(Debug, Clone, Copy)]
struct TagSpec {
    slug: &'static str,
    name: &'static str,
}

/// A footer page of the demo, in Markdown.
#[derive(Debug, Clone, Copy)]
struct PageSpec {
    slug: &'static str,
    title: &'static str,
    body: &'static str,
    position: i32,
}

/// An article of the demo, referring to its channel, source and tags by slug.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ArticleSpec {
    slug: String,
    title: String,
    lead: Option<String>,
    body: String,
    cover_image: Option<String>,
    author: Option<String>,
    channel: &'static str,
    source: Option<&'static str>,
    original_url: Option<String>,
    kind: ArticleKind,
    status: ArticleStatus,
    published_at: DateTime<Utc>,
    featured: bool,
    recommended: bool,
    disclaimer: Option<String>,
    view_count: i64,
    tags: Vec<&'static str>,
}

/// Recent views for the demo's click ranking (点击排行). The demo's articles are dated 2019-2020,
/// so without this the DAY, WEEK and MONTH rankings of a fresh demo would be empty. When no
/// views are recorded yet, a quarter of the view count of the 60 most viewed articles is spread
/// over hourly buckets in the 30 days before `now` (never more than the article's total, so
/// every window stays below ALL). Does nothing once any view is recorded, so running it again
/// adds nothing. Returns the bucket rows written.
pub async fn seed_recent_views<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    let recorded = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT 1 AS present FROM article_view_buckets LIMIT 1",
        ))
        .await?;
    if recorded.is_some() {
        return Ok(0);
    }
    let top = article::Entity::find()
        .filter(article::Column::Status.eq(ArticleStatus::Published))
        .order_by_desc(article::Column::ViewCount)
        .order_by_desc(article::Column::Id)
        .limit(60)
        .all(db)
        .await?;
    let now_hour = crate::views::hour_of(now);
    let mut rows = Vec::new();
    for (i, a) in (0i64..).zip(&top) {
        let per_bucket = (a.view_count / 4 / 12).max(1);
        if per_bucket * 12 > a.view_count {
            continue;
        }
        // Twelve distinct hours: the article's offset moves each through the month, so the
        // DAY, WEEK and MONTH windows rank different articles first.
        let mut hours: Vec<i64> = (0..12)
            .map(|k| now_hour - (i * 37 + k * 61) % (30 * 24))
            .collect();
        hours.sort_unstable();
        hours.dedup();
        for hour in hours {
            rows.push(format!(
                "({}, {}, {hour}, {per_bucket})",
                a.id,
                crate::views::SPAN_HOUR
            ));
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let written = db
        .execute_raw(sea_orm::Statement::from_string(
            backend,
            format!(
                "INSERT INTO article_view_buckets (article_id, span, bucket_hour, views) VALUES {} \
                 ON CONFLICT DO NOTHING",
                rows.join(", ")
            ),
        ))
        .await?
        .rows_affected();
    // Written beside the flush, so the ranking windows are built again from the buckets.
    crate::views::reset_windows(db).await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::keys;

    #[test]
    fn the_seed_article_matches_the_seed_page() {
        let a = fixed::seed_article().unwrap();
        assert_eq!(a.slug, SEED_ARTICLE_SLUG);
        assert_eq!(a.published_at.to_rfc3339(), "2020-07-03T00:00:00+00:00");
        assert_eq!(
            (a.kind, a.status, a.view_count),
            (ArticleKind::Reprint, ArticleStatus::Published, 40)
        );
        assert!(a.recommended && !a.featured);
        assert_eq!(
            a.tags,
            [
                "double-half",
                "investment-promotion",
                "digital-economy",
                "industrial-park",
                "business-environment"
            ]
        );
        let headings: Vec<_> = a
            .body
            .lines()
            .filter_map(|l| l.strip_prefix("## "))
            .collect();
        assert_eq!(
            headings,
            [
                "赵海东指出",
                "赵海东指出",
                "赵海东强调",
                "机制保障",
                "作风保障"
            ]
        );
        assert_eq!(a.body.lines().filter(|l| l.starts_with('●')).count(), 9);
        assert!(a.body.starts_with(a.lead.as_deref().unwrap()));
        assert!(a.body.ends_with("用好岗位责任制和层级负责制)。"));
        assert!(!a.body.contains("免责声明"));
    }

    #[test]
    fn references_resolve() {
        let slugs = |it: &mut dyn Iterator<Item = &'static str>| it.collect::<HashSet<_>>();
        let channels = slugs(&mut fixed::CHANNELS.iter().map(|c| c.slug));
        let sources = slugs(&mut fixed::SOURCES.iter().map(|s| s.slug));
        let tags = slugs(&mut fixed::TAGS.iter().map(|t| t.slug));
        assert_eq!(channels.len(), fixed::CHANNELS.len());
        assert_eq!(sources.len(), fixed::SOURCES.len());
        assert_eq!(tags.len(), fixed::TAGS.len());
        for c in fixed::CHANNELS {
            assert!(c.parent.is_none_or(|p| channels.contains(p)));
        }
        for s in fixed::SOURCES {
            assert!(s.feed_channel.is_none_or(|c| channels.contains(c)));
            assert_eq!(s.feed_url.is_some(), s.feed_channel.is_some(), "{}", s.slug);
        }
        let mut all = vec![fixed::seed_article().unwrap()];
        all.extend(generate::articles().unwrap());
        for a in &all {
            assert!(channels.contains(a.channel), "{}", a.slug);
            assert!(a.source.is_none_or(|s| sources.contains(s)), "{}", a.slug);
            assert!(a.tags.iter().all(|t| tags.contains(t)), "{}", a.slug);
            assert!(!a.featured || a.cover_image.is_some(), "{}", a.slug);
        }
        for s in fixed::SOURCES {
            for url in [s.homepage, s.feed_url].into_iter().flatten() {
                assert!(
                    url.contains(".example.cn/") || url.contains(".example.com/"),
                    "{url}"
                );
            }
        }
    }

    #[test]
    fn settings_and_pages_are_complete() {
        let settings: HashMap<_, _> = fixed::SETTINGS.iter().copied().collect();
        assert_eq!(settings.len(), fixed::SETTINGS.len());
        assert_eq!(
            settings[keys::REPRINT_DISCLAIMER],
            fixed::REPRINT_DISCLAIMER
        );
        assert_eq!(settings[keys::SLOGAN], fixed::SLOGAN);
        assert_eq!(settings[keys::ICP_FILING], "粤ICP备05102027号");
        let pages: Vec<_> = fixed::PAGES.iter().map(|p| (p.slug, p.position)).collect();
        assert_eq!(
            pages,
            [
                ("about", 1),
                ("contact", 2),
                ("help", 3),
                ("privacy", 4),
                ("disclaimer", 5)
            ]
        );
        let disclaimer = fixed::PAGES
            .iter()
            .find(|p| p.slug == "disclaimer")
            .unwrap();
        assert!(disclaimer.body.starts_with(fixed::REPRINT_DISCLAIMER));
        assert!(fixed::PAGES.iter().all(|p| !p.body.contains("  ")));
    }
}
