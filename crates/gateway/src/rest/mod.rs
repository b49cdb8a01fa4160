//! The JSON REST API under `/api/v1`: articles (a keyset-paged list with GraphQL's filters, and
//! one by slug), channels, tags, sources, the site and its pages, the click ranking, search, the
//! change log and the view beacon, and the OpenAPI document that describes them all.
//!
//! Every route reads through the domain's functions, as GraphQL does, so the partner rules are
//! the domain's and cannot differ between the two. Errors have one shape ([`errors`]); query
//! parameters are read strictly ([`params`]); bodies are typed ([`model`]) and described by the
//! OpenAPI document generated from this code ([`openapi`]).

mod articles;
mod catalog;
mod changes;
mod errors;
mod model;
pub mod openapi;
mod params;
mod rankings;
mod search;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use utoipa_actix_web::{scope, service_config::ServiceConfig};

pub(crate) use errors::internal;
pub use errors::{ApiError, ErrorBody, ErrorCode};

use crate::{
    app::AppState,
    auth::{self, Caller, Refusal},
};

/// The `/api/v1` routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut ServiceConfig::new(cfg));
}

/// Registers every route; serving and the OpenAPI document both go through here.
fn register(cfg: &mut ServiceConfig<'_>) {
    cfg.service(
        scope("/api/v1")
            .service(articles::list_articles)
            .service(articles::get_article)
            .service(articles::record_view)
            .service(catalog::list_channels)
            .service(catalog::list_tags)
            .service(catalog::list_sources)
            .service(catalog::get_site)
            .service(catalog::list_pages)
            .service(catalog::get_page)
            .service(rankings::get_rankings)
            .service(changes::get_changes)
            .service(search::search_articles)
            .service(openapi::get_openapi)
            .default_service(web::to(no_route)),
    );
}

/// A path under `/api/v1` that names no route: a 404 in the REST shape.
async fn no_route(http: HttpRequest) -> HttpResponse {
    ApiError::not_found(format!(
        "no route {} {}; see /api/v1/openapi.json",
        http.method(),
        http.path()
    ))
    .error_response()
}

/// The caller of a request that [`crate::response_cache::rest_reads`] already admitted
/// (authenticated and counted), so the handler does not do it twice.
#[derive(Debug, Clone)]
pub(crate) struct Admitted(pub Caller);

/// Who is calling: anonymous without an `Authorization` header; a refused token is a 401, never
/// silently an anonymous request; a partner over its request limit is a 429 with `Retry-After`.
pub(crate) async fn authenticated(
    state: &AppState,
    http: &HttpRequest,
) -> Result<Caller, ApiError> {
    if let Some(Admitted(caller)) = http.extensions().get::<Admitted>() {
        return Ok(caller.clone());
    }
    auth::admit(state, http, 1).await.map_err(refused)
}

/// The REST answer to a request refused before it ran.
pub(crate) fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Unauthenticated(reason) => ApiError::new(ErrorCode::Unauthenticated, reason),
        Refusal::RateLimited(wait) => ApiError::rate_limited(wait),
        Refusal::Unavailable(message) => ApiError::unavailable(message, message),
    }
}

/// [`authenticated`] for routes that answer in other formats (the feeds).
pub(crate) async fn caller(state: &AppState, http: &HttpRequest) -> Result<Caller, HttpResponse> {
    authenticated(state, http)
        .await
        .map_err(|e| e.error_response())
}
