//! Feeds and the sitemap over HTTP: `/feeds/{rss.xml,atom.xml,feed.json}` site-wide, under
//! `/feeds/channels/{slug}/` and `/feeds/tags/{slug}/`, and `/sitemap.xml`.
//!
//! Who may see what is the domain's business ([`newsroom_domain::feeds`]): here the caller is
//! identified (a partner's token narrows the feed to what it may republish; a bad token is a 401,
//! never an anonymous feed), the feed is built once and written in the format asked for. The
//! caching middleware gives every answer its ETag and 304s.

pub mod formats;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use newsroom_domain::{
    Error as DomainError,
    feeds::{self, Scope},
    site::SiteSettings,
};
use serde::Deserialize;

use crate::{
    app::AppState,
    rest::{ApiError, caller, internal},
};

/// The feed and sitemap routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sitemap.xml", web::get().to(sitemap)).service(
        web::scope("/feeds")
            .route("/{file}", web::get().to(site_feed))
            .route("/{kind}/{slug}/{file}", web::get().to(scoped_feed)),
    );
}

/// The formats a feed is served in, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    fn from_file(file: &str) -> Option<Self> {
        match file {
            "rss.xml" => Some(Format::Rss),
            "atom.xml" => Some(Format::Atom),
            "feed.json" => Some(Format::Json),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// Query parameters of every feed.
#[derive(Debug, Deserialize)]
struct FeedQuery {
    limit: Option<String>,
}

async fn site_feed(
    state: web::Data<AppState>,
    http: HttpRequest,
    file: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> HttpResponse {
    serve(&state, &http, Scope::Site, &file, &query).await
}

/// `/feeds/channels/{slug}/{file}` and `/feeds/tags/{slug}/{file}`.
async fn scoped_feed(
    state: web::Data<AppState>,
    http: HttpRequest,
    path: web::Path<(String, String, String)>,
    query: web::Query<FeedQuery>,
) -> HttpResponse {
    let (kind, slug, file) = path.into_inner();
    let scope = match kind.as_str() {
        "channels" => Scope::Channel(slug),
        "tags" => Scope::Tag(slug),
        _ => return not_found("feeds are site-wide, per channel or per tag"),
    };
    serve(&state, &http, scope, &file, &query).await
}

fn not_found(message: &str) -> HttpResponse {
    ApiError::not_found(message).error_response()
}

/// A domain error as a REST error: an unknown channel or tag is a 404 naming the slug's kind.
fn domain_error(e: DomainError) -> HttpResponse {
    match e {
        DomainError::NotFound { entity } => not_found(&format!("no {entity} has this slug")),
        other => ApiError::from(other).error_response(),
    }
}

/// The site settings, with the base URL links are made from. When the `base_url` setting is
/// unset, the request's own scheme and host (`ConnectionInfo`, which honours `Forwarded` /
/// `X-Forwarded-*` headers) stand in, so links work for whoever asked, if not canonically.
async fn settings(state: &AppState, http: &HttpRequest) -> Result<SiteSettings, HttpResponse> {
    let mut site = SiteSettings::load(&state.db).await.map_err(domain_error)?;
    if site.base_url.is_none() {
        let info = http.connection_info();
        site.base_url = Some(format!("{}://{}", info.scheme(), info.host()));
    }
    Ok(site)
}

async fn serve(
    state: &AppState,
    http: &HttpRequest,
    scope: Scope,
    file: &str,
    query: &FeedQuery,
) -> HttpResponse {
    let Some(format) = Format::from_file(file) else {
        return not_found("feeds are rss.xml, atom.xml and feed.json");
    };
    let caller = match caller(state, http).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let limit = match query.limit.as_deref().map(str::parse::<u64>) {
        None => feeds::DEFAULT_ITEMS,
        Some(Ok(n)) if (1..=feeds::MAX_ITEMS).contains(&n) => n,
        Some(_) => {
            let message = format!("must be a whole number from 1 to {}", feeds::MAX_ITEMS);
            return ApiError::bad_parameter("limit", message).error_response();
        }
    };
    let site = match settings(state, http).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let feed = match feeds::build(&state.db, now, caller.audience(), &scope, limit, &site).await {
        Ok(feed) => feed,
        Err(e) => return domain_error(e),
    };
    let feed_url = format!(
        "{}{}",
        site.base_url.as_deref().unwrap_or(""),
        http.uri().path()
    );
    let written = match format {
        Format::Rss => formats::rss(&feed, &feed_url),
        Format::Atom => formats::atom(&feed, &feed_url),
        Format::Json => formats::json(&feed, &feed_url),
    };
    match written {
        Ok(body) => HttpResponse::Ok()
            .content_type(format.content_type())
            .body(body),
        Err(e) => internal(e),
    }
}

/// `GET /sitemap.xml`: the home page, channels, pages and every article the caller may see, at
/// most [`feeds::SITEMAP_MAX_URLS`] URLs (the newest articles are kept).
async fn sitemap(state: web::Data<AppState>, http: HttpRequest) -> HttpResponse {
    let caller = match caller(&state, &http).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let site = match settings(&state, &http).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    let urls = match feeds::sitemap(&state.db, state.clock.now(), caller.audience(), &site).await {
        Ok(urls) => urls,
        Err(e) => return domain_error(e),
    };
    match formats::sitemap(&urls) {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/xml; charset=utf-8")
            .body(body),
        Err(e) => internal(e),
    }
}
