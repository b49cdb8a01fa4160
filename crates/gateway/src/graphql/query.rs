//! The read side of the schema: the portal's boxes, each one query.

use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, InputObject, Object,
    connection::{Connection, Edge},
};
use chrono::{DateTime, Utc};
use newsroom_domain::{
    articles::{
        self, ArticleFilter, ArticleKey, ArticleOrder as DomainOrder, Audience,
        RecommendedKind as DomainRecommended,
    },
    catalog,
    entities::{ArticleKind as DomainKind, ArticleStatus as DomainStatus},
    pagination::{Cursor, PageRequest, SlugCursor, TimeCursor},
    search::{self, HitCursor, SearchQuery},
    site::SiteSettings,
    takedowns, tokens, webhooks,
};

use super::{
    errors::{GqlResultExt, bad_input, from_domain},
    guards::RoleGuard,
    ids::{self, Kind},
    search::{SearchConnectionFields, SearchHit},
    types::{
        ApiToken, Article, ArticleKind, ArticleStatus, Channel, Node, Page, RankedArticle,
        RankingWindow, Site, Source, Tag, TakedownRequest, TakedownStatus, User, list_size,
        request,
    },
    webhooks::{WebhookDelivery, WebhookEndpoint, scope as webhook_scope},
};

/// The root of every read.
pub struct Query;

/// Newest or oldest first.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArticleOrder {
    /// Latest publish time first.
    #[default]
    Newest,
    /// Earliest publish time first.
    Oldest,
}

/// Which recommendation box.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum RecommendedKind {
    /// 推荐图文: featured articles with a cover image.
    WithImage,
    /// 推荐资讯: recommended articles shown as text links.
    Text,
}

/// What to narrow an article list by. Every field is optional; given fields all apply.
#[derive(InputObject, Default)]
pub struct ArticleFilterInput {
    /// A channel slug; its sub-channels' articles are included.
    channel: Option<String>,
    /// A tag slug.
    tag: Option<String>,
    /// A source slug.
    source: Option<String>,
    /// Own, reprint or sponsored.
    kind: Option<ArticleKind>,
    /// Published at or after this time.
    published_after: Option<DateTime<Utc>>,
    /// Published before this time.
    published_before: Option<DateTime<Utc>>,
    /// Only featured (推荐图文) articles, or only not.
    featured: Option<bool>,
    /// Only recommended (推荐资讯) articles, or only not.
    recommended: Option<bool>,
    /// Only these statuses. Editors only: readers see published articles and nothing else.
    status: Option<Vec<ArticleStatus>>,
}

impl From<ArticleFilterInput> for ArticleFilter {
    fn from(f: ArticleFilterInput) -> Self {
        ArticleFilter {
            channel: f.channel,
            tag: f.tag,
            source: f.source,
            kind: f.kind.map(DomainKind::from),
            published_after: f.published_after,
            published_before: f.published_before,
            featured: f.featured,
            recommended: f.recommended,
            statuses: f
                .status
                .map(|s| s.into_iter().map(DomainStatus::from).collect()),
        }
    }
}

/// Extra fields of an article connection.
pub struct ArticleConnectionFields {
    filter: ArticleFilter,
    audience: Audience,
}

#[Object]
impl ArticleConnectionFields {
    /// How many articles match the filter, on every page together. Counted only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let req = request(ctx)?;
        articles::count(&req.db, req.now, self.audience, &self.filter)
            .await
            .gql()
    }
}

/// A page of articles.
pub type ArticleConnection = Connection<String, Article, ArticleConnectionFields>;

/// A page of search hits.
pub type SearchConnection = Connection<String, SearchHit, SearchConnectionFields>;

fn page_request<C: Cursor>(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> async_graphql::Result<PageRequest<C>> {
    PageRequest::from_relay(first, after.as_deref(), last, before.as_deref()).map_err(from_domain)
}

/// What to read of each article for these selections: the body only when one selects it.
pub(crate) fn columns_for(nodes: &[async_graphql::Lookahead<'_>]) -> articles::Columns {
    if nodes.iter().any(|n| n.field("body").exists()) {
        articles::Columns::All
    } else {
        articles::Columns::WithoutBody
    }
}

/// Whether the selections standing for an article show its channel or source (the disclaimer
/// reads the source). Then they are read with the article ([`articles::with_catalog`]) and wait
/// in the request's loaders for the fields that ask for them, rather than costing a statement
/// each.
fn wants_catalog(nodes: &[async_graphql::Lookahead<'_>]) -> bool {
    ["channel", "source", "disclaimer"]
        .into_iter()
        .any(|field| nodes.iter().any(|n| n.field(field).exists()))
}

/// A connection over a page of rows keyed by slug, each wrapped in its GraphQL object.
fn slug_connection<R, N: async_graphql::OutputType>(
    rows: newsroom_domain::pagination::Page<R>,
    slug: impl Fn(&R) -> &String,
    wrap: impl Fn(R) -> N,
) -> Connection<String, N> {
    let mut connection = Connection::new(rows.has_previous, rows.has_next);
    connection.edges.extend(rows.items.into_iter().map(|row| {
        let cursor = SlugCursor(slug(&row).clone()).encode();
        Edge::new(cursor, wrap(row))
    }));
    connection
}

#[Object]
impl Query {
    /// The signed-in user; `null` for an anonymous reader.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(match &request(ctx)?.caller {
            crate::auth::Caller::User(u) => Some(User(u.user.clone())),
            crate::auth::Caller::Anonymous => None,
        })
    }

    /// Every issued API token, newest first. Admins only.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiToken>> {
        let req = request(ctx)?;
        Ok(tokens::list(&req.db)
            .await
            .gql()?
            .into_iter()
            .map(ApiToken)
            .collect())
    }

    /// Takedown requests, newest first, optionally only those with `status`. Editors only.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn takedown_requests(
        &self,
        ctx: &Context<'_>,
        status: Option<TakedownStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, TakedownRequest>> {
        let page = page_request::<TimeCursor>(first, after, last, before)?;
        let req = request(ctx)?;
        let rows = takedowns::list(&req.db, status.map(Into::into), &page)
            .await
            .gql()?;
        let mut connection = Connection::new(rows.has_previous, rows.has_next);
        connection.edges.extend(
            rows.items
                .into_iter()
                .map(|row| Edge::new(takedowns::cursor_of(&row).encode(), TakedownRequest(row))),
        );
        Ok(connection)
    }

    /// Webhook endpoints, oldest first: a partner's own; every partner's for editors and admins.
    #[graphql(guard = "RoleGuard::PartnerOrEditor")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<WebhookEndpoint>> {
        let req = request(ctx)?;
        Ok(webhooks::endpoints(&req.db, webhook_scope(ctx)?)
            .await
            .gql()?
            .into_iter()
            .map(WebhookEndpoint)
            .collect())
    }

    /// The webhook delivery log, newest first: one line per attempt, with its event, endpoint,
    /// outcome, HTTP status or error, and when it is tried again. A partner sees its own
    /// endpoints'; editors and admins everyone's. `endpoint` narrows it to one endpoint (another
    /// partner's is `NOT_FOUND`).
    #[graphql(guard = "RoleGuard::PartnerOrEditor")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, WebhookDelivery>> {
        let page = page_request::<TimeCursor>(first, after, last, before)?;
        let endpoint = endpoint
            .map(|id| ids::expect(Kind::WebhookEndpoint, &id, "endpoint"))
            .transpose()?;
        let req = request(ctx)?;
        let rows = webhooks::deliveries(&req.db, webhook_scope(ctx)?, endpoint, &page)
            .await
            .gql()?;
        let mut connection = Connection::new(rows.has_previous, rows.has_next);
        connection.edges.extend(rows.items.into_iter().map(|row| {
            Edge::new(
                webhooks::delivery_cursor(&row.attempt).encode(),
                WebhookDelivery(row),
            )
        }));
        Ok(connection)
    }

    /// The site: name, slogan, footer pages and filing numbers.
    async fn site(&self, ctx: &Context<'_>) -> async_graphql::Result<Site> {
        let req = request(ctx)?;
        let settings: SiteSettings = req
            .site
            .load_one(super::loaders::SiteKey)
            .await
            .gql()?
            .unwrap_or_default();
        Ok(settings.into())
    }

    /// A standing page by slug; `null` when there is none.
    async fn page(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Page>> {
        let req = request(ctx)?;
        Ok(catalog::page_by_slug(&req.db, &slug).await.gql()?.map(Page))
    }

    /// The top-level channels in navigation order; each lists its `children`.
    async fn channels(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Channel>> {
        let req = request(ctx)?;
        let all = catalog::channels(&req.db).await.gql()?;
        Ok(all
            .into_iter()
            .filter(|c| c.parent_id.is_none())
            .map(Channel::from)
            .collect())
    }

    /// A channel by slug; `null` when there is none.
    async fn channel(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Channel>> {
        let req = request(ctx)?;
        Ok(catalog::channel_by_slug(&req.db, &slug)
            .await
            .gql()?
            .map(Channel::from))
    }

    /// A tag by slug; `null` when there is none.
    async fn tag(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Tag>> {
        let req = request(ctx)?;
        Ok(catalog::tag_by_slug(&req.db, &slug)
            .await
            .gql()?
            .map(Tag::from))
    }

    /// A source by slug; `null` when there is none.
    async fn source(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Source>> {
        let req = request(ctx)?;
        Ok(catalog::source_by_slug(&req.db, &slug)
            .await
            .gql()?
            .map(Source::from))
    }

    /// All tags, in slug order.
    #[graphql(complexity = "super::limits::page_cost(first.or(last), 20, child_complexity)")]
    async fn tags(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, Tag>> {
        let page = page_request::<SlugCursor>(first, after, last, before)?;
        let req = request(ctx)?;
        let rows = catalog::tags(&req.db, &page).await.gql()?;
        Ok(slug_connection(rows, |t| &t.slug, Tag::from))
    }

    /// All sources, in slug order.
    #[graphql(complexity = "super::limits::page_cost(first.or(last), 20, child_complexity)")]
    async fn sources(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, Source>> {
        let page = page_request::<SlugCursor>(first, after, last, before)?;
        let req = request(ctx)?;
        let rows = catalog::sources(&req.db, &page).await.gql()?;
        Ok(slug_connection(rows, |s| &s.slug, Source::from))
    }

    /// A visible article by slug or by global ID (give exactly one); `null` when there is none.
    async fn article(
        &self,
        ctx: &Context<'_>,
        slug: Option<String>,
        id: Option<ID>,
    ) -> async_graphql::Result<Option<Article>> {
        let req = request(ctx)?;
        let key = match (&slug, id) {
            (Some(slug), None) => ArticleKey::Slug(slug),
            (None, Some(id)) => match ids::decode(&id) {
                Some((Kind::Article, row)) => ArticleKey::Id(row),
                Some(_) => return Err(bad_input("id", "is not the ID of an article")),
                None => return Err(bad_input("id", "is not an ID this API issued")),
            },
            (Some(_), Some(_)) => {
                return Err(bad_input("id", "give either `slug` or `id`, not both"));
            }
            (None, None) => return Err(bad_input("slug", "give either `slug` or `id`")),
        };
        let found = if wants_catalog(&[ctx.look_ahead()]) {
            let found = articles::with_catalog(&req.db, req.now, req.audience(), key)
                .await
                .gql()?;
            req.remember_catalog(found).await.pop()
        } else {
            match key {
                ArticleKey::Slug(slug) => articles::by_slug(&req.db, req.now, req.audience(), slug)
                    .await
                    .gql()?,
                ArticleKey::Id(row) => articles::by_id(&req.db, req.now, req.audience(), row)
                    .await
                    .gql()?,
            }
        };
        Ok(found.map(Article))
    }

    /// Visible articles, newest first unless told otherwise, as a Relay connection with keyset
    /// cursors. `first`/`after` page forwards, `last`/`before` backwards; a page holds at most 100.
    #[expect(
        clippy::too_many_arguments,
        reason = "a GraphQL field's arguments: the four Relay ones, filter and order"
    )]
    #[graphql(complexity = "super::limits::page_cost(first.or(last), 20, child_complexity)")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ArticleFilterInput>,
        #[graphql(default)] order_by: ArticleOrder,
    ) -> async_graphql::Result<ArticleConnection> {
        let page = page_request::<TimeCursor>(first, after, last, before)?;
        let filter: ArticleFilter = filter.unwrap_or_default().into();
        let order = match order_by {
            ArticleOrder::Newest => DomainOrder::Newest,
            ArticleOrder::Oldest => DomainOrder::Oldest,
        };
        let req = request(ctx)?;
        // Editors see the public list too unless they ask for statuses: a frontend rendered with
        // an editor's token must not show drafts or taken-down articles by accident.
        let audience = if filter.statuses.is_some() {
            req.audience()
        } else {
            req.audience().public()
        };
        let look = ctx.look_ahead();
        let nodes = [look.field("edges").field("node"), look.field("nodes")];
        let columns = columns_for(&nodes);
        let rows = if wants_catalog(&nodes) {
            let rows = articles::list_with_catalog(
                &req.db, req.now, audience, &filter, order, &page, columns,
            )
            .await
            .gql()?;
            newsroom_domain::pagination::Page {
                items: req.remember_catalog(rows.items).await,
                has_previous: rows.has_previous,
                has_next: rows.has_next,
            }
        } else {
            articles::list(&req.db, req.now, audience, &filter, order, &page, columns)
                .await
                .gql()?
        };
        req.prime(&rows.items, &nodes).await.gql()?;
        let mut connection = Connection::with_additional_fields(
            rows.has_previous,
            rows.has_next,
            ArticleConnectionFields { filter, audience },
        );
        connection.edges.extend(
            rows.items
                .into_iter()
                .map(|a| Edge::new(articles::cursor_of(&a).encode(), Article(a))),
        );
        Ok(connection)
    }

    /// Full-text search over visible articles, best match first: every word of `query` must
    /// occur in the title, lead, tags, source name or body. Chinese is cut into words (搜索
    /// 数字经济 finds 数字经济, not every 数 or 字); ASCII case and full-width forms do not matter;
    /// quotes and operators are plain text. Title matches rank above lead and tag matches, those
    /// above body matches; then newer first. `query` must hold 1 to 100 characters; `filter` is
    /// the one `articles` takes (statuses excepted: search shows only what readers see).
    #[graphql(complexity = "super::limits::page_cost(first, 20, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ArticleFilterInput>,
    ) -> async_graphql::Result<SearchConnection> {
        let page = page_request::<HitCursor>(first, after, None, None)?;
        let services = ctx.data::<super::Services>()?;
        let query = Arc::new(SearchQuery::parse(&services.segmenter, &query).gql()?);
        let filter: ArticleFilter = filter.unwrap_or_default().into();
        let req = request(ctx)?;
        let hits = search::search(&req.db, req.now, req.audience(), &query, &filter, &page)
            .await
            .gql()?;
        let rows: Vec<_> = hits.items.iter().map(|h| h.article.clone()).collect();
        let look = ctx.look_ahead();
        req.prime(
            &rows,
            &[
                look.field("edges").field("node").field("article"),
                look.field("nodes").field("article"),
            ],
        )
        .await
        .gql()?;
        let mut connection = Connection::with_additional_fields(
            hits.has_previous,
            hits.has_next,
            SearchConnectionFields {
                query: query.clone(),
                filter,
                audience: req.audience(),
            },
        );
        connection.edges.extend(hits.items.into_iter().map(|hit| {
            Edge::new(
                hit.cursor(&query).encode(),
                SearchHit {
                    hit,
                    query: query.clone(),
                },
            )
        }));
        Ok(connection)
    }

    /// The newest articles editors flagged for a recommendation box (推荐图文 or 推荐资讯),
    /// optionally within a channel and its sub-channels.
    #[graphql(complexity = "super::limits::page_cost(Some(first), 10, child_complexity)")]
    async fn recommended(
        &self,
        ctx: &Context<'_>,
        kind: RecommendedKind,
        channel: Option<String>,
        #[graphql(default = 10, desc = "How many, 0 to 100.")] first: i32,
    ) -> async_graphql::Result<Vec<Article>> {
        let first = list_size("first", first)?;
        let kind = match kind {
            RecommendedKind::WithImage => DomainRecommended::WithImage,
            RecommendedKind::Text => DomainRecommended::Text,
        };
        let req = request(ctx)?;
        let rows = articles::recommended(
            &req.db,
            req.now,
            req.audience(),
            kind,
            channel.as_deref(),
            first,
        )
        .await
        .gql()?;
        req.prime(&rows, &[ctx.look_ahead()]).await.gql()?;
        Ok(rows.into_iter().map(Article).collect())
    }

    /// 点击排行: the most-viewed visible articles in a window, optionally within a channel and its
    /// sub-channels; ties go to the newer article. Served from a ranking recomputed at most every
    /// few seconds, so views show up with that delay.
    #[graphql(complexity = "super::limits::page_cost(Some(first), 10, child_complexity)")]
    async fn click_ranking(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "RankingWindow::Week")] window: RankingWindow,
        channel: Option<String>,
        #[graphql(default = 10, desc = "How many, 0 to 100.")] first: i32,
    ) -> async_graphql::Result<Vec<RankedArticle>> {
        let first = list_size("first", first)?;
        let req = request(ctx)?;
        let services = ctx.data::<super::Services>()?;
        let ranked = services
            .views
            .ranking(window.into(), channel.as_deref())
            .await
            .gql()?;
        let rows = crate::views::visible_in_order(&req.db, req.now, req.audience(), &ranked, first)
            .await
            .gql()?;
        let articles: Vec<_> = rows.iter().map(|(_, a)| a.clone()).collect();
        req.prime(&articles, &[ctx.look_ahead().field("article")])
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .zip(1..)
            .map(|((views, a), rank)| RankedArticle {
                rank,
                views,
                article: Article(a),
            })
            .collect())
    }

    /// Any object by its global ID; `null` when it does not exist or is not visible.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let Some((kind, row)) = ids::decode(&id) else {
            return Err(bad_input("id", "is not an ID this API issued"));
        };
        let req = request(ctx)?;
        Ok(match kind {
            Kind::Article => articles::by_id(&req.db, req.now, req.audience(), row)
                .await
                .gql()?
                .map(|a| Node::Article(Article(a))),
            Kind::Channel => req
                .channels
                .load_one(row)
                .await
                .gql()?
                .map(|c| Node::Channel(Channel(c))),
            Kind::Source => req
                .sources
                .load_one(row)
                .await
                .gql()?
                .map(|s| Node::Source(Source(s))),
            Kind::Tag => catalog::tags_by_ids(&req.db, &[row])
                .await
                .gql()?
                .pop()
                .map(|t| Node::Tag(t.into())),
            Kind::Page => catalog::pages_by_ids(&req.db, &[row])
                .await
                .gql()?
                .pop()
                .map(|p| Node::Page(Page(p))),
            // People, tokens and webhooks are not public objects.
            Kind::User
            | Kind::ApiToken
            | Kind::TakedownRequest
            | Kind::WebhookEndpoint
            | Kind::WebhookDelivery => None,
        })
    }
}
