//! The editorial write side: creating, editing and publishing articles with optimistic
//! concurrency and a revision per saved version, and managing the reference data
//! ([`catalog`]).
//!
//! Every save names the version it was based on. The row is updated only if it is still at that
//! version (`UPDATE ... WHERE id = ? AND version = ?`), so of two editors saving the same version
//! one wins and the other gets a conflict, whatever the timing; nothing is lost. Each save is one
//! transaction: the article, its tags and its revision change together or not at all.

pub mod catalog;
pub mod checks;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use crate::{
    entities::{
        ArticleKind, ArticleStatus, BodyFormat, article, article_revision, article_tag, channel,
        source, tag, user,
    },
    error::{Error, Result},
    search::Segmenter,
};

/// Who is saving; recorded with every revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The user's id.
    pub user_id: i64,
}

pub(crate) const MAX_TITLE: usize = 300;
pub(crate) const MAX_LEAD: usize = 2000;
pub(crate) const MAX_BODY_BYTES: usize = 1_000_000;
pub(crate) const MAX_AUTHOR: usize = 100;
const MAX_DISCLAIMER: usize = 2000;
const MAX_TAGS: usize = 20;
const MAX_SLUG: usize = 200;
const GENERATED_SLUG: usize = 80;

/// A new article, as an editor writes it. It starts as a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArticle {
    /// The headline.
    pub title: String,
    /// The slug; generated from the title (pinyin for Chinese) when `None`.
    pub slug: Option<String>,
    /// The editor's summary (核心提示).
    pub lead: Option<String>,
    /// The body, stored as given.
    pub body: String,
    /// What the body is written in.
    pub body_format: BodyFormat,
    /// The cover image URL.
    pub cover_image: Option<String>,
    /// The byline.
    pub author: Option<String>,
    /// The channel's slug.
    pub channel: String,
    /// The source's slug.
    pub source: Option<String>,
    /// Where a reprint was first published.
    pub original_url: Option<String>,
    /// Own, reprint or sponsored.
    pub kind: ArticleKind,
    /// 推荐图文 (needs a cover image).
    pub featured: bool,
    /// 推荐资讯.
    pub recommended: bool,
    /// Overrides the source's and the site's disclaimer.
    pub disclaimer: Option<String>,
    /// Tag slugs, in order.
    pub tags: Vec<String>,
}

/// Changes to an article; `None` leaves a field as it is, and `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticlePatch {
    /// New headline.
    pub title: Option<String>,
    /// New slug.
    pub slug: Option<String>,
    /// New or cleared lead.
    pub lead: Option<Option<String>>,
    /// New body.
    pub body: Option<String>,
    /// New body format.
    pub body_format: Option<BodyFormat>,
    /// New or cleared cover image.
    pub cover_image: Option<Option<String>>,
    /// New or cleared byline.
    pub author: Option<Option<String>>,
    /// New channel slug.
    pub channel: Option<String>,
    /// New or cleared source slug.
    pub source: Option<Option<String>>,
    /// New or cleared original URL.
    pub original_url: Option<Option<String>>,
    /// New kind.
    pub kind: Option<ArticleKind>,
    /// New featured flag.
    pub featured: Option<bool>,
    /// New recommended flag.
    pub recommended: Option<bool>,
    /// New or cleared disclaimer override.
    pub disclaimer: Option<Option<String>>,
    /// New tag slugs, in order.
    pub tags: Option<Vec<String>>,
}

/// Everything an editor controls about an article, by slug for the references: what a revision
/// stores and what validation checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Headline.
    pub title: String,
    /// Slug.
    pub slug: String,
    /// Lead.
    pub lead: Option<String>,
    /// Body as written.
    pub body: String,
    /// Body format.
    pub body_format: BodyFormat,
    /// Cover image.
    pub cover_image: Option<String>,
    /// Byline.
    pub author: Option<String>,
    /// Channel slug.
    pub channel: String,
    /// Source slug.
    pub source: Option<String>,
    /// Original URL.
    pub original_url: Option<String>,
    /// Kind.
    pub kind: ArticleKind,
    /// Status.
    pub status: ArticleStatus,
    /// Publish time.
    pub published_at: Option<DateTime<Utc>>,
    /// 推荐图文.
    pub featured: bool,
    /// 推荐资讯.
    pub recommended: bool,
    /// Disclaimer override.
    pub disclaimer: Option<String>,
    /// Tag slugs in order.
    pub tags: Vec<String>,
}

impl Snapshot {
    /// The fields (as the API names them) that differ from `before`, in declaration order;
    /// every field when there is nothing before.
    pub fn changed_since(&self, before: Option<&Snapshot>) -> Vec<String> {
        let mut changed = Vec::new();
        macro_rules! compare {
            ($($field:ident => $name:literal),+ $(,)?) => {$(
                if before.is_none_or(|b| self.$field != b.$field) {
                    changed.push($name.to_owned());
                }
            )+};
        }
        compare!(
            title => "title", slug => "slug", lead => "lead", body => "body",
            body_format => "bodyFormat", cover_image => "coverImage", author => "author",
            channel => "channel", source => "source", original_url => "originalUrl", kind => "kind",
            status => "status", published_at => "publishedAt", featured => "featured",
            recommended => "recommended", disclaimer => "disclaimer", tags => "tags",
        );
        changed
    }
}

impl ArticlePatch {
    fn apply(self, mut s: Snapshot) -> Snapshot {
        macro_rules! take {
            ($($field:ident),+) => {$(
                if let Some(value) = self.$field {
                    s.$field = value;
                }
            )+};
        }
        take!(
            title,
            slug,
            lead,
            body,
            body_format,
            cover_image,
            author,
            channel,
            source,
            original_url,
            kind,
            featured,
            recommended,
            disclaimer,
            tags
        );
        s
    }
}

/// A snapshot's references resolved to ids, after every check passed.
pub(crate) struct Resolved {
    /// The snapshot, trimmed.
    pub(crate) snapshot: Snapshot,
    pub(crate) channel_id: i64,
    pub(crate) source_id: Option<i64>,
    pub(crate) tag_ids: Vec<i64>,
}

/// Checks a snapshot against every rule and resolves its references. Errors name the field.
pub(crate) async fn validate<C: ConnectionTrait>(
    db: &C,
    s: Snapshot,
    own_id: Option<i64>,
) -> Result<Resolved> {
    let mut s = s;
    s.title = checks::required_text("title", &s.title, MAX_TITLE)?;
    checks::slug("slug", &s.slug, MAX_SLUG)?;
    s.lead = checks::optional_text("lead", s.lead.as_deref(), MAX_LEAD)?;
    checks::no_control("body", &s.body)?;
    if let Some(at) = s.published_at {
        checks::time("at", at)?;
    }
    if s.body.len() > MAX_BODY_BYTES {
        return Err(Error::validation(
            "body",
            format!("must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    s.author = checks::optional_text("author", s.author.as_deref(), MAX_AUTHOR)?;
    s.disclaimer = checks::optional_text("disclaimer", s.disclaimer.as_deref(), MAX_DISCLAIMER)?;
    s.cover_image = checks::optional_text("coverImage", s.cover_image.as_deref(), 2000)?;
    if let Some(cover) = &s.cover_image {
        checks::url_or_path("coverImage", cover)?;
    }
    s.original_url = checks::optional_text("originalUrl", s.original_url.as_deref(), 2000)?;
    if let Some(url) = &s.original_url {
        checks::url("originalUrl", url)?;
    }
    if s.kind == ArticleKind::Reprint {
        if s.source.is_none() {
            return Err(Error::validation(
                "source",
                "a reprint must name its source",
            ));
        }
        if s.original_url.is_none() {
            return Err(Error::validation(
                "originalUrl",
                "a reprint must give the original URL",
            ));
        }
    }
    if s.featured && s.cover_image.is_none() {
        return Err(Error::validation(
            "coverImage",
            "a featured article needs a cover image",
        ));
    }
    if s.tags.len() > MAX_TAGS {
        return Err(Error::validation(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = s.tags.iter().find(|t| !seen.insert(t.as_str())) {
        return Err(Error::validation("tags", format!("`{dup}` is given twice")));
    }

    let channel_id = channel::Entity::find()
        .filter(channel::Column::Slug.eq(&s.channel))
        .one(db)
        .await?
        .ok_or_else(|| {
            Error::validation(
                "channel",
                format!("no channel has the slug `{}`", s.channel),
            )
        })?
        .id;
    let source_id = match &s.source {
        Some(slug) => Some(
            source::Entity::find()
                .filter(source::Column::Slug.eq(slug))
                .one(db)
                .await?
                .ok_or_else(|| {
                    Error::validation("source", format!("no source has the slug `{slug}`"))
                })?
                .id,
        ),
        None => None,
    };
    let found: HashMap<String, i64> = if s.tags.is_empty() {
        HashMap::new()
    } else {
        tag::Entity::find()
            .filter(tag::Column::Slug.is_in(s.tags.iter().cloned()))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.slug, t.id))
            .collect()
    };
    let tag_ids =
        s.tags
            .iter()
            .map(|slug| {
                found.get(slug).copied().ok_or_else(|| {
                    Error::validation("tags", format!("no tag has the slug `{slug}`"))
                })
            })
            .collect::<Result<Vec<_>>>()?;

    let mut clash = article::Entity::find().filter(article::Column::Slug.eq(&s.slug));
    if let Some(id) = own_id {
        clash = clash.filter(article::Column::Id.ne(id));
    }
    if clash.one(db).await?.is_some() {
        return Err(Error::validation(
            "slug",
            format!("`{}` is taken by another article", s.slug),
        ));
    }
    Ok(Resolved {
        snapshot: s,
        channel_id,
        source_id,
        tag_ids,
    })
}

/// A unique slug for a new article titled `title`: its pinyin, with `-2`, `-3`, ... appended
/// when taken.
pub(crate) async fn unique_slug<C: ConnectionTrait>(db: &C, title: &str) -> Result<String> {
    let base = checks::slug_from(title, GENERATED_SLUG).unwrap_or_else(|| "article".to_owned());
    let taken: std::collections::HashSet<String> = article::Entity::find()
        .select_only()
        .column(article::Column::Slug)
        .filter(article::Column::Slug.starts_with(&base))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    if !taken.contains(&base) {
        return Ok(base);
    }
    Ok((2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(base))
}

/// Maps a unique violation that slipped past the checks (a concurrent save of the same slug) to
/// the field error the check would have given.
pub(crate) fn slug_clash(err: sea_orm::DbErr) -> Error {
    Error::unique_or_database(err, "slug", "is taken by another article")
}

pub(crate) fn content_columns(r: &Resolved) -> article::ActiveModel {
    let s = &r.snapshot;
    article::ActiveModel {
        slug: Set(s.slug.clone()),
        title: Set(s.title.clone()),
        lead: Set(s.lead.clone()),
        body: Set(s.body.clone()),
        body_format: Set(s.body_format),
        cover_image: Set(s.cover_image.clone()),
        author: Set(s.author.clone()),
        channel_id: Set(r.channel_id),
        source_id: Set(r.source_id),
        original_url: Set(s.original_url.clone()),
        kind: Set(s.kind),
        status: Set(s.status),
        published_at: Set(s.published_at),
        featured: Set(s.featured),
        recommended: Set(s.recommended),
        disclaimer: Set(s.disclaimer.clone()),
        ..Default::default()
    }
}

pub(crate) async fn replace_tags<C: ConnectionTrait>(
    db: &C,
    article_id: i64,
    tag_ids: &[i64],
) -> Result<()> {
    article_tag::Entity::delete_many()
        .filter(article_tag::Column::ArticleId.eq(article_id))
        .exec(db)
        .await?;
    if !tag_ids.is_empty() {
        article_tag::Entity::insert_many(tag_ids.iter().zip(0..).map(|(tag_id, position)| {
            article_tag::ActiveModel {
                article_id: Set(article_id),
                tag_id: Set(*tag_id),
                position: Set(position),
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Records `snapshot` as revision `version`, saved by `saved_by` (`None`: no person, such as
/// an import or a feed).
pub(crate) async fn record_revision<C: ConnectionTrait>(
    db: &C,
    article_id: i64,
    version: i32,
    snapshot: &Snapshot,
    saved_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let json = serde_json::to_string(snapshot)
        .map_err(|e| Error::Database(sea_orm::DbErr::Custom(format!("snapshot: {e}"))))?;
    article_revision::ActiveModel {
        article_id: Set(article_id),
        version: Set(version),
        snapshot: Set(json),
        saved_by: Set(saved_by),
        saved_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Creates a draft. Its first revision is version 1.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    actor: Actor,
    now: DateTime<Utc>,
    new: NewArticle,
) -> Result<article::Model> {
    let txn = crate::db::begin_write(db).await?;
    let saved = insert_draft(&txn, segmenter, Some(actor.user_id), now, new, None).await?;
    txn.commit().await?;
    Ok(saved)
}

/// Writes a new draft with its tags, its first revision and its (empty) index rows, in the
/// caller's transaction; `original_published_at` is when a reprint first appeared at its source.
pub(crate) async fn insert_draft<C: ConnectionTrait>(
    txn: &C,
    segmenter: &Segmenter,
    saved_by: Option<i64>,
    now: DateTime<Utc>,
    new: NewArticle,
    original_published_at: Option<DateTime<Utc>>,
) -> Result<article::Model> {
    let slug = match new.slug {
        Some(slug) => slug.trim().to_owned(),
        None => unique_slug(txn, &new.title).await?,
    };
    let snapshot = Snapshot {
        title: new.title,
        slug,
        lead: new.lead,
        body: new.body,
        body_format: new.body_format,
        cover_image: new.cover_image,
        author: new.author,
        channel: new.channel,
        source: new.source,
        original_url: new.original_url,
        kind: new.kind,
        status: ArticleStatus::Draft,
        published_at: None,
        featured: new.featured,
        recommended: new.recommended,
        disclaimer: new.disclaimer,
        tags: new.tags,
    };
    if let Some(at) = original_published_at {
        checks::time("originalPublishedAt", at)?;
    }
    let resolved = validate(txn, snapshot, None).await?;
    let mut row = content_columns(&resolved);
    row.view_count = Set(0);
    row.version = Set(1);
    row.created_at = Set(now);
    row.updated_at = Set(now);
    row.original_published_at = Set(original_published_at.map(crate::clock::truncate));
    let saved = row.insert(txn).await.map_err(slug_clash)?;
    replace_tags(txn, saved.id, &resolved.tag_ids).await?;
    record_revision(txn, saved.id, 1, &resolved.snapshot, saved_by, now).await?;
    crate::search::index_articles(txn, segmenter, std::slice::from_ref(&saved)).await?;
    Ok(saved)
}

/// The editable state of a stored article.
pub async fn snapshot_of<C: ConnectionTrait>(db: &C, a: &article::Model) -> Result<Snapshot> {
    let channel = channel::Entity::find_by_id(a.channel_id)
        .one(db)
        .await?
        .map(|c| c.slug)
        .unwrap_or_default();
    let source = match a.source_id {
        Some(id) => source::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|s| s.slug),
        None => None,
    };
    let tags = crate::catalog::tags_of_articles(db, &[a.id])
        .await?
        .remove(&a.id)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.slug)
        .collect();
    Ok(Snapshot {
        title: a.title.clone(),
        slug: a.slug.clone(),
        lead: a.lead.clone(),
        body: a.body.clone(),
        body_format: a.body_format,
        cover_image: a.cover_image.clone(),
        author: a.author.clone(),
        channel,
        source,
        original_url: a.original_url.clone(),
        kind: a.kind,
        status: a.status,
        published_at: a.published_at,
        featured: a.featured,
        recommended: a.recommended,
        disclaimer: a.disclaimer.clone(),
        tags,
    })
}

/// Loads an article for a save based on `version`: not found, or a conflict when someone saved
/// since.
async fn load_for_save<C: ConnectionTrait>(
    db: &C,
    id: i64,
    version: i32,
) -> Result<article::Model> {
    let current = article::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(Error::NotFound { entity: "article" })?;
    if current.version != version {
        return Err(stale(version, current.version));
    }
    Ok(current)
}

fn stale(based_on: i32, now_at: i32) -> Error {
    Error::Conflict(format!(
        "the article was saved by someone else: your change is based on version {based_on}, it is now at version {now_at}; reload it and apply your change again"
    ))
}

/// Saves `next` over the article at `version` as version + 1, with its revision, and brings its
/// search index rows in line (in the index while published or scheduled, out of it otherwise).
async fn save<C: ConnectionTrait>(
    db: &C,
    segmenter: &Segmenter,
    actor: Actor,
    now: DateTime<Utc>,
    current: &article::Model,
    next: Snapshot,
    tags_changed: bool,
) -> Result<article::Model> {
    let resolved = validate(db, next, Some(current.id)).await?;
    let mut row = content_columns(&resolved);
    row.updated_at = Set(now);
    let updated = article::Entity::update_many()
        .set(row)
        .col_expr(
            article::Column::Version,
            Expr::col(article::Column::Version).add(1),
        )
        .filter(article::Column::Id.eq(current.id))
        .filter(article::Column::Version.eq(current.version))
        .exec(db)
        .await
        .map_err(slug_clash)?;
    if updated.rows_affected == 0 {
        // Someone saved between our read and our write.
        let now_at = article::Entity::find_by_id(current.id)
            .one(db)
            .await?
            .map_or(current.version + 1, |a| a.version);
        return Err(stale(current.version, now_at));
    }
    if tags_changed {
        replace_tags(db, current.id, &resolved.tag_ids).await?;
    }
    record_revision(
        db,
        current.id,
        current.version + 1,
        &resolved.snapshot,
        Some(actor.user_id),
        now,
    )
    .await?;
    let saved = article::Entity::find_by_id(current.id)
        .one(db)
        .await?
        .ok_or(Error::NotFound { entity: "article" })?;
    crate::changes::record(db, Some(current), &saved, now).await?;
    crate::search::index_articles(db, segmenter, std::slice::from_ref(&saved)).await?;
    Ok(saved)
}

/// Applies `patch` to the article at `version`.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    actor: Actor,
    now: DateTime<Utc>,
    id: i64,
    version: i32,
    patch: ArticlePatch,
) -> Result<article::Model> {
    let txn = crate::db::begin_write(db).await?;
    let current = load_for_save(&txn, id, version).await?;
    let before = snapshot_of(&txn, &current).await?;
    let tags_changed = patch.tags.as_ref().is_some_and(|t| *t != before.tags);
    let next = patch.apply(before);
    let saved = save(&txn, segmenter, actor, now, &current, next, tags_changed).await?;
    txn.commit().await?;
    Ok(saved)
}

/// A lifecycle step an editor can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Visible from now.
    PublishNow,
    /// Visible from this time, without anyone acting.
    Schedule(DateTime<Utc>),
    /// Back to draft.
    Unpublish,
    /// Withdrawn, kept for the record.
    Archive,
}

/// Moves the article at `version` through `transition`.
pub async fn transition<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    actor: Actor,
    now: DateTime<Utc>,
    id: i64,
    version: i32,
    transition: Transition,
) -> Result<article::Model> {
    let txn = crate::db::begin_write(db).await?;
    let current = load_for_save(&txn, id, version).await?;
    if current.status == ArticleStatus::TakenDown {
        return Err(Error::Conflict(
            "the article was taken down on a rights holder's request; it cannot change status"
                .into(),
        ));
    }
    let mut next = snapshot_of(&txn, &current).await?;
    match transition {
        Transition::PublishNow => {
            // Publishing what readers already see keeps its date, and its place in lists.
            let already_visible = matches!(
                current.status,
                ArticleStatus::Published | ArticleStatus::Scheduled
            ) && current.published_at.is_some_and(|at| at <= now);
            if !already_visible {
                next.published_at = Some(now);
            }
            next.status = ArticleStatus::Published;
        }
        Transition::Schedule(at) => {
            if at <= now {
                return Err(Error::validation("at", "must be in the future"));
            }
            next.status = ArticleStatus::Scheduled;
            next.published_at = Some(crate::clock::truncate(at));
        }
        Transition::Unpublish => next.status = ArticleStatus::Draft,
        Transition::Archive => next.status = ArticleStatus::Archived,
    }
    let saved = save(&txn, segmenter, actor, now, &current, next, false).await?;
    txn.commit().await?;
    Ok(saved)
}

/// Takes the article down on a rights holder's request, whatever its version, inside the
/// caller's transaction (see [`crate::takedowns::resolve`]). It leaves every read path at once and
/// can no longer change status; the revision records who did it.
pub(crate) async fn take_down<C: ConnectionTrait>(
    txn: &C,
    segmenter: &Segmenter,
    actor: Actor,
    now: DateTime<Utc>,
    id: i64,
) -> Result<article::Model> {
    let current = article::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(Error::NotFound { entity: "article" })?;
    if current.status == ArticleStatus::TakenDown {
        return Ok(current);
    }
    let mut next = snapshot_of(txn, &current).await?;
    next.status = ArticleStatus::TakenDown;
    save(txn, segmenter, actor, now, &current, next, false).await
}

/// Deletes the article at `version`, with its tags and revisions.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    id: i64,
    version: i32,
) -> Result<()> {
    let txn = crate::db::begin_write(db).await?;
    let current = load_for_save(&txn, id, version).await?;
    crate::changes::record_deletion(&txn, &current, now).await?;
    let deleted = article::Entity::delete_many()
        .filter(article::Column::Id.eq(id))
        .filter(article::Column::Version.eq(version))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(stale(version, version + 1));
    }
    txn.commit().await?;
    Ok(())
}

/// Restores the content of revision `revision` (not its status or publish time) as a new version.
pub async fn restore<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    segmenter: &Segmenter,
    actor: Actor,
    now: DateTime<Utc>,
    id: i64,
    version: i32,
    revision: i32,
) -> Result<article::Model> {
    let txn = crate::db::begin_write(db).await?;
    let current = load_for_save(&txn, id, version).await?;
    let old = article_revision::Entity::find()
        .filter(article_revision::Column::ArticleId.eq(id))
        .filter(article_revision::Column::Version.eq(revision))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            Error::validation(
                "revision",
                format!("the article has no revision {revision}"),
            )
        })?;
    let old: Snapshot = serde_json::from_str(&old.snapshot)
        .map_err(|e| Error::Database(sea_orm::DbErr::Custom(format!("revision snapshot: {e}"))))?;
    let before = snapshot_of(&txn, &current).await?;
    let tags_changed = old.tags != before.tags;
    let next = Snapshot {
        status: before.status,
        published_at: before.published_at,
        ..old
    };
    let saved = save(&txn, segmenter, actor, now, &current, next, tags_changed).await?;
    txn.commit().await?;
    Ok(saved)
}

/// One saved version of an article, for editors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The version this save produced.
    pub version: i32,
    /// When.
    pub saved_at: DateTime<Utc>,
    /// Who, if the user still exists.
    pub saved_by: Option<user::Model>,
    /// The fields that differ from the version before (every field for version 1).
    pub changes: Vec<String>,
    /// The saved state.
    pub snapshot: Snapshot,
}

/// Every revision of an article, newest first.
pub async fn revisions<C: ConnectionTrait>(db: &C, article_id: i64) -> Result<Vec<Revision>> {
    let rows = article_revision::Entity::find()
        .filter(article_revision::Column::ArticleId.eq(article_id))
        .order_by_asc(article_revision::Column::Version)
        .all(db)
        .await?;
    let user_ids: Vec<i64> = rows.iter().filter_map(|r| r.saved_by).collect();
    let users: HashMap<i64, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut out: Vec<Revision> = Vec::with_capacity(rows.len());
    for row in rows {
        let snapshot: Snapshot = serde_json::from_str(&row.snapshot).map_err(|e| {
            Error::Database(sea_orm::DbErr::Custom(format!("revision snapshot: {e}")))
        })?;
        let changes = snapshot.changed_since(out.last().map(|previous| &previous.snapshot));
        out.push(Revision {
            version: row.version,
            saved_at: row.saved_at,
            saved_by: row.saved_by.and_then(|id| users.get(&id).cloned()),
            changes,
            snapshot,
        });
    }
    out.reverse();
    Ok(out)
}
