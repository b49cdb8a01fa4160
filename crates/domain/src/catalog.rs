//! The portal's reference data as readers see it: channels, sources, tags, pages. Batch loaders
//! take many ids at once so that the gateway's dataloaders resolve a whole page in one query.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, JoinType, Query},
};

use crate::{
    articles::WithCatalog,
    db::id_in,
    entities::{article, article_tag, channel, page, source, tag},
    error::Result,
    pagination::{Direction, Page, PageRequest, SlugCursor},
};

/// Every channel, in navigation order (position, then id). The table is small: a portal has tens
/// of channels, not thousands.
pub async fn channels<C: ConnectionTrait>(db: &C) -> Result<Vec<channel::Model>> {
    Ok(channel::Entity::find()
        .order_by_asc(channel::Column::Position)
        .order_by_asc(channel::Column::Id)
        .all(db)
        .await?)
}

/// The channel with this slug.
pub async fn channel_by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<channel::Model>> {
    Ok(channel::Entity::find()
        .filter(channel::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// The ids of the channel with this slug and of all channels below it, or `None` when no channel
/// has the slug.
pub async fn channel_with_descendants<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<Vec<i64>>> {
    let all = channel::Entity::find()
        .select_only()
        .columns([
            channel::Column::Id,
            channel::Column::ParentId,
            channel::Column::Slug,
        ])
        .into_tuple::<(i64, Option<i64>, String)>()
        .all(db)
        .await?;
    let Some(root) = all.iter().find(|(_, _, s)| s == slug).map(|(id, _, _)| *id) else {
        return Ok(None);
    };
    let mut ids = vec![root];
    // Breadth-first over the parent links; `ids` doubles as the queue. A cycle cannot loop
    // forever because a channel is only added once.
    let mut next = 0;
    while next < ids.len() {
        let parent = ids[next];
        for (id, _, _) in all.iter().filter(|(_, p, _)| *p == Some(parent)) {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        next += 1;
    }
    Ok(Some(ids))
}

/// Channels by id, for a dataloader.
pub async fn channels_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<Vec<channel::Model>> {
    Ok(channel::Entity::find()
        .filter(id_in(db.get_database_backend(), channel::Column::Id, ids))
        .all(db)
        .await?)
}

/// The children of many channels at once, each list in navigation order; for a dataloader.
pub async fn channel_children<C: ConnectionTrait>(
    db: &C,
    parent_ids: &[i64],
) -> Result<HashMap<i64, Vec<channel::Model>>> {
    let rows = channel::Entity::find()
        .filter(id_in(
            db.get_database_backend(),
            channel::Column::ParentId,
            parent_ids,
        ))
        .order_by_asc(channel::Column::Position)
        .order_by_asc(channel::Column::Id)
        .all(db)
        .await?;
    let mut children: HashMap<i64, Vec<channel::Model>> = HashMap::new();
    for row in rows {
        if let Some(parent) = row.parent_id {
            children.entry(parent).or_default().push(row);
        }
    }
    Ok(children)
}

/// Sources by id, for a dataloader.
pub async fn sources_by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<Vec<source::Model>> {
    Ok(source::Entity::find()
        .filter(id_in(db.get_database_backend(), source::Column::Id, ids))
        .all(db)
        .await?)
}

/// Tags by id, for a dataloader.
pub async fn tags_by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<Vec<tag::Model>> {
    Ok(tag::Entity::find()
        .filter(id_in(db.get_database_backend(), tag::Column::Id, ids))
        .all(db)
        .await?)
}

/// The alias of the lateral subquery in [`tags_of_articles`].
const LATERAL_TAG: &str = "t";

/// The tags of many articles at once, each list in the editor's order; one query for any number
/// of articles.
pub async fn tags_of_articles<C: ConnectionTrait>(
    db: &C,
    article_ids: &[i64],
) -> Result<HashMap<i64, Vec<tag::Model>>> {
    // The tag's own columns and the article's id, unprefixed: `find_also_related` would name
    // every column `A_…`/`B_…`, and sea-orm formats each prefixed name anew for every value of
    // every row it decodes (the home page's tags are a hundred rows).
    #[derive(FromQueryResult)]
    struct Row {
        article_id: i64,
        id: i64,
        slug: String,
        name: String,
        created_at: chrono::DateTime<chrono::Utc>,
    }
    const TAG: [tag::Column; 4] = [
        tag::Column::Id,
        tag::Column::Slug,
        tag::Column::Name,
        tag::Column::CreatedAt,
    ];
    let mut select = article_tag::Entity::find()
        .select_only()
        .column(article_tag::Column::ArticleId)
        .filter(id_in(
            db.get_database_backend(),
            article_tag::Column::ArticleId,
            article_ids,
        ))
        .order_by_asc(article_tag::Column::ArticleId)
        .order_by_asc(article_tag::Column::Position)
        .order_by_asc(article_tag::Column::TagId);
    if db.get_database_backend() == DbBackend::Postgres {
        // Each row's tag by its key. A plain join is planned as a hash join that reads and hashes
        // the whole tags table on every call (PostgreSQL prices each of the hundred index lookups
        // of a page as a random page read): 0.3 ms of the database's time for the home page with
        // 2,000 tags, and more as tags are added. A subquery with an OFFSET is never merged into
        // the outer query, so the lateral one below is planned as one index lookup per row
        // (pgbench ran the home page's tag statement 8,600 times a second so, against 5,200).
        let one_tag = Query::select()
            .columns(TAG)
            .from(tag::Entity)
            .and_where(
                Expr::col((tag::Entity, tag::Column::Id))
                    .equals((article_tag::Entity, article_tag::Column::TagId)),
            )
            .offset(0)
            .to_owned();
        QueryTrait::query(&mut select).join_lateral(
            JoinType::InnerJoin,
            one_tag,
            LATERAL_TAG,
            Expr::cust("TRUE"),
        );
        for column in TAG {
            select = select.column_as(Expr::col((LATERAL_TAG, column)), column.as_str());
        }
    } else {
        select = select.columns(TAG).inner_join(tag::Entity);
    }
    let rows = select.into_model::<Row>().all(db).await?;
    // The rows come ordered by article: each article's run is hashed into the map once (not once
    // a row) and copied into a list sized for it (not one grown tag by tag). Were an article's
    // rows ever split into two runs, the second would join the first.
    let mut tags: HashMap<i64, Vec<tag::Model>> = HashMap::with_capacity(article_ids.len());
    let mut rows = rows.into_iter();
    while let Some(first) = rows.as_slice().first() {
        let article_id = first.article_id;
        let run = rows
            .as_slice()
            .iter()
            .take_while(|row| row.article_id == article_id)
            .count();
        tags.entry(article_id)
            .or_default()
            .extend(rows.by_ref().take(run).map(|row| tag::Model {
                id: row.id,
                slug: row.slug,
                name: row.name,
                created_at: row.created_at,
            }));
    }
    Ok(tags)
}

/// The source with this slug.
pub async fn source_by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<source::Model>> {
    Ok(source::Entity::find()
        .filter(source::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// The tag with this slug.
pub async fn tag_by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> Result<Option<tag::Model>> {
    Ok(tag::Entity::find()
        .filter(tag::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// A page of sources in slug order.
pub async fn sources<C: ConnectionTrait>(
    db: &C,
    page: &PageRequest<SlugCursor>,
) -> Result<Page<source::Model>> {
    slug_page::<C, source::Entity>(db, source::Column::Slug, page).await
}

/// A page of tags in slug order.
pub async fn tags<C: ConnectionTrait>(
    db: &C,
    page: &PageRequest<SlugCursor>,
) -> Result<Page<tag::Model>> {
    slug_page::<C, tag::Entity>(db, tag::Column::Slug, page).await
}

/// Reads a page of any table keyed by a unique slug column.
async fn slug_page<C, E>(
    db: &C,
    slug: E::Column,
    page: &PageRequest<SlugCursor>,
) -> Result<Page<E::Model>>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    let forward = page.direction == Direction::Forward;
    let mut query = E::find();
    let mut beyond = false;
    if let Some(SlugCursor(at)) = &page.cursor {
        query = query.filter(if forward {
            slug.gt(at.as_str())
        } else {
            slug.lt(at.as_str())
        });
        beyond = E::find()
            .select_only()
            .column(slug)
            .filter(if forward {
                slug.lte(at.as_str())
            } else {
                slug.gte(at.as_str())
            })
            .limit(1)
            .into_tuple::<String>()
            .one(db)
            .await?
            .is_some();
    }
    let query = if forward {
        query.order_by_asc(slug)
    } else {
        query.order_by_desc(slug)
    };
    let rows = query.limit(page.limit + 1).all(db).await?;
    Ok(Page::from_fetched(rows, page.limit, page.direction, beyond))
}

/// The page with this slug.
pub async fn page_by_slug<C: ConnectionTrait>(db: &C, slug: &str) -> Result<Option<page::Model>> {
    Ok(page::Entity::find()
        .filter(page::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// The pages linked from the footer, in order.
pub async fn footer_pages<C: ConnectionTrait>(db: &C) -> Result<Vec<page::Model>> {
    Ok(page::Entity::find()
        .filter(page::Column::InFooter.eq(true))
        .order_by_asc(page::Column::Position)
        .order_by_asc(page::Column::Id)
        .all(db)
        .await?)
}

/// Every page, footer pages and others, in footer order (position, then id). A site has a handful.
pub async fn pages<C: ConnectionTrait>(db: &C) -> Result<Vec<page::Model>> {
    Ok(page::Entity::find()
        .order_by_asc(page::Column::Position)
        .order_by_asc(page::Column::Id)
        .all(db)
        .await?)
}

/// The channels, sources and tags of a batch of articles, read in one query each however many
/// articles there are: what a list outside GraphQL (a feed, a REST page) needs to show them.
#[derive(Debug, Clone, Default)]
pub struct ArticleRelations {
    /// Channels by id.
    pub channels: HashMap<i64, channel::Model>,
    /// Sources by id.
    pub sources: HashMap<i64, source::Model>,
    /// Each article's tags in the editor's order, by article id.
    pub tags: HashMap<i64, Vec<tag::Model>>,
}

impl ArticleRelations {
    /// Reads the relations of `rows`.
    pub async fn load<C: ConnectionTrait>(db: &C, rows: &[article::Model]) -> Result<Self> {
        if rows.is_empty() {
            return Ok(ArticleRelations::default());
        }
        let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
        let source_ids: Vec<i64> = rows.iter().filter_map(|a| a.source_id).collect();
        let channel_ids: Vec<i64> = rows.iter().map(|a| a.channel_id).collect();
        Ok(ArticleRelations {
            channels: channels_by_ids(db, &channel_ids)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect(),
            sources: sources_by_ids(db, &source_ids)
                .await?
                .into_iter()
                .map(|s| (s.id, s))
                .collect(),
            tags: tags_of_articles(db, &ids).await?,
        })
    }

    /// Keeps the channel and source read with an article
    /// ([`crate::articles::with_catalog`], [`crate::articles::list_with_catalog`]); gives back
    /// the article. Its tags are read with [`ArticleRelations::read_tags`].
    pub fn keep(&mut self, found: WithCatalog) -> article::Model {
        if let Some(channel) = found.channel {
            self.channels.insert(channel.id, channel);
        }
        if let Some(source) = found.source {
            self.sources.insert(source.id, source);
        }
        found.article
    }

    /// Reads the tags of `rows`, in one statement.
    pub async fn read_tags<C: ConnectionTrait>(
        &mut self,
        db: &C,
        rows: &[article::Model],
    ) -> Result<()> {
        if !rows.is_empty() {
            let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
            self.tags = tags_of_articles(db, &ids).await?;
        }
        Ok(())
    }

    /// The channel of `article`.
    pub fn channel_of(&self, article: &article::Model) -> Option<&channel::Model> {
        self.channels.get(&article.channel_id)
    }

    /// The source of `article`, if it has one.
    pub fn source_of(&self, article: &article::Model) -> Option<&source::Model> {
        article.source_id.and_then(|id| self.sources.get(&id))
    }

    /// The tags of `article`, in the editor's order.
    pub fn tags_of(&self, article: &article::Model) -> &[tag::Model] {
        self.tags.get(&article.id).map_or(&[], Vec::as_slice)
    }
}

/// Pages by id.
pub async fn pages_by_ids<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<Vec<page::Model>> {
    Ok(page::Entity::find()
        .filter(id_in(db.get_database_backend(), page::Column::Id, ids))
        .all(db)
        .await?)
}
