//! `GET /api/v1/articles`, `GET /api/v1/articles/{slug}` and the view beacon. What the caller may
//! see is the domain's rule ([`Audience`]): readers every published article, partners only the
//! site's own and those whose source allows syndication, never a draft or a taken-down one.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use newsroom_domain::{
    articles::{self, ArticleKey, Audience},
    catalog::ArticleRelations,
    pagination::{Cursor, TimeCursor},
    site::SiteSettings,
};

use super::{
    ApiError, authenticated,
    errors::ErrorBody,
    model::{Article, ArticlePage, ArticleSummary},
    params::{self, FilterParams, OrderParams, Paging, Params},
};
use crate::{
    app::{AppState, user_agent},
    graphql::ids::{self, Kind},
    views::{ViewError, visitor_of},
};

/// A page of visible articles.
///
/// Newest first unless `orderBy=oldest`, a page at a time with keyset cursors as GraphQL's
/// `articles` pages them, narrowed by the same filters. Each carries its source, channel, tags
/// and disclaimer; a partner's token leaves out what the partner may not have.
#[utoipa::path(
    operation_id = "listArticles",
    tag = "articles",
    params(Paging, FilterParams, OrderParams),
    responses(
        (status = OK, description = "A page of articles", body = ArticlePage),
        (status = BAD_REQUEST, description = "A parameter is malformed, out of range or unknown, \
         a cursor is not one this list issued, or a channel, tag or source slug names nothing; \
         `error.field` names the parameter", body = ErrorBody),
    ),
)]
#[get("/articles")]
pub async fn list_articles(
    state: web::Data<AppState>,
    http: HttpRequest,
    Params((paging, filter, order)): Params<(Paging, FilterParams, OrderParams)>,
) -> Result<web::Json<ArticlePage>, ApiError> {
    let page = paging.request::<TimeCursor>()?;
    let filter = filter.filter()?;
    let order = order.order()?;
    let audience = audience(&state, &http).await?;
    let now = state.clock.now();
    // List items carry no body.
    let found = articles::list_with_catalog(
        &state.db,
        now,
        audience,
        &filter,
        order,
        &page,
        articles::Columns::WithoutBody,
    )
    .await?;
    let mut relations = ArticleRelations::default();
    let rows = found.map(|found| relations.keep(found));
    relations.read_tags(&state.db, &rows.items).await?;
    let site = SiteSettings::load(&state.db).await?;
    Ok(web::Json(ArticlePage::from_rows(
        &rows,
        |a| articles::cursor_of(a).encode(),
        |a| ArticleSummary::new(a, &relations, &site),
    )))
}

/// One visible article by slug.
///
/// With its body as HTML and as text, its source, channel, tags, disclaimer and canonical `url`.
#[utoipa::path(
    operation_id = "getArticle",
    tag = "articles",
    params(("slug" = String, Path, description = "The article's slug")),
    responses(
        (status = OK, description = "The article", body = Article),
        (status = NOT_FOUND, description = "No article the caller may see has this slug: none \
         exists, it is not published, it was taken down, or (for a partner) its source does not \
         allow syndication", body = ErrorBody),
    ),
)]
#[get("/articles/{slug}")]
pub async fn get_article(
    state: web::Data<AppState>,
    http: HttpRequest,
    path: web::Path<String>,
    _: Params<()>,
) -> Result<web::Json<Article>, ApiError> {
    let slug = params::slug("slug", &path)?;
    let audience = audience(&state, &http).await?;
    let found = articles::with_catalog(
        &state.db,
        state.clock.now(),
        audience,
        ArticleKey::Slug(&slug),
    )
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no article has the slug `{slug}`")))?;
    let mut relations = ArticleRelations::default();
    let found = relations.keep(found);
    relations
        .read_tags(&state.db, std::slice::from_ref(&found))
        .await?;
    let site = SiteSettings::load(&state.db).await?;
    Ok(web::Json(Article::new(&found, &relations, &site)))
}

/// What the caller may see here: editors see what readers see (REST serves the published site;
/// drafts are GraphQL's).
async fn audience(state: &AppState, http: &HttpRequest) -> Result<Audience, ApiError> {
    Ok(authenticated(state, http).await?.audience().public())
}

/// The view beacon: counts a view of a published article.
///
/// The visitor is the `X-Visitor-Id` header when sent, else address and user agent; a visitor
/// counts once per article within the view window, and bots never count. 204 whether or not the
/// view counted (a repeat or a bot is not an error).
#[utoipa::path(
    operation_id = "recordView",
    tag = "articles",
    security(()),
    params(
        ("id" = String, Path, description = "The article's global ID"),
        ("X-Visitor-Id" = Option<String>, Header, description = "Who is viewing, at most 128 characters"),
    ),
    responses(
        (status = NO_CONTENT, description = "Recorded (or, for a repeat or a bot, ignored)"),
        (status = BAD_REQUEST, description = "The path names no article, or `X-Visitor-Id` is too long", body = ErrorBody),
        (status = NOT_FOUND, description = "No published article has this ID", body = ErrorBody),
    ),
)]
#[post("/articles/{id}/views")]
pub async fn record_view(
    state: web::Data<AppState>,
    http: HttpRequest,
    path: web::Path<String>,
    _: Params<()>,
) -> Result<HttpResponse, ApiError> {
    let Some((Kind::Article, id)) = ids::decode(&path) else {
        return Err(ApiError::bad_parameter(
            "id",
            "must name an article by its global ID",
        ));
    };
    let visitor_id = http
        .headers()
        .get("x-visitor-id")
        .and_then(|v| v.to_str().ok());
    if visitor_id.is_some_and(|v| v.len() > 128) {
        return Err(ApiError::bad_parameter(
            "X-Visitor-Id",
            "must be at most 128 characters",
        ));
    }
    let agent = user_agent(&http);
    let address = http.peer_addr().map(|a| a.ip().to_string());
    let visitor = visitor_of(visitor_id, address.as_deref(), agent.as_deref());
    match state.views.record(id, &visitor, agent.as_deref()).await {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(ViewError::NotFound) => Err(ApiError::not_found("no published article has this id")),
        Err(e @ ViewError::Unavailable(_)) => Err(ApiError::unavailable(
            e,
            "the view could not be recorded right now; send it again in a few seconds",
        )),
    }
}
