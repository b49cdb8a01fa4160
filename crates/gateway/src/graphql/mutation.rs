//! The write side of the schema. `login` is open to anyone; every other mutation states its role
//! with a guard, and the domain checks everything else (versions, validation, references).

use std::{sync::Arc, time::Duration};

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, TimeDelta, Utc};
use newsroom_domain::{
    Error as DomainError,
    editorial::{
        self, Actor, ArticlePatch, NewArticle, Transition,
        catalog::{
            self as edit, ChannelInput as DomainChannel, PageInput as DomainPage,
            SiteSettingsPatch, SourceInput as DomainSource,
        },
    },
    entities::{ArticleKind as DomainKind, BodyFormat as DomainFormat},
    search::Segmenter,
    site::SiteSettings,
    takedowns::{self, NewTakedown},
    tokens,
    users::{self, LoginPolicy},
    webhooks,
};

use super::{
    errors::{Code, GqlResultExt, bad_input, coded},
    guards::RoleGuard,
    ids::{self, Kind},
    types::{
        ApiToken, Article, ArticleKind, BodyFormat, Channel, License, Page, Site, Source, Tag,
        TakedownRequest, User, request,
    },
    webhooks::{RegisteredWebhook, WebhookEndpoint, scope as webhook_scope},
};
use crate::auth::{AuthKeys, Caller, TokenKind};

/// What mutations need beyond the request: the token keys and the login rules.
#[derive(Clone)]
pub struct Services {
    /// Signs tokens.
    pub auth: Arc<AuthKeys>,
    /// How failed logins are throttled.
    pub login_policy: LoginPolicy,
    /// How long a failed login waits before it answers.
    pub login_failure_delay: Duration,
    /// Counts views and serves rankings.
    pub views: Arc<crate::views::ViewService>,
    /// Cuts articles and queries into words for the search index.
    pub segmenter: Segmenter,
    /// Which URLs partners may register for webhooks.
    pub webhook_urls: newsroom_domain::webhooks::UrlPolicy,
}

/// The root of every write.
pub struct Mutation;

fn actor(ctx: &Context<'_>) -> async_graphql::Result<Actor> {
    match &request(ctx)?.caller {
        Caller::User(u) => Ok(Actor { user_id: u.user.id }),
        Caller::Anonymous => Err(coded(
            Code::Unauthenticated,
            "sign in first: this needs a token",
        )),
    }
}

/// The segmenter every write that changes what search finds hands to the domain.
pub fn segmenter<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Segmenter> {
    Ok(&ctx.data::<Services>()?.segmenter)
}

fn article_id(id: &ID) -> async_graphql::Result<i64> {
    ids::expect(Kind::Article, id, "id")
}

fn optional<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn internal(err: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %err, "signing a token failed");
    coded(Code::Internal, "internal error; it has been logged")
}

/// A new article. It is saved as a draft; publish or schedule it next.
#[derive(InputObject)]
pub struct CreateArticleInput {
    /// The headline; 1 to 300 characters.
    title: String,
    /// The slug; generated from the title (pinyin for Chinese) when omitted.
    slug: Option<String>,
    /// The editor's summary (核心提示).
    lead: Option<String>,
    /// The body, stored as given and sanitized whenever it is served.
    body: String,
    /// What the body is written in.
    #[graphql(default_with = "BodyFormat::Markdown")]
    body_format: BodyFormat,
    /// The cover image URL; required for a featured article.
    cover_image: Option<String>,
    /// The byline.
    author: Option<String>,
    /// The channel's slug.
    channel: String,
    /// The source's slug; required for a reprint.
    source: Option<String>,
    /// Where a reprint was first published; required for a reprint.
    original_url: Option<String>,
    /// Own, reprint or sponsored.
    #[graphql(default_with = "ArticleKind::Original")]
    kind: ArticleKind,
    /// Show in 推荐图文.
    #[graphql(default)]
    featured: bool,
    /// Show in 推荐资讯.
    #[graphql(default)]
    recommended: bool,
    /// Overrides the source's and the site's disclaimer.
    disclaimer: Option<String>,
    /// Tag slugs, in order.
    #[graphql(default)]
    tags: Vec<String>,
}

/// Changes to an article. Omitted fields stay as they are; `null` clears a nullable one.
#[derive(InputObject, Default)]
pub struct UpdateArticleInput {
    /// New headline.
    title: Option<String>,
    /// New slug.
    slug: Option<String>,
    /// New lead, or `null` to clear it.
    lead: MaybeUndefined<String>,
    /// New body.
    body: Option<String>,
    /// New body format.
    body_format: Option<BodyFormat>,
    /// New cover image, or `null` to clear it.
    cover_image: MaybeUndefined<String>,
    /// New byline, or `null` to clear it.
    author: MaybeUndefined<String>,
    /// New channel slug.
    channel: Option<String>,
    /// New source slug, or `null` to clear it.
    source: MaybeUndefined<String>,
    /// New original URL, or `null` to clear it.
    original_url: MaybeUndefined<String>,
    /// New kind.
    kind: Option<ArticleKind>,
    /// New 推荐图文 flag.
    featured: Option<bool>,
    /// New 推荐资讯 flag.
    recommended: Option<bool>,
    /// New disclaimer override, or `null` to clear it.
    disclaimer: MaybeUndefined<String>,
    /// New tag slugs, in order.
    tags: Option<Vec<String>>,
}

/// A source as an editor writes it.
#[derive(InputObject)]
pub struct SourceInput {
    /// Unique slug.
    slug: String,
    /// Display name (来源).
    name: String,
    /// Home page URL.
    homepage: Option<String>,
    /// RSS or Atom feed URL; its new items are taken in as drafts.
    feed_url: Option<String>,
    /// The slug of the channel the drafts from its feed are filed in; needed to take its feed
    /// in.
    feed_channel: Option<String>,
    /// Terms we carry its work under.
    license: License,
    /// Whether partners may receive its articles.
    #[graphql(default)]
    syndication_allowed: bool,
    /// Disclaimer for its articles, instead of the site's.
    disclaimer: Option<String>,
    /// Where to send takedown requests.
    takedown_contact: Option<String>,
}

impl From<SourceInput> for DomainSource {
    fn from(i: SourceInput) -> Self {
        DomainSource {
            slug: i.slug,
            name: i.name,
            homepage: i.homepage,
            feed_url: i.feed_url,
            feed_channel: i.feed_channel,
            license: i.license.into(),
            syndication_allowed: i.syndication_allowed,
            disclaimer: i.disclaimer,
            takedown_contact: i.takedown_contact,
        }
    }
}

/// A channel as an editor writes it.
#[derive(InputObject)]
pub struct ChannelInput {
    /// Unique slug.
    slug: String,
    /// Display name.
    name: String,
    /// The parent channel's slug; omit for a top-level channel.
    parent: Option<String>,
    /// Order among its siblings.
    #[graphql(default)]
    position: i32,
}

impl From<ChannelInput> for DomainChannel {
    fn from(input: ChannelInput) -> Self {
        DomainChannel {
            slug: input.slug,
            name: input.name,
            parent: input.parent,
            position: input.position,
        }
    }
}

/// A page as an editor writes it.
#[derive(InputObject)]
pub struct PageInput {
    /// Unique slug.
    slug: String,
    /// Title.
    title: String,
    /// Body, stored as given.
    body: String,
    /// What the body is written in.
    #[graphql(default_with = "BodyFormat::Markdown")]
    body_format: BodyFormat,
    /// Linked from the footer.
    #[graphql(default)]
    in_footer: bool,
    /// Order among the footer links.
    #[graphql(default)]
    position: i32,
}

/// Site settings to change; omitted ones stay, an empty string clears one.
#[derive(InputObject, Default)]
pub struct SiteSettingsInput {
    /// Site name.
    name: Option<String>,
    /// Slogan.
    slogan: Option<String>,
    /// Public base URL.
    base_url: Option<String>,
    /// ICP filing number.
    icp_filing: Option<String>,
    /// Public-security filing number.
    public_security_filing: Option<String>,
    /// Default reprint disclaimer.
    reprint_disclaimer: Option<String>,
    /// Default sponsored-content notice.
    sponsored_disclaimer: Option<String>,
    /// Default takedown contact.
    takedown_contact: Option<String>,
}

/// A signed-in session.
#[derive(SimpleObject)]
pub struct LoginPayload {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// When the token stops working.
    expires_at: DateTime<Utc>,
    /// Who signed in.
    user: User,
}

/// A newly issued API token. The token text is shown only here.
#[derive(SimpleObject)]
pub struct IssuedApiToken {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// The stored record, for listing and revoking.
    api_token: ApiToken,
}

/// What became of a recorded view.
#[derive(SimpleObject)]
pub struct RecordViewPayload {
    /// Whether it was counted: `false` for a repeat within the window or a bot.
    counted: bool,
}

#[Object]
impl Mutation {
    /// Records that a reader viewed an article. Open to anyone. A visitor counts once per article
    /// within the window (by `visitorId` when given, else by address and user agent); bots never
    /// count. An unknown or unpublished article is `NOT_FOUND` and counts nothing.
    async fn record_view(
        &self,
        ctx: &Context<'_>,
        article_id: ID,
        #[graphql(validator(max_length = 128))] visitor_id: Option<String>,
    ) -> async_graphql::Result<RecordViewPayload> {
        let req = request(ctx)?;
        let services = ctx.data::<Services>()?;
        let id = ids::expect(Kind::Article, &article_id, "articleId")?;
        let visitor = crate::views::visitor_of(
            visitor_id.as_deref(),
            req.client_addr.as_deref(),
            req.user_agent.as_deref(),
        );
        match services
            .views
            .record(id, &visitor, req.user_agent.as_deref())
            .await
        {
            Ok(outcome) => Ok(RecordViewPayload {
                counted: outcome == crate::views::ViewOutcome::Counted,
            }),
            Err(crate::views::ViewError::NotFound) => {
                Err(coded(Code::NotFound, "no published article has this id"))
            }
            Err(e @ crate::views::ViewError::Unavailable(_)) => {
                tracing::warn!(error = %e, "recording a view failed");
                Err(coded(
                    Code::ServiceUnavailable,
                    "the view could not be recorded right now; send it again in a few seconds",
                ))
            }
        }
    }

    /// Asks for an article's removal (the disclaimer's promise). Open to anyone, at most a few
    /// times an hour from one address (`RATE_LIMITED` with `extensions.retryAfter`); an unknown
    /// or unpublished article is `NOT_FOUND`. Editors see the request in `takedownRequests`.
    async fn request_takedown(
        &self,
        ctx: &Context<'_>,
        article_id: ID,
        claimant: String,
        contact: String,
        reason: String,
    ) -> async_graphql::Result<TakedownRequest> {
        let article_id = ids::expect(Kind::Article, &article_id, "articleId")?;
        let req = request(ctx)?;
        let saved = takedowns::request(
            &req.db,
            req.now,
            req.client_addr.as_deref(),
            NewTakedown {
                article_id,
                claimant,
                contact,
                reason,
            },
        )
        .await
        .gql()?;
        Ok(TakedownRequest(saved))
    }

    /// Accepts a pending takedown request, which takes its article down (gone from every read
    /// path at once, for good), or rejects it. Either way the decision, its editor and its time
    /// are recorded; a request already resolved is a `CONFLICT`.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn resolve_takedown(
        &self,
        ctx: &Context<'_>,
        id: ID,
        accept: bool,
        note: Option<String>,
    ) -> async_graphql::Result<TakedownRequest> {
        let id = ids::expect(Kind::TakedownRequest, &id, "id")?;
        let actor = actor(ctx)?;
        let req = request(ctx)?;
        let saved = takedowns::resolve(
            &req.db,
            segmenter(ctx)?,
            actor,
            req.now,
            id,
            accept,
            note.as_deref(),
        )
        .await
        .gql()?;
        Ok(TakedownRequest(saved))
    }

    /// Signs in with a username and password. Wrong credentials are `UNAUTHENTICATED` (the same
    /// answer for an unknown user); too many failures for the username or from the address are
    /// `RATE_LIMITED` with `extensions.retryAfter` in seconds.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> async_graphql::Result<LoginPayload> {
        let req = request(ctx)?;
        let services = ctx.data::<Services>()?;
        let result = users::authenticate(
            &req.db,
            &username,
            &password,
            req.client_addr.as_deref(),
            req.now,
            services.login_policy,
        )
        .await;
        let user = match result {
            Ok(user) => user,
            Err(err @ DomainError::Unauthenticated(_)) => {
                tokio::time::sleep(services.login_failure_delay).await;
                return Err(err).gql();
            }
            Err(err) => return Err(err).gql(),
        };
        let expires_at = req.now + services.auth.session_ttl();
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let token = services
            .auth
            .sign(&user, TokenKind::Session, &jti, req.now, expires_at)
            .map_err(internal)?;
        Ok(LoginPayload {
            token,
            expires_at,
            user: User(user),
        })
    }

    /// Creates an article as a draft (version 1).
    #[graphql(guard = "RoleGuard::Editor")]
    async fn create_article(
        &self,
        ctx: &Context<'_>,
        input: CreateArticleInput,
    ) -> async_graphql::Result<Article> {
        let req = request(ctx)?;
        let new = NewArticle {
            title: input.title,
            slug: input.slug,
            lead: input.lead,
            body: input.body,
            body_format: DomainFormat::from(input.body_format),
            cover_image: input.cover_image,
            author: input.author,
            channel: input.channel,
            source: input.source,
            original_url: input.original_url,
            kind: DomainKind::from(input.kind),
            featured: input.featured,
            recommended: input.recommended,
            disclaimer: input.disclaimer,
            tags: input.tags,
        };
        Ok(Article(
            editorial::create(&req.db, segmenter(ctx)?, actor(ctx)?, req.now, new)
                .await
                .gql()?,
        ))
    }

    /// Saves changes to the article at `version`. A stale version is a `CONFLICT` and changes
    /// nothing.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn update_article(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: UpdateArticleInput,
    ) -> async_graphql::Result<Article> {
        let req = request(ctx)?;
        let patch = ArticlePatch {
            title: input.title,
            slug: input.slug,
            lead: optional(input.lead),
            body: input.body,
            body_format: input.body_format.map(DomainFormat::from),
            cover_image: optional(input.cover_image),
            author: optional(input.author),
            channel: input.channel,
            source: optional(input.source),
            original_url: optional(input.original_url),
            kind: input.kind.map(DomainKind::from),
            featured: input.featured,
            recommended: input.recommended,
            disclaimer: optional(input.disclaimer),
            tags: input.tags,
        };
        let saved = editorial::update(
            &req.db,
            segmenter(ctx)?,
            actor(ctx)?,
            req.now,
            article_id(&id)?,
            version,
            patch,
        )
        .await
        .gql()?;
        Ok(Article(saved))
    }

    /// Sets an article's tags, in the order given.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn set_article_tags(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        tags: Vec<String>,
    ) -> async_graphql::Result<Article> {
        let req = request(ctx)?;
        let patch = ArticlePatch {
            tags: Some(tags),
            ..ArticlePatch::default()
        };
        let saved = editorial::update(
            &req.db,
            segmenter(ctx)?,
            actor(ctx)?,
            req.now,
            article_id(&id)?,
            version,
            patch,
        )
        .await
        .gql()?;
        Ok(Article(saved))
    }

    /// Makes the article visible now.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn publish_article(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> async_graphql::Result<Article> {
        transition(ctx, &id, version, Transition::PublishNow).await
    }

    /// Makes the article visible at `at`, without anyone acting then.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn schedule_article(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        at: DateTime<Utc>,
    ) -> async_graphql::Result<Article> {
        transition(ctx, &id, version, Transition::Schedule(at)).await
    }

    /// Takes the article back to draft.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn unpublish_article(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> async_graphql::Result<Article> {
        transition(ctx, &id, version, Transition::Unpublish).await
    }

    /// Withdraws the article from readers, keeping it for the record.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn archive_article(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> async_graphql::Result<Article> {
        transition(ctx, &id, version, Transition::Archive).await
    }

    /// Deletes the article at `version` with its revisions; returns its ID.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn delete_article(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> async_graphql::Result<ID> {
        let req = request(ctx)?;
        editorial::delete(&req.db, req.now, article_id(&id)?, version)
            .await
            .gql()?;
        Ok(id)
    }

    /// Restores the content of an earlier revision as a new version (status and publish time
    /// stay as they are).
    #[graphql(guard = "RoleGuard::Editor")]
    async fn restore_article_revision(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        revision: i32,
    ) -> async_graphql::Result<Article> {
        let req = request(ctx)?;
        let saved = editorial::restore(
            &req.db,
            segmenter(ctx)?,
            actor(ctx)?,
            req.now,
            article_id(&id)?,
            version,
            revision,
        )
        .await
        .gql()?;
        Ok(Article(saved))
    }

    /// Creates a source.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn create_source(
        &self,
        ctx: &Context<'_>,
        input: SourceInput,
    ) -> async_graphql::Result<Source> {
        let req = request(ctx)?;
        Ok(Source::from(
            edit::save_source(&req.db, segmenter(ctx)?, None, input.into(), req.now)
                .await
                .gql()?,
        ))
    }

    /// Replaces every field of a source.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn update_source(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SourceInput,
    ) -> async_graphql::Result<Source> {
        let req = request(ctx)?;
        let id = ids::expect(Kind::Source, &id, "id")?;
        Ok(Source::from(
            edit::save_source(&req.db, segmenter(ctx)?, Some(id), input.into(), req.now)
                .await
                .gql()?,
        ))
    }

    /// Deletes a source no article names; returns its ID.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn delete_source(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let req = request(ctx)?;
        edit::delete_source(&req.db, ids::expect(Kind::Source, &id, "id")?)
            .await
            .gql()?;
        Ok(id)
    }

    /// Creates a tag.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn create_tag(
        &self,
        ctx: &Context<'_>,
        slug: String,
        name: String,
    ) -> async_graphql::Result<Tag> {
        let req = request(ctx)?;
        Ok(Tag::from(
            edit::save_tag(&req.db, segmenter(ctx)?, None, &slug, &name, req.now)
                .await
                .gql()?,
        ))
    }

    /// Changes a tag's slug and name.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn update_tag(
        &self,
        ctx: &Context<'_>,
        id: ID,
        slug: String,
        name: String,
    ) -> async_graphql::Result<Tag> {
        let req = request(ctx)?;
        let id = ids::expect(Kind::Tag, &id, "id")?;
        Ok(Tag::from(
            edit::save_tag(&req.db, segmenter(ctx)?, Some(id), &slug, &name, req.now)
                .await
                .gql()?,
        ))
    }

    /// Deletes a tag (articles lose it); returns its ID.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn delete_tag(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let req = request(ctx)?;
        edit::delete_tag(&req.db, segmenter(ctx)?, ids::expect(Kind::Tag, &id, "id")?)
            .await
            .gql()?;
        Ok(id)
    }

    /// Creates a channel.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn create_channel(
        &self,
        ctx: &Context<'_>,
        input: ChannelInput,
    ) -> async_graphql::Result<Channel> {
        let req = request(ctx)?;
        Ok(Channel::from(
            edit::save_channel(&req.db, None, input.into(), req.now)
                .await
                .gql()?,
        ))
    }

    /// Replaces every field of a channel.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn update_channel(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ChannelInput,
    ) -> async_graphql::Result<Channel> {
        let req = request(ctx)?;
        let id = ids::expect(Kind::Channel, &id, "id")?;
        Ok(Channel::from(
            edit::save_channel(&req.db, Some(id), input.into(), req.now)
                .await
                .gql()?,
        ))
    }

    /// Deletes a channel with no articles and no sub-channels; returns its ID.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn delete_channel(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let req = request(ctx)?;
        edit::delete_channel(&req.db, ids::expect(Kind::Channel, &id, "id")?)
            .await
            .gql()?;
        Ok(id)
    }

    /// Creates a page.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn create_page(
        &self,
        ctx: &Context<'_>,
        input: PageInput,
    ) -> async_graphql::Result<Page> {
        let req = request(ctx)?;
        Ok(Page(
            edit::save_page(&req.db, None, page_input(input), req.now)
                .await
                .gql()?,
        ))
    }

    /// Replaces every field of a page.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn update_page(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: PageInput,
    ) -> async_graphql::Result<Page> {
        let req = request(ctx)?;
        let id = ids::expect(Kind::Page, &id, "id")?;
        Ok(Page(
            edit::save_page(&req.db, Some(id), page_input(input), req.now)
                .await
                .gql()?,
        ))
    }

    /// Deletes a page; returns its ID.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn delete_page(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let req = request(ctx)?;
        edit::delete_page(&req.db, ids::expect(Kind::Page, &id, "id")?)
            .await
            .gql()?;
        Ok(id)
    }

    /// Changes site settings and returns the site as it now is.
    #[graphql(guard = "RoleGuard::Editor")]
    async fn update_site_settings(
        &self,
        ctx: &Context<'_>,
        input: SiteSettingsInput,
    ) -> async_graphql::Result<Site> {
        let req = request(ctx)?;
        let patch = SiteSettingsPatch {
            name: input.name,
            slogan: input.slogan,
            base_url: input.base_url,
            icp_filing: input.icp_filing,
            public_security_filing: input.public_security_filing,
            reprint_disclaimer: input.reprint_disclaimer,
            sponsored_disclaimer: input.sponsored_disclaimer,
            takedown_contact: input.takedown_contact,
        };
        edit::update_site_settings(&req.db, patch, req.now)
            .await
            .gql()?;
        // Read back directly: this request's loader cache may hold the settings from before.
        Ok(SiteSettings::load(&req.db).await.gql()?.into())
    }

    /// Issues a long-lived token for the user named `user`, valid for `expiresIn` seconds. A
    /// partner's token may make `rateLimit` requests a minute (default:
    /// `NEWSROOM_PARTNER_RATE_LIMIT`). The token text is in the answer only. Admins only.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn issue_api_token(
        &self,
        ctx: &Context<'_>,
        user: String,
        name: String,
        expires_in: i32,
        rate_limit: Option<i32>,
    ) -> async_graphql::Result<IssuedApiToken> {
        let req = request(ctx)?;
        let services = ctx.data::<Services>()?;
        let owner = users::by_username(&req.db, &user)
            .await
            .gql()?
            .ok_or_else(|| bad_input("user", format!("no user is called `{user}`")))?;
        let issuer = actor(ctx)?;
        let row = tokens::issue(
            &req.db,
            owner.id,
            &name,
            TimeDelta::seconds(i64::from(expires_in)),
            rate_limit,
            Some(issuer.user_id),
            req.now,
        )
        .await
        .gql()?;
        let token = services
            .auth
            .sign(&owner, TokenKind::Api, &row.jti, req.now, row.expires_at)
            .map_err(internal)?;
        Ok(IssuedApiToken {
            token,
            api_token: ApiToken(row),
        })
    }

    /// Registers a webhook endpoint for the calling partner. From now on, each article the partner
    /// may have that is published, updated or removed is POSTed to `url`, signed with the secret
    /// returned here (and only here). `url` must be an absolute http(s) URL of at most 2000
    /// characters without credentials, on a public host unless the deployment allows private
    /// addresses; a partner may register up to 10. Partners only.
    #[graphql(guard = "RoleGuard::Partner")]
    async fn register_webhook(
        &self,
        ctx: &Context<'_>,
        url: String,
        description: Option<String>,
    ) -> async_graphql::Result<RegisteredWebhook> {
        let req = request(ctx)?;
        let Caller::User(caller) = &req.caller else {
            return Err(coded(
                Code::Unauthenticated,
                "sign in first: this needs a token",
            ));
        };
        let registered = webhooks::register(
            &req.db,
            &caller.user,
            &url,
            description.as_deref(),
            ctx.data::<Services>()?.webhook_urls,
            req.now,
        )
        .await
        .gql()?;
        Ok(RegisteredWebhook {
            endpoint: WebhookEndpoint(registered.endpoint),
            secret: registered.secret,
        })
    }

    /// Deletes a webhook endpoint and its delivery log; nothing more is sent to it. A partner
    /// deletes its own (another's is `NOT_FOUND`); editors and admins any.
    #[graphql(guard = "RoleGuard::PartnerOrEditor")]
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let row = ids::expect(Kind::WebhookEndpoint, &id, "id")?;
        let req = request(ctx)?;
        webhooks::delete(&req.db, webhook_scope(ctx)?, row)
            .await
            .gql()?;
        Ok(id)
    }

    /// Revokes an API token: it is refused from the next request on. Admins only.
    #[graphql(guard = "RoleGuard::Admin")]
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiToken> {
        let req = request(ctx)?;
        let id = ids::expect(Kind::ApiToken, &id, "id")?;
        Ok(ApiToken(tokens::revoke(&req.db, id, req.now).await.gql()?))
    }
}

fn page_input(input: PageInput) -> DomainPage {
    DomainPage {
        slug: input.slug,
        title: input.title,
        body: input.body,
        body_format: input.body_format.into(),
        in_footer: input.in_footer,
        position: input.position,
    }
}

async fn transition(
    ctx: &Context<'_>,
    id: &ID,
    version: i32,
    to: Transition,
) -> async_graphql::Result<Article> {
    let req = request(ctx)?;
    let saved = editorial::transition(
        &req.db,
        segmenter(ctx)?,
        actor(ctx)?,
        req.now,
        article_id(id)?,
        version,
        to,
    )
    .await
    .gql()?;
    Ok(Article(saved))
}
