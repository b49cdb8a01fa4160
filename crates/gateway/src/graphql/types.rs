//! GraphQL objects over domain models. Entities never derive GraphQL types; each object here
//! wraps a row and resolves its relations through the request's dataloaders.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, ID, Interface, Object, SimpleObject};
use chrono::{DateTime, Utc};
use newsroom_domain::editorial;
use newsroom_domain::{
    articles, disclaimer,
    entities::{api_token, article, channel, page, source, tag, takedown_request, user},
    render,
    site::SiteSettings,
};

use super::{
    errors::{GqlResultExt, bad_input},
    guards::RoleGuard,
    ids::{self, Kind},
    loaders::{RequestContext, SiteKey},
};

/// The request's shared context; missing only if the server was wired wrongly.
pub fn request<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a RequestContext> {
    ctx.data::<RequestContext>()
}

/// Validates a plain list size argument (`first` of a non-connection list).
pub fn list_size(name: &str, n: i32) -> async_graphql::Result<u64> {
    u64::try_from(n)
        .ok()
        .filter(|n| *n <= newsroom_domain::pagination::MAX_PAGE_SIZE)
        .ok_or_else(|| {
            bad_input(
                name,
                format!(
                    "must be between 0 and {}, got {n}",
                    newsroom_domain::pagination::MAX_PAGE_SIZE
                ),
            )
        })
}

/// How a body is served.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextFormat {
    /// Sanitized HTML: no script, event handler or `javascript:` URL.
    #[default]
    Html,
    /// Plain text, paragraphs separated by blank lines.
    Text,
}

impl TextFormat {
    /// Renders a stored body in this format.
    pub fn render(self, body: &str, written_in: newsroom_domain::entities::BodyFormat) -> String {
        match self {
            TextFormat::Html => render::to_html(body, written_in),
            TextFormat::Text => render::to_text(body, written_in),
        }
    }
}

/// Whether an article is our own, a reprint, or paid content.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::ArticleKind")]
pub enum ArticleKind {
    /// Written by the newsroom.
    Original,
    /// Republished from another medium.
    Reprint,
    /// Paid content.
    Sponsored,
}

/// Under what terms a source's work is carried.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::License")]
pub enum License {
    /// The site's own work.
    Own,
    /// All rights reserved by the source.
    AllRightsReserved,
    /// The source granted permission to republish.
    PermissionGranted,
    /// Creative Commons Attribution.
    CcBy,
    /// Creative Commons Attribution-ShareAlike.
    CcBySa,
    /// No rights reserved.
    PublicDomain,
}

/// Where an article is in its life.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::ArticleStatus")]
pub enum ArticleStatus {
    /// Being written; never visible to readers.
    Draft,
    /// Visible from its publish time on.
    Scheduled,
    /// Visible (once its publish time has passed).
    Published,
    /// Withdrawn, kept for the record.
    Archived,
    /// Removed on a rights holder's request.
    TakenDown,
}

/// The markup a body is written in.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::BodyFormat")]
pub enum BodyFormat {
    /// CommonMark.
    Markdown,
    /// HTML (sanitized whenever it is served).
    Html,
}

/// What a user may do.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::Role")]
pub enum Role {
    /// Everything an editor does, plus API tokens.
    Admin,
    /// Writes and publishes content.
    Editor,
    /// A syndication partner; reads only.
    Partner,
}

/// The time a click ranking covers.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::views::RankingWindow")]
pub enum RankingWindow {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// All time.
    All,
}

/// An article's place in the click ranking (点击排行).
#[derive(SimpleObject)]
pub struct RankedArticle {
    /// 1 for the most viewed.
    pub rank: i32,
    /// Views in the window.
    pub views: i64,
    /// The article.
    pub article: Article,
}

/// Any object that can be fetched by its global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The global ID, for `node(id:)`."))]
pub enum Node {
    /// An article.
    Article(Article),
    /// A channel.
    Channel(Channel),
    /// A source.
    Source(Source),
    /// A tag.
    Tag(Tag),
    /// A page.
    Page(Page),
}

/// A published article as readers see it.
pub struct Article(pub article::Model);

#[Object]
impl Article {
    /// The global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Article, self.0.id)
    }

    /// The URL-safe, unique name of the article.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The headline.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The editor's summary (核心提示).
    async fn lead(&self) -> Option<&str> {
        self.0.lead.as_deref()
    }

    /// The body, as sanitized HTML or as plain text.
    async fn body(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] format: TextFormat,
    ) -> async_graphql::Result<String> {
        if !self.0.body.is_empty() {
            return Ok(format.render(&self.0.body, self.0.body_format));
        }
        // Read without its body (lists read one only when a selection asks for it, which the
        // lookahead cannot always tell, as through a fragment on an interface); read it now.
        let stored = Box::pin(articles::body_of(&request(ctx)?.db, self.0.id))
            .await
            .gql()?;
        Ok(stored.map_or_else(String::new, |(body, body_format)| {
            format.render(&body, body_format)
        }))
    }

    /// The cover image URL (推荐图文 shows it).
    async fn cover_image(&self) -> Option<&str> {
        self.0.cover_image.as_deref()
    }

    /// The byline.
    async fn author(&self) -> Option<&str> {
        self.0.author.as_deref()
    }

    /// Own, reprint or sponsored.
    async fn kind(&self) -> ArticleKind {
        self.0.kind.into()
    }

    /// Where the article is in its life; a scheduled article whose time has come is published.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<ArticleStatus> {
        Ok(articles::effective_status(&self.0, request(ctx)?.now).into())
    }

    /// The version an edit must name; bumped by every save.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The markup the body was written in.
    async fn body_format(&self) -> BodyFormat {
        self.0.body_format.into()
    }

    /// Every saved version, newest first: who saved it, when, and which fields changed.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn revisions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Revision>> {
        let req = request(ctx)?;
        let rows = Box::pin(editorial::revisions(&req.db, self.0.id))
            .await
            .gql()?;
        Ok(rows.into_iter().map(Revision).collect())
    }

    /// When the article became (or becomes) visible; `null` for a draft that never had a time.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }

    /// When the article was last saved.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// How many times readers viewed it.
    async fn view_count(&self) -> i64 {
        self.0.view_count
    }

    /// Flagged for 推荐图文.
    async fn featured(&self) -> bool {
        self.0.featured
    }

    /// Flagged for 推荐资讯.
    async fn recommended(&self) -> bool {
        self.0.recommended
    }

    /// Where a reprint was first published.
    async fn original_url(&self) -> Option<&str> {
        self.0.original_url.as_deref()
    }

    /// When a reprint was first published at its source (taken from the source's feed).
    async fn original_published_at(&self) -> Option<DateTime<Utc>> {
        self.0.original_published_at
    }

    /// The channel the article is filed in.
    async fn channel(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Channel>> {
        let loaded = request(ctx)?
            .channels
            .load_one(self.0.channel_id)
            .await
            .gql()?;
        Ok(loaded.map(Channel))
    }

    /// The medium the article came from.
    async fn source(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Source>> {
        let Some(id) = self.0.source_id else {
            return Ok(None);
        };
        let loaded = request(ctx)?.sources.load_one(id).await.gql()?;
        Ok(loaded.map(Source))
    }

    /// The tags, in the editor's order.
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tag>> {
        let loaded = request(ctx)?.tags.load_one(self.0.id).await.gql()?;
        Ok(loaded
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(Tag)
            .collect())
    }

    /// The article's canonical address on this site (`{baseUrl}/articles/{slug}`), which a
    /// partner republishing it links back to; `null` until the site's base URL is set.
    async fn url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let site = request(ctx)?.site.load_one(SiteKey).await.gql()?;
        Ok(site.and_then(|s| s.article_url(&self.0.slug)))
    }

    /// The reprint disclaimer (免责声明): the article's own text, else its source's, else the
    /// site's default. `null` for the site's own articles unless an editor wrote one.
    async fn disclaimer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Disclaimer>> {
        let req = request(ctx)?;
        let source = match self.0.source_id {
            Some(id) => req.sources.load_one(id).await.gql()?,
            None => None,
        };
        let site = req.site.load_one(SiteKey).await.gql()?.unwrap_or_default();
        Ok(disclaimer::resolve(&self.0, source.as_deref(), &site).map(Disclaimer))
    }

    /// 同类资讯: visible articles in the same channel or sharing a tag, newest first, never this
    /// article itself.
    #[graphql(complexity = "super::limits::page_cost(Some(first), 10, child_complexity)")]
    async fn related(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, desc = "How many, 0 to 100.")] first: i32,
    ) -> async_graphql::Result<Vec<Article>> {
        let first = list_size("first", first)?;
        let req = request(ctx)?;
        let look = [ctx.look_ahead()];
        let columns = super::query::columns_for(&look);
        // Boxed, as every database call of this type's resolvers is: async-graphql boxes each
        // selected field's future at the size of the type's largest resolver, so one resolver
        // holding a query's state inline made every field of every article an 8 KiB copy.
        let rows = Box::pin(articles::related(
            &req.db,
            req.now,
            req.audience(),
            &self.0,
            first,
            columns,
        ))
        .await
        .gql()?;
        Box::pin(req.prime(&rows, &look)).await.gql()?;
        Ok(rows.into_iter().map(Article).collect())
    }
}

/// The reprint disclaimer of an article and the attribution that goes with it.
pub struct Disclaimer(pub disclaimer::Disclaimer);

#[Object]
impl Disclaimer {
    /// The article's kind, which decides the default text.
    async fn kind(&self) -> ArticleKind {
        self.0.kind.into()
    }

    /// The disclaimer text.
    async fn text(&self) -> &str {
        &self.0.text
    }

    /// The name of the medium the article came from.
    async fn source_name(&self) -> Option<&str> {
        self.0.source_name.as_deref()
    }

    /// Where the article was first published.
    async fn original_url(&self) -> Option<&str> {
        self.0.original_url.as_deref()
    }

    /// Under what terms we carry it.
    async fn license(&self) -> License {
        self.0.license.into()
    }

    /// Where to ask for the article's removal.
    async fn takedown_contact(&self) -> Option<&str> {
        self.0.takedown_contact.as_deref()
    }
}

/// A navigation section.
pub struct Channel(pub Arc<channel::Model>);

impl From<channel::Model> for Channel {
    fn from(model: channel::Model) -> Self {
        Channel(Arc::new(model))
    }
}

#[Object]
impl Channel {
    /// The global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Channel, self.0.id)
    }

    /// The URL-safe, unique name.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Order among its siblings.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// The channel above this one.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Channel>> {
        let Some(id) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(request(ctx)?
            .channels
            .load_one(id)
            .await
            .gql()?
            .map(Channel))
    }

    /// The channels below this one, in navigation order.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Channel>> {
        let loaded = request(ctx)?.children.load_one(self.0.id).await.gql()?;
        Ok(loaded
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(Channel)
            .collect())
    }
}

/// A medium whose work the portal carries, or the site itself.
pub struct Source(pub Arc<source::Model>);

impl From<source::Model> for Source {
    fn from(model: source::Model) -> Self {
        Source(Arc::new(model))
    }
}

#[Object]
impl Source {
    /// The global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Source, self.0.id)
    }

    /// The URL-safe, unique name.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The display name (来源).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The source's home page.
    async fn homepage(&self) -> Option<&str> {
        self.0.homepage.as_deref()
    }

    /// Under what terms its work is carried.
    async fn license(&self) -> License {
        self.0.license.into()
    }

    /// Whether partners may receive its articles.
    async fn syndication_allowed(&self) -> bool {
        self.0.syndication_allowed
    }

    /// Where to ask for the removal of its articles.
    async fn takedown_contact(&self) -> Option<&str> {
        self.0.takedown_contact.as_deref()
    }

    /// Its RSS or Atom feed, whose new items `newsroom ingest` takes in as drafts.
    async fn feed_url(&self) -> Option<&str> {
        self.0.feed_url.as_deref()
    }

    /// The channel the drafts from its feed are filed in. Editors only.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn feed_channel(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Channel>> {
        let Some(id) = self.0.feed_channel_id else {
            return Ok(None);
        };
        let loaded = request(ctx)?.channels.load_one(id).await.gql()?;
        Ok(loaded.map(Channel))
    }

    /// Where its feed stands: last fetch, failures, the last error, the next attempt; `null`
    /// when it has no feed. Editors only.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn feed_status(&self) -> Option<FeedStatus> {
        self.0.feed_url.as_ref().map(|_| FeedStatus(self.0.clone()))
    }
}

/// Where a source's feed stands.
pub struct FeedStatus(Arc<source::Model>);

#[Object]
impl FeedStatus {
    /// When it was last fetched, or an attempt failed; `null` before the first attempt.
    async fn checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.feed_checked_at
    }

    /// When it is fetched next; `null` when it is due now.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.feed_next_at
    }

    /// Failed attempts in a row.
    async fn failures(&self) -> i32 {
        self.0.feed_failures
    }

    /// Why the last attempt failed; `null` after a success.
    async fn last_error(&self) -> Option<&str> {
        self.0.feed_error.as_deref()
    }
}

/// A keyword.
pub struct Tag(pub Arc<tag::Model>);

impl From<tag::Model> for Tag {
    fn from(model: tag::Model) -> Self {
        Tag(Arc::new(model))
    }
}

#[Object]
impl Tag {
    /// The global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Tag, self.0.id)
    }

    /// The URL-safe, unique name.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A standing page of the site (关于我们, 联系方式, ...).
pub struct Page(pub page::Model);

#[Object]
impl Page {
    /// The global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Page, self.0.id)
    }

    /// The URL-safe, unique name.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The body, as sanitized HTML or as plain text.
    async fn body(&self, #[graphql(default)] format: TextFormat) -> String {
        format.render(&self.0.body, self.0.body_format)
    }

    /// Order among the footer links.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// When the page was last saved.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The site: its name, slogan, footer and filing numbers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Site {
    /// The site's name.
    name: String,
    /// The slogan above the navigation.
    slogan: Option<String>,
    /// The public base URL.
    base_url: Option<String>,
    /// The ICP filing number (ICP备案号), shown in the footer.
    icp_filing: Option<String>,
    /// The public-security filing number (公网安备), shown in the footer.
    public_security_filing: Option<String>,
    /// Where rights holders send takedown requests.
    takedown_contact: Option<String>,
}

impl From<SiteSettings> for Site {
    fn from(s: SiteSettings) -> Self {
        Site {
            name: s.name,
            slogan: s.slogan,
            base_url: s.base_url,
            icp_filing: s.icp_filing,
            public_security_filing: s.public_security_filing,
            takedown_contact: s.takedown_contact,
        }
    }
}

#[ComplexObject]
impl Site {
    /// The pages linked from the footer, in order.
    async fn footer_pages(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Page>> {
        let req = request(ctx)?;
        let pages = newsroom_domain::catalog::footer_pages(&req.db)
            .await
            .gql()?;
        Ok(pages.into_iter().map(Page).collect())
    }
}

/// A saved version of an article.
pub struct Revision(pub editorial::Revision);

#[Object]
impl Revision {
    /// The version this save produced.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When it was saved.
    async fn saved_at(&self) -> DateTime<Utc> {
        self.0.saved_at
    }

    /// Who saved it (`null` if that user was deleted).
    async fn saved_by(&self) -> Option<User> {
        self.0.saved_by.clone().map(User)
    }

    /// The fields that differ from the version before; every field for the first version.
    async fn changes(&self) -> &[String] {
        &self.0.changes
    }

    /// The headline at this version.
    async fn title(&self) -> &str {
        &self.0.snapshot.title
    }

    /// The body at this version, as written.
    async fn body(&self) -> &str {
        &self.0.snapshot.body
    }

    /// The status at this version.
    async fn status(&self) -> ArticleStatus {
        self.0.snapshot.status.into()
    }

    /// The tag slugs at this version, in order.
    async fn tags(&self) -> &[String] {
        &self.0.snapshot.tags
    }
}

/// A person or system that can sign in.
pub struct User(pub user::Model);

#[Object]
impl User {
    /// The global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::User, self.0.id)
    }

    /// The sign-in name.
    async fn username(&self) -> &str {
        &self.0.username
    }

    /// What the user may do.
    async fn role(&self) -> Role {
        self.0.role.into()
    }

    /// A disabled user's tokens are refused.
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
}

/// A long-lived token issued to a partner or service. The token text itself is shown once, when
/// issued.
pub struct ApiToken(pub api_token::Model);

#[Object]
impl ApiToken {
    /// The global ID, for `revokeApiToken`.
    async fn id(&self) -> ID {
        ids::encode(Kind::ApiToken, self.0.id)
    }

    /// What it is for.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Whose token it is.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let req = request(ctx)?;
        Ok(newsroom_domain::users::by_id(&req.db, self.0.user_id)
            .await
            .gql()?
            .map(User))
    }

    /// When it was issued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Requests a minute it may make as a partner; `null` for the deployment's default.
    async fn rate_limit(&self) -> Option<i32> {
        self.0.rate_limit
    }

    /// When it stops working.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    /// When it was revoked, if it was.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// Where a takedown request stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "newsroom_domain::entities::TakedownStatus")]
pub enum TakedownStatus {
    /// Waiting for an editor.
    Pending,
    /// Accepted: the article was taken down.
    Accepted,
    /// Rejected: the article stays.
    Rejected,
}

/// A rights holder's request that an article be removed, and what an editor decided.
pub struct TakedownRequest(pub takedown_request::Model);

#[Object]
impl TakedownRequest {
    /// The global ID, for `resolveTakedown`.
    async fn id(&self) -> ID {
        ids::encode(Kind::TakedownRequest, self.0.id)
    }

    /// The article, as the caller may see it (editors: whatever its status).
    async fn article(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Article>> {
        let req = request(ctx)?;
        Ok(
            articles::by_id(&req.db, req.now, req.audience(), self.0.article_id)
                .await
                .gql()?
                .map(Article),
        )
    }

    /// Who claims the rights.
    async fn claimant(&self) -> &str {
        &self.0.claimant
    }

    /// How to reach them.
    async fn contact(&self) -> &str {
        &self.0.contact
    }

    /// Why the article should go.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Pending, accepted or rejected.
    async fn status(&self) -> TakedownStatus {
        self.0.status.into()
    }

    /// When it was received.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The editor who resolved it (`null` while pending, or if that user was deleted).
    async fn resolved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.resolved_by else {
            return Ok(None);
        };
        let req = request(ctx)?;
        Ok(newsroom_domain::users::by_id(&req.db, id)
            .await
            .gql()?
            .map(User))
    }

    /// When it was resolved.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }

    /// The editor's note on the decision.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}
