//! Reading articles as readers see them: visibility, filtered keyset lists, related and
//! recommended articles.
//!
//! Every query here applies an [`Audience`]'s condition, so no reader path can show a draft, a
//! future-dated, an archived or a taken-down article, and no partner path an article whose source
//! does not allow syndication.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, Iterable, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    catalog,
    entities::{ArticleKind, ArticleStatus, article, article_tag, channel, source, tag},
    error::{Error, Result},
    pagination::{Direction, Page, PageRequest, TimeCursor},
};

/// The statuses under which an article can be visible, with the same literal list as the partial
/// indexes' predicate so that both planners match it and use them.
const VISIBLE_STATUSES: &str = "articles.status IN ('published', 'scheduled')";

/// The condition that makes an article visible to readers at `now`: published or scheduled, and
/// its publish time has passed. A scheduled article becomes visible at its time with no one acting.
pub fn visible(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Expr::cust(VISIBLE_STATUSES))
        .add(article::Column::PublishedAt.lte(now))
}

/// The articles whose effective status is one of `statuses`. A scheduled article whose time has
/// come is published, whatever its stored status says, so `PUBLISHED` includes it and
/// `SCHEDULED` does not.
fn status_condition(statuses: &[ArticleStatus], now: DateTime<Utc>) -> Condition {
    let mut any = Condition::any();
    for status in statuses {
        any = any.add(match status {
            ArticleStatus::Published => Condition::any()
                .add(article::Column::Status.eq(ArticleStatus::Published))
                .add(
                    Condition::all()
                        .add(article::Column::Status.eq(ArticleStatus::Scheduled))
                        .add(article::Column::PublishedAt.lte(now)),
                ),
            ArticleStatus::Scheduled => Condition::all()
                .add(article::Column::Status.eq(ArticleStatus::Scheduled))
                .add(article::Column::PublishedAt.gt(now)),
            other => Condition::all().add(article::Column::Status.eq(*other)),
        });
    }
    any
}

/// The status readers and editors should see: a scheduled article whose time has come is
/// published.
pub fn effective_status(article: &article::Model, now: DateTime<Utc>) -> ArticleStatus {
    match article.status {
        ArticleStatus::Scheduled if article.published_at.is_some_and(|at| at <= now) => {
            ArticleStatus::Published
        }
        other => other,
    }
}

/// The articles we may hand a syndication partner: the site's own (no source, or a source whose
/// license is `own`) and those whose source allows syndication.
const SYNDICATABLE: &str = "(articles.source_id IS NULL OR articles.source_id IN \
     (SELECT sources.id FROM sources WHERE sources.syndication_allowed OR sources.license = 'own'))";

/// Who is reading, which decides what they may see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Audience {
    /// Anyone: only visible articles.
    #[default]
    Reader,
    /// A syndication partner: only visible articles that are the site's own or whose source
    /// allows syndication.
    Partner,
    /// Editors and admins: every article, drafts and scheduled ones included; they may filter by
    /// status.
    Editor,
}

impl Audience {
    /// The condition an article must meet to be seen by this audience.
    pub fn condition(self, now: DateTime<Utc>) -> Condition {
        match self {
            Audience::Reader => visible(now),
            Audience::Partner => visible(now).add(Expr::cust(SYNDICATABLE)),
            Audience::Editor => Condition::all(),
        }
    }

    /// What this audience sees where only published articles belong (public lists, boxes,
    /// related articles, rankings): editors see what readers see there.
    pub fn public(self) -> Audience {
        match self {
            Audience::Editor => Audience::Reader,
            other => other,
        }
    }

    /// [`Audience::condition`] of [`Audience::public`] as SQL text with one `?` for the time, for
    /// queries written by hand.
    pub fn public_sql(self) -> String {
        let visible = format!("{VISIBLE_STATUSES} AND articles.published_at <= ?");
        match self.public() {
            Audience::Partner => format!("{visible} AND {SYNDICATABLE}"),
            _ => visible,
        }
    }

    /// The time an article sorts by: its publish time for readers (every visible article has
    /// one, and the partial indexes cover it); for editors, whose drafts may have none, the
    /// publish time or else the creation time.
    fn sort_time(self) -> Expr {
        match self {
            Audience::Reader | Audience::Partner => {
                Expr::col((article::Entity, article::Column::PublishedAt))
            }
            Audience::Editor => Expr::cust("COALESCE(articles.published_at, articles.created_at)"),
        }
    }
}

/// Which columns of each article a list reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Columns {
    /// Every column.
    #[default]
    All,
    /// Every column but the body, which is left empty. Most lists show no bodies, and a page of
    /// 3-5 KB bodies (kept out of line and compressed by PostgreSQL) costs more to read, decode
    /// and copy than everything else on it; [`body_of`] reads one when it is wanted after all.
    WithoutBody,
}

impl Columns {
    /// `query` reading these columns.
    fn select(self, query: Select<article::Entity>) -> Select<article::Entity> {
        match self {
            Columns::All => query,
            Columns::WithoutBody => query
                .select_only()
                .columns(article::Column::iter().filter(|c| !matches!(c, article::Column::Body)))
                .column_as(Expr::val(""), article::Column::Body.as_str()),
        }
    }

    /// The select list of a hand-written query over `articles`.
    fn sql(self) -> String {
        article::Column::iter()
            .map(|c| match (self, c) {
                (Columns::WithoutBody, article::Column::Body) => "'' AS body".to_owned(),
                (_, c) => format!("articles.{}", c.as_str()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The body of the article `id`, with its format, for an article read without it.
pub async fn body_of<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<(String, crate::entities::BodyFormat)>> {
    Ok(article::Entity::find_by_id(id)
        .select_only()
        .column(article::Column::Body)
        .column(article::Column::BodyFormat)
        .into_tuple()
        .one(db)
        .await?)
}

/// Newest or oldest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArticleOrder {
    /// Latest publish time first.
    #[default]
    Newest,
    /// Earliest publish time first.
    Oldest,
}

/// What a client may narrow an article list by. Channels, tags and sources are named by slug; a
/// channel includes its sub-channels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticleFilter {
    /// A channel slug; its sub-channels' articles are included.
    pub channel: Option<String>,
    /// A tag slug.
    pub tag: Option<String>,
    /// A source slug.
    pub source: Option<String>,
    /// Original, reprint or sponsored.
    pub kind: Option<ArticleKind>,
    /// Published at or after this time.
    pub published_after: Option<DateTime<Utc>>,
    /// Published before this time.
    pub published_before: Option<DateTime<Utc>>,
    /// Only 推荐图文 (or only not).
    pub featured: Option<bool>,
    /// Only 推荐资讯 (or only not).
    pub recommended: Option<bool>,
    /// Only these statuses; editors only.
    pub statuses: Option<Vec<ArticleStatus>>,
}

impl ArticleFilter {
    /// Turns the filter into a condition, resolving slugs to ids. An unknown slug is a validation
    /// error naming `filter.<field>`, not an empty list: a client with a typo should hear of it.
    pub async fn resolve<C: ConnectionTrait>(
        &self,
        db: &C,
        audience: Audience,
        now: DateTime<Utc>,
    ) -> Result<Condition> {
        let mut cond = Condition::all();
        if let Some(statuses) = &self.statuses {
            if audience != Audience::Editor {
                return Err(Error::Forbidden(
                    "only editors may filter articles by status".into(),
                ));
            }
            cond = cond.add(status_condition(statuses, now));
        }
        if let Some(slug) = &self.channel {
            let ids = catalog::channel_with_descendants(db, slug)
                .await?
                .ok_or_else(|| {
                    Error::validation(
                        "filter.channel",
                        format!("no channel has the slug `{slug}`"),
                    )
                })?;
            cond = cond.add(article::Column::ChannelId.is_in(ids));
        }
        if let Some(slug) = &self.tag {
            let tag = tag::Entity::find()
                .filter(tag::Column::Slug.eq(slug))
                .one(db)
                .await?
                .ok_or_else(|| {
                    Error::validation("filter.tag", format!("no tag has the slug `{slug}`"))
                })?;
            cond = cond.add(
                article::Column::Id.in_subquery(
                    Query::select()
                        .column(article_tag::Column::ArticleId)
                        .from(article_tag::Entity)
                        .and_where(article_tag::Column::TagId.eq(tag.id))
                        .to_owned(),
                ),
            );
        }
        if let Some(slug) = &self.source {
            let source = source::Entity::find()
                .filter(source::Column::Slug.eq(slug))
                .one(db)
                .await?
                .ok_or_else(|| {
                    Error::validation("filter.source", format!("no source has the slug `{slug}`"))
                })?;
            cond = cond.add(article::Column::SourceId.eq(source.id));
        }
        if let Some(kind) = self.kind {
            cond = cond.add(article::Column::Kind.eq(kind));
        }
        if let (Some(after), Some(before)) = (self.published_after, self.published_before)
            && after >= before
        {
            return Err(Error::validation(
                "filter.publishedBefore",
                "must be later than `publishedAfter`",
            ));
        }
        for (field, at) in [
            ("filter.publishedAfter", self.published_after),
            ("filter.publishedBefore", self.published_before),
        ] {
            if let Some(at) = at {
                crate::editorial::checks::time(field, at)?;
            }
        }
        if let Some(after) = self.published_after {
            cond = cond.add(article::Column::PublishedAt.gte(after));
        }
        if let Some(before) = self.published_before {
            cond = cond.add(article::Column::PublishedAt.lt(before));
        }
        if let Some(featured) = self.featured {
            cond = cond.add(article::Column::Featured.eq(featured));
        }
        if let Some(recommended) = self.recommended {
            cond = cond.add(article::Column::Recommended.eq(recommended));
        }
        Ok(cond)
    }
}

/// The cursor of an article in a time-ordered list.
pub fn cursor_of(article: &article::Model) -> TimeCursor {
    TimeCursor {
        at: article.published_at.unwrap_or(article.created_at),
        id: article.id,
    }
}

/// One page of the visible articles matching `filter`, in `order`, each read with `columns`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    filter: &ArticleFilter,
    order: ArticleOrder,
    page: &PageRequest<TimeCursor>,
    columns: Columns,
) -> Result<Page<article::Model>> {
    let base = matching(db, now, audience, filter).await?;
    keyset_page(
        db,
        base,
        audience,
        order,
        page,
        async |rows: Select<article::Entity>| Ok(columns.select(rows).all(db).await?),
    )
    .await
}

/// [`list`], each article with its channel and source read in the same statement, as
/// [`with_catalog`] reads one.
pub async fn list_with_catalog<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    filter: &ArticleFilter,
    order: ArticleOrder,
    page: &PageRequest<TimeCursor>,
    columns: Columns,
) -> Result<Page<WithCatalog>> {
    let base = matching(db, now, audience, filter).await?;
    keyset_page(
        db,
        base,
        audience,
        order,
        page,
        async |rows: Select<article::Entity>| {
            let rows = columns
                .select(rows)
                .find_also_related(channel::Entity)
                .find_also_related(source::Entity)
                .all(db)
                .await?;
            Ok(rows.into_iter().map(WithCatalog::from).collect())
        },
    )
    .await
}

/// The visible articles matching `filter`, unordered.
async fn matching<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    filter: &ArticleFilter,
) -> Result<Select<article::Entity>> {
    Ok(article::Entity::find()
        .filter(audience.condition(now))
        .filter(filter.resolve(db, audience, now).await?))
}

/// How many articles `audience` may see match `filter`.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    filter: &ArticleFilter,
) -> Result<u64> {
    Ok(article::Entity::find()
        .filter(audience.condition(now))
        .filter(filter.resolve(db, audience, now).await?)
        .count(db)
        .await?)
}

/// Reads one page of `base` by (publish time, id) keyset, asking for one row more than the page to
/// learn whether more follow, and checking the other side of the cursor with a one-row query.
/// `fetch` reads the page's rows from the ordered and limited query.
async fn keyset_page<C: ConnectionTrait, R>(
    db: &C,
    base: Select<article::Entity>,
    audience: Audience,
    order: ArticleOrder,
    page: &PageRequest<TimeCursor>,
    fetch: impl AsyncFnOnce(Select<article::Entity>) -> Result<Vec<R>>,
) -> Result<Page<R>> {
    // Reading newest-first forwards, or oldest-first backwards, walks the index descending.
    let descending = matches!(
        (order, page.direction),
        (ArticleOrder::Newest, Direction::Forward) | (ArticleOrder::Oldest, Direction::Backward)
    );
    let key = || {
        Expr::tuple([
            audience.sort_time(),
            Expr::col((article::Entity, article::Column::Id)),
        ])
    };
    let at = |c: &TimeCursor| Expr::tuple([Expr::val(c.at), Expr::val(c.id)]);

    let mut rows_query = base.clone();
    let mut beyond = false;
    if let Some(cursor) = &page.cursor {
        rows_query = rows_query.filter(if descending {
            key().lt(at(cursor))
        } else {
            key().gt(at(cursor))
        });
        // Anything on the other side of the cursor, the cursor's own row included?
        let other_side = if descending {
            key().gte(at(cursor))
        } else {
            key().lte(at(cursor))
        };
        beyond =
            crate::pagination::any_row(db, base.filter(other_side), article::Column::Id).await?;
    }
    let rows = fetch(order_by_time(rows_query, audience, descending).limit(page.limit + 1)).await?;
    Ok(Page::from_fetched(rows, page.limit, page.direction, beyond))
}

fn order_by_time(
    query: Select<article::Entity>,
    audience: Audience,
    descending: bool,
) -> Select<article::Entity> {
    let direction = if descending { Order::Desc } else { Order::Asc };
    query
        .order_by(audience.sort_time(), direction.clone())
        .order_by(article::Column::Id, direction)
}

/// The article with this slug, if `audience` may see it.
pub async fn by_slug<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    slug: &str,
) -> Result<Option<article::Model>> {
    Ok(article::Entity::find()
        .filter(audience.condition(now))
        .filter(article::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// The article with this id, if `audience` may see it.
pub async fn by_id<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    id: i64,
) -> Result<Option<article::Model>> {
    Ok(article::Entity::find_by_id(id)
        .filter(audience.condition(now))
        .one(db)
        .await?)
}

/// How a caller names one article.
#[derive(Debug, Clone, Copy)]
pub enum ArticleKey<'a> {
    /// By its slug.
    Slug(&'a str),
    /// By its row id.
    Id(i64),
}

/// An article with the channel and the source it names.
#[derive(Debug, Clone)]
pub struct WithCatalog {
    /// The article.
    pub article: article::Model,
    /// Its channel.
    pub channel: Option<channel::Model>,
    /// Its source; `None` for the site's own articles.
    pub source: Option<source::Model>,
}

/// [`by_slug`] or [`by_id`], with the article's channel and source read in the same statement
/// (two left joins on their primary keys): a page shows them beside the article, and asking for
/// each in a statement of its own cost two more round trips, each a wake-up of the database and
/// of this server, more than the joins cost (`README.md`, "Load benchmark").
pub async fn with_catalog<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    key: ArticleKey<'_>,
) -> Result<Option<WithCatalog>> {
    let find = article::Entity::find().filter(audience.condition(now));
    let find = match key {
        ArticleKey::Slug(slug) => find.filter(article::Column::Slug.eq(slug)),
        ArticleKey::Id(id) => find.filter(article::Column::Id.eq(id)),
    };
    let found = find
        .find_also_related(channel::Entity)
        .find_also_related(source::Entity)
        .one(db)
        .await?;
    Ok(found.map(WithCatalog::from))
}

/// A row of an article's statement with its channel and source joined in.
type Joined = (
    article::Model,
    Option<channel::Model>,
    Option<source::Model>,
);

impl From<Joined> for WithCatalog {
    fn from((article, channel, source): Joined) -> Self {
        WithCatalog {
            article,
            channel,
            source,
        }
    }
}

/// Which of `ids` `audience` may see at `now`: [`by_id`] for many articles at once, without
/// reading their rows, for callers that need only the answer (the view beacon, which batches
/// the articles it has not seen lately), so bodies of several kilobytes are not fetched to be
/// thrown away.
pub async fn visible_among<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    ids: &[i64],
) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(article::Entity::find()
        .select_only()
        .column(article::Column::Id)
        .filter(crate::db::id_in(
            db.get_database_backend(),
            article::Column::Id,
            ids,
        ))
        .filter(audience.condition(now))
        .into_tuple()
        .all(db)
        .await?)
}

/// The next instant after `now` at which an article becomes visible by itself (a scheduled or
/// future-dated one reaching its publish time), if any: what readers see can change then with
/// no write. Served by the partial index on visible articles' publish times.
pub async fn next_visible_at<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let next: Option<Option<DateTime<Utc>>> = article::Entity::find()
        .select_only()
        .column(article::Column::PublishedAt)
        .filter(Expr::cust(VISIBLE_STATUSES))
        .filter(article::Column::PublishedAt.gt(now))
        .order_by_asc(article::Column::PublishedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(next.flatten())
}

/// 同类资讯: articles `audience` may see in public lists, in the same channel or sharing a tag
/// with `article`, newest first, never the article itself; each read with `columns`.
pub async fn related<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    article: &article::Model,
    first: u64,
    columns: Columns,
) -> Result<Vec<article::Model>> {
    let backend = db.get_database_backend();
    let limit = i64::try_from(first).unwrap_or(i64::MAX);
    // In the order of the `?`s of `related_sql`.
    let mut values: Vec<sea_orm::Value> = vec![
        now.into(),
        article.channel_id.into(),
        article.id.into(),
        limit.into(),
    ];
    if backend == DbBackend::Postgres {
        values.extend([
            now.into(),
            article.id.into(),
            now.into(),
            limit.into(),
            article.id.into(),
        ]);
    } else {
        values.extend([
            now.into(),
            article.id.into(),
            article.id.into(),
            limit.into(),
        ]);
    }
    values.extend([limit.into(), limit.into()]);
    Ok(article::Entity::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(
            backend,
            related_sql(backend, audience, columns),
            values,
        ))
        .all(db)
        .await?)
}

/// The text of [`related`]'s statement, with `?` written as `$n` for PostgreSQL. It depends only
/// on the backend, the public audience and the columns, so each of their eight combinations is
/// built once: building it for every article page (the select list's names, the subqueries, the
/// placeholders) cost more than binding its values.
fn related_sql(backend: DbBackend, audience: Audience, columns: Columns) -> &'static str {
    static TEXTS: [OnceLock<String>; 8] = [const { OnceLock::new() }; 8];
    let audience = audience.public();
    let slot = usize::from(backend == DbBackend::Postgres) * 4
        + usize::from(audience == Audience::Partner) * 2
        + usize::from(columns == Columns::WithoutBody);
    TEXTS[slot].get_or_init(|| {
        // The newest `first` of each kind, each read from an index with a limit, then merged:
        // one query with `channel = ? OR shares a tag` made both planners collect and sort every
        // article of the channel (2,000 rows with their bodies in the benchmark) for ten.
        let visible = audience.public_sql();
        let newest = "ORDER BY articles.published_at DESC, articles.id DESC LIMIT ?";
        let same_channel = format!(
            "SELECT id, published_at FROM (SELECT articles.id, articles.published_at FROM articles \
               WHERE {visible} AND articles.channel_id = ? AND articles.id <> ? {newest}) \
             same_channel"
        );
        let shared_tag = if backend == DbBackend::Postgres {
            // The newest `first` of each of the article's tags, from the links' copy of their
            // article's publish time (migration 18): `first` index entries a tag, whatever its
            // size. Each candidate is still checked against its own row: a stale copy could
            // leave an article out, never show a hidden one.
            format!(
                "SELECT shared.id, shared.published_at FROM article_tags mine CROSS JOIN LATERAL ( \
                   SELECT articles.id, articles.published_at FROM article_tags link \
                     JOIN articles ON articles.id = link.article_id \
                   WHERE link.tag_id = mine.tag_id AND link.published_at IS NOT NULL \
                     AND link.published_at <= ? AND link.article_id <> ? AND {visible} \
                   ORDER BY link.published_at DESC, link.article_id DESC LIMIT ?) shared \
                 WHERE mine.article_id = ?"
            )
        } else {
            format!(
                "SELECT id, published_at FROM (SELECT articles.id, articles.published_at \
                   FROM articles WHERE {visible} AND articles.id <> ? AND articles.id IN ( \
                     SELECT article_id FROM article_tags WHERE tag_id IN ( \
                       SELECT tag_id FROM article_tags WHERE article_id = ?)) {newest}) shared_tag"
            )
        };
        // The newest `first` candidates are chosen by the publish times their indexes hold, so
        // only their own rows are read: not every candidate's (a page of its own each).
        let sql = format!(
            "SELECT {} FROM articles WHERE articles.id IN ( \
               SELECT id FROM ({same_channel} UNION {shared_tag}) candidates \
               ORDER BY published_at DESC, id DESC LIMIT ?) {newest}",
            columns.sql()
        );
        crate::db::placeholders(backend, &sql)
    })
}

/// Which editor-flagged box an article is recommended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecommendedKind {
    /// 推荐图文: featured articles that have a cover image.
    WithImage,
    /// 推荐资讯: recommended articles shown as text links.
    Text,
}

/// The newest articles editors flagged for a recommendation box that `audience` may see in public
/// lists, optionally in a channel
/// (and its sub-channels). An unknown channel slug is a validation error naming `channel`.
pub async fn recommended<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    kind: RecommendedKind,
    channel_slug: Option<&str>,
    first: u64,
) -> Result<Vec<article::Model>> {
    let mut query = article::Entity::find().filter(audience.public().condition(now));
    query = match kind {
        RecommendedKind::WithImage => query
            .filter(article::Column::Featured.eq(true))
            .filter(article::Column::CoverImage.is_not_null()),
        RecommendedKind::Text => query.filter(article::Column::Recommended.eq(true)),
    };
    if let Some(slug) = channel_slug {
        let ids = catalog::channel_with_descendants(db, slug)
            .await?
            .ok_or_else(|| {
                Error::validation("channel", format!("no channel has the slug `{slug}`"))
            })?;
        query = query.filter(article::Column::ChannelId.is_in(ids));
    }
    Ok(query
        .order_by_desc(article::Column::PublishedAt)
        .order_by_desc(article::Column::Id)
        .limit(first)
        .all(db)
        .await?)
}

/// The articles among `ids` that `audience` may see in public lists, by id; for lists whose order
/// comes from elsewhere (rankings).
pub async fn visible_by_ids<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    audience: Audience,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, article::Model>> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    Ok(article::Entity::find()
        .filter(audience.public().condition(now))
        .filter(crate::db::id_in(
            db.get_database_backend(),
            article::Column::Id,
            ids,
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each text `related_sql` keeps is the one its inputs ask for, whichever was built first:
    /// a slot shared by two inputs would hand one of them the other's text. The placeholders
    /// are as many as `related` binds values: 11 on PostgreSQL, 10 on SQLite.
    #[test]
    fn each_related_text_is_built_for_its_own_backend_audience_and_columns() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for audience in [Audience::Reader, Audience::Editor, Audience::Partner] {
                for columns in [Columns::All, Columns::WithoutBody] {
                    let sql = related_sql(backend, audience, columns);
                    let case = format!("{backend:?}, {audience:?}, {columns:?}: {sql}");
                    assert_eq!(
                        sql.contains(SYNDICATABLE),
                        audience == Audience::Partner,
                        "{case}"
                    );
                    assert_eq!(
                        sql.contains("'' AS body"),
                        columns == Columns::WithoutBody,
                        "{case}"
                    );
                    if backend == DbBackend::Postgres {
                        assert!(!sql.contains('?'), "{case}");
                        assert!(sql.contains("$11") && !sql.contains("$12"), "{case}");
                        assert!(sql.contains("CROSS JOIN LATERAL"), "{case}");
                    } else {
                        assert_eq!(sql.matches('?').count(), 10, "{case}");
                        assert!(!sql.contains("LATERAL"), "{case}");
                    }
                }
            }
        }
        assert_eq!(
            related_sql(DbBackend::Postgres, Audience::Editor, Columns::All),
            related_sql(DbBackend::Postgres, Audience::Reader, Columns::All),
            "editors see the related articles readers see"
        );
    }
}
