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

/// The `limit` parameter of a feed: how many items, given at most once. Other parameters (the
/// `utm_source` a feed reader adds, ...) are ignored, as feed URLs get passed around with them.
fn limit(query: &str) -> Result<u64, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|_| ApiError::bad_parameter("?", "the query string is not URL-encoded"))?;
    let mut given = pairs.iter().filter(|(name, _)| name == "limit");
    let raw = given.next().map(|(_, value)| value.as_str());
    if given.next().is_some() {
        return Err(ApiError::bad_parameter("limit", "is given more than once"));
    }
    match raw.map(str::parse::<u64>) {
        None => Ok(feeds::DEFAULT_ITEMS),
        Some(Ok(n)) if (1..=feeds::MAX_ITEMS).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_parameter(
            "limit",
            format!("must be a whole number from 1 to {}", feeds::MAX_ITEMS),
        )),
    }
}

async fn site_feed(
    state: web::Data<AppState>,
    http: HttpRequest,
    file: web::Path<String>,
) -> HttpResponse {
    serve(&state, &http, Scope::Site, &file).await
}

/// `/feeds/channels/{slug}/{file}` and `/feeds/tags/{slug}/{file}`.
async fn scoped_feed(
    state: web::Data<AppState>,
    http: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (kind, slug, file) = path.into_inner();
    let scope = match kind.as_str() {
        "channels" => Scope::Channel(slug),
        "tags" => Scope::Tag(slug),
        _ => return not_found("feeds are site-wide, per channel or per tag"),
    };
    serve(&state, &http, scope, &file).await
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

async fn serve(state: &AppState, http: &HttpRequest, scope: Scope, file: &str) -> HttpResponse {
    let Some(format) = Format::from_file(file) else {
        return not_found("feeds are rss.xml, atom.xml and feed.json");
    };
    let caller = match caller(state, http).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let limit = match limit(http.query_string()) {
        Ok(limit) => limit,
        Err(e) => return e.error_response(),
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
