//! The portal's reference data: channels, tags, sources, the site and its standing pages. Every
//! route identifies the caller (a refused token is a 401, a partner over its limit a 429) though
//! the data is the same for everyone.

use actix_web::{HttpRequest, get, web};
use newsroom_domain::{
    catalog,
    entities::{source, tag},
    pagination::{Cursor, SlugCursor},
    site::SiteSettings,
};

use super::{
    ApiError, authenticated,
    errors::ErrorBody,
    model::{
        ChannelList, ChannelTree, Page, PageList, PageSummary, Site, Source, SourcePage, Tag,
        TagPage,
    },
    params::{self, Paging, Params},
};
use crate::app::AppState;

/// The navigation.
///
/// The top-level channels in order, each with the channels below it.
#[utoipa::path(
    operation_id = "listChannels",
    tag = "catalog",
    responses((status = OK, description = "The channels", body = ChannelList)),
)]
#[get("/channels")]
pub async fn list_channels(
    state: web::Data<AppState>,
    http: HttpRequest,
    _: Params<()>,
) -> Result<web::Json<ChannelList>, ApiError> {
    authenticated(&state, &http).await?;
    let all = catalog::channels(&state.db).await?;
    Ok(web::Json(ChannelList {
        items: ChannelTree::forest(&all),
    }))
}

/// All tags, in slug order.
#[utoipa::path(
    operation_id = "listTags",
    tag = "catalog",
    params(Paging),
    responses(
        (status = OK, description = "A page of tags", body = TagPage),
        (status = BAD_REQUEST, description = "A bad page size or cursor", body = ErrorBody),
    ),
)]
#[get("/tags")]
pub async fn list_tags(
    state: web::Data<AppState>,
    http: HttpRequest,
    Params(paging): Params<Paging>,
) -> Result<web::Json<TagPage>, ApiError> {
    let page = paging.request::<SlugCursor>()?;
    authenticated(&state, &http).await?;
    let rows = catalog::tags(&state.db, &page).await?;
    let cursor = |t: &tag::Model| SlugCursor(t.slug.clone()).encode();
    Ok(web::Json(TagPage::from_rows(&rows, cursor, |t| {
        Tag::from(t)
    })))
}

/// All sources, in slug order.
///
/// With their licenses and whether partners may receive their articles.
#[utoipa::path(
    operation_id = "listSources",
    tag = "catalog",
    params(Paging),
    responses(
        (status = OK, description = "A page of sources", body = SourcePage),
        (status = BAD_REQUEST, description = "A bad page size or cursor", body = ErrorBody),
    ),
)]
#[get("/sources")]
pub async fn list_sources(
    state: web::Data<AppState>,
    http: HttpRequest,
    Params(paging): Params<Paging>,
) -> Result<web::Json<SourcePage>, ApiError> {
    let page = paging.request::<SlugCursor>()?;
    authenticated(&state, &http).await?;
    let rows = catalog::sources(&state.db, &page).await?;
    let cursor = |s: &source::Model| SlugCursor(s.slug.clone()).encode();
    Ok(web::Json(SourcePage::from_rows(&rows, cursor, |s| {
        Source::from(s)
    })))
}

/// The site.
///
/// Its name, slogan, base URL, filing numbers and the footer's pages.
#[utoipa::path(
    operation_id = "getSite",
    tag = "catalog",
    responses((status = OK, description = "The site", body = Site)),
)]
#[get("/site")]
pub async fn get_site(
    state: web::Data<AppState>,
    http: HttpRequest,
    _: Params<()>,
) -> Result<web::Json<Site>, ApiError> {
    authenticated(&state, &http).await?;
    let settings = SiteSettings::load(&state.db).await?;
    let footer = catalog::footer_pages(&state.db).await?;
    Ok(web::Json(Site::new(settings, &footer)))
}

/// Every standing page.
///
/// 关于我们, 联系方式, ...: footer pages and others, in footer order.
#[utoipa::path(
    operation_id = "listPages",
    tag = "catalog",
    responses((status = OK, description = "The pages", body = PageList)),
)]
#[get("/pages")]
pub async fn list_pages(
    state: web::Data<AppState>,
    http: HttpRequest,
    _: Params<()>,
) -> Result<web::Json<PageList>, ApiError> {
    authenticated(&state, &http).await?;
    let all = catalog::pages(&state.db).await?;
    Ok(web::Json(PageList {
        items: all.iter().map(PageSummary::from).collect(),
    }))
}

/// One standing page by slug.
///
/// With its body as HTML and as text.
#[utoipa::path(
    operation_id = "getPage",
    tag = "catalog",
    params(("slug" = String, Path, description = "The page's slug")),
    responses(
        (status = OK, description = "The page", body = Page),
        (status = NOT_FOUND, description = "No page has this slug", body = ErrorBody),
    ),
)]
#[get("/pages/{slug}")]
pub async fn get_page(
    state: web::Data<AppState>,
    http: HttpRequest,
    path: web::Path<String>,
    _: Params<()>,
) -> Result<web::Json<Page>, ApiError> {
    let slug = params::slug("slug", &path)?;
    authenticated(&state, &http).await?;
    let found = catalog::page_by_slug(&state.db, &slug)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no page has the slug `{slug}`")))?;
    Ok(web::Json(Page::from(&found)))
}
